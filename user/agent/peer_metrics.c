// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The peer table's metrics (see peer_table.h): a snapshot taken under the
 * agent's lock, and its Prometheus emission, done without the lock. The node
 * row sums every peer; the peer rows are the worst peers (--peer-metrics
 * worst) or every peer up to the cap, then peer="_other" (all). The families
 * that map one to one onto a `peers` map field come from headers/peer_schema.h.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "peer_json.h"
#include "peer_schema.h"
#include "peer_table.h"
#include "util.h"

/* One exported peer row: a peer, the sum of the peers above the cap, or the node. */
struct row {
	char name[WP_PEER_NAME_LEN]; /* a copy: rows outlive the lock */
	struct peer_state s;
	__u64 sent, failed, answered, suppressed;
	double idle_s;
	double score; /* the worst peers' rank score */
	__u64 cold_unanswered;
	struct prom_hist rtt;
	struct prom_hist syn_rtt;
	struct prom_hist cold_recovery;
};

/* How many peers are ... (warmpath_node_peers{state}). */
enum node_state { NS_IDLE, NS_FAILING, NS_COLD, NS_FPD, NS_BYPASSING, NS_MAX };
static const char *const node_state_names[NS_MAX] = { "idle", "failing", "cold",
						      "first_packet_drops", "bypassing" };

