// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The HTTP server (user/export/http.c) over plain TCP sockets: listen
 * parsing, every endpoint (status, headers, bodies, 404/405, HEAD), keep-alive,
 * connection limits, bind errors, IPv6, concurrent scrapes.
 *
 *	test_prom_http         listen parsing, every endpoint, keep-alive, limits
 *	test_prom_http_concurrent  8 threads x 50 scrapes at once
 */
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
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include "http_fake.h"
#include "test_helpers.h"

#define SCRAPE_THREADS 8
#define SCRAPES_PER_THREAD 50

static void http_listen_parse(void)
{
	static const struct {
		const char *in;
		int family;
		uint16_t port;
		const char *addr;
	} good[] = {
		{ "0.0.0.0:9051", AF_INET, 9051, "0.0.0.0" },
		{ "127.0.0.1:9051", AF_INET, 9051, "127.0.0.1" },
		{ ":9051", AF_INET, 9051, "0.0.0.0" },
		{ "10.1.2.3:0", AF_INET, 0, "10.1.2.3" },
		{ "1.2.3.4:65535", AF_INET, 65535, "1.2.3.4" },
		{ "[::]:9051", AF_INET6, 9051, "::" },
		{ "[::1]:80", AF_INET6, 80, "::1" },
		{ "[fe80::1%lo]:9051", AF_INET6, 9051, "fe80::1" },
	};
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "", "empty listen address" },
		{ "9051", "missing port" },
		{ "127.0.0.1", "missing port" },
		{ "127.0.0.1:", "missing port" },
		{ "127.0.0.1:65536", "port 65536 out of range" },
		{ "127.0.0.1:99999999999999999999", "out of range" },
		{ "127.0.0.1:-1", "bad port \"-1\"" },
		{ "127.0.0.1:90a", "bad port \"90a\"" },
		{ "127.0.0.1: 80", "bad port" },
		{ "1.2.3.400:80", "bad address \"1.2.3.400\"" },
		{ "localhost:9051", "bad address \"localhost\"" },
		{ "::1:9051", "brackets" },
		{ "[::1]", "missing port" },
		{ "[::1]9051", "missing port" },
		{ "[::1:9051", "missing ']'" },
		{ "[1.2.3.4]:80", "bad IPv6 address \"1.2.3.4\"" },
		{ "[]:80", "bad IPv6 address" },
		{ "[fe80::1%nosuchif0]:80", "no interface \"nosuchif0\"" },
	};
	struct sockaddr_storage ss;
	char err[256], ip[INET6_ADDRSTRLEN];
	socklen_t len;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		err[0] = '\0';
		if (!ASSERT_OK(wp_http_parse_listen(good[i].in, &ss, &len, err, sizeof(err)),
			       good[i].in)) {
			test__printf("%s\n", err);
			continue;
		}
		ASSERT_EQ(ss.ss_family, good[i].family, good[i].in);
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			ASSERT_EQ(len, sizeof(*sin6), "len6");
			ASSERT_EQ(ntohs(sin6->sin6_port), good[i].port, good[i].in);
			inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		} else {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			ASSERT_EQ(len, sizeof(*sin), "len4");
			ASSERT_EQ(ntohs(sin->sin_port), good[i].port, good[i].in);
			inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		}
		assert_text(ip, good[i].addr, good[i].in);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ASSERT_EQ(wp_http_parse_listen(bad[i].in, &ss, &len, err, sizeof(err)), -EINVAL,
			  bad[i].in);
		assert_contains(err, bad[i].msg, bad[i].in);
		/* the message names the value (in quotes) */
		if (*bad[i].in) {
			char quoted[64];

			snprintf(quoted, sizeof(quoted), "\"%s\"", bad[i].in);
			assert_contains(err, quoted, "names_value");
		}
	}
}

