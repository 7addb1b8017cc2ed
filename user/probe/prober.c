// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Probes and the responder. One UDP socket bound to the probe port both sends
 * our probes and answers the peers' (so every probe packet, either way, is
 * UDP to or from the probe port, which is how the datapath tells probe traffic
 * from workload). Every socket is non-blocking and driven by the agent's epoll
 * loop: a black-holed peer costs a timer, never a wait.
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

#define TX_BATCH 64 /* probes per sendmmsg */

struct prober_txq {
	int n;
	int idx[TX_BATCH]; /* peer table index of each queued probe */
	struct wp_probe_msg msg[TX_BATCH];
	struct sockaddr_storage dst[TX_BATCH];
	struct iovec iov[TX_BATCH];
	struct mmsghdr hdr[TX_BATCH];
};

/* The peer table index of the peer owning an address, or -1. */
int peer_by_addr(const struct prober *p, const struct sockaddr_storage *ss)
{
	struct prefix_key key = { .prefixlen = 128 };
	struct prefix_val val;

	sockaddr_to_addr16(ss, key.addr);
	if (bpf_map_lookup_elem(p->prefixes_fd, &key, &val))
		return -1;
	return peer_table_index_of_id(p->peers, val.peer_id);
}

int sockaddr_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port :
						((const struct sockaddr_in6 *)ss)->sin6_port);
}

/*
 * The peer whose probe address this is (not just any address in its
 * prefixes), or -1.
 */
int peer_by_probe_addr(const struct prober *p, const struct sockaddr_storage *ss)
{
	int idx = peer_by_addr(p, ss);

	if (idx < 0 || !sockaddr_same_host(ss, &p->peers->e[idx].addr))
		return -1;
	return idx;
}

struct probe_slot *prober_slots_new(int n)
{
	struct probe_slot *s = calloc(n ? n : 1, sizeof(*s));

	for (int i = 0; s && i < n; i++)
		s[i].http_fd = -1;
	return s;
}

int prober_open(struct prober *p, const struct prober_opts *o, struct peer_table *peers, int epfd,
		int prefixes_fd, char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_TAG(EV_UDP, 0) };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	static const struct wp_probe_key no_key;

	memset(p, 0, sizeof(*p));
	p->o = *o;
	if (!p->o.key)
		p->o.key = &no_key;
	p->peers = peers;
	p->epfd = epfd;
	p->prefixes_fd = prefixes_fd;
	p->icmp_fd[0] = p->icmp_fd[1] = -1;
	p->next_counter = (__u64)time(NULL) * 1000000ull;
	{
		struct timespec ts;

		if (!clock_gettime(CLOCK_REALTIME, &ts))
			p->next_counter = (__u64)ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
	}
	p->slots = prober_slots_new(peers->n);
	p->txq = calloc(1, sizeof(*p->txq));
	if (!p->slots || !p->txq) {
		p->udp_fd = -1;
		snprintf(err, errlen, "prober: out of memory");
		return -ENOMEM;
	}
	p->udp_fd = probe_udp_open(o->port, err, errlen);
	if (p->udp_fd < 0)
		return p->udp_fd;
	getsockname(p->udp_fd, (struct sockaddr *)&ss, &len);
	p->udp_family = ss.ss_family;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, p->udp_fd, &ev))
		return -errno;
	if (o->kind == WP_PROBE_ICMP && o->mode != WP_MODE_OBSERVE) {
		for (int i = 0; i < 2; i++) {
			int family = i ? AF_INET6 : AF_INET;

			p->icmp_fd[i] = probe_icmp_open(family, err, errlen);
			if (p->icmp_fd[i] < 0) {
				/* IPv6 may be off in this namespace; IPv4 must work */
				if (!i)
					return p->icmp_fd[i];
				log_debug("%s", err);
				continue;
			}
			ev.data.u64 = EV_TAG(i ? EV_ICMP6 : EV_ICMP4, 0);
			epoll_ctl(epfd, EPOLL_CTL_ADD, p->icmp_fd[i], &ev);
		}
	}
	return 0;
}

static void http_close(struct prober *p, struct probe_slot *sl)
{
	if (sl->http_fd < 0)
		return;
	epoll_ctl(p->epfd, EPOLL_CTL_DEL, sl->http_fd, NULL);
	close(sl->http_fd);
	sl->http_fd = -1;
}

