// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <dirent.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>
#include "http.h"
#include "prom.h"
#include "test_progs.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include "http_fake.h"
#include "test_helpers.h"

void reply_free(struct reply *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* A header's value (case-insensitive name), copied into @out; false if absent. */
bool reply_header(const struct reply *r, const char *name, char *out, size_t len)
{
	const char *p = r->head;
	size_t n = strlen(name);

	while (p && (p = strstr(p, "\r\n"))) {
		p += 2;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			const char *v = p + n + 1, *end;

			while (*v == ' ')
				v++;
			end = strstr(v, "\r\n");
			if (!end)
				end = v + strlen(v);
			snprintf(out, len, "%.*s", (int)(end - v), v);
			return true;
		}
	}
	return false;
}

int tcp_connect_loopback(int family, const char *src, uint16_t port, int timeout_s)
{
	struct timeval tv = { .tv_sec = timeout_s };
	struct sockaddr_storage ss = {};
	socklen_t slen;
	int fd, err;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (src) {
		struct sockaddr_in a = { .sin_family = AF_INET };

		inet_pton(AF_INET, src, &a.sin_addr);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
			goto fail;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons(port);
		slen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(port);
		slen = sizeof(*sin);
	}
	if (connect(fd, (struct sockaddr *)&ss, slen))
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

/*
 * One request on a fresh connection (Connection: close), the reply read to
 * EOF. @family AF_INET connects to 127.0.0.1, AF_INET6 to ::1. 0 or -errno.
 */
int http_request(int family, uint16_t port, const char *method, const char *path, const char *body,
		 struct reply *r)
{
	char req[512], *buf = NULL, *sep, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, err = 0, reqlen;

	memset(r, 0, sizeof(*r));
	fd = tcp_connect_loopback(family, NULL, port, IO_TIMEOUT_S);
	if (fd < 0)
		return fd;
	reqlen = snprintf(req, sizeof(req),
			  "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
			  "Content-Length: %zu\r\n\r\n%s",
			  method, path, body ? strlen(body) : 0, body ? body : "");
	if (send(fd, req, reqlen, MSG_NOSIGNAL) != reqlen) {
		err = -EIO;
		goto out;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 16384;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (!n)
			break;
		len += n;
	}
	if (!buf) {
		err = -ECONNRESET;
		goto out;
	}
	buf[len] = '\0';
	sep = strstr(buf, "\r\n\r\n");
	if (!sep || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
		err = -EPROTO;
		goto out;
	}
	r->head = strndup(buf, sep - buf);
	r->body_len = len - (sep + 4 - buf);
	r->body = strndup(sep + 4, r->body_len);
	if (!r->head || !r->body)
		err = -ENOMEM;
out:
	free(buf);
	close(fd);
	if (err)
		reply_free(r);
	return err;
}

int fake_metrics(void *ctx, struct prom_buf *out)
{
	struct fake_agent *a = ctx;
	int err = 0;

	pthread_mutex_lock(&a->lock);
	if (a->fail_metrics) {
		err = -EIO;
		goto unlock;
	}
	a->scrapes++;
	prom_family(out, "warmpath_build_info", PROM_GAUGE, "Build information");
	prom_sample(out, "warmpath_build_info", (const char *[]){ "version", "test", NULL }, 1);
	prom_family(out, "warmpath_test_scrapes_total", PROM_COUNTER,
		    "Scrapes of this fake agent, this one included");
	prom_sample_u64(out, "warmpath_test_scrapes_total", NULL, a->scrapes);
	prom_family(out, "warmpath_peer_idle_seconds", PROM_GAUGE,
		    "Seconds since a peer last carried a packet \"either way\"\n(+Inf: never)");
	prom_sample(out, "warmpath_peer_idle_seconds",
		    (const char *[]){ "peer", "we\"ird\\name\nx\xff", NULL }, 1.5);
	prom_sample(out, "warmpath_peer_idle_seconds", (const char *[]){ "peer", "never", NULL },
		    INFINITY);
	prom_sample(out, "warmpath_peer_idle_seconds", (const char *[]){ "peer", "unknown", NULL },
		    NAN);
	prom_family(out, "warmpath_probe_rtt_seconds", PROM_HISTOGRAM, "Probe round trip time");
	prom_hist_emit(out, "warmpath_probe_rtt_seconds", (const char *[]){ "peer", "a", NULL },
		       &a->rtt);
	prom_hist_emit(out, "warmpath_probe_rtt_seconds",
		       (const char *[]){ "peer", "_other", NULL }, &a->rtt);
	if (a->emit_self)
		err = wp_http_emit_self_metrics(a->server, out);
unlock:
	pthread_mutex_unlock(&a->lock);
	return err;
}

char *fake_peers_json(void *ctx)
{
	struct fake_agent *a = ctx;
	char *text = NULL;

	pthread_mutex_lock(&a->lock);
	if (a->fail_peers)
		errno = EIO;
	else
		text = strdup("{\"peers\":[{\"name\":\"node-a\",\"idle_seconds\":1.5}]}");
	pthread_mutex_unlock(&a->lock);
	return text;
}

bool fake_ready(void *ctx, char *why, size_t len)
{
	struct fake_agent *a = ctx;
	bool ready;

	pthread_mutex_lock(&a->lock);
	ready = a->ready;
	if (!ready)
		snprintf(why, len, "programs not attached yet");
	pthread_mutex_unlock(&a->lock);
	return ready;
}

void fake_init(struct fake_agent *a)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	prom_hist_observe(&a->rtt, 0.0003);
	prom_hist_observe(&a->rtt, 0.02);
	prom_hist_observe(&a->rtt, 12);
}

void fake_set(struct fake_agent *a, bool *field, bool v)
{
	pthread_mutex_lock(&a->lock);
	*field = v;
	pthread_mutex_unlock(&a->lock);
}

struct wp_http *start_bare(uint16_t *port)
{
	char err[256] = "";
	struct wp_http *s = wp_http_start("127.0.0.1:0", NULL, err, sizeof(err));

	if (!ASSERT_OK_PTR(s, "start")) {
		test__printf("%s\n", err);
		return NULL;
	}
	if (port)
		*port = wp_http_port(s);
	return s;
}

struct wp_http *start_fake(struct fake_agent *a, const char *listen)
{
	struct wp_http_handlers h = {
		.ctx = a,
		.metrics = fake_metrics,
		.peers_json = fake_peers_json,
		.ready = fake_ready,
	};
	char err[256] = "";
	struct wp_http *s;

	s = wp_http_start(listen, &h, err, sizeof(err));
	if (!ASSERT_OK_PTR(s, "wp_http_start"))
		test__printf("%s\n", err);
	else
		a->server = s;
	return s;
}

/* GET @path, expect @status, @type and a body starting with @body (NULL: any). */
bool check_get(uint16_t port, const char *method, const char *path, int status, const char *type,
	       const char *body, struct reply *keep)
{
	char name[96], got_type[128] = "";
	struct reply r;
	bool ok;

	snprintf(name, sizeof(name), "%s_%s", method, path);
	if (!ASSERT_OK(http_request(AF_INET, port, method, path, NULL, &r), name))
		return false;
	ok = ASSERT_EQ(r.status, status, name);
	if (type) {
		reply_header(&r, "Content-Type", got_type, sizeof(got_type));
		ok &= assert_text(got_type, type, name);
	}
	if (body)
		ok &= test__assert_report(!strncmp(r.body, body, strlen(body)), __FILE__, __LINE__,
					  name, "body \"%s\" want \"%s\"", r.body, body);
	if (keep)
		*keep = r;
	else
		reply_free(&r);
	return ok;
}