static void http_endpoints(void)
{
	struct fake_agent a;
	struct wp_http *s;
	struct reply r;
	char hdr[128];
	uint16_t port;
	json_error_t jerr;
	json_t *j;

	fake_init(&a);
	s = start_fake(&a, "127.0.0.1:0");
	if (!s)
		return;
	port = wp_http_port(s);
	ASSERT_NEQ(port, 0, "port");
	snprintf(hdr, sizeof(hdr), "127.0.0.1:%u", port);
	assert_text(wp_http_address(s), hdr, "address");

	check_get(port, "GET", "/healthz", 200, CT_TEXT, "ok\n", NULL);
	check_get(port, "GET", "/healthz?verbose=1", 200, CT_TEXT, "ok\n", NULL);
	check_get(port, "GET", "/ping", 200, CT_TEXT, "pong\n", NULL);
	if (check_get(port, "GET", "/", 200, CT_TEXT, "warmpath\n", &r)) {
		assert_contains(r.body, "/metrics", "index_metrics");
		assert_contains(r.body, "/readyz", "index_readyz");
		reply_free(&r);
	}

	/* readyz, both ways */
	if (check_get(port, "GET", "/readyz", 503, CT_TEXT, NULL, &r)) {
		assert_text(r.body, "not ready: programs not attached yet\n", "not_ready_body");
		reply_free(&r);
	}
	fake_set(&a, &a.ready, true);
	check_get(port, "GET", "/readyz", 200, CT_TEXT, "ready\n", NULL);

	/* peers: JSON that parses */
	if (check_get(port, "GET", "/peers", 200, "application/json", "{", &r)) {
		j = json_loads(r.body, 0, &jerr);
		if (ASSERT_OK_PTR(j, "peers_json"))
			ASSERT_EQ(json_array_size(json_object_get(j, "peers")), 1, "nr_peers");
		json_decref(j);
		reply_free(&r);
	}

	/* metrics, with our own counters appended */
	if (check_get(port, "GET", "/metrics", 200, CT_METRICS, "# HELP warmpath_build_info", &r)) {
		assert_contains(r.body, "warmpath_build_info{version=\"test\"} 1\n", "build_info");
		assert_contains(
			r.body,
			"warmpath_peer_idle_seconds{peer=\"we\\\"ird\\\\name\\nx\xef\xbf\xbd\"} 1.5\n",
			"escaped");
		assert_contains(r.body, "# TYPE warmpath_http_requests_total counter\n", "self");
		assert_contains(r.body,
				"warmpath_http_requests_total{path=\"/healthz\",code=\"200\"} 2\n",
				"self_healthz");
		assert_contains(r.body,
				"warmpath_http_requests_total{path=\"/readyz\",code=\"503\"} 1\n",
				"self_readyz_503");
		assert_contains(r.body,
				"warmpath_http_requests_total{path=\"/metrics\",code=\"200\"} 0\n",
				"self_metrics_zero");
		ASSERT_EQ(r.body_len, strlen(r.body), "body_len");
		reply_free(&r);
	}

	/* 404 and 405 */
	check_get(port, "GET", "/nope", 404, CT_TEXT, "not found\n", NULL);
	check_get(port, "GET", "/metrics/", 404, NULL, NULL, NULL);
	check_get(port, "POST", "/nope", 404, NULL, NULL, NULL);
	if (check_get(port, "POST", "/metrics", 405, CT_TEXT, "method not allowed\n", &r)) {
		if (ASSERT_TRUE(reply_header(&r, "Allow", hdr, sizeof(hdr)), "allow_header"))
			assert_text(hdr, "GET, HEAD", "allow");
		reply_free(&r);
	}
	check_get(port, "PUT", "/healthz", 405, NULL, NULL, NULL);
	check_get(port, "DELETE", "/peers", 405, NULL, NULL, NULL);
	/* a POST with a body is answered too, and the server carries on */
	if (ASSERT_OK(http_request(AF_INET, port, "POST", "/metrics", "a=1&b=2", &r),
		      "post_body")) {
		ASSERT_EQ(r.status, 405, "post_body_status");
		reply_free(&r);
	}

	/* HEAD: headers, no body */
	if (check_get(port, "HEAD", "/metrics", 200, CT_METRICS, NULL, &r)) {
		ASSERT_EQ(r.body_len, 0, "head_no_body");
		reply_free(&r);
	}
	if (check_get(port, "HEAD", "/healthz", 200, CT_TEXT, NULL, &r)) {
		ASSERT_TRUE(reply_header(&r, "Content-Length", hdr, sizeof(hdr)), "head_length");
		assert_text(hdr, "3", "head_length_value");
		ASSERT_EQ(r.body_len, 0, "head_no_body");
		reply_free(&r);
	}

	/* a handler failing: 500, and the next scrape is fine again */
	fake_set(&a, &a.fail_metrics, true);
	check_get(port, "GET", "/metrics", 500, CT_TEXT, "metrics unavailable", NULL);
	fake_set(&a, &a.fail_metrics, false);
	fake_set(&a, &a.fail_peers, true);
	check_get(port, "GET", "/peers", 500, CT_TEXT, "peers unavailable", NULL);
	fake_set(&a, &a.fail_peers, false);

	/* the counts of all the above, unknown paths as "other" */
	if (check_get(port, "GET", "/metrics", 200, CT_METRICS, NULL, &r)) {
		static const char *const want[] = {
			"{path=\"/\",code=\"200\"} 1\n",
			"{path=\"/metrics\",code=\"200\"} 2\n", /* GET and HEAD */
			"{path=\"/metrics\",code=\"405\"} 2\n",
			"{path=\"/metrics\",code=\"500\"} 1\n",
			"{path=\"/peers\",code=\"200\"} 1\n",
			"{path=\"/peers\",code=\"405\"} 1\n",
			"{path=\"/peers\",code=\"500\"} 1\n",
			"{path=\"/healthz\",code=\"200\"} 3\n",
			"{path=\"/healthz\",code=\"405\"} 1\n",
			"{path=\"/readyz\",code=\"200\"} 1\n",
			"{path=\"/readyz\",code=\"503\"} 1\n",
			"{path=\"/ping\",code=\"200\"} 1\n",
			"{path=\"other\",code=\"404\"} 3\n",
		};
		char line[128];
		size_t i;

		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			snprintf(line, sizeof(line), "warmpath_http_requests_total%s", want[i]);
			assert_contains(r.body, line, strtok(strdupa(line), "\n"));
		}
		ASSERT_EQ(count_occurrences(r.body, "warmpath_http_requests_total{"), 13,
			  "nr_series");
		reply_free(&r);
	}

	/* a metrics callback that emits the server's counters itself: no duplicate */
	fake_set(&a, &a.emit_self, true);
	if (check_get(port, "GET", "/metrics", 200, CT_METRICS, NULL, &r)) {
		ASSERT_EQ(count_occurrences(r.body, "# TYPE warmpath_http_requests_total"), 1,
			  "self_once");
		reply_free(&r);
	}
	wp_http_stop(s);
	pthread_mutex_destroy(&a.lock);
}

