/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The per-peer fields of the pinned `peers` map (struct peer_state in
 * warmpath.h), written once. User space generates from this table the peer
 * objects of `/peers` and of `warmpath status --json` (one function builds the
 * map-derived part of both) and the per-peer metrics that map one to one.
 *
 *   X(field, kind, json, metric, help)
 *     field   member of struct peer_state
 *     kind    COUNTER (monotonic u64, JSON integer), STAMP (CLOCK_MONOTONIC ns;
 *             JSON: seconds since, null for never), COLD (cold_since_ns; JSON
 *             true while the peer is cold), SPAN (a duration in ns; JSON
 *             seconds, null for none), SOURCE (WP_IVS_*; JSON its name), FLAG
 *             (0/1; JSON boolean)
 *     json    its key in the peer objects
 *     metric  the Prometheus counter {peer} it is exported as, or NULL when the
 *             metric is not one to one (packets/bytes carry direction/kind labels)
 *     help    what the field counts
 *
 * No includes: like warmpath.h it compiles against vmlinux.h (BPF) and UAPI
 * headers (user space); the caller provides __u64.
 */
#ifndef __WARMPATH_PEER_SCHEMA_H
#define __WARMPATH_PEER_SCHEMA_H

#define WP_PEER_STATE_FIELDS(X)                                                                    \
	X(tx_packets, COUNTER, "tx_packets", NULL, "Packets to the peer (workload and probes)")    \
	X(rx_packets, COUNTER, "rx_packets", NULL, "Packets from the peer (workload and probes)")  \
	X(tx_bytes, COUNTER, "tx_bytes", NULL, "Bytes to the peer")                                \
	X(rx_bytes, COUNTER, "rx_bytes", NULL, "Bytes from the peer")                              \
	X(tx_probe_packets, COUNTER, "tx_probe_packets", NULL,                                     \
	  "Of tx_packets: warmpath probe traffic")                                                 \
	X(rx_probe_packets, COUNTER, "rx_probe_packets", NULL,                                     \
	  "Of rx_packets: warmpath probe traffic")                                                 \
	X(tx_probe_bytes, COUNTER, "tx_probe_bytes", NULL, "Of tx_bytes: warmpath probe traffic")  \
	X(rx_probe_bytes, COUNTER, "rx_probe_bytes", NULL, "Of rx_bytes: warmpath probe traffic")  \
	X(last_tx_ns, STAMP, "last_tx_seconds_ago", NULL, "When the last packet to the peer went") \
	X(last_rx_ns, STAMP, "last_rx_seconds_ago", NULL,                                          \
	  "When the last packet from the peer came")                                               \
	X(cold_starts, COUNTER, "cold_starts", "warmpath_cold_starts_total",                       \
	  "First packets to or from a peer after an idle gap of --cold-threshold")                 \
	X(first_packet_drops, COUNTER, "first_packet_drops", "warmpath_first_packet_drops_total",  \
	  "TCP SYNs retransmitted during a cold start: the first one was lost")                    \
	X(syn_retransmits, COUNTER, "syn_retransmits", "warmpath_syn_retransmits_total",           \
	  "TCP SYNs retransmitted on a warm path")                                                 \
	X(cold_since_ns, COLD, "cold", NULL, "The peer is cold: a packet went, no answer yet")     \
	X(kernel_drops, COUNTER, "kernel_drops", "warmpath_peer_kernel_drops_total",               \
	  "Kernel drops (kfree_skb) on watched interfaces attributed to the peer")                 \
	X(lifetime_lower_ns, SPAN, "passive_lower_seconds", NULL,                                  \
	  "Passive evidence: the longest idle gap a cold start survived clean")                    \
	X(lifetime_upper_ns, SPAN, "passive_upper_seconds", NULL,                                  \
	  "Passive evidence: the shortest idle gap after which the first packet was lost or "      \
	  "went unanswered")                                                                       \
	X(probes_bypassed, COUNTER, "probes_bypassed", NULL,                                       \
	  "Keep-alive probes that crossed no watched device: they keep nothing warm")              \
	X(learned_lower_ns, SPAN, "lifetime_lower_seconds", NULL,                                  \
	  "The path's lifetime is at least this: the gap trials survived both ways, else the "     \
	  "passive lower bound")                                                                   \
	X(interval_source, SOURCE, "interval_source", NULL,                                        \
	  "Where the interval comes from: default, passive, trial or wireguard")                   \
	X(learned_upper_ns, SPAN, "lifetime_upper_seconds", NULL,                                  \
	  "At most this: the shortest gap a trial or a cold start did not survive")                \
	X(lifetime_trials, COUNTER, "lifetime_trials", NULL, "Lifetime trials with the peer")      \
	X(keepalive_interval_ns, SPAN, "keepalive_interval_seconds", NULL,                         \
	  "The keep-alive interval in use for the peer")                                           \
	X(lifetime_converged, FLAG, "lifetime_converged", NULL, "The lifetime search has finished")

/* peer_state.interval_source */
#define WP_IVS_DEFAULT 0 /* no evidence: --keepalive-interval, or auto's MIN */
#define WP_IVS_PASSIVE 1 /* a first packet lost after a gap the learned lifetime covered */
#define WP_IVS_TRIAL 2 /* a margin below the lifetime learned by trials */
#define WP_IVS_WIREGUARD 3 /* WireGuard's PersistentKeepalive holds the pair */

static inline const char *wp_interval_source_name(__u64 src)
{
	switch (src) {
	case WP_IVS_PASSIVE:
		return "passive";
	case WP_IVS_TRIAL:
		return "trial";
	case WP_IVS_WIREGUARD:
		return "wireguard";
	default:
		return "default";
	}
}

/*
 * When the pair last carried a packet either way (CLOCK_MONOTONIC ns; 0: never):
 * the one "idle since" of the datapath's cold-start test, the keep-alive
 * decision, /peers, status and the idle metric.
 */
static inline __attribute__((always_inline)) __u64 wp_idle_since_ns(__u64 last_tx_ns,
								    __u64 last_rx_ns)
{
	return last_tx_ns > last_rx_ns ? last_tx_ns : last_rx_ns;
}

#endif /* __WARMPATH_PEER_SCHEMA_H */
