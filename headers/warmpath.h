/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Types shared by the BPF datapath and the user-space agent: the single source
 * of truth for every map key and value layout. Plain fixed-width types only, no
 * includes, so the same file compiles against vmlinux.h and against UAPI headers.
 */
#ifndef __WARMPATH_H
#define __WARMPATH_H

#define WP_PEER_NAME_LEN 64
#define WP_MAX_PEERS 8192 /* peers array: one slot per peer node */
#define WP_MAX_PREFIXES 65536 /* prefix LPM trie: addresses and CIDRs of peers */
#define WP_MAX_IFACES 64 /* watched interfaces */
#define WP_MAX_UNMATCHED 4096 /* LRU of addresses that matched no peer */
#define WP_MAX_FLOWS 65536 /* LRU of TCP flows (SYN tracking) */
#define WP_RINGBUF_BYTES (256 * 1024)

#define WP_DEFAULT_PROBE_PORT 9050
#define WP_VXLAN_PORT_IANA 4789
#define WP_VXLAN_PORT_LINUX 8472
#define WP_WIREGUARD_PORT 51820

/* iface_cfg.flags */
#define WP_IF_L2 0x1 /* frames start with an Ethernet header (veth, vxlan) */
#define WP_IF_UNDERLAY 0x2 /* underlay: WireGuard UDP handshake observation only */
#define WP_IF_TUNNEL 0x4 /* tunnel / WireGuard device: per-peer accounting */

/* iface_cfg.attach_mode: how user space attached the programs (for status, cleanup) */
#define WP_ATTACH_NONE 0
#define WP_ATTACH_TCX 1
#define WP_ATTACH_TC 2

#define WP_IFNAME_LEN 16

enum wp_direction {
	WP_DIR_TX = 0,
	WP_DIR_RX = 1,
};

/* Key of the `ifaces` hash map: the ifindex. */
struct iface_cfg {
	__u32 flags; /* WP_IF_* */
	__u32 slot; /* dense index of the interface, 0..WP_MAX_IFACES-1 */
	__u32 attach_mode; /* WP_ATTACH_*; read by user space only */
	char name[WP_IFNAME_LEN];
};

/*
 * Key of the `prefixes` LPM trie. IPv4 addresses are stored IPv4-mapped
 * (::ffff:a.b.c.d) with prefixlen + 96, so one trie serves both families.
 */
struct prefix_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Value of the `prefixes` trie: the peer's slot in the `peers` array. */
struct prefix_val {
	__u32 peer_id;
};

/*
 * Value of the `peers` array (key: peer id). User space writes `name` (and
 * zero counters) when it creates a peer; the datapath only adds and stamps.
 * tx_packets / rx_packets count every packet; the *_probe_* fields count the
 * subset that was warmpath probe traffic (UDP to or from the probe port).
 */
struct peer_state {
	char name[WP_PEER_NAME_LEN];
	__u64 tx_packets;
	__u64 rx_packets;
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u64 tx_probe_packets;
	__u64 rx_probe_packets;
	__u64 tx_probe_bytes;
	__u64 rx_probe_bytes;
	__u64 last_tx_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 last_rx_ns;
	__u64 cold_starts;
	__u64 first_packet_drops;
	__u64 syn_retransmits;
	__u64 cold_since_ns; /* non-zero while the peer is cold (no answer yet) */
};

/* Key of the `unmatched` LRU: an address (IPv4-mapped for IPv4). */
struct addr_key {
	__u8 addr[16];
};

struct unmatched_state {
	__u64 tx_packets;
	__u64 rx_packets;
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u64 last_seen_ns;
	__u32 ifindex;
	__u32 pad;
};

/* Indexes of the per-CPU `stats` array: datapath self-accounting. */
enum wp_stat {
	WP_STAT_PACKETS = 0, /* packets seen on tunnel interfaces */
	WP_STAT_MATCHED, /* attributed to a peer */
	WP_STAT_UNMATCHED, /* IP packets whose address matched no peer */
	WP_STAT_NON_IP, /* not IPv4/IPv6 (ARP, LLDP, ...) */
	WP_STAT_MALFORMED, /* truncated or inconsistent headers */
	WP_STAT_ENCAP_IPIP, /* IPv4/IPv6 in IPv4/IPv6 */
	WP_STAT_ENCAP_VXLAN, /* VXLAN (UDP to a VXLAN port) */
	WP_STAT_PROBE, /* probe traffic (UDP to/from the probe port) */
	WP_STAT_NO_IFACE, /* program ran on an interface with no config */
	WP_STAT_UNMATCHED_FULL, /* could not insert into the unmatched LRU */
	WP_STAT_MAX,
};

#endif /* __WARMPATH_H */