static int count_fds(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && (de = readdir(d)))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* NULL handlers: the probe-port server, only /, /healthz, /ping. */
static void http_ping_only(void)
{
	int fds_before = count_fds();
	uint16_t port;
	struct wp_http *s = start_bare(&port);
	struct reply r;

	if (!s)
		return;
	check_get(port, "GET", "/ping", 200, CT_TEXT, "pong\n", NULL);
	check_get(port, "GET", "/healthz", 200, CT_TEXT, "ok\n", NULL);
	check_get(port, "GET", "/metrics", 404, NULL, NULL, NULL);
	check_get(port, "GET", "/peers", 404, NULL, NULL, NULL);
	check_get(port, "GET", "/readyz", 404, NULL, NULL, NULL);
	check_get(port, "POST", "/metrics", 404, NULL, NULL, NULL);
	if (check_get(port, "GET", "/", 200, CT_TEXT, NULL, &r)) {
		ASSERT_FALSE(strstr(r.body, "/metrics"), "index_without_metrics");
		assert_contains(r.body, "/ping", "index_ping");
		reply_free(&r);
	}
	wp_http_stop(s);
	/* the listening socket is gone with the server */
	ASSERT_EQ(count_fds(), fds_before, "no_fd_leak");
	ASSERT_LT(http_request(AF_INET, port, "GET", "/ping", NULL, &r), 0, "stopped");
}

