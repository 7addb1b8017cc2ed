// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the detection half of bpf/datapath.bpf.c through
 * BPF_PROG_TEST_RUN: TCP SYN tracking (the `flows` LRU, SYN retransmits,
 * first-packet drops, the passive SYN -> SYN-ACK RTT in `peer_hists`), cold
 * starts and their answer (cold_since_ns, cold_recovery), and the events of
 * the `events` ring buffer; plain IPv4 / IPv6 and inner TCP in IPIP and VXLAN,
 * where the flow is keyed by the inner addresses and credited to the peer of
 * the outer one.
 *
 * Every run is checked exactly (run_detect()): retval -1, packet unchanged,
 * the delta of every stat, the whole state of both peers (only the expected
 * counters move), both peers' histograms, the number of flows and the events
 * the run produced (zero or one, every field checked).
 *
 * The skeleton is opened here, not with dp_fixture_open(), to set the rodata
 * cold_threshold_ns to COLD_NS before load; maps are unpinned as there.
 *
 *	peer 1 node-a  192.0.2.1  2001:db8::1     outer (underlay) addresses
 *	peer 2 node-b  10.244.0.0/16 fd00:b::/48  inner POD_B* addresses: a flow
 *	                                          credited here was attributed by
 *	                                          the inner header (wrong)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath.skel.h"
#include "datapath_check.h"
#include "status.h"
#include "test_progs.h"
#include "util.h"

/* Idle gap of a cold start in these tests, and how long a test idles to make one. */
#define COLD_NS (100 * 1000000ull)
#define IDLE_NS (150 * 1000000ull)
/* bpf_ktime_get_coarse_ns() trails CLOCK_MONOTONIC by up to a jiffy. */
#define COARSE_SLACK_NS 20000000ull
/* Upper bound of any duration a single test can produce. */
#define SANE_NS (10 * 1000000000ull)

#define MAX_EVENTS 8
#define SYN_SEQ 0x1000u
#define SYNACK_SEQ 0x7000u
#define LPORT 40000
#define RPORT 443

static const __u32 det_peers[] = { PEER_A, PEER_B };
#define NR_DET_PEERS 2

struct det {
	struct dp_fixture f;
	int flows_fd;
	int hists_fd;
	struct ring_buffer *rb;
	int nev;
	int bad_ev_len;
	struct wp_event ev[MAX_EVENTS];
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct det *d = ctx;

	if (len != sizeof(struct wp_event))
		d->bad_ev_len++;
	else if (d->nev < MAX_EVENTS)
		memcpy(&d->ev[d->nev], data, sizeof(struct wp_event));
	d->nev++;
	return 0;
}

static void det_close(struct det *d)
{
	ring_buffer__free(d->rb);
	d->rb = NULL;
	dp_fixture_close(&d->f);
}

/* As dp_fixture_open(), plus the cold threshold; then the two peers above. */
static bool det_open(struct det *d, __u64 cold_ns)
{
	struct dp_options opts = { .cold_threshold_ns = cold_ns };
	struct dp_fixture *f = &d->f;

	memset(d, 0, sizeof(*d));
	if (!ASSERT_OK(dp_fixture_open(f, &opts), "dp_fixture_open"))
		return false;
	d->flows_fd = bpf_map__fd(f->skel->maps.flows);
	d->hists_fd = bpf_map__fd(f->skel->maps.peer_hists);

	d->rb = ring_buffer__new(bpf_map__fd(f->skel->maps.events), on_event, d, NULL);
	if (!ASSERT_OK_PTR(d->rb, "ring_buffer__new"))
		goto fail;

	if (!ASSERT_OK(dp_set_iface(f, DP_TEST_IFINDEX, WP_IF_L2 | WP_IF_TUNNEL), "set_iface") ||
	    !ASSERT_OK(dp_set_peer(f, PEER_A, "node-a"), "set_peer_a") ||
	    !ASSERT_OK(dp_set_peer(f, PEER_B, "node-b"), "set_peer_b") ||
	    !ASSERT_OK(dp_add_prefix(f, NODE_A4, PEER_A), "prefix_a4") ||
	    !ASSERT_OK(dp_add_prefix(f, NODE_A6, PEER_A), "prefix_a6") ||
	    !ASSERT_OK(dp_add_prefix(f, "10.244.0.0/16", PEER_B), "prefix_b4") ||
	    !ASSERT_OK(dp_add_prefix(f, "fd00:b::/48", PEER_B), "prefix_b6"))
		goto fail;
	return true;
fail:
	det_close(d);
	return false;
}

/*
 * Back to a fresh start without reloading (a load costs the verifier most of
 * a second): both peers as the agent creates them, their histograms zero, no
 * flows, no pending event. The stats are only ever compared as deltas.
 */
static bool det_reset(struct det *d)
{
	struct flow_key key, next;
	struct peer_hists zero = {};
	int i;

	for (i = 0; i < NR_DET_PEERS; i++) {
		if (!ASSERT_OK(dp_set_peer(&d->f, det_peers[i], i ? "node-b" : "node-a"),
			       "reset_peer") ||
		    !ASSERT_OK(bpf_map_update_elem(d->hists_fd, &det_peers[i], &zero, BPF_ANY),
			       "reset_hists"))
			return false;
	}
	while (!bpf_map_get_next_key(d->flows_fd, NULL, &next)) {
		key = next;
		if (!ASSERT_OK(bpf_map_delete_elem(d->flows_fd, &key), "reset_flows"))
			return false;
	}
	ring_buffer__consume(d->rb);
	d->nev = 0;
	return true;
}

/* --- packets ---------------------------------------------------------------- */

/*
 * A TCP connection this node (LOCAL*, inner LOCAL_POD*) opens to node-a
 * (outer NODE_A*, inner POD_B*), plain or encapsulated.
 */
struct conn {
	int encap; /* FLOW_PLAIN, FLOW_IPIP, FLOW_VXLAN */
	int outer; /* 4 or 6 */
	int inner; /* 4 or 6, when encapsulated */
	__u16 lport; /* 0: LPORT */
	const char *name;
};

static __u16 conn_lport(const struct conn *c)
{
	return c->lport ?: LPORT;
}

static int conn_encap_stat(const struct conn *c)
{
	return c->encap == FLOW_IPIP  ? WP_STAT_ENCAP_IPIP :
	       c->encap == FLOW_VXLAN ? WP_STAT_ENCAP_VXLAN :
					ENCAP_NONE;
}

/* The addresses of the flow key: the innermost header's, local first. */
static const char *conn_local(const struct conn *c)
{
	if (c->encap == FLOW_PLAIN)
		return c->outer == 4 ? LOCAL4 : LOCAL6;
	return c->inner == 4 ? LOCAL_POD4 : LOCAL_POD6;
}

static const char *conn_remote(const struct conn *c)
{
	if (c->encap == FLOW_PLAIN)
		return c->outer == 4 ? NODE_A4 : NODE_A6;
	return c->inner == 4 ? POD_B4 : POD_B6;
}

static void put_be32(__u8 *p, __u32 v)
{
	__be32 be = htonl(v);

	memcpy(p, &be, sizeof(be));
}

