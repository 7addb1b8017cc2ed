/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the datapath benchmarks (test_progs --bench) share. */
#ifndef __WARMPATH_BENCH_H
#define __WARMPATH_BENCH_H

#include <sched.h>
#include <linux/types.h>
#include "datapath_check.h"
#include "packet_builder.h"

#define BENCH_REPEAT 1000000
#define BENCH_WARMUP_REPEAT 10000
#define BENCH_ROUNDS 5
#define BENCH_SYN_GOAL_NS 80 /* a SYN on a warm path */
#define BENCH_COLD_GOAL_NS 150 /* the packet that starts a cold period */
#define BENCH_SYN_SAMPLE 16 /* 1 warm SYN in 16 tracked: syn_sample_mask 15, the default */

/* The "tcp4 established" class, the first row of the repeat table. */
#define BENCH_ESTABLISHED_SPEC                                             \
	{                                                                  \
		.outer = 4, .l4 = FLOW_TCP, .tcp_ts = true, .payload = 100 \
	}

/* One BPF_PROG_TEST_RUN of p, repeat times; 0 and the ns per run, or -1. */
int bench_measure(int prog_fd, const struct pkt *p, int repeat, __u32 *ns);
/* The median of BENCH_ROUNDS rounds (v is left as it is). */
double bench_median(const double *v);
/*
 * The SYN and cold-start table (bench_syn.c). repeat_est_ns: what tcp4
 * established costs over the empty program in the repeat table, so the
 * single-run method's own share can be taken off.
 */
int bench_syn(struct dp_fixture *f, int empty_fd, long repeat_est_ns);

/*
 * The established-flow packet on every CPU of online at once, against one
 * shared peer and a peer per CPU (bench_mcpu.c), beside the one-CPU figure.
 */
int bench_mcpu(struct dp_fixture *f, int empty_fd, const cpu_set_t *online);

#endif /* __WARMPATH_BENCH_H */