/* Two requests on one connection: GETs keep it open, Connection: close ends it. */
static void http_keepalive(void)
{
	static const char req1[] = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char req2[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char buf[2048];
	size_t len = 0;
	struct wp_http *s;
	ssize_t n;
	int fd;

	s = start_bare(NULL);
	if (!s)
		return;
	fd = tcp_connect_loopback(AF_INET, NULL, wp_http_port(s), IO_TIMEOUT_S);
	if (!ASSERT_GE(fd, 0, "connect"))
		goto out;
	ASSERT_EQ(send(fd, req1, strlen(req1), MSG_NOSIGNAL), strlen(req1), "send1");
	/* the whole first reply, up to its body */
	while (len < sizeof(buf) - 1 && !strstr(buf, "pong\n")) {
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			break;
		len += n;
		buf[len] = '\0';
	}
	if (ASSERT_TRUE(len && strstr(buf, "pong\n"), "reply1")) {
		ASSERT_FALSE(strcasestr(buf, "Connection: close"), "kept_open");
		ASSERT_EQ(send(fd, req2, strlen(req2), MSG_NOSIGNAL), strlen(req2), "send2");
		len = 0;
		while (len < sizeof(buf) - 1) {
			n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
			if (n <= 0)
				break;
			len += n;
		}
		buf[len] = '\0';
		assert_contains(buf, "HTTP/1.1 200", "reply2");
		assert_contains(buf, "\r\n\r\nok\n", "reply2_body");
	}
	close(fd);
out:
	wp_http_stop(s);
}

/*
 * WP_HTTP_MAX_CONNECTIONS idle clients fill the server; the next one is
 * turned away, and once they leave it serves again.
 */
static void http_connection_limit(void)
{
	int fds[WP_HTTP_MAX_CONNECTIONS], i, nr = 0, err = -1, tries;
	uint16_t port;
	struct wp_http *s = start_bare(&port);
	struct reply r;

	if (!s)
		return;
	for (i = 0; i < WP_HTTP_MAX_CONNECTIONS; i++) {
		fds[nr] = tcp_connect_loopback(AF_INET, NULL, port, IO_TIMEOUT_S);
		if (!ASSERT_GE(fds[nr], 0, "connect_idle"))
			break;
		nr++;
	}
	if (nr == WP_HTTP_MAX_CONNECTIONS) {
		err = http_request(AF_INET, port, "GET", "/ping", NULL, &r);
		ASSERT_LT(err, 0, "over_limit_refused");
		if (!err)
			reply_free(&r);
	}
	for (i = 0; i < nr; i++)
		close(fds[i]);
	/* the server notices the closed connections asynchronously */
	for (tries = 0; tries < 100; tries++) {
		err = http_request(AF_INET, port, "GET", "/ping", NULL, &r);
		if (!err)
			break;
		usleep(20000);
	}
	if (ASSERT_OK(err, "served_again")) {
		ASSERT_EQ(r.status, 200, "status");
		reply_free(&r);
	}
	wp_http_stop(s);
}

static void http_bind_errors(void)
{
	struct wp_http *s, *s2;
	char err[256] = "", want[64];

	s = start_bare(NULL);
	if (!s)
		return;
	s2 = wp_http_start(wp_http_address(s), NULL, err, sizeof(err));
	ASSERT_TRUE(s2 == NULL, "second_bind_fails");
	snprintf(want, sizeof(want), "cannot bind 127.0.0.1:%u: ", wp_http_port(s));
	assert_contains(err, want, "names_address");
	assert_contains(err, strerror(EADDRINUSE), "names_errno");
	wp_http_stop(s2);
	wp_http_stop(s);

	ASSERT_TRUE(wp_http_start("127.0.0.1:99999", NULL, err, sizeof(err)) == NULL, "bad_port");
	assert_contains(err, "\"127.0.0.1:99999\": port 99999 out of range", "bad_port_msg");
	/* an address this host does not have */
	ASSERT_TRUE(wp_http_start("192.0.2.1:9051", NULL, err, sizeof(err)) == NULL,
		    "foreign_address");
	assert_contains(err, "cannot bind 192.0.2.1:9051: ", "foreign_address_msg");
	wp_http_stop(NULL);
}

static void http_ipv6(void)
{
	struct wp_http *s;
	struct reply r;
	char err[256] = "";
	uint16_t port;

	s = wp_http_start("[::1]:0", NULL, err, sizeof(err));
	if (!s) {
		/* a kernel or namespace without IPv6 */
		test__printf("no IPv6 here, skipped (%s)\n", err);
		return;
	}
	port = wp_http_port(s);
	assert_contains(wp_http_address(s), "[::1]:", "address");
	if (ASSERT_OK(http_request(AF_INET6, port, "GET", "/ping", NULL, &r), "ping6")) {
		ASSERT_EQ(r.status, 200, "ping6_status");
		assert_text(r.body, "pong\n", "ping6_body");
		reply_free(&r);
	}
	wp_http_stop(s);

	/* [::] takes IPv4 clients too */
	s = wp_http_start("[::]:0", NULL, err, sizeof(err));
	if (!ASSERT_OK_PTR(s, "start_any6"))
		return;
	port = wp_http_port(s);
	check_get(port, "GET", "/ping", 200, CT_TEXT, "pong\n", NULL);
	wp_http_stop(s);
}

/* ---- concurrent scrapes ---- */

struct scraper {
	pthread_t thread;
	uint16_t port;
	pthread_barrier_t *start;
	int ok, failed;
	char first_error[128];
};

static void *scrape_loop(void *arg)
{
	struct scraper *sc = arg;
	struct reply r;
	int i, err;

	pthread_barrier_wait(sc->start);
	for (i = 0; i < SCRAPES_PER_THREAD; i++) {
		err = http_request(AF_INET, sc->port, "GET", "/metrics", NULL, &r);
		if (!err && r.status == 200 && strstr(r.body, "warmpath_probe_rtt_seconds_count") &&
		    r.body_len && r.body[r.body_len - 1] == '\n') {
			sc->ok++;
		} else {
			if (!sc->failed)
				snprintf(sc->first_error, sizeof(sc->first_error),
					 "scrape %d: err=%d status=%d", i, err, err ? 0 : r.status);
			sc->failed++;
		}
		if (!err)
			reply_free(&r);
	}
	return NULL;
}

static void http_concurrent(void)
{
	struct scraper sc[SCRAPE_THREADS] = {};
	pthread_barrier_t start;
	struct fake_agent a;
	struct wp_http *s;
	struct reply r;
	char line[128];
	int i, ok = 0, started = 0;

	fake_init(&a);
	s = start_fake(&a, "127.0.0.1:0");
	if (!s)
		return;
	pthread_barrier_init(&start, NULL, SCRAPE_THREADS);
	for (i = 0; i < SCRAPE_THREADS; i++) {
		sc[i].port = wp_http_port(s);
		sc[i].start = &start;
		if (!ASSERT_OK(pthread_create(&sc[i].thread, NULL, scrape_loop, &sc[i]),
			       "pthread_create"))
			break;
		started++;
	}
	if (started < SCRAPE_THREADS) {
		/* the barrier would never open; nothing sane left to do */
		test__printf("only %d threads started\n", started);
		exit(1);
	}
	for (i = 0; i < SCRAPE_THREADS; i++) {
		pthread_join(sc[i].thread, NULL);
		ok += sc[i].ok;
		if (sc[i].failed)
			test__printf("thread %d: %d failed, first: %s\n", i, sc[i].failed,
				     sc[i].first_error);
	}
	ASSERT_EQ(ok, SCRAPE_THREADS * SCRAPES_PER_THREAD, "scrapes_ok");
	ASSERT_EQ(a.scrapes, SCRAPE_THREADS * SCRAPES_PER_THREAD, "handler_calls");

	/* and the server still answers, having counted every one */
	if (check_get(wp_http_port(s), "GET", "/metrics", 200, CT_METRICS, NULL, &r)) {
		snprintf(line, sizeof(line),
			 "warmpath_http_requests_total{path=\"/metrics\",code=\"200\"} %d\n",
			 SCRAPE_THREADS * SCRAPES_PER_THREAD);
		assert_contains(r.body, line, "counted");
		reply_free(&r);
	}
	pthread_barrier_destroy(&start);
	wp_http_stop(s);
	pthread_mutex_destroy(&a.lock);
}

void test_prom_http(void)
{
	if (test__start_subtest("listen_parse"))
		http_listen_parse();
	if (test__start_subtest("endpoints"))
		http_endpoints();
	if (test__start_subtest("ping_only"))
		http_ping_only();
	if (test__start_subtest("keepalive"))
		http_keepalive();
	if (test__start_subtest("connection_limit"))
		http_connection_limit();
	if (test__start_subtest("bind_errors"))
		http_bind_errors();
	if (test__start_subtest("ipv6"))
		http_ipv6();
}

void test_prom_http_concurrent(void)
{
	if (test__start_subtest("scrapes_8x50"))
		http_concurrent();
}
