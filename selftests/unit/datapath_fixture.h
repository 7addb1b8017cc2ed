/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The datapath skeleton as the unit tests and the benchmark use it: loaded with
 * every map unpinned (nothing under /sys/fs/bpf), plus helpers to configure
 * interfaces, prefixes and peers, to read the maps back, and to run a packet
 * through a program with BPF_PROG_TEST_RUN.
 */
#ifndef __WARMPATH_DATAPATH_FIXTURE_H
#define __WARMPATH_DATAPATH_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "warmpath.h"

struct datapath_bpf;
struct bpf_object;

/* Interface test_run puts the skb on: ctx_in.ifindex 1 (lo), always Ethernet. */
#define DP_TEST_IFINDEX 1

#define DP_MAX_FOLD 64

struct dp_fixture {
	struct datapath_bpf *skel;
	int ncpus;
	int ifaces_fd;
	int if_flags_fd;
	int prefixes_fd;
	int peers_fd;
	int unmatched_fd;
	int stats_fd;
	int egress_fd;
	int ingress_fd;
	/* the agent's fold of the per-CPU counters, over the peers dp_set_peer() made */
	int counters_fd;
	struct peer_state *peers_mem;
	__u64 cold_ns;
	int nfold;
	__u32 fold_ids[DP_MAX_FOLD];
	struct peer_counters fold_buf[DP_MAX_FOLD];
};

struct dp_options {
	__u16 probe_port;
	__u16 vxlan_port_a;
	__u16 vxlan_port_b;
	__u64 cold_threshold_ns; /* 0: the program's default */
	/* keep the program's warm-SYN sampling (default: every SYN tracked) */
	bool syn_sampling;
	__u32 syn_sample_mask; /* with syn_sampling: 0 keeps the program's default */
};

/*
 * Set: every fixture opened from now on parses every packet with
 * bpf_skb_load_bytes (rodata force_load_bytes), the path of headers outside
 * the linear data, which test_run (always linear) cannot reach otherwise.
 */
extern bool dp_force_load_bytes;

/* Open, unpin, set rodata, load. Returns 0 or a negative errno. */
int dp_fixture_open(struct dp_fixture *f, const struct dp_options *opts);
void dp_fixture_close(struct dp_fixture *f);

/* Unpin every map of obj before load: tests must never touch bpffs. */
int dp_unpin_maps(struct bpf_object *obj);

int dp_set_iface(struct dp_fixture *f, __u32 ifindex, __u32 flags);
int dp_del_iface(struct dp_fixture *f, __u32 ifindex);
/* Bump the datapath's prefix generation (dp_add_prefix does it; call after deleting). */
void dp_prefixes_changed(struct dp_fixture *f);
/* "a.b.c.d/len", "x::y/len" or a bare address (host prefix). */
int dp_add_prefix(struct dp_fixture *f, const char *cidr, __u32 peer_id);
/* Create a peer slot: the name and zeroed counters, as the agent does. */
int dp_set_peer(struct dp_fixture *f, __u32 peer_id, const char *name);
int dp_read_peer(struct dp_fixture *f, __u32 peer_id, struct peer_state *ps);
/*
 * What the agent's tick does: fold the per-CPU counters of the fixture's peers
 * into `peers` (totals, last_tx_ns / last_rx_ns now when they moved) and arm
 * the ones idle for the cold threshold. Returns how many it armed or -errno.
 */
int dp_fold(struct dp_fixture *f);
/* The same without arming: the stamps of a run, nothing else moves. */
int dp_fold_stamp(struct dp_fixture *f);
/* The per-CPU stats summed over CPUs. */
int dp_read_stats(struct dp_fixture *f, __u64 stats[WP_STAT_MAX]);
/* The unmatched entry of an address; -ENOENT when absent. */
int dp_read_unmatched(struct dp_fixture *f, const char *addr, struct unmatched_state *u);

struct dp_run_result {
	int err; /* bpf_prog_test_run_opts() return */
	int retval; /* the program's return value */
	__u32 duration; /* ns per run (averaged over repeat) */
	__u32 data_size_out;
	__u8 data_out[1024];
};

/*
 * The shortest packet BPF_PROG_TEST_RUN takes for a tc program: ETH_HLEN, and
 * for an IPv4 / IPv6 ethertype the IP header as well (the kernel refuses
 * shorter ones with -EINVAL before the program runs). A VLAN-tagged frame
 * needs only ETH_HLEN, which is how truncated outer IP headers get tested.
 */
size_t dp_test_run_min_len(const void *pkt, size_t len);

/* Run one packet through prog_fd on ifindex, repeat times (0: once). */
void dp_run(int prog_fd, const void *pkt, size_t len, __u32 ifindex, int repeat,
	    struct dp_run_result *r);

/* CLOCK_MONOTONIC in ns: the clock bpf_ktime_get_ns() reads. */
__u64 dp_now_ns(void);

#endif /* __WARMPATH_DATAPATH_FIXTURE_H */
