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
#include "nl.h"

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

struct links_acc {
	struct link_desc *v;
	int n, cap;
};

static int links_add(const struct nlmsghdr *nh, void *arg)
{
	struct links_acc *acc = arg;
	struct link_desc *tmp;

	if (nh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (acc->n == acc->cap) {
		acc->cap = acc->cap ? acc->cap * 2 : 16;
		tmp = realloc(acc->v, acc->cap * sizeof(*acc->v));
		if (!tmp)
			return -ENOMEM;
		acc->v = tmp;
	}
	if (parse_link((struct nlmsghdr *)nh, &acc->v[acc->n]) == 0)
		acc->n++;
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
	struct links_acc acc = {};
	int err;

	err = wp_nl_request(NETLINK_ROUTE, &req.nh, 1, links_add, &acc);
	if (err) {
		free(acc.v);
		return err;
	}
	*out = acc.v;
	return acc.n;
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
