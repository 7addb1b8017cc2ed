/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Bounds-checked header parsers for the datapath, in the xdp-tutorial manner.
 *
 * Return rules: every parse_<hdr>() takes a cursor and the end of the linear
 * data, checks that the whole header lies inside it, advances the cursor past
 * the header and returns the next protocol (an ethertype or an IP protocol
 * number, host order) or -1 when the header is truncated or inconsistent.
 * Nothing here writes to the packet.
 */
#ifndef __WARMPATH_PARSING_BPF_H
#define __WARMPATH_PARSING_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_HLEN 14

#define IPPROTO_HOPOPTS 0
#define IPPROTO_ICMP 1
#define IPPROTO_IPIP 4
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_IPV6 41
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_ICMPV6 58
#define IPPROTO_DSTOPTS 60

#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

#define VXLAN_HLEN 8
#define WP_MAX_VLAN_TAGS 2
#define WP_MAX_V6_EXT_HDRS 4

struct hdr_cursor {
	void *pos;
};

struct vlan_tag {
	__be16 tci;
	__be16 encap_proto;
};

/* An address in the IPv4-mapped IPv6 form the prefixes trie uses. */
static __always_inline void addr_from_v4(__u8 *dst, __be32 v4)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &v4, 4);
}

/* Ethernet plus up to two 802.1Q / 802.1ad tags. Returns the ethertype. */
static __always_inline int parse_ethhdr(struct hdr_cursor *c, void *end)
{
	struct ethhdr *eth = c->pos;
	__u16 proto;

	if ((void *)(eth + 1) > end)
		return -1;
	c->pos = eth + 1;
	proto = bpf_ntohs(eth->h_proto);

#pragma unroll
	for (int i = 0; i < WP_MAX_VLAN_TAGS; i++) {
		struct vlan_tag *tag = c->pos;

		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if ((void *)(tag + 1) > end)
			return -1;
		proto = bpf_ntohs(tag->encap_proto);
		c->pos = tag + 1;
	}
	return proto;
}

/*
 * IPv4 with options. Stores source and destination (IPv4-mapped) when saddr /
 * daddr are non-NULL. *l4_ok is cleared for non-first fragments, whose payload
 * carries no transport header. Returns the IP protocol.
 */
static __always_inline int parse_iphdr(struct hdr_cursor *c, void *end, __u8 *saddr, __u8 *daddr,
				       bool *l4_ok)
{
	struct iphdr *iph = c->pos;
	__u32 hlen;

	if ((void *)(iph + 1) > end)
		return -1;
	if (iph->version != 4)
		return -1;
	hlen = iph->ihl * 4;
	if (hlen < sizeof(*iph))
		return -1;
	if (c->pos + hlen > end)
		return -1;
	if (saddr)
		addr_from_v4(saddr, iph->saddr);
	if (daddr)
		addr_from_v4(daddr, iph->daddr);
	*l4_ok = !(iph->frag_off & bpf_htons(IP_OFFSET));
	c->pos += hlen;
	return iph->protocol;
}

/*
 * IPv6 and up to WP_MAX_V6_EXT_HDRS extension headers (hop-by-hop, routing,
 * destination options, fragment). Returns the upper-layer protocol.
 */
static __always_inline int parse_ipv6hdr(struct hdr_cursor *c, void *end, __u8 *saddr, __u8 *daddr,
					 bool *l4_ok)
{
	struct ipv6hdr *ip6h = c->pos;
	__u8 nexthdr;

	if ((void *)(ip6h + 1) > end)
		return -1;
	if (ip6h->version != 6)
		return -1;
	if (saddr)
		__builtin_memcpy(saddr, &ip6h->saddr, 16);
	if (daddr)
		__builtin_memcpy(daddr, &ip6h->daddr, 16);
	c->pos = ip6h + 1;
	nexthdr = ip6h->nexthdr;
	*l4_ok = true;

#pragma unroll
	for (int i = 0; i < WP_MAX_V6_EXT_HDRS; i++) {
		struct ipv6_opt_hdr *opt = c->pos;
		struct frag_hdr *frag = c->pos;

		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if ((void *)(opt + 1) > end)
				return -1;
			nexthdr = opt->nexthdr;
			c->pos += (opt->hdrlen + 1) * 8;
			/* the whole extension header must be there, not just its first bytes */
			if (c->pos > end)
				return -1;
			break;
		case IPPROTO_FRAGMENT:
			if ((void *)(frag + 1) > end)
				return -1;
			nexthdr = frag->nexthdr;
			if (frag->frag_off & bpf_htons(0xFFF8))
				*l4_ok = false;
			c->pos = frag + 1;
			break;
		default:
			return nexthdr;
		}
	}
	return nexthdr;
}

/* Either IP version, by ethertype. Returns the IP protocol. */
static __always_inline int parse_ip(struct hdr_cursor *c, void *end, int eth_type, __u8 *saddr,
				    __u8 *daddr, bool *l4_ok)
{
	if (eth_type == ETH_P_IP)
		return parse_iphdr(c, end, saddr, daddr, l4_ok);
	if (eth_type == ETH_P_IPV6)
		return parse_ipv6hdr(c, end, saddr, daddr, l4_ok);
	return -1;
}

/* UDP: stores the ports in host order. Returns IPPROTO_UDP. */
static __always_inline int parse_udphdr(struct hdr_cursor *c, void *end, __u16 *sport, __u16 *dport)
{
	struct udphdr *udph = c->pos;

	if ((void *)(udph + 1) > end)
		return -1;
	if (bpf_ntohs(udph->len) < sizeof(*udph))
		return -1;
	*sport = bpf_ntohs(udph->source);
	*dport = bpf_ntohs(udph->dest);
	c->pos = udph + 1;
	return IPPROTO_UDP;
}

/* TCP with options. Returns IPPROTO_TCP; the header stays at *tcph. */
static __always_inline int parse_tcphdr(struct hdr_cursor *c, void *end, struct tcphdr **tcph)
{
	struct tcphdr *h = c->pos;
	__u32 len;

	if ((void *)(h + 1) > end)
		return -1;
	len = h->doff * 4;
	if (len < sizeof(*h))
		return -1;
	if (c->pos + len > end)
		return -1;
	*tcph = h;
	c->pos += len;
	return IPPROTO_TCP;
}

#endif /* __WARMPATH_PARSING_BPF_H */
