// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kubernetes Nodes to warmpath peers: see kube.h.
 *
 * Pure functions, no API client state: one Node object (JSON) to a peer, with
 * its probe address taken from the address annotations or an InternalIP, and
 * the merge of a discovered peer set into the configured one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kube.h"
#include "kube_int.h"
#include "log.h"

#define ADDR_MAX 64 /* an address or CIDR as text */

/* --- nodes to peers ------------------------------------------------------ */

/* Add @text (an address or CIDR) to @list unless it is bad, a duplicate, or the list is full. */
static void addr_add(char list[][ADDR_MAX], struct wp_prefix *pfx, int *n, const char *text)
{
	struct wp_prefix p;

	if (!text || strlen(text) >= ADDR_MAX || prefix_parse(text, &p))
		return;
	for (int i = 0; i < *n; i++)
		if (pfx[i].len == p.len && !memcmp(pfx[i].addr, p.addr, 16))
			return;
	if (*n == WP_MAX_PEER_PREFIXES)
		return;
	strcpy(list[*n], text);
	pfx[(*n)++] = p;
}

/* An annotation's address, without a "/len" (Calico's IPv4Address carries one). */
static bool annotation_addr(const json_t *ann, const char *key, char *out)
{
	const char *v = json_string_value(json_object_get(ann, key));
	struct wp_prefix p;
	char *slash;

	if (!v || strlen(v) >= ADDR_MAX)
		return false;
	strcpy(out, v);
	slash = strchr(out, '/');
	if (slash)
		*slash = '\0';
	return *out && !prefix_parse(out, &p);
}

int kube_node_peer(const json_t *node, const char *const *annotations, struct wp_peer *p, char *err,
		   size_t errlen)
{
	static const char *const defaults[] = { "projectcalico.org/IPv4IPIPTunnelAddr",
						"projectcalico.org/IPv4VXLANTunnelAddr",
						"projectcalico.org/IPv4WireguardInterfaceAddr",
						NULL };
	char list[WP_MAX_PEER_PREFIXES][ADDR_MAX], spec[WP_PEER_NAME_LEN + 2 + sizeof(list)];
	const json_t *ann = json_object_get(json_object_get(node, "metadata"), "annotations");
	const json_t *spec_obj = json_object_get(node, "spec"), *a, *cidrs;
	const char *name = node_name_of(node);
	struct wp_prefix pfx[WP_MAX_PEER_PREFIXES];
	char addr[ADDR_MAX];
	int n = 0, len;
	size_t i;

	if (!annotations)
		annotations = defaults;
	if (!name || !*name) {
		snprintf(err, errlen, "node without metadata.name");
		return -EINVAL;
	}
	if (strlen(name) >= WP_PEER_NAME_LEN || strpbrk(name, "=, ")) {
		snprintf(err, errlen,
			 "node '%.80s': name unusable as a peer name (1-%d characters)", name,
			 WP_PEER_NAME_LEN - 1);
		return -EINVAL;
	}
	/* the probe address first: the first annotation set, else the first InternalIP */
	for (int j = 0; annotations[j]; j++)
		if (annotation_addr(ann, annotations[j], addr))
			addr_add(list, pfx, &n, addr);
	json_array_foreach(json_object_get(json_object_get(node, "status"), "addresses"), i, a) {
		const char *type = json_string_value(json_object_get(a, "type"));
		const char *ip = json_string_value(json_object_get(a, "address"));

		if (type && !strcmp(type, "InternalIP") && ip && !strchr(ip, '/'))
			addr_add(list, pfx, &n, ip);
	}
	if (!n) {
		snprintf(err, errlen,
			 "node '%s': no InternalIP and none of the address annotations", name);
		return -EINVAL;
	}
	cidrs = json_object_get(spec_obj, "podCIDRs");
	if (json_array_size(cidrs))
		json_array_foreach(cidrs, i, a)
			addr_add(list, pfx, &n, json_string_value(a));
	else
		addr_add(list, pfx, &n, json_string_value(json_object_get(spec_obj, "podCIDR")));

	len = snprintf(spec, sizeof(spec), "%s=%s", name, list[0]);
	for (int j = 1; j < n; j++)
		len += snprintf(spec + len, sizeof(spec) - len, ",%s", list[j]);
	return peer_parse_spec(spec, p, err, errlen);
}

/* --- peer sets: a small open-addressing set of fixed-size keys ------------- */

