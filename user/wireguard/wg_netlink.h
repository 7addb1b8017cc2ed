/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel WireGuard client: the peers of a `wireguard` link read over
 * generic netlink (family "wireguard", WG_CMD_GET_DEVICE dump), into the same
 * struct wg_device the wireguard-go UAPI client fills (wg_uapi.h), so the
 * metrics, /peers and `warmpath status` show both alike. Raw netlink
 * sockets, no library; needs CAP_NET_ADMIN.
 *
 * The dump parser is a pure function over a buffer (unit-tested with dumps
 * built byte by byte); a peer whose allowed IPs do not fit one message
 * continues in the next (its public key again, then more allowed IPs): peers
 * are merged by public key.
 *
 *	struct wg_device dev;
 *	struct wg_nl_dump d;
 *	wg_nl_dump_init(&d, &dev);
 *	for each received buffer: ret = wg_nl_dump_feed(&d, buf, len, err, errlen);
 *		(1: NLMSG_DONE seen, 0: more to come, -errno: malformed or an error)
 *	wg_nl_dump_finish(&d);   (frees the merge index; dev stays)
 */
#ifndef __WARMPATH_WG_NETLINK_H
#define __WARMPATH_WG_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "wg_uapi.h"

#define WG_NETLINK_TIMEOUT_MS 1000 /* the whole dump of one device */

/* The state of one device's dump while its messages arrive. */
struct wg_nl_dump {
	struct wg_device *dev;
	int cap_peers;
	int *cap_allowed; /* per peer, parallel to dev->peers */
	__u16 family; /* the genl family id, to check messages against; 0: any */
	bool done;
};

void wg_nl_dump_init(struct wg_nl_dump *d, struct wg_device *dev, __u16 family);
/*
 * One buffer of netlink messages (as recv() returns them: whole messages).
 * Returns 1 once NLMSG_DONE was seen, 0 when more is expected, -EPROTO for
 * anything malformed (message in err), or the kernel's error of an
 * NLMSG_ERROR (negative errno, e.g. -ENODEV, -EOPNOTSUPP: not WireGuard).
 */
int wg_nl_dump_feed(struct wg_nl_dump *d, const void *buf, size_t len, char *err, size_t errlen);
void wg_nl_dump_finish(struct wg_nl_dump *d);

/* The id of the "wireguard" family in a CTRL_CMD_GETFAMILY reply, or -errno (-ENOENT: none). */
int wg_nl_parse_family(const void *buf, size_t len);

/*
 * The peers of the kernel WireGuard link @ifname into @dev (zeroed first;
 * free with wg_device_free; dev->err and dev->error set on failure).
 * Returns 0, -ENOENT when the kernel has no WireGuard (no genl family),
 * -ENODEV / -EOPNOTSUPP when @ifname is no WireGuard link, -EPROTO for a
 * malformed dump, other -errno.
 */
int wg_netlink_get(const char *ifname, struct wg_device *dev, char *err, size_t errlen);

#endif /* __WARMPATH_WG_NETLINK_H */
