/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * WireGuard in user space (wg_read.c reads and names, wg_present.c presents):
 * the metrics and JSON built from the datapath's
 * `wg_endpoints` LRU (handshakes seen on the underlay, bpf/wireguard.bpf.h)
 * joined with the peer list of the wireguard-go UAPI client (wg_uapi.h).
 *
 * Peers are named through struct wg_names: the agent's map slot -> name
 * callback, and the `prefixes` trie to find the slot of an address (an
 * endpoint, or a wireguard-go peer's allowed IPs). With the trie, an endpoint
 * the datapath saw before its peer was configured is still named; without it
 * the slot the datapath stored (wg_endpoint_state.peer_id - 1) is used.
 *
 * Scrape:
 *	struct wg_device *devs = NULL;
 *	int n = wg_devices_from_ifaces(ifaces_fd, &devs); (outside any lock: up to 1 s a device)
 *	struct wg_names names = { .peer_name = cb, .ctx = a, .prefixes_fd = fd };
 *	wg_emit_metrics_all(wg_endpoints_fd, &names, devs, n, b);
 *	wg_devices_free(devs, n);
 */
#ifndef __WARMPATH_WIREGUARD_H
#define __WARMPATH_WIREGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>
#include <linux/types.h>
#include "peers.h"
#include "prom.h"
#include "warmpath.h"
#include "wg_uapi.h"

/* Endpoint rows exported per scrape; the rest sum into peer="_other",endpoint="_other". */
#define WG_MAX_ENDPOINT_SERIES 256
/* wireguard-go peers exported per scrape (last-handshake gauges); the rest are left out. */
#define WG_MAX_UAPI_PEER_SERIES 1024
/*
 * An initiation still unanswered this long counts as unanswered although no
 * retry followed (WireGuard retries after REKEY_TIMEOUT 5 s + up to 1/3 s of
 * jitter, and stops after 90 s: the last one is never followed by a retry).
 */
#define WG_UNANSWERED_AFTER_NS 6000000000ull

struct wg_names {
	/* name of the peer in slot peer_id of the `peers` array, or NULL; copied at once */
	const char *(*peer_name)(void *ctx, __u32 peer_id);
	void *ctx;
	int prefixes_fd; /* the `prefixes` LPM trie; -1: none */
};

/*
 * From the `wg_endpoints` map, per (peer, endpoint):
 *	warmpath_wireguard_handshakes_total{peer,endpoint,direction="initiated|received",
 *					    result="completed|unanswered"}
 *	warmpath_wireguard_handshake_initiations_total{peer,endpoint,direction}
 *	warmpath_wireguard_cookies_total{peer,endpoint,direction="tx|rx"}
 *	warmpath_wireguard_handshake_rtt_seconds{peer,endpoint} (histogram)
 *	warmpath_wireguard_malformed_total
 * peer: the peer's name, "_unknown" when none. Endpoints that only sent
 * malformed datagrams count in malformed_total only. Returns prom_buf_error().
 */
int wg_emit_metrics(int wg_endpoints_fd, const char *(*peer_name)(void *ctx, __u32 peer_id),
		    void *ctx, struct prom_buf *b);
/*
 * The same with names (prefixes trie) and wireguard-go devices (endpoints
 * named through a device peer's allowed IPs), plus per device peer:
 *	warmpath_wireguard_peer_last_handshake_seconds{interface,peer,public_key,endpoint}
 *		(age; +Inf: never)
 *	warmpath_wireguard_uapi_up{interface} (1: the peer list was read)
 */
int wg_emit_metrics_all(int wg_endpoints_fd, const struct wg_names *names,
			const struct wg_device *devs, int ndevs, struct prom_buf *b);

/*
 * {"endpoints":[{peer, endpoint, public_key, initiated:{initiations, completed,
 * unanswered, pending}, received:{...}, cookies_tx, cookies_rx, malformed,
 * rtt_count, rtt_mean_seconds, last_handshake_seconds_ago}],
 * "devices":[{interface, listen_port, error, peers:[{public_key, peer,
 * endpoint, last_handshake_seconds_ago, rx_bytes, tx_bytes,
 * persistent_keepalive_interval, allowed_ips}]}], "malformed": N}.
 * Unknown values are null. wg_endpoints_fd may be -1 (no endpoints). NULL on ENOMEM.
 */
json_t *wg_status_json(int wg_endpoints_fd, const struct wg_names *names,
		       const struct wg_device *devs, int ndevs);
/*
 * The same from the pins under pin_path (wg_endpoints, peers, prefixes,
 * ifaces) and the UAPI sockets of the pinned interfaces: for `warmpath status`.
 * NULL with a message in err when wg_endpoints is not pinned there.
 */
json_t *wg_status_json_from_pins(const char *pin_path, char *err, size_t errlen);
/* The WireGuard section of the `warmpath status` table; prints nothing for an empty one. */
void wg_status_print(const json_t *wg, FILE *f);

/*
 * The WireGuard devices among @ifnames (duplicates read once), sorted by
 * name: wireguard-go ones over their UAPI socket (wg_uapi.h), kernel ones
 * over generic netlink (wg_netlink.h). Interfaces that are neither are
 * skipped; a peer whose endpoint changed since the last read is counted
 * (wg_read_stats) and logged; a device whose query failed is kept with err and
 * error set. Returns the count (and *devs, NULL when 0) or -ENOMEM.
 */
int wg_devices_read(const char *const *ifnames, int n, struct wg_device **devs);
/* wg_devices_read() of the interfaces in the `ifaces` map (the agent's, or pinned). */
int wg_devices_from_ifaces(int ifaces_fd, struct wg_device **devs);

/* Where a device's peers were read from: the `source` label. */
enum wg_source { WG_SOURCE_UAPI, WG_SOURCE_NETLINK, WG_SOURCE_MAX };
extern const char *const wg_source_names[WG_SOURCE_MAX];

/* Counted by every wg_devices_read() of this process. */
struct wg_read_stats {
	__u64 read_errors[WG_SOURCE_MAX]; /* device reads that failed (malformed, timeout...) */
	__u64 endpoint_changes; /* a peer's endpoint differed from the one read before */
};
void wg_read_stats(struct wg_read_stats *st);
void wg_read_stats_add_error(enum wg_source src);

/* Helpers, exported for the tests. */
/* "a.b.c.d:port" or "[v6]:port" of an IPv4-mapped address and a host-order port. */
void wg_format_endpoint(const __u8 addr[16], __u16 port, char *buf, size_t len);

#endif /* __WARMPATH_WIREGUARD_H */
