// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "peers.h"

/*
 * The broadest prefix a peer may claim. A peer's prefixes say which traffic
 * is "to that peer" (and which sources the responder treats as a peer), so a
 * /0 or a /1 would claim the whole Internet. /8 (IPv4) and /16 (IPv6) still
 * cover any cluster's pod or node range.
 */
#define PEER_PREFIX_MIN_V4 8
#define PEER_PREFIX_MIN_V6 16

/* A prefix length: 1-3 decimal digits, no sign, space or leading zero. */
static long prefix_len_parse(const char *s)
{
	size_t n = strlen(s);
	long len = 0;

	if (n == 0 || n > 3 || (s[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		len = len * 10 + (s[i] - '0');
	}
	return len;
}

/*
 * ADDR or ADDR/LEN, any length 0..32 / 0..128 (WireGuard's allowed IPs may
 * well be 0.0.0.0/0); peers' prefixes are held to the minimums above by
 * peer_prefix_parse().
 */
int prefix_parse(const char *s, struct wp_prefix *pfx)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	struct in_addr a4;
	long len = -1;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		len = prefix_len_parse(slash + 1);
		if (len < 0)
			return -EINVAL;
	}
	memset(pfx, 0, sizeof(*pfx));
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		if (len > 32)
			return -EINVAL;
		pfx->addr[10] = 0xff;
		pfx->addr[11] = 0xff;
		memcpy(&pfx->addr[12], &a4, 4);
		pfx->len = 96 + (len < 0 ? 32 : len);
	} else if (inet_pton(AF_INET6, buf, pfx->addr) == 1) {
		if (len > 128)
			return -EINVAL;
		pfx->len = len < 0 ? 128 : len;
	} else {
		return -EINVAL;
	}
	/* clear host bits so 10.0.0.7/24 and 10.0.0.0/24 are one prefix */
	for (unsigned int bit = pfx->len; bit < 128; bit++)
		pfx->addr[bit / 8] &= ~(0x80 >> (bit % 8));
	return 0;
}

static bool prefix_is_v4(const struct wp_prefix *pfx)
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return pfx->len >= 96 && !memcmp(pfx->addr, mapped, 12);
}

void prefix_format(const struct wp_prefix *pfx, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (prefix_is_v4(pfx)) {
		inet_ntop(AF_INET, &pfx->addr[12], a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, pfx->len - 96);
	} else {
		inet_ntop(AF_INET6, pfx->addr, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, pfx->len);
	}
}

/*
 * A peer's prefix: prefix_parse(), no broader than /8 (IPv4) or /16 (IPv6),
 * and no IPv6 prefix that holds all of IPv4 (::/16 contains ::ffff:0:0/96).
 */
bool peer_prefix_too_broad(const struct wp_prefix *pfx)
{
	struct wp_prefix all_v4 = { .addr = { [10] = 0xff, [11] = 0xff }, .len = 96 };

	if (pfx->len < (prefix_is_v4(pfx) ? 96 + PEER_PREFIX_MIN_V4 : PEER_PREFIX_MIN_V6))
		return true;
	if (pfx->len < 96) {
		for (unsigned int bit = pfx->len; bit < 128; bit++)
			all_v4.addr[bit / 8] &= ~(0x80 >> (bit % 8));
		if (!memcmp(all_v4.addr, pfx->addr, 16))
			return true;
	}
	return false;
}

static int peer_prefix_parse(const char *s, struct wp_prefix *pfx)
{
	if (prefix_parse(s, pfx))
		return -EINVAL;
	return peer_prefix_too_broad(pfx) ? -ERANGE : 0;
}

static bool valid_name(const char *name)
{
	if (!*name || strlen(name) >= WP_PEER_NAME_LEN)
		return false;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("-_.:", *c))
			return false;
	return true;
}

