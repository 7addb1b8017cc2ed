// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <time.h>
#include "tick_stats.h"

static __u64 thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void tick_stats_begin(struct tick_stats *ts)
{
	ts->cpu0 = thread_cpu_ns();
}

void tick_stats_end(struct tick_stats *ts)
{
	ts->ticks++;
	ts->cpu_ns_last = thread_cpu_ns() - ts->cpu0;
	ts->cpu_ns_total += ts->cpu_ns_last;
}

void tick_stats_emit_metrics(const struct tick_stats *ts, struct prom_buf *b)
{
	prom_family(b, "warmpath_ticks_total", PROM_COUNTER, "Agent ticks");
	prom_sample_u64(b, "warmpath_ticks_total", NULL, ts->ticks);
	prom_family(b, "warmpath_tick_cpu_seconds_total", PROM_COUNTER,
		    "CPU time spent in ticks (reading maps, deciding, sending)");
	prom_sample(b, "warmpath_tick_cpu_seconds_total", NULL, ts->cpu_ns_total / 1e9);
	prom_family(b, "warmpath_tick_last_cpu_seconds", PROM_GAUGE, "CPU time of the last tick");
	prom_sample(b, "warmpath_tick_last_cpu_seconds", NULL, ts->cpu_ns_last / 1e9);
}
