// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The agent's HTTP server: see http.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>
#include "http.h"
#include "util.h"
#include "http_guard.h"
#include "log.h"

#define LISTEN_BACKLOG 128
/* Connection threads only run our short handlers and MHD's own buffers are on the heap. */
#define THREAD_STACK_SIZE (512 * 1024)
#define SELF_METRIC "warmpath_http_requests_total"

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON "application/json"

/* The paths we count by name; everything else is "other". */
enum http_path {
	PATH_ROOT,
	PATH_METRICS,
	PATH_PEERS,
	PATH_HEALTHZ,
	PATH_READYZ,
	PATH_PING,
	PATH_OTHER,
	PATH_MAX,
};

static const char *const path_names[PATH_MAX] = {
	[PATH_ROOT] = "/",	     [PATH_METRICS] = "/metrics", [PATH_PEERS] = "/peers",
	[PATH_HEALTHZ] = "/healthz", [PATH_READYZ] = "/readyz",	  [PATH_PING] = "/ping",
	[PATH_OTHER] = "other",
};

/* Every status this server answers with (MHD's own 4xx for broken requests never reach us). */
static const unsigned int codes[] = { 200, 404, 405, 500, 503 };
#define NR_CODES (sizeof(codes) / sizeof(codes[0]))

struct wp_http {
	struct MHD_Daemon *daemon;
	struct http_guard guard; /* the request deadline */
	struct wp_http_handlers h;
	bool running; /* started: MHD's messages are per-connection noise from now on */
	uint16_t port;
	char addr[INET6_ADDRSTRLEN + IF_NAMESIZE + 16]; /* "[::1]:9051" */
	char index[512]; /* the text of GET / */
	uint64_t requests[PATH_MAX][NR_CODES]; /* atomic counters */
};

/* "1.2.3.4:80" / "[::1]:80" (the zone, if any, is dropped: the text is for humans). */
static void format_addr(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, ntohs(sin6->sin6_port));
	} else {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, ntohs(sin->sin_port));
	}
}

static void count_request(struct wp_http *s, enum http_path path, unsigned int code)
{
	size_t i;

	for (i = 0; i < NR_CODES; i++) {
		if (codes[i] == code) {
			__atomic_fetch_add(&s->requests[path][i], 1, __ATOMIC_RELAXED);
			return;
		}
	}
}

static bool path_enabled(const struct wp_http *s, enum http_path path)
{
	switch (path) {
	case PATH_METRICS:
		return s->h.metrics;
	case PATH_PEERS:
		return s->h.peers_json;
	case PATH_READYZ:
		return s->h.ready;
	case PATH_OTHER:
		return false;
	default:
		return true;
	}
}

static enum http_path path_of(const char *url)
{
	int i;

	for (i = 0; i < PATH_OTHER; i++)
		if (!strcmp(url, path_names[i]))
			return i;
	return PATH_OTHER;
}

int wp_http_emit_self_metrics(struct wp_http *s, struct prom_buf *out)
{
	char code[8];
	uint64_t n;
	int path;
	size_t i;
	int err;

	if (!s)
		return prom_buf_error(out);
	err = prom_family(
		out, SELF_METRIC, PROM_COUNTER,
		"HTTP requests served by the agent, by path (other: any unknown path) and status code");
	for (path = 0; !err && path < PATH_MAX; path++) {
		for (i = 0; !err && i < NR_CODES; i++) {
			n = __atomic_load_n(&s->requests[path][i], __ATOMIC_RELAXED);
			/* the 200 of every served endpoint always, so rate() has a start */
			if (!n && !(codes[i] == 200 && path_enabled(s, path)))
				continue;
			snprintf(code, sizeof(code), "%u", codes[i]);
			err = prom_sample_u64(
				out, SELF_METRIC,
				(const char *[]){ "path", path_names[path], "code", code, NULL },
				n);
		}
	}
	return err;
}

/*
 * Queue one response: @body is static text (MUST_FREE false) or malloc'd
 * (MHD frees it). Counts the request.
 */
