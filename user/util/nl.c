// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <string.h>
#include <linux/rtnetlink.h>
#include "nl.h"

#define NL_BUF_BYTES 32768

int wp_nl_request(int protocol, const struct nlmsghdr *req, int timeout_s, wp_nl_cb cb, void *arg)
{
	struct timeval timeout = { .tv_sec = timeout_s };
	bool done = false;
	int fd, err = 0;
	char *buf;

	buf = malloc(NL_BUF_BYTES);
	if (!buf)
		return -ENOMEM;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
	if (fd < 0) {
		err = -errno;
		free(buf);
		return err;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	if (send(fd, req, req->nlmsg_len, 0) < 0) {
		err = -errno;
		goto out;
	}
	while (!done) {
		ssize_t len = recv(fd, buf, NL_BUF_BYTES, 0);
		struct nlmsghdr *nh;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (len == 0)
			break;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
			int rc;

			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				/* error 0 is an acknowledgement: the exchange is over */
				err = e->error;
				goto out;
			}
			rc = cb(nh, arg);
			if (rc < 0) {
				err = rc;
				goto out;
			}
			if (rc > 0) {
				done = true;
				break;
			}
		}
	}
out:
	close(fd);
	free(buf);
	return err;
}

static int route_parse(const struct nlmsghdr *nh, void *arg)
{
	struct wp_route *r = arg;
	unsigned int alen = r->family == AF_INET ? 4 : 16;
	const struct rtattr *a;
	int left;

	if (nh->nlmsg_type != RTM_NEWROUTE || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
		return 0;
	left = RTM_PAYLOAD(nh);
	for (a = RTM_RTA(NLMSG_DATA(nh)); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
		if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == sizeof(__u32)) {
			__u32 oif;

			memcpy(&oif, RTA_DATA(a), sizeof(oif));
			r->oif = (int)oif;
		} else if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == alen) {
			memcpy(r->gateway, RTA_DATA(a), alen);
			r->has_gateway = 1;
		} else if (a->rta_type == RTA_PREFSRC && RTA_PAYLOAD(a) == alen) {
			memcpy(r->prefsrc, RTA_DATA(a), alen);
			r->has_prefsrc = 1;
		}
	}
	return 1; /* one answer: done */
}

int wp_route_get(int family, const void *addr, struct wp_route *r)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[32];
	} req = {};
	size_t alen = family == AF_INET ? 4 : 16;
	struct rtattr *rta;

	memset(r, 0, sizeof(*r));
	r->family = family;
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.rt.rtm_family = family;
	req.rt.rtm_dst_len = alen * 8;
	rta = (struct rtattr *)req.attrs;
	rta->rta_type = RTA_DST;
	rta->rta_len = RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), addr, alen);
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rt)) + RTA_ALIGN(rta->rta_len);
	return wp_nl_request(NETLINK_ROUTE, &req.nh, 1, route_parse, r);
}
