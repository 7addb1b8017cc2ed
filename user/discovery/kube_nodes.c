// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kubernetes Nodes to warmpath peers: see kube.h and kube_int.h.
 *
 * One Node object (JSON) to a peer, with its probe address taken from the
 * address annotations or an InternalIP (a pure function), and the table of
 * nodes the discovery thread keeps, from which kube_take_peers() copies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kube_int.h"
#include "log.h"

#define ADDR_MAX 64 /* an address or CIDR as text */

/* --- nodes to peers ------------------------------------------------------ */

/*
 * Add @text (an address or CIDR, from @src) to @list unless it is bad, a
 * duplicate, or the list is full.
 */
static void addr_add(char list[][ADDR_MAX], struct wp_prefix *pfx, int *n, const char *text,
		     __u32 src)
{
	struct wp_prefix p;

	if (!text || strlen(text) >= ADDR_MAX || prefix_parse(text, &p))
		return;
	if (peer_prefix_too_broad(&p)) {
		/* one bad annotation or podCIDR costs that prefix, not the whole node */
		log_debug("kubernetes: %s (%s) is broader than a peer may claim: skipped", text,
			  prefix_src_name(src));
		return;
	}
	p.src = src;
	for (int i = 0; i < *n; i++)
		if (pfx[i].len == p.len && !memcmp(pfx[i].addr, p.addr, 16))
			return;
	if (*n == WP_MAX_PEER_PREFIXES)
		return;
	strcpy(list[*n], text);
	pfx[(*n)++] = p;
}

/* Annotations holding a node's WireGuard public key (base64), first set wins. */
static const char *const wg_key_annotations[] = { "projectcalico.org/WireguardPublicKey",
						  "network.cilium.io/wg-pub-key", NULL };

/* A 32-byte key from its 44-character base64 form (one '=' of padding). */
static int key_from_base64(const char *s, __u8 out[32])
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	__u32 acc = 0;
	int bits = 0, o = 0;

	if (!s || strlen(s) != 44 || s[43] != '=' || s[42] == '=')
		return -EINVAL;
	for (int i = 0; i < 43; i++) {
		const char *c = strchr(tab, s[i]);

		if (!c || !s[i])
			return -EINVAL;
		acc = acc << 6 | (__u32)(c - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < 32)
				out[o++] = (__u8)(acc >> bits);
		}
	}
	/* 43 x 6 = 258 bits: 32 bytes and 2 bits that must be zero */
	return o == 32 && !(acc & ((1u << bits) - 1)) ? 0 : -EINVAL;
}

/*
 * An annotation's address, without a "/len" (Calico's IPv4Address carries
 * one: the node's subnet, not a prefix of the node), or with it (@cidr).
 */
static bool annotation_value(const json_t *ann, const char *key, bool cidr, char *out)
{
	const char *v = json_string_value(json_object_get(ann, key));
	struct wp_prefix p;
	char *slash;

	if (!v || strlen(v) >= ADDR_MAX)
		return false;
	strcpy(out, v);
	slash = strchr(out, '/');
	if (slash && !cidr)
		*slash = '\0';
	return *out && !prefix_parse(out, &p);
}

int kube_node_peer(const json_t *node, const char *const *annotations, struct wp_peer *p, char *err,
		   size_t errlen)
{
	return kube_node_peer_ex(node, annotations, NULL, p, err, errlen);
}

int kube_node_peer_ex(const json_t *node, const char *const *annotations,
		      const char *const *prefix_annotations, struct wp_peer *p, char *err,
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
		if (annotation_value(ann, annotations[j], false, addr))
			addr_add(list, pfx, &n, addr, prefix_src_of_annotation(annotations[j]));
	json_array_foreach(json_object_get(json_object_get(node, "status"), "addresses"), i, a) {
		const char *type = json_string_value(json_object_get(a, "type"));
		const char *ip = json_string_value(json_object_get(a, "address"));

		if (type && !strcmp(type, "InternalIP") && ip && !strchr(ip, '/'))
			addr_add(list, pfx, &n, ip, WP_SRC_KUBERNETES);
	}
	if (!n) {
		snprintf(err, errlen,
			 "node '%s': no InternalIP and none of the address annotations", name);
		return -EINVAL;
	}
	cidrs = json_object_get(spec_obj, "podCIDRs");
	if (json_array_size(cidrs))
		json_array_foreach(cidrs, i, a)
			addr_add(list, pfx, &n, json_string_value(a), WP_SRC_KUBERNETES);
	else
		addr_add(list, pfx, &n, json_string_value(json_object_get(spec_obj, "podCIDR")),
			 WP_SRC_KUBERNETES);
	/* the node-address, tunnel-address and pod-CIDR annotations of Calico, Cilium, flannel */
	if (!prefix_annotations) {
		for (int j = 0; j < wp_node_annotations_n; j++)
			if (annotation_value(ann, wp_node_annotations[j].key,
					     wp_node_annotations[j].cidr, addr))
				addr_add(list, pfx, &n, addr, WP_SRC_ANNOTATION_BASE + j);
	} else {
		for (int j = 0; prefix_annotations[j]; j++) {
			__u32 src = prefix_src_of_annotation(prefix_annotations[j]);
			bool cidr = src >= WP_SRC_ANNOTATION_BASE &&
				    wp_node_annotations[src - WP_SRC_ANNOTATION_BASE].cidr;

			if (annotation_value(ann, prefix_annotations[j], cidr, addr))
				addr_add(list, pfx, &n, addr, src);
		}
	}

	len = snprintf(spec, sizeof(spec), "%s=%s", name, list[0]);
	for (int j = 1; j < n; j++)
		len += snprintf(spec + len, sizeof(spec) - len, ",%s", list[j]);
	if (peer_parse_spec(spec, p, err, errlen))
		return -EINVAL;
	/* where each prefix came from (the spec keeps the order, duplicates already out) */
	for (int k = 0; k < p->nprefixes; k++)
		for (int j = 0; j < n; j++)
			if (pfx[j].len == p->prefixes[k].len &&
			    !memcmp(pfx[j].addr, p->prefixes[k].addr, 16)) {
				p->prefixes[k].src = pfx[j].src;
				break;
			}
	/* the node's WireGuard public key, as Calico or Cilium publish it */
	for (int j = 0; wg_key_annotations[j] && !p->has_wg_key; j++)
		p->has_wg_key = !key_from_base64(
			json_string_value(json_object_get(ann, wg_key_annotations[j])), p->wg_key);
	return 0;
}

