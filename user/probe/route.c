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
#include "route.h"

int route_describe(const struct sockaddr_storage *dst, char *out, size_t len)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[64];
	} req = {};
	struct timeval tv = { .tv_sec = 1 };
	int family = dst->ss_family, alen = family == AF_INET ? 4 : 16;
	const void *addr = family == AF_INET ?
				   (const void *)&((const struct sockaddr_in *)dst)->sin_addr :
				   (const void *)&((const struct sockaddr_in6 *)dst)->sin6_addr;
	char buf[4096], ifname[IF_NAMESIZE] = "?", gw[INET6_ADDRSTRLEN] = "",
			src[INET6_ADDRSTRLEN] = "";
	struct rtattr *rta;
	struct nlmsghdr *nh;
	ssize_t n;
	int fd, rlen, ret = -EIO;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) {
		snprintf(out, len, "route lookup: %s", strerror(errno));
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.rt.rtm_family = family;
	req.rt.rtm_dst_len = alen * 8;
	rta = (struct rtattr *)req.attrs;
	rta->rta_type = RTA_DST;
	rta->rta_len = RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), addr, alen);
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rt)) + RTA_ALIGN(rta->rta_len);
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0 || (n = recv(fd, buf, sizeof(buf), 0)) < 0) {
		ret = -errno;
		snprintf(out, len, "route lookup: %s", strerror(errno));
		goto cleanup;
	}
	nh = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(nh, n) || nh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nh);

		ret = NLMSG_OK(nh, n) && e->error ? e->error : -EIO;
		snprintf(out, len, "no route (%s)", strerror(-ret));
		goto cleanup;
	}
	rlen = RTM_PAYLOAD(nh);
	for (rta = RTM_RTA(NLMSG_DATA(nh)); RTA_OK(rta, rlen); rta = RTA_NEXT(rta, rlen)) {
		if (rta->rta_type == RTA_OIF && RTA_PAYLOAD(rta) >= 4)
			if_indextoname(*(int *)RTA_DATA(rta), ifname);
		if (rta->rta_type == RTA_GATEWAY && RTA_PAYLOAD(rta) >= (unsigned int)alen)
			inet_ntop(family, RTA_DATA(rta), gw, sizeof(gw));
		if (rta->rta_type == RTA_PREFSRC && RTA_PAYLOAD(rta) >= (unsigned int)alen)
			inet_ntop(family, RTA_DATA(rta), src, sizeof(src));
	}
	snprintf(out, len, "dev %s%s%s%s%s", ifname, gw[0] ? " via " : "", gw,
		 src[0] ? " src " : "", src);
	ret = 0;
cleanup:
	close(fd);
	return ret;
}
