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
#include "probe.h"
#include "peer_table.h"
#include "prom.h"

/* Why a request at the probe port was not answered (metric reason label). */
enum resp_drop {
	RESP_MALFORMED = 0,
	RESP_UNKNOWN_SOURCE, /* not a peer's probe address */
	RESP_BAD_PORT, /* a peer's address, but not from the probe port */
	RESP_UNAUTHENTICATED, /* a key is set: no MAC, or v1 */
	RESP_BAD_MAC,
	RESP_REPLAYED,
	RESP_RATE_LIMITED, /* that source's own bucket is empty */
	RESP_MAX
};

/* Why a reply was not taken as the answer to our probe. */
enum reply_reject {
	REPLY_UNAUTHENTICATED = 0,
	REPLY_BAD_MAC,
	REPLY_WRONG_SOURCE, /* not the probed peer's probe address and port */
	REPLY_UNMATCHED, /* no probe in flight with that nonce (late, replayed, forged) */
	REPLY_MAX
};

/* The probe in flight to one peer (same index as the peer table's entry). */
struct probe_slot {
	__u64 counter; /* UDP: the request's counter, echoed by the reply */
	__u8 nonce[WP_PROBE_NONCE_LEN]; /* random per probe: UDP and ICMP replies echo it */
	__u16 icmp_id, icmp_seq; /* random per probe */
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
	const struct wp_probe_key *key; /* len 0: probes unauthenticated */
	const struct lt_opts *lt; /* lifetime trials (NULL: none answered) */
};

/*
 * UDP probes queued by prober_send during a tick and sent by prober_flush in
 * one sendmmsg per TX_BATCH (a tick at 5,000 peers sends ~500).
 */
struct prober_txq;
#define PROBER_RND_LEN 4096

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
	__u64 next_counter; /* strictly increasing across restarts (wall clock us at start) */
	__u64 earliest_deadline_ns; /* 0: nothing in flight; the loop wakes for it */
	__u64 send_errors;
	struct prober_txq *txq;
	/* random bytes for the probes' nonces and ids, one getrandom per PROBER_RND_LEN */
	__u8 rnd[PROBER_RND_LEN];
	size_t rnd_used; /* bytes of rnd already handed out (each only once) */
	/* responder */
	__u64 resp_answered;
	__u64 resp_dropped[RESP_MAX];
	__u64 resp_v1_answered; /* of resp_answered: v1 requests (no key, rolling update) */
	__u64 reply_rejected[REPLY_MAX];
	__u64 trial_msgs_in, trial_msgs_out; /* lifetime trial datagrams */
	__u64 trial_wake_ns; /* a trial accepted since the agent last looked: its deadline */
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
/* Send a lifetime trial message to peer idx at once (UDP). */
void prober_send_trial(struct prober *p, int idx, const struct lt_msg *m);
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
