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
#define WP_MAX_IFINDEX 65536 /* if_flags array: the datapath's per-ifindex flags */
#define WP_MAX_WG_ENDPOINTS 4096 /* LRU of WireGuard endpoints seen on the underlay */
#define WP_MAX_DROP_KEYS 4096 /* (ifindex, reason) pairs of kernel drops */

/*
 * Histograms kept in BPF: per-bucket (not cumulative) counts with these upper
 * bounds in ns, the same 1-2.5-5 ladder as the exported Prometheus histograms
 * (user/prom.c); the last slot counts what is above 10 s.
 */
#define WP_HIST_BOUNDS 16
#define WP_HIST_SLOTS (WP_HIST_BOUNDS + 1)
#define WP_HIST_BOUNDS_NS                                                                         \
	{                                                                                         \
		100000ull, 250000ull, 500000ull, 1000000ull, 2500000ull, 5000000ull, 10000000ull, \
			25000000ull, 50000000ull, 100000000ull, 250000000ull, 500000000ull,       \
			1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull               \
	}

#define WP_DEFAULT_PROBE_PORT 9050
#define WP_VXLAN_PORT_IANA 4789
#define WP_VXLAN_PORT_LINUX 8472
#define WP_WIREGUARD_PORT 51820

/* iface_cfg.flags */
#define WP_IF_L2 0x1 /* frames start with an Ethernet header (veth, vxlan) */
#define WP_IF_UNDERLAY 0x2 /* underlay: WireGuard UDP handshake observation only */
#define WP_IF_TUNNEL 0x4 /* tunnel / WireGuard device: per-peer accounting */
/*
 * A tunnel device stacked on another watched device (IPIP / VXLAN whose
 * underlay goes through a watched WireGuard device): its packets are seen
 * again on that device, so they count in its per-interface counters only, not
 * in the per-peer totals (one count per packet). Set by user space.
 */
#define WP_IF_STACKED 0x8
/* if_flags values (not iface_cfg.flags): bits 16..23 the interface's slot */
#define WP_IF_SLOT_SHIFT 16
#define WP_IF_FLAGS_MASK 0xffff

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
 * Value of the `peers` array (key: peer id), BPF_F_MMAPABLE. User space writes
 * `name` (and zero counters) when it creates a peer. The packet and byte
 * counters and last_tx_ns / last_rx_ns are written by the agent at each tick,
 * folded from the per-CPU `peer_counters` (the datapath writes nothing shared
 * per packet): the stamps are the tick at which the counters were seen to
 * move. The datapath writes cold_since_ns, cold_starts, first_packet_drops,
 * syn_retransmits (and the drop tracer kernel_drops), atomically, and clears
 * cold_armed_ns. tx_packets / rx_packets count every packet; the *_probe_*
 * fields count the subset that was warmpath probe traffic.
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
	/*
	 * Non-zero while the peer is cold: when the cold packet went (ns; bit 0
	 * the direction of that packet, WP_DIR_*; bit 1 WP_COLD_TCP when it was
	 * TCP); cleared by the first packet the other way (the answer).
	 */
	__u64 cold_since_ns;
	__u64 kernel_drops; /* kfree_skb on a watched interface, attributed to this peer */
	/*
	 * Set by the agent when the peer's counters have not moved for the cold
	 * threshold: the idle-since of the pair (ns, non-zero). The first packet
	 * either way takes it with one compare-and-swap and starts the cold
	 * period (cold_since_ns): the datapath reads a clock only there.
	 */
	__u64 cold_armed_ns;
	/*
	 * The idle gap before the last cold start (ns; written by the datapath
	 * at the cold start), bit 0 set by the datapath when that cold start
	 * lost a first packet. The agent judges each cold start once
	 * (cold_judged: the cold_starts count judged) and keeps the bounds of
	 * the path's lifetime: lifetime_lower_ns the longest gap that ended
	 * clean, lifetime_upper_ns the shortest that lost its first packet or
	 * went unanswered (0: no evidence yet).
	 */
	__u64 cold_gap_ns;
	__u64 cold_judged;
	__u64 lifetime_lower_ns;
	__u64 lifetime_upper_ns;
	/*
	 * Written by the agent, never by BPF: keep-alive probes sent to the peer
	 * that crossed no watched device (the peer's probe counters did not move),
	 * so `warmpath status` shows them after the agent is gone too.
	 */
	__u64 probes_bypassed;
	/*
	 * Written by the agent: the lifetime it uses (learned_*: trials, else
	 * the passive bounds above), the keep-alive interval that follows and
	 * where it comes from (WP_IVS_*), trials run, search finished (0/1).
	 */
	__u64 learned_lower_ns;
	__u64 learned_upper_ns;
	__u64 keepalive_interval_ns;
	__u64 interval_source;
	__u64 lifetime_trials;
	__u64 lifetime_converged;
	/*
	 * Written by the agent, read by the datapath: non-zero while a lifetime
	 * trial holds the pair's keep-alives (and for the hit window after it),
	 * when every SYN to the peer is tracked, not only the sampled ones, so
	 * that each first packet a trial met is counted.
	 */
	__u64 syn_watch;
};

