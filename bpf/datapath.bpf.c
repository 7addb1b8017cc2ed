// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * warmpath datapath: tc / tcx programs for the ingress and egress of tunnel and
 * WireGuard interfaces. They find the peer node of every packet (outer address
 * of encapsulated traffic, the only address otherwise), count it in the
 * per-CPU `peer_counters`, detect cold starts, track TCP SYNs for first-packet
 * drops and passive RTT, and on the underlay watch WireGuard handshakes. They
 * observe only: every path returns TC_ACT_UNSPEC (-1, which is also
 * TCX_NEXT), so the chain continues for whatever else is attached.
 *
 * An established flow writes nothing shared and reads no clock: per-CPU
 * counters only; the peer's `peers` entry is read (cold_armed_ns,
 * cold_since_ns), written only on a cold start, its answer and tracked SYNs.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "parsing.bpf.h"
#include "maps.bpf.h"
#include "wireguard.bpf.h"
#include "warmpath.h"
#include "peer_schema.h"

#define TC_ACT_UNSPEC (-1)

/* Set by the loader before load. */
const volatile __u16 probe_port = WP_DEFAULT_PROBE_PORT;
const volatile __u16 vxlan_port_a = WP_VXLAN_PORT_IANA;
const volatile __u16 vxlan_port_b = WP_VXLAN_PORT_LINUX;
const volatile __u64 cold_threshold_ns = 30ull * 1000000000ull;
/*
 * SYN tracking on a warm path is sampled: a SYN whose (random) initial
 * sequence number has (isn >> 8) & syn_sample_mask == 0 is tracked (1 in 16), so
 * retransmissions of one SYN are all tracked or all not. 0: every SYN (the
 * unit tests). SYNs while the peer is cold are always tracked.
 */
const volatile __u32 syn_sample_mask = 15;
/* Tests only: parse every packet with bpf_skb_load_bytes (test_run skbs are linear). */
const volatile bool force_load_bytes = false;

WP_PINNED_MAP(unmatched, BPF_MAP_TYPE_LRU_HASH, WP_MAX_UNMATCHED, struct addr_key,
	      struct unmatched_state);

WP_PINNED_MAP(peer_hists, BPF_MAP_TYPE_ARRAY, WP_MAX_PEERS, __u32, struct peer_hists);

WP_PINNED_MAP(flows, BPF_MAP_TYPE_LRU_HASH, WP_MAX_FLOWS, struct flow_key, struct flow_state);

/*
 * Per-CPU direct-mapped cache in front of the prefixes trie (an LPM lookup is
 * the single most expensive step of the hot path). Entries carry the
 * generation they were filled under; user space bumps prefix_gen after every
 * change to `prefixes`, which invalidates them all at once. Not pinned: each
 * loaded program starts cold.
 */
#define WP_PEER_CACHE_SLOTS 256

struct peer_cache_slot {
	__u64 addr[2];
	__u32 id_plus1; /* 0: no prefix matched (negative entry) */
	__u32 gen_plus1; /* prefix_gen + 1 when filled; 0: empty */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WP_PEER_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct peer_cache_slot);
} peer_cache SEC(".maps");

__u32 prefix_gen = 0;

/* Per-CPU per-interface counters, by the slot in if_flags bits 16..23. */
WP_PINNED_MAP(iface_counters, BPF_MAP_TYPE_PERCPU_ARRAY, WP_MAX_IFACES, __u32,
	      struct iface_counters);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, WP_RINGBUF_BYTES);
} events SEC(".maps");

/*
 * What the parser learned about one packet. Scalars only: what runs after the
 * parser (cold, SYN tracking) must not carry the parser's many packet-pointer
 * states, or the verifier explores every combination.
 */
