// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ring-buffer event records (user/agent/events.c) as the datapath could
 * emit them: on_event() decodes, counts and logs one. The file is included
 * here for its static decoder (the target links without events.o), with an
 * event log whose peer table knows one peer; the log goes to JSON, as in the
 * DaemonSet.
 */
#include "../../user/agent/events.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int id_to_idx[WP_MAX_PEERS];
	static struct peer_entry entries[1];
	static struct peer_table peers;
	static struct event_log ev;
	static bool ready;
	__u64 total = 0, before = 0;
	void *copy;

	if (!ready) {
		for (int i = 0; i < WP_MAX_PEERS; i++)
			id_to_idx[i] = i == 1 ? 0 : -1;
		snprintf(entries[0].name, sizeof(entries[0].name), "node-a");
		peers.e = entries;
		peers.n = 1;
		peers.id_to_idx = id_to_idx;
		ev.peers = &peers;
		log_setup(true, 0);
		ready = true;
	}
	for (int t = 0; t < WP_EV_MAX; t++)
		before += ev.total[t];
	before += ev.malformed;
	/* the ring buffer hands out 8-byte aligned records */
	copy = malloc(size ? size : 1);
	FUZZ_CHECK(copy);
	memcpy(copy, data, size);
	ev.tokens = EV_LOG_BURST;
	on_event(&ev, copy, size);
	free(copy);
	/* every record counted exactly once, as an event or as malformed */
	for (int t = 0; t < WP_EV_MAX; t++)
		total += ev.total[t];
	total += ev.malformed;
	FUZZ_CHECK(total == before + 1);
	return 0;
}
