// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `test_progs --bench`, third table: the established-flow packet on every CPU
 * at once. A busy pair is often carried by several CPUs (RSS, several flows),
 * and a datapath that writes one shared cache line per packet (a per-peer
 * counter, a timestamp) makes that line bounce between them: one CPU alone
 * never shows it.
 *
 * One thread per online CPU, each pinned there with sched_setaffinity();
 * BPF_PROG_TEST_RUN runs the program on the calling CPU, so each thread drives
 * its own CPU. A barrier starts them together; each reports the kernel's mean
 * ns per run. Three cases, datapath and empty program alternating, median of
 * BENCH_ROUNDS rounds:
 *   1 CPU        one thread, tcp4 established to node-a (peer 1)
 *   all, same    every CPU the same packet: one peer's entry shared by all
 *   all, distinct every CPU a packet to a peer of its own (peer 10 + cpu)
 * The ratio all/1 of the datapath's ns per packet is the figure to watch
 * (goal <= BENCH_MCPU_GOAL); the empty program's ratio shows what test_run
 * itself loses to running on every CPU at once.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "bench.h"
#include "datapath_check.h"
#include "datapath_fixture.h"

#define MCPU_MAX 64
#define MCPU_PEER_BASE 10
#define BENCH_MCPU_GOAL 1.15

struct mcpu_thread {
	pthread_t tid;
	int cpu;
	int prog_fd;
	const struct pkt *pkt;
	pthread_barrier_t *start;
	__u32 ns;
	int err;
};

static void *mcpu_run(void *arg)
{
	struct mcpu_thread *t = arg;
	struct dp_run_result r;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	t->err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	pthread_barrier_wait(t->start);
	if (t->err)
		return NULL;
	dp_run(t->prog_fd, t->pkt->data, t->pkt->len, DP_TEST_IFINDEX, BENCH_REPEAT, &r);
	if (r.err || r.retval != -1)
		t->err = r.err ?: -EINVAL;
	t->ns = r.duration;
	return NULL;
}

/* n threads on CPUs cpus[0..n-1], thread i sending pkts[i]; the mean ns per run. */
static int mcpu_measure(int prog_fd, const int *cpus, int n, const struct pkt *const *pkts,
			double *mean_ns)
{
	struct mcpu_thread t[MCPU_MAX] = {};
	pthread_barrier_t start;
	double sum = 0;
	int i, err = 0;

	if (pthread_barrier_init(&start, NULL, n))
		return -1;
	for (i = 0; i < n; i++) {
		t[i] = (struct mcpu_thread){
			.cpu = cpus[i], .prog_fd = prog_fd, .pkt = pkts[i], .start = &start
		};
		if (pthread_create(&t[i].tid, NULL, mcpu_run, &t[i])) {
			/* cannot happen before the barrier is full: give up on the run */
			fprintf(stderr, "bench: pthread_create failed\n");
			exit(1);
		}
	}
	for (i = 0; i < n; i++) {
		pthread_join(t[i].tid, NULL);
		if (t[i].err)
			err = -1;
		sum += t[i].ns;
	}
	pthread_barrier_destroy(&start);
	*mean_ns = sum / n;
	return err;
}

enum { MC_ONE, MC_SAME, MC_DISTINCT, MC_NR };
static const char *const mc_names[MC_NR] = { "1 CPU", "all CPUs, same peer",
					     "all CPUs, a peer each" };

int bench_mcpu(struct dp_fixture *f, int empty_fd, const cpu_set_t *online)
{
	static struct pkt own[MCPU_MAX], same;
	const struct pkt *same_pkts[MCPU_MAX], *own_pkts[MCPU_MAX];
	double dp[MC_NR][BENCH_ROUNDS], base[MC_NR][BENCH_ROUNDS], d1, b1, d, b;
	struct flow_spec spec = BENCH_ESTABLISHED_SPEC;
	int cpus[MCPU_MAX], ncpu = 0, i, c, r;
	char addr[32], name[WP_PEER_NAME_LEN];
	for (c = 0; c < CPU_SETSIZE && ncpu < MCPU_MAX; c++)
		if (CPU_ISSET(c, online))
			cpus[ncpu++] = c;
	if (build_flow(&same, &spec, WP_DIR_TX))
		return -1;
	for (i = 0; i < ncpu; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", MCPU_PEER_BASE + i);
		snprintf(name, sizeof(name), "mcpu-%d", i);
		spec.remote = addr;
		if (dp_set_peer(f, MCPU_PEER_BASE + i, name) ||
		    dp_add_prefix(f, addr, MCPU_PEER_BASE + i) ||
		    build_flow(&own[i], &spec, WP_DIR_TX))
			return -1;
		same_pkts[i] = &same;
		own_pkts[i] = &own[i];
	}

	for (r = -1; r < BENCH_ROUNDS; r++) { /* round -1 warms up, not kept */
		double x, y, z, e1, e2, e3;

		if (mcpu_measure(f->egress_fd, cpus, 1, same_pkts, &x) ||
		    mcpu_measure(empty_fd, cpus, 1, same_pkts, &e1) ||
		    mcpu_measure(empty_fd, cpus, ncpu, same_pkts, &e2) ||
		    mcpu_measure(f->egress_fd, cpus, ncpu, same_pkts, &y) ||
		    mcpu_measure(f->egress_fd, cpus, ncpu, own_pkts, &z) ||
		    mcpu_measure(empty_fd, cpus, ncpu, own_pkts, &e3)) {
			fprintf(stderr, "bench: multi-CPU run failed\n");
			return -1;
		}
		if (r < 0)
			continue;
		dp[MC_ONE][r] = x, dp[MC_SAME][r] = y, dp[MC_DISTINCT][r] = z;
		base[MC_ONE][r] = e1, base[MC_SAME][r] = e2, base[MC_DISTINCT][r] = e3;
	}

	printf("\nMulti-CPU: tcp4 established on %d CPU(s) at once, one thread pinned per CPU, "
	       "%d runs each, median of %d rounds\n\n",
	       ncpu, BENCH_REPEAT, BENCH_ROUNDS);
	printf("%-24s %12s %9s %9s %12s %10s\n", "case", "datapath ns", "empty ns", "delta ns",
	       "ratio to 1", "empty ratio");
	d1 = bench_median(dp[MC_ONE]);
	b1 = bench_median(base[MC_ONE]);
	for (i = 0; i < MC_NR; i++) {
		d = i == MC_ONE ? d1 : bench_median(dp[i]);
		b = i == MC_ONE ? b1 : bench_median(base[i]);
		printf("%-24s %12.0f %9.0f %+9.0f %11.2fx %9.2fx\n", mc_names[i], d, b, d - b,
		       d / d1, b / b1);
	}
	printf("\nall CPUs on one peer: %.2fx the one-CPU cost per packet (goal <= %.2fx) %s%s\n",
	       bench_median(dp[MC_SAME]) / d1, BENCH_MCPU_GOAL,
	       bench_median(dp[MC_SAME]) / d1 <= BENCH_MCPU_GOAL ? "MET" : "MISSED",
	       ncpu < 2 ? " -- only one CPU here: nothing shared" : "");
	return 0;
}
