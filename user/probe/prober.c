// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Probes and the responder. One UDP socket bound to the probe port both sends
 * our probes and answers the peers' (so every probe packet, either way, is
 * UDP to or from the probe port, which is how the datapath tells probe traffic
 * from workload). Every socket is non-blocking and driven by the agent's epoll
 * loop: a black-holed peer costs a timer, never a wait.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <bpf/bpf.h>
#include "agent_int.h"
#include "log.h"
#include "probe.h"

#define RESP_BATCH 256 /* datagrams handled per wake-up before yielding */

int agent_peer_by_addr(struct agent *a, const struct sockaddr_storage *ss)
{
	struct prefix_key key = { .prefixlen = 128 };
	struct prefix_val val;

	sockaddr_to_addr16(ss, key.addr);
	if (bpf_map_lookup_elem(wp_loader_map_fd(&a->ld, "prefixes"), &key, &val))
		return -1;
	if (val.peer_id >= WP_MAX_PEERS)
		return -1;
	return a->id_to_rt[val.peer_id];
}

int prober_open(struct agent *a, char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_TAG(EV_UDP, 0) };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	a->icmp_fd[0] = a->icmp_fd[1] = -1;
	a->udp_fd = probe_udp_open(a->cfg->probe_port, err, errlen);
	if (a->udp_fd < 0)
		return a->udp_fd;
	getsockname(a->udp_fd, (struct sockaddr *)&ss, &len);
	a->udp_family = ss.ss_family;
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->udp_fd, &ev))
		return -errno;
	if (a->cfg->probe == WP_PROBE_ICMP && a->cfg->mode != WP_MODE_OBSERVE) {
		for (int i = 0; i < 2; i++) {
			int family = i ? AF_INET6 : AF_INET;

			a->icmp_fd[i] = probe_icmp_open(family, err, errlen);
			if (a->icmp_fd[i] < 0) {
				/* IPv6 may be off in this namespace; IPv4 must work */
				if (!i)
					return a->icmp_fd[i];
				log_debug("%s", err);
				continue;
			}
			ev.data.u64 = EV_TAG(i ? EV_ICMP6 : EV_ICMP4, 0);
			epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->icmp_fd[i], &ev);
		}
	}
	return 0;
}

void prober_close(struct agent *a)
{
	for (int i = 0; i < a->nrt; i++)
		prober_abort(a, &a->rt[i]);
	if (a->udp_fd >= 0)
		close(a->udp_fd);
	for (int i = 0; i < 2; i++)
		if (a->icmp_fd[i] >= 0)
			close(a->icmp_fd[i]);
}

/* Drop the probe in flight without counting it (peer removed, agent exiting). */
void prober_abort(struct agent *a, struct peer_rt *rt)
{
	if (rt->http_fd >= 0) {
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, rt->http_fd, NULL);
		close(rt->http_fd);
		rt->http_fd = -1;
	}
	rt->ka.inflight = false;
}

static void probe_done(struct agent *a, struct peer_rt *rt, bool answered, __u64 now)
{
	if (rt->http_fd >= 0) {
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, rt->http_fd, NULL);
		close(rt->http_fd);
		rt->http_fd = -1;
	}
	rt->ka.inflight = false;
	if (!answered) {
		rt->probes_failed++;
		log_debug("probe to %s (%s) failed", rt->name, wp_probe_name(a->cfg->probe));
		return;
	}
	rt->probes_answered++;
	rt->last_rtt_ns = now - rt->sent_ns;
	prom_hist_observe(&rt->rtt, rt->last_rtt_ns / 1e9);
}

/* The UDP socket may be IPv6 dual-stack: IPv4 targets become ::ffff:a.b.c.d. */
static socklen_t udp_target(struct agent *a, const struct sockaddr_storage *addr,
			    struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (a->udp_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->cfg->probe_port);
		sockaddr_to_addr16(addr, s6->sin6_addr.s6_addr);
		return sizeof(*s6);
	}
	*out = *addr;
	((struct sockaddr_in *)out)->sin_port = htons(a->cfg->probe_port);
	return sizeof(struct sockaddr_in);
}

