// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's HTTP views: Prometheus metrics and the /peers JSON. Called from
 * the HTTP server's thread; every read of agent state holds a->lock. Peers
 * beyond --max-peer-series are summed into peer="_other" so the series count
 * stays bounded whatever the cluster size.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>
#include "agent_int.h"
#include "http.h"
#include "status.h"
#include "wireguard.h"

/* One exported peer row: a peer, or the sum of the peers above the cap. */
struct row {
	char name[WP_PEER_NAME_LEN]; /* a copy: rows outlive the lock */
	struct peer_state s;
	__u64 sent, failed, answered, suppressed;
	double idle_s;
	__u64 cold_unanswered;
	struct prom_hist rtt;
	struct prom_hist syn_rtt;
	struct prom_hist cold_recovery;
};

/* A BPF-side histogram (ns, same bounds) as a Prometheus one (seconds). */
static void hist_from_bpf(struct prom_hist *dst, const struct wp_hist *src)
{
	struct prom_hist h = {};

	for (int i = 0; i < WP_HIST_SLOTS && i <= PROM_HIST_NR_BOUNDS; i++)
		h.counts[i] = src->slots[i];
	h.count = src->count;
	h.sum = src->sum_ns / 1e9;
	prom_hist_merge(dst, &h);
}

static double idle_seconds(const struct peer_state *s, __u64 now)
{
	__u64 last = s->last_tx_ns > s->last_rx_ns ? s->last_tx_ns : s->last_rx_ns;

	if (!last)
		return INFINITY;
	return last > now ? 0 : (now - last) / 1e9;
}

static void row_add(struct row *r, const struct peer_rt *rt, const struct peer_hists *ph, __u64 now)
{
	const struct peer_state *s = &rt->bpf;
	double idle = idle_seconds(s, now);

	r->s.tx_packets += s->tx_packets;
	r->s.rx_packets += s->rx_packets;
	r->s.tx_bytes += s->tx_bytes;
	r->s.rx_bytes += s->rx_bytes;
	r->s.tx_probe_packets += s->tx_probe_packets;
	r->s.rx_probe_packets += s->rx_probe_packets;
	r->s.cold_starts += s->cold_starts;
	r->s.first_packet_drops += s->first_packet_drops;
	r->s.syn_retransmits += s->syn_retransmits;
	r->s.kernel_drops += s->kernel_drops;
	r->sent += rt->probes_sent;
	r->failed += rt->probes_failed;
	r->answered += rt->probes_answered;
	r->suppressed += rt->suppressed;
	r->cold_unanswered += rt->cold_unanswered;
	if (ph) {
		hist_from_bpf(&r->syn_rtt, &ph->syn_rtt);
		hist_from_bpf(&r->cold_recovery, &ph->cold_recovery);
	}
	if (idle > r->idle_s) /* the aggregate shows its idlest member */
		r->idle_s = idle;
	prom_hist_merge(&r->rtt, &rt->rtt);
}

/* Rows for the current peers (caller holds the lock). Returns the count. */
static int build_rows(struct agent *a, struct row **out)
{
	int cap = a->cfg->max_peer_series, n = a->nrt > cap ? cap + 1 : a->nrt;
	struct row *rows = calloc(n ? n : 1, sizeof(*rows));
	int hists_fd = wp_loader_map_fd(&a->ld, "peer_hists");
	__u64 now = wp_now_ns();
	struct peer_hists ph;

	if (!rows)
		return -ENOMEM;
	for (int i = 0; i < a->nrt; i++) {
		struct row *r = &rows[i < cap ? i : cap];
		bool have = !bpf_map_lookup_elem(hists_fd, &a->rt[i].map_id, &ph);

		snprintf(r->name, sizeof(r->name), "%s", i < cap ? a->rt[i].name : "_other");
		row_add(r, &a->rt[i], have ? &ph : NULL, now);
	}
	*out = rows;
	return n;
}

#define PEER_LABEL(r) "peer", (r)->name

