// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Crafted packets for BPF_PROG_TEST_RUN: see packet_builder.h. */
#include <arpa/inet.h>
#include <string.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include "packet_builder.h"

enum {
	PKT_LINK_NONE,
	PKT_LINK_ETHERTYPE, /* a __be16 ethertype */
	PKT_LINK_IPPROTO, /* a __u8 IP protocol / IPv6 next header */
};

enum {
	PKT_FIX_IPV4,
	PKT_FIX_IPV6,
	PKT_FIX_UDP,
};

/* ARP for IPv4 over Ethernet, after the fixed header. */
struct arp_eth_ipv4 {
	struct arphdr hdr;
	__u8 sha[ETH_ALEN];
	__be32 sip;
	__u8 tha[ETH_ALEN];
	__be32 tip;
} __packed;

/*
 * Headers start at any offset of p->data (an IPv4 header after the 14 bytes
 * of Ethernet is 2 bytes off its natural alignment), so the kernel's header
 * structs are reached only through these 1-aligned wrappers, never by a plain
 * cast: a misaligned struct access is undefined (UBSan reports it).
 */
struct iphdr_u {
	struct iphdr h;
} __packed;

struct ipv6hdr_u {
	struct ipv6hdr h;
} __packed;

struct tcphdr_u {
	struct tcphdr h;
} __packed;

struct udphdr_u {
	struct udphdr h;
} __packed;

struct tcp_ts_opt {
	__u8 nop[2];
	__u8 kind; /* 8: timestamps */
	__u8 len; /* 10 */
	__be32 tsval;
	__be32 tsecr;
} __packed;

void pkt_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
}

/* Room for len more bytes, zeroed; NULL (and the packet marked) when full. */
static void *pkt_push(struct pkt *p, size_t len)
{
	void *hdr;

	if (p->overflow || p->len + len > sizeof(p->data)) {
		p->overflow = true;
		return NULL;
	}
	hdr = p->data + p->len;
	memset(hdr, 0, len);
	if (p->nhdrs < PKT_MAX_HDRS)
		p->hdr_off[p->nhdrs++] = p->len;
	p->len += len;
	return hdr;
}

/*
 * Tell the previous header what follows it: an ethertype after Ethernet or a
 * VLAN tag, an IP protocol after IP. A header that cannot follow marks the
 * packet overflowed, which pkt_finish() reports.
 */
static void pkt_link(struct pkt *p, int ethertype, int ipproto)
{
	__be16 be;

	switch (p->link_kind) {
	case PKT_LINK_ETHERTYPE:
		if (ethertype < 0)
			goto bad;
		be = htons(ethertype);
		memcpy(p->data + p->link_off, &be, sizeof(be));
		break;
	case PKT_LINK_IPPROTO:
		if (ipproto < 0)
			goto bad;
		p->data[p->link_off] = ipproto;
		break;
	default:
		break;
	}
	p->link_kind = PKT_LINK_NONE;
	return;
bad:
	p->overflow = true;
}

static void pkt_fixup(struct pkt *p, size_t off, int kind)
{
	if (p->nfixups >= PKT_MAX_LEN_FIXUPS) {
		p->overflow = true;
		return;
	}
	p->fixups[p->nfixups].off = off;
	p->fixups[p->nfixups].kind = kind;
	p->nfixups++;
}