void prober_send(struct agent *a, int idx, __u64 now)
{
	struct peer_rt *rt = &a->rt[idx];
	struct sockaddr_storage dst;
	struct wp_probe_msg m;
	int ret = 0, fd;

	rt->seq = ++a->next_seq;
	rt->sent_ns = now;
	rt->deadline_ns = now + (__u64)a->cfg->probe_timeout_ms * 1000000ull;
	switch (a->cfg->probe) {
	case WP_PROBE_UDP:
		probe_msg_build(&m, WP_PROBE_REQUEST, rt->seq, (a->generation << 16) | (__u32)idx,
				now, a->cfg->node_name);
		if (sendto(a->udp_fd, &m, sizeof(m), 0, (struct sockaddr *)&dst,
			   udp_target(a, &rt->addr, &dst)) < 0)
			ret = -errno;
		break;
	case WP_PROBE_ICMP:
		fd = a->icmp_fd[rt->addr.ss_family == AF_INET6];
		ret = fd < 0 ? -EAFNOSUPPORT :
			       probe_icmp_send(fd, &rt->addr, a->cfg->probe_port, rt->seq & 0xffff);
		break;
	case WP_PROBE_HTTP: {
		struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN,
					  .data.u64 = EV_TAG(EV_HTTP, idx) };

		fd = probe_http_connect(&rt->addr, a->cfg->probe_port);
		if (fd < 0) {
			ret = fd;
			break;
		}
		rt->http_fd = fd;
		rt->http_sent = false;
		rt->http_len = 0;
		if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev))
			ret = -errno;
		break;
	}
	}
	rt->probes_sent++;
	rt->ka.inflight = true;
	if (rt->deadline_ns < a->earliest_deadline_ns || !a->earliest_deadline_ns)
		a->earliest_deadline_ns = rt->deadline_ns;
	if (ret) {
		/* the send itself failed (no route, ...): the probe failed now */
		a->probe_send_errors++;
		log_debug("probe to %s: %s", rt->name, strerror(-ret));
		probe_done(a, rt, false, now);
	}
}

/* Token bucket: the responder answers at most rate/s, bursts up to 2 s worth. */
static bool resp_allow(struct agent *a, __u64 now)
{
	double rate = 10.0 + 4.0 * a->nrt / a->cfg->keepalive_interval;

	a->resp_tokens += (now - a->resp_refill_ns) / 1e9 * rate;
	if (a->resp_tokens > 2 * rate)
		a->resp_tokens = 2 * rate;
	a->resp_refill_ns = now;
	if (a->resp_tokens < 1)
		return false;
	a->resp_tokens -= 1;
	return true;
}

static void on_reply(struct agent *a, const struct wp_probe_msg *m,
		     const struct sockaddr_storage *src, __u64 now)
{
	__u32 cookie = ntohl(m->cookie), idx = cookie & 0xffff;
	struct peer_rt *rt;
	int by_addr;

	if (cookie >> 16 != (a->generation & 0xffff) || idx >= (__u32)a->nrt) {
		/* sent before a peer reload: the peer's index changed, find it by address */
		by_addr = agent_peer_by_addr(a, src);
		if (by_addr < 0)
			return;
		idx = by_addr;
	}
	rt = &a->rt[idx];
	if (!rt->ka.inflight || a->cfg->probe != WP_PROBE_UDP || ntohl(m->seq) != rt->seq)
		return; /* late (already timed out) or duplicated */
	if (!sockaddr_same_host(src, &rt->addr) && agent_peer_by_addr(a, src) != (int)idx)
		return;
	probe_done(a, rt, true, now);
}