static void add_ip(struct pkt *p, int version, const char *src, const char *dst)
{
	if (version == 4)
		pkt_ipv4(p, src, dst);
	else
		pkt_ipv6(p, src, dst);
}

/*
 * A TCP segment of c in direction dir with these flags, sequence and
 * acknowledgement numbers. Returns the offset of the TCP header in p, or -1.
 */
static int build_tcp(struct pkt *p, const struct conn *c, int dir, __u8 flags, __u32 seq, __u32 ack)
{
	const char *lo = c->outer == 4 ? LOCAL4 : LOCAL6;
	const char *ro = c->outer == 4 ? NODE_A4 : NODE_A6;
	bool tx = dir == WP_DIR_TX;
	size_t off;

	pkt_init(p);
	pkt_eth(p);
	add_ip(p, c->outer, tx ? lo : ro, tx ? ro : lo);
	if (c->encap == FLOW_VXLAN) {
		pkt_udp(p, tx ? 51111 : 52222, WP_VXLAN_PORT_IANA);
		pkt_vxlan(p, 4096);
		pkt_eth(p);
	}
	if (c->encap != FLOW_PLAIN)
		add_ip(p, c->inner, tx ? conn_local(c) : conn_remote(c),
		       tx ? conn_remote(c) : conn_local(c));
	pkt_tcp(p, tx ? conn_lport(c) : RPORT, tx ? RPORT : conn_lport(c), flags);
	if (p->overflow || !p->nhdrs)
		return -1;
	off = p->hdr_off[p->nhdrs - 1];
	put_be32(p->data + off + 4, seq);
	put_be32(p->data + off + 8, ack);
	if (pkt_finish(p))
		return -1;
	return off;
}

/* Non-TCP traffic of c (UDP, ICMP) through build_flow(): same addresses. */
static int build_other(struct pkt *p, const struct conn *c, int dir, int l4)
{
	struct flow_spec s = {
		.encap = c->encap, .outer = c->outer, .inner = c->inner, .l4 = l4, .payload = 8
	};

	return build_flow(p, &s, dir);
}

/* --- reading state ---------------------------------------------------------- */

struct det_snap {
	__u64 stats[WP_STAT_MAX];
	struct peer_state peer[NR_DET_PEERS];
	struct peer_hists hist[NR_DET_PEERS];
	int nflows;
};

static int count_flows(struct det *d)
{
	struct flow_key key;
	int n = 0;

	WP_MAP_FOR_EACH_KEY(d->flows_fd, &key)
	n++;
	return n;
}

static int take_snap(struct det *d, struct det_snap *s)
{
	int i, err;

	err = dp_read_stats(&d->f, s->stats);
	if (err)
		return err;
	for (i = 0; i < NR_DET_PEERS; i++) {
		err = dp_read_peer(&d->f, det_peers[i], &s->peer[i]);
		if (err)
			return err;
		if (bpf_map_lookup_elem(d->hists_fd, &det_peers[i], &s->hist[i]))
			return -errno;
	}
	s->nflows = count_flows(d);
	return 0;
}

static int read_flow(struct det *d, const char *local, const char *remote, __u16 lport, __u16 rport,
		     struct flow_state *fs)
{
	struct flow_key key = { .local_port = lport, .remote_port = rport };

	if (addr_to_key(local, key.local) || addr_to_key(remote, key.remote))
		return -EINVAL;
	return bpf_map_lookup_elem(d->flows_fd, &key, fs) ? -errno : 0;
}

static int read_conn_flow(struct det *d, const struct conn *c, struct flow_state *fs)
{
	return read_flow(d, conn_local(c), conn_remote(c), conn_lport(c), RPORT, fs);
}

/* --- one checked run ---------------------------------------------------------- */

enum cold_change {
	COLD_KEEP = 0, /* cold_since_ns unchanged */
	COLD_SET, /* a cold start: set to the time of this packet, its direction in bit 0 */
	COLD_CLEAR, /* the answer: cleared */
};

/* What one run must do, exactly; zero fields: nothing of that kind. */
struct det_expect {
	int dir;
	int peer; /* PEER_A / PEER_B credited, or PEER_NONE */
	int encap; /* ENCAP_NONE, WP_STAT_ENCAP_IPIP, WP_STAT_ENCAP_VXLAN */
	bool malformed;
	__u64 syn; /* WP_STAT_SYN */
	__u64 synack; /* WP_STAT_SYNACK */
	__u64 cold_starts, first_packet_drops, syn_retransmits; /* of the peer */
	__u64 syn_rtt, cold_recovery; /* histogram samples of the peer */
	enum cold_change cold;
	int flows; /* entries added to `flows` */
	__u32 event; /* the one event expected (enum wp_event_type), or 0 */
};

struct det_result {
	__u64 t0, t1; /* CLOCK_MONOTONIC around the run */
	struct det_snap before, after;
	struct wp_event ev; /* the event, when one was expected and came */
};

static struct det_expect expect_det(const struct conn *c, int dir)
{
	struct det_expect e = { .dir = dir, .peer = PEER_A, .encap = conn_encap_stat(c) };

	return e;
}

static bool check_hist(const struct wp_hist *b, const struct wp_hist *a, __u64 samples,
		       const char *label, const char *which)
{
	__u64 slots = 0;
	bool ok = true;
	int i;

	if (!samples)
		return ASSERT_MEMEQ(a, b, sizeof(*a), fmt_name("%s.%s_unchanged", label, which));
	ok &= ASSERT_EQ(a->count - b->count, samples, fmt_name("%s.%s.count", label, which));
	ok &= ASSERT_GT(a->sum_ns - b->sum_ns, 0, fmt_name("%s.%s.sum_ns", label, which));
	ok &= ASSERT_LT(a->sum_ns - b->sum_ns, SANE_NS, fmt_name("%s.%s.sum_sane", label, which));
	for (i = 0; i < WP_HIST_SLOTS; i++)
		slots += a->slots[i] - b->slots[i];
	ok &= ASSERT_EQ(slots, samples, fmt_name("%s.%s.slots", label, which));
	return ok;
}