struct pkt_info {
	struct addr_key saddr; /* of the first (outer) IP header */
	struct addr_key daddr;
	struct addr_key isaddr; /* innermost IP header, when encapsulated */
	struct addr_key idaddr;
	__u32 tcp_seq; /* innermost TCP header, host order */
	__u32 tcp_ack;
	__u16 sport; /* innermost transport ports, host order */
	__u16 dport;
	__u8 tcp_flags; /* TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10) */
	__u8 l4proto; /* innermost IP protocol */
	__u8 l4_ok; /* transport header present and parsed */
	__u8 encap; /* isaddr / idaddr are valid */
	__u8 encap_stat; /* WP_STAT_ENCAP_* of the encapsulation found, 0: none */
	__u8 dir; /* WP_DIR_* */
	__u32 ifindex;
	__u32 peer_id;
};

#ifndef READ_ONCE
#define READ_ONCE(x) (*(const volatile typeof(x) *)&(x))
#endif

#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

static __always_inline bool is_vxlan_port(__u16 port)
{
	return port == vxlan_port_a || port == vxlan_port_b;
}

#include "packet.bpf.h"

/* peer_of_addr() through the per-CPU cache; *peer_id is 0 when nothing matched. */
static __always_inline struct peer_state *peer_lookup_cached(const struct addr_key *a,
							     __u32 *peer_id)
{
	const __u64 *w = (const __u64 *)a->addr;
	__u32 gen = prefix_gen + 1, id_plus1, slot;
	struct prefix_key key = { .prefixlen = 128 };
	struct peer_cache_slot *s;
	struct prefix_val *pv;
	__u64 h = w[0] ^ w[1];

	slot = (__u32)(((h ^ (h >> 32)) * 0x9E3779B1u) >> 24) & (WP_PEER_CACHE_SLOTS - 1);
	s = bpf_map_lookup_elem(&peer_cache, &slot);
	if (s && s->gen_plus1 == gen && s->addr[0] == w[0] && s->addr[1] == w[1]) {
		id_plus1 = s->id_plus1;
	} else {
		__builtin_memcpy(key.addr, a->addr, 16);
		pv = bpf_map_lookup_elem(&prefixes, &key);
		id_plus1 = pv ? pv->peer_id + 1 : 0;
		if (s) {
			s->addr[0] = w[0];
			s->addr[1] = w[1];
			s->id_plus1 = id_plus1;
			s->gen_plus1 = gen;
		}
	}
	*peer_id = id_plus1 ? id_plus1 - 1 : 0;
	return id_plus1 ? bpf_map_lookup_elem(&peers, peer_id) : NULL;
}

static __always_inline void account_unmatched(struct addr_key *addr, __u32 ifindex, int dir,
					      __u64 len, __u64 now)
{
	struct unmatched_state *u, init = {};

	init.ifindex = ifindex; /* used by the first packet of this address only */
	u = bpf_map_lookup_or_try_init(&unmatched, addr, &init);
	if (!u) {
		stat_inc(WP_STAT_UNMATCHED_FULL);
		return;
	}
	if (dir == WP_DIR_TX) {
		__sync_fetch_and_add(&u->tx_packets, 1);
		__sync_fetch_and_add(&u->tx_bytes, len);
	} else {
		__sync_fetch_and_add(&u->rx_packets, 1);
		__sync_fetch_and_add(&u->rx_bytes, len);
	}
	u->last_seen_ns = now;
}

/* Innermost addresses of the packet (IPv4-mapped). */
static __always_inline void inner_addrs(const struct pkt_info *pi, __u8 *saddr, __u8 *daddr)
{
	__builtin_memcpy(saddr, pi->encap ? pi->isaddr.addr : pi->saddr.addr, 16);
	__builtin_memcpy(daddr, pi->encap ? pi->idaddr.addr : pi->daddr.addr, 16);
}

