// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Prefix coverage: see coverage.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "coverage.h"
#include "log.h"
#include "status.h"
#include "util.h"
#include "warmpath.h"

#define SLOTS (COVERAGE_WINDOW_S + 1)
#define LOG_EVERY_NS (600ull * 1000000000ull)
#define TOP 5

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	__u64 t, matched, unmatched;
} ring[SLOTS]; /* one sample a second, the oldest overwritten */
static int head, nsamples;
static __u64 above_since; /* first sample of the present run above the threshold; 0: none */
static __u64 last_log, last_sample;
static bool degraded;
static double ratio = -1;

void coverage_reset(void)
{
	pthread_mutex_lock(&lock);
	head = nsamples = 0;
	above_since = last_log = last_sample = 0;
	degraded = false;
	ratio = -1;
	pthread_mutex_unlock(&lock);
}

/* The window's ratio (caller holds the lock). */
static double window_ratio(void)
{
	int newest = (head + SLOTS - 1) % SLOTS, oldest;
	__u64 dm, du;

	if (nsamples < 2)
		return -1;
	oldest = (head + SLOTS - nsamples) % SLOTS;
	dm = ring[newest].matched - ring[oldest].matched;
	du = ring[newest].unmatched - ring[oldest].unmatched;
	return dm + du ? (double)du / (double)(dm + du) : -1;
}

bool coverage_sample(__u64 matched, __u64 unmatched, __u64 now_ns)
{
	bool became = false;

	pthread_mutex_lock(&lock);
	if (nsamples && (matched < ring[(head + SLOTS - 1) % SLOTS].matched ||
			 unmatched < ring[(head + SLOTS - 1) % SLOTS].unmatched))
		nsamples = 0; /* counters went back (maps recreated): start over */
	ring[head].t = now_ns;
	ring[head].matched = matched;
	ring[head].unmatched = unmatched;
	head = (head + 1) % SLOTS;
	if (nsamples < SLOTS)
		nsamples++;
	ratio = window_ratio();
	if (ratio > COVERAGE_THRESHOLD) {
		if (!above_since)
			above_since = now_ns;
		if (!degraded && now_ns - above_since >= COVERAGE_WINDOW_S * 1000000000ull)
			became = degraded = true;
	} else {
		above_since = 0;
		degraded = false;
	}
	pthread_mutex_unlock(&lock);
	return became;
}

struct top {
	char addr[64];
	__u64 packets;
};

static int top_cmp(const void *a, const void *b)
{
	const struct top *x = a, *y = b;

	return x->packets < y->packets ? 1 : x->packets > y->packets ? -1 : 0;
}

/* The top destinations of the `unmatched` LRU, by packets, in one log line. */
static void log_top(int unmatched_fd, double r)
{
	struct top top[TOP + 1] = {};
	struct addr_key key, next;
	char line[512];
	int n = 0, len;

	for (int more = !bpf_map_get_next_key(unmatched_fd, NULL, &next); more;
	     more = !bpf_map_get_next_key(unmatched_fd, &key, &next)) {
		struct unmatched_state us;

		key = next;
		if (bpf_map_lookup_elem(unmatched_fd, &key, &us))
			continue;
		top[n].packets = us.tx_packets + us.rx_packets;
		wp_addr16_format(key.addr, top[n].addr, sizeof(top[n].addr));
		if (n < TOP)
			n++;
		qsort(top, n + (n == TOP), sizeof(*top), top_cmp);
	}
	len = snprintf(line, sizeof(line),
		       "%.1f%% of tunnel packets matched no peer over %ds:", r * 100,
		       COVERAGE_WINDOW_S);
	for (int i = 0; i < n && len < (int)sizeof(line); i++)
		len += snprintf(line + len, sizeof(line) - len, " %s (%llu packets)", top[i].addr,
				(unsigned long long)top[i].packets);
	log_warn("prefix coverage degraded: %s%s; a missed prefix? see `warmpath status --json` "
		 "(unmatched, each peer's prefixes and sources)",
		 line, n ? "" : " (no destination recorded)");
}

void coverage_tick(int stats_fd, int unmatched_fd, __u64 now_ns)
{
	__u64 sums[WP_STAT_MAX];
	__u32 read;
	bool became, log_now;

	if (stats_fd < 0 || (last_sample && now_ns - last_sample < 1000000000ull))
		return;
	last_sample = now_ns;
	read = wp_stats_read(stats_fd, sums);
	if (!(read & (1u << WP_STAT_MATCHED)) || !(read & (1u << WP_STAT_UNMATCHED)))
		return;
	became = coverage_sample(sums[WP_STAT_MATCHED], sums[WP_STAT_UNMATCHED], now_ns);
	pthread_mutex_lock(&lock);
	log_now = degraded && (became || now_ns - last_log >= LOG_EVERY_NS);
	if (log_now)
		last_log = now_ns;
	pthread_mutex_unlock(&lock);
	if (log_now && unmatched_fd >= 0)
		log_top(unmatched_fd, ratio);
}

double coverage_ratio(void)
{
	return WP_LOCKED_READ(&lock, ratio);
}

bool coverage_degraded(char *why, size_t len)
{
	bool d;

	pthread_mutex_lock(&lock);
	d = degraded;
	if (d)
		snprintf(why, len, "%.1f%% of tunnel packets matched no peer over %ds", ratio * 100,
			 COVERAGE_WINDOW_S);
	pthread_mutex_unlock(&lock);
	return d;
}

void coverage_emit_metrics(struct prom_buf *b)
{
	double r;
	bool d, any;

	pthread_mutex_lock(&lock);
	r = ratio;
	d = degraded;
	any = nsamples > 0;
	pthread_mutex_unlock(&lock);
	if (!any)
		return;
	prom_metric(b, "warmpath_unmatched_packets_ratio", PROM_GAUGE,
		    "Share of tunnel packets that matched no peer over the last minute",
		    r < 0 ? 0 : r);
	prom_metric(b, "warmpath_prefix_coverage_degraded", PROM_GAUGE,
		    "1 when more than 1% of tunnel packets matched no peer for a minute", d);
}
