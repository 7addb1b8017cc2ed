/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The agent's self-accounting of its ticks: how many, and the CPU time they took. */
#ifndef __WARMPATH_TICK_STATS_H
#define __WARMPATH_TICK_STATS_H

#include <linux/types.h>
#include "prom.h"

struct tick_stats {
	__u64 ticks;
	__u64 cpu_ns_total;
	__u64 cpu_ns_last;
	__u64 cpu0; /* thread CPU time when the running tick began */
};

void tick_stats_begin(struct tick_stats *ts);
void tick_stats_end(struct tick_stats *ts);
/* warmpath_ticks_total, warmpath_tick_cpu_seconds_total, warmpath_tick_last_cpu_seconds. */
void tick_stats_emit_metrics(const struct tick_stats *ts, struct prom_buf *b);

#endif /* __WARMPATH_TICK_STATS_H */
