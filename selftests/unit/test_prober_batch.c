// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The prober's batched sends: a tick's UDP probes are queued and go out in
 * sendmmsg batches (more than one batch here), every one arrives, and a send
 * that fails in the middle of a batch fails that probe only.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "prober.h"
#include "test_progs.h"
#include "util.h"

#define NPEERS 150 /* more than two sendmmsg batches */
#define BAD 77 /* 255.255.255.255 without SO_BROADCAST: EACCES */

static int free_udp_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), port = -1;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

void test_prober_batch(void)
{
	struct wp_peer_set set = { .peers = calloc(NPEERS, sizeof(struct wp_peer)), .n = NPEERS };
	struct prober p = { .udp_fd = -1, .icmp_fd = { -1, -1 } };
	struct prober_opts o = { .kind = WP_PROBE_UDP,
				 .mode = WP_MODE_IDLE,
				 .timeout_ms = 1000,
				 .keepalive_interval = 10,
				 .node_name = "batch" };
	int old_of[NPEERS], epfd = epoll_create1(0), got = 0, inflight = 0;
	struct peer_table t;
	char err[256], buf[512];
	__u64 now;

	o.port = free_udp_port();
	if (!ASSERT_TRUE(set.peers && epfd >= 0 && o.port > 0, "setup") ||
	    !ASSERT_OK(peer_table_init(&t, -1, -1), "init"))
		goto out;
	for (int i = 0; i < NPEERS; i++) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&set.peers[i].addr;

		snprintf(set.peers[i].name, sizeof(set.peers[i].name), "p%d", i);
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = i == BAD ? htonl(INADDR_BROADCAST) :
						  htonl(0x7f000001 + i % 200); /* 127.0.0.x */
		set.peers[i].id = i;
	}
	if (!ASSERT_OK(peer_table_rebuild(&t, &set, old_of), "rebuild"))
		goto out_table;
	if (!ASSERT_OK(prober_open(&p, &o, &t, epfd, -1, err, sizeof(err)), err))
		goto out_prober;
	now = wp_now_ns();
	/* one tick: the probes to every peer, then the flush (the agent's order) */
	for (int i = 0; i < NPEERS; i++)
		prober_send(&p, i, now);
	prober_flush(&p);
	ASSERT_EQ(p.send_errors, 1, "one send failed (broadcast without SO_BROADCAST)");
	ASSERT_EQ(t.e[BAD].probes_failed, 1, "its probe failed at once");
	ASSERT_FALSE(t.e[BAD].ka.inflight, "and is not in flight");
	for (int i = 0; i < NPEERS; i++) {
		inflight += t.e[i].ka.inflight;
		if (i != BAD && t.e[i].probes_sent != 1)
			ASSERT_EQ(t.e[i].probes_sent, 1, "one probe a peer");
	}
	ASSERT_EQ(inflight, NPEERS - 1, "every other probe in flight");
	ASSERT_TRUE(p.slots[0].sent_ns >= now && p.slots[NPEERS - 1].sent_ns >= now,
		    "RTT counted from the send");
	/* they were sent to our own probe port: every good one arrived */
	for (int waits = 0; waits < 100 && got < NPEERS - 1;) {
		if (recv(p.udp_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
			got++;
		} else {
			usleep(1000);
			waits++;
		}
	}
	ASSERT_EQ(got, NPEERS - 1, "every queued probe went out");
	prober_flush(&p);
	ASSERT_EQ(p.send_errors, 1, "an empty flush sends nothing");
out_prober:
	prober_close(&p);
out_table:
	peer_table_free(&t);
out:
	free(set.peers);
	if (epfd >= 0)
		close(epfd);
}
