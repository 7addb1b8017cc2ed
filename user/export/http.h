/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent's HTTP server (libmicrohttpd, a thread per connection):
 *
 *	GET /metrics  Prometheus text, `text/plain; version=0.0.4; charset=utf-8`
 *	GET /peers    JSON, application/json
 *	GET /healthz  200 "ok"
 *	GET /readyz   200 "ready" (or "ready (degraded: <why>)"), or 503 "not ready: <why>"
 *	GET /ping     200 "pong" (the target of `--probe http`)
 *	GET /         a short text index
 *
 * HEAD works wherever GET does; other methods get 405 with `Allow: GET, HEAD`,
 * unknown paths 404. A NULL callback (or NULL handlers) turns its endpoint
 * off (404), so the same server can answer only /ping on the probe port.
 *
 * Threads: the callbacks run on libmicrohttpd's connection threads, several at
 * once and concurrently with the rest of the agent. They must be thread-safe
 * (take the agent's state mutex), should not block for long, and @ctx must
 * stay valid until wp_http_stop() has returned: after that no callback runs.
 */
#ifndef __WARMPATH_HTTP_H
#define __WARMPATH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "prom.h"

/* Concurrent connections served (more are accepted and closed at once). */
#define WP_HTTP_MAX_CONNECTIONS 64
/*
 * Concurrent connections from one client address: one client (a slowloris
 * holding connections open) cannot take the slots the kubelet's /healthz
 * probe and Prometheus need.
 */
#define WP_HTTP_MAX_CONNECTIONS_PER_IP 8
/* Seconds a connection may sit idle (keep-alive or a slow client) before it is closed. */
#define WP_HTTP_CONNECTION_TIMEOUT 10
/*
 * Seconds a connection gets from its accept, or from the end of its previous
 * request, to the end of its next request (headers, body, response), however
 * busy it keeps the line: a client trickling a header line every few seconds
 * never hits the idle timeout above, but is cut here.
 */
#define WP_HTTP_REQUEST_DEADLINE 5

struct wp_http_handlers {
	void *ctx;
	/*
	 * Fill the exposition; 0 or a negative errno (answered with 500). The
	 * server appends its own warmpath_http_requests_total unless the
	 * callback already did (wp_http_emit_self_metrics()).
	 */
	int (*metrics)(void *ctx, struct prom_buf *out);
	/* malloc'd JSON text (the server frees it), NULL on failure (500). */
	char *(*peers_json)(void *ctx);
	/*
	 * true when ready; otherwise a reason in @why (NUL-terminated, @len bytes).
	 * Ready with something in @why: ready but degraded (still 200).
	 */
	bool (*ready)(void *ctx, char *why, size_t len);
};

struct wp_http;

/*
 * Listen on @listen ("ADDR:PORT", see wp_http_parse_listen()) and serve
 * @h (copied; NULL serves only /, /healthz and /ping). NULL on failure with
 * a message in @err naming the bad value, or the address and errno of a
 * failed bind.
 */
struct wp_http *wp_http_start(const char *listen, const struct wp_http_handlers *h, char *err,
			      size_t errlen);
/* Stop serving, wait for running callbacks, free @s (NULL is fine). */
void wp_http_stop(struct wp_http *s);

/*
 * Parse "A.B.C.D:PORT", "[IPv6]:PORT" (a zone as in [fe80::1%eth0]:PORT is
 * allowed) or ":PORT" (0.0.0.0). PORT is 0..65535, 0 letting the kernel pick
 * one (see wp_http_port()). Returns 0, or -EINVAL with a message in @err.
 */
int wp_http_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len, char *err,
			 size_t errlen);

/* The port actually bound (useful after asking for port 0). */
uint16_t wp_http_port(const struct wp_http *s);
/* The address actually bound, as "127.0.0.1:9051" or "[::]:9051". */
const char *wp_http_address(const struct wp_http *s);

/*
 * warmpath_http_requests_total{path,code}: requests served per endpoint and
 * status; unknown paths count as path="other", so the label set is bounded.
 * /metrics appends them by itself, so a metrics callback need not call this
 * (if it does, they are not repeated). @s NULL emits nothing.
 */
int wp_http_emit_self_metrics(struct wp_http *s, struct prom_buf *out);

#endif /* __WARMPATH_HTTP_H */
