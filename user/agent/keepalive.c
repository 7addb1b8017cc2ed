// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "keepalive.h"
#include "peer_schema.h"

enum ka_action keepalive_decide(enum wp_mode mode, struct ka_state *st, __u64 now_ns,
				__u64 last_tx_ns, __u64 last_rx_ns, __u64 interval_ns,
				__u64 slack_ns, __u64 defer_ns)
{
	__u64 last = wp_idle_since_ns(last_tx_ns, last_rx_ns);
	/* the same half-tick slack for "due": a keep-alive falls due at the tick nearest it */
	bool due = now_ns + slack_ns >= st->next_due_ns;
	__u64 threshold = interval_ns > slack_ns ? interval_ns - slack_ns : 0;
	bool idle = !last || (last <= now_ns && now_ns - last >= threshold);
	/* the side that defers probes only once the other side has stopped */
	bool idle_deferred = !last || (last <= now_ns && now_ns - last >= threshold + defer_ns);

	switch (mode) {
	case WP_MODE_OBSERVE:
		return KA_NONE;
	case WP_MODE_CONSTANT:
		if (!due || st->inflight)
			return KA_NONE;
		st->next_due_ns = now_ns + interval_ns;
		return KA_PROBE;
	case WP_MODE_IDLE:
	default:
		/* at most one keep-alive per interval, whatever the maps say */
		if (st->inflight || !due)
			return KA_NONE;
		if (idle_deferred) {
			st->next_due_ns = now_ns + interval_ns;
			return KA_PROBE;
		}
		if (idle)
			return KA_NONE; /* deferring: the other side's probe is due about now */
		st->next_due_ns = now_ns + interval_ns;
		return KA_SUPPRESS;
	}
}

__u64 keepalive_defer_ns(const char *self, const char *peer, __u64 margin_ns)
{
	return strcmp(self, peer) > 0 ? margin_ns : 0;
}
