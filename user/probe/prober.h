/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The prober: our keep-alive probes to the peers of a peer table (sockets,
 * the probe in flight per peer, deadlines) and the responder answering the
 * peers' probes (token bucket, drop counters). Driven by the agent's epoll
 * loop; never blocks. The caller serialises every call (the agent's lock).
 */
#ifndef __WARMPATH_PROBER_H
#define __WARMPATH_PROBER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "config.h"
#include "peer_table.h"
#include "prom.h"

enum resp_drop { RESP_MALFORMED = 0, RESP_UNKNOWN_SOURCE, RESP_RATE_LIMITED, RESP_MAX };

/* The probe in flight to one peer (same index as the peer table's entry). */
struct probe_slot {
	__u32 seq;
	__u64 sent_ns;
	__u64 deadline_ns;
	int http_fd; /* -1: no HTTP exchange open */
	bool http_sent;
	size_t http_len;
	char http_buf[64];
};

struct prober_opts {
	enum wp_probe_kind kind;
	enum wp_mode mode;
	int port;
	int timeout_ms;
	double keepalive_interval; /* s: sizes the responder's rate */
	const char *node_name;
};

/*
 * UDP probes queued by prober_send during a tick and sent by prober_flush in
 * one sendmmsg per TX_BATCH (a tick at 5,000 peers sends ~500).
 */
struct prober_txq;

struct prober {
	struct prober_opts o;
	struct peer_table *peers;
	int epfd;
	int prefixes_fd; /* address -> peer, for replies and requests */
	int udp_fd;
	int udp_family;
	int icmp_fd[2]; /* AF_INET, AF_INET6; -1 until a peer needs it */
	struct probe_slot *slots; /* peers->n of them */
	__u32 generation; /* bumps on every peer reload: stale replies found by address */
	__u32 next_seq;
	__u64 earliest_deadline_ns; /* 0: nothing in flight; the loop wakes for it */
	__u64 send_errors;
	struct prober_txq *txq;
	/* responder */
	__u64 resp_answered;
	__u64 resp_dropped[RESP_MAX];
	double resp_tokens;
	__u64 resp_refill_ns;
};

/* Opens the sockets and registers them with epfd. On error p is safe to close. */
int prober_open(struct prober *p, const struct prober_opts *o, struct peer_table *peers, int epfd,
		int prefixes_fd, char *err, size_t errlen);
void prober_close(struct prober *p);
/*
 * A peer reload, in two steps so that it cannot fail half-way: slots for the
 * new table (NULL: out of memory, nothing changed yet), then, after
 * peer_table_rebuild (old_of from it, old_n the old entry count),
 * prober_peers_changed takes them and moves each kept peer's probe in flight
 * to its new index. A UDP or ICMP probe stays in flight (its answer is matched
 * by address and sequence, or it times out); an HTTP exchange is cut (its
 * socket closes): failed.
 */
struct probe_slot *prober_slots_new(int n);
void prober_peers_changed(struct prober *p, struct probe_slot *slots, const int *old_of, int old_n);
/*
 * Start a probe to peer idx. A UDP probe is queued: the caller calls
 * prober_flush before it returns to the loop (before any peer reload).
 */
void prober_send(struct prober *p, int idx, __u64 now);
/* Send the queued UDP probes (sendmmsg); a send that fails fails its probe now. */
void prober_flush(struct prober *p);
void prober_on_udp(struct prober *p, __u64 now);
void prober_on_icmp(struct prober *p, int family, __u64 now);
void prober_on_http(struct prober *p, int idx, __u32 events, __u64 now);
/* Fail the probes past their deadline. */
void prober_expire(struct prober *p, __u64 now);
/* warmpath_probe_responder_*, warmpath_probe_send_errors_total. */
void prober_emit_metrics(const struct prober *p, struct prom_buf *b);

#endif /* __WARMPATH_PROBER_H */