void prober_on_udp(struct agent *a, __u64 now)
{
	struct sockaddr_storage src;
	struct wp_probe_msg m;
	char buf[512];

	for (int n = 0; n < RESP_BATCH; n++) {
		socklen_t slen = sizeof(src);
		ssize_t len =
			recvfrom(a->udp_fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &slen);

		if (len < 0)
			return; /* EAGAIN: drained */
		if (probe_msg_parse(buf, len, &m) != WP_PROBE_OK) {
			a->resp_dropped[RESP_MALFORMED]++;
			continue;
		}
		if (m.type == WP_PROBE_REPLY) {
			on_reply(a, &m, &src, now);
			continue;
		}
		/* a request: answer known peers only, rate-limited, with the same size */
		if (agent_peer_by_addr(a, &src) < 0) {
			a->resp_dropped[RESP_UNKNOWN_SOURCE]++;
			continue;
		}
		if (!resp_allow(a, now)) {
			a->resp_dropped[RESP_RATE_LIMITED]++;
			continue;
		}
		m.type = WP_PROBE_REPLY;
		memset(m.sender, 0, sizeof(m.sender));
		memcpy(m.sender, a->cfg->node_name,
		       strnlen(a->cfg->node_name, sizeof(m.sender) - 1));
		if (sendto(a->udp_fd, &m, sizeof(m), 0, (struct sockaddr *)&src, slen) == sizeof(m))
			a->resp_answered++;
	}
}

void prober_on_icmp(struct agent *a, int family, __u64 now)
{
	int fd = a->icmp_fd[family == AF_INET6];
	struct sockaddr_storage src;
	char buf[512];
	__u16 id, seq;

	for (int n = 0; n < RESP_BATCH; n++) {
		socklen_t slen = sizeof(src);
		ssize_t len = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &slen);
		int idx;

		if (len < 0)
			return;
		if (!probe_icmp_parse_reply(family, buf, len, &id, &seq) ||
		    id != a->cfg->probe_port)
			continue;
		idx = agent_peer_by_addr(a, &src);
		if (idx < 0 || !a->rt[idx].ka.inflight || seq != (a->rt[idx].seq & 0xffff))
			continue;
		probe_done(a, &a->rt[idx], true, now);
	}
}

void prober_on_http(struct agent *a, int idx, __u32 events, __u64 now)
{
	struct peer_rt *rt;
	char req[160];
	ssize_t n;
	int code;

	if (idx >= a->nrt || a->rt[idx].http_fd < 0)
		return;
	rt = &a->rt[idx];
	if (events & EPOLLERR) {
		probe_done(a, rt, false, now);
		return;
	}
	if (!rt->http_sent && (events & EPOLLOUT)) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_TAG(EV_HTTP, idx) };
		int len = snprintf(req, sizeof(req),
				   "GET /ping HTTP/1.1\r\nHost: %s\r\nUser-Agent: warmpath/%s\r\n"
				   "Connection: close\r\n\r\n",
				   rt->name, WARMPATH_VERSION);

		if (send(rt->http_fd, req, len, MSG_NOSIGNAL) != len) {
			probe_done(a, rt, false, now);
			return;
		}
		rt->http_sent = true;
		epoll_ctl(a->epfd, EPOLL_CTL_MOD, rt->http_fd, &ev);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP)))
		return;
	n = recv(rt->http_fd, rt->http_buf + rt->http_len, sizeof(rt->http_buf) - rt->http_len, 0);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		probe_done(a, rt, false, now);
		return;
	}
	rt->http_len += n;
	code = probe_http_status(rt->http_buf, rt->http_len);
	if (code >= 0)
		probe_done(a, rt, code == 200, now);
	else if (rt->http_len == sizeof(rt->http_buf))
		probe_done(a, rt, false, now); /* not HTTP */
}

void prober_expire(struct agent *a, __u64 now)
{
	__u64 earliest = 0;

	if (!a->earliest_deadline_ns || now < a->earliest_deadline_ns)
		return;
	for (int i = 0; i < a->nrt; i++) {
		struct peer_rt *rt = &a->rt[i];

		if (!rt->ka.inflight)
			continue;
		if (rt->deadline_ns <= now)
			probe_done(a, rt, false, now);
		else if (!earliest || rt->deadline_ns < earliest)
			earliest = rt->deadline_ns;
	}
	a->earliest_deadline_ns = earliest;
}
