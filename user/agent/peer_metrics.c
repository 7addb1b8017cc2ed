// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The peer table's metrics: a snapshot of rows (one per peer up to the cap,
 * then peer="_other" summing the rest) taken under the agent's lock, and its
 * Prometheus emission, done without the lock. The families that map one to
 * one onto a `peers` map field come from headers/peer_schema.h.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include "peer_json.h"
#include "peer_schema.h"
#include "peer_table.h"
#include "util.h"

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

struct peer_rows {
	int n;
	struct wp_cold_gaps gaps; /* node-level, copied under the lock */
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
#define X(field, kind, key, metric, help) ADD_##kind(field);
	WP_PEER_STATE_FIELDS(X)
#undef X
#undef ADD_COUNTER
#undef ADD_STAMP
#undef ADD_COLD
#undef ADD_SPAN
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
	prom_hist_merge(&r->rtt, &e->rtt);
}

struct peer_rows *peer_rows_snapshot(const struct peer_table *t, int cap)
{
	int n = t->n > cap ? cap + 1 : t->n;
	struct peer_rows *rows = calloc(1, sizeof(*rows) + (n ? n : 1) * sizeof(struct row));
	__u64 now = wp_now_ns();
	struct peer_hists ph;

	if (!rows)
		return NULL;
	rows->n = n;
	rows->gaps = t->cold_gaps;
	for (int i = 0; i < t->n; i++) {
		struct row *r = &rows->r[i < cap ? i : cap];
		bool have = !bpf_map_lookup_elem(t->hists_fd, &t->e[i].map_id, &ph);

		snprintf(r->name, sizeof(r->name), "%s", i < cap ? t->e[i].name : "_other");
		row_add(r, &t->e[i], have ? &ph : NULL, now);
	}
	return rows;
}

/* Idle gaps before cold starts by outcome: at which idle length first packets start to be lost. */
static void emit_cold_gaps(struct prom_buf *b, const struct wp_cold_gaps *g)
{
	static const char *const outcome[2] = { "clean", "dropped" };
	const char *name = "warmpath_cold_start_idle_seconds";

	prom_family(b, name, PROM_HISTOGRAM,
		    "Idle gap before each cold start, by outcome: clean (answered, nothing lost) "
		    "or dropped (first packet lost, or unanswered)");
	for (int o = 0; o < 2; o++) {
		__u64 cum = 0;
		char le[32];

		for (int i = 0; i <= WP_GAP_NR_BOUNDS; i++) {
			const char *l[] = { "outcome", outcome[o], "le", le, NULL };

			cum += g->counts[o][i];
			if (i < WP_GAP_NR_BOUNDS)
				prom_format_double(le, sizeof(le), wp_gap_bounds_s[i]);
			else
				snprintf(le, sizeof(le), "+Inf");
			prom_sample_u64(b, "warmpath_cold_start_idle_seconds_bucket", l, cum);
		}
		{
			const char *l[] = { "outcome", outcome[o], NULL };

			prom_sample(b, "warmpath_cold_start_idle_seconds_sum", l, g->sum_s[o]);
			prom_sample_u64(b, "warmpath_cold_start_idle_seconds_count", l,
					g->count[o]);
		}
	}
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

static const struct {
	const char *metric; /* NULL: not one to one */
	const char *help;
	size_t off;
} schema_metrics[] = {
#define X(field, kind, key, metric, help) { metric, help, offsetof(struct row, s.field) },
	WP_PEER_STATE_FIELDS(X)
#undef X
};

void peer_rows_emit_metrics(const struct peer_rows *pr, struct prom_buf *b)
{
	const struct row *rows = pr->r;
	int n = pr->n;

	emit_traffic(b, rows, n);
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
	emit_peer_counter(b, "warmpath_cold_starts_unanswered_total",
			  "Cold starts the peer did not answer within --probe-timeout", rows, n,
			  offsetof(struct row, cold_unanswered));
	/* the map fields exported one to one: headers/peer_schema.h */
	for (size_t i = 0; i < sizeof(schema_metrics) / sizeof(schema_metrics[0]); i++)
		if (schema_metrics[i].metric)
			emit_peer_counter(b, schema_metrics[i].metric, schema_metrics[i].help, rows,
					  n, schema_metrics[i].off);
	emit_hist(b, "warmpath_syn_rtt_seconds",
		  "Passive round trip of real connections: SYN at egress to SYN-ACK at ingress",
		  rows, n, offsetof(struct row, syn_rtt), true);
	emit_hist(b, "warmpath_cold_start_recovery_seconds",
		  "Time from a cold start's first packet to the peer's first answer", rows, n,
		  offsetof(struct row, cold_recovery), true);
	emit_hist(b, "warmpath_probe_rtt_seconds", "Round trip time of answered keep-alive probes",
		  rows, n, offsetof(struct row, rtt), false);
	emit_cold_gaps(b, &pr->gaps);
}
