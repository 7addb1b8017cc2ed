// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's HTTP views: Prometheus metrics and the /peers JSON, built from
 * a list of collectors that read each room through its interface. Called
 * from the HTTP server's thread; every read of agent state holds src->lock.
 * The peers' series follow --peer-metrics (peer_table.h): node-level
 * aggregates always, then the worst K peers by name (default: the series
 * count does not grow with the cluster), nothing, or every peer up to
 * --max-peer-series (the rest summed into peer="_other").
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>
#include "datapath.skel.h"
#include "coverage.h"
#include "export.h"
#include "peer_json.h"
#include "peers.h"
#include "status.h"
#include "util.h"
#include "wireguard.h"

void datapath_emit_metrics(const struct wp_loader *ld, struct prom_buf *b)
{
	__u64 sums[WP_STAT_MAX];
	__u32 read = wp_stats_read(bpf_map__fd(ld->skel->maps.stats), sums);

	prom_family(b, "warmpath_datapath_packets_total", PROM_COUNTER,
		    "Datapath self-accounting by outcome (see headers/warmpath.h enum wp_stat)");
	for (__u32 k = 0; k < WP_STAT_MAX; k++) {
		const char *l[] = { "result", wp_stat_names[k], NULL };

		if (read & (1u << k))
			prom_sample_u64(b, "warmpath_datapath_packets_total", l, sums[k]);
	}
	prom_family(b, "warmpath_bpf_attached", PROM_GAUGE,
		    "1 for every hook the datapath is attached to");
	for (int i = 0; i < ld->nattach; i++) {
		for (int dir = 0; dir < 2; dir++) {
			const char *l[] = { "interface", ld->attach[i].ifname,
					    "direction", dir ? "egress" : "ingress",
					    "mode",	 wp_attach_mode_name(ld->attach[i].mode),
					    NULL };

			prom_sample(b, "warmpath_bpf_attached", l, 1);
		}
	}
}

/* Interface names for the drop metrics: what this run attached (caller holds the lock). */
static const char *attached_ifname(void *ctx, __u32 ifindex)
{
	const struct wp_loader *ld = ctx;

	for (int i = 0; i < ld->nattach; i++)
		if ((__u32)ld->attach[i].ifindex == ifindex)
			return ld->attach[i].ifname;
	return NULL; /* the name recorded in the ifaces map, else if<N> */
}

/* wg_names.peer_name: the name of the peer in a map slot (caller holds the lock). */
static const char *wg_peer_name(void *ctx, __u32 peer_id)
{
	const struct peer_table *t = ctx;
	int i = peer_table_index_of_id(t, peer_id);

	return i >= 0 && i < t->n ? t->e[i].name : NULL;
}

static void wg_names_of(const struct wp_export_sources *src, struct wg_names *nm)
{
	nm->peer_name = wg_peer_name;
	nm->ctx = src->peers;
	nm->prefixes_fd = bpf_map__fd(src->ld->skel->maps.prefixes);
}

/* wireguard-go peer lists, read outside the lock (a UAPI query may take up to 1 s). */
static int wg_devices(const struct wp_export_sources *src, struct wg_device **devs)
{
	int n = wg_devices_from_ifaces(bpf_map__fd(src->ld->skel->maps.ifaces), devs);

	return n > 0 ? n : 0;
}

/*
 * The WireGuard devices as read at most once per WG_SNAP_TTL_NS: the scrapes
 * and /peers requests in between share that read instead of querying every
 * UAPI socket and netlink again (a flood of requests cannot turn into a
 * flood of socket queries). Reference-counted: a request keeps its snapshot
 * while a newer one replaces it.
 */
#define WG_SNAP_TTL_NS 1000000000ull

struct wg_snap {
	int refs;
	__u64 at_ns;
	int n;
	struct wg_device *devs;
};

static pthread_mutex_t wg_snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wg_snap *wg_snap_cur;

static void wg_snap_put(struct wg_snap *s)
{
	bool last;

	if (!s)
		return;
	pthread_mutex_lock(&wg_snap_lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&wg_snap_lock);
	if (last) {
		wg_devices_free(s->devs, s->n);
		free(s);
	}
}

static struct wg_snap *wg_snap_get(const struct wp_export_sources *src)
{
	__u64 now = wp_now_ns();
	struct wg_snap *s, *old;

