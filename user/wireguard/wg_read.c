// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * WireGuard, reading and attribution: the `wg_endpoints` map into rows by
 * (peer, endpoint), each named through the `prefixes` trie and the devices
 * the UAPI client (wg_uapi.c) read; the device list of the watched
 * interfaces. The metrics, JSON and the `status` table built on the rows are
 * wg_present.c. See wireguard.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "util.h"
#include "links.h"
#include "log.h"
#include "wg_int.h"
#include "wg_netlink.h"

/* ---- formatting ---- */

void wg_format_endpoint(const __u8 addr[16], __u16 port, char *buf, size_t len)
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char a[INET6_ADDRSTRLEN];

	wp_addr16_format(addr, a, sizeof(a));
	snprintf(buf, len, memcmp(addr, mapped, sizeof(mapped)) ? "[%s]:%u" : "%s:%u", a, port);
}

/* ---- naming ---- */

static bool name_of_slot(const struct wg_names *nm, __u32 slot, char out[WP_PEER_NAME_LEN])
{
	const char *s;

	if (!nm || !nm->peer_name || slot >= WP_MAX_PEERS)
		return false;
	s = nm->peer_name(nm->ctx, slot);
	if (!s || !*s)
		return false;
	snprintf(out, WP_PEER_NAME_LEN, "%s", s);
	return true;
}

static bool name_of_addr(const struct wg_names *nm, const __u8 addr[16], char out[WP_PEER_NAME_LEN])
{
	struct prefix_key k = { .prefixlen = 128 };
	struct prefix_val v;

	memcpy(k.addr, addr, 16);
	if (bpf_map_lookup_elem(nm->prefixes_fd, &k, &v))
		return false;
	return name_of_slot(nm, v.peer_id, out);
}

/* See wg_int.h. */
bool wg_resolve_peer(struct wg_namer *nr, __u32 stored_id, const __u8 *addr,
		     const struct wg_uapi_peer *up, char out[WP_PEER_NAME_LEN])
{
	const struct wg_names *nm = nr ? nr->nm : NULL;
	__u32 slot;

	if (nm && nm->prefixes_fd >= 0) {
		if (addr && name_of_addr(nm, addr, out))
			return true;
		if (up && up->has_endpoint && (!addr || memcmp(addr, up->endpoint_addr, 16)) &&
		    name_of_addr(nm, up->endpoint_addr, out))
			return true;
		for (int i = 0; up && i < up->nallowed_ips; i++)
			if (name_of_addr(nm, up->allowed_ips[i].addr, out))
				return true;
		/* a peer whose probe address or prefixes lie inside the allowed IPs */
		if (up && !nr->ix_loaded) { /* the trie read once, and only when needed */
			nr->ix_loaded = true;
			if (wg_prefix_index_from_trie(nm->prefixes_fd, &nr->ix))
				return false;
		}
		return up && wg_prefix_index_match(&nr->ix, up, &slot) &&
		       name_of_slot(nm, slot, out);
	}
	return stored_id && name_of_slot(nm, stored_id - 1, out);
}

/* The device peer at an endpoint: same address and port, else the only one at that address. */
static const struct wg_uapi_peer *uapi_peer_at(const struct wg_device *devs, int ndevs,
					       const __u8 addr[16], __u16 port)
{
	const struct wg_uapi_peer *by_addr = NULL;
	int nby_addr = 0;

	for (int d = 0; d < ndevs; d++) {
		for (int i = 0; i < devs[d].npeers; i++) {
			const struct wg_uapi_peer *p = &devs[d].peers[i];

			if (!p->has_endpoint || memcmp(p->endpoint_addr, addr, 16))
				continue;
			if (p->endpoint_port == port)
				return p;
			by_addr = p;
			nby_addr++;
		}
	}
	return nby_addr == 1 ? by_addr : NULL;
}

/* ---- reading the map into rows ---- */

struct wg_entry {
	struct wg_endpoint_key key;
	struct wg_endpoint_state st;
};