void prober_close(struct prober *p)
{
	/* drop the probes in flight without counting them: the agent is exiting */
	for (int i = 0; p->slots && i < p->peers->n; i++) {
		http_close(p, &p->slots[i]);
		p->peers->e[i].ka.inflight = false;
	}
	free(p->slots);
	p->slots = NULL;
	free(p->txq); /* probes still queued are dropped uncounted too */
	p->txq = NULL;
	if (p->udp_fd >= 0)
		close(p->udp_fd);
	p->udp_fd = -1;
	for (int i = 0; i < 2; i++) {
		if (p->icmp_fd[i] >= 0)
			close(p->icmp_fd[i]);
		p->icmp_fd[i] = -1;
	}
}

void prober_peers_changed(struct prober *p, struct probe_slot *slots, const int *old_of, int old_n)
{
	struct peer_table *t = p->peers;
	bool carried = false;

	if (!p->slots) { /* not open yet: prober_open sizes the slots */
		free(slots);
		return;
	}
	for (int i = 0; i < t->n; i++) {
		int j = old_of[i];

		if (j < 0 || j >= old_n)
			continue;
		slots[i] = p->slots[j];
		slots[i].http_fd = -1;
		if (p->slots[j].http_fd >= 0) {
			/* the HTTP exchange is cut by the reload: failed */
			t->e[i].ka.inflight = false;
			t->e[i].probes_failed++;
		}
		if (t->e[i].ka.inflight)
			carried = true;
	}
	for (int j = 0; j < old_n; j++)
		http_close(p, &p->slots[j]);
	free(p->slots);
	p->slots = slots;
	p->generation++;
	/* 1: the next loop scans the carried-over probes and finds the earliest deadline */
	p->earliest_deadline_ns = carried ? 1 : 0;
}

void probe_done(struct prober *p, int idx, bool answered, __u64 now)
{
	struct peer_entry *e = &p->peers->e[idx];
	struct probe_slot *sl = &p->slots[idx];

	bool test;

	http_close(p, sl);
	e->ka.inflight = false;
	lt_on_probe_done(&e->lt, answered, now, &test);
	if (test)
		log_debug("lifetime trial with %s: %gs %s", e->name, e->lt.gap_ns / 1e9,
			  answered ? "survived" : "failed (no answer)");
	if (!answered) {
		e->probes_failed++;
		log_debug("probe to %s (%s) failed", e->name, wp_probe_name(p->o.kind));
		return;
	}
	e->probes_answered++;
	e->last_rtt_ns = now - sl->sent_ns;
	prom_hist_observe(&e->rtt, e->last_rtt_ns / 1e9);
}

/* The UDP socket may be IPv6 dual-stack: IPv4 targets become ::ffff:a.b.c.d. */
static socklen_t udp_target(const struct prober *p, const struct sockaddr_storage *addr,
			    struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (p->udp_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(p->o.port);
		sockaddr_to_addr16(addr, s6->sin6_addr.s6_addr);
		return sizeof(*s6);
	}
	*out = *addr;
	((struct sockaddr_in *)out)->sin_port = htons(p->o.port);
	return sizeof(struct sockaddr_in);
}

/* Queue a UDP probe to peer idx (flushing a full queue first). */
static int udp_queue(struct prober *p, int idx, const struct wp_probe_msg *m,
		     const struct sockaddr_storage *addr)
{
	struct prober_txq *q = p->txq;
	int i;

	if (!q)
		return -ENOMEM;
	if (q->n == TX_BATCH)
		prober_flush(p);
	i = q->n++;
	q->idx[i] = idx;
	q->msg[i] = *m;
	q->iov[i] = (struct iovec){ .iov_base = &q->msg[i], .iov_len = sizeof(*m) };
	q->hdr[i] = (struct mmsghdr){
		.msg_hdr = { .msg_name = &q->dst[i],
			     .msg_namelen = udp_target(p, addr, &q->dst[i]),
			     .msg_iov = &q->iov[i],
			     .msg_iovlen = 1 },
	};
	return 0;
}

/* A probe whose send failed locally (no route, ...): failed now. */
static void send_failed(struct prober *p, int idx, int err, __u64 now)
{
	p->send_errors++;
	p->peers->e[idx].probe_check = false; /* it never left: not a bypass */
	log_debug("probe to %s: %s", p->peers->e[idx].name, strerror(err));
	probe_done(p, idx, false, now);
}