static void emit_peer_counter(struct prom_buf *b, const char *name, const char *help,
			      const struct row *rows, int n, size_t field_off)
{
	prom_family(b, name, PROM_COUNTER, help);
	for (int i = 0; i < n; i++) {
		const char *l[] = { PEER_LABEL(&rows[i]), NULL };

		prom_sample_u64(b, name, l, *(const __u64 *)((const char *)&rows[i] + field_off));
	}
}

static void emit_peers(struct prom_buf *b, const struct row *rows, int n)
{
	const char *pk = "warmpath_peer_packets_total", *pb = "warmpath_peer_bytes_total";

	prom_family(b, pk, PROM_COUNTER,
		    "Packets to (tx) and from (rx) a peer node through the watched interfaces, "
		    "split into workload and warmpath probe traffic");
	for (int i = 0; i < n; i++) {
		const struct peer_state *s = &rows[i].s;
		const char *txw[] = { PEER_LABEL(&rows[i]), "direction", "tx", "kind",
				      "workload",	    NULL };
		const char *txp[] = {
			PEER_LABEL(&rows[i]), "direction", "tx", "kind", "probe", NULL
		};
		const char *rxw[] = { PEER_LABEL(&rows[i]), "direction", "rx", "kind",
				      "workload",	    NULL };
		const char *rxp[] = {
			PEER_LABEL(&rows[i]), "direction", "rx", "kind", "probe", NULL
		};

		prom_sample_u64(b, pk, txw, s->tx_packets - s->tx_probe_packets);
		prom_sample_u64(b, pk, txp, s->tx_probe_packets);
		prom_sample_u64(b, pk, rxw, s->rx_packets - s->rx_probe_packets);
		prom_sample_u64(b, pk, rxp, s->rx_probe_packets);
	}
	prom_family(b, pb, PROM_COUNTER, "Bytes to (tx) and from (rx) a peer node");
	for (int i = 0; i < n; i++) {
		const char *tx[] = { PEER_LABEL(&rows[i]), "direction", "tx", NULL };
		const char *rx[] = { PEER_LABEL(&rows[i]), "direction", "rx", NULL };

		prom_sample_u64(b, pb, tx, rows[i].s.tx_bytes);
		prom_sample_u64(b, pb, rx, rows[i].s.rx_bytes);
	}
	prom_family(b, "warmpath_peer_idle_seconds", PROM_GAUGE,
		    "Seconds since the last packet either way (+Inf: never seen)");
	for (int i = 0; i < n; i++) {
		const char *l[] = { PEER_LABEL(&rows[i]), NULL };

		prom_sample(b, "warmpath_peer_idle_seconds", l, rows[i].idle_s);
	}
	emit_peer_counter(b, "warmpath_probes_sent_total", "Keep-alive probes sent", rows, n,
			  offsetof(struct row, sent));
	emit_peer_counter(b, "warmpath_probes_failed_total",
			  "Keep-alive probes with no answer within --probe-timeout", rows, n,
			  offsetof(struct row, failed));
	emit_peer_counter(b, "warmpath_probes_answered_total", "Keep-alive probes answered", rows,
			  n, offsetof(struct row, answered));
	emit_peer_counter(b, "warmpath_keepalives_suppressed_total",
			  "Keep-alives not sent because the pair carried traffic", rows, n,
			  offsetof(struct row, suppressed));
	emit_peer_counter(b, "warmpath_cold_starts_total",
			  "First packets to or from a peer after an idle gap of --cold-threshold",
			  rows, n, offsetof(struct row, s.cold_starts));
	emit_peer_counter(b, "warmpath_first_packet_drops_total",
			  "TCP SYNs retransmitted during a cold start: the first one was lost",
			  rows, n, offsetof(struct row, s.first_packet_drops));
	emit_peer_counter(b, "warmpath_syn_retransmits_total",
			  "TCP SYNs retransmitted on a warm path", rows, n,
			  offsetof(struct row, s.syn_retransmits));
	emit_peer_counter(b, "warmpath_cold_starts_unanswered_total",
			  "Cold starts the peer did not answer within --probe-timeout", rows, n,
			  offsetof(struct row, cold_unanswered));
	emit_peer_counter(b, "warmpath_peer_kernel_drops_total",
			  "Kernel drops (kfree_skb) on watched interfaces attributed to the peer",
			  rows, n, offsetof(struct row, s.kernel_drops));
	prom_family(b, "warmpath_syn_rtt_seconds", PROM_HISTOGRAM,
		    "Passive round trip of real connections: SYN at egress to SYN-ACK at ingress");
	for (int i = 0; i < n; i++) {
		const char *l[] = { PEER_LABEL(&rows[i]), NULL };

		/* most peers never have a sample: their empty buckets would dominate the scrape */
		if (rows[i].syn_rtt.count)
			prom_hist_emit(b, "warmpath_syn_rtt_seconds", l, &rows[i].syn_rtt);
	}
	prom_family(b, "warmpath_cold_start_recovery_seconds", PROM_HISTOGRAM,
		    "Time from a cold start's first packet to the peer's first answer");
	for (int i = 0; i < n; i++) {
		const char *l[] = { PEER_LABEL(&rows[i]), NULL };

		if (rows[i].cold_recovery.count)
			prom_hist_emit(b, "warmpath_cold_start_recovery_seconds", l,
				       &rows[i].cold_recovery);
	}
	prom_family(b, "warmpath_probe_rtt_seconds", PROM_HISTOGRAM,
		    "Round trip time of answered keep-alive probes");
	for (int i = 0; i < n; i++) {
		const char *l[] = { PEER_LABEL(&rows[i]), NULL };

		prom_hist_emit(b, "warmpath_probe_rtt_seconds", l, &rows[i].rtt);
	}
}

