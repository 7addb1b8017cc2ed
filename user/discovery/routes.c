// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Peer prefixes from the routing table (routes.h): an RTM_GETROUTE dump
 * (plus RTM_GETNEIGH for the neighbour and bridge FDB entries of VXLAN
 * devices) of the watched interfaces, and RTNLGRP_IPV4_ROUTE, _IPV6_ROUTE and
 * _NEIGH notifications so that a new IPAM block is picked up at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include "log.h"
#include "routes.h"
#include "util.h"

#define MAX_WATCHED 256
#define DUMP_MIN_GAP_NS (100ull * 1000000ull)

static int nl_fd = -1;
static bool dirty = true;
static struct wp_route *last; /* the last dump */
static int nlast = -1; /* -1: never dumped */
static __u64 applied_fp, last_dump_ns, dumped_ifs_fp;

/* --- matching a gateway to a peer --------------------------------------- */

struct owner {
	struct wp_prefix p;
	int peer;
};

static int owner_cmp(const void *a, const void *b)
{
	const struct owner *x = a, *y = b;
	int c = memcmp(x->p.addr, y->p.addr, 16);

	return c ? c : (int)x->p.len - (int)y->p.len;
}

static void mask(__u8 out[16], const __u8 in[16], __u32 len)
{
	memcpy(out, in, 16);
	for (__u32 bit = len; bit < 128; bit++)
		out[bit / 8] &= ~(0x80 >> (bit % 8));
}

/* The peer whose (non-route) prefixes hold @addr, the longest first; -1: none. */
static int owner_of(const struct owner *o, int n, const bool *lens, const __u8 addr[16])
{
	for (int len = 128; len >= 0; len--) {
		struct owner key = { .p.len = len };
		struct owner *hit;

		if (!lens[len])
			continue;
		mask(key.p.addr, addr, len);
		hit = bsearch(&key, o, n, sizeof(*o), owner_cmp);
		if (hit)
			return hit->peer;
	}
	return -1;
}

int routes_add_prefixes(struct wp_peer_set *set, const struct wp_route *routes, int n, int *dropped)
{
	struct owner *o;
	bool lens[129] = {};
	int no = 0, added = 0;

	*dropped = 0;
	for (int i = 0; i < set->n; i++)
		no += set->peers[i].nprefixes;
	o = calloc(no ? no : 1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	no = 0;
	for (int i = 0; i < set->n; i++)
		for (int j = 0; j < set->peers[i].nprefixes; j++) {
			o[no].p = set->peers[i].prefixes[j];
			o[no].p.src = 0;
			o[no++].peer = i;
			lens[set->peers[i].prefixes[j].len] = true;
		}
	qsort(o, no, sizeof(*o), owner_cmp);
	for (int r = 0; r < n; r++) {
		const struct wp_route *rt = &routes[r];
		struct owner key = { .p = rt->dst };
		int peer = owner_of(o, no, lens, rt->gw);
		struct wp_peer *p;

		if (peer < 0 && rt->has_underlay)
			peer = owner_of(o, no, lens, rt->underlay);
		if (peer < 0 || peer_prefix_too_broad(&rt->dst))
			continue;
		key.p.src = 0;
		if (bsearch(&key, o, no, sizeof(*o), owner_cmp))
			continue; /* a prefix some peer has (its own, or another's) */
		p = &set->peers[peer];
		for (int j = 0; j < p->nprefixes; j++)
			if (p->prefixes[j].len == rt->dst.len &&
			    !memcmp(p->prefixes[j].addr, rt->dst.addr, 16))
				goto next; /* two routes, one prefix */
		if (p->nprefixes == WP_MAX_PEER_PREFIXES) {
			(*dropped)++;
			continue;
		}
		p->prefixes[p->nprefixes] = rt->dst;
		p->prefixes[p->nprefixes++].src = WP_SRC_ROUTE;
		added++;
next:;
	}
	free(o);
	return added;
}

/* --- rtnetlink ------------------------------------------------------------ */

/*
 * The watched tunnels: the `ifaces` map's interfaces but the underlay (a route
 * through eth0 via a router that happens to be a peer's address is no peer's).
 */
static int watched_ifindexes(int ifaces_fd, __u32 *v)
{
	__u32 key, next;
	int n = 0;

	for (int more = !bpf_map_get_next_key(ifaces_fd, NULL, &next); more && n < MAX_WATCHED;
	     more = !bpf_map_get_next_key(ifaces_fd, &key, &next)) {
		struct iface_cfg ic;

		key = next;
		if (!bpf_map_lookup_elem(ifaces_fd, &key, &ic) && !(ic.flags & WP_IF_UNDERLAY))
			v[n++] = key;
	}
	return n;
}

static bool is_watched(const __u32 *v, int n, __u32 ifindex)
{
	for (int i = 0; i < n; i++)
		if (v[i] == ifindex)
			return true;
	return false;
}

/* An address attribute (4 or 16 bytes) to the IPv4-mapped form. */
static bool addr_attr(const struct rtattr *a, __u8 out[16])
{
	memset(out, 0, 16);
	if (RTA_PAYLOAD(a) == 4) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, RTA_DATA(a), 4);
		return true;
	}
	if (RTA_PAYLOAD(a) == 16) {
		memcpy(out, RTA_DATA(a), 16);
		return true;
	}
	return false;
}