static int cmp_entry(const void *a, const void *b)
{
	return memcmp(&((const struct wg_entry *)a)->key, &((const struct wg_entry *)b)->key,
		      sizeof(struct wg_endpoint_key));
}

/*
 * Every entry of the LRU once, sorted by key. Entries may be evicted while we
 * walk (get_next_key then restarts from the first key), so the walk is
 * bounded and duplicates are dropped.
 */
static int read_entries(int fd, struct wg_entry **out)
{
	struct wg_endpoint_key key, next, *prev = NULL;
	struct wg_entry *e;
	int n = 0, m = 0, iter = 0;

	*out = NULL;
	e = calloc(WP_MAX_WG_ENDPOINTS, sizeof(*e));
	if (!e)
		return -ENOMEM;
	while (n < WP_MAX_WG_ENDPOINTS && iter++ < 2 * WP_MAX_WG_ENDPOINTS &&
	       !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &e[n].st))
			continue;
		e[n++].key = key;
	}
	qsort(e, n, sizeof(*e), cmp_entry);
	for (int i = 0; i < n; i++)
		if (!m || cmp_entry(&e[m - 1], &e[i]))
			e[m++] = e[i];
	*out = e;
	return m;
}

_Static_assert(WP_HIST_SLOTS == PROM_HIST_NR_BOUNDS + 1, "BPF and Prometheus histogram bounds");

static void hist_add_wp(struct prom_hist *h, const struct wp_hist *w)
{
	for (int i = 0; i < WP_HIST_SLOTS; i++)
		h->counts[i] += w->slots[i];
	h->count += w->count;
	h->sum += w->sum_ns / 1e9;
}

static void row_add(struct wg_row *r, const struct wg_row *s)
{
	for (int d = 0; d < 2; d++) {
		r->initiations[d] += s->initiations[d];
		r->completed[d] += s->completed[d];
		r->unanswered[d] += s->unanswered[d];
		r->pending[d] |= s->pending[d];
	}
	r->cookies_tx += s->cookies_tx;
	r->cookies_rx += s->cookies_rx;
	r->malformed += s->malformed;
	if (s->last_handshake_ns > r->last_handshake_ns)
		r->last_handshake_ns = s->last_handshake_ns;
	if (!r->has_key && s->has_key) {
		r->has_key = true;
		memcpy(r->public_key, s->public_key, WG_KEY_LEN);
	}
	prom_hist_merge(&r->rtt, &s->rtt);
}

static void row_from_entry(struct wg_row *r, const struct wg_entry *e, struct wg_namer *nm,
			   const struct wg_device *devs, int ndevs, __u64 now)
{
	const struct wg_uapi_peer *up = uapi_peer_at(devs, ndevs, e->key.addr, e->key.port);

	memset(r, 0, sizeof(*r));
	wg_format_endpoint(e->key.addr, e->key.port, r->endpoint, sizeof(r->endpoint));
	r->named = wg_resolve_peer(nm, e->st.peer_id, e->key.addr, up, r->peer);
	if (!r->named)
		snprintf(r->peer, sizeof(r->peer), "_unknown");
	if (up) {
		r->has_key = true;
		memcpy(r->public_key, up->public_key, WG_KEY_LEN);
	}
	for (int d = 0; d < 2; d++) {
		const struct wg_side *s = &e->st.side[d];
		bool stale = s->pending_ns && now > s->pending_ns &&
			     now - s->pending_ns > WG_UNANSWERED_AFTER_NS;

		r->initiations[d] = s->initiations;
		r->completed[d] = s->completed;
		/* the last initiation, with no retry after it, counts once it is overdue */
		r->unanswered[d] = s->unanswered + stale;
		r->pending[d] = s->pending_ns && !stale;
	}
	r->cookies_tx = e->st.cookies_tx;
	r->cookies_rx = e->st.cookies_rx;
	r->malformed = e->st.malformed;
	r->last_handshake_ns = e->st.last_handshake_ns;
	hist_add_wp(&r->rtt, &e->st.rtt);
}

static __u64 row_activity(const struct wg_row *r)
{
	return r->initiations[0] + r->initiations[1] + r->cookies_tx + r->cookies_rx;
}

