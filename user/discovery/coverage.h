/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prefix coverage: the share of tunnel packets that matched no peer, from the
 * datapath's per-CPU `stats` counters (matched, unmatched), over the last
 * minute. Unmatched traffic means discovery missed a prefix (a Calico IPAM
 * block, a Cilium pod CIDR...): those packets escape cold-start and SYN
 * tracking, and a busy pair looks idle. Above 1 % for a whole minute the
 * agent is "degraded": it logs (at most every 10 minutes) the top unmatched
 * destinations from the `unmatched` LRU, /readyz answers 200 "ready
 * (degraded: ...)" (never 503: a DaemonSet's readiness must not flap over a
 * missed prefix) and warmpath_prefix_coverage_degraded is 1.
 *
 * One agent a process: the state is this file's, under its own lock.
 *
 *	agent loop (any rate; samples at most once a second):
 *		coverage_tick(stats_fd, unmatched_fd, now_ns)
 *	/metrics:  coverage_emit_metrics(b)     /readyz:  coverage_degraded(why, len)
 */
#ifndef __WARMPATH_COVERAGE_H
#define __WARMPATH_COVERAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "prom.h"

#define COVERAGE_WINDOW_S 60
#define COVERAGE_THRESHOLD 0.01

void coverage_tick(int stats_fd, int unmatched_fd, __u64 now_ns);
/*
 * Feed one sample of the cumulative counters (what coverage_tick() reads);
 * returns true when the state became degraded with this sample. For tests.
 */
bool coverage_sample(__u64 matched, __u64 unmatched, __u64 now_ns);
/* Unmatched share over the window; -1 before two samples or without traffic. */
double coverage_ratio(void);
/* Degraded now? Then a reason in @why. */
bool coverage_degraded(char *why, size_t len);
/*
 * warmpath_unmatched_packets_ratio (gauge, last minute), warmpath_prefix_
 * coverage_degraded (gauge); nothing before the first sample.
 */
void coverage_emit_metrics(struct prom_buf *b);
void coverage_reset(void);

#endif /* __WARMPATH_COVERAGE_H */
