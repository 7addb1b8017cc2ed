// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Detection events: the datapath's ring buffer (cold starts, first-packet
 * drops, SYN retransmits) and the unanswered cold starts the agent itself
 * notices. Every event is counted; each is logged as one line (JSON with
 * --log-format json), at most EV_LOG_RATE a second so a storm of drops cannot
 * flood the log (the lines held back are counted too).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <bpf/libbpf.h>
#include "events.h"
#include "evtag.h"
#include "log.h"
#include "util.h"

#define EV_LOG_RATE 10.0 /* lines per second */
#define EV_LOG_BURST 50.0 /* lines at once */

const char *const wp_event_names[WP_EV_MAX] = {
	[WP_EV_COLD_START] = "cold_start",
	[WP_EV_FIRST_PACKET_DROP] = "first_packet_drop",
	[WP_EV_SYN_RETRANSMIT] = "syn_retransmit",
	[WP_EV_COLD_UNANSWERED] = "cold_start_unanswered",
};

static bool log_allowed(struct event_log *ev, __u64 now)
{
	ev->tokens += (now - ev->refill_ns) / 1e9 * EV_LOG_RATE;
	if (ev->tokens > EV_LOG_BURST)
		ev->tokens = EV_LOG_BURST;
	ev->refill_ns = now;
	if (ev->tokens < 1) {
		ev->log_suppressed++;
		return false;
	}
	ev->tokens -= 1;
	return true;
}

static const char *proto_name(__u8 proto)
{
	switch (proto) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 1:
		return "icmp";
	case 58:
		return "icmpv6";
	default:
		return "ip";
	}
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct wp_event *e = data;
	struct event_log *ev = ctx;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	const char *peer = "?";
	json_t *f;
	int idx;

	if (len < sizeof(*e) || e->type >= WP_EV_MAX || !e->type) {
		ev->malformed++;
		return 0;
	}
	ev->total[e->type]++;
	if (!log_allowed(ev, wp_now_ns()))
		return 0;
	idx = peer_table_index_of_id(ev->peers, e->peer_id);
	if (idx >= 0)
		peer = ev->peers->e[idx].name;
	wp_addr16_format(e->saddr, src, sizeof(src));
	wp_addr16_format(e->daddr, dst, sizeof(dst));
	f = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:i, s:s, s:i, s:f}", "event",
		      wp_event_names[e->type], "peer", peer, "proto", proto_name(e->l4proto), "src",
		      src, "sport", e->sport, "dst", dst, "dport", e->dport, "direction",
		      e->dir == WP_DIR_TX ? "tx" : "rx", "syn_count", e->syn_count,
		      e->type == WP_EV_COLD_START ? "idle_seconds" : "since_first_syn_seconds",
		      e->value_ns / 1e9);
	switch (e->type) {
	case WP_EV_COLD_START:
		log_fields(LOG_INFO, f,
			   "cold start: peer %s, first packet (%s %s %s:%u -> %s:%u) "
			   "after %.1f s idle",
			   peer, e->dir == WP_DIR_TX ? "tx" : "rx", proto_name(e->l4proto), src,
			   e->sport, dst, e->dport, e->value_ns / 1e9);
		break;
	case WP_EV_FIRST_PACKET_DROP:
		log_fields(LOG_WARN, f,
			   "first-packet drop: peer %s, tcp %s:%u -> %s:%u, SYN sent %u "
			   "times, %.3f s after the first: the path was cold",
			   peer, src, e->sport, dst, e->dport, e->syn_count, e->value_ns / 1e9);
		break;
	default:
		log_fields(LOG_INFO, f,
			   "SYN retransmit on a warm path: peer %s, tcp %s:%u -> %s:%u, "
			   "SYN sent %u times",
			   peer, src, e->sport, dst, e->dport, e->syn_count);
		break;
	}
	return 0;
}

int event_log_open(struct event_log *ev, int events_fd, int epfd, const struct peer_table *peers,
		   int probe_timeout_ms, char *err, size_t errlen)
{
	struct epoll_event eev = { .events = EPOLLIN, .data.u64 = EV_TAG(EV_RING, 0) };

	memset(ev, 0, sizeof(*ev));
	ev->peers = peers;
	ev->probe_timeout_ms = probe_timeout_ms;
	ev->tokens = EV_LOG_BURST;
	ev->refill_ns = wp_now_ns();
	ev->rb = ring_buffer__new(events_fd, on_event, ev, NULL);
	if (!ev->rb) {
		snprintf(err, errlen, "events ring buffer: %s", strerror(errno));
		return -errno;
	}
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(ev->rb), &eev))
		return -errno;
	return 0;
}

void event_log_poll(struct event_log *ev)
{
	ring_buffer__consume(ev->rb);
}

void event_log_close(struct event_log *ev)
{
	ring_buffer__free(ev->rb);
	ev->rb = NULL;
}

/*
 * A cold start still unanswered --probe-timeout after its packet: counted once
 * per cold start (the datapath keeps cold_since_ns until the answer comes).
 * Only non-TCP ones (UDP, ICMP, ...): a TCP cold start that goes unanswered
 * shows as first-packet drops, and its SYN retransmit timer (1 s) would race
 * the timeout.
 */
void event_log_check_unanswered(struct event_log *ev, struct peer_table *peers, __u64 now)
{
	__u64 timeout = (__u64)ev->probe_timeout_ms * 1000000ull;

	for (int i = 0; i < peers->n; i++) {
		struct peer_entry *e = &peers->e[i];
		__u64 since = e->bpf.cold_since_ns;
		json_t *f;

		/* TCP cold starts have their own evidence: first-packet drops */
		if (!since || (since & WP_COLD_TCP) || since == e->cold_reported_ns ||
		    now < since || now - since < timeout)
			continue;
		e->cold_reported_ns = since;
		e->cold_unanswered++;
		ev->total[WP_EV_COLD_UNANSWERED]++;
		if (!log_allowed(ev, now))
			continue;
		f = json_pack("{s:s, s:s, s:f}", "event", wp_event_names[WP_EV_COLD_UNANSWERED],
			      "peer", e->name, "waited_seconds", (now - since) / 1e9);
		log_fields(LOG_WARN, f,
			   "cold start unanswered: peer %s sent nothing back within %d ms", e->name,
			   ev->probe_timeout_ms);
	}
}

void event_log_emit_metrics(const struct event_log *ev, struct prom_buf *b)
{
	prom_family(b, "warmpath_events_total", PROM_COUNTER,
		    "Detection events (each also logged, rate-limited)");
	for (int t = 1; t < WP_EV_MAX; t++) {
		const char *l[] = { "type", wp_event_names[t], NULL };

		prom_sample_u64(b, "warmpath_events_total", l, ev->total[t]);
	}
	prom_family(b, "warmpath_event_logs_suppressed_total", PROM_COUNTER,
		    "Event log lines held back by the rate limit");
	prom_sample_u64(b, "warmpath_event_logs_suppressed_total", NULL, ev->log_suppressed);
}
