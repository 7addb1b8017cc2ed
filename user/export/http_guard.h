/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The HTTP server's guard against slow clients (http.c):
 * - a request deadline: every connection must finish a request within
 *   WP_HTTP_REQUEST_DEADLINE seconds of its accept or of the end of its
 *   previous request, or its socket is shut down. MHD's own timeout only
 *   counts idle time, which a client trickling a byte every few seconds
 *   never reaches;
 * - a limit of WP_HTTP_MAX_CONNECTIONS_PER_IP connections per client address
 *   (MHD's own per-IP limit releases a closed connection only when its
 *   listening thread gets round to it, so quick sequential requests from one
 *   client were refused).
 *
 * The guard is libmicrohttpd's accept policy, connection and completion
 * callbacks (cls is the guard) plus one thread that looks at the connections
 * four times a second.
 */
#ifndef __WARMPATH_HTTP_GUARD_H
#define __WARMPATH_HTTP_GUARD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>
#include <sys/socket.h>
#include <microhttpd.h>

struct http_conn;

struct http_guard {
	pthread_mutex_t lock;
	pthread_cond_t stop_cond;
	struct http_conn *conns; /* open connections, under lock */
	pthread_t reaper;
	bool started;
	bool stopping; /* under lock */
	unsigned int deadline_ms;
	unsigned int max_per_ip;
	const char *name; /* for log lines: the server's address */
	uint64_t cut; /* connections shut down at their deadline (atomic) */
	uint64_t refused; /* connections refused, over the per-address limit (atomic) */
};

/* 0, or -1 (out of resources). name must outlive the guard. */
int http_guard_init(struct http_guard *g, unsigned int deadline_s, unsigned int max_per_ip,
		    const char *name);
/* Start the reaper thread: 0 or -1. */
int http_guard_start(struct http_guard *g);
/* Stop the reaper (before MHD_stop_daemon()), then release the guard (after it). */
void http_guard_stop(struct http_guard *g);
void http_guard_fini(struct http_guard *g);

/* MHD's accept policy: MHD_NO when the client address has max_per_ip connections open. */
enum MHD_Result http_guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
/* MHD_OPTION_NOTIFY_CONNECTION and MHD_OPTION_NOTIFY_COMPLETED, with the guard as cls. */
void http_guard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			      enum MHD_ConnectionNotificationCode code);
void http_guard_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			     enum MHD_RequestTerminationCode toe);

#endif /* __WARMPATH_HTTP_GUARD_H */
