/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * parse_packet() of datapath.bpf.c for headers outside the linear data, on
 * copies (parsing_skb.bpf.h). Included by datapath.bpf.c after struct
 * pkt_info, is_vxlan_port() and parse_packet(), whose steps it repeats.
 */
#ifndef __WARMPATH_PACKET_SKB_BPF_H
#define __WARMPATH_PACKET_SKB_BPF_H

#include "parsing_skb.bpf.h"

/* parse_l4() from a header copy (parsing_skb.bpf.h). */
static __always_inline int skb_parse_l4(struct __sk_buff *skb, __u32 *off, int proto,
					struct pkt_info *pi)
{
	struct tcphdr tcph;

	pi->l4proto = proto;
	if (!pi->l4_ok)
		return 0;
	if (proto == IPPROTO_UDP)
		return skb_parse_udphdr(skb, off, &pi->sport, &pi->dport) < 0 ? -1 : 0;
	if (proto == IPPROTO_TCP) {
		if (skb_parse_tcphdr(skb, off, &tcph) < 0)
			return -1;
		pi->sport = bpf_ntohs(tcph.source);
		pi->dport = bpf_ntohs(tcph.dest);
		pi->tcp_flags = ((__u8 *)&tcph)[13];
		pi->tcp_seq = bpf_ntohl(tcph.seq);
		pi->tcp_ack = bpf_ntohl(tcph.ack_seq);
	}
	return 0;
}

/*
 * parse_packet() for headers outside the linear area: the same steps with
 * every header copied by bpf_skb_load_bytes(), from offset off (past the
 * outer Ethernet header when there is one). Nothing is pulled.
 */
static __noinline int parse_packet_skb(struct __sk_buff *skb, __u32 off, int eth_type,
				       struct pkt_info *pi)
{
	bool l4_ok = false;
	__u16 sport, dport;
	int proto;

	proto = skb_parse_ip(skb, &off, eth_type, pi->saddr.addr, pi->daddr.addr, &l4_ok);
	if (proto < 0)
		return -1;
	pi->l4_ok = l4_ok;

	if (l4_ok && (proto == IPPROTO_IPIP || proto == IPPROTO_IPV6)) {
		pi->encap_stat = WP_STAT_ENCAP_IPIP;
		pi->encap = 1;
		proto = skb_parse_ip(skb, &off, proto == IPPROTO_IPIP ? ETH_P_IP : ETH_P_IPV6,
				     pi->isaddr.addr, pi->idaddr.addr, &l4_ok);
		if (proto < 0)
			return -1;
		pi->l4_ok = l4_ok;
		return skb_parse_l4(skb, &off, proto, pi);
	}

	if (l4_ok && proto == IPPROTO_UDP) {
		if (skb_parse_udphdr(skb, &off, &sport, &dport) < 0)
			return -1;
		if (!is_vxlan_port(dport)) {
			pi->l4proto = IPPROTO_UDP;
			pi->sport = sport;
			pi->dport = dport;
			return 0;
		}
		pi->encap_stat = WP_STAT_ENCAP_VXLAN;
		if (off + VXLAN_HLEN > skb->len)
			return -1;
		off += VXLAN_HLEN;
		eth_type = skb_parse_ethhdr(skb, &off);
		if (eth_type < 0)
			return -1;
		if (eth_type != ETH_P_IP && eth_type != ETH_P_IPV6) {
			pi->l4proto = 0;
			pi->l4_ok = 0;
			return 0;
		}
		pi->encap = 1;
		proto = skb_parse_ip(skb, &off, eth_type, pi->isaddr.addr, pi->idaddr.addr, &l4_ok);
		if (proto < 0)
			return -1;
		pi->l4_ok = l4_ok;
	}
	return skb_parse_l4(skb, &off, proto, pi);
}

#endif /* __WARMPATH_PACKET_SKB_BPF_H */
