/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The event log: detection events from the datapath's ring buffer and the
 * unanswered cold starts the agent notices itself, counted by type and logged
 * at a bounded rate (the lines held back counted too).
 */
#ifndef __WARMPATH_EVENTS_H
#define __WARMPATH_EVENTS_H

#include <stddef.h>
#include <linux/types.h>
#include "peer_table.h"
#include "prom.h"
#include "warmpath.h"

struct ring_buffer;

struct event_log {
	struct ring_buffer *rb;
	const struct peer_table *peers; /* names for the log lines */
	int probe_timeout_ms;
	__u64 total[WP_EV_MAX];
	__u64 malformed; /* records too short or of an unknown type */
	__u64 log_suppressed;
	double tokens;
	__u64 refill_ns;
};

extern const char *const wp_event_names[WP_EV_MAX];

/* Consume the `events` ring buffer (events_fd) when epfd says it has data. */
int event_log_open(struct event_log *ev, int events_fd, int epfd, const struct peer_table *peers,
		   int probe_timeout_ms, char *err, size_t errlen);
void event_log_poll(struct event_log *ev);
void event_log_close(struct event_log *ev);
/* Count (once each) the non-TCP cold starts unanswered for --probe-timeout. */
void event_log_check_unanswered(struct event_log *ev, struct peer_table *peers, __u64 now);
/* warmpath_events_total{type}, warmpath_event_logs_suppressed_total. */
void event_log_emit_metrics(const struct event_log *ev, struct prom_buf *b);

#endif /* __WARMPATH_EVENTS_H */