static __noinline void emit_event(__u32 type, const struct pkt_info *pi, __u32 syn_count,
				  __u64 value_ns, __u64 ts)
{
	struct wp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		stat_inc(WP_STAT_EVENTS_LOST);
		return;
	}
	/* every field written (no implicit padding in struct wp_event): no memset */
	e->ts_ns = ts;
	e->pad = 0; /* the caller's clock read: one per event path */
	e->type = type;
	e->peer_id = pi->peer_id;
	e->ifindex = pi->ifindex;
	e->dir = pi->dir;
	e->l4proto = pi->l4proto;
	inner_addrs(pi, e->saddr, e->daddr);
	e->sport = pi->sport;
	e->dport = pi->dport;
	e->syn_count = syn_count;
	e->value_ns = value_ns;
	bpf_ringbuf_submit(e, 0);
}

/*
 * Cold starts: the agent arms the peer (cold_armed_ns = the pair's idle-since)
 * when its counters have not moved for cold_threshold_ns; the first packet
 * either way takes the arm with one compare-and-swap (one winner when two CPUs
 * race) and marks the peer cold; the first packet the other way is the answer
 * that ends it. Only the winner and the answer read a clock.
 */
static __noinline void track_cold(struct peer_state *ps, const struct pkt_info *pi, __u64 armed,
				  __u64 since)
{
	__u32 peer_id = pi->peer_id;
	int dir = pi->dir;
	struct peer_hists *h;
	__u64 precise;

	if (armed) {
		if (__sync_val_compare_and_swap(&ps->cold_armed_ns, armed, 0) != armed)
			return;
		precise = bpf_ktime_get_ns();
		/* low bits: direction of the cold packet, and whether it was TCP */
		ps->cold_since_ns =
			(precise & ~3ull) | dir | (pi->l4proto == IPPROTO_TCP ? WP_COLD_TCP : 0);
		/* only the CAS winner writes it: no atomic needed */
		ps->cold_starts += 1;
		/* the idle gap, judged clean or dropped by the agent (bit 0: dropped) */
		ps->cold_gap_ns = (precise > armed ? precise - armed : 0) & ~1ull;
		emit_event(WP_EV_COLD_START, pi, 0, precise > armed ? precise - armed : 0, precise);
		return;
	}
	if (!since || (since & 1) == (__u64)dir)
		return;
	/* the answer */
	if (__sync_val_compare_and_swap(&ps->cold_since_ns, since, 0) != since)
		return;
	h = bpf_map_lookup_elem(&peer_hists, &peer_id);
	precise = bpf_ktime_get_ns();
	if (h && precise > since)
		hist_observe(&h->cold_recovery, precise - since);
}

/*
 * TCP SYN tracking on innermost headers. A SYN leaving with the 4-tuple and
 * sequence number of one already seen is a retransmission: the first one was
 * lost. Lost while the peer was cold: a first-packet drop; otherwise a SYN
 * retransmit. A SYN-ACK arriving for a tracked SYN gives the passive RTT and
 * ends the entry: the table holds open handshakes only. Tracked: every SYN
 * that leaves while the peer is cold or a lifetime trial holds the pair
 * (syn_watch, set by the agent), and a sample of the others (see
 * syn_sample_mask), by their sequence number so that a retransmission is
 * tracked exactly when its first transmission was.
 */
