// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The detection tests' harness: see detect_fixture.h. */
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
#include "detect_fixture.h"
const __u32 det_peers[] = { PEER_A, PEER_B };

int on_event(void *ctx, void *data, size_t len)
{
	struct det *d = ctx;

	if (len != sizeof(struct wp_event))
		d->bad_ev_len++;
	else if (d->nev < MAX_EVENTS)
		memcpy(&d->ev[d->nev], data, sizeof(struct wp_event));
	d->nev++;
	return 0;
}

void det_close(struct det *d)
{
	ring_buffer__free(d->rb);
	d->rb = NULL;
	dp_fixture_close(&d->f);
}

/* As dp_fixture_open(), plus the cold threshold; then the two peers above. */
bool det_open(struct det *d, __u64 cold_ns)
{
	struct dp_options opts = { .cold_threshold_ns = cold_ns };

	return det_open_opts(d, &opts);
}

bool det_open_opts(struct det *d, const struct dp_options *o)
{
	struct dp_options opts = *o;
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
bool det_reset(struct det *d)
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

__u16 conn_lport(const struct conn *c)
{
	return c->lport ?: LPORT;
}

int conn_encap_stat(const struct conn *c)
{
	return c->encap == FLOW_IPIP  ? WP_STAT_ENCAP_IPIP :
	       c->encap == FLOW_VXLAN ? WP_STAT_ENCAP_VXLAN :
					ENCAP_NONE;
}

/* The addresses of the flow key: the innermost header's, local first. */
const char *conn_local(const struct conn *c)
{
	if (c->encap == FLOW_PLAIN)
		return c->outer == 4 ? LOCAL4 : LOCAL6;
	return c->inner == 4 ? LOCAL_POD4 : LOCAL_POD6;
}

const char *conn_remote(const struct conn *c)
{
	if (c->encap == FLOW_PLAIN)
		return c->outer == 4 ? NODE_A4 : NODE_A6;
	return c->inner == 4 ? POD_B4 : POD_B6;
}

void put_be32(__u8 *p, __u32 v)
{
	__be32 be = htonl(v);

	memcpy(p, &be, sizeof(be));
}

void add_ip(struct pkt *p, int version, const char *src, const char *dst)
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
int build_tcp(struct pkt *p, const struct conn *c, int dir, __u8 flags, __u32 seq, __u32 ack)
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
int build_other(struct pkt *p, const struct conn *c, int dir, int l4)
{
	struct flow_spec s = {
		.encap = c->encap, .outer = c->outer, .inner = c->inner, .l4 = l4, .payload = 8
	};

	return build_flow(p, &s, dir);
}

/* --- reading state ---------------------------------------------------------- */

int count_flows(struct det *d)
{
	struct flow_key key;
	int n = 0;

	WP_MAP_FOR_EACH_KEY(d->flows_fd, &key)
	n++;
	return n;
}

int take_snap(struct det *d, struct det_snap *s)
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

int read_flow(struct det *d, const char *local, const char *remote, __u16 lport, __u16 rport,
	      struct flow_state *fs)
{
	struct flow_key key = { .local_port = lport, .remote_port = rport };

	if (addr_to_key(local, key.local) || addr_to_key(remote, key.remote))
		return -EINVAL;
	return bpf_map_lookup_elem(d->flows_fd, &key, fs) ? -errno : 0;
}

int read_conn_flow(struct det *d, const struct conn *c, struct flow_state *fs)
{
	return read_flow(d, conn_local(c), conn_remote(c), conn_lport(c), RPORT, fs);
}

/* --- one checked run ---------------------------------------------------------- */

struct det_expect expect_det(const struct conn *c, int dir)
{
	struct det_expect e = { .dir = dir, .peer = PEER_A, .encap = conn_encap_stat(c) };

	return e;
}

struct det_expect expect_new_syn(const struct conn *c)
{
	struct det_expect e = expect_det(c, WP_DIR_TX);

	e.syn = 1;
	e.flows = 1;
	return e;
}

struct det_expect expect_synack(const struct conn *c)
{
	struct det_expect e = expect_det(c, WP_DIR_RX);

	e.synack = 1;
	e.syn_rtt = 1;
	return e;
}

void expect_retransmit(struct det_expect *e)
{
	e->flows = 0;
	e->syn_retransmits = 1;
	e->event = WP_EV_SYN_RETRANSMIT;
}

void expect_first_packet_drop(struct det_expect *e)
{
	e->flows = 0;
	e->first_packet_drops = 1;
	e->event = WP_EV_FIRST_PACKET_DROP;
}

void expect_cold_start(struct det_expect *e)
{
	e->cold_starts = 1;
	e->cold = COLD_SET;
	e->event = WP_EV_COLD_START;
}

void expect_recovery(struct det_expect *e)
{
	e->cold = COLD_CLEAR;
	e->cold_recovery = 1;
}

bool check_hist(const struct wp_hist *b, const struct wp_hist *a, __u64 samples, const char *label,
		const char *which)
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

bool check_peer_det(const struct det_snap *bs, const struct det_snap *as, int i,
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

	{
		struct peer_dir w = peer_dir(&want, e->dir);
		__u64 last = peer_last_ns(a, e->dir);

		(*w.packets)++;
		*w.bytes += len;
		*w.last_ns = last;
		ok &= ASSERT_GE(last, r->t0 - COARSE_SLACK_NS,
				fmt_name("%s.last_%s_ns", label, w.name));
		ok &= ASSERT_LE(last, r->t1, fmt_name("%s.last_%s_ns", label, w.name));
	}
	/* a packet of the peer takes the agent's arm, if set (a cold start) */
	want.cold_armed_ns = 0;
	/* the cold start's idle gap; bit 0: it lost a first packet */
	if (e->cold == COLD_SET) {
		want.cold_gap_ns = a->cold_gap_ns;
		ok &= ASSERT_EQ(a->cold_gap_ns & 1, 0, fmt_name("%s.cold_gap_clean", label));
		ok &= ASSERT_GE(a->cold_gap_ns, COLD_NS, fmt_name("%s.cold_gap>=threshold", label));
		ok &= ASSERT_LT(a->cold_gap_ns, SANE_NS, fmt_name("%s.cold_gap_sane", label));
	}
	if (e->first_packet_drops)
		want.cold_gap_ns |= 1;
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

	ok &= check_peer_fields(a, &want, label);
	ok &= ASSERT_MEMEQ(a, &want, sizeof(want), fmt_name("%s.peer_state", label));

	ok &= check_hist(&bs->hist[i].syn_rtt, &as->hist[i].syn_rtt, e->syn_rtt, label, "syn_rtt");
	ok &= check_hist(&bs->hist[i].cold_recovery, &as->hist[i].cold_recovery, e->cold_recovery,
			 label, "cold_recovery");
	return ok;
}

/* Fields every event has: type, peer, interface, direction, time. */
bool check_event_common(const struct wp_event *ev, const struct det_expect *e,
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

bool run_detect(struct det *d, const void *data, size_t len, const struct det_expect *e,
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
	/* the agent's tick before the run: counters folded, idle peers armed */
	if (!ASSERT_GE(dp_fold(&d->f), 0, fmt_name("%s.fold", label)) ||
	    !ASSERT_OK(take_snap(d, &r->before), fmt_name("%s.snapshot", label)))
		return false;
	r->t0 = dp_now_ns();
	dp_run(prog_fd, data, len, DP_TEST_IFINDEX, 1, &run);
	dp_fold_stamp(&d->f); /* stamps last_tx_ns / last_rx_ns inside the window */
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
	/* a matched SYN-ACK removes its flow: the table holds open handshakes only */
	ok &= ASSERT_EQ(r->after.nflows - r->before.nflows, e->flows - (int)e->synack,
			fmt_name("%s.flows", label));

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

bool run_pkt(struct det *d, const struct pkt *p, const struct det_expect *e, struct det_result *r,
	     const char *name)
{
	return run_detect(d, p->data, p->len, e, r, name);
}

/* The addresses and ports of an event: those of the innermost header. */
bool check_event_tuple(const struct wp_event *ev, const char *saddr, const char *daddr, __u16 sport,
		       __u16 dport, __u8 l4proto, const char *label)
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
bool check_syn_event(const struct wp_event *ev, const struct conn *c, __u32 syn_count,
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

/*
 * The flow of c: present with these fields; answered: gone (the SYN-ACK ends
 * the entry), *fs left as it was (the caller's last read of the open flow).
 */
bool check_flow(struct det *d, const struct conn *c, __u32 seq, __u32 syn_count, int cold,
		int answered, struct flow_state *fs, const char *label)
{
	struct flow_state gone;
	bool ok = true;

	if (answered)
		return ASSERT_EQ(read_conn_flow(d, c, &gone), -ENOENT,
				 fmt_name("%s.flow_answered_gone", label));

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