static int cmp_row_labels(const void *a, const void *b)
{
	const struct wg_row *x = a, *y = b;
	int c = strcmp(x->peer, y->peer);

	return c ? c : strcmp(x->endpoint, y->endpoint);
}

/* Which rows keep their own series: named peers first, then the busiest. */
static int cmp_row_priority(const void *a, const void *b)
{
	const struct wg_row *x = a, *y = b;
	__u64 ax = row_activity(x), ay = row_activity(y);

	if (x->named != y->named)
		return x->named ? -1 : 1;
	if (ax != ay)
		return ax > ay ? -1 : 1;
	return cmp_row_labels(a, b);
}

/* See wg_int.h. */
int wg_build_rows(int fd, struct wg_namer *nm, const struct wg_device *devs, int ndevs,
		  bool keep_idle, int max_rows, struct wg_row **out, __u64 *malformed)
{
	struct wg_entry *e = NULL;
	struct wg_row *rows;
	__u64 now = wp_now_ns();
	int n, m = 0;

	*out = NULL;
	*malformed = 0;
	if (fd < 0)
		return 0;
	n = read_entries(fd, &e);
	if (n < 0)
		return n;
	rows = calloc(n + 1, sizeof(*rows));
	if (!rows) {
		free(e);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		*malformed += e[i].st.malformed;
		row_from_entry(&rows[m], &e[i], nm, devs, ndevs, now);
		if (keep_idle || row_activity(&rows[m]))
			m++;
	}
	free(e);
	/* the same labels (an endpoint on two underlay interfaces): one row */
	qsort(rows, m, sizeof(*rows), cmp_row_labels);
	n = 0;
	for (int i = 0; i < m; i++) {
		if (n && !cmp_row_labels(&rows[n - 1], &rows[i]))
			row_add(&rows[n - 1], &rows[i]);
		else if (n++ != i)
			rows[n - 1] = rows[i];
	}
	if (max_rows > 0 && n > max_rows) {
		struct wg_row other = {};

		qsort(rows, n, sizeof(*rows), cmp_row_priority);
		snprintf(other.peer, sizeof(other.peer), "_other");
		snprintf(other.endpoint, sizeof(other.endpoint), "_other");
		for (int i = max_rows; i < n; i++)
			row_add(&other, &rows[i]);
		other.has_key = false;
		n = max_rows;
		qsort(rows, n, sizeof(*rows), cmp_row_labels);
		rows[n++] = other;
	}
	*out = rows;
	return n;
}

int wg_namer_init(struct wg_namer *nr, const struct wg_names *nm)
{
	memset(nr, 0, sizeof(*nr));
	nr->nm = nm;
	return 0;
}

void wg_namer_free(struct wg_namer *nr)
{
	wg_prefix_index_free(&nr->ix);
}

/* ---- devices ---- */

static atomic_ullong read_errors[WG_SOURCE_MAX];
static atomic_ullong endpoint_changes;

const char *const wg_source_names
	[WG_SOURCE_MAX] = { [WG_SOURCE_UAPI] = "uapi", [WG_SOURCE_NETLINK] = "netlink" };

void wg_read_stats(struct wg_read_stats *st)
{
	for (int i = 0; i < WG_SOURCE_MAX; i++)
		st->read_errors[i] = atomic_load(&read_errors[i]);
	st->endpoint_changes = atomic_load(&endpoint_changes);
}

void wg_read_stats_add_error(enum wg_source src)
{
	if (src < WG_SOURCE_MAX)
		atomic_fetch_add(&read_errors[src], 1);
}

/*
 * The last endpoint of each peer (interface, public key) seen by any read
 * in this process: a change (NAT rebinding, a roaming node) is counted and
 * logged. Bounded: beyond WG_ENDPOINT_TRACK peers, new ones are not tracked.
 */
#define WG_ENDPOINT_TRACK 16384

struct endpoint_seen {
	char ifname[WP_IFNAME_LEN];
	__u8 key[WG_KEY_LEN];
	__u8 addr[16];
	__u16 port;
};

