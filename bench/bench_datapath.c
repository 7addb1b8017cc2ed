// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `test_progs --bench`: the cost of wp_tc_egress per packet class, measured
 * with BPF_PROG_TEST_RUN (repeat BENCH_REPEAT, the kernel reports the mean ns
 * per run) next to an empty tc program (bpf/bench_empty.bpf.c) that carries
 * the same test_run overhead. The two alternate class by class, BENCH_ROUNDS
 * rounds, and each cell is the median of its rounds. Benchmarks print; they
 * do not assert timing.
 *
 * Then the SYN and cold-start paths (goal: <= BENCH_SYN_GOAL_NS over the
 * empty program), which test_run's repeat cannot always reach (see
 * "SYN and cold paths" below), and the drop tracer's cost per kernel drop
 * (bench_drops.c).
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <arpa/inet.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bench.h"
#include "bench_empty.skel.h"
#include "datapath.skel.h"
#include "datapath_check.h"
#include "test_progs.h"

#define BENCH_GOAL_NS 25

struct bench_class {
	const char *name;
	struct flow_spec spec; /* unused when arp */
	bool arp;
	struct pkt pkt;
	__u32 datapath_ns[BENCH_ROUNDS];
	__u32 empty_ns[BENCH_ROUNDS];
};

static struct bench_class classes[] = {
	{ .name = "tcp4 established", .spec = BENCH_ESTABLISHED_SPEC },
	{ .name = "ipip 4in4 tcp",
	  .spec = { .encap = FLOW_IPIP,
		    .outer = 4,
		    .inner = 4,
		    .l4 = FLOW_TCP,
		    .tcp_ts = true,
		    .payload = 100 } },
	{ .name = "vxlan o4 i4 tcp",
	  .spec = { .encap = FLOW_VXLAN,
		    .outer = 4,
		    .inner = 4,
		    .l4 = FLOW_TCP,
		    .tcp_ts = true,
		    .payload = 100 } },
	{ .name = "tcp6 established",
	  .spec = { .outer = 6, .l4 = FLOW_TCP, .tcp_ts = true, .payload = 100 } },
	{ .name = "unmatched tcp4",
	  .spec = { .outer = 4,
		    .l4 = FLOW_TCP,
		    .tcp_ts = true,
		    .payload = 100,
		    .remote = STRAY4 } },
	{ .name = "probe udp4",
	  .spec = { .outer = 4,
		    .l4 = FLOW_UDP,
		    .remote_port = WP_DEFAULT_PROBE_PORT,
		    .payload = 16 } },
	{ .name = "arp (non-IP)", .arp = true },
};

#define NR_CLASSES (sizeof(classes) / sizeof(classes[0]))

/* bench_median() of rounds measured in whole ns (exact in a double). */
static __u32 median(const __u32 *v)
{
	double d[BENCH_ROUNDS];

	for (int r = 0; r < BENCH_ROUNDS; r++)
		d[r] = v[r];
	return (__u32)bench_median(d);
}

static int build_class(struct bench_class *c)
{
	if (!c->arp)
		return build_flow(&c->pkt, &c->spec, WP_DIR_TX);
	pkt_init(&c->pkt);
	pkt_eth(&c->pkt);
	pkt_arp(&c->pkt);
	return pkt_finish(&c->pkt);
}

/* One measurement; returns 0 and the ns per run, or -1 when the run failed. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_median(const double *v)
{
	double sorted[BENCH_ROUNDS];

	memcpy(sorted, v, sizeof(sorted));
	qsort(sorted, BENCH_ROUNDS, sizeof(sorted[0]), cmp_double);
	return sorted[BENCH_ROUNDS / 2];
}

int bench_measure(int prog_fd, const struct pkt *p, int repeat, __u32 *ns)
{
	struct dp_run_result r;

	dp_run(prog_fd, p->data, p->len, DP_TEST_IFINDEX, repeat, &r);
	if (r.err || r.retval != -1) {
		fprintf(stderr, "bench: test_run failed: err %d retval %d\n", r.err, r.retval);
		return -1;
	}
	*ns = r.duration;
	return 0;
}

/* Stay on one CPU: test_run runs where we are, and migrations add noise. */
static int pin_to_current_cpu(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	if (cpu < 0)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -1 : cpu;
}

/*
 * Headers outside the linear data: the same packets through a second copy of
 * the datapath loaded with force_load_bytes, so every header is read with
 * bpf_skb_load_bytes() as for a GSO packet whose headers sit in frags.
 * test_run builds linear skbs only (of at most a page): a non-linear GSO skb
 * cannot be made here, so what bpf_skb_pull_data() cost on one is not
 * measured; the row is the price of the copies on a linear packet.
 */