/* Fill a peer from its name, address and prefix words. */
static int peer_fill(struct wp_peer *p, const char *name, const char *addr, char **pfxs, int npfx,
		     char *err, size_t errlen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&p->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p->addr;

	memset(p, 0, sizeof(*p));
	if (!valid_name(name)) {
		snprintf(err, errlen, "bad peer name '%s': 1-%d characters of [A-Za-z0-9-_.:]",
			 name, WP_PEER_NAME_LEN - 1);
		return -EINVAL;
	}
	strcpy(p->name, name);
	if (strlen(addr) >= sizeof(p->addr_str) || strchr(addr, '/') ||
	    prefix_parse(addr, &p->prefixes[0])) {
		snprintf(err, errlen, "peer '%s': bad address '%s' (want an IPv4 or IPv6 address)",
			 name, addr);
		return -EINVAL;
	}
	strcpy(p->addr_str, addr);
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else {
		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &sin6->sin6_addr);
	}
	p->nprefixes = 1;
	for (int i = 0; i < npfx; i++) {
		if (p->nprefixes == WP_MAX_PEER_PREFIXES) {
			snprintf(err, errlen, "peer '%s': more than %d prefixes", name,
				 WP_MAX_PEER_PREFIXES - 1);
			return -EINVAL;
		}
		if (peer_prefix_parse(pfxs[i], &p->prefixes[p->nprefixes])) {
			snprintf(
				err, errlen,
				"peer '%s': bad prefix '%s' (want ADDR or ADDR/LEN, IPv4 /%d-32 or IPv6 /%d-128)",
				name, pfxs[i], PEER_PREFIX_MIN_V4, PEER_PREFIX_MIN_V6);
			return -EINVAL;
		}
		p->nprefixes++;
	}
	return 0;
}

int peer_parse_spec(const char *spec, struct wp_peer *p, char *err, size_t errlen)
{
	char *copy, *eq, *words[WP_MAX_PEER_PREFIXES + 1], *tok, *save = NULL;
	int n = 0, ret;

	copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	eq = strchr(copy, '=');
	if (!eq || eq == copy || !eq[1]) {
		snprintf(err, errlen, "bad --peer '%s': want NAME=ADDR[,PREFIX...]", spec);
		free(copy);
		return -EINVAL;
	}
	*eq = '\0';
	for (tok = strtok_r(eq + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == WP_MAX_PEER_PREFIXES + 1) {
			snprintf(err, errlen, "bad --peer '%s': more than %d prefixes", spec,
				 WP_MAX_PEER_PREFIXES - 1);
			free(copy);
			return -EINVAL;
		}
		words[n++] = tok;
	}
	if (!n) {
		snprintf(err, errlen, "bad --peer '%s': want NAME=ADDR[,PREFIX...]", spec);
		free(copy);
		return -EINVAL;
	}
	ret = peer_fill(p, copy, words[0], words + 1, n - 1, err, errlen);
	free(copy);
	return ret;
}

int peers_file_load(const char *path, struct wp_peer_set *set, char *err, size_t errlen)
{
	char line[4096], *words[WP_MAX_PEER_PREFIXES + 2], *tok, *save, *hash;
	char sub[256];
	struct wp_peer p;
	int lineno = 0, n, ret = 0;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "cannot read peers file '%s': %s", path, strerror(errno));
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			ret = -EINVAL;
			break;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		n = 0;
		save = NULL;
		for (tok = strtok_r(line, " \t\r\n", &save); tok;
		     tok = strtok_r(NULL, " \t\r\n", &save)) {
			if (n == WP_MAX_PEER_PREFIXES + 1) {
				snprintf(err, errlen, "%s:%d: more than %d prefixes", path, lineno,
					 WP_MAX_PEER_PREFIXES - 1);
				ret = -EINVAL;
				goto out;
			}
			words[n++] = tok;
		}
		if (!n)
			continue;
		if (n < 2) {
			snprintf(err, errlen, "%s:%d: want 'NAME ADDR [PREFIX...]', got '%s'", path,
				 lineno, words[0]);
			ret = -EINVAL;
			break;
		}
		ret = peer_fill(&p, words[0], words[1], words + 2, n - 2, sub, sizeof(sub));
		if (!ret)
			ret = peer_set_add(set, &p, sub, sizeof(sub));
		if (ret) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
			break;
		}
	}