static pthread_mutex_t track_lock = PTHREAD_MUTEX_INITIALIZER;
static struct endpoint_seen *track;
static int ntrack, captrack;

static int cmp_seen(const void *a, const void *b)
{
	const struct endpoint_seen *x = a, *y = b;
	int c = strcmp(x->ifname, y->ifname);

	return c ? c : memcmp(x->key, y->key, WG_KEY_LEN);
}

static void endpoint_track(const struct wg_device *dev)
{
	pthread_mutex_lock(&track_lock);
	for (int i = 0; i < dev->npeers; i++) {
		const struct wg_uapi_peer *p = &dev->peers[i];
		struct endpoint_seen k = {}, *s;

		if (!p->has_endpoint)
			continue;
		snprintf(k.ifname, sizeof(k.ifname), "%s", dev->ifname);
		memcpy(k.key, p->public_key, WG_KEY_LEN);
		s = bsearch(&k, track, ntrack, sizeof(*track), cmp_seen);
		if (s) {
			char was[INET6_ADDRSTRLEN + 16], now[INET6_ADDRSTRLEN + 16];
			char b64[WG_KEY_B64_LEN + 1];

			if (!memcmp(s->addr, p->endpoint_addr, 16) && s->port == p->endpoint_port)
				continue;
			wg_format_endpoint(s->addr, s->port, was, sizeof(was));
			wg_format_endpoint(p->endpoint_addr, p->endpoint_port, now, sizeof(now));
			wg_key_to_base64(p->public_key, b64);
			log_info("wireguard: %s peer %s: endpoint %s -> %s", dev->ifname, b64, was,
				 now);
			atomic_fetch_add(&endpoint_changes, 1);
			memcpy(s->addr, p->endpoint_addr, 16);
			s->port = p->endpoint_port;
			continue;
		}
		if (ntrack == WG_ENDPOINT_TRACK)
			continue;
		if (ntrack == captrack) {
			int cap = captrack ? captrack * 2 : 64;
			struct endpoint_seen *v = realloc(track, cap * sizeof(*v));

			if (!v)
				continue;
			track = v;
			captrack = cap;
		}
		memcpy(k.addr, p->endpoint_addr, 16);
		k.port = p->endpoint_port;
		track[ntrack++] = k;
		qsort(track, ntrack, sizeof(*track), cmp_seen);
	}
	pthread_mutex_unlock(&track_lock);
}

static int cmp_dev(const void *a, const void *b)
{
	return strcmp(((const struct wg_device *)a)->ifname, ((const struct wg_device *)b)->ifname);
}

/*
 * Is @name a kernel WireGuard link? Only those are asked over netlink: asking
 * for the "wireguard" family on a host without the module loaded would load it.
 * Without a link dump (@links NULL), every interface is asked.
 */
static bool kernel_wireguard(const struct link_desc *links, int nlinks, const char *name)
{
	const struct link_desc *l;

	if (!links)
		return true;
	l = links_find(links, nlinks, name);
	return l && !strcmp(l->kind, "wireguard");
}

int wg_devices_read(const char *const *ifnames, int n, struct wg_device **devs)
{
	struct link_desc *links = NULL;
	struct wg_device *out;
	int m = 0, nlinks;

	*devs = NULL;
	if (n <= 0)
		return 0;
	out = calloc(n, sizeof(*out));
	if (!out)
		return -ENOMEM;
	nlinks = links_dump(&links);
	if (nlinks < 0)
		links = NULL;
	for (int i = 0; i < n; i++) {
		char err[160];
		bool dup = false;
		int ret;

		for (int j = 0; j < m; j++)
			dup |= !strcmp(out[j].ifname, ifnames[i]);
		if (dup)
			continue;
		if (wg_uapi_has_socket(ifnames[i])) {
			if (wg_uapi_get(ifnames[i], &out[m++], err, sizeof(err)))
				atomic_fetch_add(&read_errors[WG_SOURCE_UAPI], 1);
			continue;
		}
		if (!kernel_wireguard(links, nlinks, ifnames[i]))
			continue;
		ret = wg_netlink_get(ifnames[i], &out[m], err, sizeof(err));
		if (ret == -ENOENT || ret == -ENODEV || ret == -EOPNOTSUPP || ret == -EINVAL) {
			wg_device_free(&out[m]); /* no such family, or not a WireGuard link */
			continue;
		}
		if (ret) {
			atomic_fetch_add(&read_errors[WG_SOURCE_NETLINK], 1);
			log_debug("wireguard: %s: %s", ifnames[i], err);
		}
		m++;
	}
	free(links);
	for (int i = 0; i < m; i++)
		endpoint_track(&out[i]);
	if (!m) {
		free(out);
		return 0;
	}
	qsort(out, m, sizeof(*out), cmp_dev);
	*devs = out;
	return m;
}

