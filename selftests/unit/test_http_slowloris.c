// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * user/export/http.c cannot be starved: 64 connections from one client
 * (127.0.0.2), each trickling a header line every 3 s, and /healthz from
 * another client (127.0.0.1) still answers within 1 s, all along. The
 * per-client limit turns most of them away at once; the request deadline
 * cuts the rest after WP_HTTP_REQUEST_DEADLINE seconds. Bounded: ~7 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "http.h"
#include "http_fake.h"
#include "test_progs.h"

#define ATTACKERS 64
#define TRICKLE_MS 3000
#define RUN_MS 7000
#define HEALTH_EVERY_MS 500
#define HEALTH_MAX_MS 1000

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A TCP connection from src to 127.0.0.1:port, 1 s timeouts; -errno on failure. */
static int connect_from(const char *src, uint16_t port)
{
	return tcp_connect_loopback(AF_INET, src, port, 1);
}

/* GET /healthz from 127.0.0.1: milliseconds to a complete 200, or -1. */
static long long healthz_ms(uint16_t port)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	long long t0 = ms_now();
	char buf[1024];
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = connect_from("127.0.0.1", port);
	if (fd < 0)
		return -1;
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != sizeof(req) - 1)
		goto fail;
	while (len < sizeof(buf) - 1 && (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
		len += n;
	buf[len] = '\0';
	close(fd);
	if (strncmp(buf, "HTTP/1.1 200", 12) || !strstr(buf, "\r\n\r\nok\n"))
		return -1;
	return ms_now() - t0;
fail:
	close(fd);
	return -1;
}

/* Has the server closed this connection (end of stream or reset)? */
static bool closed_by_server(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, 0) <= 0)
		return false;
	return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

void test_http_slowloris(void)
{
	static const char start[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
	static const char trickle[] = "X-Trickle: 1\r\n";
	int fds[ATTACKERS], nfds = 0, closed_early = 0, closed_end = 0, probes = 0, slow = 0;
	long long t0, next_trickle, next_health, worst = 0, ms;
	struct wp_http *s;
	uint16_t port;

	s = start_bare(&port);
	if (!s)
		return;
	ASSERT_GE(healthz_ms(port), 0, "healthz_before");

	/* the attack: open everything, send the request line and one header */
	for (int i = 0; i < ATTACKERS; i++) {
		fds[nfds] = connect_from("127.0.0.2", port);
		if (fds[nfds] < 0)
			continue;
		send(fds[nfds], start, sizeof(start) - 1, MSG_NOSIGNAL);
		nfds++;
	}
	ASSERT_EQ(nfds, ATTACKERS, "attackers_connected");
	t0 = ms_now();
	next_trickle = t0 + TRICKLE_MS;
	next_health = t0 + 200;
	while (ms_now() - t0 < RUN_MS) {
		long long now = ms_now();

		if (now >= next_trickle) {
			for (int i = 0; i < nfds; i++)
				send(fds[i], trickle, sizeof(trickle) - 1,
				     MSG_NOSIGNAL | MSG_DONTWAIT);
			next_trickle += TRICKLE_MS;
		}
		if (now >= next_health) {
			ms = healthz_ms(port);
			probes++;
			if (ms < 0 || ms > HEALTH_MAX_MS)
				slow++;
			if (ms > worst || ms < 0)
				worst = ms < 0 ? 99999 : ms;
			next_health += HEALTH_EVERY_MS;
		}
		if (now - t0 >= 1000 && now - t0 < 1100 && !closed_early)
			for (int i = 0; i < nfds; i++)
				closed_early += closed_by_server(fds[i]);
		usleep(20000);
	}
	for (int i = 0; i < nfds; i++) {
		closed_end += closed_by_server(fds[i]);
		close(fds[i]);
	}
	test__printf("%d healthz probes under attack, worst %lld ms; %d of %d attackers refused "
		     "at once, %d closed after %d s\n",
		     probes, worst, closed_early, nfds, closed_end, RUN_MS / 1000);
	ASSERT_GE(probes, 10, "probes_made");
	ASSERT_EQ(slow, 0, "healthz_within_1s");
	/* the per-client limit: all but WP_HTTP_MAX_CONNECTIONS_PER_IP turned away */
	ASSERT_GE(closed_early, ATTACKERS - WP_HTTP_MAX_CONNECTIONS_PER_IP, "per_client_limit");
	/* the request deadline: the trickling ones cut although never idle 10 s */
	ASSERT_EQ(closed_end, nfds, "request_deadline");
	wp_http_stop(s);
}