out:
	fclose(f);
	return ret;
}

struct wp_peer *peer_set_find(struct wp_peer_set *set, const char *name)
{
	for (int i = 0; i < set->n; i++)
		if (!strcmp(set->peers[i].name, name))
			return &set->peers[i];
	return NULL;
}

int peer_set_add(struct wp_peer_set *set, const struct wp_peer *p, char *err, size_t errlen)
{
	struct wp_peer *tmp;
	char a[64];

	if (peer_set_find(set, p->name)) {
		snprintf(err, errlen, "peer '%s' given twice", p->name);
		return -EEXIST;
	}
	/* A prefix may belong to one peer only: the datapath could not tell them apart. */
	for (int i = 0; i < set->n; i++)
		for (int j = 0; j < set->peers[i].nprefixes; j++)
			for (int k = 0; k < p->nprefixes; k++)
				if (set->peers[i].prefixes[j].len == p->prefixes[k].len &&
				    !memcmp(set->peers[i].prefixes[j].addr, p->prefixes[k].addr,
					    16)) {
					prefix_format(&p->prefixes[k], a, sizeof(a));
					snprintf(err, errlen,
						 "prefix %s claimed by peers '%s' and '%s'", a,
						 set->peers[i].name, p->name);
					return -EEXIST;
				}
	if (set->n == WP_MAX_PEERS) {
		snprintf(err, errlen, "more than %d peers", WP_MAX_PEERS);
		return -E2BIG;
	}
	if (set->n == set->cap) {
		int cap = set->cap ? set->cap * 2 : 16;

		tmp = realloc(set->peers, cap * sizeof(*tmp));
		if (!tmp)
			return -ENOMEM;
		set->peers = tmp;
		set->cap = cap;
	}
	set->peers[set->n++] = *p;
	return 0;
}

void peer_set_free(struct wp_peer_set *set)
{
	free(set->peers);
	memset(set, 0, sizeof(*set));
}

struct slot_ref {
	const char *name;
	__u32 id;
};

static int slot_ref_cmp(const void *a, const void *b)
{
	return strncmp(((const struct slot_ref *)a)->name, ((const struct slot_ref *)b)->name,
		       WP_PEER_NAME_LEN);
}