void pkt_eth(struct pkt *p)
{
	static const __u8 src[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	static const __u8 dst[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
	struct ethhdr *eth;

	pkt_link(p, -1, -1); /* only at the start or after VXLAN */
	eth = pkt_push(p, sizeof(*eth));
	if (!eth)
		return;
	memcpy(eth->h_source, src, ETH_ALEN);
	memcpy(eth->h_dest, dst, ETH_ALEN);
	p->link_off = (__u8 *)&eth->h_proto - p->data;
	p->link_kind = PKT_LINK_ETHERTYPE;
}

void pkt_vlan(struct pkt *p, __u16 tpid, __u16 vid)
{
	struct vlan_tag *tag;

	if (p->link_kind != PKT_LINK_ETHERTYPE) {
		p->overflow = true;
		return;
	}
	pkt_link(p, tpid, -1);
	tag = pkt_push(p, sizeof(*tag));
	if (!tag)
		return;
	tag->tci = htons(vid & 0x0fff);
	p->link_off = (__u8 *)&tag->encap_proto - p->data;
	p->link_kind = PKT_LINK_ETHERTYPE;
}

void pkt_ipv4_opts(struct pkt *p, const char *saddr, const char *daddr, size_t opt_len,
		   __u16 frag_off)
{
	struct iphdr_u *iph;
	__u8 *opts;

	if (opt_len % 4 || opt_len > 40) {
		p->overflow = true;
		return;
	}
	pkt_link(p, ETH_P_IP, IPPROTO_IPIP);
	iph = pkt_push(p, sizeof(*iph) + opt_len);
	if (!iph)
		return;
	iph->h.version = 4;
	iph->h.ihl = (sizeof(*iph) + opt_len) / 4;
	iph->h.ttl = 64;
	iph->h.id = htons(0x1234);
	iph->h.frag_off = htons(frag_off);
	if (inet_pton(AF_INET, saddr, &iph->h.saddr) != 1 ||
	    inet_pton(AF_INET, daddr, &iph->h.daddr) != 1)
		p->overflow = true;
	/* Options: NOPs, then an end-of-list in the last byte. */
	opts = (__u8 *)(iph + 1);
	if (opt_len) {
		memset(opts, 1, opt_len);
		opts[opt_len - 1] = 0;
	}
	p->link_off = (__u8 *)&iph->h.protocol - p->data;
	p->link_kind = PKT_LINK_IPPROTO;
	p->last_ip = 4;
	pkt_fixup(p, (__u8 *)iph - p->data, PKT_FIX_IPV4);
}

void pkt_ipv4(struct pkt *p, const char *saddr, const char *daddr)
{
	pkt_ipv4_opts(p, saddr, daddr, 0, 0);
}

void pkt_ipv6(struct pkt *p, const char *saddr, const char *daddr)
{
	struct ipv6hdr_u *ip6h;

	pkt_link(p, ETH_P_IPV6, IPPROTO_IPV6);
	ip6h = pkt_push(p, sizeof(*ip6h));
	if (!ip6h)
		return;
	ip6h->h.version = 6;
	ip6h->h.hop_limit = 64;
	if (inet_pton(AF_INET6, saddr, &ip6h->h.saddr) != 1 ||
	    inet_pton(AF_INET6, daddr, &ip6h->h.daddr) != 1)
		p->overflow = true;
	p->link_off = (__u8 *)&ip6h->h.nexthdr - p->data;
	p->link_kind = PKT_LINK_IPPROTO;
	p->last_ip = 6;
	pkt_fixup(p, (__u8 *)ip6h - p->data, PKT_FIX_IPV6);
}

void pkt_ipv6_ext(struct pkt *p, __u8 type, size_t len)
{
	struct ipv6_opt_hdr *opt;
	__u8 *pad;

	if (p->last_ip != 6 || len < 8 || len % 8 || len > 8 * 256) {
		p->overflow = true;
		return;
	}
	pkt_link(p, -1, type);
	opt = pkt_push(p, len);
	if (!opt)
		return;
	opt->hdrlen = len / 8 - 1;
	/* Hop-by-hop / destination options: one PadN option fills the rest. */
	pad = (__u8 *)(opt + 1);
	pad[0] = 1;
	pad[1] = len - sizeof(*opt) - 2;
	p->link_off = (__u8 *)&opt->nexthdr - p->data;
	p->link_kind = PKT_LINK_IPPROTO;
}

void pkt_ipv6_frag(struct pkt *p, __u16 offset, bool more)
{
	struct frag_hdr {
		__u8 nexthdr;
		__u8 reserved;
		__be16 frag_off;
		__be32 identification;
	} __packed *frag;

	if (p->last_ip != 6 || offset % 8) {
		p->overflow = true;
		return;
	}
	pkt_link(p, -1, IPPROTO_FRAGMENT);
	frag = pkt_push(p, sizeof(*frag));
	if (!frag)
		return;
	frag->frag_off = htons(offset | more);
	frag->identification = htonl(0xabcd);
	p->link_off = (__u8 *)&frag->nexthdr - p->data;
	p->link_kind = PKT_LINK_IPPROTO;
}

static struct tcphdr_u *push_tcp(struct pkt *p, size_t opt_len, __u16 sport, __u16 dport,
				 __u8 flags)
{
	struct tcphdr_u *tcph;

	pkt_link(p, -1, IPPROTO_TCP);
	tcph = pkt_push(p, sizeof(*tcph) + opt_len);
	if (!tcph)
		return NULL;
	tcph->h.source = htons(sport);
	tcph->h.dest = htons(dport);
	tcph->h.seq = htonl(1000);
	tcph->h.ack_seq = flags & TCP_FLAG_ACK ? htonl(2000) : 0;
	tcph->h.doff = (sizeof(*tcph) + opt_len) / 4;
	tcph->h.fin = !!(flags & TCP_FLAG_FIN);
	tcph->h.syn = !!(flags & TCP_FLAG_SYN);
	tcph->h.rst = !!(flags & TCP_FLAG_RST);
	tcph->h.psh = !!(flags & TCP_FLAG_PSH);
	tcph->h.ack = !!(flags & TCP_FLAG_ACK);
	tcph->h.window = htons(64240);
	return tcph;
}

void pkt_tcp(struct pkt *p, __u16 sport, __u16 dport, __u8 flags)
{
	push_tcp(p, 0, sport, dport, flags);
}

void pkt_tcp_ts(struct pkt *p, __u16 sport, __u16 dport, __u8 flags)
{
	struct tcp_ts_opt *ts;
	struct tcphdr_u *tcph;

	tcph = push_tcp(p, sizeof(*ts), sport, dport, flags);
	if (!tcph)
		return;
	ts = (struct tcp_ts_opt *)(tcph + 1);
	ts->nop[0] = ts->nop[1] = 1;
	ts->kind = 8;
	ts->len = 10;
	ts->tsval = htonl(123456);
	ts->tsecr = htonl(654321);
}

void pkt_udp(struct pkt *p, __u16 sport, __u16 dport)
{
	struct udphdr_u *udph;

	pkt_link(p, -1, IPPROTO_UDP);
	udph = pkt_push(p, sizeof(*udph));
	if (!udph)
		return;
	udph->h.source = htons(sport);
	udph->h.dest = htons(dport);
	pkt_fixup(p, (__u8 *)udph - p->data, PKT_FIX_UDP);
}

void pkt_icmp_echo(struct pkt *p)
{
	struct icmp_echo_hdr *icmp;
	bool v6 = p->last_ip == 6;

	pkt_link(p, -1, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	icmp = pkt_push(p, sizeof(*icmp));
	if (!icmp)
		return;
	icmp->type = v6 ? 128 : 8;
	icmp->id = htons(77);
	icmp->seq = htons(1);
}

void pkt_vxlan(struct pkt *p, __u32 vni)
{
	struct vxlan_hdr *vxh;

	vxh = pkt_push(p, sizeof(*vxh));
	if (!vxh)
		return;
	vxh->flags = htonl(0x08000000);
	vxh->vni = htonl(vni << 8);
	p->link_kind = PKT_LINK_NONE; /* an Ethernet header follows */
}

void pkt_arp(struct pkt *p)
{
	struct arp_eth_ipv4 *arp;

	pkt_link(p, ETH_P_ARP, -1);
	arp = pkt_push(p, sizeof(*arp));
	if (!arp)
		return;
	arp->hdr.ar_hrd = htons(ARPHRD_ETHER);
	arp->hdr.ar_pro = htons(ETH_P_IP);
	arp->hdr.ar_hln = ETH_ALEN;
	arp->hdr.ar_pln = 4;
	arp->hdr.ar_op = htons(ARPOP_REQUEST);
	memset(arp->sha, 0x02, ETH_ALEN);
	inet_pton(AF_INET, "192.0.2.100", &arp->sip);
	inet_pton(AF_INET, "192.0.2.1", &arp->tip);
}

void pkt_payload(struct pkt *p, size_t len)
{
	__u8 *data = pkt_push(p, len);
	size_t i;

	if (!data)
		return;
	for (i = 0; i < len; i++)
		data[i] = 'a' + i % 26;
}

static __u16 ipv4_csum(const void *hdr, size_t len)
{
	const __u8 *b = hdr;
	__u32 sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (b[i] << 8) | b[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

int pkt_finish(struct pkt *p)
{
	int i;

	if (p->overflow)
		return -1;
	/* Innermost first, so that outer checksums see final inner fields. */
	for (i = p->nfixups - 1; i >= 0; i--) {
		void *hdr = p->data + p->fixups[i].off;
		size_t rest = p->len - p->fixups[i].off;
		struct ipv6hdr_u *ip6h = hdr;
		struct udphdr_u *udph = hdr;
		struct iphdr_u *iph = hdr;

		switch (p->fixups[i].kind) {
		case PKT_FIX_IPV4:
			iph->h.tot_len = htons(rest);
			iph->h.check = 0;
			iph->h.check = ipv4_csum(iph, iph->h.ihl * 4);
			break;
		case PKT_FIX_IPV6:
			ip6h->h.payload_len = htons(rest - sizeof(*ip6h));
			break;
		case PKT_FIX_UDP:
			udph->h.len = htons(rest);
			break;
		}
	}
	return 0;
}

int addr_to_key(const char *addr, __u8 out[16])
{
	struct in_addr v4;

	if (inet_pton(AF_INET6, addr, out) == 1)
		return 0;
	if (inet_pton(AF_INET, addr, &v4) != 1)
		return -1;
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, &v4, 4);
	return 0;
}