static __noinline void track_syn(struct peer_state *ps, const struct pkt_info *pi)
{
	__u32 peer_id = pi->peer_id;
	int dir = pi->dir;
	struct flow_state *f, init = {};
	struct flow_key key = {};
	struct peer_hists *h;
	__u64 now;

	if (!(pi->tcp_flags & TCPF_SYN) || (pi->tcp_flags & TCPF_RST))
		return;
	if (dir == WP_DIR_TX && !(pi->tcp_flags & TCPF_ACK)) {
		bool cold = ps->cold_since_ns != 0;
		/* cold, or a trial holds the pair: every SYN tracked */
		bool all = cold || ps->syn_watch;

		inner_addrs(pi, key.local, key.remote);
		key.local_port = pi->sport;
		key.remote_port = pi->dport;
		f = bpf_map_lookup_elem(&flows, &key);
		if (!f && !all && ((pi->tcp_seq >> 8) & syn_sample_mask))
			return; /* warm, not in the sample: nothing to track */
		now = bpf_ktime_get_ns();
		stat_inc(WP_STAT_SYN);
		/* the same transmission seen again on the next device of the stack */
		if (f && f->syn_seq == pi->tcp_seq && f->ifindex != pi->ifindex)
			return;
		if (f && f->syn_seq == pi->tcp_seq && !f->answered) {
			__u32 n = __sync_fetch_and_add(&f->syn_count, 1) + 1;

			f->last_syn_ns = now;
			if (f->cold) {
				__sync_fetch_and_add(&ps->first_packet_drops, 1);
				/* the cold start lost its first packet */
				__sync_fetch_and_or(&ps->cold_gap_ns, 1);
				emit_event(WP_EV_FIRST_PACKET_DROP, pi, n, now - f->first_syn_ns,
					   now);
			} else {
				__sync_fetch_and_add(&ps->syn_retransmits, 1);
				emit_event(WP_EV_SYN_RETRANSMIT, pi, n, now - f->first_syn_ns, now);
			}
			return;
		}
		if (!all && ((pi->tcp_seq >> 8) & syn_sample_mask))
			return; /* a new SYN on a 4-tuple tracked before, not in the sample */
		/* a new connection (one SYN each: not a per-packet update) */
		init.first_syn_ns = now;
		init.last_syn_ns = now;
		init.syn_seq = pi->tcp_seq;
		init.peer_id = peer_id;
		init.syn_count = 1;
		init.cold = cold;
		init.ifindex = pi->ifindex;
		bpf_map_update_elem(&flows, &key, &init, BPF_ANY);
		return;
	}
	if (dir == WP_DIR_RX && (pi->tcp_flags & TCPF_ACK)) {
		/* SYN-ACK: the flow is keyed by our side, so swap */
		inner_addrs(pi, key.remote, key.local);
		key.local_port = pi->dport;
		key.remote_port = pi->sport;
		f = bpf_map_lookup_elem(&flows, &key);
		if (!f || f->answered || pi->tcp_ack != f->syn_seq + 1)
			return;
		f->answered = 1;
		stat_inc(WP_STAT_SYNACK);
		now = bpf_ktime_get_ns();
		h = bpf_map_lookup_elem(&peer_hists, &f->peer_id);
		if (h && now > f->last_syn_ns)
			hist_observe(&h->syn_rtt, now - f->last_syn_ns);
		/* answered: the handshake is no longer open */
		bpf_map_delete_elem(&flows, &key);
	}
}

/* Per-CPU counters: no atomic, no shared cache line, no clock. */
static __always_inline void account_peer(__u32 peer_id, int dir, __u64 len, bool probe)
{
	struct peer_counters *pc = bpf_map_lookup_elem(&peer_counters, &peer_id);

	if (!pc)
		return;
	dir &= 1;
	pc->packets[dir] += 1;
	pc->bytes[dir] += len;
	if (probe) {
		pc->probe_packets[dir] += 1;
		pc->probe_bytes[dir] += len;
	}
}

static __always_inline void account_iface(__u32 flags, int dir, __u64 len)
{
	__u32 slot = (flags >> WP_IF_SLOT_SHIFT) & (WP_MAX_IFACES - 1);
	struct iface_counters *ic = bpf_map_lookup_elem(&iface_counters, &slot);

	if (!ic)
		return;
	dir &= 1;
	ic->packets[dir] += 1;
	ic->bytes[dir] += len;
}

