/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One netlink request and its whole answer: a dump (or a single reply) read
 * until NLMSG_DONE, every message handed to a callback. The rtnetlink link,
 * route and tc filter dumps and the generic-netlink WireGuard dump share it.
 */
#ifndef __WARMPATH_NL_H
#define __WARMPATH_NL_H

#include <stddef.h>
#include <linux/netlink.h>

/*
 * Called for every message that is neither NLMSG_DONE nor NLMSG_ERROR; a
 * negative return ends the exchange with that error, a positive one ends it
 * as done.
 */
typedef int (*wp_nl_cb)(const struct nlmsghdr *nh, void *arg);

/*
 * Opens a NETLINK_<protocol> socket, sends req (req->nlmsg_len bytes), reads
 * the answer with a receive timeout of timeout_s (never hangs a scrape or the
 * loop), closes the socket. Returns 0, or a negative errno: the socket's, or
 * the one an NLMSG_ERROR carries (an NLMSG_ERROR of 0, an acknowledgement,
 * ends it with 0).
 */
int wp_nl_request(int protocol, const struct nlmsghdr *req, int timeout_s, wp_nl_cb cb, void *arg);

/* What the kernel's FIB answers for one destination (RTM_GETROUTE). */
struct wp_route {
	int oif; /* output interface index, 0 when none */
	int family;
	unsigned char gateway[16]; /* valid when has_gateway */
	unsigned char prefsrc[16]; /* valid when has_prefsrc */
	int has_gateway, has_prefsrc;
};

/* The route to addr (4 or 16 bytes, per family): 0, or a negative errno. */
int wp_route_get(int family, const void *addr, struct wp_route *r);

#endif /* __WARMPATH_NL_H */
