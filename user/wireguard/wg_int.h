/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * WireGuard internals shared by wg_read.c (reading, attribution) and
 * wg_present.c (metrics, JSON, the status table).
 */
#ifndef __WARMPATH_WG_INT_H
#define __WARMPATH_WG_INT_H

#include <arpa/inet.h>
#include "wg_attrib.h"
#include "wireguard.h"

/* One (peer, endpoint): the entries of the map that carry these labels, summed. */
struct wg_row {
	char peer[WP_PEER_NAME_LEN];
	char endpoint[INET6_ADDRSTRLEN + 16];
	bool named;
	bool has_key;
	__u8 public_key[WG_KEY_LEN];
	__u64 initiations[2];
	__u64 completed[2];
	__u64 unanswered[2];
	bool pending[2];
	__u64 cookies_tx;
	__u64 cookies_rx;
	__u64 malformed;
	__u64 last_handshake_ns;
	struct prom_hist rtt;
};

/* The names of peers and a sorted copy of the prefixes trie, for one scrape or status. */
struct wg_namer {
	const struct wg_names *nm;
	struct wg_prefix_index ix; /* loaded at the first lookup that needs it */
	bool ix_loaded;
};

/* Returns 0; free it all the same. */
int wg_namer_init(struct wg_namer *nr, const struct wg_names *nm);
void wg_namer_free(struct wg_namer *nr);

/*
 * Rows by (peer, endpoint), sorted by labels. keep_idle: also rows with no
 * handshake activity (only malformed datagrams). max_rows > 0: beyond it the
 * rest sums into one "_other" row (last). *malformed: the sum over all entries.
 */
int wg_build_rows(int fd, struct wg_namer *nm, const struct wg_device *devs, int ndevs,
		  bool keep_idle, int max_rows, struct wg_row **out, __u64 *malformed);
/*
 * The peer of an endpoint address (or NULL) and of a device peer (or NULL):
 * with the trie, by the address, then by the device peer's endpoint and
 * allowed IPs, then by a peer whose prefixes lie inside the allowed IPs
 * (wg_attrib.h); without it, by the slot the datapath stored (id + 1).
 */
bool wg_resolve_peer(struct wg_namer *nm, __u32 stored_id, const __u8 *addr,
		     const struct wg_uapi_peer *up, char out[WP_PEER_NAME_LEN]);

#endif /* __WARMPATH_WG_INT_H */
