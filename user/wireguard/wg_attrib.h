/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Attribution through WireGuard: which warmpath peer a WireGuard peer
 * (kernel or wireguard-go) belongs to, its allowed IPs as prefixes of that
 * peer, the underlay interface(s) that carry the WireGuard endpoints, and
 * the peers WireGuard's persistent keepalive already holds open.
 *
 * A WireGuard peer belongs to the warmpath peer that carries its public key
 * (from a Kubernetes node annotation: Calico's, Cilium's), else to the one whose probe address or
 * prefixes lie inside its allowed IPs (exactly one such peer: a hub whose
 * allowed IPs cover several peers names none), else to the peer one of
 * whose prefixes is its endpoint address. So a peer behind NAT (endpoint:
 * the NAT's public address, no node's) is named through its allowed IPs.
 */
#ifndef __WARMPATH_WG_ATTRIB_H
#define __WARMPATH_WG_ATTRIB_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "peers.h"
#include "wg_uapi.h"

/* Prefixes (IPv4-mapped) sorted by address, each with the peer (slot or index) it belongs to. */
struct wg_prefix_index {
	struct wg_prefix_entry {
		__u8 addr[16];
		__u32 len;
		__u32 peer; /* slot in `peers` (from the trie) or index in a peer set */
	} * v;
	int n;
};

/* From the `prefixes` trie (peer = map slot). Returns 0 or -errno. */
int wg_prefix_index_from_trie(int prefixes_fd, struct wg_prefix_index *ix);
/* From a peer set (peer = index in set->peers). Returns 0 or -ENOMEM. */
int wg_prefix_index_from_set(const struct wp_peer_set *set, struct wg_prefix_index *ix);
void wg_prefix_index_free(struct wg_prefix_index *ix);
/* The one peer with a prefix inside @pfx: true and *peer, false when none or several. */
bool wg_prefix_index_inside(const struct wg_prefix_index *ix, const struct wp_prefix *pfx,
			    __u32 *peer);
/* A peer with exactly @addr (a /32 or /128) among its prefixes. */
bool wg_prefix_index_host(const struct wg_prefix_index *ix, const __u8 addr[16], __u32 *peer);
/* The peer a WireGuard peer belongs to (see above), through @ix. */
bool wg_prefix_index_match(const struct wg_prefix_index *ix, const struct wg_uapi_peer *p,
			   __u32 *peer);

/*
 * Add every WireGuard peer's allowed IPs to the prefixes of the warmpath
 * peer it belongs to in @set: none broader than /8 (IPv4) or /16 (IPv6), as
 * for --peer, not a prefix some peer already has,
 * up to WP_MAX_PEER_PREFIXES a peer (the rest counted in *dropped).
 * Returns the number of prefixes added, or -ENOMEM.
 */
int wg_peers_add_allowed_ips(struct wp_peer_set *set, const struct wg_device *devs, int ndevs,
			     int *dropped);

/*
 * Which peers of @set WireGuard keeps warm itself: held[i] is true when a
 * WireGuard peer belonging to set->peers[i] has a persistent keepalive set
 * and not longer than @interval_s. Returns how many, or -ENOMEM.
 */
int wg_keepalive_held(const struct wp_peer_set *set, const struct wg_device *devs, int ndevs,
		      double interval_s, bool *held);

/* The interface the kernel routes @addr (IPv4-mapped) through: 0 and its name, or -errno. */
int wg_route_oif(const __u8 addr[16], char ifname[WP_IFNAME_LEN]);
/*
 * The underlay: the interface the route to the WireGuard endpoints goes
 * through (the one most endpoints use; ties: the first endpoint's). 0 with
 * @ifname set, -ENOENT when no device has an endpoint.
 */
int wg_underlay_of(const struct wg_device *devs, int ndevs, char ifname[WP_IFNAME_LEN]);

#endif /* __WARMPATH_WG_ATTRIB_H */