int peers_sync_maps(int peers_fd, int prefixes_fd, struct wp_peer_set *set, char *err,
		    size_t errlen)
{
	struct peer_state *slots;
	struct prefix_key key, next, *stale = NULL;
	struct prefix_val val;
	struct slot_ref *by_name = NULL;
	int ret = 0, nstale = 0, cap = 0, nnamed = 0, *owner;
	__u32 id, free_id = 0;
	bool *wanted;

	slots = calloc(WP_MAX_PEERS, sizeof(*slots));
	wanted = calloc(WP_MAX_PEERS, sizeof(*wanted));
	owner = malloc(WP_MAX_PEERS * sizeof(*owner));
	if (!slots || !wanted || !owner) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (id = 0; id < WP_MAX_PEERS; id++)
		owner[id] = -1; /* slot -> index in set */
	for (id = 0; id < WP_MAX_PEERS; id++) {
		if (bpf_map_lookup_elem(peers_fd, &id, &slots[id])) {
			ret = -errno;
			snprintf(err, errlen, "reading peers map: %s", strerror(errno));
			goto cleanup;
		}
	}

	/* 1. slots: keep by name (binary search over the named slots), allocate the rest */
	by_name = calloc(WP_MAX_PEERS, sizeof(*by_name));
	if (!by_name) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (id = 0; id < WP_MAX_PEERS; id++)
		if (slots[id].name[0])
			by_name[nnamed++] = (struct slot_ref){ slots[id].name, id };
	qsort(by_name, nnamed, sizeof(*by_name), slot_ref_cmp);
	for (int i = 0; i < set->n; i++) {
		struct wp_peer *p = &set->peers[i];
		struct slot_ref want = { p->name, 0 }, *hit;

		hit = bsearch(&want, by_name, nnamed, sizeof(*by_name), slot_ref_cmp);
		id = hit ? hit->id : WP_MAX_PEERS;
		p->new_slot = id == WP_MAX_PEERS || wanted[id];
		if (p->new_slot) {
			while (free_id < WP_MAX_PEERS &&
			       (slots[free_id].name[0] || wanted[free_id]))
				free_id++;
			if (free_id == WP_MAX_PEERS) {
				snprintf(err, errlen, "peers map full (%d slots)", WP_MAX_PEERS);
				ret = -E2BIG;
				goto cleanup;
			}
			id = free_id;
			memset(&slots[id], 0, sizeof(slots[id]));
			memcpy(slots[id].name, p->name, sizeof(slots[id].name));
			if (bpf_map_update_elem(peers_fd, &id, &slots[id], BPF_ANY)) {
				ret = -errno;
				snprintf(err, errlen, "writing peers map: %s", strerror(errno));
				goto cleanup;
			}
		}
		wanted[id] = true;
		owner[id] = i;
		p->id = id;
	}

	/* 2. prefixes: write the wanted ones, then remove those that point elsewhere */
	for (int i = 0; i < set->n; i++) {
		for (int j = 0; j < set->peers[i].nprefixes; j++) {
			key.prefixlen = set->peers[i].prefixes[j].len;
			memcpy(key.addr, set->peers[i].prefixes[j].addr, 16);
			val.peer_id = set->peers[i].id;
			if (bpf_map_update_elem(prefixes_fd, &key, &val, BPF_ANY)) {
				ret = -errno;
				snprintf(err, errlen, "writing prefixes map: %s", strerror(errno));
				goto cleanup;
			}
		}
	}
	for (int more = !bpf_map_get_next_key(prefixes_fd, NULL, &next); more;
	     more = !bpf_map_get_next_key(prefixes_fd, &key, &next)) {
		bool keep = false;

		key = next;
		if (bpf_map_lookup_elem(prefixes_fd, &key, &val))
			continue;
		/* only the owner of the slot can want this prefix: check its few prefixes */
		if (val.peer_id < WP_MAX_PEERS && owner[val.peer_id] >= 0) {
			const struct wp_peer *p = &set->peers[owner[val.peer_id]];

			for (int j = 0; j < p->nprefixes && !keep; j++)
				keep = p->prefixes[j].len == key.prefixlen &&
				       !memcmp(p->prefixes[j].addr, key.addr, 16);
		}
		if (keep)
			continue;
		if (nstale == cap) {
			struct prefix_key *tmp;

			cap = cap ? cap * 2 : 64;
			tmp = realloc(stale, cap * sizeof(*stale));
			if (!tmp) {
				ret = -ENOMEM;
				goto cleanup;
			}
			stale = tmp;
		}
		stale[nstale++] = key;
	}
	for (int i = 0; i < nstale; i++)
		bpf_map_delete_elem(prefixes_fd, &stale[i]);

	/* 3. slots of peers no longer configured are cleared (counters go with them) */
	for (id = 0; id < WP_MAX_PEERS; id++) {
		if (!slots[id].name[0] || wanted[id])
			continue;
		memset(&slots[id], 0, sizeof(slots[id]));
		bpf_map_update_elem(peers_fd, &id, &slots[id], BPF_ANY);
	}
cleanup:
	free(stale);
	free(slots);
	free(wanted);
	free(owner);
	free(by_name);
	return ret;
}
