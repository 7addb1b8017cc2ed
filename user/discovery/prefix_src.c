// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where each peer prefix came from (peers.h enum wp_prefix_src): the node
 * annotations warmpath knows, their names, and the user-only pinned map
 * `prefix_sources` that lets `warmpath status --json` show them from the pins.
 * The BPF-visible `prefixes` trie keeps its layout; this map sits beside it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "peers.h"
#include "util.h"

/*
 * The real annotation keys, as Calico (libcalico-go node annotations),
 * Cilium (pkg/annotation: network.cilium.io/..., formerly io.cilium.network....)
 * and flannel (kube subnet manager: flannel.alpha.coreos.com/...) write them.
 */
const struct wp_node_annotation wp_node_annotations[] = {
	{ "projectcalico.org/IPv4Address", false },
	{ "projectcalico.org/IPv6Address", false },
	{ "projectcalico.org/IPv4IPIPTunnelAddr", false },
	{ "projectcalico.org/IPv4VXLANTunnelAddr", false },
	{ "projectcalico.org/IPv6VXLANTunnelAddr", false },
	{ "projectcalico.org/IPv4WireguardInterfaceAddr", false },
	{ "projectcalico.org/IPv6WireguardInterfaceAddr", false },
	{ "network.cilium.io/ipv4-pod-cidr", true },
	{ "network.cilium.io/ipv6-pod-cidr", true },
	{ "network.cilium.io/ipv4-cilium-host", false },
	{ "network.cilium.io/ipv6-cilium-host", false },
	{ "network.cilium.io/ipv4-health-ip", false },
	{ "network.cilium.io/ipv6-health-ip", false },
	{ "network.cilium.io/ipv4-Ingress-ip", false },
	{ "network.cilium.io/ipv6-Ingress-ip", false },
	{ "io.cilium.network.ipv4-pod-cidr", true },
	{ "io.cilium.network.ipv4-cilium-host", false },
	{ "io.cilium.network.ipv4-health-ip", false },
	{ "flannel.alpha.coreos.com/public-ip", false },
	{ "flannel.alpha.coreos.com/public-ip-overwrite", false },
	{ "flannel.alpha.coreos.com/public-ipv6", false },
	{ "flannel.alpha.coreos.com/public-ipv6-overwrite", false },
};
const int wp_node_annotations_n = sizeof(wp_node_annotations) / sizeof(wp_node_annotations[0]);

#define PREFIX_SOURCES_NAME "prefix_sources"

const char *prefix_src_name(__u32 src)
{
	static const char *const names[] = { "static", "kubernetes", "route", "wireguard",
					     "annotation" };

	if (src < sizeof(names) / sizeof(names[0]))
		return names[src];
	if (src >= WP_SRC_ANNOTATION_BASE &&
	    src - WP_SRC_ANNOTATION_BASE < (__u32)wp_node_annotations_n)
		return wp_node_annotations[src - WP_SRC_ANNOTATION_BASE].key;
	return "unknown";
}

__u32 prefix_src_of_annotation(const char *key)
{
	for (int i = 0; i < wp_node_annotations_n; i++)
		if (!strcmp(wp_node_annotations[i].key, key))
			return WP_SRC_ANNOTATION_BASE + i;
	return WP_SRC_ANNOTATION;
}

int prefix_sources_open(const char *pin_path, bool create)
{
	return wp_pinned_hash_open(pin_path, PREFIX_SOURCES_NAME, sizeof(struct prefix_key),
				   sizeof(__u32), WP_MAX_PREFIXES, create);
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct prefix_key));
}

int prefix_sources_sync(int fd, const struct wp_peer_set *set)
{
	struct prefix_key key, next, *want, *stale = NULL;
	int nwant = 0, nstale = 0, cap = 0, ret = 0;

	if (fd < 0)
		return -EBADF;
	for (int i = 0; i < set->n; i++)
		nwant += set->peers[i].nprefixes;
	want = calloc(nwant ? nwant : 1, sizeof(*want));
	if (!want)
		return -ENOMEM;
	nwant = 0;
	for (int i = 0; i < set->n; i++) {
		for (int j = 0; j < set->peers[i].nprefixes; j++) {
			const struct wp_prefix *p = &set->peers[i].prefixes[j];

			key = (struct prefix_key){ .prefixlen = p->len };
			memcpy(key.addr, p->addr, 16);
			want[nwant++] = key;
			if (bpf_map_update_elem(fd, &key, &p->src, BPF_ANY))
				ret = -errno;
		}
	}
	qsort(want, nwant, sizeof(*want), key_cmp);
	/* entries of prefixes no peer has any more */
	for (int more = !bpf_map_get_next_key(fd, NULL, &next); more;
	     more = !bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		if (bsearch(&key, want, nwant, sizeof(*want), key_cmp))
			continue;
		if (nstale == cap) {
			int ncap = cap ? cap * 2 : 64;
			struct prefix_key *v = realloc(stale, ncap * sizeof(*v));

			if (!v) {
				ret = -ENOMEM;
				break;
			}
			stale = v;
			cap = ncap;
		}
		stale[nstale++] = key;
	}
	for (int i = 0; i < nstale; i++)
		bpf_map_delete_elem(fd, &stale[i]);
	free(stale);
	free(want);
	return ret;
}
