/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Peer prefixes from the kernel routing table: a route through a watched
 * tunnel device whose gateway belongs to a peer makes its destination a
 * prefix of that peer (source "route"). Calico BIRD
 * (`10.244.5.0/26 via 192.168.1.5 dev tunl0 proto bird onlink`), Calico
 * VXLAN (`... via <peer's vxlan.calico address> dev vxlan.calico onlink`),
 * flannel VXLAN (`10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink`: the
 * gateway is the peer's VTEP address, inside its pod CIDR).
 *
 * The gateway is a peer's when it is inside one of the peer's prefixes (not
 * one learnt from a route; the longest wins); otherwise, on a VXLAN device,
 * when its neighbour entry's MAC has a bridge FDB entry whose remote (dst) is
 * inside one (flannel and Calico write both, so an address-only --peer works).
 *
 * One agent a process: the netlink socket (route and neighbour notifications)
 * and the last dump are this file's.
 *
 *	routes_open(epfd, tag)           once; EPOLLIN on the tag: routes_changed()
 *	agent_install_peers():           routes_sync_peers(&set, ifaces_fd)
 *	agent loop:                      if (routes_changed(ifaces_fd, readable)) install again
 */
#ifndef __WARMPATH_ROUTES_H
#define __WARMPATH_ROUTES_H

#include <stdbool.h>
#include <linux/types.h>
#include "peers.h"

struct wp_route {
	struct wp_prefix dst;
	__u8 gw[16]; /* IPv4-mapped for IPv4 */
	__u32 ifindex;
	bool has_underlay; /* resolved through neighbour + FDB (VXLAN) */
	__u8 underlay[16];
};

/*
 * Add the destinations of @routes to the peers their gateway belongs to
 * (see above). Skips prefixes some peer already has, too broad ones (/8, /16
 * minimums) and host routes to a peer's own address. Returns the number added;
 * @dropped counts those a full peer (WP_MAX_PEER_PREFIXES) could not take.
 */
int routes_add_prefixes(struct wp_peer_set *set, const struct wp_route *routes, int n,
			int *dropped);

/* Open the notification socket, add it to @epfd with @tag. Returns 0 or -errno. */
int routes_open(int epfd, __u64 tag);
void routes_close(void);
/*
 * Dump the routes (and neighbours, FDB) of the interfaces in the `ifaces`
 * map into a fresh array (*out, caller frees). Returns the count or -errno.
 */
int routes_dump(int ifaces_fd, struct wp_route **out);
/* Apply the last dump (dumping first if there is none) to @set. Returns prefixes added. */
int routes_sync_peers(struct wp_peer_set *set, int ifaces_fd);
/*
 * Drain the notifications; when one concerned a watched interface (or the
 * watched interfaces changed), dump again and say whether the routes differ
 * from those last applied. @event: the socket was readable (otherwise this
 * does its checks at most once a second).
 */
bool routes_changed(int ifaces_fd, bool event);

#endif /* __WARMPATH_ROUTES_H */