	pthread_mutex_lock(&wg_snap_lock);
	s = wg_snap_cur;
	if (s && now - s->at_ns < WG_SNAP_TTL_NS) {
		s->refs++;
		pthread_mutex_unlock(&wg_snap_lock);
		return s;
	}
	pthread_mutex_unlock(&wg_snap_lock);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->n = wg_devices(src, &s->devs);
	s->at_ns = now;
	s->refs = 2; /* the caller's and the cache's */
	pthread_mutex_lock(&wg_snap_lock);
	old = wg_snap_cur;
	wg_snap_cur = s;
	pthread_mutex_unlock(&wg_snap_lock);
	wg_snap_put(old);
	return s;
}

/* --- collectors run under the lock, in this order ----------------------- */

static void collect_datapath(const struct wp_scrape *s, struct prom_buf *b)
{
	datapath_emit_metrics(s->src->ld, b);
}

static void collect_wireguard(const struct wp_scrape *s, struct prom_buf *b)
{
	int endpoints_fd = bpf_map__fd(s->src->ld->skel->maps.wg_endpoints);
	struct wg_names wgn;
	__u8 key[sizeof(struct wg_endpoint_key)];

	wg_names_of(s->src, &wgn);
	/*
	 * Nothing of WireGuard to name (no endpoint seen, no wireguard-go
	 * device): skip the walk of the prefixes trie, ~20 ms a scrape at
	 * 5,000 peers.
	 */
	if (!s->nwg && bpf_map_get_next_key(endpoints_fd, NULL, key))
		wgn.prefixes_fd = -1;
	wg_emit_metrics_all(endpoints_fd, &wgn, s->wgdevs, s->nwg, b);
}

static void collect_drops(const struct wp_scrape *s, struct prom_buf *b)
{
	const struct wp_export_sources *src = s->src;

	wp_drops_emit_metrics(src->drops, b, attached_ifname, (void *)src->ld);
}

static void collect_prober(const struct wp_scrape *s, struct prom_buf *b)
{
	const struct wp_export_sources *src = s->src;

	prober_emit_metrics(src->prober, b);
}

static void collect_events(const struct wp_scrape *s, struct prom_buf *b)
{
	const struct wp_export_sources *src = s->src;

	event_log_emit_metrics(src->events, b);
}

static void collect_ticks(const struct wp_scrape *s, struct prom_buf *b)
{
	const struct wp_export_sources *src = s->src;

	tick_stats_emit_metrics(src->ticks, b);
}

static void collect_ready(const struct wp_scrape *s, struct prom_buf *b)
{
	const struct wp_export_sources *src = s->src;

	prom_family(b, "warmpath_ready", PROM_GAUGE, "1 once attached and peers are known");
	prom_sample(b, "warmpath_ready", NULL, *src->ready);
}

static void collect_kube(const struct wp_scrape *s, struct prom_buf *b)
{
	const struct wp_export_sources *src = s->src;

	if (*src->kube) /* set before the HTTP server starts, stopped after it stops */
		kube_emit_metrics(*src->kube, b);
}

static void collect_coverage(const struct wp_scrape *s, struct prom_buf *b)
{
	(void)s;
	coverage_emit_metrics(b);
}

static const struct wp_collector locked_collectors[] = {
	{ "datapath", collect_datapath }, { "wireguard", collect_wireguard },
	{ "drops", collect_drops },	  { "prober", collect_prober },
	{ "events", collect_events },	  { "ticks", collect_ticks },
	{ "ready", collect_ready },	  { "kube", collect_kube },
	{ "coverage", collect_coverage },
};

/* CPU time of the last /metrics built (any HTTP thread). */
static __u64 last_metrics_cpu_ns;

