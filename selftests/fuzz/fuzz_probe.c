// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Probe datagrams (user/probe/probe.c): the UDP probe codec (v2 with and
 * without a key, v1), the replay window fed the datagram's counter, ICMP /
 * ICMPv6 echo replies, and the status line of an HTTP probe's answer.
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "fuzz.h"
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
	v = probe_msg_parse(data, size, &key, &m, &v1);
	FUZZ_CHECK(v != WP_PROBE_V1); /* never answered with a key */
	if (probe_icmp_parse_reply(AF_INET, data, size, &id, &seq, nonce))
		FUZZ_CHECK(size >= 8);
	probe_icmp_parse_reply(AF_INET6, data, size, &id, &seq, nonce);
	status = probe_http_status((const char *)data, size);
	FUZZ_CHECK(status == -1 || (status >= 0 && status <= 999));
	return 0;
}
