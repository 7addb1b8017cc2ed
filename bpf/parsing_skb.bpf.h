/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The header parsers of parsing.bpf.h again, for headers that are not in the
 * linear area (GSO packets, tun frags): each header is copied to the stack
 * with bpf_skb_load_bytes() (5.x and later; bpf_dynptr_from_skb needs 6.4),
 * so nothing is pulled and the packet is never linearised or unshared. Same
 * return rules and the same checks as the direct parsers, against skb->len
 * instead of the end of the linear data; *off is the offset from skb->data.
 */
#ifndef __WARMPATH_PARSING_SKB_BPF_H
#define __WARMPATH_PARSING_SKB_BPF_H

#include "parsing.bpf.h"

static __always_inline int skb_parse_ethhdr(struct __sk_buff *skb, __u32 *off)
{
	struct ethhdr eth;
	struct vlan_tag tag;
	__u16 proto;

	if (bpf_skb_load_bytes(skb, *off, &eth, sizeof(eth)))
		return -1;
	*off += sizeof(eth);
	proto = bpf_ntohs(eth.h_proto);
#pragma unroll
	for (int i = 0; i < WP_MAX_VLAN_TAGS; i++) {
		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if (bpf_skb_load_bytes(skb, *off, &tag, sizeof(tag)))
			return -1;
		proto = bpf_ntohs(tag.encap_proto);
		*off += sizeof(tag);
	}
	return proto;
}

static __always_inline int skb_parse_iphdr(struct __sk_buff *skb, __u32 *off, __u8 *saddr,
					   __u8 *daddr, bool *l4_ok)
{
	struct iphdr iph;
	__u32 hlen;

	if (bpf_skb_load_bytes(skb, *off, &iph, sizeof(iph)))
		return -1;
	if (iph.version != 4)
		return -1;
	hlen = iph.ihl * 4;
	if (hlen < sizeof(iph) || *off + hlen > skb->len)
		return -1;
	addr_from_v4(saddr, iph.saddr);
	addr_from_v4(daddr, iph.daddr);
	*l4_ok = !(iph.frag_off & bpf_htons(IP_OFFSET));
	*off += hlen;
	return iph.protocol;
}

static __always_inline int skb_parse_ipv6hdr(struct __sk_buff *skb, __u32 *off, __u8 *saddr,
					     __u8 *daddr, bool *l4_ok)
{
	struct ipv6hdr ip6h;
	struct ipv6_opt_hdr opt;
	struct frag_hdr frag;
	__u8 nexthdr;

	if (bpf_skb_load_bytes(skb, *off, &ip6h, sizeof(ip6h)))
		return -1;
	if (ip6h.version != 6)
		return -1;
	__builtin_memcpy(saddr, &ip6h.saddr, 16);
	__builtin_memcpy(daddr, &ip6h.daddr, 16);
	*off += sizeof(ip6h);
	nexthdr = ip6h.nexthdr;
	*l4_ok = true;
#pragma unroll
	for (int i = 0; i < WP_MAX_V6_EXT_HDRS; i++) {
		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (bpf_skb_load_bytes(skb, *off, &opt, sizeof(opt)))
				return -1;
			nexthdr = opt.nexthdr;
			*off += (opt.hdrlen + 1) * 8;
			if (*off > skb->len)
				return -1;
			break;
		case IPPROTO_FRAGMENT:
			if (bpf_skb_load_bytes(skb, *off, &frag, sizeof(frag)))
				return -1;
			nexthdr = frag.nexthdr;
			if (frag.frag_off & bpf_htons(0xFFF8))
				*l4_ok = false;
			*off += sizeof(frag);
			break;
		default:
			return nexthdr;
		}
	}
	return nexthdr;
}

static __always_inline int skb_parse_ip(struct __sk_buff *skb, __u32 *off, int eth_type,
					__u8 *saddr, __u8 *daddr, bool *l4_ok)
{
	if (eth_type == ETH_P_IP)
		return skb_parse_iphdr(skb, off, saddr, daddr, l4_ok);
	if (eth_type == ETH_P_IPV6)
		return skb_parse_ipv6hdr(skb, off, saddr, daddr, l4_ok);
	return -1;
}

static __always_inline int skb_parse_udphdr(struct __sk_buff *skb, __u32 *off, __u16 *sport,
					    __u16 *dport)
{
	struct udphdr udph;

	if (bpf_skb_load_bytes(skb, *off, &udph, sizeof(udph)))
		return -1;
	if (bpf_ntohs(udph.len) < sizeof(udph))
		return -1;
	*sport = bpf_ntohs(udph.source);
	*dport = bpf_ntohs(udph.dest);
	*off += sizeof(udph);
	return IPPROTO_UDP;
}

/* TCP with options: the fixed header is copied to *tcph, the options skipped. */
static __always_inline int skb_parse_tcphdr(struct __sk_buff *skb, __u32 *off, struct tcphdr *tcph)
{
	__u32 len;

	if (bpf_skb_load_bytes(skb, *off, tcph, sizeof(*tcph)))
		return -1;
	len = tcph->doff * 4;
	if (len < sizeof(*tcph) || *off + len > skb->len)
		return -1;
	*off += len;
	return IPPROTO_TCP;
}

#endif /* __WARMPATH_PARSING_SKB_BPF_H */
