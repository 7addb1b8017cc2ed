// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Attribution through WireGuard: see wg_attrib.h. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include "nl.h"
#include "wg_attrib.h"

/* ---- the prefix index ---- */

static int cmp_entry(const void *a, const void *b)
{
	const struct wg_prefix_entry *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 16);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int index_add(struct wg_prefix_index *ix, int *cap, const __u8 addr[16], __u32 len,
		     __u32 peer)
{
	if (ix->n == *cap) {
		int ncap = *cap ? *cap * 2 : 64;
		struct wg_prefix_entry *v = realloc(ix->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ix->v = v;
		*cap = ncap;
	}
	memcpy(ix->v[ix->n].addr, addr, 16);
	ix->v[ix->n].len = len;
	ix->v[ix->n++].peer = peer;
	return 0;
}

int wg_prefix_index_from_trie(int prefixes_fd, struct wg_prefix_index *ix)
{
	struct prefix_key key, next, *prev = NULL;
	int cap = 0, iter = 0;

	memset(ix, 0, sizeof(*ix));
	while (iter++ < 4 * WP_MAX_PEERS * WP_MAX_PEER_PREFIXES &&
	       !bpf_map_get_next_key(prefixes_fd, prev, &next)) {
		struct prefix_val v;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(prefixes_fd, &key, &v))
			continue;
		if (index_add(ix, &cap, key.addr, key.prefixlen, v.peer_id)) {
			wg_prefix_index_free(ix);
			return -ENOMEM;
		}
	}
	qsort(ix->v, ix->n, sizeof(*ix->v), cmp_entry);
	return 0;
}

int wg_prefix_index_from_set(const struct wp_peer_set *set, struct wg_prefix_index *ix)
{
	int cap = 0;

	memset(ix, 0, sizeof(*ix));
	for (int i = 0; i < set->n; i++)
		for (int j = 0; j < set->peers[i].nprefixes; j++)
			if (index_add(ix, &cap, set->peers[i].prefixes[j].addr,
				      set->peers[i].prefixes[j].len, i)) {
				wg_prefix_index_free(ix);
				return -ENOMEM;
			}
	qsort(ix->v, ix->n, sizeof(*ix->v), cmp_entry);
	return 0;
}

void wg_prefix_index_free(struct wg_prefix_index *ix)
{
	free(ix->v);
	ix->v = NULL;
	ix->n = 0;
}

/* @pfx's first and last address. */
static void prefix_range(const struct wp_prefix *pfx, __u8 lo[16], __u8 hi[16])
{
	__u32 len = pfx->len > 128 ? 128 : pfx->len;

	for (int i = 0; i < 16; i++) {
		int bits = (int)len - 8 * i;
		__u8 mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : (__u8)(0xff << (8 - bits));

		lo[i] = pfx->addr[i] & mask;
		hi[i] = pfx->addr[i] | (__u8)~mask;
	}
}

/* The first entry whose address is >= @addr. */
static int lower_bound(const struct wg_prefix_index *ix, const __u8 addr[16])
{
	int lo = 0, hi = ix->n;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (memcmp(ix->v[mid].addr, addr, 16) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool wg_prefix_index_inside(const struct wg_prefix_index *ix, const struct wp_prefix *pfx,
			    __u32 *peer)
{
	__u8 lo[16], hi[16];
	bool found = false;

	prefix_range(pfx, lo, hi);
	for (int i = lower_bound(ix, lo); i < ix->n && memcmp(ix->v[i].addr, hi, 16) <= 0; i++) {
		if (ix->v[i].len < pfx->len)
			continue; /* wider than @pfx: not inside it */
		if (found && ix->v[i].peer != *peer)
			return false; /* several peers: ambiguous */
		*peer = ix->v[i].peer;
		found = true;
	}
	return found;
}

bool wg_prefix_index_host(const struct wg_prefix_index *ix, const __u8 addr[16], __u32 *peer)
{
	for (int i = lower_bound(ix, addr); i < ix->n && !memcmp(ix->v[i].addr, addr, 16); i++)
		if (ix->v[i].len == 128) {
			*peer = ix->v[i].peer;
			return true;
		}
	return false;
}

bool wg_prefix_index_match(const struct wg_prefix_index *ix, const struct wg_uapi_peer *p,
			   __u32 *peer)
{
	bool found = false;
	__u32 id;

	/* allowed IPs first: the NATed peer's endpoint is the NAT's, no node's */
	for (int i = 0; i < p->nallowed_ips; i++) {
		if (!wg_prefix_index_inside(ix, &p->allowed_ips[i], &id))
			continue;
		if (found && id != *peer) {
			found = false; /* two allowed IPs, two peers */
			break;
		}
		*peer = id;
		found = true;
	}
	if (found)
		return true;
	return p->has_endpoint && wg_prefix_index_host(ix, p->endpoint_addr, peer);
}

/* ---- a peer set's WireGuard keys (Kubernetes node annotations) ---- */

struct key_entry {
	__u8 key[WG_KEY_LEN];
	__u32 idx;
};

struct key_index {
	struct key_entry *v;
	int n;
};

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, WG_KEY_LEN);
}

