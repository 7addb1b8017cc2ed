/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The datapath's packet parser, written once for two ways of reading: in
 * place in the linear data (parsing.bpf.h: bounds checks against data_end)
 * and on copies of each header (parsing_skb.bpf.h: bpf_skb_load_bytes()
 * against skb->len) for headers outside the linear data (GSO, tun frags).
 * parse_packet_any() is the logic; which reader it uses is the constant
 * `copied` of its cursor, so each `if (pc->copied)` below folds away at
 * compile time and either instance is the straight code for its reader.
 * Included by datapath.bpf.c after struct pkt_info and is_vxlan_port().
 */
#ifndef __WARMPATH_PACKET_BPF_H
#define __WARMPATH_PACKET_BPF_H

#include "parsing.bpf.h"
#include "parsing_skb.bpf.h"

struct pkt_cursor {
	bool copied; /* a compile-time constant of each caller */
	struct hdr_cursor *c; /* in place: the position in the linear data */
	void *end; /* in place: the end of the linear data */
	struct __sk_buff *skb; /* copied: the packet */
	__u32 *off; /* copied: the offset from skb->data */
};

static __always_inline int cur_parse_ethhdr(struct pkt_cursor *pc)
{
	return pc->copied ? skb_parse_ethhdr(pc->skb, pc->off) : parse_ethhdr(pc->c, pc->end);
}

static __always_inline int cur_parse_ip(struct pkt_cursor *pc, int eth_type, __u8 *saddr,
					__u8 *daddr, bool *l4_ok)
{
	if (pc->copied)
		return skb_parse_ip(pc->skb, pc->off, eth_type, saddr, daddr, l4_ok);
	return parse_ip(pc->c, pc->end, eth_type, saddr, daddr, l4_ok);
}

static __always_inline int cur_parse_udphdr(struct pkt_cursor *pc, __u16 *sport, __u16 *dport)
{
	if (pc->copied)
		return skb_parse_udphdr(pc->skb, pc->off, sport, dport);
	return parse_udphdr(pc->c, pc->end, sport, dport);
}

/* In place *tcph is pointed at the header; copied, the header is copied to **tcph. */
static __always_inline int cur_parse_tcphdr(struct pkt_cursor *pc, struct tcphdr **tcph)
{
	if (pc->copied)
		return skb_parse_tcphdr(pc->skb, pc->off, *tcph);
	return parse_tcphdr(pc->c, pc->end, tcph);
}

/* Skips len bytes that must be there (the VXLAN header). Returns 0 or -1. */
static __always_inline int cur_skip(struct pkt_cursor *pc, __u32 len)
{
	if (pc->copied) {
		if (*pc->off + len > pc->skb->len)
			return -1;
		*pc->off += len;
		return 0;
	}
	if (pc->c->pos + len > pc->end)
		return -1;
	pc->c->pos += len;
	return 0;
}

/*
 * Innermost transport header: ports for UDP and TCP, nothing for the rest.
 * Returns 0, or -1 when a header that must be there is truncated.
 */
static __always_inline int parse_l4_any(struct pkt_cursor *pc, int proto, struct pkt_info *pi)
{
	struct tcphdr copy, *tcph = &copy;

	pi->l4proto = proto;
	if (!pi->l4_ok)
		return 0;
	if (proto == IPPROTO_UDP)
		return cur_parse_udphdr(pc, &pi->sport, &pi->dport) < 0 ? -1 : 0;
	if (proto == IPPROTO_TCP) {
		if (cur_parse_tcphdr(pc, &tcph) < 0)
			return -1;
		pi->sport = bpf_ntohs(tcph->source);
		pi->dport = bpf_ntohs(tcph->dest);
		pi->tcp_flags = ((__u8 *)tcph)[13];
		pi->tcp_seq = bpf_ntohl(tcph->seq);
		pi->tcp_ack = bpf_ntohl(tcph->ack_seq);
	}
	return 0;
}

/*
 * Parse from the first IP header to the innermost transport header, through at
 * most one encapsulation: IP-in-IP (4 / 41) or VXLAN with its inner Ethernet.
 * Returns 0 on success, -1 for a malformed packet.
 */
static __always_inline int parse_packet_any(struct pkt_cursor *pc, int eth_type,
					    struct pkt_info *pi)
{
	bool l4_ok = false;
	__u16 sport, dport;
	int proto;

	proto = cur_parse_ip(pc, eth_type, pi->saddr.addr, pi->daddr.addr, &l4_ok);
	if (proto < 0)
		return -1;
	pi->l4_ok = l4_ok;

	if (l4_ok && (proto == IPPROTO_IPIP || proto == IPPROTO_IPV6)) {
		pi->encap_stat = WP_STAT_ENCAP_IPIP;
		pi->encap = 1;
		proto = cur_parse_ip(pc, proto == IPPROTO_IPIP ? ETH_P_IP : ETH_P_IPV6,
				     pi->isaddr.addr, pi->idaddr.addr, &l4_ok);
		if (proto < 0)
			return -1;
		pi->l4_ok = l4_ok;
		return parse_l4_any(pc, proto, pi);
	}

	if (l4_ok && proto == IPPROTO_UDP) {
		if (cur_parse_udphdr(pc, &sport, &dport) < 0)
			return -1;
		if (!is_vxlan_port(dport)) {
			pi->l4proto = IPPROTO_UDP;
			pi->sport = sport;
			pi->dport = dport;
			return 0;
		}
		/* VXLAN: 8-byte header, inner Ethernet (maybe tagged), inner IP. */
		pi->encap_stat = WP_STAT_ENCAP_VXLAN;
		if (cur_skip(pc, VXLAN_HLEN) < 0)
			return -1;
		eth_type = cur_parse_ethhdr(pc);
		if (eth_type < 0)
			return -1;
		if (eth_type != ETH_P_IP && eth_type != ETH_P_IPV6) {
			pi->l4proto = 0; /* inner ARP and such: account, no transport */
			pi->l4_ok = 0;
			return 0;
		}
		pi->encap = 1;
		proto = cur_parse_ip(pc, eth_type, pi->isaddr.addr, pi->idaddr.addr, &l4_ok);
		if (proto < 0)
			return -1;
		pi->l4_ok = l4_ok;
	}
	return parse_l4_any(pc, proto, pi);
}

/* In place: from cursor c, up to end (the linear data). Inlined into the hot path. */
static __always_inline int parse_packet(struct hdr_cursor *c, void *end, int eth_type,
					struct pkt_info *pi)
{
	struct pkt_cursor pc = { .copied = false, .c = c, .end = end };

	return parse_packet_any(&pc, eth_type, pi);
}

/*
 * On copies, from offset off (past the outer Ethernet header when there is
 * one): every header copied by bpf_skb_load_bytes(), nothing pulled. A
 * subprogram: the rare path stays out of the hot path's instructions.
 */
static __noinline int parse_packet_skb(struct __sk_buff *skb, __u32 off, int eth_type,
				       struct pkt_info *pi)
{
	struct pkt_cursor pc = { .copied = true, .skb = skb, .off = &off };

	return parse_packet_any(&pc, eth_type, pi);
}

#endif /* __WARMPATH_PACKET_BPF_H */