struct neigh {
	__u32 ifindex;
	__u8 addr[16]; /* IP (inet) or remote (bridge FDB dst) */
	__u8 mac[ETH_ALEN];
	bool fdb;
};

struct dump {
	const __u32 *watched;
	int nwatched;
	struct wp_route *r;
	int nr, capr;
	struct neigh *ne;
	int nn, capn;
};

static int grow(void **v, int *cap, int n, size_t size)
{
	void *nv;
	int ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	nv = realloc(*v, ncap * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

static int on_route(struct dump *d, struct nlmsghdr *nh)
{
	struct rtmsg *rtm = NLMSG_DATA(nh);
	int len = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*rtm));
	struct wp_route rt = {};
	bool has_gw = false, has_dst = false;
	struct rtattr *a;

	if (len < 0 || (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
	    rtm->rtm_type != RTN_UNICAST || !rtm->rtm_dst_len)
		return 0;
	for (a = RTM_RTA(rtm); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_DST)
			has_dst = addr_attr(a, rt.dst.addr);
		else if (a->rta_type == RTA_GATEWAY)
			has_gw = addr_attr(a, rt.gw);
		else if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4)
			memcpy(&rt.ifindex, RTA_DATA(a), 4);
	}
	if (!has_dst || !has_gw || !is_watched(d->watched, d->nwatched, rt.ifindex))
		return 0;
	rt.dst.len = rtm->rtm_dst_len + (rtm->rtm_family == AF_INET ? 96 : 0);
	if (rt.dst.len > 128)
		return 0;
	mask(rt.dst.addr, rt.dst.addr, rt.dst.len);
	if (grow((void **)&d->r, &d->capr, d->nr, sizeof(*d->r)))
		return -ENOMEM;
	d->r[d->nr++] = rt;
	return 0;
}

static int on_neigh(struct dump *d, struct nlmsghdr *nh)
{
	struct ndmsg *nd = NLMSG_DATA(nh);
	int len = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*nd));
	struct neigh e = { .ifindex = nd->ndm_ifindex, .fdb = nd->ndm_family == AF_BRIDGE };
	bool has_addr = false, has_mac = false;
	struct rtattr *a;

	if (len < 0 || !is_watched(d->watched, d->nwatched, nd->ndm_ifindex))
		return 0;
	for (a = (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof(*nd))); RTA_OK(a, len);
	     a = RTA_NEXT(a, len)) {
		if (a->rta_type == NDA_DST)
			has_addr = addr_attr(a, e.addr);
		else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == ETH_ALEN)
			has_mac = !!memcpy(e.mac, RTA_DATA(a), ETH_ALEN);
	}
	if (!has_addr || !has_mac)
		return 0;
	if (grow((void **)&d->ne, &d->capn, d->nn, sizeof(*d->ne)))
		return -ENOMEM;
	d->ne[d->nn++] = e;
	return 0;
}