void prober_flush(struct prober *p)
{
	struct prober_txq *q = p->txq;
	__u64 now;
	int off = 0;

	if (!q || !q->n)
		return;
	/* the round trip counts from the send, not from the queueing */
	now = wp_now_ns();
	for (int i = 0; i < q->n; i++)
		p->slots[q->idx[i]].sent_ns = now;
	while (off < q->n) {
		int r = sendmmsg(p->udp_fd, q->hdr + off, q->n - off, 0);

		if (r > 0) {
			off += r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		/* the first unsent one failed: count it and go on with the rest */
		send_failed(p, q->idx[off], r < 0 ? errno : EIO, now);
		off++;
	}
	q->n = 0;
}

/*
 * Random bytes from the kernel's CSPRNG, fetched PROBER_RND_LEN at a time:
 * three getrandom calls a probe were a third of a tick at 5,000 peers. Each
 * byte is handed out once and wiped from the pool.
 */
static int prober_random(struct prober *p, void *buf, size_t len)
{
	if (len > sizeof(p->rnd))
		return probe_random(buf, len);
	if (!p->rnd_used || p->rnd_used + len > sizeof(p->rnd)) {
		int err = probe_random(p->rnd, sizeof(p->rnd));

		if (err) {
			p->rnd_used = 0;
			return err;
		}
		p->rnd_used = 0;
	}
	memcpy(buf, p->rnd + p->rnd_used, len);
	memset(p->rnd + p->rnd_used, 0, len);
	p->rnd_used += len;
	return 0;
}

void prober_send(struct prober *p, int idx, __u64 now)
{
	struct peer_entry *e = &p->peers->e[idx];
	struct probe_slot *sl = &p->slots[idx];
	struct wp_probe_msg m;
	int ret = 0, fd;

	sl->counter = ++p->next_counter;
	if (prober_random(p, sl->nonce, sizeof(sl->nonce)) ||
	    prober_random(p, &sl->icmp_id, sizeof(sl->icmp_id)) ||
	    prober_random(p, &sl->icmp_seq, sizeof(sl->icmp_seq)))
		ret = -EIO; /* no entropy: do not send a guessable probe */
	sl->sent_ns = now;
	sl->deadline_ns = now + (__u64)p->o.timeout_ms * 1000000ull;
	switch (ret ? -1 : (int)p->o.kind) {
	case WP_PROBE_UDP:
		probe_msg_build(&m, WP_PROBE_REQUEST, sl->counter, sl->nonce, p->o.node_name,
				p->o.key);
		ret = udp_queue(p, idx, &m, &e->addr);
		break;
	case WP_PROBE_ICMP:
		fd = p->icmp_fd[e->addr.ss_family == AF_INET6];
		ret = fd < 0 ? -EAFNOSUPPORT :
			       probe_icmp_send(fd, &e->addr, sl->icmp_id, sl->icmp_seq, sl->nonce);
		break;
	case WP_PROBE_HTTP: {
		struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN,
					  .data.u64 = EV_TAG(EV_HTTP, idx) };

		fd = probe_http_connect(&e->addr, p->o.port);
		if (fd < 0) {
			ret = fd;
			break;
		}
		sl->http_fd = fd;
		sl->http_sent = false;
		sl->http_len = 0;
		if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev))
			ret = -errno;
		break;
	}
	}
	e->probes_sent++;
	e->ka.inflight = true;
	e->probe_tx_mark = e->bpf.tx_packets;
	e->probe_check = !ret;
	if (sl->deadline_ns < p->earliest_deadline_ns || !p->earliest_deadline_ns)
		p->earliest_deadline_ns = sl->deadline_ns;
	if (ret) /* the send itself failed (no route, ...): the probe failed now */
		send_failed(p, idx, -ret, now);
}

void prober_send_trial(struct prober *p, int idx, const struct lt_msg *m)
{
	struct wp_trial_body b = {
		.kind = (__u8)m->type,
		.flags = m->receiver_tests ? WP_TRIAL_F_RECEIVER_TESTS : 0,
		.id = htonl(m->id),
		.gap_ms = htonl(m->gap_ms),
	};
	struct sockaddr_storage dst;
	struct wp_probe_msg msg;
	socklen_t len;

	_Static_assert(sizeof(b) == WP_PROBE_NONCE_LEN, "the trial body takes the nonce's place");
	probe_msg_build(&msg, WP_PROBE_TRIAL, ++p->next_counter, (const __u8 *)&b, p->o.node_name,
			p->o.key);
	len = udp_target(p, &p->peers->e[idx].addr, &dst);
	if (sendto(p->udp_fd, &msg, sizeof(msg), 0, (struct sockaddr *)&dst, len) == sizeof(msg))
		p->trial_msgs_out++;
	else
		p->send_errors++;
}