static int bench_load_bytes(struct dp_fixture *fast, int empty_fd)
{
	static const struct flow_spec specs[] = {
		BENCH_ESTABLISHED_SPEC,
		{ .encap = FLOW_VXLAN, .outer = 4, .inner = 4, .l4 = FLOW_TCP, .payload = 100 },
		{ .outer = 4, .l4 = FLOW_TCP, .tcp_ts = true, .payload = 300 },
	};
	static const char *const names[] = { "tcp4 established", "vxlan o4 i4 tcp",
					     "tcp4 300 B payload" };
	struct dp_options o = { .syn_sampling = true };
	__u32 a[BENCH_ROUNDS], b[BENCH_ROUNDS], e[BENCH_ROUNDS];
	struct dp_fixture slow;
	struct pkt p;
	int err = -1;

	dp_force_load_bytes = true;
	err = setup_datapath(&slow, &o) ? 0 : -1;
	dp_force_load_bytes = false;
	if (err)
		return -1;
	err = -1;
	printf("\nheaders not linear: in place vs copied with bpf_skb_load_bytes (nothing pulled)\n");
	printf("%-20s %6s %9s %11s %9s %9s\n", "class", "bytes", "in place", "load_bytes", "empty",
	       "delta ns");
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		if (build_flow(&p, &specs[i], WP_DIR_TX)) {
			fprintf(stderr, "bench: cannot build packet '%s'\n", names[i]);
			goto out;
		}
		for (int r = 0; r < BENCH_ROUNDS; r++)
			if (bench_measure(fast->egress_fd, &p, BENCH_REPEAT, &a[r]) ||
			    bench_measure(slow.egress_fd, &p, BENCH_REPEAT, &b[r]) ||
			    bench_measure(empty_fd, &p, BENCH_REPEAT, &e[r]))
				goto out;
		printf("%-20s %6zu %9u %11u %9u %+9d\n", names[i], p.len, median(a), median(b),
		       median(e), (int)median(b) - (int)median(a));
	}
	printf("(a non-linear GSO skb cannot be built with BPF_PROG_TEST_RUN: the pull it used to "
	       "take is not measured)\n");
	err = 0;
out:
	dp_fixture_close(&slow);
	return err;
}

int bench_main(void)
{
	struct bench_empty_bpf *empty = NULL;
	int dp_fd, empty_fd, cpu, err = -1;
	struct dp_fixture f = {};
	struct utsname uts;
	cpu_set_t online;
	size_t i, r;
	__u32 dp, base;

	/* the program's default warm-SYN sampling, as the agent loads it */
	struct dp_options bench_opts = { .syn_sampling = true };

	if (!setup_datapath(&f, &bench_opts)) {
		fprintf(stderr, "bench: failed to load the datapath (root needed)\n");
		return -1;
	}
	empty = bench_empty_bpf__open_and_load();
	if (!empty) {
		fprintf(stderr, "bench: failed to load bench_empty: %s\n", strerror(errno));
		goto cleanup;
	}
	dp_fd = f.egress_fd;
	empty_fd = bpf_program__fd(empty->progs.bench_empty);

	for (i = 0; i < NR_CLASSES; i++) {
		if (build_class(&classes[i])) {
			fprintf(stderr, "bench: cannot build packet '%s'\n", classes[i].name);
			goto cleanup;
		}
	}

	if (sched_getaffinity(0, sizeof(online), &online)) {
		fprintf(stderr, "bench: sched_getaffinity: %s\n", strerror(errno));
		goto cleanup;
	}
	cpu = pin_to_current_cpu();
	uname(&uts);
	printf("warmpath datapath benchmark: wp_tc_egress vs empty tc program, BPF_PROG_TEST_RUN\n");
	printf("kernel %s, cpu %d, %d runs per measurement, median of %d interleaved rounds\n\n",
	       uts.release, cpu, BENCH_REPEAT, BENCH_ROUNDS);

	/* Warm caches, the unmatched LRU entry and the CPU clock. */
	for (i = 0; i < NR_CLASSES; i++)
		if (bench_measure(dp_fd, &classes[i].pkt, BENCH_WARMUP_REPEAT, &dp) ||
		    bench_measure(empty_fd, &classes[i].pkt, BENCH_WARMUP_REPEAT, &base))
			goto cleanup;

	/* Side by side: per class the two programs back to back, order alternating. */
	for (r = 0; r < BENCH_ROUNDS; r++) {
		for (i = 0; i < NR_CLASSES; i++) {
			struct bench_class *c = &classes[i];
			bool dp_first = (r + i) % 2 == 0;

			if (bench_measure(dp_first ? dp_fd : empty_fd, &c->pkt, BENCH_REPEAT,
					  dp_first ? &c->datapath_ns[r] : &c->empty_ns[r]) ||
			    bench_measure(dp_first ? empty_fd : dp_fd, &c->pkt, BENCH_REPEAT,
					  dp_first ? &c->empty_ns[r] : &c->datapath_ns[r]))
				goto cleanup;
		}
	}

	printf("%-20s %6s %12s %9s %9s\n", "class", "bytes", "datapath ns", "empty ns", "delta ns");
	for (i = 0; i < NR_CLASSES; i++) {
		struct bench_class *c = &classes[i];

		dp = median(c->datapath_ns);
		base = median(c->empty_ns);
		printf("%-20s %6zu %12u %9u %+9d\n", c->name, c->pkt.len, dp, base,
		       (int)dp - (int)base);
	}
	dp = median(classes[0].datapath_ns);
	base = median(classes[0].empty_ns);
	printf("\nestablished flow: %+d ns over empty (goal <= %d ns) %s\n", (int)dp - (int)base,
	       BENCH_GOAL_NS, (int)dp - (int)base <= BENCH_GOAL_NS ? "MET" : "MISSED");
	fflush(stdout);
	if (bench_load_bytes(&f, empty_fd))
		goto cleanup;

	if (bench_mcpu(&f, empty_fd, &online))
		goto cleanup;
	fflush(stdout);

	err = bench_syn(&f, empty_fd, (long)dp - (long)base);
cleanup:
	bench_empty_bpf__destroy(empty);
	dp_fixture_close(&f);
	if (err)
		return err;
	fflush(stdout);
	return bench_drops();
}