static bool check_peer_det(const struct det_snap *bs, const struct det_snap *as, int i,
			   const struct det_expect *e, size_t len, const struct det_result *r,
			   const char *label)
{
	const struct peer_state *b = &bs->peer[i], *a = &as->peer[i];
	struct peer_state want = *b;
	__u32 id = det_peers[i];
	bool ok = true;

	if (e->peer == PEER_NONE || (__u32)e->peer != id) {
		ok &= ASSERT_MEMEQ(a, b, sizeof(*a), fmt_name("%s.peer%u_unchanged", label, id));
		ok &= ASSERT_MEMEQ(&as->hist[i], &bs->hist[i], sizeof(as->hist[i]),
				   fmt_name("%s.peer%u_hists_unchanged", label, id));
		return ok;
	}

	if (e->dir == WP_DIR_TX) {
		want.tx_packets++;
		want.tx_bytes += len;
		want.last_tx_ns = a->last_tx_ns;
		ok &= ASSERT_GE(a->last_tx_ns, r->t0 - COARSE_SLACK_NS,
				fmt_name("%s.last_tx_ns", label));
		ok &= ASSERT_LE(a->last_tx_ns, r->t1, fmt_name("%s.last_tx_ns", label));
	} else {
		want.rx_packets++;
		want.rx_bytes += len;
		want.last_rx_ns = a->last_rx_ns;
		ok &= ASSERT_GE(a->last_rx_ns, r->t0 - COARSE_SLACK_NS,
				fmt_name("%s.last_rx_ns", label));
		ok &= ASSERT_LE(a->last_rx_ns, r->t1, fmt_name("%s.last_rx_ns", label));
	}
	want.cold_starts += e->cold_starts;
	want.first_packet_drops += e->first_packet_drops;
	want.syn_retransmits += e->syn_retransmits;

	switch (e->cold) {
	case COLD_KEEP:
		break;
	case COLD_CLEAR:
		want.cold_since_ns = 0;
		break;
	case COLD_SET:
		want.cold_since_ns = a->cold_since_ns;
		ok &= ASSERT_EQ(a->cold_since_ns & 1, e->dir, fmt_name("%s.cold_since_dir", label));
		ok &= ASSERT_GE(a->cold_since_ns, r->t0 & ~1ull,
				fmt_name("%s.cold_since>=start", label));
		ok &= ASSERT_LE(a->cold_since_ns, r->t1 | 1, fmt_name("%s.cold_since<=end", label));
		break;
	}

#define CHECK_FIELD(field) (ok &= ASSERT_EQ(a->field, want.field, fmt_name("%s." #field, label)))
	CHECK_FIELD(tx_packets);
	CHECK_FIELD(rx_packets);
	CHECK_FIELD(tx_bytes);
	CHECK_FIELD(rx_bytes);
	CHECK_FIELD(tx_probe_packets);
	CHECK_FIELD(rx_probe_packets);
	CHECK_FIELD(cold_starts);
	CHECK_FIELD(first_packet_drops);
	CHECK_FIELD(syn_retransmits);
	CHECK_FIELD(cold_since_ns);
	CHECK_FIELD(kernel_drops);
#undef CHECK_FIELD
	ok &= ASSERT_MEMEQ(a, &want, sizeof(want), fmt_name("%s.peer_state", label));

	ok &= check_hist(&bs->hist[i].syn_rtt, &as->hist[i].syn_rtt, e->syn_rtt, label, "syn_rtt");
	ok &= check_hist(&bs->hist[i].cold_recovery, &as->hist[i].cold_recovery, e->cold_recovery,
			 label, "cold_recovery");
	return ok;
}

/* Fields every event has: type, peer, interface, direction, time. */
static bool check_event_common(const struct wp_event *ev, const struct det_expect *e,
			       const struct det_result *r, const char *label)
{
	bool ok = true;

	ok &= ASSERT_EQ(ev->type, e->event, fmt_name("%s.event.type", label));
	ok &= ASSERT_EQ(ev->peer_id, e->peer, fmt_name("%s.event.peer_id", label));
	ok &= ASSERT_EQ(ev->ifindex, DP_TEST_IFINDEX, fmt_name("%s.event.ifindex", label));
	ok &= ASSERT_EQ(ev->dir, e->dir, fmt_name("%s.event.dir", label));
	ok &= ASSERT_EQ(ev->pad, 0, fmt_name("%s.event.pad", label));
	ok &= ASSERT_GE(ev->ts_ns, r->t0, fmt_name("%s.event.ts>=start", label));
	ok &= ASSERT_LE(ev->ts_ns, r->t1, fmt_name("%s.event.ts<=end", label));
	return ok;
}

static bool run_detect(struct det *d, const void *data, size_t len, const struct det_expect *e,
		       struct det_result *r, const char *name)
{
	int prog_fd = e->dir == WP_DIR_TX ? d->f.egress_fd : d->f.ingress_fd;
	__u64 want_stats[WP_STAT_MAX] = {};
	struct dp_run_result run;
	char label[96];
	bool ok = true;
	int i;

	snprintf(label, sizeof(label), "%s", name);
	memset(r, 0, sizeof(*r));
	d->nev = 0;
	d->bad_ev_len = 0;
	ring_buffer__consume(d->rb); /* nothing may be pending: counted below */
	ok &= ASSERT_EQ(d->nev, 0, fmt_name("%s.no_stale_events", label));
	d->nev = 0;
	if (!ASSERT_OK(take_snap(d, &r->before), fmt_name("%s.snapshot", label)))
		return false;
	r->t0 = dp_now_ns();
	dp_run(prog_fd, data, len, DP_TEST_IFINDEX, 1, &run);
	r->t1 = dp_now_ns();
	ok &= ASSERT_GE(ring_buffer__consume(d->rb), 0, fmt_name("%s.consume", label));
	if (!ASSERT_OK(take_snap(d, &r->after), fmt_name("%s.snapshot", label)))
		return false;

	ok &= ASSERT_OK(run.err, fmt_name("%s.test_run", label));
	ok &= ASSERT_EQ(run.retval, -1, fmt_name("%s.retval", label));
	ok &= ASSERT_EQ(run.data_size_out, len, fmt_name("%s.data_size_out", label));
	ok &= ASSERT_MEMEQ(run.data_out, data, len, fmt_name("%s.data_out", label));

	want_stats[WP_STAT_PACKETS] = 1;
	if (e->malformed)
		want_stats[WP_STAT_MALFORMED] = 1;
	else if (e->peer != PEER_NONE)
		want_stats[WP_STAT_MATCHED] = 1;
	if (e->encap != ENCAP_NONE)
		want_stats[e->encap] = 1;
	want_stats[WP_STAT_SYN] = e->syn;
	want_stats[WP_STAT_SYNACK] = e->synack;
	for (i = 0; i < WP_STAT_MAX; i++)
		ok &= ASSERT_EQ(r->after.stats[i] - r->before.stats[i], want_stats[i],
				fmt_name("%s.stats.%s", label, wp_stat_names[i]));

	for (i = 0; i < NR_DET_PEERS; i++)
		ok &= check_peer_det(&r->before, &r->after, i, e, len, r, label);
	ok &= ASSERT_EQ(r->after.nflows - r->before.nflows, e->flows, fmt_name("%s.flows", label));

	ok &= ASSERT_EQ(d->bad_ev_len, 0, fmt_name("%s.event_size", label));
	ok &= ASSERT_EQ(d->nev, e->event ? 1 : 0, fmt_name("%s.events", label));
	if (e->event && d->nev == 1) {
		r->ev = d->ev[0];
		ok &= check_event_common(&r->ev, e, r, label);
	} else if (d->nev > 0) {
		test__printf("%s: unexpected event type %u\n", label, d->ev[0].type);
	}
	return ok;
}

static bool run_pkt(struct det *d, const struct pkt *p, const struct det_expect *e,
		    struct det_result *r, const char *name)
{
	return run_detect(d, p->data, p->len, e, r, name);
}

