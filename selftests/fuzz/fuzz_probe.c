// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Probe datagrams (user/probe/probe.c): the UDP probe codec, ICMP / ICMPv6
 * echo replies, and the status line of an HTTP probe's answer.
 */
#include <stdio.h>
#include <sys/socket.h>
#include "fuzz.h"
#include "probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wp_probe_msg m;
	enum wp_probe_verdict v;
	__u16 id, seq;
	int status;

	v = probe_msg_parse(data, size, &m);
	FUZZ_CHECK(probe_verdict_name(v) != NULL);
	if (probe_icmp_parse_reply(AF_INET, data, size, &id, &seq))
		FUZZ_CHECK(size >= 8);
	probe_icmp_parse_reply(AF_INET6, data, size, &id, &seq);
	status = probe_http_status((const char *)data, size);
	FUZZ_CHECK(status == -1 || (status >= 0 && status <= 999));
	return 0;
}