static int key_index_from_set(const struct wp_peer_set *set, struct key_index *kx)
{
	kx->n = 0;
	kx->v = calloc(set->n ? set->n : 1, sizeof(*kx->v));
	if (!kx->v)
		return -ENOMEM;
	for (int i = 0; i < set->n; i++) {
		if (!set->peers[i].has_wg_key)
			continue;
		memcpy(kx->v[kx->n].key, set->peers[i].wg_key, WG_KEY_LEN);
		kx->v[kx->n++].idx = i;
	}
	qsort(kx->v, kx->n, sizeof(*kx->v), cmp_key);
	return 0;
}

/* Which peer of a set a WireGuard peer belongs to: by public key, then by addresses. */
struct set_matcher {
	struct key_index kx;
	struct wg_prefix_index ix;
};

static int set_matcher_init(struct set_matcher *m, const struct wp_peer_set *set)
{
	if (wg_prefix_index_from_set(set, &m->ix))
		return -ENOMEM;
	if (key_index_from_set(set, &m->kx)) {
		wg_prefix_index_free(&m->ix);
		return -ENOMEM;
	}
	return 0;
}

static void set_matcher_free(struct set_matcher *m)
{
	free(m->kx.v);
	wg_prefix_index_free(&m->ix);
}

/* The peer of the set a WireGuard peer belongs to: its public key first, else wg_prefix_index_match(). */
static bool set_match(const struct set_matcher *m, const struct wg_uapi_peer *wp, __u32 *idx)
{
	const struct key_entry *k =
		m->kx.n ? bsearch(wp->public_key, m->kx.v, m->kx.n, sizeof(*m->kx.v), cmp_key) :
			  NULL;

	if (k) {
		*idx = k->idx;
		return true;
	}
	return wg_prefix_index_match(&m->ix, wp, idx);
}

/* A walk over the WireGuard peers of devs that belong to a peer of the set. */
struct match_walk {
	const struct set_matcher *m;
	const struct wg_device *devs;
	int ndevs;
	int d, i; /* the next device and peer to look at */
};

/* The next WireGuard peer that belongs to a peer of the set (its index in *idx); NULL at the end. */
static const struct wg_uapi_peer *next_matched(struct match_walk *w, __u32 *idx)
{
	for (; w->d < w->ndevs; w->d++, w->i = 0) {
		while (w->i < w->devs[w->d].npeers) {
			const struct wg_uapi_peer *wp = &w->devs[w->d].peers[w->i++];

			if (set_match(w->m, wp, idx))
				return wp;
		}
	}
	return NULL;
}

/* ---- allowed IPs as prefixes ---- */

/*
 * Broader than a peer's prefix may be (/8 IPv4, /16 IPv6, as for --peer):
 * a default route or a hub's summary is no node's.
 */
static bool prefix_too_broad(const struct wp_prefix *pfx)
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (pfx->len >= 96 && !memcmp(pfx->addr, mapped, 12))
		return pfx->len < 96 + 8;
	return pfx->len < 16;
}

static bool prefix_in_index(const struct wg_prefix_index *ix, const struct wp_prefix *pfx)
{
	for (int i = lower_bound(ix, pfx->addr); i < ix->n && !memcmp(ix->v[i].addr, pfx->addr, 16);
	     i++)
		if (ix->v[i].len == pfx->len)
			return true;
	return false;
}

struct candidate {
	struct wp_prefix pfx;
	__u32 peer; /* index in the set */
	int seq; /* the order found, for a stable choice among equal prefixes */
};

static int cmp_candidate(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;
	int c = memcmp(x->pfx.addr, y->pfx.addr, 16);

	if (c)
		return c;
	if (x->pfx.len != y->pfx.len)
		return x->pfx.len < y->pfx.len ? -1 : 1;
	return x->seq - y->seq;
}