/* The addresses and ports of an event: those of the innermost header. */
static bool check_event_tuple(const struct wp_event *ev, const char *saddr, const char *daddr,
			      __u16 sport, __u16 dport, __u8 l4proto, const char *label)
{
	__u8 s[16], dd[16];
	bool ok = true;

	if (!ASSERT_OK(addr_to_key(saddr, s), "addr_to_key") ||
	    !ASSERT_OK(addr_to_key(daddr, dd), "addr_to_key"))
		return false;
	ok &= ASSERT_MEMEQ(ev->saddr, s, 16, fmt_name("%s.event.saddr", label));
	ok &= ASSERT_MEMEQ(ev->daddr, dd, 16, fmt_name("%s.event.daddr", label));
	ok &= ASSERT_EQ(ev->sport, sport, fmt_name("%s.event.sport", label));
	ok &= ASSERT_EQ(ev->dport, dport, fmt_name("%s.event.dport", label));
	ok &= ASSERT_EQ(ev->l4proto, l4proto, fmt_name("%s.event.l4proto", label));
	return ok;
}

/* A SYN event of c (retransmit or first-packet drop) at egress. */
static bool check_syn_event(const struct wp_event *ev, const struct conn *c, __u32 syn_count,
			    const struct flow_state *fs, const char *label)
{
	bool ok = check_event_tuple(ev, conn_local(c), conn_remote(c), conn_lport(c), RPORT,
				    IPPROTO_TCP, label);

	ok &= ASSERT_EQ(ev->syn_count, syn_count, fmt_name("%s.event.syn_count", label));
	/* time since the first SYN: the flow's two stamps are the same clock reads */
	ok &= ASSERT_EQ(ev->value_ns, fs->last_syn_ns - fs->first_syn_ns,
			fmt_name("%s.event.value_ns", label));
	ok &= ASSERT_GT(ev->value_ns, 0, fmt_name("%s.event.value_ns>0", label));
	return ok;
}

/* The flow of c: present with these fields. */
static bool check_flow(struct det *d, const struct conn *c, __u32 seq, __u32 syn_count, int cold,
		       int answered, struct flow_state *fs, const char *label)
{
	bool ok = true;

	if (!ASSERT_OK(read_conn_flow(d, c, fs), fmt_name("%s.flow_exists", label)))
		return false;
	ok &= ASSERT_EQ(fs->syn_seq, seq, fmt_name("%s.flow.syn_seq", label));
	ok &= ASSERT_EQ(fs->syn_count, syn_count, fmt_name("%s.flow.syn_count", label));
	ok &= ASSERT_EQ(fs->cold, cold, fmt_name("%s.flow.cold", label));
	ok &= ASSERT_EQ(fs->answered, answered, fmt_name("%s.flow.answered", label));
	ok &= ASSERT_EQ(fs->peer_id, PEER_A, fmt_name("%s.flow.peer_id", label));
	ok &= ASSERT_EQ(fs->pad, 0, fmt_name("%s.flow.pad", label));
	ok &= ASSERT_GT(fs->first_syn_ns, 0, fmt_name("%s.flow.first_syn_ns", label));
	ok &= ASSERT_GE(fs->last_syn_ns, fs->first_syn_ns, fmt_name("%s.flow.last_syn_ns", label));
	return ok;
}

/* --- scenarios ---------------------------------------------------------------- */

/* Encapsulated: the flow is not keyed by the outer addresses. */
static void check_no_outer_flow(struct det *d, const struct conn *c, const char *label)
{
	struct flow_state fs;

	if (c->encap == FLOW_PLAIN)
		return;
	ASSERT_EQ(read_flow(d, c->outer == 4 ? LOCAL4 : LOCAL6, c->outer == 4 ? NODE_A4 : NODE_A6,
			    conn_lport(c), RPORT, &fs),
		  -ENOENT, fmt_name("%s.no_flow_by_outer_addresses", label));
}

/*
 * On a warm (never idle) path: SYN -> flow; the same SYN twice more -> two SYN
 * retransmits, never first-packet drops; the SYN-ACK -> one RTT sample; a
 * second SYN-ACK and the final ACK -> nothing.
 */
static void syn_lifecycle(struct det *d, const struct conn *c)
{
	struct flow_state fs, fs0;
	struct det_expect e;
	struct det_result r;
	struct pkt p;
	__u64 rtt;

	if (!det_reset(d))
		return;

	if (!ASSERT_GE(build_tcp(&p, c, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0), 0, "build_syn"))
		return;
	e = expect_det(c, WP_DIR_TX);
	e.syn = 1;
	e.flows = 1;
	run_pkt(d, &p, &e, &r, "syn");
	if (check_flow(d, c, SYN_SEQ, 1, 0, 0, &fs0, "syn")) {
		ASSERT_EQ(fs0.first_syn_ns, fs0.last_syn_ns, "syn.flow.first==last");
		ASSERT_GE(fs0.first_syn_ns, r.t0, "syn.flow.first_syn_ns>=start");
		ASSERT_LE(fs0.first_syn_ns, r.t1, "syn.flow.first_syn_ns<=end");
	}
	check_no_outer_flow(d, c, "syn");

	e = expect_det(c, WP_DIR_TX);
	e.syn = 1;
	e.syn_retransmits = 1;
	e.event = WP_EV_SYN_RETRANSMIT;
	run_pkt(d, &p, &e, &r, "retransmit1");
	if (check_flow(d, c, SYN_SEQ, 2, 0, 0, &fs, "retransmit1")) {
		ASSERT_EQ(fs.first_syn_ns, fs0.first_syn_ns, "retransmit1.flow.first_syn_ns_kept");
		ASSERT_GE(fs.last_syn_ns, r.t0, "retransmit1.flow.last_syn_ns>=start");
		ASSERT_LE(fs.last_syn_ns, r.t1, "retransmit1.flow.last_syn_ns<=end");
		check_syn_event(&r.ev, c, 2, &fs, "retransmit1");
	}

	run_pkt(d, &p, &e, &r, "retransmit2");
	if (check_flow(d, c, SYN_SEQ, 3, 0, 0, &fs, "retransmit2"))
		check_syn_event(&r.ev, c, 3, &fs, "retransmit2");
	ASSERT_EQ(r.after.peer[0].syn_retransmits, 2, "retransmit2.syn_retransmits_total");
	ASSERT_EQ(r.after.peer[0].first_packet_drops, 0, "retransmit2.first_packet_drops_total");

	/* SYN-ACK: the tuple swapped, ack = seq + 1; RTT from the last SYN */
	if (!ASSERT_GE(build_tcp(&p, c, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
				 SYN_SEQ + 1),
		       0, "build_synack"))
		return;
	e = expect_det(c, WP_DIR_RX);
	e.synack = 1;
	e.syn_rtt = 1;
	run_pkt(d, &p, &e, &r, "synack");
	check_flow(d, c, SYN_SEQ, 3, 0, 1, &fs, "synack");
	rtt = r.after.hist[0].syn_rtt.sum_ns - r.before.hist[0].syn_rtt.sum_ns;
	ASSERT_GE(rtt, r.t0 - fs.last_syn_ns, "synack.rtt>=since_last_syn");
	ASSERT_LE(rtt, r.t1 - fs.last_syn_ns, "synack.rtt<=since_last_syn");

	e = expect_det(c, WP_DIR_RX);
	run_pkt(d, &p, &e, &r, "synack_again");

	if (!ASSERT_GE(build_tcp(&p, c, WP_DIR_TX, TCP_FLAG_ACK, SYN_SEQ + 1, SYNACK_SEQ + 1), 0,
		       "build_ack"))
		return;
	e = expect_det(c, WP_DIR_TX);
	run_pkt(d, &p, &e, &r, "ack");
	ASSERT_EQ(r.after.peer[0].cold_starts, 0, "warm.cold_starts_total");
	ASSERT_EQ(r.after.peer[0].cold_since_ns, 0, "warm.cold_since_ns");
}

