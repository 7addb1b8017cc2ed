// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Link discovery over rtnetlink (RTM_GETLINK dump). Works in whatever network
 * namespace the agent runs in, unlike /sys/class/net which follows the sysfs
 * mount. wireguard-go devices are plain tun devices; they are recognised by the
 * UAPI socket wireguard-go creates at /var/run/wireguard/<ifname>.sock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <linux/if_arp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include "links.h"

#define WG_UAPI_DIR "/var/run/wireguard"

static void parse_linkinfo(struct rtattr *info, struct link_desc *l)
{
	int len = RTA_PAYLOAD(info);
	struct rtattr *a;

	for (a = RTA_DATA(info); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_INFO_KIND) {
			size_t n = RTA_PAYLOAD(a);

			if (n >= sizeof(l->kind))
				n = sizeof(l->kind) - 1;
			memcpy(l->kind, RTA_DATA(a), n);
			l->kind[n] = '\0';
		}
	}
}

static int parse_link(struct nlmsghdr *nh, struct link_desc *l)
{
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	int len = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi));
	struct rtattr *a;
	char path[128];
	struct stat st;

	if (len < 0)
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	l->hw_type = ifi->ifi_type;
	l->l2 = ifi->ifi_type == ARPHRD_ETHER;
	for (a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME) {
			size_t n = RTA_PAYLOAD(a);

			if (n > sizeof(l->name))
				n = sizeof(l->name);
			memcpy(l->name, RTA_DATA(a), n);
			l->name[sizeof(l->name) - 1] = '\0';
		} else if (a->rta_type == IFLA_LINKINFO) {
			parse_linkinfo(a, l);
		} else if (a->rta_type == IFLA_STATS64 && RTA_PAYLOAD(a) >= sizeof(l->stats)) {
			/* 4-byte aligned attribute: copy, never cast */
			memcpy(&l->stats, RTA_DATA(a), sizeof(l->stats));
			l->have_stats = true;
		}
	}
	if (ifi->ifi_type == ARPHRD_NONE && !l->kind[0]) {
		/* tun devices report no IFLA_INFO_KIND on older kernels */
		strcpy(l->kind, "tun");
	}
	if (!strcmp(l->kind, "tun")) {
		snprintf(path, sizeof(path), WG_UAPI_DIR "/%s.sock", l->name);
		l->wireguard_go = stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
	}
	return 0;
}

int links_dump(struct link_desc **out)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
		.nh.nlmsg_type = RTM_GETLINK,
		.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		.nh.nlmsg_seq = 1,
		.ifi.ifi_family = AF_UNSPEC,
	};
	struct timeval timeout = { .tv_sec = 1 };
	struct link_desc *links = NULL, *tmp;
	int fd, n = 0, cap = 0, err = 0;
	char buf[32768];
	bool done = false;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	/* never hang the caller (a scrape, the loop) on a socket that does not answer */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		err = -errno;
		goto cleanup;
	}
	while (!done) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				err = e->error ? e->error : -EPROTO;
				goto cleanup;
			}
			if (nh->nlmsg_type != RTM_NEWLINK)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				tmp = realloc(links, cap * sizeof(*links));
				if (!tmp) {
					err = -ENOMEM;
					goto cleanup;
				}
				links = tmp;
			}
			if (parse_link(nh, &links[n]) == 0)
				n++;
		}
	}
cleanup:
	close(fd);
	if (err) {
		free(links);
		return err;
	}
	*out = links;
	return n;
}

const struct link_desc *links_find_index(const struct link_desc *links, int n, int ifindex)
{
	for (int i = 0; i < n; i++)
		if (links[i].ifindex == ifindex)
			return &links[i];
	return NULL;
}

const struct link_desc *links_find(const struct link_desc *links, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(links[i].name, name))
			return &links[i];
	return NULL;
}

bool link_is_tunnel(const struct link_desc *l)
{
	return !strcmp(l->kind, "ipip") || !strcmp(l->kind, "vxlan") ||
	       !strcmp(l->kind, "wireguard") || !strcmp(l->kind, "ip6tnl") ||
	       !strcmp(l->kind, "sit") || l->wireguard_go;
}
