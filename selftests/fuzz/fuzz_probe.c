// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Probe datagrams (user/probe/probe.c): the UDP probe codec (v2 with and
 * without a key, v1), the replay window fed the datagram's counter, ICMP /
 * ICMPv6 echo replies, the status line of an HTTP probe's answer, and a
 * lifetime trial message (only a valid body reaches the trial state machine,
 * whose bounds must stay ordered whatever it is told).
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "fuzz.h"
#include "lifetime.h"
#include "probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct wp_probe_key key = { .len = 16, .key = "fuzz-cluster-key" };
	static struct wp_replay window;
	__u8 nonce[WP_PROBE_NONCE_LEN];
	struct wp_probe_msg_v1 v1;
	struct wp_probe_msg m;
	enum wp_probe_verdict v;
	__u16 id, seq;
	int status;

	v = probe_msg_parse(data, size, NULL, &m, &v1);
	FUZZ_CHECK(probe_verdict_name(v) != NULL);
	if (v == WP_PROBE_OK) {
		FUZZ_CHECK(size == sizeof(m) && memchr(m.sender, 0, sizeof(m.sender)));
		probe_replay_accept(&window, be64toh(m.counter));
	}
	if (v == WP_PROBE_V1)
		FUZZ_CHECK(size == sizeof(v1));
	if (v == WP_PROBE_OK && m.type == WP_PROBE_TRIAL && probe_trial_valid(&m.trial)) {
		static const struct lt_opts o = { .enabled = true,
						  .min_ns = 5000000000ull,
						  .max_ns = 120000000000ull,
						  .timeout_ns = 1000000000ull,
						  .tick_ns = 1000000000ull };
		static struct lt_peer peer;
		static __u64 now = 1000000000000ull;
		struct lt_msg in = { .type = (enum lt_msg_type)m.trial.kind,
				     .id = be32toh(m.trial.id),
				     .gap_ms = be32toh(m.trial.gap_ms),
				     .receiver_tests = m.trial.flags & WP_TRIAL_F_RECEIVER_TESTS },
			      out;
		bool test;

		FUZZ_CHECK(in.gap_ms >= 1 && in.gap_ms <= 3600000);
		now += (__u64)(data[8] & 0x3f) * 1000000000ull;
		lt_on_msg(&o, &peer, &in, now, true, &out);
		if (in.type == LT_MSG_PROPOSE)
			FUZZ_CHECK(out.type == LT_MSG_ACCEPT || out.type == LT_MSG_REFUSE);
		if (data[9] & 1)
			lt_on_peer_request(&peer, now);
		else
			lt_on_probe_done(&peer, data[9] & 2, now, &test);
		FUZZ_CHECK(!lt_upper_ns(&peer) || lt_lower_ns(&peer) < lt_upper_ns(&peer));
	}
	v = probe_msg_parse(data, size, &key, &m, &v1);
	FUZZ_CHECK(v != WP_PROBE_V1); /* never answered with a key */
	if (probe_icmp_parse_reply(AF_INET, data, size, &id, &seq, nonce))
		FUZZ_CHECK(size >= 8);
	probe_icmp_parse_reply(AF_INET6, data, size, &id, &seq, nonce);
	status = probe_http_status((const char *)data, size);
	FUZZ_CHECK(status == -1 || (status >= 0 && status <= 999));
	return 0;
}