/* --- the node table ------------------------------------------------------ */

/* metadata.name and the peer it makes; false when the object has no usable name. */
bool kube_node_parse(struct wp_kube *k, const json_t *obj, struct kube_node *kn)
{
	const char *name = node_name_of(obj);
	char err[256];

	memset(kn, 0, sizeof(*kn));
	if (!name || !*name || strlen(name) > NODE_NAME_MAX)
		return false;
	strcpy(kn->name, name);
	kn->usable = !kube_node_peer_ex(obj, k->annotations,
					k->pfx_ann_default ? NULL : k->pfx_annotations, &kn->peer,
					err, sizeof(err));
	if (!kn->usable && strcmp(name, k->node_name))
		log_debug("kubernetes: %s: not a peer", err);
	return true;
}

int kube_node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kube_node *)a)->name, ((const struct kube_node *)b)->name);
}

/* Index of @name, or -(insertion point) - 1. */
static int node_find(const struct node_table *t, const char *name)
{
	int lo = 0, hi = t->n - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2, c = strcmp(t->v[mid].name, name);

		if (!c)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

int kube_node_table_grow(struct node_table *t)
{
	struct kube_node *v;
	int cap;

	if (t->n < t->cap)
		return 0;
	cap = t->cap ? t->cap * 2 : 64;
	v = realloc(t->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->v = v;
	t->cap = cap;
	return 0;
}

/* Would @a and @b make different peers (this node never makes one)? */
static bool node_peer_differs(const struct wp_kube *k, const struct kube_node *a,
			      const struct kube_node *b)
{
	bool pa = a && a->usable && strcmp(a->name, k->node_name);
	bool pb = b && b->usable && strcmp(b->name, k->node_name);

	if (pa != pb)
		return true;
	return pa && memcmp(&a->peer, &b->peer, sizeof(a->peer));
}

void kube_notify(struct wp_kube *k)
{
	__u64 one = 1;

	if (write(k->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("kubernetes: eventfd: %s", strerror(errno));
}

/* Insert or replace (caller holds the lock). Returns true when the peers changed. */
bool kube_node_upsert(struct wp_kube *k, const struct kube_node *kn)
{
	struct node_table *t = &k->nodes;
	int i = node_find(t, kn->name);
	bool changed;

	if (i >= 0) {
		changed = node_peer_differs(k, &t->v[i], kn);
		t->v[i] = *kn;
		return changed;
	}
	if (t->n >= k->max_nodes) {
		/* a runaway API server (or a huge cluster): bounded memory, counted */
		k->st.errors[KUBE_ERR_TOO_LARGE]++;
		log_warn("kubernetes: more than %d nodes: node %s ignored", k->max_nodes, kn->name);
		return false;
	}
	if (kube_node_table_grow(t)) {
		log_warn("kubernetes: out of memory: node %s ignored", kn->name);
		return false;
	}
	i = -i - 1;
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(*t->v));
	t->v[i] = *kn;
	t->n++;
	return node_peer_differs(k, NULL, kn);
}

bool kube_node_remove(struct wp_kube *k, const char *name)
{
	struct node_table *t = &k->nodes;
	int i = node_find(t, name);
	bool changed;

	if (i < 0)
		return false;
	changed = node_peer_differs(k, &t->v[i], NULL);
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*t->v));
	t->n--;
	return changed;
}

/* Do two sorted tables make the same peers? */
bool kube_tables_same_peers(const struct wp_kube *k, const struct node_table *a,
			    const struct node_table *b)
{
	int i = 0, j = 0;

	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i].name, b->v[j].name);

		if (c < 0 && node_peer_differs(k, &a->v[i], NULL))
			return false;
		if (c > 0 && node_peer_differs(k, NULL, &b->v[j]))
			return false;
		if (!c && node_peer_differs(k, &a->v[i], &b->v[j]))
			return false;
		i += c <= 0;
		j += c >= 0;
	}
	return true;
}

int kube_take_peers(struct wp_kube *k, struct wp_peer_set *out)
{
	struct wp_peer_set all = {}, fresh = {};
	char err[64];
	__u64 v;
	int ret;

	/* drain first: a change after this point makes the fd readable again */
	if (read(k->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("kubernetes: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&k->lock);
	all.peers = malloc((k->nodes.n ? k->nodes.n : 1) * sizeof(*all.peers));
	if (all.peers) {
		for (int i = 0; i < k->nodes.n; i++)
			if (k->nodes.v[i].usable && strcmp(k->nodes.v[i].name, k->node_name))
				all.peers[all.n++] = k->nodes.v[i].peer;
		all.cap = all.n;
	}
	pthread_mutex_unlock(&k->lock);
	if (!all.peers)
		return -ENOMEM;
	ret = peer_set_merge(&fresh, &all, err, sizeof(err));
	peer_set_free(&all);
	if (ret < 0) {
		peer_set_free(&fresh);
		return ret;
	}
	peer_set_free(out);
	*out = fresh;
	return out->n;
}