/*
 * A path idle for longer than the threshold: the SYN is a cold start and its
 * flow is cold; the SYN again is a first-packet drop (not a SYN retransmit);
 * the SYN-ACK answers (recovery and RTT sample). A new connection afterwards,
 * retransmitted, is a plain SYN retransmit again.
 */
static void cold_lifecycle(struct det *d, const struct conn *c)
{
	struct conn c2 = *c;
	struct flow_state fs, fs0;
	struct det_expect e;
	struct det_result r;
	__u64 since, last, v;
	struct pkt p;

	c2.lport = LPORT + 1;
	if (!det_reset(d))
		return;

	/* seen once: from now on an idle gap makes a cold start */
	if (!ASSERT_OK(build_other(&p, c, WP_DIR_TX, FLOW_UDP), "build_udp"))
		return;
	e = expect_det(c, WP_DIR_TX);
	run_pkt(d, &p, &e, &r, "first_packet_ever");
	last = r.after.peer[0].last_tx_ns;
	usleep(IDLE_NS / 1000);

	if (!ASSERT_GE(build_tcp(&p, c, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0), 0, "build_syn"))
		return;
	e = expect_det(c, WP_DIR_TX);
	e.syn = 1;
	e.flows = 1;
	e.cold_starts = 1;
	e.cold = COLD_SET;
	e.event = WP_EV_COLD_START;
	run_pkt(d, &p, &e, &r, "cold_syn");
	since = r.after.peer[0].cold_since_ns;
	check_event_tuple(&r.ev, conn_local(c), conn_remote(c), conn_lport(c), RPORT, IPPROTO_TCP,
			  "cold_syn");
	ASSERT_EQ(r.ev.syn_count, 0, "cold_syn.event.syn_count");
	/* the idle gap, coarse clock on both ends */
	ASSERT_GE(r.ev.value_ns, COLD_NS, "cold_syn.event.value_ns>=threshold");
	ASSERT_GE(r.ev.value_ns, IDLE_NS - COARSE_SLACK_NS, "cold_syn.event.value_ns>=idle");
	ASSERT_LE(r.ev.value_ns, r.t1 - last + COARSE_SLACK_NS, "cold_syn.event.value_ns<=gap");
	check_flow(d, c, SYN_SEQ, 1, 1, 0, &fs0, "cold_syn");
	check_no_outer_flow(d, c, "cold_syn");

	e = expect_det(c, WP_DIR_TX);
	e.syn = 1;
	e.first_packet_drops = 1;
	e.event = WP_EV_FIRST_PACKET_DROP;
	run_pkt(d, &p, &e, &r, "cold_retransmit");
	if (check_flow(d, c, SYN_SEQ, 2, 1, 0, &fs, "cold_retransmit"))
		check_syn_event(&r.ev, c, 2, &fs, "cold_retransmit");
	ASSERT_EQ(r.after.peer[0].syn_retransmits, 0, "cold_retransmit.syn_retransmits_total");
	ASSERT_EQ(r.after.peer[0].cold_since_ns, since, "cold_retransmit.still_cold");

	/* the SYN-ACK answers: recovery from the cold packet, RTT from the last SYN */
	if (!ASSERT_GE(build_tcp(&p, c, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
				 SYN_SEQ + 1),
		       0, "build_synack"))
		return;
	e = expect_det(c, WP_DIR_RX);
	e.synack = 1;
	e.syn_rtt = 1;
	e.cold_recovery = 1;
	e.cold = COLD_CLEAR;
	run_pkt(d, &p, &e, &r, "answer");
	v = r.after.hist[0].cold_recovery.sum_ns - r.before.hist[0].cold_recovery.sum_ns;
	ASSERT_GE(v, r.t0 - since, "answer.recovery>=since_cold");
	ASSERT_LE(v, r.t1 - since, "answer.recovery<=since_cold");
	ASSERT_LT(v, COLD_NS, "answer.recovery_short");
	check_flow(d, c, SYN_SEQ, 2, 1, 1, &fs, "answer");

	/* warm again: a new connection's retransmit is no first-packet drop */
	if (!ASSERT_GE(build_tcp(&p, &c2, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ + 100, 0), 0,
		       "build_syn2"))
		return;
	e = expect_det(c, WP_DIR_TX);
	e.syn = 1;
	e.flows = 1;
	run_pkt(d, &p, &e, &r, "warm_syn");
	check_flow(d, &c2, SYN_SEQ + 100, 1, 0, 0, &fs, "warm_syn");
	e.flows = 0;
	e.syn_retransmits = 1;
	e.event = WP_EV_SYN_RETRANSMIT;
	run_pkt(d, &p, &e, &r, "warm_retransmit");
	if (check_flow(d, &c2, SYN_SEQ + 100, 2, 0, 0, &fs, "warm_retransmit"))
		check_syn_event(&r.ev, &c2, 2, &fs, "warm_retransmit");
	ASSERT_EQ(r.after.peer[0].cold_starts, 1, "total.cold_starts");
	ASSERT_EQ(r.after.peer[0].first_packet_drops, 1, "total.first_packet_drops");
	ASSERT_EQ(r.after.peer[0].syn_retransmits, 1, "total.syn_retransmits");
	ASSERT_EQ(r.after.hist[0].cold_recovery.count, 1, "total.cold_recovery.count");
	ASSERT_EQ(r.after.hist[0].syn_rtt.count, 1, "total.syn_rtt.count");
}

static const struct conn conns[] = {
	{ .encap = FLOW_PLAIN, .outer = 4, .name = "ipv4" },
	{ .encap = FLOW_PLAIN, .outer = 6, .name = "ipv6" },
	{ .encap = FLOW_IPIP, .outer = 4, .inner = 4, .name = "ipip_4in4" },
	{ .encap = FLOW_IPIP, .outer = 4, .inner = 6, .name = "ipip_6in4" },
	{ .encap = FLOW_IPIP, .outer = 6, .inner = 4, .name = "ipip_4in6" },
	{ .encap = FLOW_VXLAN, .outer = 4, .inner = 4, .name = "vxlan_4in4" },
	{ .encap = FLOW_VXLAN, .outer = 4, .inner = 6, .name = "vxlan_6in4" },
	{ .encap = FLOW_VXLAN, .outer = 6, .inner = 6, .name = "vxlan_6in6" },
};
#define NR_CONNS (sizeof(conns) / sizeof(conns[0]))

void test_detect_syn(void)
{
	size_t i;

	struct det d;

	if (!det_open(&d, COLD_NS))
		return;
	for (i = 0; i < NR_CONNS; i++)
		if (test__start_subtest(conns[i].name))
			syn_lifecycle(&d, &conns[i]);
	det_close(&d);
}