struct peer_rows {
	enum wp_peer_metrics mode;
	int npeers;
	struct row node; /* every peer summed */
	__u64 states[NS_MAX];
	int n;
	struct wp_cold_gaps gaps; /* node-level, copied under the lock */
	struct lt_node lt; /* lifetime learning, node-level */
	struct row r[];
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

static void row_add(struct row *r, const struct peer_entry *e, const struct peer_hists *ph,
		    __u64 now)
{
	const struct peer_state *s = &e->bpf;
	double idle = wp_peer_idle_s(s, now);

#define ADD_COUNTER(f) r->s.f += s->f
#define ADD_STAMP(f)
#define ADD_COLD(f)
#define ADD_SPAN(f)
#define ADD_SOURCE(f)
#define ADD_FLAG(f)
#define X(field, kind, key, metric, help) ADD_##kind(field);
	WP_PEER_STATE_FIELDS(X)
#undef X
#undef ADD_COUNTER
#undef ADD_STAMP
#undef ADD_COLD
#undef ADD_SPAN
#undef ADD_SOURCE
#undef ADD_FLAG
	r->sent += e->probes_sent;
	r->failed += e->probes_failed;
	r->answered += e->probes_answered;
	r->suppressed += e->suppressed;
	r->cold_unanswered += e->cold_unanswered;
	if (ph) {
		hist_from_bpf(&r->syn_rtt, &ph->syn_rtt);
		hist_from_bpf(&r->cold_recovery, &ph->cold_recovery);
	}
	if (idle > r->idle_s) /* the aggregate shows its idlest member */
		r->idle_s = idle;
	if (e->rank.score > r->score)
		r->score = e->rank.score;
	prom_hist_merge(&r->rtt, &e->rtt);
}

/*
 * Every peer's histograms in one batch read of the array (indexed by map
 * slot) into the table's buffer; NULL when the map cannot be read (then the
 * SYN and cold-start histograms stay empty).
 */
static const struct peer_hists *read_hists(struct peer_table *t, __u32 *count)
{
	__u32 max_id = 0, n, out_batch;
	int ret;

	*count = 0;
	if (t->hists_fd < 0 || !t->n)
		return NULL;
	if (!t->hists_buf) {
		t->hists_buf = malloc(WP_MAX_PEERS * sizeof(*t->hists_buf));
		t->hists_keys = malloc(WP_MAX_PEERS * sizeof(*t->hists_keys));
		if (!t->hists_buf || !t->hists_keys) {
			free(t->hists_buf);
			t->hists_buf = NULL;
			return NULL;
		}
	}
	for (int i = 0; i < t->n; i++)
		if (t->e[i].map_id > max_id)
			max_id = t->e[i].map_id;
	n = max_id + 1;
	ret = bpf_map_lookup_batch(t->hists_fd, NULL, &out_batch, t->hists_keys, t->hists_buf, &n,
				   NULL);
	if (ret && errno != ENOENT) {
		/* no batch support: one lookup per peer */
		n = max_id + 1;
		for (int i = 0; i < t->n; i++)
			if (bpf_map_lookup_elem(t->hists_fd, &t->e[i].map_id,
						&t->hists_buf[t->e[i].map_id]))
				memset(&t->hists_buf[t->e[i].map_id], 0, sizeof(*t->hists_buf));
	}
	*count = n;
	return t->hists_buf;
}

static const struct peer_hists *hists_of(const struct peer_hists *h, __u32 count,
					 const struct peer_entry *e)
{
	return h && e->map_id < count ? &h[e->map_id] : NULL;
}

static void node_states(struct peer_rows *rows, const struct peer_entry *e,
			const struct peer_metrics_opts *o, __u64 now)
{
	const struct peer_rank *r = &e->rank;

	rows->states[NS_IDLE] += wp_peer_idle_s(&e->bpf, now) >= o->idle_s;
	rows->states[NS_FAILING] += r->failing;
	rows->states[NS_COLD] += !!e->bpf.cold_since_ns;
	rows->states[NS_FPD] +=
		r->fpd_seen_ns && now - r->fpd_seen_ns < (__u64)(PEER_RANK_FPD_WINDOW_S * 1e9);
	rows->states[NS_BYPASSING] += r->bypassing;
}

struct peer_rows *peer_rows_snapshot(struct peer_table *t, const struct peer_metrics_opts *o,
				     __u64 now)
{
	int cap = o->max_series, n = 0, k = o->worst_k > 0 ? o->worst_k : 0;
	int worst[k ? k : 1];
	const struct peer_hists *h;
	struct peer_rows *rows;
	__u32 nh;

	peer_rank_update(t, now);
	if (o->mode == WP_PEER_METRICS_ALL)
		n = t->n > cap ? cap + 1 : t->n;
	else if (o->mode == WP_PEER_METRICS_WORST)
		n = peer_rank_select(t, k, now, worst);
	rows = calloc(1, sizeof(*rows) + (n ? n : 1) * sizeof(struct row));
	if (!rows)
		return NULL;
	h = read_hists(t, &nh);
	rows->mode = o->mode;
	rows->npeers = t->n;
	rows->n = n;
	snprintf(rows->node.name, sizeof(rows->node.name), "node");
	rows->gaps = t->cold_gaps;
	lt_node_collect(t, &rows->lt);
	for (int i = 0; i < t->n; i++) {
		const struct peer_hists *ph = hists_of(h, nh, &t->e[i]);

		row_add(&rows->node, &t->e[i], ph, now);
		node_states(rows, &t->e[i], o, now);
		if (o->mode == WP_PEER_METRICS_ALL) {
			struct row *r = &rows->r[i < cap ? i : cap];

			snprintf(r->name, sizeof(r->name), "%s", i < cap ? t->e[i].name : "_other");
			row_add(r, &t->e[i], ph, now);
		}
	}
	for (int w = 0; o->mode == WP_PEER_METRICS_WORST && w < n; w++) {
		const struct peer_entry *e = &t->e[worst[w]];

		snprintf(rows->r[w].name, sizeof(rows->r[w].name), "%s", e->name);
		row_add(&rows->r[w], e, hists_of(h, nh, e), now);
	}
	return rows;
}

void wp_gap_hist_emit(struct prom_buf *b, const char *name, const char *lkey, const char *lval,
		      const __u64 counts[WP_GAP_NR_BOUNDS + 1], __u64 count, double sum)
{
	char series[96], le[32];
	__u64 cum = 0;

	for (int i = 0; i <= WP_GAP_NR_BOUNDS; i++) {
		const char *l[] = { lkey ? lkey : "le", lkey ? lval : le, "le", le, NULL };

		cum += counts[i];
		if (i < WP_GAP_NR_BOUNDS)
			prom_format_double(le, sizeof(le), wp_gap_bounds_s[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		snprintf(series, sizeof(series), "%s_bucket", name);
		prom_sample_u64(b, series, lkey ? l : l + 2, cum);
	}
	{
		const char *l[] = { lkey, lval, NULL };

		snprintf(series, sizeof(series), "%s_sum", name);
		prom_sample(b, series, lkey ? l : NULL, sum);
		snprintf(series, sizeof(series), "%s_count", name);
		prom_sample_u64(b, series, lkey ? l : NULL, count);
	}
}

/* Idle gaps before cold starts by outcome: at which idle length first packets start to be lost. */
static void emit_cold_gaps(struct prom_buf *b, const struct wp_cold_gaps *g)
{
	static const char *const outcome[2] = { "clean", "dropped" };
	const char *name = "warmpath_cold_start_idle_seconds";

	prom_family(b, name, PROM_HISTOGRAM,
		    "Idle gap before each cold start, by outcome: clean (answered, nothing lost) "
		    "or dropped (first packet lost, or unanswered)");
	for (int o = 0; o < 2; o++)
		wp_gap_hist_emit(b, name, "outcome", outcome[o], g->counts[o], g->count[o],
				 g->sum_s[o]);
}

void peer_rows_free(struct peer_rows *r)
{
	free(r);
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

static void emit_traffic(struct prom_buf *b, const struct row *rows, int n)
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
}

static void emit_hist(struct prom_buf *b, const char *name, const char *help,
		      const struct row *rows, int n, size_t hist_off, bool skip_empty)
{
	prom_family(b, name, PROM_HISTOGRAM, help);
	for (int i = 0; i < n; i++) {
		const char *l[] = { PEER_LABEL(&rows[i]), NULL };
		const struct prom_hist *h =
			(const struct prom_hist *)((const char *)&rows[i] + hist_off);

		/* most peers never have a sample: their empty buckets would dominate the scrape */
		if (!skip_empty || h->count)
			prom_hist_emit(b, name, l, h);
	}
}

/*
 * The per-peer counters, and the node-level family summing each over every
 * peer; `worst`: also exported for the worst peers.
 */
static const struct peer_counter {
	const char *metric; /* NULL: not one to one */
	const char *node; /* NULL: warmpath_node_ + metric without warmpath_ */
	const char *help;
	size_t off;
	bool worst;
} peer_counters[] = {
	{ "warmpath_probes_sent_total", "warmpath_node_probes_sent_total", "Keep-alive probes sent",
	  offsetof(struct row, sent), false },
	{ "warmpath_probes_failed_total", "warmpath_node_probes_failed_total",
	  "Keep-alive probes with no answer within --probe-timeout", offsetof(struct row, failed),
	  true },
	{ "warmpath_probes_answered_total", "warmpath_node_probes_answered_total",
	  "Keep-alive probes answered", offsetof(struct row, answered), false },
	{ "warmpath_keepalives_suppressed_total", "warmpath_node_keepalives_suppressed_total",
	  "Keep-alives not sent because the pair carried traffic", offsetof(struct row, suppressed),
	  false },
	{ "warmpath_cold_starts_unanswered_total", "warmpath_node_cold_starts_unanswered_total",
	  "Cold starts the peer did not answer within --probe-timeout",
	  offsetof(struct row, cold_unanswered), false },
/* the map fields exported one to one: headers/peer_schema.h */
#define IS(field, f) (offsetof(struct peer_state, field) == offsetof(struct peer_state, f))
#define X(field, kind, key, metric, help) \
	{ metric, NULL, help, offsetof(struct row, s.field), IS(field, first_packet_drops) },
	WP_PEER_STATE_FIELDS(X)
#undef X
#undef IS
};
#define NR_PEER_COUNTERS (sizeof(peer_counters) / sizeof(peer_counters[0]))

static const char *const help_syn_rtt =
	"Passive round trip of real connections: SYN at egress to SYN-ACK at ingress";
static const char *const help_cold_recovery =
	"Time from a cold start's first packet to the peer's first answer";
static const char *const help_probe_rtt = "Round trip time of answered keep-alive probes";

static __u64 row_u64(const struct row *r, size_t off)
{
	return *(const __u64 *)((const char *)r + off);
}

/* The schema's node-level names, spelled out (the deploy test greps for them). */
static const char *const schema_node_names[][2] = {
	{ "warmpath_cold_starts_total", "warmpath_node_cold_starts_total" },
	{ "warmpath_first_packet_drops_total", "warmpath_node_first_packet_drops_total" },
	{ "warmpath_syn_retransmits_total", "warmpath_node_syn_retransmits_total" },
	{ "warmpath_peer_kernel_drops_total", "warmpath_node_peer_kernel_drops_total" },
};

static void node_name_of(const struct peer_counter *c, char *name, size_t len)
{
	const char *node = c->node;

	for (size_t i = 0; !node && i < sizeof(schema_node_names) / sizeof(schema_node_names[0]);
	     i++)
		if (!strcmp(schema_node_names[i][0], c->metric))
			node = schema_node_names[i][1];
	if (node)
		snprintf(name, len, "%s", node);
	else /* a schema field added later */
		snprintf(name, len, "warmpath_node_%s", c->metric + strlen("warmpath_"));
}

/*
 * warmpath_node_*: the same quantities summed over every peer, without a peer
 * label (their own families: one family never mixes label sets). Their count
 * does not depend on the number of peers.
 */
static void emit_node(const struct peer_rows *pr, struct prom_buf *b)
{
	const struct row *r = &pr->node;
	const struct peer_state *s = &r->s;
	const char *pk = "warmpath_node_packets_total", *pb = "warmpath_node_bytes_total";
	const char *ns = "warmpath_node_peers";
	const char *txw[] = { "direction", "tx", "kind", "workload", NULL };
	const char *txp[] = { "direction", "tx", "kind", "probe", NULL };
	const char *rxw[] = { "direction", "rx", "kind", "workload", NULL };
	const char *rxp[] = { "direction", "rx", "kind", "probe", NULL };
	const char *tx[] = { "direction", "tx", NULL }, *rx[] = { "direction", "rx", NULL };
	char name[96], help[256];

	prom_family(b, pk, PROM_COUNTER,
		    "Packets to (tx) and from (rx) every peer node, workload and probe traffic");
	prom_sample_u64(b, pk, txw, s->tx_packets - s->tx_probe_packets);
	prom_sample_u64(b, pk, txp, s->tx_probe_packets);
	prom_sample_u64(b, pk, rxw, s->rx_packets - s->rx_probe_packets);
	prom_sample_u64(b, pk, rxp, s->rx_probe_packets);
	prom_family(b, pb, PROM_COUNTER, "Bytes to (tx) and from (rx) every peer node");
	prom_sample_u64(b, pb, tx, s->tx_bytes);
	prom_sample_u64(b, pb, rx, s->rx_bytes);
	for (size_t i = 0; i < NR_PEER_COUNTERS; i++) {
		const struct peer_counter *c = &peer_counters[i];

		if (!c->metric)
			continue;
		node_name_of(c, name, sizeof(name));
		snprintf(help, sizeof(help), "%s, every peer summed", c->help);
		prom_family(b, name, PROM_COUNTER, help);
		prom_sample_u64(b, name, NULL, row_u64(r, c->off));
	}
	/* always emitted, empty or not: a fixed series count */
	prom_family(b, "warmpath_node_probe_rtt_seconds", PROM_HISTOGRAM, help_probe_rtt);
	prom_hist_emit(b, "warmpath_node_probe_rtt_seconds", NULL, &r->rtt);
	prom_family(b, "warmpath_node_syn_rtt_seconds", PROM_HISTOGRAM, help_syn_rtt);
	prom_hist_emit(b, "warmpath_node_syn_rtt_seconds", NULL, &r->syn_rtt);
	prom_family(b, "warmpath_node_cold_start_recovery_seconds", PROM_HISTOGRAM,
		    help_cold_recovery);
	prom_hist_emit(b, "warmpath_node_cold_start_recovery_seconds", NULL, &r->cold_recovery);
	prom_family(b, ns, PROM_GAUGE,
		    "Peers that are idle (no packet for --keepalive-interval), failing (their "
		    "last probes unanswered), cold (a packet went, no answer yet), with "
		    "first-packet drops in the last 5 minutes, bypassing (their last probes "
		    "crossed no watched device)");
	for (int st = 0; st < NS_MAX; st++) {
		const char *l[] = { "state", node_state_names[st], NULL };

		prom_sample_u64(b, ns, l, pr->states[st]);
	}
}

/*
 * --peer-metrics worst: three series for each of the worst peers — the score,
 * failed probes, first-packet drops (the rest, cold starts and probes sent
 * included: the node-level families and /peers). K = 10 keeps the default
 * exposition under 200 series.
 */
static void emit_worst(const struct peer_rows *pr, struct prom_buf *b)
{
	const struct row *rows = pr->r;
	int n = pr->n;

	prom_family(b, "warmpath_worst_peer_score", PROM_GAUGE,
		    "The worst peers (--peer-metrics worst): recent first-packet drops x4, "
		    "failed probes x2 and cold starts, halved every 5 minutes");
	for (int i = 0; i < n; i++) {
		const char *l[] = { PEER_LABEL(&rows[i]), NULL };

		prom_sample(b, "warmpath_worst_peer_score", l, rows[i].score);
	}
	for (size_t i = 0; i < NR_PEER_COUNTERS; i++)
		if (peer_counters[i].metric && peer_counters[i].worst)
			emit_peer_counter(b, peer_counters[i].metric, peer_counters[i].help, rows,
					  n, peer_counters[i].off);
}

/* --peer-metrics all: every per-peer family (peers above the cap as peer="_other"). */
static void emit_all(const struct peer_rows *pr, struct prom_buf *b)
{
	const struct row *rows = pr->r;
	int n = pr->n;

	emit_traffic(b, rows, n);
	for (size_t i = 0; i < NR_PEER_COUNTERS; i++)
		if (peer_counters[i].metric)
			emit_peer_counter(b, peer_counters[i].metric, peer_counters[i].help, rows,
					  n, peer_counters[i].off);
	emit_hist(b, "warmpath_syn_rtt_seconds", help_syn_rtt, rows, n,
		  offsetof(struct row, syn_rtt), true);
	emit_hist(b, "warmpath_cold_start_recovery_seconds", help_cold_recovery, rows, n,
		  offsetof(struct row, cold_recovery), true);
	emit_hist(b, "warmpath_probe_rtt_seconds", help_probe_rtt, rows, n,
		  offsetof(struct row, rtt), false);
}

void peer_rows_emit_metrics(const struct peer_rows *pr, struct prom_buf *b)
{
	emit_node(pr, b);
	emit_cold_gaps(b, &pr->gaps); /* node-level: every mode */
	lt_node_emit(&pr->lt, b);
	if (pr->mode == WP_PEER_METRICS_WORST)
		emit_worst(pr, b);
	else if (pr->mode == WP_PEER_METRICS_ALL)
		emit_all(pr, b);
}
