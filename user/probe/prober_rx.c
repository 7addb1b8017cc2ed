// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Datagrams in: the responder (answers only peers' probe addresses, from and to
 * the probe port, authenticated, rate-limited per source) and the replies to
 * our probes (matched by peer, port and nonce), over recvmmsg; ICMP echo
 * replies. Probes out, timeouts and metrics: prober.c.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <sys/epoll.h>
#include <bpf/bpf.h>
#include "evtag.h"
#include "log.h"
#include "probe.h"
#include "prober.h"
#include "prober_int.h"
#include "util.h"

#define RESP_BATCH 256 /* datagrams handled per wake-up before yielding */
#define RX_BATCH 32 /* datagrams per recvmmsg */
#define RX_LEN 512

/*
 * Token bucket per source peer: a peer probes at most once per interval, so
 * 4 per interval (at least 1/s) with a burst of 5 is plenty; a flood from one
 * source (or spoofing one) empties only that source's bucket.
 */
static bool resp_allow(struct prober *p, struct peer_entry *e, __u64 now)
{
	double rate = 4.0 / p->o.keepalive_interval, burst = 5;

	if (rate < 1)
		rate = 1;
	if (!e->resp_refill_ns)
		e->resp_tokens = burst;
	else
		e->resp_tokens += (now - e->resp_refill_ns) / 1e9 * rate;
	if (e->resp_tokens > burst)
		e->resp_tokens = burst;
	e->resp_refill_ns = now;
	if (e->resp_tokens < 1)
		return false;
	e->resp_tokens -= 1;
	return true;
}

/* A reply counts only from the probed peer's probe address and port, with our nonce. */
static void on_reply(struct prober *p, const struct wp_probe_msg *m,
		     const struct sockaddr_storage *src, __u64 now)
{
	int idx = peer_by_probe_addr(p, src);
	struct probe_slot *sl;

	if (idx < 0 || sockaddr_port(src) != p->o.port) {
		p->reply_rejected[REPLY_WRONG_SOURCE]++;
		return;
	}
	sl = &p->slots[idx];
	if (!p->peers->e[idx].ka.inflight || p->o.kind != WP_PROBE_UDP ||
	    be64toh(m->counter) != sl->counter ||
	    CRYPTO_memcmp(m->nonce, sl->nonce, sizeof(sl->nonce))) {
		p->reply_rejected[REPLY_UNMATCHED]++;
		return;
	}
	probe_done(p, idx, true, now);
}

static void count_bad(struct prober *p, const void *buf, size_t len, enum wp_probe_verdict v)
{
	/* a reply (type byte 2) or a request: which counter the reason goes to */
	bool reply = len > 5 && ((const __u8 *)buf)[5] == WP_PROBE_REPLY;

	if (v == WP_PROBE_UNAUTHENTICATED || v == WP_PROBE_BAD_MAC) {
		if (reply)
			p->reply_rejected[v == WP_PROBE_BAD_MAC ? REPLY_BAD_MAC :
								  REPLY_UNAUTHENTICATED]++;
		else
			p->resp_dropped[v == WP_PROBE_BAD_MAC ? RESP_BAD_MAC :
								RESP_UNAUTHENTICATED]++;
		return;
	}
	p->resp_dropped[RESP_MALFORMED]++;
}

/*
 * A request or a trial message: taken only from a peer's probe address and the
 * probe port, new (replay window, with a key), within that source's rate.
 * Returns the peer's index, or -1 (counted).
 */
static int admit(struct prober *p, const struct wp_probe_msg *m, const struct sockaddr_storage *src,
		 __u64 now)
{
	int idx = peer_by_probe_addr(p, src);
	struct peer_entry *e;

	if (idx < 0) {
		p->resp_dropped[RESP_UNKNOWN_SOURCE]++;
		return -1;
	}
	e = &p->peers->e[idx];
	if (sockaddr_port(src) != p->o.port) {
		p->resp_dropped[RESP_BAD_PORT]++;
		return -1;
	}
	/* without a key the counter is not authenticated: no window an attacker could push */
	if (p->o.key->len && !probe_replay_accept(&e->replay, be64toh(m->counter))) {
		p->resp_dropped[RESP_REPLAYED]++;
		return -1;
	}
	if (!resp_allow(p, e, now)) {
		p->resp_dropped[RESP_RATE_LIMITED]++;
		return -1;
	}
	return idx;
}

/*
 * A request: answered only when it comes from a peer's probe address and the
 * probe port, authenticated (with a key), new (replay window, with a key),
 * within that source's rate; the reply is the same size.
 */
static void on_request(struct prober *p, void *buf, size_t len, struct wp_probe_msg *m, bool v1,
		       const struct sockaddr_storage *src, socklen_t slen, __u64 now)
{
	int idx = admit(p, m, src, now);
	struct peer_entry *e;

	if (idx < 0)
		return;
	e = &p->peers->e[idx];
	lt_on_peer_request(&e->lt, now); /* a trial's test, when one is awaited */
	if (v1) {
		/* a v1 agent (no key set here): the v1 reply, the same 56 bytes */
		struct wp_probe_msg_v1 *r = buf;

		r->type = WP_PROBE_REPLY;
		memset(r->sender, 0, sizeof(r->sender));
		memcpy(r->sender, p->o.node_name, strnlen(p->o.node_name, sizeof(r->sender) - 1));
	} else {
		__u8 nonce[WP_PROBE_NONCE_LEN];

		memcpy(nonce, m->nonce, sizeof(nonce)); /* build clears m first */
		probe_msg_build(m, WP_PROBE_REPLY, be64toh(m->counter), nonce, p->o.node_name,
				p->o.key);
		buf = m;
	}
	if (sendto(p->udp_fd, buf, len, 0, (const struct sockaddr *)src, slen) == (ssize_t)len) {
		p->resp_answered++;
		p->resp_v1_answered += v1;
	}
}