static void emit_datapath(struct agent *a, struct prom_buf *b)
{
	int fd = wp_loader_map_fd(&a->ld, "stats"), ncpu = libbpf_num_possible_cpus();
	__u64 *vals = calloc(ncpu > 0 ? ncpu : 1, sizeof(*vals));

	prom_family(b, "warmpath_datapath_packets_total", PROM_COUNTER,
		    "Datapath self-accounting by outcome (see headers/warmpath.h enum wp_stat)");
	for (__u32 k = 0; vals && k < WP_STAT_MAX; k++) {
		const char *l[] = { "result", wp_stat_names[k], NULL };
		__u64 sum = 0;

		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			sum += vals[c];
		prom_sample_u64(b, "warmpath_datapath_packets_total", l, sum);
	}
	free(vals);
	prom_family(b, "warmpath_bpf_attached", PROM_GAUGE,
		    "1 for every hook the datapath is attached to");
	for (int i = 0; i < a->ld.nattach; i++) {
		for (int dir = 0; dir < 2; dir++) {
			const char *l[] = { "interface", a->ld.attach[i].ifname,
					    "direction", dir ? "egress" : "ingress",
					    "mode",	 wp_attach_mode_name(a->ld.attach[i].mode),
					    NULL };

			prom_sample(b, "warmpath_bpf_attached", l, 1);
		}
	}
}

/* Interface names for the drop metrics: what this run attached (caller holds the lock). */
static const char *agent_ifname(void *ctx, __u32 ifindex)
{
	struct agent *a = ctx;

	for (int i = 0; i < a->ld.nattach; i++)
		if ((__u32)a->ld.attach[i].ifindex == ifindex)
			return a->ld.attach[i].ifname;
	return NULL; /* the name recorded in the ifaces map, else if<N> */
}

/* wg_names.peer_name: the name of the peer in a map slot (caller holds a->lock). */
static const char *wg_peer_name(void *ctx, __u32 peer_id)
{
	struct agent *a = ctx;
	int i = peer_id < WP_MAX_PEERS ? a->id_to_rt[peer_id] : -1;

	return i >= 0 && i < a->nrt ? a->rt[i].name : NULL;
}

/* wireguard-go peer lists, read outside the lock (a UAPI query may take up to 1 s). */
static int wg_devices(struct agent *a, struct wg_device **devs)
{
	int n = wg_devices_from_ifaces(wp_loader_map_fd(&a->ld, "ifaces"), devs);

	return n > 0 ? n : 0;
}

