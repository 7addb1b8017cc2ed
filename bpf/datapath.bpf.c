// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * warmpath datapath: tc / tcx programs for the ingress and egress of tunnel and
 * WireGuard interfaces. They find the peer node of every packet (outer address
 * of encapsulated traffic, the only address otherwise) and account it in the
 * `peers` array. They observe only: every path returns TC_ACT_UNSPEC (-1, which
 * is also TCX_NEXT), so the chain continues for whatever else is attached.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "parsing.bpf.h"
#include "warmpath.h"

#define TC_ACT_UNSPEC (-1)
/* Headers we may need to see in the linear area: eth+vlan, ip, ip, udp, vxlan, eth, ip, tcp. */
#define WP_PULL_LEN 256

/* Set by the loader before load. */
const volatile __u16 probe_port = WP_DEFAULT_PROBE_PORT;
const volatile __u16 vxlan_port_a = WP_VXLAN_PORT_IANA;
const volatile __u16 vxlan_port_b = WP_VXLAN_PORT_LINUX;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WP_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct iface_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, WP_MAX_PREFIXES);
	__type(key, struct prefix_key);
	__type(value, struct prefix_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WP_MAX_PEERS);
	__type(key, __u32);
	__type(value, struct peer_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WP_MAX_UNMATCHED);
	__type(key, struct addr_key);
	__type(value, struct unmatched_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} unmatched SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

/* What the parser learned about one packet. */
struct pkt_info {
	struct addr_key saddr; /* of the first (outer) IP header */
	struct addr_key daddr;
	__u16 sport; /* innermost transport ports, host order */
	__u16 dport;
	__u8 l4proto; /* innermost IP protocol */
	__u8 l4_ok; /* transport header present and parsed */
};

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

static __always_inline bool is_vxlan_port(__u16 port)
{
	return port == vxlan_port_a || port == vxlan_port_b;
}

/*
 * Innermost transport header: ports for UDP and TCP, nothing for the rest.
 * Returns 0, or -1 when a header that must be there is truncated.
 */
static __always_inline int parse_l4(struct hdr_cursor *c, void *end, int proto, struct pkt_info *pi)
{
	struct tcphdr *tcph;

	pi->l4proto = proto;
	if (!pi->l4_ok)
		return 0;
	if (proto == IPPROTO_UDP)
		return parse_udphdr(c, end, &pi->sport, &pi->dport) < 0 ? -1 : 0;
	if (proto == IPPROTO_TCP) {
		if (parse_tcphdr(c, end, &tcph) < 0)
			return -1;
		pi->sport = bpf_ntohs(tcph->source);
		pi->dport = bpf_ntohs(tcph->dest);
	}
	return 0;
}

/*
 * Parse from the first IP header to the innermost transport header, through at
 * most one encapsulation: IP-in-IP (4 / 41) or VXLAN with its inner Ethernet.
 * Returns 0 on success, -1 for a malformed packet.
 */
static __always_inline int parse_packet(struct hdr_cursor *c, void *end, int eth_type,
					struct pkt_info *pi)
{
	bool l4_ok = false;
	__u16 sport, dport;
	int proto;

	proto = parse_ip(c, end, eth_type, pi->saddr.addr, pi->daddr.addr, &l4_ok);
	if (proto < 0)
		return -1;
	pi->l4_ok = l4_ok;

	if (l4_ok && (proto == IPPROTO_IPIP || proto == IPPROTO_IPV6)) {
		stat_inc(WP_STAT_ENCAP_IPIP);
		proto = parse_ip(c, end, proto == IPPROTO_IPIP ? ETH_P_IP : ETH_P_IPV6, NULL, NULL,
				 &l4_ok);
		if (proto < 0)
			return -1;
		pi->l4_ok = l4_ok;
		return parse_l4(c, end, proto, pi);
	}

	if (l4_ok && proto == IPPROTO_UDP) {
		if (parse_udphdr(c, end, &sport, &dport) < 0)
			return -1;
		if (!is_vxlan_port(dport)) {
			pi->l4proto = IPPROTO_UDP;
			pi->sport = sport;
			pi->dport = dport;
			return 0;
		}
		/* VXLAN: 8-byte header, inner Ethernet (maybe tagged), inner IP. */
		stat_inc(WP_STAT_ENCAP_VXLAN);
		if (c->pos + VXLAN_HLEN > end)
			return -1;
		c->pos += VXLAN_HLEN;
		eth_type = parse_ethhdr(c, end);
		if (eth_type < 0)
			return -1;
		if (eth_type != ETH_P_IP && eth_type != ETH_P_IPV6) {
			pi->l4proto = 0; /* inner ARP and such: account, no transport */
			pi->l4_ok = 0;
			return 0;
		}
		proto = parse_ip(c, end, eth_type, NULL, NULL, &l4_ok);
		if (proto < 0)
			return -1;
		pi->l4_ok = l4_ok;
	}
	return parse_l4(c, end, proto, pi);
}

