/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The HTTP tests' two sides: a fake agent behind the real server (user/export/
 * http.c), and a client over plain sockets that reads whole replies.
 */
#ifndef __WARMPATH_HTTP_FAKE_H
#define __WARMPATH_HTTP_FAKE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "http.h"
#include "prom.h"

#define IO_TIMEOUT_S 5
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct reply {
	int status;
	char *head; /* status line and headers */
	char *body;
	size_t body_len;
};

/* The agent's side, as the tests play it. */
struct fake_agent {
	pthread_mutex_t lock;
	bool ready;
	bool fail_metrics, fail_peers, emit_self;
	struct wp_http *server; /* for emit_self */
	uint64_t scrapes;
	struct prom_hist rtt;
};

void reply_free(struct reply *r);
bool reply_header(const struct reply *r, const char *name, char *out, size_t len);
/*
 * A TCP connection to 127.0.0.1 (AF_INET) or ::1 (AF_INET6) port @port, from
 * the IPv4 address @src when not NULL, with @timeout_s I/O timeouts; -errno.
 */
int tcp_connect_loopback(int family, const char *src, uint16_t port, int timeout_s);
int http_request(int family, uint16_t port, const char *method, const char *path, const char *body,
		 struct reply *r);
int fake_metrics(void *ctx, struct prom_buf *out);
char *fake_peers_json(void *ctx);
bool fake_ready(void *ctx, char *why, size_t len);
void fake_init(struct fake_agent *a);
void fake_set(struct fake_agent *a, bool *field, bool v);
/* The server with NULL handlers (the probe port's) on 127.0.0.1:0, asserted "start"; or NULL. */
struct wp_http *start_bare(uint16_t *port);
struct wp_http *start_fake(struct fake_agent *a, const char *listen);
bool check_get(uint16_t port, const char *method, const char *path, int status, const char *type,
	       const char *body, struct reply *keep);

#endif /* __WARMPATH_HTTP_FAKE_H */
