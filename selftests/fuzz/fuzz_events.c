// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ring-buffer event records (user/agent/events.c) as the datapath could
 * emit them: on_event() decodes, counts and logs one. The file is included
 * here for its static decoder (the target links without events.o), with an
 * agent that knows one peer; the log goes to JSON, as in the DaemonSet.
 */
#include "../../user/agent/events.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int id_to_rt[WP_MAX_PEERS];
	static struct peer_rt rt[1];
	static struct agent a;
	static bool ready;
	__u64 total = 0, before = 0;
	void *copy;

	if (!ready) {
		for (int i = 0; i < WP_MAX_PEERS; i++)
			id_to_rt[i] = i == 1 ? 0 : -1;
		snprintf(rt[0].name, sizeof(rt[0].name), "node-a");
		a.rt = rt;
		a.nrt = 1;
		a.id_to_rt = id_to_rt;
		log_setup(true, 0);
		ready = true;
	}
	for (int t = 0; t < WP_EV_MAX; t++)
		before += a.ev_total[t];
	before += a.ev_malformed;
	/* the ring buffer hands out 8-byte aligned records */
	copy = malloc(size ? size : 1);
	FUZZ_CHECK(copy);
	memcpy(copy, data, size);
	a.ev_tokens = EV_LOG_BURST;
	on_event(&a, copy, size);
	free(copy);
	/* every record counted exactly once, as an event or as malformed */
	for (int t = 0; t < WP_EV_MAX; t++)
		total += a.ev_total[t];
	total += a.ev_malformed;
	FUZZ_CHECK(total == before + 1);
	return 0;
}