/* One dump request (RTM_GETROUTE or RTM_GETNEIGH of @family) on a socket of its own. */
static int nl_dump(struct dump *d, int type, int family)
{
	struct {
		struct nlmsghdr nh;
		union {
			struct rtmsg rt;
			struct ndmsg nd;
		};
	} req = {
		.nh.nlmsg_len = NLMSG_LENGTH(type == RTM_GETROUTE ? sizeof(struct rtmsg) :
								    sizeof(struct ndmsg)),
		.nh.nlmsg_type = type,
		.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		.nh.nlmsg_seq = 1,
	};
	static char buf[65536];
	struct timeval tv = { .tv_sec = 2 };
	int fd, ret = 0;

	if (type == RTM_GETROUTE)
		req.rt.rtm_family = family;
	else
		req.nd.ndm_family = family;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh;

		if (n < 0) {
			ret = errno == EINTR ? 0 : -errno;
			if (ret)
				goto out;
			continue;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_DONE)
				goto out;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				ret = e->error;
				goto out;
			}
			ret = type == RTM_GETROUTE ? on_route(d, nh) : on_neigh(d, nh);
			if (ret)
				goto out;
		}
	}
out:
	close(fd);
	return ret;
}

static int route_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct wp_route));
}

int routes_dump(int ifaces_fd, struct wp_route **out)
{
	__u32 watched[MAX_WATCHED];
	struct dump d = { .watched = watched };
	int ret;

	*out = NULL;
	d.nwatched = watched_ifindexes(ifaces_fd, watched);
	if (!d.nwatched)
		return 0;
	ret = nl_dump(&d, RTM_GETROUTE, AF_UNSPEC);
	if (!ret && d.nr) {
		/* VXLAN: gateway -> neighbour MAC -> FDB remote */
		if (nl_dump(&d, RTM_GETNEIGH, AF_INET) || nl_dump(&d, RTM_GETNEIGH, AF_INET6) ||
		    nl_dump(&d, RTM_GETNEIGH, AF_BRIDGE))
			log_debug("routes: neighbour dump failed: gateways by address only");
	}
	for (int r = 0; !ret && r < d.nr; r++) {
		struct wp_route *rt = &d.r[r];

		for (int i = 0; i < d.nn && !rt->has_underlay; i++) {
			if (d.ne[i].fdb || d.ne[i].ifindex != rt->ifindex ||
			    memcmp(d.ne[i].addr, rt->gw, 16))
				continue;
			for (int j = 0; j < d.nn; j++)
				if (d.ne[j].fdb && d.ne[j].ifindex == rt->ifindex &&
				    !memcmp(d.ne[j].mac, d.ne[i].mac, ETH_ALEN)) {
					memcpy(rt->underlay, d.ne[j].addr, 16);
					rt->has_underlay = true;
					break;
				}
		}
	}
	free(d.ne);
	if (ret) {
		free(d.r);
		return ret;
	}
	qsort(d.r, d.nr, sizeof(*d.r), route_cmp);
	*out = d.r;
	return d.nr;
}

