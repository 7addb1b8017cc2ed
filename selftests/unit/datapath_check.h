/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Running a packet through the datapath and checking everything it may touch:
 * the return value (always -1), the packet (unchanged), the exact deltas of
 * the stats, of every watched peer (packets, bytes, probe share, last_tx_ns /
 * last_rx_ns inside the run's time window) and of the unmatched LRU.
 *
 * The standard setup (setup_datapath()) is ifindex 1 as an L2 tunnel and:
 *
 *	peer 1 node-a        192.0.2.1/32  2001:db8::1/128     (underlay, exact)
 *	peer 2 node-b        10.244.0.0/16 fd00:b::/48         (pod CIDR)
 *	peer 3 node-c        10.244.7.0/24 fd00:b:0:7::/64     (inside node-b's)
 *	peer 8191 node-last  203.0.113.0/24                    (last array slot)
 *	local                192.0.2.100   2001:db8::100, pods 10.245.0.3 fd00:a::3
 *	stray (no peer)      198.51.100.7  2001:db8:dead::7
 */
#ifndef __WARMPATH_DATAPATH_CHECK_H
#define __WARMPATH_DATAPATH_CHECK_H

#include "datapath_fixture.h"
#include "packet_builder.h"

#define NODE_A4 "192.0.2.1"
#define NODE_A6 "2001:db8::1"
#define POD_B4 "10.244.1.5"
#define POD_B6 "fd00:b::5"
#define POD_C4 "10.244.7.9"
#define POD_C6 "fd00:b:0:7::9"
#define NODE_LAST4 "203.0.113.9"
#define LOCAL4 "192.0.2.100"
#define LOCAL6 "2001:db8::100"
#define LOCAL_POD4 "10.245.0.3"
#define LOCAL_POD6 "fd00:a::3"
#define STRAY4 "198.51.100.7"
#define STRAY6 "2001:db8:dead::7"

#define PEER_NONE (-1)
#define PEER_A 1
#define PEER_B 2
#define PEER_C 3
#define PEER_LAST (WP_MAX_PEERS - 1)
#define ENCAP_NONE (-1)

enum flow_encap {
	FLOW_PLAIN,
	FLOW_IPIP, /* IP-in-IP: protocol 4 (IPv4 inner) or 41 (IPv6 inner) */
	FLOW_VXLAN, /* UDP to vxlan_port, VXLAN, inner Ethernet */
};

enum flow_l4 {
	FLOW_TCP,
	FLOW_UDP,
	FLOW_ICMP, /* ICMP echo, or ICMPv6 echo after IPv6 */
};

/*
 * A packet between this node and a peer, in the standard setup. TX goes from
 * LOCAL* to the remote, RX the other way; the inner header (IPIP, VXLAN) goes
 * between LOCAL_POD* and POD_B*, so that a peer found from the inner header
 * instead of the outer one shows as the wrong peer.
 */
struct flow_spec {
	int encap; /* FLOW_PLAIN, FLOW_IPIP, FLOW_VXLAN */
	int outer; /* IP version of the outer (or only) header: 4 or 6 */
	int inner; /* IP version inside IPIP / VXLAN */
	int l4; /* FLOW_TCP, FLOW_UDP, FLOW_ICMP */
	__u16 vxlan_port; /* 0: 4789 */
	bool inner_vlan; /* VLAN tag on the inner Ethernet of VXLAN */
	int outer_vlans; /* VLAN tags on the outer Ethernet: 802.1Q, or 802.1ad + 802.1Q */
	size_t outer_opts; /* IPv4 option bytes, outer header */
	size_t inner_opts; /* IPv4 option bytes, inner header */
	int outer_v6_ext; /* destination-options headers after an outer IPv6 header */
	const char *remote; /* address of the remote end of the outer header; NULL: node-a */
	__u16 local_port; /* transport ports of the innermost header; 0: 40000 */
	__u16 remote_port; /* 0: 443 for TCP, 53 for UDP */
	size_t payload; /* bytes after the transport header */
	bool tcp_ts; /* TCP timestamp option, as on an established Linux flow */
};

/* Build the packet of s in direction dir. Returns 0, or -1 if it did not fit. */
int build_flow(struct pkt *p, const struct flow_spec *s, int dir);

/* What one run must do, exactly. */
struct dp_expect {
	int dir; /* WP_DIR_TX: wp_tc_egress, WP_DIR_RX: wp_tc_ingress */
	__u32 ifindex; /* 0: DP_TEST_IFINDEX */
	int err; /* bpf_prog_test_run_opts() result: 0 or -EINVAL */
	int peer; /* peer id credited, or PEER_NONE */
	bool probe; /* ... as probe traffic */
	const char *unmatched; /* address credited in the unmatched LRU, or NULL */
	__u64 stats[WP_STAT_MAX]; /* deltas of the stats summed over CPUs */
};

/* Attributed to a peer; encap is ENCAP_NONE, WP_STAT_ENCAP_IPIP or WP_STAT_ENCAP_VXLAN. */
struct dp_expect expect_matched(int dir, int peer, int encap, bool probe);
/* IP, but the peer address is in no prefix: lands in the unmatched LRU. */
struct dp_expect expect_unmatched(int dir, const char *addr, int encap);
/* Seen on a tunnel, then only counted as stat (WP_STAT_NON_IP, WP_STAT_MALFORMED). */
struct dp_expect expect_counted(int dir, int stat, int encap);
/*
 * One row of a table of subtests: the packet of *@spec built as sent in
 * @build_dir, run @runs times (0: once) through the program of @dir; each run
 * credited to @peer, or with @unmatched set to that address in the unmatched
 * LRU, and checked as labels[i].
 */
struct flow_case {
	const char *name;
	const struct flow_spec *spec;
	int build_dir, dir;
	int peer;
	const char *unmatched;
	int encap;
	int runs;
	const char *labels[2];
};
void run_flow_cases(struct dp_fixture *f, const struct flow_case *c, size_t n);

/* Nothing at all changes. */
struct dp_expect expect_nothing(int dir);

/* Open the skeleton (opts may be NULL) and apply the standard setup above. */
bool setup_datapath(struct dp_fixture *f, const struct dp_options *opts);

/* @body on the datapath of setup_datapath(f, NULL), closed after. */
void with_datapath(void (*body)(struct dp_fixture *f));

/* Run data through the program of e->dir and check it against e. */
bool check_run(struct dp_fixture *f, const void *data, size_t len, const struct dp_expect *e,
	       const char *label);
static inline bool check_pkt(struct dp_fixture *f, const struct pkt *p, const struct dp_expect *e,
			     const char *label)
{
	return check_run(f, p->data, p->len, e, label);
}

/*
 * Run data through the program of dir and check only the invariants that hold
 * for any input: retval -1, packet unchanged, one packet seen and classified
 * exactly once (matched, unmatched, non-IP or malformed), peer counters move
 * only when matched, the unmatched LRU only when unmatched. *outcome gets the
 * WP_STAT_* the packet was classified as. strict: only non-IP or malformed
 * allowed (for garbage).
 */
bool check_invariants(struct dp_fixture *f, const void *data, size_t len, int dir, bool strict,
		      int *outcome, const char *label);

/* One direction's counters of a peer: &p->tx_* for WP_DIR_TX, &p->rx_* otherwise. */
struct peer_dir {
	__u64 *packets, *bytes, *probe_packets, *probe_bytes, *last_ns;
	const char *name; /* "tx" or "rx" */
};
struct peer_dir peer_dir(struct peer_state *p, int dir);
__u64 peer_last_ns(const struct peer_state *p, int dir);

/* Every field of struct peer_state in peer_schema.h equal to @want's, as "<prefix>.<field>". */
bool check_peer_fields(const struct peer_state *a, const struct peer_state *want,
		       const char *prefix);

/* Run name with a printf-style suffix, for assert names in loops. */
const char *fmt_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* __WARMPATH_DATAPATH_CHECK_H */