static __u64 thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int wp_export_metrics(void *ctx, struct prom_buf *b)
{
	__u64 cpu0 = thread_cpu_ns();
	const struct wp_export_sources *src = ctx;
	const char *ver[] = { "version", WARMPATH_VERSION, NULL };
	struct wg_snap *wg = wg_snap_get(src);
	struct peer_rows *rows;
	int nrt;
	struct wp_scrape s = { .src = src, .wgdevs = wg ? wg->devs : NULL, .nwg = wg ? wg->n : 0 };
	const struct peer_metrics_opts po = {
		.mode = src->cfg->peer_metrics,
		.worst_k = src->cfg->worst_peers,
		.max_series = src->cfg->max_peer_series,
		.idle_s = src->cfg->keepalive_interval,
		.lifetime = src->cfg->keepalive_auto,
	};

	pthread_mutex_lock(src->lock);
	peer_table_read_states(src->peers);
	rows = peer_rows_snapshot(src->peers, &po, wp_now_ns());
	nrt = src->peers->n;
	pthread_mutex_unlock(src->lock);
	if (!rows) {
		wg_snap_put(wg);
		return -ENOMEM;
	}
	prom_family(b, "warmpath_build_info", PROM_GAUGE, "warmpath build, value 1");
	prom_sample(b, "warmpath_build_info", ver, 1);
	prom_family(b, "warmpath_peers", PROM_GAUGE, "Configured peer nodes");
	prom_sample(b, "warmpath_peers", NULL, nrt);
	prom_family(b, "warmpath_metrics_last_cpu_seconds", PROM_GAUGE,
		    "CPU time the agent spent building the previous /metrics response");
	prom_sample(b, "warmpath_metrics_last_cpu_seconds", NULL,
		    __atomic_load_n(&last_metrics_cpu_ns, __ATOMIC_RELAXED) / 1e9);
	/*
	 * The peers' series (~70 samples a peer with --peer-metrics all) are
	 * formatted from the snapshot without the lock: the tick and probe
	 * replies never wait for it.
	 */
	peer_rows_emit_metrics(rows, b);
	pthread_mutex_lock(src->lock);
	for (size_t i = 0; i < sizeof(locked_collectors) / sizeof(locked_collectors[0]); i++)
		locked_collectors[i].emit(&s, b);
	pthread_mutex_unlock(src->lock);
	peer_rows_free(rows);
	wg_snap_put(wg);
	__atomic_store_n(&last_metrics_cpu_ns, thread_cpu_ns() - cpu0, __ATOMIC_RELAXED);
	return prom_buf_error(b);
}

char *wp_export_peers_json(void *ctx)
{
	const struct wp_export_sources *src = ctx;
	const struct wp_config *cfg = src->cfg;
	json_t *root = json_object(), *arr;
	struct wg_snap *wg = wg_snap_get(src);
	struct wg_names wgn;
	char *text;

	pthread_mutex_lock(src->lock);
	peer_table_read_states(src->peers);
	arr = peer_table_json(src->peers, wp_now_ns());
	json_object_set_new(root, "node", json_string(cfg->node_name));
	json_object_set_new(root, "mode", json_string(wp_mode_name(cfg->mode)));
	json_object_set_new(root, "probe", json_string(wp_probe_name(cfg->probe)));
	json_object_set_new(root, "keepalive_interval_seconds", json_real(cfg->keepalive_interval));
	wg_names_of(src, &wgn);
	json_object_set_new(root, "wireguard",
			    wg_status_json(bpf_map__fd(src->ld->skel->maps.wg_endpoints), &wgn,
					   wg ? wg->devs : NULL, wg ? wg->n : 0));
	pthread_mutex_unlock(src->lock);
	wg_snap_put(wg);
	{
		int src_fd = prefix_sources_open(src->ld->pin_path, false);

		wp_peers_attach_prefixes(arr, bpf_map__fd(src->ld->skel->maps.prefixes), src_fd);
		if (src_fd >= 0)
			close(src_fd);
	}
	json_object_set_new(root, "peers", arr);
	json_object_set_new(root, "kernel_drops", wp_drops_json(src->drops));
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	return text;
}

bool wp_export_ready(void *ctx, char *why, size_t len)
{
	const struct wp_export_sources *src = ctx;
	bool ready;

	pthread_mutex_lock(src->lock);
	ready = *src->ready && src->ld->nattach > 0;
	if (!ready)
		snprintf(why, len, "%s", !*src->ready ? "starting" : "no interface attached");
	else if (!src->peers->n) {
		ready = false;
		snprintf(why, len, "no peers known");
	}
	if (ready && *src->kube) {
		struct wp_kube_stats st;

		kube_get_stats(*src->kube, &st);
		if (!st.synced) {
			ready = false;
			snprintf(why, len, "kubernetes: no node list yet");
		}
	}
	pthread_mutex_unlock(src->lock);
	/* missed prefixes: still ready (200), the body and a gauge say so */
	if (ready)
		coverage_degraded(why, len);
	return ready;
}
