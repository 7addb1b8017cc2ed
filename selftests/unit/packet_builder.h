/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Crafted packets for BPF_PROG_TEST_RUN. A packet is built header by header,
 * outermost first; each pkt_*() call appends one __packed header and links it
 * into the one before (ethertype, IP protocol / next header), and
 * pkt_finish() fills in the length fields (IPv4 tot_len and checksum, IPv6
 * payload_len, UDP len) from what followed each header.
 *
 *	pkt_init(&p);
 *	pkt_eth(&p);
 *	pkt_ipv4(&p, "192.0.2.100", "192.0.2.1");
 *	pkt_tcp(&p, 40000, 443, TCP_FLAG_ACK);
 *	pkt_finish(&p);
 */
#ifndef __WARMPATH_PACKET_BUILDER_H
#define __WARMPATH_PACKET_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#ifndef __packed
#define __packed __attribute__((packed))
#endif

#define PKT_MAX_LEN 512
#define PKT_MAX_LEN_FIXUPS 8
#define PKT_MAX_HDRS 16

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_PSH 0x08
#define TCP_FLAG_ACK 0x10

/* An 802.1Q / 802.1ad tag as it follows the Ethernet addresses. */
struct vlan_tag {
	__be16 tci;
	__be16 encap_proto;
} __packed;

struct vxlan_hdr {
	__be32 flags; /* 0x08000000: VNI valid */
	__be32 vni; /* VNI << 8 */
} __packed;

/* ICMP / ICMPv6 echo. */
struct icmp_echo_hdr {
	__u8 type;
	__u8 code;
	__be16 checksum;
	__be16 id;
	__be16 seq;
} __packed;

struct pkt {
	__u8 data[PKT_MAX_LEN];
	size_t len;
	bool overflow; /* a header did not fit: the packet is unusable */
	/* The field the next header's protocol goes into. */
	size_t link_off;
	int link_kind; /* PKT_LINK_* */
	int last_ip; /* 4 or 6: family of the innermost IP header so far */
	int nfixups;
	struct {
		size_t off; /* start of the header */
		int kind; /* PKT_FIX_* */
	} fixups[PKT_MAX_LEN_FIXUPS];
	/* Where each header starts, in the order the pkt_*() calls added them. */
	int nhdrs;
	size_t hdr_off[PKT_MAX_HDRS];
};

void pkt_init(struct pkt *p);
/* Ethernet; the type is set by the next header. */
void pkt_eth(struct pkt *p);
/* A VLAN tag after Ethernet (or another tag); tpid ETH_P_8021Q or ETH_P_8021AD. */
void pkt_vlan(struct pkt *p, __u16 tpid, __u16 vid);
/* IPv4 with opt_len bytes of options (multiple of 4: NOPs and an EOL). */
void pkt_ipv4_opts(struct pkt *p, const char *saddr, const char *daddr, size_t opt_len,
		   __u16 frag_off);
void pkt_ipv4(struct pkt *p, const char *saddr, const char *daddr);
void pkt_ipv6(struct pkt *p, const char *saddr, const char *daddr);
/* An IPv6 extension header (IPPROTO_HOPOPTS, _ROUTING, _DSTOPTS) of len bytes (n * 8). */
void pkt_ipv6_ext(struct pkt *p, __u8 type, size_t len);
/* An IPv6 fragment header: offset in bytes (multiple of 8), more fragments or not. */
void pkt_ipv6_frag(struct pkt *p, __u16 offset, bool more);
void pkt_tcp(struct pkt *p, __u16 sport, __u16 dport, __u8 flags);
/* TCP with the 12-byte NOP NOP timestamp option of an established Linux flow. */
void pkt_tcp_ts(struct pkt *p, __u16 sport, __u16 dport, __u8 flags);
void pkt_udp(struct pkt *p, __u16 sport, __u16 dport);
/* ICMP echo request after IPv4, ICMPv6 echo request after IPv6. */
void pkt_icmp_echo(struct pkt *p);
void pkt_vxlan(struct pkt *p, __u32 vni);
/* An ARP request (after Ethernet or a VLAN tag). */
void pkt_arp(struct pkt *p);
void pkt_payload(struct pkt *p, size_t len);
/* Fill in the length fields. Returns 0, or -1 when the packet overflowed. */
int pkt_finish(struct pkt *p);

/* An address as the prefixes trie stores it: IPv4-mapped for IPv4. */
int addr_to_key(const char *addr, __u8 out[16]);

#endif /* __WARMPATH_PACKET_BUILDER_H */