static enum MHD_Result respond(struct wp_http *s, struct MHD_Connection *conn, enum http_path path,
			       unsigned int code, const char *type, char *body, size_t len,
			       bool must_free)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(
		len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
	    (code == MHD_HTTP_METHOD_NOT_ALLOWED &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		count_request(s, path, code);
	return ret;
}

static enum MHD_Result respond_text(struct wp_http *s, struct MHD_Connection *conn,
				    enum http_path path, unsigned int code, const char *text)
{
	return respond(s, conn, path, code, CT_TEXT, (char *)text, strlen(text), false);
}

/* 500 with a malloc'd message, or a static one if even that fails. */
static enum MHD_Result respond_error(struct wp_http *s, struct MHD_Connection *conn,
				     enum http_path path, const char *what, int err)
{
	char *msg;
	int n;

	log_warn("http %s: %s: %s", path_names[path], what, strerror(err));
	n = asprintf(&msg, "%s: %s\n", what, strerror(err));
	if (n < 0)
		return respond_text(s, conn, path, 500, "internal error\n");
	return respond(s, conn, path, 500, CT_TEXT, msg, n, true);
}

static enum MHD_Result serve_metrics(struct wp_http *s, struct MHD_Connection *conn)
{
	struct prom_buf b;
	size_t len;
	char *text;
	int err;

	prom_buf_init(&b);
	err = s->h.metrics(s->h.ctx, &b);
	if (!err)
		err = prom_buf_error(&b);
	if (!err && !prom_has_family(&b, SELF_METRIC))
		err = wp_http_emit_self_metrics(s, &b);
	text = err ? NULL : prom_buf_release(&b, &len);
	if (!text) {
		prom_buf_free(&b);
		return respond_error(s, conn, PATH_METRICS, "metrics unavailable",
				     err ? (err < 0 ? -err : err) : errno);
	}
	return respond(s, conn, PATH_METRICS, 200, CT_METRICS, text, len, true);
}

static enum MHD_Result serve_peers(struct wp_http *s, struct MHD_Connection *conn)
{
	char *json;

	errno = 0;
	json = s->h.peers_json(s->h.ctx);
	if (!json)
		return respond_error(s, conn, PATH_PEERS, "peers unavailable", errno ? errno : EIO);
	return respond(s, conn, PATH_PEERS, 200, CT_JSON, json, strlen(json), true);
}

static enum MHD_Result serve_readyz(struct wp_http *s, struct MHD_Connection *conn)
{
	char why[256] = "";
	char *msg;
	int n;

	if (s->h.ready(s->h.ctx, why, sizeof(why))) {
		/* ready, with a warning (degraded prefix coverage): still 200 */
		why[sizeof(why) - 1] = '\0';
		if (!why[0])
			return respond_text(s, conn, PATH_READYZ, 200, "ready\n");
		n = asprintf(&msg, "ready (degraded: %s)\n", why);
		if (n < 0)
			return respond_text(s, conn, PATH_READYZ, 200, "ready\n");
		return respond(s, conn, PATH_READYZ, 200, CT_TEXT, msg, n, true);
	}
	why[sizeof(why) - 1] = '\0';
	n = asprintf(&msg, "not ready%s%s\n", why[0] ? ": " : "", why);
	if (n < 0)
		return respond_text(s, conn, PATH_READYZ, 503, "not ready\n");
	return respond(s, conn, PATH_READYZ, 503, CT_TEXT, msg, n, true);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	static int seen;
	struct wp_http *s = cls;
	enum http_path path = path_of(url);
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);

	/*
	 * First call, headers only. A request we refuse is answered at once
	 * (MHD then closes the connection instead of reading the body); a
	 * GET/HEAD waits for the end of the request, because a response queued
	 * this early also costs the client its keep-alive connection.
	 */
	if (!*con_cls) {
		*con_cls = &seen;
		if (get)
			return MHD_YES;
		if (!path_enabled(s, path))
			return respond_text(s, conn, path, 404, "not found\n");
		return respond_text(s, conn, path, 405, "method not allowed\n");
	}
	/* a body on a GET is read and dropped */
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (!path_enabled(s, path))
		return respond_text(s, conn, path, 404, "not found\n");
	switch (path) {
	case PATH_METRICS:
		return serve_metrics(s, conn);
	case PATH_PEERS:
		return serve_peers(s, conn);
	case PATH_READYZ:
		return serve_readyz(s, conn);
	case PATH_HEALTHZ:
		return respond_text(s, conn, path, 200, "ok\n");
	case PATH_PING:
		return respond_text(s, conn, path, 200, "pong\n");
	case PATH_ROOT:
		return respond_text(s, conn, path, 200, s->index);
	default:
		return respond_text(s, conn, path, 404, "not found\n");
	}
}

