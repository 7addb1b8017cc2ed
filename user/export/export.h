/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent's HTTP views (/metrics, /peers, /readyz) as a list of collectors,
 * each reading one room through its own interface: the peer table, the
 * prober, the event log, the tick statistics, the datapath (loader), the
 * WireGuard reader, the drop tracer and discovery. The agent fills a
 * struct wp_export_sources with pointers to its parts and hands it to the
 * HTTP server as the handlers' context.
 */
#ifndef __WARMPATH_EXPORT_H
#define __WARMPATH_EXPORT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include "config.h"
#include "drops.h"
#include "events.h"
#include "kube.h"
#include "loader.h"
#include "peer_table.h"
#include "prober.h"
#include "prom.h"
#include "tick_stats.h"

struct wp_export_sources {
	pthread_mutex_t *lock; /* guards everything below against the HTTP threads */
	const struct wp_config *cfg;
	struct peer_table *peers; /* its map snapshot is refreshed at every view */
	const struct prober *prober;
	const struct event_log *events;
	const struct tick_stats *ticks;
	const struct wp_loader *ld;
	struct wp_drops *drops; /* NULL: no drop tracer */
	struct wp_kube *const *kube; /* *kube NULL without --kubernetes */
	const bool *ready;
};

/* One scrape: the sources, and what was read for it outside the lock. */
struct wg_device;
struct wp_scrape {
	const struct wp_export_sources *src;
	const struct wg_device *wgdevs; /* wireguard-go peer lists (UAPI) */
	int nwg;
};

/* One collector: emits the metric families of one room. */
struct wp_collector {
	const char *name;
	void (*emit)(const struct wp_scrape *s, struct prom_buf *b);
};

/* wp_http_handlers callbacks; ctx is a struct wp_export_sources. */
int wp_export_metrics(void *ctx, struct prom_buf *b);
char *wp_export_peers_json(void *ctx);
bool wp_export_ready(void *ctx, char *why, size_t len);

/* Datapath self-accounting (the per-CPU `stats` map) and the attachments. */
void datapath_emit_metrics(const struct wp_loader *ld, struct prom_buf *b);

#endif /* __WARMPATH_EXPORT_H */
