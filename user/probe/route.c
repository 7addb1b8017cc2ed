// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include "nl.h"
#include "route.h"

int route_describe(const struct sockaddr_storage *dst, char *out, size_t len)
{
	int family = dst->ss_family;
	const void *addr = family == AF_INET ?
				   (const void *)&((const struct sockaddr_in *)dst)->sin_addr :
				   (const void *)&((const struct sockaddr_in6 *)dst)->sin6_addr;
	char ifname[IF_NAMESIZE] = "?", gw[INET6_ADDRSTRLEN] = "", src[INET6_ADDRSTRLEN] = "";
	struct wp_route r;
	int err;

	err = wp_route_get(family, addr, &r);
	if (err) {
		snprintf(out, len, "no route (%s)", strerror(-err));
		return err;
	}
	if (r.oif)
		if_indextoname(r.oif, ifname);
	if (r.has_gateway)
		inet_ntop(family, r.gateway, gw, sizeof(gw));
	if (r.has_prefsrc)
		inet_ntop(family, r.prefsrc, src, sizeof(src));
	snprintf(out, len, "dev %s%s%s%s%s", ifname, gw[0] ? " via " : "", gw,
		 src[0] ? " src " : "", src);
	return 0;
}
