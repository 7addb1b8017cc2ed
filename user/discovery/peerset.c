// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Merging peer sets: the configured peers (--peer, --peers-file) first, then
 * the discovered ones (Kubernetes), each name and prefix claimed once. See
 * peer_set_merge() in peers.h. And the configured set itself:
 * peer_set_from_config().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "log.h"
#include "peers.h"

/* A small open-addressing set of fixed-size keys. */
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

int peer_set_merge(struct wp_peer_set *dst, const struct wp_peer_set *src, char *err, size_t errlen)
{
	struct keyset names = {}, pfxs = {};
	struct prefix_keybuf pk;
	char nk[WP_PEER_NAME_LEN];
	size_t npfx = 0;
	int skipped = 0, ret = 0;

	for (int i = 0; i < dst->n; i++)
		npfx += dst->peers[i].nprefixes;
	for (int i = 0; i < src->n; i++)
		npfx += src->peers[i].nprefixes;
	if (keyset_init(&names, dst->n + src->n, WP_PEER_NAME_LEN) ||
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
	for (int i = 0; i < src->n; i++) {
		const struct wp_peer *q = &src->peers[i];
		struct wp_peer p;

		if (!keyset_add(&names, name_key(q->name, nk), false)) {
			log_debug("peer %s: a peer of that name is already configured", q->name);
			skipped++;
			continue;
		}
		if (!keyset_add(&pfxs, prefix_key(&q->prefixes[0], &pk), true)) {
			log_debug("peer %s: probe address %s belongs to another peer", q->name,
				  q->addr_str);
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

int peer_set_from_config(const struct wp_config *cfg, struct wp_peer_set *out)
{
	struct wp_peer_set file = {};
	char err[512];
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (cfg->peers_file[0]) {
		ret = peers_file_load(cfg->peers_file, &file, err, sizeof(err));
		if (ret) {
			log_error("%s", err);
			goto cleanup;
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		const struct wp_peer_set *src = pass == 0 ? &cfg->cli_peers : &file;

		for (int i = 0; i < src->n; i++) {
			if (!strcmp(src->peers[i].name, cfg->node_name)) {
				log_debug("peer %s is this node: skipped", src->peers[i].name);
				continue;
			}
			ret = peer_set_add(out, &src->peers[i], err, sizeof(err));
			if (ret) {
				log_error("%s", err);
				goto cleanup;
			}
		}
	}
cleanup:
	peer_set_free(&file);
	if (ret)
		peer_set_free(out);
	return ret;
}
