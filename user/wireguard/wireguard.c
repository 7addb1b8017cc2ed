// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * WireGuard in user space: the handshake metrics / JSON of the `wg_endpoints`
 * map, joined with the wireguard-go devices of the UAPI client (wg_uapi.c).
 * See wireguard.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "util.h"
#include "wireguard.h"
static const char *const side_names[2] = { [WP_DIR_TX] = "initiated", [WP_DIR_RX] = "received" };

static double real_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- formatting ---- */

static bool addr_is_v4(const __u8 addr[16])
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(addr, mapped, sizeof(mapped));
}

void wg_format_endpoint(const __u8 addr[16], __u16 port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (addr_is_v4(addr)) {
		inet_ntop(AF_INET, addr + 12, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, port);
	} else {
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, port);
	}
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

/*
 * The peer of an endpoint address (or NULL) and of a wireguard-go peer (or
 * NULL): with the trie, by the address, then by the device peer's endpoint
 * and allowed IPs; without it, by the slot the datapath stored (id + 1).
 */
static bool resolve_peer(const struct wg_names *nm, __u32 stored_id, const __u8 *addr,
			 const struct wg_uapi_peer *up, char out[WP_PEER_NAME_LEN])
{
	if (nm && nm->prefixes_fd >= 0) {
		if (addr && name_of_addr(nm, addr, out))
			return true;
		if (up && up->has_endpoint && (!addr || memcmp(addr, up->endpoint_addr, 16)) &&
		    name_of_addr(nm, up->endpoint_addr, out))
			return true;
		for (int i = 0; up && i < up->nallowed_ips; i++)
			if (name_of_addr(nm, up->allowed_ips[i].addr, out))
				return true;
		return false;
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

/* One (peer, endpoint): the entries of the map that carry these labels, summed. */
struct wg_row {
	char peer[WP_PEER_NAME_LEN];
	char endpoint[INET6_ADDRSTRLEN + 16];
	bool named;
	bool has_key;
	__u8 public_key[WG_KEY_LEN];
	__u64 initiations[2];
	__u64 completed[2];
	__u64 unanswered[2];
	bool pending[2];
	__u64 cookies_tx;
	__u64 cookies_rx;
	__u64 malformed;
	__u64 last_handshake_ns;
	struct prom_hist rtt;
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

static void row_from_entry(struct wg_row *r, const struct wg_entry *e, const struct wg_names *nm,
			   const struct wg_device *devs, int ndevs, __u64 now)
{
	const struct wg_uapi_peer *up = uapi_peer_at(devs, ndevs, e->key.addr, e->key.port);

	memset(r, 0, sizeof(*r));
	wg_format_endpoint(e->key.addr, e->key.port, r->endpoint, sizeof(r->endpoint));
	r->named = resolve_peer(nm, e->st.peer_id, e->key.addr, up, r->peer);
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

/*
 * Rows by (peer, endpoint), sorted by labels. keep_idle: also rows with no
 * handshake activity (only malformed datagrams). max_rows > 0: beyond it the
 * rest sums into one "_other" row (last). *malformed: the sum over all entries.
 */
static int build_rows(int fd, const struct wg_names *nm, const struct wg_device *devs, int ndevs,
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

/* ---- metrics ---- */

#define ROW_LABELS(r) "peer", (r)->peer, "endpoint", (r)->endpoint

static void emit_endpoint_metrics(struct prom_buf *b, const struct wg_row *rows, int n,
				  __u64 malformed)
{
	const char *hs = "warmpath_wireguard_handshakes_total";
	const char *in = "warmpath_wireguard_handshake_initiations_total";
	const char *ck = "warmpath_wireguard_cookies_total";
	const char *rtt = "warmpath_wireguard_handshake_rtt_seconds";

	prom_family(b, hs, PROM_COUNTER,
		    "WireGuard handshakes seen on the underlay by who initiated them (initiated: "
		    "this node) and outcome (unanswered: no response before the retry)");
	for (int i = 0; i < n; i++) {
		for (int d = 0; d < 2; d++) {
			const char *c[] = { ROW_LABELS(&rows[i]), "direction",
					    side_names[d],	  "result",
					    "completed",	  NULL };
			const char *u[] = { ROW_LABELS(&rows[i]), "direction",
					    side_names[d],	  "result",
					    "unanswered",	  NULL };

			prom_sample_u64(b, hs, c, rows[i].completed[d]);
			prom_sample_u64(b, hs, u, rows[i].unanswered[d]);
		}
	}
	prom_family(b, in, PROM_COUNTER,
		    "WireGuard handshake initiations (retries included) seen on the underlay");
	for (int i = 0; i < n; i++) {
		for (int d = 0; d < 2; d++) {
			const char *l[] = { ROW_LABELS(&rows[i]), "direction", side_names[d],
					    NULL };

			prom_sample_u64(b, in, l, rows[i].initiations[d]);
		}
	}
	prom_family(b, ck, PROM_COUNTER,
		    "WireGuard cookie replies (a side under load) sent (tx) and received (rx)");
	for (int i = 0; i < n; i++) {
		const char *tx[] = { ROW_LABELS(&rows[i]), "direction", "tx", NULL };
		const char *rx[] = { ROW_LABELS(&rows[i]), "direction", "rx", NULL };

		prom_sample_u64(b, ck, tx, rows[i].cookies_tx);
		prom_sample_u64(b, ck, rx, rows[i].cookies_rx);
	}
	prom_family(
		b, rtt, PROM_HISTOGRAM,
		"From this node's handshake initiation to the peer's response, on the underlay");
	for (int i = 0; i < n; i++) {
		const char *l[] = { ROW_LABELS(&rows[i]), NULL };

		prom_hist_emit(b, rtt, l, &rows[i].rtt);
	}
	prom_family(b, "warmpath_wireguard_malformed_total", PROM_COUNTER,
		    "Datagrams on the WireGuard port that were no valid WireGuard message "
		    "(summed over the endpoints currently tracked)");
	prom_sample_u64(b, "warmpath_wireguard_malformed_total", NULL, malformed);
}

static int emit_endpoints(int fd, const struct wg_names *nm, const struct wg_device *devs,
			  int ndevs, struct prom_buf *b)
{
	struct wg_row *rows = NULL;
	__u64 malformed = 0;
	int n;

	n = build_rows(fd, nm, devs, ndevs, false, WG_MAX_ENDPOINT_SERIES, &rows, &malformed);
	if (n < 0) {
		free(rows);
		return n;
	}
	emit_endpoint_metrics(b, rows, n, malformed);
	free(rows);
	return 0;
}

int wg_emit_metrics(int wg_endpoints_fd, const char *(*peer_name)(void *ctx, __u32 peer_id),
		    void *ctx, struct prom_buf *b)
{
	struct wg_names nm = { .peer_name = peer_name, .ctx = ctx, .prefixes_fd = -1 };
	int ret = emit_endpoints(wg_endpoints_fd, &nm, NULL, 0, b);

	return ret ? ret : prom_buf_error(b);
}

static double handshake_age(const struct wg_uapi_peer *p, double now)
{
	double t;

	if (!p->last_handshake_sec && !p->last_handshake_nsec)
		return INFINITY;
	t = p->last_handshake_sec + p->last_handshake_nsec / 1e9;
	return t > now ? 0 : now - t;
}

static void emit_uapi(const struct wg_names *nm, const struct wg_device *devs, int ndevs,
		      struct prom_buf *b)
{
	const char *lh = "warmpath_wireguard_peer_last_handshake_seconds";
	double now = real_s();
	int series = 0;

	prom_family(b, "warmpath_wireguard_uapi_up", PROM_GAUGE,
		    "1 when the peer list of a wireguard-go interface was read over its UAPI "
		    "socket, 0 when that failed");
	for (int d = 0; d < ndevs; d++) {
		const char *l[] = { "interface", devs[d].ifname, NULL };

		prom_sample(b, "warmpath_wireguard_uapi_up", l, devs[d].err ? 0 : 1);
	}
	prom_family(b, lh, PROM_GAUGE,
		    "Seconds since the last completed handshake of a WireGuard peer, as "
		    "wireguard-go reports it (+Inf: never)");
	for (int d = 0; d < ndevs; d++) {
		for (int i = 0; i < devs[d].npeers && series < WG_MAX_UAPI_PEER_SERIES; i++) {
			const struct wg_uapi_peer *p = &devs[d].peers[i];
			char key[WG_KEY_B64_LEN + 1], ep[INET6_ADDRSTRLEN + 16],
				peer[WP_PEER_NAME_LEN];
			const char *l[] = { "interface", devs[d].ifname, "peer", peer, "public_key",
					    key,	 "endpoint",	 ep,	 NULL };

			wg_key_to_base64(p->public_key, key);
			if (p->has_endpoint)
				wg_format_endpoint(p->endpoint_addr, p->endpoint_port, ep,
						   sizeof(ep));
			else
				snprintf(ep, sizeof(ep), "none");
			if (!resolve_peer(nm, 0, p->has_endpoint ? p->endpoint_addr : NULL, p,
					  peer))
				snprintf(peer, sizeof(peer), "_unknown");
			prom_sample(b, lh, l, handshake_age(p, now));
			series++;
		}
	}
}

int wg_emit_metrics_all(int wg_endpoints_fd, const struct wg_names *names,
			const struct wg_device *devs, int ndevs, struct prom_buf *b)
{
	int ret = emit_endpoints(wg_endpoints_fd, names, devs, ndevs, b);

	if (ret)
		return ret;
	emit_uapi(names, devs, ndevs, b);
	return prom_buf_error(b);
}

/* ---- JSON ---- */

static json_t *json_age_ns(__u64 now, __u64 stamp)
{
	if (!stamp)
		return json_null();
	return json_real(stamp > now ? 0 : (now - stamp) / 1e9);
}

static json_t *side_json(const struct wg_row *r, int d)
{
	return json_pack("{s:I, s:I, s:I, s:b}", "initiations", (json_int_t)r->initiations[d],
			 "completed", (json_int_t)r->completed[d], "unanswered",
			 (json_int_t)r->unanswered[d], "pending", r->pending[d]);
}

static json_t *row_json(const struct wg_row *r, __u64 now)
{
	char key[WG_KEY_B64_LEN + 1];

	if (r->has_key)
		wg_key_to_base64(r->public_key, key);
	return json_pack(
		"{s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:o, s:o}", "peer", r->peer,
		"endpoint", r->endpoint, "public_key", r->has_key ? json_string(key) : json_null(),
		"initiated", side_json(r, 0), "received", side_json(r, 1), "cookies_tx",
		(json_int_t)r->cookies_tx, "cookies_rx", (json_int_t)r->cookies_rx, "malformed",
		(json_int_t)r->malformed, "rtt_count", (json_int_t)r->rtt.count, "rtt_mean_seconds",
		r->rtt.count ? json_real(r->rtt.sum / r->rtt.count) : json_null(),
		"last_handshake_seconds_ago", json_age_ns(now, r->last_handshake_ns));
}

static json_t *uapi_peer_json(const struct wg_names *nm, const struct wg_uapi_peer *p, double now)
{
	char key[WG_KEY_B64_LEN + 1], ep[INET6_ADDRSTRLEN + 16], peer[WP_PEER_NAME_LEN];
	json_t *ips = json_array();
	double age = handshake_age(p, now);
	bool named;

	for (int i = 0; i < p->nallowed_ips; i++) {
		char a[INET6_ADDRSTRLEN + 8];

		prefix_format(&p->allowed_ips[i], a, sizeof(a));
		json_array_append_new(ips, json_string(a));
	}
	wg_key_to_base64(p->public_key, key);
	if (p->has_endpoint)
		wg_format_endpoint(p->endpoint_addr, p->endpoint_port, ep, sizeof(ep));
	named = resolve_peer(nm, 0, p->has_endpoint ? p->endpoint_addr : NULL, p, peer);
	return json_pack("{s:s, s:o, s:o, s:o, s:I, s:I, s:i, s:o}", "public_key", key, "peer",
			 named ? json_string(peer) : json_null(), "endpoint",
			 p->has_endpoint ? json_string(ep) : json_null(),
			 "last_handshake_seconds_ago", isinf(age) ? json_null() : json_real(age),
			 "rx_bytes", (json_int_t)p->rx_bytes, "tx_bytes", (json_int_t)p->tx_bytes,
			 "persistent_keepalive_interval", (int)p->persistent_keepalive,
			 "allowed_ips", ips);
}

json_t *wg_status_json(int wg_endpoints_fd, const struct wg_names *names,
		       const struct wg_device *devs, int ndevs)
{
	json_t *root = json_object(), *eps = json_array(), *darr = json_array();
	struct wg_row *rows = NULL;
	__u64 now = wp_now_ns(), malformed = 0;
	double rnow = real_s();
	int n;

	if (!root || !eps || !darr)
		goto nomem;
	n = build_rows(wg_endpoints_fd, names, devs, ndevs, true, 0, &rows, &malformed);
	if (n < 0)
		goto nomem;
	for (int i = 0; i < n; i++)
		json_array_append_new(eps, row_json(&rows[i], now));
	free(rows);
	for (int d = 0; d < ndevs; d++) {
		json_t *o, *parr = json_array();

		for (int i = 0; i < devs[d].npeers; i++)
			json_array_append_new(parr, uapi_peer_json(names, &devs[d].peers[i], rnow));
		o = json_pack("{s:s, s:i, s:o, s:b, s:o}", "interface", devs[d].ifname,
			      "listen_port", (int)devs[d].listen_port, "error",
			      devs[d].err ? json_string(devs[d].error) : json_null(), "truncated",
			      devs[d].truncated, "peers", parr);
		json_array_append_new(darr, o);
	}
	json_object_set_new(root, "endpoints", eps);
	json_object_set_new(root, "devices", darr);
	json_object_set_new(root, "malformed", json_integer(malformed));
	return root;
nomem:
	json_decref(root);
	json_decref(eps);
	json_decref(darr);
	return NULL;
}

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
		ndevs = wg_uapi_get_ifaces(ifaces_fd, &devs);
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

/* ---- the status table ---- */

static void fmt_secs(const json_t *v, char *buf, size_t len)
{
	wp_format_age(json_is_number(v) ? json_number_value(v) : -1, buf, len);
}

static long long side_get(const json_t *o, const char *side, const char *field)
{
	return json_integer_value(json_object_get(json_object_get(o, side), field));
}

/* An endpoint row with nothing but malformed datagrams. */
static bool row_json_idle(const json_t *o)
{
	return !side_get(o, "initiated", "initiations") &&
	       !side_get(o, "received", "initiations") &&
	       !json_integer_value(json_object_get(o, "cookies_tx")) &&
	       !json_integer_value(json_object_get(o, "cookies_rx"));
}

void wg_status_print(const json_t *wg, FILE *f)
{
	const json_t *eps = json_object_get(wg, "endpoints"),
		     *devs = json_object_get(wg, "devices");
	const json_t *o, *d;
	size_t i, j, idle = 0;

	json_array_foreach(eps, i, o)
		idle += row_json_idle(o);
	if (json_array_size(eps) > idle) {
		fprintf(f, "\nWireGuard handshakes on the underlay (INIT: this node initiated, "
			   "RECV: the peer did):\n");
		fprintf(f, "%-20s %-24s %6s %6s %6s %6s %6s %6s %7s %9s %8s\n", "PEER", "ENDPOINT",
			"INIT", "DONE", "UNANS", "RECV", "DONE", "UNANS", "COOKIES", "RTT_MEAN",
			"LAST_HS");
	}
	json_array_foreach(eps, i, o) {
		char rtt[16], last[16];
		const json_t *mean = json_object_get(o, "rtt_mean_seconds");

		if (row_json_idle(o))
			continue; /* only malformed datagrams: a scanner, counted below */
		if (json_is_number(mean))
			fmt_secs(mean, rtt, sizeof(rtt));
		else
			snprintf(rtt, sizeof(rtt), "-");
		fmt_secs(json_object_get(o, "last_handshake_seconds_ago"), last, sizeof(last));
		fprintf(f, "%-20s %-24s %6lld %6lld %6lld %6lld %6lld %6lld %7lld %9s %8s\n",
			json_string_value(json_object_get(o, "peer")),
			json_string_value(json_object_get(o, "endpoint")),
			side_get(o, "initiated", "initiations"),
			side_get(o, "initiated", "completed"),
			side_get(o, "initiated", "unanswered"),
			side_get(o, "received", "initiations"),
			side_get(o, "received", "completed"), side_get(o, "received", "unanswered"),
			json_integer_value(json_object_get(o, "cookies_tx")) +
				json_integer_value(json_object_get(o, "cookies_rx")),
			rtt, last);
	}
	if (idle)
		fprintf(f,
			"%zu endpoint(s) sent only malformed datagrams to the WireGuard port "
			"(%lld in all; see --json)\n",
			idle, json_integer_value(json_object_get(wg, "malformed")));
	json_array_foreach(devs, i, d) {
		const json_t *peers = json_object_get(d, "peers");
		const char *error = json_string_value(json_object_get(d, "error"));

		fprintf(f, "\nwireguard-go %s", json_string_value(json_object_get(d, "interface")));
		if (error) {
			fprintf(f, ": %s\n", error);
			continue;
		}
		fprintf(f, " (listen port %lld, %zu peer(s)):\n",
			json_integer_value(json_object_get(d, "listen_port")),
			json_array_size(peers));
		if (!json_array_size(peers))
			continue;
		fprintf(f, "%-20s %-44s %-24s %8s\n", "PEER", "PUBLIC_KEY", "ENDPOINT", "LAST_HS");
		json_array_foreach(peers, j, o) {
			const char *peer = json_string_value(json_object_get(o, "peer"));
			const char *ep = json_string_value(json_object_get(o, "endpoint"));
			char last[16];

			fmt_secs(json_object_get(o, "last_handshake_seconds_ago"), last,
				 sizeof(last));
			fprintf(f, "%-20s %-44s %-24s %8s\n", peer ? peer : "-",
				json_string_value(json_object_get(o, "public_key")), ep ? ep : "-",
				last);
		}
	}
}