static __always_inline void account_unmatched(struct addr_key *addr, __u32 ifindex, int dir,
					      __u64 len, __u64 now)
{
	struct unmatched_state *u, init = {};

	u = bpf_map_lookup_elem(&unmatched, addr);
	if (!u) {
		/* First packet of this address only: later packets hit the lookup. */
		init.ifindex = ifindex;
		if (bpf_map_update_elem(&unmatched, addr, &init, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&unmatched, addr)) {
			stat_inc(WP_STAT_UNMATCHED_FULL);
			return;
		}
		u = bpf_map_lookup_elem(&unmatched, addr);
		if (!u)
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

static __always_inline void account_peer(struct peer_state *ps, int dir, __u64 len, bool probe,
					 __u64 now)
{
	if (dir == WP_DIR_TX) {
		__sync_fetch_and_add(&ps->tx_packets, 1);
		__sync_fetch_and_add(&ps->tx_bytes, len);
		if (probe) {
			__sync_fetch_and_add(&ps->tx_probe_packets, 1);
			__sync_fetch_and_add(&ps->tx_probe_bytes, len);
		}
		ps->last_tx_ns = now;
	} else {
		__sync_fetch_and_add(&ps->rx_packets, 1);
		__sync_fetch_and_add(&ps->rx_bytes, len);
		if (probe) {
			__sync_fetch_and_add(&ps->rx_probe_packets, 1);
			__sync_fetch_and_add(&ps->rx_probe_bytes, len);
		}
		ps->last_rx_ns = now;
	}
}

static __always_inline int handle_skb(struct __sk_buff *skb, int dir)
{
	__u32 ifindex = skb->ifindex, linear;
	struct pkt_info pi = {};
	struct iface_cfg *cfg;
	struct prefix_key key;
	struct prefix_val *pv;
	struct peer_state *ps;
	struct hdr_cursor c;
	struct addr_key *peer_addr;
	void *data, *end;
	bool probe;
	__u64 now;
	int eth_type;

	cfg = bpf_map_lookup_elem(&ifaces, &ifindex);
	if (!cfg) {
		stat_inc(WP_STAT_NO_IFACE);
		return TC_ACT_UNSPEC;
	}
	if (!(cfg->flags & WP_IF_TUNNEL))
		return TC_ACT_UNSPEC;
	stat_inc(WP_STAT_PACKETS);

	/* Headers split into fragments (GSO, tun frags): pull just the headers in. */
	linear = skb->data_end - skb->data;
	if (linear < WP_PULL_LEN && skb->len > linear)
		bpf_skb_pull_data(skb, skb->len < WP_PULL_LEN ? skb->len : WP_PULL_LEN);

	/*
	 * Verifier: without this barrier clang keeps &skb->data from the length
	 * check above in a register, and the verifier refuses loads through a
	 * modified ctx pointer.
	 */
	asm volatile("" : "+r"(skb));
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	c.pos = data;

	/* L2 devices (vxlan, veth) carry Ethernet; L3 devices (wg, tun, tunl0) start at IP. */
	if (cfg->flags & WP_IF_L2)
		eth_type = parse_ethhdr(&c, end);
	else
		eth_type = bpf_ntohs(skb->protocol);
	if (eth_type < 0) {
		stat_inc(WP_STAT_MALFORMED);
		return TC_ACT_UNSPEC;
	}
	if (eth_type != ETH_P_IP && eth_type != ETH_P_IPV6) {
		stat_inc(WP_STAT_NON_IP);
		return TC_ACT_UNSPEC;
	}
	if (parse_packet(&c, end, eth_type, &pi) < 0) {
		/* A truncated packet still has its outer address when that header was whole. */
		stat_inc(WP_STAT_MALFORMED);
		return TC_ACT_UNSPEC;
	}

	now = bpf_ktime_get_ns();
	peer_addr = dir == WP_DIR_TX ? &pi.daddr : &pi.saddr;
	key.prefixlen = 128;
	__builtin_memcpy(key.addr, peer_addr->addr, 16);
	pv = bpf_map_lookup_elem(&prefixes, &key);
	if (!pv) {
		stat_inc(WP_STAT_UNMATCHED);
		account_unmatched(peer_addr, ifindex, dir, skb->len, now);
		return TC_ACT_UNSPEC;
	}
	ps = bpf_map_lookup_elem(&peers, &pv->peer_id);
	if (!ps)
		return TC_ACT_UNSPEC;

	probe = pi.l4_ok && pi.l4proto == IPPROTO_UDP &&
		(pi.dport == probe_port || pi.sport == probe_port);
	if (probe)
		stat_inc(WP_STAT_PROBE);
	stat_inc(WP_STAT_MATCHED);
	account_peer(ps, dir, skb->len, probe, now);
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
