/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The agent's state, shared by agent.c (loop), prober.c (probes) and export.c (HTTP views). */
#ifndef __WARMPATH_AGENT_INT_H
#define __WARMPATH_AGENT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <linux/types.h>
#include "config.h"
#include "drops.h"
#include "keepalive.h"
#include "kube.h"
#include "loader.h"
#include "peers.h"
#include "prom.h"
#include "warmpath.h"

/* epoll tags: kind in the high half of epoll_data.u64, peer index in the low half */
enum { EV_UDP = 1, EV_ICMP4, EV_ICMP6, EV_HTTP, EV_RING, EV_KUBE };
#define EV_TAG(kind, idx) (((__u64)(kind) << 32) | (__u32)(idx))

enum resp_drop { RESP_MALFORMED = 0, RESP_UNKNOWN_SOURCE, RESP_RATE_LIMITED, RESP_MAX };

/* One configured peer at run time. */
struct peer_rt {
	char name[WP_PEER_NAME_LEN];
	struct sockaddr_storage addr; /* probe target, port unset */
	__u32 map_id; /* slot in the peers map */
	struct ka_state ka;
	/* the probe in flight */
	__u32 seq;
	__u64 sent_ns;
	__u64 deadline_ns;
	int http_fd;
	bool http_sent;
	size_t http_len;
	char http_buf[64];
	/* counters exported as metrics */
	__u64 probes_sent;
	__u64 probes_failed;
	__u64 probes_answered;
	__u64 suppressed;
	__u64 last_rtt_ns;
	struct prom_hist rtt;
	__u64 cold_reported_ns; /* cold_since_ns already counted as unanswered */
	__u64 cold_unanswered;
	struct peer_state bpf; /* last read of its map slot */
};

struct agent {
	struct wp_config *cfg;
	struct wp_loader ld;
	struct wp_peer_set peers;
	/* guards rt/nrt and every counter below against the HTTP threads */
	pthread_mutex_t lock;
	struct peer_rt *rt;
	int nrt;
	__u32 generation; /* bumps on every peer reload: stale replies are ignored */
	__u32 next_seq;
	struct peer_state *bpf_buf;
	int *id_to_rt; /* map slot -> rt index, -1 when none */

	int epfd;
	int udp_fd;
	int udp_family;
	int icmp_fd[2]; /* AF_INET, AF_INET6; -1 until a peer needs it */
	__u64 tick_ns;
	__u64 next_tick_ns;
	__u64 earliest_deadline_ns;
	__u64 last_reconcile_ns;
	bool ready;

	/* responder */
	__u64 resp_answered;
	__u64 resp_dropped[RESP_MAX];
	double resp_tokens;
	__u64 resp_refill_ns;
	/* self */
	__u64 ticks;
	int tick_next_peer; /* where a tick that ran out of probe budget stopped */
	__u64 tick_cpu_ns_total;
	__u64 tick_cpu_ns_last;
	__u64 probe_send_errors;
	__u64 started_ns;
	/* events */
	struct ring_buffer *rb;
	__u64 ev_total[WP_EV_MAX];
	__u64 ev_malformed;
	__u64 ev_log_suppressed;
	double ev_tokens;
	__u64 ev_refill_ns;
	struct wp_http *http_metrics;
	struct wp_http *http_probe;
	/* discovery: --peer / --peers-file, and what --kubernetes found */
	struct wp_peer_set static_peers;
	struct wp_peer_set kube_peers;
	struct wp_kube *kube; /* NULL without --kubernetes */
	struct wp_drops *drops; /* kfree_skb tracer; NULL or down: no drop counting */
};

/* prober.c */
int prober_open(struct agent *a, char *err, size_t errlen);
void prober_close(struct agent *a);
void prober_send(struct agent *a, int idx, __u64 now);
void prober_on_udp(struct agent *a, __u64 now);
void prober_on_icmp(struct agent *a, int family, __u64 now);
void prober_on_http(struct agent *a, int idx, __u32 events, __u64 now);
void prober_expire(struct agent *a, __u64 now);
void prober_abort(struct agent *a, struct peer_rt *rt);
int agent_peer_by_addr(struct agent *a, const struct sockaddr_storage *ss);

/* events.c */
extern const char *const wp_event_names[WP_EV_MAX];
int events_open(struct agent *a, char *err, size_t errlen);
void events_poll(struct agent *a);
void events_close(struct agent *a);
void events_check_unanswered(struct agent *a, __u64 now);

/* agent.c */
void agent_read_peer_states(struct agent *a);

/* export.c */
int agent_emit_metrics(void *ctx, struct prom_buf *out);
char *agent_peers_json(void *ctx);
bool agent_ready(void *ctx, char *why, size_t len);

#endif /* __WARMPATH_AGENT_INT_H */