/*
 * Value of the per-CPU `peer_counters` array (same index as `peers`): what
 * the datapath counts per packet, on the CPU that saw it, indexed by WP_DIR_*.
 */
struct peer_counters {
	__u64 packets[2];
	__u64 bytes[2];
	__u64 probe_packets[2];
	__u64 probe_bytes[2];
};

/* Value of the per-CPU `iface_counters` array (key: ifindex): per-device detail. */
struct iface_counters {
	__u64 packets[2];
	__u64 bytes[2];
};

#define WP_COLD_TCP 0x2 /* peer_state.cold_since_ns: the cold packet was TCP */

struct wp_hist {
	__u64 slots[WP_HIST_SLOTS];
	__u64 sum_ns;
	__u64 count;
};

/* Value of the `peer_hists` array (same index as `peers`): read at scrape time only. */
struct peer_hists {
	struct wp_hist syn_rtt; /* SYN at egress -> SYN-ACK at ingress */
	struct wp_hist cold_recovery; /* cold packet -> first answer */
};

/*
 * Key of the `flows` LRU: a TCP connection this node opened, as its SYN left
 * (local address and port first). Innermost addresses, IPv4-mapped.
 */
struct flow_key {
	__u8 local[16];
	__u8 remote[16];
	__u16 local_port;
	__u16 remote_port;
	__u32 pad;
};

struct flow_state {
	__u64 first_syn_ns;
	__u64 last_syn_ns;
	__u32 syn_seq;
	__u32 peer_id;
	__u32 syn_count; /* transmissions of this SYN */
	__u8 cold; /* the peer was cold when the SYN first left */
	__u8 answered; /* SYN-ACK seen */
	__u16 pad;
	/*
	 * The interface that saw the SYN first. A SYN crosses every watched
	 * device on its way (the VXLAN device, then the WireGuard device that
	 * carries it): only sightings on this one count transmissions.
	 */
	__u32 ifindex;
	__u32 pad2;
};

/* Events through the `events` ring buffer. */
enum wp_event_type {
	WP_EV_COLD_START = 1,
	WP_EV_FIRST_PACKET_DROP = 2,
	WP_EV_SYN_RETRANSMIT = 3,
	WP_EV_COLD_UNANSWERED = 4, /* raised by user space, not the datapath */
	WP_EV_MAX,
};

struct wp_event {
	__u64 ts_ns;
	__u32 type; /* enum wp_event_type */
	__u32 peer_id;
	__u32 ifindex;
	__u8 dir; /* WP_DIR_* of the packet */
	__u8 l4proto;
	__u16 pad;
	__u8 saddr[16]; /* innermost addresses, IPv4-mapped */
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 syn_count;
	__u64 value_ns; /* cold start: idle gap; drop: time since the first SYN */
};

/* Key of the `drops` hash: kernel drops on a watched interface by reason. */
struct drop_key {
	__u32 ifindex;
	__u32 reason; /* enum skb_drop_reason of the running kernel (names from its BTF) */
};

/* Key of the `wg_endpoints` LRU: the remote end of WireGuard UDP on the underlay. */
struct wg_endpoint_key {
	__u8 addr[16]; /* IPv4-mapped for IPv4 */
	__u16 port;
	__u16 pad;
	__u32 ifindex;
};

/* WireGuard message types (first byte of the UDP payload). */
#define WG_MSG_INITIATION 1
#define WG_MSG_RESPONSE 2
#define WG_MSG_COOKIE 3
#define WG_MSG_DATA 4
#define WG_LEN_INITIATION 148
#define WG_LEN_RESPONSE 92
#define WG_LEN_COOKIE 64
#define WG_LEN_DATA_MIN 32

/*
 * Per endpoint and direction of initiation ([WP_DIR_TX]: this node initiated,
 * [WP_DIR_RX]: the remote did). An initiation is pending until the response
 * that names its sender index; a new initiation while one is pending means the
 * earlier one went unanswered (WireGuard retries after 5 s).
 */
struct wg_side {
	__u64 initiations;
	__u64 completed;
	__u64 unanswered;
	__u64 pending_ns;
	__u32 pending_index;
	__u32 pad;
};

struct wg_endpoint_state {
	struct wg_side side[2];
	__u64 cookies_tx;
	__u64 cookies_rx;
	__u64 malformed;
	__u64 last_handshake_ns; /* last completed handshake either way */
	__u32 peer_id; /* peer of the endpoint address + 1; 0: none */
	__u32 pad;
	struct wp_hist rtt; /* our initiation -> its response */
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
	WP_STAT_SYN, /* TCP SYNs tracked at egress */
	WP_STAT_SYNACK, /* SYN-ACKs matched to a tracked SYN */
	WP_STAT_WG_HANDSHAKE, /* WireGuard handshake messages on the underlay */
	WP_STAT_WG_MALFORMED, /* WireGuard-port UDP that was not a WireGuard message */
	WP_STAT_EVENTS_LOST, /* ring buffer full */
	WP_STAT_BAD_PEER_ID, /* a prefix pointing outside the peers array */
	WP_STAT_MAX,
};

#endif /* __WARMPATH_H */