struct keyset {
	unsigned char *keys; /* cap slots of ksize bytes; all-zero is empty */
	bool *used;
	size_t cap, ksize;
};

static int keyset_init(struct keyset *s, size_t n, size_t ksize)
{
	s->cap = 64;
	while (s->cap < 2 * n)
		s->cap *= 2;
	s->ksize = ksize;
	s->keys = calloc(s->cap, ksize);
	s->used = calloc(s->cap, sizeof(*s->used));
	return s->keys && s->used ? 0 : -ENOMEM;
}

static void keyset_free(struct keyset *s)
{
	free(s->keys);
	free(s->used);
}

/* Insert @key; true if it was not there yet (with @probe_only, only look). */
static bool keyset_add(struct keyset *s, const void *key, bool probe_only)
{
	__u64 h = 1469598103934665603ull; /* FNV-1a */
	size_t i;

	for (size_t b = 0; b < s->ksize; b++)
		h = (h ^ ((const unsigned char *)key)[b]) * 1099511628211ull;
	for (i = h & (s->cap - 1); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (!memcmp(s->keys + i * s->ksize, key, s->ksize))
			return false;
	if (!probe_only) {
		memcpy(s->keys + i * s->ksize, key, s->ksize);
		s->used[i] = true;
	}
	return true;
}

struct prefix_keybuf {
	__u8 addr[16];
	__u32 len;
};

static const void *prefix_key(const struct wp_prefix *p, struct prefix_keybuf *kb)
{
	memcpy(kb->addr, p->addr, 16);
	kb->len = p->len;
	return kb;
}

static const void *name_key(const char *name, char kb[WP_PEER_NAME_LEN])
{
	size_t n = strnlen(name, WP_PEER_NAME_LEN - 1);

	memset(kb, 0, WP_PEER_NAME_LEN);
	memcpy(kb, name, n);
	return kb;
}

int kube_merge_peers(struct wp_peer_set *dst, const struct wp_peer_set *kube, char *err,
		     size_t errlen)
{
	struct keyset names = {}, pfxs = {};
	struct prefix_keybuf pk;
	char nk[WP_PEER_NAME_LEN];
	size_t npfx = 0;
	int skipped = 0, ret = 0;

	for (int i = 0; i < dst->n; i++)
		npfx += dst->peers[i].nprefixes;
	for (int i = 0; i < kube->n; i++)
		npfx += kube->peers[i].nprefixes;
	if (keyset_init(&names, dst->n + kube->n, WP_PEER_NAME_LEN) ||
	    keyset_init(&pfxs, npfx, sizeof(pk))) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	for (int i = 0; i < dst->n; i++) {
		keyset_add(&names, name_key(dst->peers[i].name, nk), false);
		for (int j = 0; j < dst->peers[i].nprefixes; j++)
			keyset_add(&pfxs, prefix_key(&dst->peers[i].prefixes[j], &pk), false);
	}
	for (int i = 0; i < kube->n; i++) {
		const struct wp_peer *q = &kube->peers[i];
		struct wp_peer p;

		if (!keyset_add(&names, name_key(q->name, nk), false)) {
			log_debug("kubernetes: node %s: a peer of that name is configured",
				  q->name);
			skipped++;
			continue;
		}
		if (!keyset_add(&pfxs, prefix_key(&q->prefixes[0], &pk), true)) {
			log_debug("kubernetes: node %s: probe address %s belongs to another peer",
				  q->name, q->addr_str);
			skipped++;
			continue;
		}
		p = *q;
		p.nprefixes = 0;
		for (int j = 0; j < q->nprefixes; j++)
			if (keyset_add(&pfxs, prefix_key(&q->prefixes[j], &pk), false))
				p.prefixes[p.nprefixes++] = q->prefixes[j];
		if (dst->n == WP_MAX_PEERS) {
			ret = -E2BIG;
			snprintf(err, errlen, "more than %d peers", WP_MAX_PEERS);
			goto cleanup;
		}
		if (dst->n == dst->cap) {
			int cap = dst->cap ? dst->cap * 2 : 16;
			struct wp_peer *v = realloc(dst->peers, cap * sizeof(*v));

			if (!v) {
				ret = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto cleanup;
			}
			dst->peers = v;
			dst->cap = cap;
		}
		dst->peers[dst->n++] = p;
	}
	ret = skipped;
cleanup:
	keyset_free(&names);
	keyset_free(&pfxs);
	return ret;
}