/*
 * A SYN crosses every watched device on its way out (the VXLAN device, then
 * the WireGuard device carrying it): the second sighting of one transmission
 * is not a retransmission. ifindex 1 (lo) stands for the first device, the
 * second is another interface of this namespace configured the same way.
 */
static void stacked_devices(struct det *d, const struct conn *c, __u32 second_ifindex)
{
	struct dp_run_result run;
	struct peer_state ps;
	__u64 retx = 0, fpd = 0;
	struct pkt p;
	const __u32 order[] = { DP_TEST_IFINDEX, second_ifindex, DP_TEST_IFINDEX, second_ifindex };

	if (!det_reset(d) ||
	    !ASSERT_OK(dp_set_iface(&d->f, second_ifindex, WP_IF_L2 | WP_IF_TUNNEL), "iface2") ||
	    !ASSERT_GE(build_tcp(&p, c, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0), 0, "build_syn"))
		return;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		dp_run(d->f.egress_fd, p.data, p.len, order[i], 1, &run);
		ASSERT_EQ(run.err, 0, "run");
		ASSERT_EQ(run.retval, -1, "retval");
	}
	for (int i = 0; i < NR_DET_PEERS; i++) {
		if (!ASSERT_OK(dp_read_peer(&d->f, det_peers[i], &ps), "read_peer"))
			return;
		retx += ps.syn_retransmits;
		fpd += ps.first_packet_drops;
	}
	/* two transmissions, each seen on two devices: one retransmission */
	ASSERT_EQ(retx, 1, "stacked.syn_retransmits");
	ASSERT_EQ(fpd, 0, "stacked.first_packet_drops");
	dp_del_iface(&d->f, second_ifindex);
}

void test_detect_stacked_devices(void)
{
	struct det d;

	if (!det_open(&d, COLD_NS))
		return;
	if (test__start_subtest("vxlan_over_wg"))
		stacked_devices(&d, &conns[0], 2);
	det_close(&d);
}

void test_detect_cold_syn(void)
{
	size_t i;

	struct det d;

	if (!det_open(&d, COLD_NS))
		return;
	for (i = 0; i < NR_CONNS; i++)
		if (test__start_subtest(conns[i].name))
			cold_lifecycle(&d, &conns[i]);
	det_close(&d);
}

/* SYN-ACKs that match no tracked SYN, and SYNs that must not be tracked. */
void test_detect_syn_mismatch(void)
{
	static const struct conn c4 = { .encap = FLOW_PLAIN, .outer = 4 };
	struct conn other = c4;
	struct det_expect e;
	struct det_result r;
	struct flow_state fs;
	struct det d;
	struct pkt p;

	if (!det_open(&d, COLD_NS))
		return;

	other.lport = LPORT + 7;

	if (test__start_subtest("synack_without_syn")) {
		if (!det_reset(&d))
			goto out;
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ, SYN_SEQ + 1);
		e = expect_det(&c4, WP_DIR_RX);
		run_pkt(&d, &p, &e, &r, "synack_without_syn");
		ASSERT_EQ(r.after.nflows, 0, "no_flows");
	}

	if (test__start_subtest("synack_wrong_ack")) {
		static const __u32 bad_acks[] = { SYN_SEQ, SYN_SEQ + 2, SYN_SEQ - 1, 0,
						  SYNACK_SEQ + 1 };
		size_t i;

		if (!det_reset(&d))
			goto out;
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		e = expect_det(&c4, WP_DIR_TX);
		e.syn = 1;
		e.flows = 1;
		run_pkt(&d, &p, &e, &r, "syn");
		for (i = 0; i < sizeof(bad_acks) / sizeof(bad_acks[0]); i++) {
			build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
				  bad_acks[i]);
			e = expect_det(&c4, WP_DIR_RX);
			run_pkt(&d, &p, &e, &r, fmt_name("synack_ack_%#x", bad_acks[i]));
		}
		/* the right ack, but another port: another flow */
		build_tcp(&p, &other, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
			  SYN_SEQ + 1);
		run_pkt(&d, &p, &e, &r, "synack_other_port");
		/* the right ack on a plain ACK (no SYN) */
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_ACK, SYNACK_SEQ, SYN_SEQ + 1);
		run_pkt(&d, &p, &e, &r, "ack_without_syn_flag");
		check_flow(&d, &c4, SYN_SEQ, 1, 0, 0, &fs, "unanswered");
		/* and then the right one */
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ, SYN_SEQ + 1);
		e.synack = 1;
		e.syn_rtt = 1;
		run_pkt(&d, &p, &e, &r, "synack_right");
		check_flow(&d, &c4, SYN_SEQ, 1, 0, 1, &fs, "answered");
	}

	/* The passive side: a SYN at ingress, our SYN-ACK at egress. */
	if (test__start_subtest("passive_open_not_tracked")) {
		if (!det_reset(&d))
			goto out;
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN, SYNACK_SEQ, 0);
		e = expect_det(&c4, WP_DIR_RX);
		run_pkt(&d, &p, &e, &r, "syn_ingress");
		run_pkt(&d, &p, &e, &r, "syn_ingress_again");
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYN_SEQ, SYNACK_SEQ + 1);
		e = expect_det(&c4, WP_DIR_TX);
		run_pkt(&d, &p, &e, &r, "synack_egress");
		run_pkt(&d, &p, &e, &r, "synack_egress_again");
		ASSERT_EQ(r.after.nflows, 0, "no_flows");
	}

	/* The same 4-tuple with another sequence number: a new connection, no retransmit. */
	if (test__start_subtest("new_seq_same_tuple")) {
		if (!det_reset(&d))
			goto out;
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		e = expect_det(&c4, WP_DIR_TX);
		e.syn = 1;
		e.flows = 1;
		run_pkt(&d, &p, &e, &r, "syn");
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ + 0x10000, 0);
		e.flows = 0;
		run_pkt(&d, &p, &e, &r, "syn_new_seq");
		check_flow(&d, &c4, SYN_SEQ + 0x10000, 1, 0, 0, &fs, "syn_new_seq");
		/* the old connection's SYN-ACK matches nothing any more */
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ, SYN_SEQ + 1);
		e = expect_det(&c4, WP_DIR_RX);
		run_pkt(&d, &p, &e, &r, "old_synack");
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
			  SYN_SEQ + 0x10001);
		e.synack = 1;
		e.syn_rtt = 1;
		run_pkt(&d, &p, &e, &r, "new_synack");
		ASSERT_EQ(r.after.peer[0].syn_retransmits, 0, "syn_retransmits_total");
	}

	/* ECN negotiation: SYN with ECE|CWR, SYN-ACK with ECE, as Linux sends them. */
	if (test__start_subtest("ecn_flags")) {
		int off;

		if (!det_reset(&d))
			goto out;
		off = build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		p.data[off + 13] |= 0xc0; /* CWR | ECE */
		e = expect_det(&c4, WP_DIR_TX);
		e.syn = 1;
		e.flows = 1;
		run_pkt(&d, &p, &e, &r, "syn_ece_cwr");
		e.flows = 0;
		e.syn_retransmits = 1;
		e.event = WP_EV_SYN_RETRANSMIT;
		run_pkt(&d, &p, &e, &r, "syn_ece_cwr_retransmit");
		off = build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
				SYN_SEQ + 1);
		p.data[off + 13] |= 0x40; /* ECE */
		e = expect_det(&c4, WP_DIR_RX);
		e.synack = 1;
		e.syn_rtt = 1;
		run_pkt(&d, &p, &e, &r, "synack_ece");
	}

	/* Sequence numbers wrap: a SYN at 0xffffffff is answered with ack 0. */
	if (test__start_subtest("seq_wraps")) {
		if (!det_reset(&d))
			goto out;
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, 0xffffffffu, 0);
		e = expect_det(&c4, WP_DIR_TX);
		e.syn = 1;
		e.flows = 1;
		run_pkt(&d, &p, &e, &r, "syn");
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ, 0);
		e = expect_det(&c4, WP_DIR_RX);
		e.synack = 1;
		e.syn_rtt = 1;
		run_pkt(&d, &p, &e, &r, "synack_ack_0");
	}
