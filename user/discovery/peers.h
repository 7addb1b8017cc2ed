/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Peer nodes: parsing of --peer / --peers-file, and keeping the BPF `peers`
 * array and `prefixes` trie in step with the configured set.
 */
#ifndef __WARMPATH_PEERS_H
#define __WARMPATH_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <linux/types.h>
#include "warmpath.h"

#define WP_MAX_PEER_PREFIXES 16

struct wp_prefix {
	__u8 addr[16]; /* IPv4-mapped for IPv4 */
	__u32 len; /* 0..128, in IPv4-mapped terms for IPv4 (96 + n) */
};

struct wp_peer {
	char name[WP_PEER_NAME_LEN];
	char addr_str[64]; /* probe address as given */
	struct sockaddr_storage addr; /* probe address (port unset) */
	int nprefixes; /* prefixes[0] is the probe address itself */
	struct wp_prefix prefixes[WP_MAX_PEER_PREFIXES];
	__u32 id; /* slot in the `peers` map */
	bool has_wg_key; /* wg_key: its WireGuard public key (a Kubernetes node annotation) */
	__u8 wg_key[32];
};

struct wp_peer_set {
	struct wp_peer *peers;
	int n, cap;
};

/* "NAME=ADDR[,PREFIX...]". Returns 0, or -EINVAL with a message in err. */
int peer_parse_spec(const char *spec, struct wp_peer *p, char *err, size_t errlen);
/* One peer a line "NAME ADDR [PREFIX...]", '#' comments. Appends to set. */
int peers_file_load(const char *path, struct wp_peer_set *set, char *err, size_t errlen);
/* Append a copy; rejects duplicate names and prefixes claimed by two peers. */
int peer_set_add(struct wp_peer_set *set, const struct wp_peer *p, char *err, size_t errlen);
/*
 * Append the peers of @src to @dst (whose peers win): a name already in @dst
 * is skipped, prefixes already claimed (in @dst or by an earlier peer of
 * @src) are dropped, and a peer whose probe address is claimed is skipped.
 * O(n log n), unlike repeated peer_set_add(). Returns the number of peers
 * skipped, or -ENOMEM / -E2BIG (more than WP_MAX_PEERS) with a message in @err.
 */
int peer_set_merge(struct wp_peer_set *dst, const struct wp_peer_set *src, char *err,
		   size_t errlen);
struct wp_peer *peer_set_find(struct wp_peer_set *set, const char *name);
void peer_set_free(struct wp_peer_set *set);

/* Address / prefix text to the trie's IPv4-mapped form. */
int prefix_parse(const char *s, struct wp_prefix *pfx);
void prefix_format(const struct wp_prefix *pfx, char *buf, size_t len);

/*
 * Make the maps hold exactly `set`: a peer keeps the slot that carries its name
 * (so counters survive restarts and reloads), new peers get free slots with
 * zeroed counters, slots of removed peers are cleared, and the prefix trie is
 * rewritten to match. Fills p->id. Returns 0 or -errno with a message in err.
 */
int peers_sync_maps(int peers_fd, int prefixes_fd, struct wp_peer_set *set, char *err,
		    size_t errlen);

#endif /* __WARMPATH_PEERS_H */
