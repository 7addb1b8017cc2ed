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
	__u32 src; /* where it came from: enum wp_prefix_src (0, static, from prefix_parse()) */
};

/*
 * Where a peer's prefix came from, shown in /peers and `status --json`
 * ("source"); status reads it from the user-only pinned map `prefix_sources`
 * (struct prefix_key -> __u32 source), written next to the `prefixes` trie.
 */
enum wp_prefix_src {
	WP_SRC_STATIC = 0, /* --peer, --peers-file */
	WP_SRC_KUBERNETES, /* a Node's InternalIP or spec.podCIDR(s) */
	WP_SRC_ROUTE, /* a route through a watched tunnel (routes.c) */
	WP_SRC_WIREGUARD, /* a WireGuard peer's allowed IPs */
	WP_SRC_ANNOTATION, /* an annotation outside wp_node_annotations[] */
	WP_SRC_ANNOTATION_BASE = 16, /* + i: the annotation wp_node_annotations[i].key */
};

/* Node annotations warmpath knows: their key, and whether the value is a CIDR. */
struct wp_node_annotation {
	const char *key;
	bool cidr; /* a prefix (pod CIDR); otherwise an address, any "/len" dropped */
};
extern const struct wp_node_annotation wp_node_annotations[];
extern const int wp_node_annotations_n;

/* "static", "kubernetes", "route", "wireguard", or the annotation's key. */
const char *prefix_src_name(__u32 src);
/* The annotation's source code (WP_SRC_ANNOTATION_BASE + i, or WP_SRC_ANNOTATION). */
__u32 prefix_src_of_annotation(const char *key);
/*
 * Make the user-only pinned map `prefix_sources` (PIN/prefix_sources) hold the
 * source of every prefix of @set (open or create it with prefix_sources_open()).
 * Returns 0 or -errno.
 */
struct wp_peer_set;
int prefix_sources_open(const char *pin_path, bool create);
int prefix_sources_sync(int fd, const struct wp_peer_set *set);

struct wp_peer {
	char name[WP_PEER_NAME_LEN];
	char addr_str[64]; /* probe address as given */
	struct sockaddr_storage addr; /* probe address (port unset) */
	int nprefixes; /* prefixes[0] is the probe address itself */
	struct wp_prefix prefixes[WP_MAX_PEER_PREFIXES];
	__u32 id; /* slot in the `peers` map */
	bool new_slot; /* set by peers_sync_maps(): id was (re)allocated to this peer just now */
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
struct wp_config;
/*
 * The configured peers: --peer first, then --peers-file, this node (by
 * --node-name) skipped. Errors are logged. 0, or a negative errno.
 */
int peer_set_from_config(const struct wp_config *cfg, struct wp_peer_set *out);
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
/* Broader than a peer may claim: /8 (IPv4), /16 (IPv6), or holding all of IPv4. */
bool peer_prefix_too_broad(const struct wp_prefix *pfx);

/*
 * Make the maps hold exactly `set`: a peer keeps the slot that carries its name
 * (so counters survive restarts and reloads), new peers get free slots with
 * zeroed counters, slots of removed peers are cleared, and the prefix trie is
 * rewritten to match. Fills p->id. Returns 0 or -errno with a message in err.
 */
int peers_sync_maps(int peers_fd, int prefixes_fd, struct wp_peer_set *set, char *err,
		    size_t errlen);

#endif /* __WARMPATH_PEERS_H */