out:
	det_close(&d);
}

/* RST with SYN (either way) is ignored by the SYN tracking. */
void test_detect_rst(void)
{
	static const struct conn c4 = { .encap = FLOW_PLAIN, .outer = 4 };
	struct det_expect e;
	struct det_result r;
	struct flow_state fs;
	struct det d;
	struct pkt p;

	if (!det_open(&d, COLD_NS))
		return;
	if (test__start_subtest("syn_rst_egress")) {
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN | TCP_FLAG_RST, SYN_SEQ, 0);
		e = expect_det(&c4, WP_DIR_TX);
		run_pkt(&d, &p, &e, &r, "syn_rst");
		run_pkt(&d, &p, &e, &r, "syn_rst_again");
		ASSERT_EQ(r.after.nflows, 0, "no_flows");
	}
	if (test__start_subtest("synack_rst_ingress")) {
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		e = expect_det(&c4, WP_DIR_TX);
		e.syn = 1;
		e.flows = 1;
		run_pkt(&d, &p, &e, &r, "syn");
		build_tcp(&p, &c4, WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST,
			  SYNACK_SEQ, SYN_SEQ + 1);
		e = expect_det(&c4, WP_DIR_RX);
		run_pkt(&d, &p, &e, &r, "synack_rst");
		check_flow(&d, &c4, SYN_SEQ, 1, 0, 0, &fs, "not_answered");
		/* the SYN with RST set is no retransmission of the tracked SYN either */
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN | TCP_FLAG_RST, SYN_SEQ, 0);
		e = expect_det(&c4, WP_DIR_TX);
		run_pkt(&d, &p, &e, &r, "syn_rst_same_seq");
		check_flow(&d, &c4, SYN_SEQ, 1, 0, 0, &fs, "not_retransmitted");
	}
	det_close(&d);
}

