// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel WireGuard over generic netlink, the socket: resolve the family,
 * request the dump of one device, feed what arrives to the parser
 * (wg_netlink_parse.c). See wg_netlink.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include "util.h"
#include "wg_genl.h"
#include "wg_netlink.h"

#define RECV_BUF (64 * 1024)

/* ---- the socket ---- */

/* Append attribute @type with @len bytes of @data to the message in @buf. */
static void put_attr(__u8 *buf, struct nlmsghdr *h, __u16 type, const void *data, size_t len)
{
	struct nlattr a = { .nla_len = NLA_HDRLEN + len, .nla_type = type };
	__u8 *at = buf + NLMSG_ALIGN(h->nlmsg_len);

	memcpy(at, &a, sizeof(a));
	memcpy(at + NLA_HDRLEN, data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + NLA_ALIGN(a.nla_len);
}

static int nl_request(int fd, __u16 type, __u16 flags, __u8 cmd, __u8 version, __u16 attr,
		      const char *str, __u32 seq)
{
	__u8 buf[NLMSG_HDRLEN + GENL_HDRLEN + NLA_HDRLEN + 64] = {};
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct genlmsghdr g = { .cmd = cmd, .version = version };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	h->nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN;
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = seq;
	memcpy(buf + NLMSG_HDRLEN, &g, sizeof(g));
	put_attr(buf, h, attr, str, strlen(str) + 1);
	if (sendto(fd, buf, h->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

static int recv_deadline(int fd, void *buf, size_t len, __u64 deadline)
{
	__u64 now = wp_now_ns();
	struct timeval tv;
	ssize_t n;

	if (now >= deadline)
		return -ETIMEDOUT;
	tv.tv_sec = (deadline - now) / 1000000000ull;
	tv.tv_usec = ((deadline - now) % 1000000000ull) / 1000 + 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	do
		n = recv(fd, buf, len, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	if ((size_t)n > len)
		return -EMSGSIZE;
	return n;
}

int wg_netlink_get(const char *ifname, struct wg_device *dev, char *err, size_t errlen)
{
	__u64 deadline = wp_now_ns() + WG_NETLINK_TIMEOUT_MS * 1000000ull;
	struct wg_nl_dump d;
	__u8 *buf = NULL;
	int fd = -1, ret, family, n;

	wg_nl_dump_init(&d, dev, 0);
	snprintf(dev->ifname, sizeof(dev->ifname), "%s", ifname);
	if (!*ifname || strlen(ifname) >= WP_IFNAME_LEN) {
		snprintf(err, errlen, "bad interface name '%.*s'", WP_IFNAME_LEN, ifname);
		ret = -EINVAL;
		goto out;
	}
	buf = malloc(RECV_BUF);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (!buf || fd < 0) {
		ret = buf ? -errno : -ENOMEM;
		snprintf(err, errlen, "generic netlink socket: %s", strerror(-ret));
		goto out;
	}
	/* the family id (absent: no WireGuard in this kernel) */
	ret = nl_request(fd, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, 1, CTRL_ATTR_FAMILY_NAME,
			 WG_GENL_NAME, 1);
	n = ret ? ret : recv_deadline(fd, buf, RECV_BUF, deadline);
	family = n < 0 ? n : wg_nl_parse_family(buf, n);
	if (family < 0) {
		ret = family;
		snprintf(err, errlen, "generic netlink family %s: %s", WG_GENL_NAME,
			 strerror(-ret));
		goto out;
	}
	d.family = family;
	ret = nl_request(fd, family, NLM_F_DUMP | NLM_F_ACK, WG_CMD_GET_DEVICE, WG_GENL_VERSION,
			 WGDEVICE_A_IFNAME, ifname, 2);
	while (!ret) {
		n = recv_deadline(fd, buf, RECV_BUF, deadline);
		if (n < 0) {
			ret = n;
			snprintf(err, errlen, "WireGuard netlink dump of %s: %s", ifname,
				 strerror(-n));
			break;
		}
		ret = wg_nl_dump_feed(&d, buf, n, err, errlen);
		if (ret == 1) {
			ret = 0;
			break;
		}
	}
	snprintf(dev->ifname, sizeof(dev->ifname), "%s", ifname);
out:
	wg_nl_dump_finish(&d);
	if (fd >= 0)
		close(fd);
	free(buf);
	if (ret) {
		wg_device_free(dev); /* no half a peer list */
		dev->err = ret;
		snprintf(dev->error, sizeof(dev->error), "%s", err);
	}
	return ret;
}