int wg_devices_from_ifaces(int ifaces_fd, struct wg_device **devs)
{
	char(*names)[WP_IFNAME_LEN];
	const char *ptrs[WP_MAX_IFACES];
	__u32 key, next, *prev = NULL;
	int n = 0, iter = 0, ret;

	*devs = NULL;
	names = calloc(WP_MAX_IFACES, sizeof(*names));
	if (!names)
		return -ENOMEM;
	while (n < WP_MAX_IFACES && iter++ < 4 * WP_MAX_IFACES &&
	       !bpf_map_get_next_key(ifaces_fd, prev, &next)) {
		struct iface_cfg ic;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(ifaces_fd, &key, &ic))
			continue;
		memcpy(names[n], ic.name, WP_IFNAME_LEN);
		names[n][WP_IFNAME_LEN - 1] = '\0';
		ptrs[n] = names[n];
		n++;
	}
	ret = wg_devices_read(ptrs, n, devs);
	free(names);
	return ret;
}
/* ---- from the pins (warmpath status) ---- */

struct pinned_names {
	int peers_fd;
	char buf[WP_PEER_NAME_LEN];
};

static const char *pinned_peer_name(void *ctx, __u32 peer_id)
{
	struct pinned_names *pn = ctx;
	struct peer_state ps;

	if (pn->peers_fd < 0 || bpf_map_lookup_elem(pn->peers_fd, &peer_id, &ps) || !ps.name[0])
		return NULL;
	ps.name[WP_PEER_NAME_LEN - 1] = '\0';
	memcpy(pn->buf, ps.name, sizeof(pn->buf));
	return pn->buf;
}

json_t *wg_status_json_from_pins(const char *pin_path, char *err, size_t errlen)
{
	struct pinned_names pn = { .peers_fd = -1 };
	struct wg_names nm = { .peer_name = pinned_peer_name, .ctx = &pn, .prefixes_fd = -1 };
	struct wg_device *devs = NULL;
	int wg_fd, ifaces_fd, ndevs = 0;
	json_t *root;

	wg_fd = wp_open_pin(pin_path, "wg_endpoints", NULL, 0);
	if (wg_fd < 0) {
		snprintf(err, errlen, "cannot open pinned map %s/wg_endpoints: %s", pin_path,
			 strerror(errno));
		return NULL;
	}
	pn.peers_fd = wp_open_pin(pin_path, "peers", NULL, 0);
	nm.prefixes_fd = wp_open_pin(pin_path, "prefixes", NULL, 0);
	ifaces_fd = wp_open_pin(pin_path, "ifaces", NULL, 0);
	if (ifaces_fd >= 0) {
		ndevs = wg_devices_from_ifaces(ifaces_fd, &devs);
		if (ndevs < 0)
			ndevs = 0;
		close(ifaces_fd);
	}
	root = wg_status_json(wg_fd, &nm, devs, ndevs);
	if (!root)
		snprintf(err, errlen, "out of memory");
	wg_devices_free(devs, ndevs);
	if (nm.prefixes_fd >= 0)
		close(nm.prefixes_fd);
	if (pn.peers_fd >= 0)
		close(pn.peers_fd);
	close(wg_fd);
	return root;
}