/* A TCP header cut short, or announcing more than is there: malformed, no flow. */
void test_detect_truncated(void)
{
	static const struct conn cs[] = {
		{ .encap = FLOW_PLAIN, .outer = 4, .name = "ipv4" },
		{ .encap = FLOW_PLAIN, .outer = 6, .name = "ipv6" },
		{ .encap = FLOW_IPIP, .outer = 4, .inner = 4, .name = "ipip_4in4" },
		{ .encap = FLOW_VXLAN, .outer = 4, .inner = 6, .name = "vxlan_6in4" },
	};
	struct det_expect e;
	struct det_result r;
	struct flow_state fs;
	struct det d;
	struct pkt p;
	size_t i, cut;
	int off;

	if (!det_open(&d, COLD_NS))
		return;

	for (i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
		if (!test__start_subtest(cs[i].name))
			continue;
		if (!det_reset(&d))
			goto out;
		off = build_tcp(&p, &cs[i], WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		if (!ASSERT_GE(off, 0, "build_syn"))
			continue;
		e = expect_det(&cs[i], WP_DIR_TX);
		e.peer = PEER_NONE;
		e.malformed = true;
		/* from one byte short of a header to no header at all, in the same direction twice */
		for (cut = 1; cut <= 20; cut++) {
			run_detect(&d, p.data, p.len - cut, &e, &r, fmt_name("tx_cut%zu", cut));
			run_detect(&d, p.data, p.len - cut, &e, &r,
				   fmt_name("tx_cut%zu_again", cut));
		}
		/* data offset 6 (24 bytes) on a 20-byte header at the end of the packet */
		p.data[off + 12] = 6 << 4;
		run_detect(&d, p.data, p.len, &e, &r, "tx_doff_beyond_end");
		run_detect(&d, p.data, p.len, &e, &r, "tx_doff_beyond_end_again");
		/* data offset 4: shorter than a TCP header */
		p.data[off + 12] = 4 << 4;
		run_detect(&d, p.data, p.len, &e, &r, "tx_doff_too_small");
		ASSERT_EQ(r.after.nflows, 0, "no_flows");

		/* the same cut SYN-ACK after a real SYN: no answer, no RTT */
		build_tcp(&p, &cs[i], WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		e = expect_det(&cs[i], WP_DIR_TX);
		e.syn = 1;
		e.flows = 1;
		run_pkt(&d, &p, &e, &r, "syn");
		off = build_tcp(&p, &cs[i], WP_DIR_RX, TCP_FLAG_SYN | TCP_FLAG_ACK, SYNACK_SEQ,
				SYN_SEQ + 1);
		e = expect_det(&cs[i], WP_DIR_RX);
		e.peer = PEER_NONE;
		e.malformed = true;
		for (cut = 1; cut <= 20; cut++)
			run_detect(&d, p.data, p.len - cut, &e, &r, fmt_name("rx_cut%zu", cut));
		check_flow(&d, &cs[i], SYN_SEQ, 1, 0, 0, &fs, "not_answered");
	}
out:
	det_close(&d);
}

/*
 * Cold starts of non-TCP traffic and their answers: TX-initiated answered by
 * RX, RX-initiated answered by TX, an unanswered one repeated after another
 * idle gap, a never-seen peer, a cold flow whose answer came from other
 * traffic.
 */
void test_detect_cold(void)
{
	static const struct conn c4 = { .encap = FLOW_PLAIN, .outer = 4 };
	static const struct conn c6vx = { .encap = FLOW_VXLAN, .outer = 6, .inner = 4 };
	struct det_expect e;
	struct det_result r;
	struct flow_state fs;
	struct det d;
	struct pkt p;
	__u64 since, v;
	int dir;

	if (!det_open(&d, COLD_NS))
		return;

	/* dir: the side that breaks the silence; the other side answers */
	for (dir = WP_DIR_TX; dir <= WP_DIR_RX; dir++) {
		int other = !dir;
		const char *pfx = dir == WP_DIR_TX ? "tx" : "rx";

		if (!test__start_subtest(fmt_name("%s_initiated_udp", pfx)))
			continue;
		if (!det_reset(&d))
			goto out;
		build_other(&p, &c4, dir, FLOW_UDP);
		e = expect_det(&c4, dir);
		run_pkt(&d, &p, &e, &r, "first_packet_ever");
		usleep(IDLE_NS / 1000);
		e.cold_starts = 1;
		e.cold = COLD_SET;
		e.event = WP_EV_COLD_START;
		run_pkt(&d, &p, &e, &r, "cold");
		since = r.after.peer[0].cold_since_ns;
		if (dir == WP_DIR_TX)
			check_event_tuple(&r.ev, LOCAL4, NODE_A4, 40000, 53, IPPROTO_UDP, "cold");
		else
			check_event_tuple(&r.ev, NODE_A4, LOCAL4, 53, 40000, IPPROTO_UDP, "cold");
		ASSERT_GE(r.ev.value_ns, COLD_NS, "cold.event.value_ns>=threshold");
		ASSERT_EQ(r.ev.syn_count, 0, "cold.event.syn_count");
		/* more the same way: still cold, no new cold start */
		e = expect_det(&c4, dir);
		run_pkt(&d, &p, &e, &r, "same_direction");
		ASSERT_EQ(r.after.peer[0].cold_since_ns, since, "same_direction.still_cold");
		/* the answer */
		build_other(&p, &c4, other, FLOW_ICMP);
		e = expect_det(&c4, other);
		e.cold = COLD_CLEAR;
		e.cold_recovery = 1;
		run_pkt(&d, &p, &e, &r, "answer");
		v = r.after.hist[0].cold_recovery.sum_ns - r.before.hist[0].cold_recovery.sum_ns;
		ASSERT_GE(v, r.t0 - since, "answer.recovery>=since_cold");
		ASSERT_LE(v, r.t1 - since, "answer.recovery<=since_cold");
		/* and after the answer nothing more */
		build_other(&p, &c4, dir, FLOW_UDP);
		e = expect_det(&c4, dir);
		run_pkt(&d, &p, &e, &r, "after_answer");
		build_other(&p, &c4, other, FLOW_ICMP);
		e = expect_det(&c4, other);
		run_pkt(&d, &p, &e, &r, "after_answer_other");
	}

	if (test__start_subtest("unanswered_then_cold_again")) {
		if (!det_reset(&d))
			goto out;
		build_other(&p, &c6vx, WP_DIR_TX, FLOW_ICMP);
		e = expect_det(&c6vx, WP_DIR_TX);
		run_pkt(&d, &p, &e, &r, "first_packet_ever");
		usleep(IDLE_NS / 1000);
		e.cold_starts = 1;
		e.cold = COLD_SET;
		e.event = WP_EV_COLD_START;
		run_pkt(&d, &p, &e, &r, "cold1");
		check_event_tuple(&r.ev, LOCAL_POD4, POD_B4, 0, 0, IPPROTO_ICMP, "cold1");
		since = r.after.peer[0].cold_since_ns;
		usleep(IDLE_NS / 1000);
		run_pkt(&d, &p, &e, &r, "cold2");
		ASSERT_GT(r.after.peer[0].cold_since_ns, since, "cold2.restamped");
		ASSERT_EQ(r.after.peer[0].cold_starts, 2, "cold2.cold_starts_total");
		build_other(&p, &c6vx, WP_DIR_RX, FLOW_ICMP);
		e = expect_det(&c6vx, WP_DIR_RX);
		e.cold = COLD_CLEAR;
		e.cold_recovery = 1;
		run_pkt(&d, &p, &e, &r, "answer");
		ASSERT_EQ(r.after.hist[0].cold_recovery.count, 1, "one_recovery_sample");
	}

	/* Never seen (last_tx_ns == last_rx_ns == 0): no cold start, however long idle. */
	if (test__start_subtest("never_seen_peer")) {
		if (!det_reset(&d))
			goto out;
		usleep(IDLE_NS / 1000);
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		e = expect_det(&c4, WP_DIR_TX);
		e.syn = 1;
		e.flows = 1;
		run_pkt(&d, &p, &e, &r, "first_syn_ever");
		check_flow(&d, &c4, SYN_SEQ, 1, 0, 0, &fs, "first_syn_ever");
		e.flows = 0;
		e.syn_retransmits = 1;
		e.event = WP_EV_SYN_RETRANSMIT;
		run_pkt(&d, &p, &e, &r, "retransmit");
	}

	/*
	 * A flow opened while cold stays a cold flow: answered by other traffic
	 * (a UDP reply), its SYN retransmitted later is still a first-packet drop.
	 */
	if (test__start_subtest("cold_flow_answered_by_other_traffic")) {
		if (!det_reset(&d))
			goto out;
		build_other(&p, &c4, WP_DIR_RX, FLOW_UDP);
		e = expect_det(&c4, WP_DIR_RX);
		run_pkt(&d, &p, &e, &r, "first_packet_ever");
		usleep(IDLE_NS / 1000);
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		e = expect_det(&c4, WP_DIR_TX);
		e.syn = 1;
		e.flows = 1;
		e.cold_starts = 1;
		e.cold = COLD_SET;
		e.event = WP_EV_COLD_START;
		run_pkt(&d, &p, &e, &r, "cold_syn");
		build_other(&p, &c4, WP_DIR_RX, FLOW_UDP);
		e = expect_det(&c4, WP_DIR_RX);
		e.cold = COLD_CLEAR;
		e.cold_recovery = 1;
		run_pkt(&d, &p, &e, &r, "udp_answer");
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		e = expect_det(&c4, WP_DIR_TX);
		e.syn = 1;
		e.first_packet_drops = 1;
		e.event = WP_EV_FIRST_PACKET_DROP;
		run_pkt(&d, &p, &e, &r, "retransmit");
		ASSERT_EQ(r.after.peer[0].syn_retransmits, 0, "syn_retransmits_total");
	}

	/* An RX cold start answered by our SYN: the flow opens warm. */
	if (test__start_subtest("rx_cold_answered_by_syn")) {
		if (!det_reset(&d))
			goto out;
		build_other(&p, &c4, WP_DIR_RX, FLOW_UDP);
		e = expect_det(&c4, WP_DIR_RX);
		run_pkt(&d, &p, &e, &r, "first_packet_ever");
		usleep(IDLE_NS / 1000);
		e.cold_starts = 1;
		e.cold = COLD_SET;
		e.event = WP_EV_COLD_START;
		run_pkt(&d, &p, &e, &r, "cold_rx");
		build_tcp(&p, &c4, WP_DIR_TX, TCP_FLAG_SYN, SYN_SEQ, 0);
		e = expect_det(&c4, WP_DIR_TX);
		e.syn = 1;
		e.flows = 1;
		e.cold = COLD_CLEAR;
		e.cold_recovery = 1;
		run_pkt(&d, &p, &e, &r, "syn_answers");
		check_flow(&d, &c4, SYN_SEQ, 1, 0, 0, &fs, "syn_answers");
		e = expect_det(&c4, WP_DIR_TX);
		e.syn = 1;
		e.syn_retransmits = 1;
		e.event = WP_EV_SYN_RETRANSMIT;
		run_pkt(&d, &p, &e, &r, "retransmit");
	}
out:
	det_close(&d);
}
