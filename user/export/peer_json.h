/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The map-derived part of a peer object, generated from headers/peer_schema.h:
 * `/peers` and `warmpath status --json` both call it, so the fields that come
 * from the pinned `peers` map are the same in both views by construction.
 */
#ifndef __WARMPATH_PEER_JSON_H
#define __WARMPATH_PEER_JSON_H

#include <jansson.h>
#include <linux/types.h>
#include "warmpath.h"

/* Seconds since the pair last carried a packet either way; INFINITY: never. */
double wp_peer_idle_s(const struct peer_state *s, __u64 now);
/* Adds every schema field of s, and idle_seconds, to the object o. */
void wp_peer_state_json(json_t *o, const struct peer_state *s, __u64 now);
/*
 * Give every peer object of @peers (each with its "id") a "prefixes" array of
 * {"prefix", "source"} read from the `prefixes` trie and, when @src_fd >= 0,
 * the `prefix_sources` map (source "unknown" without it). The same in /peers
 * and `status --json`.
 */
void wp_peers_attach_prefixes(json_t *peers, int prefixes_fd, int src_fd);

#endif /* __WARMPATH_PEER_JSON_H */