int wg_peers_add_allowed_ips(struct wp_peer_set *set, const struct wg_device *devs, int ndevs,
			     int *dropped)
{
	struct set_matcher m;
	struct match_walk w = { &m, devs, ndevs, 0, 0 };
	const struct wg_uapi_peer *wp;
	struct candidate *c = NULL;
	int n = 0, cap = 0, added = 0;
	__u32 idx;

	*dropped = 0;
	if (set_matcher_init(&m, set))
		return -ENOMEM;
	/* every (peer, allowed IP) not too broad and not a prefix some peer has */
	while ((wp = next_matched(&w, &idx))) {
		for (int a = 0; a < wp->nallowed_ips; a++) {
			if (prefix_too_broad(&wp->allowed_ips[a]) ||
			    prefix_in_index(&m.ix, &wp->allowed_ips[a]))
				continue;
			if (n == cap) {
				int ncap = cap ? cap * 2 : 64;
				struct candidate *v = realloc(c, ncap * sizeof(*v));

				if (!v) {
					added = -ENOMEM;
					goto out;
				}
				c = v;
				cap = ncap;
			}
			c[n].pfx = wp->allowed_ips[a];
			c[n].peer = idx;
			c[n].seq = n;
			n++;
		}
	}
	/* the same prefix twice (two devices, two peers): the first found keeps it */
	if (n) /* c is NULL when there is no candidate */
		qsort(c, n, sizeof(*c), cmp_candidate);
	for (int i = 0; i < n; i++) {
		struct wp_peer *peer = &set->peers[c[i].peer];

		if (i && !memcmp(&c[i].pfx, &c[i - 1].pfx, sizeof(c[i].pfx)))
			continue;
		if (peer->nprefixes == WP_MAX_PEER_PREFIXES) {
			(*dropped)++;
			continue;
		}
		peer->prefixes[peer->nprefixes] = c[i].pfx;
		peer->prefixes[peer->nprefixes++].src = WP_SRC_WIREGUARD;
		added++;
	}
out:
	free(c);
	set_matcher_free(&m);
	return added;
}

int wg_keepalive_held(const struct wp_peer_set *set, const struct wg_device *devs, int ndevs,
		      double interval_s, bool *held)
{
	struct set_matcher m;
	struct match_walk w = { &m, devs, ndevs, 0, 0 };
	const struct wg_uapi_peer *wp;
	int n = 0;
	__u32 idx;

	memset(held, 0, set->n * sizeof(*held));
	if (set_matcher_init(&m, set))
		return -ENOMEM;
	while ((wp = next_matched(&w, &idx))) {
		if (!wp->persistent_keepalive || wp->persistent_keepalive > interval_s || held[idx])
			continue;
		held[idx] = true;
		n++;
	}
	set_matcher_free(&m);
	return n;
}

/* ---- the underlay ---- */

int wg_route_oif(const __u8 addr[16], char ifname[WP_IFNAME_LEN])
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	bool v4 = !memcmp(addr, mapped, 12);
	struct wp_route r;
	int err;

	err = wp_route_get(v4 ? AF_INET : AF_INET6, v4 ? addr + 12 : addr, &r);
	if (err)
		return err;
	if (!r.oif)
		return -ENOENT;
	return if_indextoname(r.oif, ifname) ? 0 : -errno;
}

int wg_underlay_of(const struct wg_device *devs, int ndevs, char ifname[WP_IFNAME_LEN])
{
	struct {
		char name[WP_IFNAME_LEN];
		int count;
	} seen[16] = {};
	int nseen = 0, best = -1;

	for (int d = 0; d < ndevs; d++) {
		for (int i = 0; i < devs[d].npeers; i++) {
			char oif[WP_IFNAME_LEN];
			int s;

			if (!devs[d].peers[i].has_endpoint ||
			    wg_route_oif(devs[d].peers[i].endpoint_addr, oif))
				continue;
			for (s = 0; s < nseen && strcmp(seen[s].name, oif); s++)
				;
			if (s == nseen) {
				if (nseen == 16)
					continue;
				memcpy(seen[nseen++].name, oif, WP_IFNAME_LEN);
			}
			seen[s].count++;
			if (best < 0 || seen[s].count > seen[best].count)
				best = s;
		}
	}
	if (best < 0)
		return -ENOENT;
	memcpy(ifname, seen[best].name, WP_IFNAME_LEN);
	return 0;
}