static void wg_names_of(struct agent *a, struct wg_names *nm)
{
	nm->peer_name = wg_peer_name;
	nm->ctx = a;
	nm->prefixes_fd = wp_loader_map_fd(&a->ld, "prefixes");
}

int agent_emit_metrics(void *ctx, struct prom_buf *b)
{
	static const char *const drop_names[RESP_MAX] = { "malformed", "unknown_source",
							  "rate_limited" };
	struct agent *a = ctx;
	const char *ver[] = { "version", WARMPATH_VERSION, NULL };
	struct row *rows = NULL;
	struct wg_device *wgdevs = NULL;
	struct wg_names wgn;
	int n, nrt, nwg = wg_devices(a, &wgdevs);

	pthread_mutex_lock(&a->lock);
	agent_read_peer_states(a);
	n = build_rows(a, &rows);
	nrt = a->nrt;
	pthread_mutex_unlock(&a->lock);
	if (n < 0) {
		wg_devices_free(wgdevs, nwg);
		return n;
	}
	prom_family(b, "warmpath_build_info", PROM_GAUGE, "warmpath build, value 1");
	prom_sample(b, "warmpath_build_info", ver, 1);
	prom_family(b, "warmpath_peers", PROM_GAUGE, "Configured peer nodes");
	prom_sample(b, "warmpath_peers", NULL, nrt);
	/*
	 * The bulk of a scrape (~70 samples a peer) is formatted from the
	 * snapshot without the lock: the tick and probe replies never wait for it.
	 */
	emit_peers(b, rows, n);
	pthread_mutex_lock(&a->lock);
	emit_datapath(a, b);
	wg_names_of(a, &wgn);
	wg_emit_metrics_all(wp_loader_map_fd(&a->ld, "wg_endpoints"), &wgn, wgdevs, nwg, b);
	wp_drops_emit_metrics(a->drops, b, agent_ifname, a);

	prom_family(b, "warmpath_probe_responder_answered_total", PROM_COUNTER,
		    "Probe requests from peers answered");
	prom_sample_u64(b, "warmpath_probe_responder_answered_total", NULL, a->resp_answered);
	prom_family(b, "warmpath_probe_responder_dropped_total", PROM_COUNTER,
		    "Datagrams at the probe port not answered, by reason");
	for (int r = 0; r < RESP_MAX; r++) {
		const char *l[] = { "reason", drop_names[r], NULL };

		prom_sample_u64(b, "warmpath_probe_responder_dropped_total", l, a->resp_dropped[r]);
	}
	prom_family(b, "warmpath_probe_send_errors_total", PROM_COUNTER,
		    "Probes whose send failed locally (no route, refused)");
	prom_sample_u64(b, "warmpath_probe_send_errors_total", NULL, a->probe_send_errors);
	prom_family(b, "warmpath_events_total", PROM_COUNTER,
		    "Detection events (each also logged, rate-limited)");
	for (int t = 1; t < WP_EV_MAX; t++) {
		const char *l[] = { "type", wp_event_names[t], NULL };

		prom_sample_u64(b, "warmpath_events_total", l, a->ev_total[t]);
	}
	prom_family(b, "warmpath_event_logs_suppressed_total", PROM_COUNTER,
		    "Event log lines held back by the rate limit");
	prom_sample_u64(b, "warmpath_event_logs_suppressed_total", NULL, a->ev_log_suppressed);
	prom_family(b, "warmpath_ticks_total", PROM_COUNTER, "Agent ticks");
	prom_sample_u64(b, "warmpath_ticks_total", NULL, a->ticks);
	prom_family(b, "warmpath_tick_cpu_seconds_total", PROM_COUNTER,
		    "CPU time spent in ticks (reading maps, deciding, sending)");
	prom_sample(b, "warmpath_tick_cpu_seconds_total", NULL, a->tick_cpu_ns_total / 1e9);
	prom_family(b, "warmpath_tick_last_cpu_seconds", PROM_GAUGE, "CPU time of the last tick");
	prom_sample(b, "warmpath_tick_last_cpu_seconds", NULL, a->tick_cpu_ns_last / 1e9);
	prom_family(b, "warmpath_ready", PROM_GAUGE, "1 once attached and peers are known");
	prom_sample(b, "warmpath_ready", NULL, a->ready);
	if (a->kube) /* set before the HTTP server starts, stopped after it stops */
		kube_emit_metrics(a->kube, b);
	pthread_mutex_unlock(&a->lock);
	free(rows);
	wg_devices_free(wgdevs, nwg);
	return prom_buf_error(b);
}

