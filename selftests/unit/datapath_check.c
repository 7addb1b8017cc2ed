// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Running packets through the datapath and checking the result: see datapath_check.h. */
#include <stdarg.h>
#include <stdlib.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <bpf/bpf.h>
#include "datapath_check.h"
#include "peer_schema.h"
#include "status.h"
#include "test_progs.h"
#include "util.h"

/* The peer ids whose state every run compares; all prefixes point at these. */
static const __u32 watched_peers[] = { 0, PEER_A, PEER_B, PEER_C, 4, PEER_LAST };
#define NR_WATCHED (sizeof(watched_peers) / sizeof(watched_peers[0]))

struct unmatched_entry {
	struct addr_key key;
	struct unmatched_state val;
};

struct snapshot {
	__u64 stats[WP_STAT_MAX];
	struct peer_state peers[NR_WATCHED];
	int nr_unmatched;
	struct unmatched_entry unmatched[WP_MAX_UNMATCHED]; /* sorted by key */
};

const char *fmt_name(const char *fmt, ...)
{
	static char bufs[16][128];
	static int next;
	char *buf = bufs[next++ % 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return buf;
}

struct peer_dir peer_dir(struct peer_state *p, int dir)
{
	if (dir == WP_DIR_TX)
		return (struct peer_dir){ &p->tx_packets,     &p->tx_bytes,   &p->tx_probe_packets,
					  &p->tx_probe_bytes, &p->last_tx_ns, "tx" };
	return (struct peer_dir){ &p->rx_packets,     &p->rx_bytes,   &p->rx_probe_packets,
				  &p->rx_probe_bytes, &p->last_rx_ns, "rx" };
}

__u64 peer_last_ns(const struct peer_state *p, int dir)
{
	return dir == WP_DIR_TX ? p->last_tx_ns : p->last_rx_ns;
}

bool check_peer_fields(const struct peer_state *a, const struct peer_state *want,
		       const char *prefix)
{
	char pfx[96]; /* fmt_name() reuses its buffers: @prefix may be one of them */
	bool ok = true;

	snprintf(pfx, sizeof(pfx), "%s", prefix);
#define CHECK_FIELD(field, ...) \
	(ok &= ASSERT_EQ(a->field, want->field, fmt_name("%s." #field, pfx)));
	WP_PEER_STATE_FIELDS(CHECK_FIELD)
#undef CHECK_FIELD
	return ok;
}

struct dp_expect expect_matched(int dir, int peer, int encap, bool probe)
{
	struct dp_expect e = { .dir = dir, .peer = peer, .probe = probe };

	e.stats[WP_STAT_PACKETS] = 1;
	e.stats[WP_STAT_MATCHED] = 1;
	if (encap != ENCAP_NONE)
		e.stats[encap] = 1;
	if (probe)
		e.stats[WP_STAT_PROBE] = 1;
	return e;
}

struct dp_expect expect_unmatched(int dir, const char *addr, int encap)
{
	struct dp_expect e = { .dir = dir, .peer = PEER_NONE, .unmatched = addr };

	e.stats[WP_STAT_PACKETS] = 1;
	e.stats[WP_STAT_UNMATCHED] = 1;
	if (encap != ENCAP_NONE)
		e.stats[encap] = 1;
	return e;
}

struct dp_expect expect_counted(int dir, int stat, int encap)
{
	struct dp_expect e = { .dir = dir, .peer = PEER_NONE };

	e.stats[WP_STAT_PACKETS] = 1;
	e.stats[stat] = 1;
	if (encap != ENCAP_NONE)
		e.stats[encap] = 1;
	return e;
}

void with_datapath(void (*body)(struct dp_fixture *f))
{
	struct dp_fixture f;

	if (!setup_datapath(&f, NULL))
		return;
	body(&f);
	dp_fixture_close(&f);
}

void run_flow_cases(struct dp_fixture *f, const struct flow_case *c, size_t n)
{
	for (; n--; c++) {
		struct dp_expect e;
		struct pkt p;

		if (!test__start_subtest(c->name) ||
		    !ASSERT_OK(build_flow(&p, c->spec, c->build_dir), "build"))
			continue;
		for (int i = 0; i < (c->runs ?: 1); i++) {
			e = c->unmatched ? expect_unmatched(c->dir, c->unmatched, c->encap) :
					   expect_matched(c->dir, c->peer, c->encap, false);
			check_pkt(f, &p, &e, c->labels[i]);
		}
	}
}

struct dp_expect expect_nothing(int dir)
{
	struct dp_expect e = { .dir = dir, .peer = PEER_NONE };

	return e;
}

bool setup_datapath(struct dp_fixture *f, const struct dp_options *opts)
{
	static const struct {
		const char *cidr;
		__u32 peer;
	} prefixes[] = {
		{ NODE_A4, PEER_A },
		{ NODE_A6, PEER_A },
		{ "10.244.0.0/16", PEER_B },
		{ "fd00:b::/48", PEER_B },
		{ "10.244.7.0/24", PEER_C },
		{ "fd00:b:0:7::/64", PEER_C },
		{ "203.0.113.0/24", PEER_LAST },
	};
	size_t i;

	if (!ASSERT_OK(dp_fixture_open(f, opts), "datapath_open_and_load"))
		return false;
	if (!ASSERT_OK(dp_set_iface(f, DP_TEST_IFINDEX, WP_IF_L2 | WP_IF_TUNNEL), "set_iface"))
		goto fail;
	if (!ASSERT_OK(dp_set_peer(f, PEER_A, "node-a"), "set_peer_a") ||
	    !ASSERT_OK(dp_set_peer(f, PEER_B, "node-b"), "set_peer_b") ||
	    !ASSERT_OK(dp_set_peer(f, PEER_C, "node-c"), "set_peer_c") ||
	    !ASSERT_OK(dp_set_peer(f, PEER_LAST, "node-last"), "set_peer_last"))
		goto fail;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!ASSERT_OK(dp_add_prefix(f, prefixes[i].cidr, prefixes[i].peer),
			       fmt_name("add_prefix %s", prefixes[i].cidr)))
			goto fail;
	return true;
fail:
	dp_fixture_close(f);
	return false;
}

static void build_l4(struct pkt *p, const struct flow_spec *s, int dir)
{
	__u16 local = s->local_port ?: 40000;
	__u16 remote = s->remote_port ?: (s->l4 == FLOW_TCP ? 443 : 53);
	__u16 sport = dir == WP_DIR_TX ? local : remote;
	__u16 dport = dir == WP_DIR_TX ? remote : local;

	switch (s->l4) {
	case FLOW_TCP:
		if (s->tcp_ts)
			pkt_tcp_ts(p, sport, dport, TCP_FLAG_ACK);
		else
			pkt_tcp(p, sport, dport,
				TCP_FLAG_ACK | (dir == WP_DIR_TX ? TCP_FLAG_PSH : 0));
		break;
	case FLOW_UDP:
		pkt_udp(p, sport, dport);
		break;
	default:
		pkt_icmp_echo(p);
		break;
	}
}

static void build_ip(struct pkt *p, int version, const char *local, const char *remote, size_t opts,
		     int v6_ext, int dir)
{
	const char *src = dir == WP_DIR_TX ? local : remote;
	const char *dst = dir == WP_DIR_TX ? remote : local;
	int i;

	if (version == 4) {
		pkt_ipv4_opts(p, src, dst, opts, 0);
		return;
	}
	pkt_ipv6(p, src, dst);
	for (i = 0; i < v6_ext; i++)
		pkt_ipv6_ext(p, IPPROTO_DSTOPTS, 8);
}

int build_flow(struct pkt *p, const struct flow_spec *s, int dir)
{
	const char *remote = s->remote ?: (s->outer == 4 ? NODE_A4 : NODE_A6);
	int i;

	pkt_init(p);
	pkt_eth(p);
	for (i = 0; i < s->outer_vlans; i++)
		pkt_vlan(p, i + 1 < s->outer_vlans ? ETH_P_8021AD : ETH_P_8021Q, 100 + i);
	build_ip(p, s->outer, s->outer == 4 ? LOCAL4 : LOCAL6, remote, s->outer_opts,
		 s->outer_v6_ext, dir);

	if (s->encap == FLOW_VXLAN) {
		/* Both directions go to the VXLAN port; the source port is a flow hash. */
		pkt_udp(p, dir == WP_DIR_TX ? 51111 : 52222, s->vxlan_port ?: WP_VXLAN_PORT_IANA);
		pkt_vxlan(p, 4096);
		pkt_eth(p);
		if (s->inner_vlan)
			pkt_vlan(p, ETH_P_8021Q, 42);
	}
	if (s->encap != FLOW_PLAIN)
		build_ip(p, s->inner, s->inner == 4 ? LOCAL_POD4 : LOCAL_POD6,
			 s->inner == 4 ? POD_B4 : POD_B6, s->inner_opts, 0, dir);
	build_l4(p, s, dir);
	if (s->payload)
		pkt_payload(p, s->payload);
	return pkt_finish(p);
}

static int cmp_unmatched(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct addr_key));
}

static int take_snapshot(struct dp_fixture *f, struct snapshot *s)
{
	struct addr_key key;
	size_t i;
	int err;

	err = dp_read_stats(f, s->stats);
	if (err)
		return err;
	for (i = 0; i < NR_WATCHED; i++) {
		err = dp_read_peer(f, watched_peers[i], &s->peers[i]);
		if (err)
			return err;
	}
	s->nr_unmatched = 0;
	WP_MAP_FOR_EACH_KEY(f->unmatched_fd, &key)
	{
		struct unmatched_entry *u = &s->unmatched[s->nr_unmatched];

		if (s->nr_unmatched >= WP_MAX_UNMATCHED)
			break;
		if (bpf_map_lookup_elem(f->unmatched_fd, &key, &u->val))
			continue; /* evicted meanwhile: cannot happen single-threaded */
		u->key = key;
		s->nr_unmatched++;
	}
	qsort(s->unmatched, s->nr_unmatched, sizeof(s->unmatched[0]), cmp_unmatched);
	return 0;
}

static const struct unmatched_entry *find_unmatched(const struct snapshot *s,
						    const struct addr_key *key)
{
	return bsearch(key, s->unmatched, s->nr_unmatched, sizeof(s->unmatched[0]), cmp_unmatched);
}

/*
 * last_tx_ns / last_rx_ns are stamped by the fold (dp_fold_stamp(), the agent's
 * tick) run between the packet and t1; the slack is kept for clock skew.
 */
#define DP_COARSE_SLACK_NS 20000000ull

/* Exact deltas of one peer that was (or was not: dir < 0) credited. */
static bool check_peer(const struct peer_state *b, const struct peer_state *a, int dir, bool probe,
		       __u64 len, __u64 t0, __u64 t1, const char *label, __u32 id)
{
	struct peer_state want = *b;
	bool ok = true;

	if (dir == WP_DIR_TX || dir == WP_DIR_RX) {
		struct peer_dir w = peer_dir(&want, dir);
		__u64 last = peer_last_ns(a, dir);

		(*w.packets)++;
		*w.bytes += len;
		*w.probe_packets += probe;
		*w.probe_bytes += probe ? len : 0;
		*w.last_ns = last;
		ok &= ASSERT_GE(last, t0 - DP_COARSE_SLACK_NS,
				fmt_name("%s.peer%u.last_%s_ns>=start", label, id, w.name));
		ok &= ASSERT_LE(last, t1, fmt_name("%s.peer%u.last_%s_ns<=end", label, id, w.name));
		ok &= ASSERT_GE(last, peer_last_ns(b, dir),
				fmt_name("%s.peer%u.last_%s_ns_monotonic", label, id, w.name));
		ok &= ASSERT_GT(last, 0, fmt_name("%s.peer%u.last_%s_ns_set", label, id, w.name));
	}
	ok &= check_peer_fields(a, &want, fmt_name("%s.peer%u", label, id));
	/* And whatever fields come later: the whole value. */
	ok &= ASSERT_MEMEQ(a, &want, sizeof(want), fmt_name("%s.peer%u.state", label, id));
	return ok;
}

/* Every unmatched entry unchanged, except the one of addr (if any) with exact deltas. */
static bool check_unmatched(const struct snapshot *b, const struct snapshot *a, const char *addr,
			    int dir, __u64 len, __u32 ifindex, __u64 t0, __u64 t1,
			    const char *label)
{
	const struct unmatched_entry *ub = NULL, *ua;
	struct unmatched_state want = {};
	struct addr_key key = {};
	bool ok = true;
	int i;

	if (addr) {
		if (!ASSERT_OK(addr_to_key(addr, key.addr), "addr_to_key"))
			return false;
		ub = find_unmatched(b, &key);
		ua = find_unmatched(a, &key);
		if (!ASSERT_TRUE(ua != NULL, fmt_name("%s.unmatched[%s]_exists", label, addr)))
			return false;
		if (ub)
			want = ub->val;
		else
			want.ifindex = ifindex;
		if (dir == WP_DIR_TX) {
			want.tx_packets++;
			want.tx_bytes += len;
		} else {
			want.rx_packets++;
			want.rx_bytes += len;
		}
		want.last_seen_ns = ua->val.last_seen_ns;
		ok &= ASSERT_GE(ua->val.last_seen_ns, t0 - DP_COARSE_SLACK_NS,
				fmt_name("%s.unmatched.last_seen_ns", label));
		ok &= ASSERT_LE(ua->val.last_seen_ns, t1,
				fmt_name("%s.unmatched.last_seen_ns", label));
		ok &= ASSERT_EQ(ua->val.tx_packets, want.tx_packets,
				fmt_name("%s.unmatched.tx_packets", label));
		ok &= ASSERT_EQ(ua->val.rx_packets, want.rx_packets,
				fmt_name("%s.unmatched.rx_packets", label));
		ok &= ASSERT_EQ(ua->val.tx_bytes, want.tx_bytes,
				fmt_name("%s.unmatched.tx_bytes", label));
		ok &= ASSERT_EQ(ua->val.rx_bytes, want.rx_bytes,
				fmt_name("%s.unmatched.rx_bytes", label));
		ok &= ASSERT_EQ(ua->val.ifindex, want.ifindex,
				fmt_name("%s.unmatched.ifindex", label));
		ok &= ASSERT_MEMEQ(&ua->val, &want, sizeof(want),
				   fmt_name("%s.unmatched.state", label));
	}

	ok &= ASSERT_EQ(a->nr_unmatched, b->nr_unmatched + (addr && !ub),
			fmt_name("%s.unmatched_entries", label));
	for (i = 0; i < b->nr_unmatched; i++) {
		if (ub == &b->unmatched[i])
			continue;
		ua = find_unmatched(a, &b->unmatched[i].key);
		if (!ASSERT_TRUE(ua != NULL, fmt_name("%s.unmatched_entry_kept", label)))
			return false;
		ok &= ASSERT_MEMEQ(&ua->val, &b->unmatched[i].val, sizeof(ua->val),
				   fmt_name("%s.unmatched_entry_unchanged", label));
	}
	return ok;
}

bool check_run(struct dp_fixture *f, const void *data, size_t len, const struct dp_expect *e,
	       const char *name)
{
	static struct snapshot before, after;
	__u32 ifindex = e->ifindex ?: DP_TEST_IFINDEX;
	int prog_fd = e->dir == WP_DIR_TX ? f->egress_fd : f->ingress_fd;
	struct dp_run_result r;
	bool ok = true;
	char label[64];
	__u64 t0, t1;
	size_t i;

	snprintf(label, sizeof(label), "%s", name); /* name may be a fmt_name() buffer */
	/* the agent's tick before the run: counters folded, idle peers armed */
	if (!ASSERT_GE(dp_fold(f), 0, fmt_name("%s.fold", label)) ||
	    !ASSERT_OK(take_snapshot(f, &before), fmt_name("%s.snapshot", label)))
		return false;
	t0 = dp_now_ns();
	dp_run(prog_fd, data, len, ifindex, 1, &r);
	dp_fold_stamp(f); /* stamps last_tx_ns / last_rx_ns inside the window */
	t1 = dp_now_ns();
	if (!ASSERT_OK(take_snapshot(f, &after), fmt_name("%s.snapshot", label)))
		return false;

	if (e->err) {
		ok &= ASSERT_EQ(r.err, e->err, fmt_name("%s.test_run_err", label));
	} else {
		ok &= ASSERT_OK(r.err, fmt_name("%s.test_run", label));
		ok &= ASSERT_EQ(r.retval, -1, fmt_name("%s.retval", label));
		ok &= ASSERT_EQ(r.data_size_out, len, fmt_name("%s.data_size_out", label));
		ok &= ASSERT_MEMEQ(r.data_out, data, len, fmt_name("%s.data_out", label));
	}

	for (i = 0; i < WP_STAT_MAX; i++)
		ok &= ASSERT_EQ(after.stats[i] - before.stats[i], e->stats[i],
				fmt_name("%s.stats.%s", label, wp_stat_names[i]));
	for (i = 0; i < NR_WATCHED; i++) {
		bool credited = e->peer != PEER_NONE && (__u32)e->peer == watched_peers[i];

		ok &= check_peer(&before.peers[i], &after.peers[i], credited ? e->dir : -1,
				 e->probe, len, t0, t1, label, watched_peers[i]);
	}
	ok &= check_unmatched(&before, &after, e->unmatched, e->dir, len, ifindex, t0, t1, label);
	return ok;
}

bool check_invariants(struct dp_fixture *f, const void *data, size_t len, int dir, bool strict,
		      int *outcome, const char *name)
{
	static const int outcomes[] = { WP_STAT_MATCHED, WP_STAT_UNMATCHED, WP_STAT_NON_IP,
					WP_STAT_MALFORMED };
	static struct snapshot before, after;
	int prog_fd = dir == WP_DIR_TX ? f->egress_fd : f->ingress_fd;
	__u64 d[WP_STAT_MAX], peer_packets = 0, peer_bytes = 0, um_packets = 0;
	struct dp_run_result r;
	bool ok = true;
	int i, nr_outcomes = 0;
	char label[64];

	snprintf(label, sizeof(label), "%s", name);
	*outcome = -1;
	/* the agent's tick before the run: counters folded, idle peers armed */
	if (!ASSERT_GE(dp_fold(f), 0, fmt_name("%s.fold", label)) ||
	    !ASSERT_OK(take_snapshot(f, &before), fmt_name("%s.snapshot", label)))
		return false;
	dp_run(prog_fd, data, len, DP_TEST_IFINDEX, 1, &r);
	dp_fold_stamp(f);
	if (!ASSERT_OK(take_snapshot(f, &after), fmt_name("%s.snapshot", label)))
		return false;

	/* Too short for test_run: refused before the program, nothing changes. */
	if (len < dp_test_run_min_len(data, len)) {
		ok &= ASSERT_EQ(r.err, -EINVAL, fmt_name("%s.test_run_refused", label));
		ok &= ASSERT_MEMEQ(after.stats, before.stats, sizeof(before.stats),
				   fmt_name("%s.stats_unchanged", label));
		ok &= ASSERT_MEMEQ(after.peers, before.peers, sizeof(before.peers),
				   fmt_name("%s.peers_unchanged", label));
		ok &= check_unmatched(&before, &after, NULL, dir, len, 0, 0, 0, label);
		return ok;
	}

	ok &= ASSERT_OK(r.err, fmt_name("%s.test_run", label));
	ok &= ASSERT_EQ(r.retval, -1, fmt_name("%s.retval", label));
	ok &= ASSERT_EQ(r.data_size_out, len, fmt_name("%s.data_size_out", label));
	ok &= ASSERT_MEMEQ(r.data_out, data, len, fmt_name("%s.data_out", label));

	for (i = 0; i < WP_STAT_MAX; i++)
		d[i] = after.stats[i] - before.stats[i];
	ok &= ASSERT_EQ(d[WP_STAT_PACKETS], 1, fmt_name("%s.stats.packets", label));
	ok &= ASSERT_EQ(d[WP_STAT_NO_IFACE], 0, fmt_name("%s.stats.no_iface", label));
	for (i = 0; i < (int)(sizeof(outcomes) / sizeof(outcomes[0])); i++) {
		if (d[outcomes[i]])
			*outcome = outcomes[i];
		nr_outcomes += d[outcomes[i]];
	}
	ok &= ASSERT_EQ(nr_outcomes, 1, fmt_name("%s.classified_once", label));
	if (strict)
		ok &= ASSERT_TRUE(*outcome == WP_STAT_NON_IP || *outcome == WP_STAT_MALFORMED,
				  fmt_name("%s.garbage_is_non_ip_or_malformed", label));

	/* Peer counters move only for a matched packet, and by exactly one packet. */
	for (i = 0; i < (int)NR_WATCHED; i++) {
		const struct peer_state *b = &before.peers[i], *a = &after.peers[i];

		peer_packets += (a->tx_packets - b->tx_packets) + (a->rx_packets - b->rx_packets);
		peer_bytes += (a->tx_bytes - b->tx_bytes) + (a->rx_bytes - b->rx_bytes);
		if (!d[WP_STAT_MATCHED])
			ok &= ASSERT_MEMEQ(
				a, b, sizeof(*a),
				fmt_name("%s.peer%u_unchanged", label, watched_peers[i]));
	}
	ok &= ASSERT_EQ(peer_packets, d[WP_STAT_MATCHED], fmt_name("%s.peer_packets", label));
	ok &= ASSERT_EQ(peer_bytes, d[WP_STAT_MATCHED] * len, fmt_name("%s.peer_bytes", label));

	/* The unmatched LRU moves only for an unmatched packet. */
	if (!d[WP_STAT_UNMATCHED]) {
		ok &= check_unmatched(&before, &after, NULL, dir, len, 0, 0, 0, label);
	} else {
		for (i = 0; i < after.nr_unmatched; i++)
			um_packets += after.unmatched[i].val.tx_packets +
				      after.unmatched[i].val.rx_packets;
		for (i = 0; i < before.nr_unmatched; i++)
			um_packets -= before.unmatched[i].val.tx_packets +
				      before.unmatched[i].val.rx_packets;
		ok &= ASSERT_EQ(um_packets, 1, fmt_name("%s.unmatched_packets", label));
	}
	return ok;
}