void prober_on_http(struct prober *p, int idx, __u32 events, __u64 now)
{
	struct probe_slot *sl;
	char req[160];
	ssize_t n;
	int code;

	if (idx >= p->peers->n || p->slots[idx].http_fd < 0)
		return;
	sl = &p->slots[idx];
	if (events & EPOLLERR) {
		probe_done(p, idx, false, now);
		return;
	}
	if (!sl->http_sent && (events & EPOLLOUT)) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_TAG(EV_HTTP, idx) };
		int len = snprintf(req, sizeof(req),
				   "GET /ping HTTP/1.1\r\nHost: %s\r\nUser-Agent: warmpath/%s\r\n"
				   "Connection: close\r\n\r\n",
				   p->peers->e[idx].name, WARMPATH_VERSION);

		if (send(sl->http_fd, req, len, MSG_NOSIGNAL) != len) {
			probe_done(p, idx, false, now);
			return;
		}
		sl->http_sent = true;
		epoll_ctl(p->epfd, EPOLL_CTL_MOD, sl->http_fd, &ev);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP)))
		return;
	n = recv(sl->http_fd, sl->http_buf + sl->http_len, sizeof(sl->http_buf) - sl->http_len, 0);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		probe_done(p, idx, false, now);
		return;
	}
	sl->http_len += n;
	code = probe_http_status(sl->http_buf, sl->http_len);
	if (code >= 0)
		probe_done(p, idx, code == 200, now);
	else if (sl->http_len == sizeof(sl->http_buf))
		probe_done(p, idx, false, now); /* not HTTP */
}

void prober_expire(struct prober *p, __u64 now)
{
	__u64 earliest = 0;

	if (!p->earliest_deadline_ns || now < p->earliest_deadline_ns)
		return;
	for (int i = 0; i < p->peers->n; i++) {
		const struct probe_slot *sl = &p->slots[i];

		if (!p->peers->e[i].ka.inflight)
			continue;
		if (sl->deadline_ns <= now)
			probe_done(p, i, false, now);
		else if (!earliest || sl->deadline_ns < earliest)
			earliest = sl->deadline_ns;
	}
	p->earliest_deadline_ns = earliest;
}

void prober_emit_metrics(const struct prober *p, struct prom_buf *b)
{
	static const char *const drop_names[RESP_MAX] = { "malformed",	 "unknown_source",
							  "bad_port",	 "unauthenticated",
							  "bad_mac",	 "replayed",
							  "rate_limited" };
	static const char *const reject_names[REPLY_MAX] = { "unauthenticated", "bad_mac",
							     "wrong_source", "unmatched" };

	prom_family(b, "warmpath_probe_responder_answered_total", PROM_COUNTER,
		    "Probe requests from peers answered");
	prom_sample_u64(b, "warmpath_probe_responder_answered_total", NULL, p->resp_answered);
	prom_family(b, "warmpath_probe_responder_dropped_total", PROM_COUNTER,
		    "Datagrams at the probe port not answered, by reason");
	for (int r = 0; r < RESP_MAX; r++) {
		const char *l[] = { "reason", drop_names[r], NULL };

		prom_sample_u64(b, "warmpath_probe_responder_dropped_total", l, p->resp_dropped[r]);
	}
	prom_family(b, "warmpath_probe_responder_v1_answered_total", PROM_COUNTER,
		    "Of the requests answered: v1 (unauthenticated) requests of agents not yet "
		    "updated; answered only without --probe-key-file");
	prom_sample_u64(b, "warmpath_probe_responder_v1_answered_total", NULL, p->resp_v1_answered);
	prom_family(b, "warmpath_probe_replies_rejected_total", PROM_COUNTER,
		    "Replies not taken as the answer to a probe, by reason");
	for (int r = 0; r < REPLY_MAX; r++) {
		const char *l[] = { "reason", reject_names[r], NULL };

		prom_sample_u64(b, "warmpath_probe_replies_rejected_total", l,
				p->reply_rejected[r]);
	}
	prom_family(
		b, "warmpath_probe_authenticated", PROM_GAUGE,
		"1 when probes and replies carry a MAC with the cluster key (--probe-key-file)");
	prom_sample(b, "warmpath_probe_authenticated", NULL, p->o.key && p->o.key->len ? 1 : 0);
	{
		__u64 bypassed = 0;

		for (int i = 0; i < p->peers->n; i++)
			bypassed += p->peers->e[i].probes_bypassed;
		prom_family(b, "warmpath_probes_bypassed_total", PROM_COUNTER,
			    "Probes sent that crossed no watched device (the peer's packet "
			    "counters did not move): they keep nothing warm");
		prom_sample_u64(b, "warmpath_probes_bypassed_total", NULL, bypassed);
	}
	prom_family(b, "warmpath_probe_send_errors_total", PROM_COUNTER,
		    "Probes whose send failed locally (no route, refused)");
	prom_sample_u64(b, "warmpath_probe_send_errors_total", NULL, p->send_errors);
}