/* MHD's messages: startup trouble is news, later ones are about single clients. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct wp_http *s = cls;
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (__atomic_load_n(&s->running, __ATOMIC_ACQUIRE))
		log_debug("http %s: %s", s->addr, msg);
	else
		log_warn("http %s: %s", s->addr, msg);
}

static void build_index(struct wp_http *s)
{
	static const char *const what[PATH_MAX] = {
		[PATH_METRICS] = "Prometheus metrics",
		[PATH_PEERS] = "per-peer state (JSON)",
		[PATH_HEALTHZ] = "liveness",
		[PATH_READYZ] = "readiness",
		[PATH_PING] = "keep-alive probe target",
	};
	size_t off;
	int path;

	off = snprintf(s->index, sizeof(s->index), "warmpath\n");
	for (path = PATH_METRICS; path < PATH_OTHER; path++) {
		if (!path_enabled(s, path) || off >= sizeof(s->index))
			continue;
		off += snprintf(s->index + off, sizeof(s->index) - off, "%-9s %s\n",
				path_names[path], what[path]);
	}
}

struct wp_http *wp_http_start(const char *listen_addr, const struct wp_http_handlers *h, char *err,
			      size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct wp_http *s;
	int fd = -1, mhd_fd, one = 1, zero = 0;

	s = calloc(1, sizeof(*s));
	if (!s || http_guard_init(&s->guard, WP_HTTP_REQUEST_DEADLINE,
				  WP_HTTP_MAX_CONNECTIONS_PER_IP, s->addr)) {
		wp_set_err(err, errlen, "http: %s", strerror(ENOMEM));
		free(s);
		return NULL;
	}
	if (h)
		s->h = *h;
	build_index(s);
	if (wp_http_parse_listen(listen_addr, &ss, &len, err, errlen))
		goto fail;
	format_addr(&ss, s->addr, sizeof(s->addr));

	/* Our own socket, so a failed bind can say where and why. */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		wp_set_err(err, errlen, "cannot listen on %s: socket: %s", s->addr,
			   strerror(errno));
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::] serves IPv4 too, whatever net.ipv6.bindv6only says */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		wp_set_err(err, errlen, "cannot bind %s: %s", s->addr, strerror(errno));
		goto fail;
	}
	if (listen(fd, LISTEN_BACKLOG)) {
		wp_set_err(err, errlen, "cannot listen on %s: %s", s->addr, strerror(errno));
		goto fail;
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len)) {
		wp_set_err(err, errlen, "cannot listen on %s: getsockname: %s", s->addr,
			   strerror(errno));
		goto fail;
	}
	format_addr(&ss, s->addr, sizeof(s->addr));
	s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
						   ((struct sockaddr_in *)&ss)->sin_port);

	/*
	 * MHD owns (and closes) the socket it is given, also on some failure
	 * paths: hand it a duplicate and always close ours, so it is never
	 * closed twice.
	 */
	mhd_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (mhd_fd < 0) {
		wp_set_err(err, errlen, "cannot listen on %s: dup: %s", s->addr, strerror(errno));
		goto fail;
	}
	s->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO |
			MHD_USE_ERROR_LOG,
		0, http_guard_accept, &s->guard, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
		on_mhd_log, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mhd_fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)WP_HTTP_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)WP_HTTP_CONNECTION_TIMEOUT,
		MHD_OPTION_NOTIFY_CONNECTION, http_guard_on_connection, &s->guard,
		MHD_OPTION_NOTIFY_COMPLETED, http_guard_on_completed, &s->guard,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK_SIZE, MHD_OPTION_END);
	if (!s->daemon) {
		wp_set_err(err, errlen, "cannot start the HTTP server on %s (libmicrohttpd failed)",
			   s->addr);
		/* stop listening even if MHD kept its duplicate open */
		shutdown(fd, SHUT_RDWR);
		goto fail;
	}
	close(fd);
	fd = -1;
	if (http_guard_start(&s->guard)) {
		wp_set_err(err, errlen,
			   "cannot start the HTTP server on %s: no request deadline thread",
			   s->addr);
		MHD_stop_daemon(s->daemon);
		goto fail;
	}
	__atomic_store_n(&s->running, true, __ATOMIC_RELEASE);
	return s;
fail:
	if (fd >= 0)
		close(fd);
	http_guard_fini(&s->guard);
	free(s);
	return NULL;
}

void wp_http_stop(struct wp_http *s)
{
	if (!s)
		return;
	/* the reaper first: it must not cut what MHD is tearing down */
	http_guard_stop(&s->guard);
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	http_guard_fini(&s->guard);
	free(s);
}

uint16_t wp_http_port(const struct wp_http *s)
{
	return s->port;
}

const char *wp_http_address(const struct wp_http *s)
{
	return s->addr;
}
