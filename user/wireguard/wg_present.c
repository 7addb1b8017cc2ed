// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * WireGuard, presentation: the metrics and JSON of the rows and devices that
 * wg_read.c reads and names, and the WireGuard section of the `warmpath
 * status` table. See wireguard.h.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "util.h"
#include "wg_int.h"
#include "wg_sync.h"

static const char *const side_names[2] = { [WP_DIR_TX] = "initiated", [WP_DIR_RX] = "received" };

static double real_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
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

static int emit_endpoints(int fd, struct wg_namer *nm, const struct wg_device *devs, int ndevs,
			  struct prom_buf *b)
{
	struct wg_row *rows = NULL;
	__u64 malformed = 0;
	int n;

	n = wg_build_rows(fd, nm, devs, ndevs, false, WG_MAX_ENDPOINT_SERIES, &rows, &malformed);
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
	struct wg_namer nr = { .nm = &nm };
	int ret = emit_endpoints(wg_endpoints_fd, &nr, NULL, 0, b);

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

static void emit_uapi(struct wg_namer *nm, const struct wg_device *devs, int ndevs,
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

		if (!devs[d].kernel)
			prom_sample(b, "warmpath_wireguard_uapi_up", l, devs[d].err ? 0 : 1);
	}
	prom_family(b, "warmpath_wireguard_netlink_up", PROM_GAUGE,
		    "1 when the peer list of a kernel WireGuard interface was read over generic "
		    "netlink, 0 when that failed");
	for (int d = 0; d < ndevs; d++) {
		const char *l[] = { "interface", devs[d].ifname, NULL };

		if (devs[d].kernel)
			prom_sample(b, "warmpath_wireguard_netlink_up", l, devs[d].err ? 0 : 1);
	}
	prom_family(b, lh, PROM_GAUGE,
		    "Seconds since the last completed handshake of a WireGuard peer, as "
		    "wireguard-go or the kernel reports it (+Inf: never)");
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
			if (!wg_resolve_peer(nm, 0, p->has_endpoint ? p->endpoint_addr : NULL, p,
					     peer))
				snprintf(peer, sizeof(peer), "_unknown");
			prom_sample(b, lh, l, handshake_age(p, now));
			series++;
		}
	}
}

static void emit_read_stats(struct prom_buf *b)
{
	struct wg_read_stats st;

	wg_read_stats(&st);
	prom_family(b, "warmpath_wireguard_read_errors_total", PROM_COUNTER,
		    "WireGuard device reads that failed (malformed reply or dump, timeout, "
		    "refused), by source: uapi (wireguard-go) or netlink (kernel)");
	for (int i = 0; i < WG_SOURCE_MAX; i++) {
		const char *l[] = { "source", wg_source_names[i], NULL };

		prom_sample_u64(b, "warmpath_wireguard_read_errors_total", l, st.read_errors[i]);
	}
	prom_family(b, "warmpath_wireguard_endpoint_changes_total", PROM_COUNTER,
		    "Times a WireGuard peer's endpoint changed between two reads (NAT rebinding, "
		    "a roaming node)");
	prom_sample_u64(b, "warmpath_wireguard_endpoint_changes_total", NULL, st.endpoint_changes);
}

int wg_emit_metrics_all(int wg_endpoints_fd, const struct wg_names *names,
			const struct wg_device *devs, int ndevs, struct prom_buf *b)
{
	struct wg_namer nr;
	int ret = wg_namer_init(&nr, names);

	if (!ret)
		ret = emit_endpoints(wg_endpoints_fd, &nr, devs, ndevs, b);
	if (!ret) {
		emit_uapi(&nr, devs, ndevs, b);
		emit_read_stats(b);
		wg_sync_emit_metrics(b);
	}
	wg_namer_free(&nr);
	return ret ? ret : prom_buf_error(b);
}

/* ---- JSON ---- */

static json_t *json_age_ns(__u64 now, __u64 stamp)
{
	double age = wp_age_s(now, stamp);

	return age < 0 ? json_null() : json_real(age);
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

static json_t *uapi_peer_json(struct wg_namer *nm, const struct wg_uapi_peer *p, double now)
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
	named = wg_resolve_peer(nm, 0, p->has_endpoint ? p->endpoint_addr : NULL, p, peer);
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
	struct wg_namer nr;
	int n;

	if (wg_namer_init(&nr, names) || !root || !eps || !darr)
		goto nomem;
	n = wg_build_rows(wg_endpoints_fd, &nr, devs, ndevs, true, 0, &rows, &malformed);
	if (n < 0)
		goto nomem;
	for (int i = 0; i < n; i++)
		json_array_append_new(eps, row_json(&rows[i], now));
	free(rows);
	for (int d = 0; d < ndevs; d++) {
		json_t *o, *parr = json_array();

		for (int i = 0; i < devs[d].npeers; i++)
			json_array_append_new(parr, uapi_peer_json(&nr, &devs[d].peers[i], rnow));
		o = json_pack("{s:s, s:s, s:i, s:o, s:b, s:o}", "interface", devs[d].ifname,
			      "source",
			      wg_source_names[devs[d].kernel ? WG_SOURCE_NETLINK : WG_SOURCE_UAPI],
			      "listen_port", (int)devs[d].listen_port, "error",
			      devs[d].err ? json_string(devs[d].error) : json_null(), "truncated",
			      devs[d].truncated, "peers", parr);
		json_array_append_new(darr, o);
	}
	json_object_set_new(root, "endpoints", eps);
	json_object_set_new(root, "devices", darr);
	json_object_set_new(root, "malformed", json_integer(malformed));
	if (wg_sync_active()) /* the agent: which peers WireGuard's keepalive holds warm */
		json_object_set_new(root, "keepalive_held", wg_sync_held_json());
	wg_namer_free(&nr);
	return root;
nomem:
	wg_namer_free(&nr);
	json_decref(root);
	json_decref(eps);
	json_decref(darr);
	return NULL;
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
		const char *src = json_string_value(json_object_get(d, "source"));

		fprintf(f, "\n%s %s",
			src && !strcmp(src, "netlink") ? "kernel WireGuard" : "wireguard-go",
			json_string_value(json_object_get(d, "interface")));
		if (error) {
			fprintf(f, ": %s\n", error);
			continue;
		}
		fprintf(f, " (listen port %lld, %zu peer(s)):\n",
			json_integer_value(json_object_get(d, "listen_port")),
			json_array_size(peers));
		if (!json_array_size(peers))
			continue;
		fprintf(f, "%-20s %-44s %-24s %8s %9s\n", "PEER", "PUBLIC_KEY", "ENDPOINT",
			"LAST_HS", "KEEPALIVE");
		json_array_foreach(peers, j, o) {
			const char *peer = json_string_value(json_object_get(o, "peer"));
			const char *ep = json_string_value(json_object_get(o, "endpoint"));
			json_int_t ka = json_integer_value(
				json_object_get(o, "persistent_keepalive_interval"));
			char last[16], kas[16];

			fmt_secs(json_object_get(o, "last_handshake_seconds_ago"), last,
				 sizeof(last));
			if (ka)
				snprintf(kas, sizeof(kas), "%llds", (long long)ka);
			else
				snprintf(kas, sizeof(kas), "off");
			fprintf(f, "%-20s %-44s %-24s %8s %9s\n", peer ? peer : "-",
				json_string_value(json_object_get(o, "public_key")), ep ? ep : "-",
				last, kas);
		}
	}
}