/*
 * A lifetime trial message: from a peer's probe address and port, fresh (with
 * a key), well formed; a proposal is answered (accepted or refused).
 */
static void on_trial(struct prober *p, const struct wp_probe_msg *m,
		     const struct sockaddr_storage *src, __u64 now)
{
	struct lt_msg in, out;
	struct peer_entry *e;
	int idx;

	if (!probe_trial_valid(&m->trial)) {
		p->resp_dropped[RESP_MALFORMED]++;
		return;
	}
	idx = admit(p, m, src, now);
	if (idx < 0)
		return;
	e = &p->peers->e[idx];
	p->trial_msgs_in++;
	in = (struct lt_msg){ .type = (enum lt_msg_type)m->trial.kind,
			      .id = ntohl(m->trial.id),
			      .gap_ms = ntohl(m->trial.gap_ms),
			      .receiver_tests = m->trial.flags & WP_TRIAL_F_RECEIVER_TESTS };
	if (!p->o.lt) {
		if (in.type == LT_MSG_PROPOSE) {
			out = (struct lt_msg){ .type = LT_MSG_REFUSE,
					       .id = in.id,
					       .gap_ms = in.gap_ms };
			prober_send_trial(p, idx, &out);
		}
		return;
	}
	lt_on_msg(p->o.lt, &e->lt, &in, now, e->lt_ok && !e->ka.inflight, &out);
	if (lt_wake_ns(&e->lt) && (!p->trial_wake_ns || lt_wake_ns(&e->lt) < p->trial_wake_ns))
		p->trial_wake_ns = lt_wake_ns(&e->lt);
	if (in.type == LT_MSG_PROPOSE) {
		prober_send_trial(p, idx, &out);
		log_debug("lifetime trial proposed by %s: %gs, %s tests: %s", e->name,
			  in.gap_ms / 1e3, in.receiver_tests ? "we" : "it",
			  out.type == LT_MSG_ACCEPT ? "accepted" : "refused");
	}
}

static void on_udp_datagram(struct prober *p, char *buf, size_t len,
			    const struct sockaddr_storage *src, socklen_t slen, __u64 now)
{
	struct wp_probe_msg_v1 m1;
	struct wp_probe_msg m;
	enum wp_probe_verdict v = probe_msg_parse(buf, len, p->o.key, &m, &m1);

	if (v == WP_PROBE_V1) {
		if (m1.type == WP_PROBE_REQUEST) {
			memcpy(buf, &m1, sizeof(m1));
			m.counter = 0;
			on_request(p, buf, sizeof(m1), &m, true, src, slen, now);
		} else {
			p->reply_rejected[REPLY_UNMATCHED]++; /* we never send v1 */
		}
		return;
	}
	if (v != WP_PROBE_OK) {
		count_bad(p, buf, len, v);
		return;
	}
	if (m.type == WP_PROBE_REPLY)
		on_reply(p, &m, src, now);
	else if (m.type == WP_PROBE_TRIAL)
		on_trial(p, &m, src, now);
	else
		on_request(p, buf, sizeof(m), &m, false, src, slen, now);
}

/* Replies and requests, RX_BATCH datagrams a recvmmsg, at most RESP_BATCH a wake-up. */
void prober_on_udp(struct prober *p, __u64 now)
{
	struct sockaddr_storage src[RX_BATCH];
	struct mmsghdr hdr[RX_BATCH];
	struct iovec iov[RX_BATCH];
	char buf[RX_BATCH][RX_LEN];

	for (int done = 0; done < RESP_BATCH;) {
		int n;

		for (int i = 0; i < RX_BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = buf[i], .iov_len = RX_LEN };
			hdr[i] = (struct mmsghdr){
				.msg_hdr = { .msg_name = &src[i],
					     .msg_namelen = sizeof(src[i]),
					     .msg_iov = &iov[i],
					     .msg_iovlen = 1 },
			};
		}
		n = recvmmsg(p->udp_fd, hdr, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return; /* EAGAIN: drained */
		for (int i = 0; i < n; i++)
			on_udp_datagram(p, buf[i], hdr[i].msg_len, &src[i],
					hdr[i].msg_hdr.msg_namelen, now);
		done += n;
		if (n < RX_BATCH)
			return;
	}
}

void prober_on_icmp(struct prober *p, int family, __u64 now)
{
	int fd = p->icmp_fd[family == AF_INET6];
	struct sockaddr_storage src;
	char buf[512];
	__u8 nonce[WP_PROBE_NONCE_LEN];
	__u16 id, seq;

	for (int n = 0; n < RESP_BATCH; n++) {
		socklen_t slen = sizeof(src);
		ssize_t len = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &slen);
		int idx;

		if (len < 0)
			return;
		if (!probe_icmp_parse_reply(family, buf, len, &id, &seq, nonce))
			continue;
		/* the probed peer's address, our random id, seq and payload nonce */
		idx = peer_by_probe_addr(p, &src);
		if (idx < 0) {
			p->reply_rejected[REPLY_WRONG_SOURCE]++;
			continue;
		}
		if (!p->peers->e[idx].ka.inflight || p->o.kind != WP_PROBE_ICMP ||
		    id != p->slots[idx].icmp_id || seq != p->slots[idx].icmp_seq ||
		    CRYPTO_memcmp(nonce, p->slots[idx].nonce, sizeof(nonce))) {
			p->reply_rejected[REPLY_UNMATCHED]++;
			continue;
		}
		probe_done(p, idx, true, now);
	}
}