char *agent_peers_json(void *ctx)
{
	struct agent *a = ctx;
	json_t *root = json_object(), *arr = json_array();
	__u64 now = wp_now_ns();
	struct wg_device *wgdevs = NULL;
	int nwg = wg_devices(a, &wgdevs);
	struct wg_names wgn;
	char *text;

	pthread_mutex_lock(&a->lock);
	agent_read_peer_states(a);
	for (int i = 0; i < a->nrt; i++) {
		const struct peer_rt *rt = &a->rt[i];
		const struct peer_state *s = &rt->bpf;
		double idle = idle_seconds(s, now);
		json_t *o = json_pack(
			"{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:o, "
			"s:I, s:I, s:I}",
			"name", rt->name, "address", a->peers.peers[i].addr_str, "tx_packets",
			(json_int_t)s->tx_packets, "rx_packets", (json_int_t)s->rx_packets,
			"tx_bytes", (json_int_t)s->tx_bytes, "rx_bytes", (json_int_t)s->rx_bytes,
			"tx_probe_packets", (json_int_t)s->tx_probe_packets, "rx_probe_packets",
			(json_int_t)s->rx_probe_packets, "idle_seconds",
			isinf(idle) ? json_null() : json_real(idle), "probes_sent",
			(json_int_t)rt->probes_sent, "probes_failed", (json_int_t)rt->probes_failed,
			"probes_answered", (json_int_t)rt->probes_answered, "keepalives_suppressed",
			(json_int_t)rt->suppressed, "last_probe_rtt_seconds",
			rt->probes_answered ? json_real(rt->last_rtt_ns / 1e9) : json_null(),
			"cold_starts", (json_int_t)s->cold_starts, "first_packet_drops",
			(json_int_t)s->first_packet_drops, "syn_retransmits",
			(json_int_t)s->syn_retransmits);

		json_object_set_new(o, "cold_starts_unanswered", json_integer(rt->cold_unanswered));
		json_object_set_new(o, "cold", json_boolean(s->cold_since_ns != 0));
		json_object_set_new(o, "kernel_drops", json_integer(s->kernel_drops));
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "node", json_string(a->cfg->node_name));
	json_object_set_new(root, "mode", json_string(wp_mode_name(a->cfg->mode)));
	json_object_set_new(root, "probe", json_string(wp_probe_name(a->cfg->probe)));
	json_object_set_new(root, "keepalive_interval_seconds",
			    json_real(a->cfg->keepalive_interval));
	wg_names_of(a, &wgn);
	json_object_set_new(
		root, "wireguard",
		wg_status_json(wp_loader_map_fd(&a->ld, "wg_endpoints"), &wgn, wgdevs, nwg));
	pthread_mutex_unlock(&a->lock);
	wg_devices_free(wgdevs, nwg);
	json_object_set_new(root, "peers", arr);
	json_object_set_new(root, "kernel_drops", wp_drops_json(a->drops));
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	return text;
}

bool agent_ready(void *ctx, char *why, size_t len)
{
	struct agent *a = ctx;
	bool ready;

	pthread_mutex_lock(&a->lock);
	ready = a->ready && a->ld.nattach > 0;
	if (!ready)
		snprintf(why, len, "%s", !a->ready ? "starting" : "no interface attached");
	else if (!a->nrt) {
		ready = false;
		snprintf(why, len, "no peers known");
	}
	if (ready && a->kube) {
		struct wp_kube_stats st;

		kube_get_stats(a->kube, &st);
		if (!st.synced) {
			ready = false;
			snprintf(why, len, "kubernetes: no node list yet");
		}
	}
	pthread_mutex_unlock(&a->lock);
	return ready;
}