static __always_inline int handle_skb(struct __sk_buff *skb, int dir)
{
	__u32 ifindex = skb->ifindex, linear, *flags, peer_id;
	struct pkt_info pi = {};
	struct peer_state *ps;
	struct hdr_cursor c;
	struct addr_key *peer_addr;
	void *data, *end;
	__u64 armed, since;
	bool probe;
	__u32 fl;
	int eth_type, ret;

	flags = bpf_map_lookup_elem(&if_flags, &ifindex);
	if (!flags || !*flags) {
		stat_inc(WP_STAT_NO_IFACE);
		return TC_ACT_UNSPEC;
	}
	fl = *flags;

	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	c.pos = data;

	/* L2 devices (vxlan, veth) carry Ethernet; L3 devices (wg, tun, tunl0) start at IP. */
	if (fl & WP_IF_L2)
		eth_type = parse_ethhdr(&c, end);
	else
		eth_type = bpf_ntohs(skb->protocol);

	if (!(fl & WP_IF_TUNNEL)) {
		/* handshake messages are small: the linear data holds them */
		if (fl & WP_IF_UNDERLAY)
			handle_underlay(&c, end, eth_type, ifindex, dir);
		return TC_ACT_UNSPEC;
	}
	stat_inc(WP_STAT_PACKETS);
	/*
	 * Headers in the linear data: parsed in place. When they run past it
	 * (GSO, tun frags) the parse fails short and is done again on copies
	 * (bpf_skb_load_bytes): nothing is pulled, nothing linearised.
	 */
	linear = (__u32)(end - data);
	ret = -1;
	if (!force_load_bytes && eth_type >= 0) {
		if (eth_type != ETH_P_IP && eth_type != ETH_P_IPV6) {
			stat_inc(WP_STAT_NON_IP);
			return TC_ACT_UNSPEC;
		}
		ret = parse_packet(&c, end, eth_type, &pi);
	}
	if (ret < 0 && (force_load_bytes || skb->len > linear)) {
		__u32 off = 0;

		__builtin_memset(&pi, 0, sizeof(pi));
		eth_type = fl & WP_IF_L2 ? skb_parse_ethhdr(skb, &off) : bpf_ntohs(skb->protocol);
		if (eth_type >= 0 && eth_type != ETH_P_IP && eth_type != ETH_P_IPV6) {
			stat_inc(WP_STAT_NON_IP);
			return TC_ACT_UNSPEC;
		}
		if (eth_type >= 0)
			ret = parse_packet_skb(skb, off, eth_type, &pi);
	}
	if (pi.encap_stat)
		stat_inc(pi.encap_stat);
	if (ret < 0) {
		stat_inc(WP_STAT_MALFORMED);
		return TC_ACT_UNSPEC;
	}

	peer_addr = dir == WP_DIR_TX ? &pi.daddr : &pi.saddr;
	ps = peer_lookup_cached(peer_addr, &peer_id);
	if (!ps) {
		if (peer_id < WP_MAX_PEERS) {
			stat_inc(WP_STAT_UNMATCHED);
			account_unmatched(peer_addr, ifindex, dir, skb->len,
					  bpf_ktime_get_coarse_ns());
		} else {
			stat_inc(WP_STAT_BAD_PEER_ID);
		}
		return TC_ACT_UNSPEC;
	}

	probe = pi.l4_ok && pi.l4proto == IPPROTO_UDP &&
		(pi.dport == probe_port || pi.sport == probe_port);
	if (probe)
		stat_inc(WP_STAT_PROBE);
	stat_inc(WP_STAT_MATCHED);
	pi.peer_id = peer_id;
	pi.ifindex = ifindex;
	pi.dir = dir;
	/* read, not written, on an established flow: the line stays shared */
	armed = READ_ONCE(ps->cold_armed_ns);
	since = READ_ONCE(ps->cold_since_ns);
	if (armed || (since && (since & 1) != (__u64)dir))
		track_cold(ps, &pi, armed, since);
	if (pi.l4proto == IPPROTO_TCP && pi.l4_ok && (pi.tcp_flags & TCPF_SYN))
		track_syn(ps, &pi);
	account_iface(fl, dir, skb->len);
	/* a stacked device's packets are counted per peer on the device below it */
	if (!(fl & WP_IF_STACKED))
		account_peer(peer_id, dir, skb->len, probe);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int wp_tc_ingress(struct __sk_buff *skb)
{
	return handle_skb(skb, WP_DIR_RX);
}

SEC("tc")
int wp_tc_egress(struct __sk_buff *skb)
{
	return handle_skb(skb, WP_DIR_TX);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