static __u64 fingerprint(const struct wp_route *r, int n)
{
	__u64 h = 1469598103934665603ull;
	const unsigned char *b = (const unsigned char *)r;

	for (size_t i = 0; i < n * sizeof(*r); i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h ^ (__u64)n;
}

static __u64 fingerprint_ifs(const __u32 *v, int n)
{
	__u64 x = 0;

	for (int i = 0; i < n; i++)
		x += (v[i] + 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull; /* order-free */
	return x ^ (__u64)n;
}

static void redump(int ifaces_fd)
{
	__u32 watched[MAX_WATCHED];

	dumped_ifs_fp = fingerprint_ifs(watched, watched_ifindexes(ifaces_fd, watched));

	struct wp_route *r;
	int n;

	n = routes_dump(ifaces_fd, &r);
	last_dump_ns = wp_now_ns();
	if (n < 0) {
		log_warn("routes: dump failed: %s (routes kept)", strerror(-n));
		return;
	}
	free(last);
	last = r;
	nlast = n;
	dirty = false;
}

int routes_sync_peers(struct wp_peer_set *set, int ifaces_fd)
{
	int added, dropped;

	if (nlast < 0 || dirty)
		redump(ifaces_fd);
	if (nlast <= 0) {
		applied_fp = fingerprint(NULL, 0);
		return 0;
	}
	added = routes_add_prefixes(set, last, nlast, &dropped);
	applied_fp = fingerprint(last, nlast);
	if (added > 0)
		log_info("routes: %d route(s) through watched tunnels added to peers' prefixes",
			 added);
	if (dropped)
		log_warn("routes: %d route(s) not added: their peer has %d prefixes", dropped,
			 WP_MAX_PEER_PREFIXES);
	return added;
}

int routes_open(int epfd, __u64 tag)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups =
					  RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_NEIGH };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (nl_fd < 0)
		return -errno;
	if (bind(nl_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, nl_fd, &ev)) {
		int ret = -errno;

		close(nl_fd);
		nl_fd = -1;
		return ret;
	}
	return 0;
}

void routes_close(void)
{
	if (nl_fd >= 0)
		close(nl_fd);
	nl_fd = -1;
	free(last);
	last = NULL;
	nlast = -1;
}

/* Does a notification batch touch a watched interface (the ARP churn of eth0 does not)? */
static bool concerns_watched(char *buf, ssize_t n, const __u32 *watched, int nw)
{
	for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
	     nh = NLMSG_NEXT(nh, n)) {
		if (nh->nlmsg_type == RTM_NEWNEIGH || nh->nlmsg_type == RTM_DELNEIGH) {
			struct ndmsg *nd = NLMSG_DATA(nh);

			if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(*nd)) &&
			    is_watched(watched, nw, nd->ndm_ifindex))
				return true;
		} else if (nh->nlmsg_type == RTM_NEWROUTE || nh->nlmsg_type == RTM_DELROUTE) {
			struct rtmsg *rtm = NLMSG_DATA(nh);
			int len = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*rtm));

			for (struct rtattr *a = RTM_RTA(rtm); len > 0 && RTA_OK(a, len);
			     a = RTA_NEXT(a, len))
				if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4 &&
				    is_watched(watched, nw, *(__u32 *)RTA_DATA(a)))
					return true;
		}
	}
	return false;
}

bool routes_changed(int ifaces_fd, bool event)
{
	static char buf[65536];
	static __u64 last_check_ns;
	__u32 watched[MAX_WATCHED];
	__u64 now = wp_now_ns();
	int nw;
	ssize_t n;

	if (nl_fd < 0)
		return false;
	/* without a notification: once a second (attached interfaces, a throttled dump) */
	if (!event && !dirty && now - last_check_ns < 1000000000ull)
		return false;
	last_check_ns = now;
	nw = watched_ifindexes(ifaces_fd, watched);
	if (fingerprint_ifs(watched, nw) != dumped_ifs_fp)
		dirty = true; /* an interface attached or gone */
	while ((n = recv(nl_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && !dirty)
			dirty = concerns_watched(buf, n, watched, nw);
	if (n < 0 && errno == ENOBUFS)
		dirty = true; /* notifications lost: dump */
	if (!dirty || wp_now_ns() - last_dump_ns < DUMP_MIN_GAP_NS)
		return false;
	redump(ifaces_fd);
	if (dirty || fingerprint(last, nlast) == applied_fp)
		return false;
	log_info("routes: %d route(s) through watched tunnels now: peers' prefixes follow", nlast);
	return true;
}
