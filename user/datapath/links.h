/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The node's network links, from an rtnetlink dump: name, index, kind, layout. */
#ifndef __WARMPATH_LINKS_H
#define __WARMPATH_LINKS_H

#include <stdbool.h>
#include <linux/if_link.h>
#define LINK_NAME_LEN 16

struct link_desc {
	int ifindex;
	char name[LINK_NAME_LEN];
	char kind[32]; /* IFLA_INFO_KIND: "vxlan", "ipip", "wireguard", "tun", "veth", ... */
	unsigned short hw_type; /* ARPHRD_* */
	bool l2; /* frames carry an Ethernet header */
	bool wireguard_go; /* a tun device with a wireguard-go UAPI socket */
	bool have_stats; /* stats below came with the dump (IFLA_STATS64) */
	struct rtnl_link_stats64 stats;
};

/* Dump every link of the current network namespace. Returns the count or -errno. */
int links_dump(struct link_desc **out);
/*
 * As links_dump(), from a dump at most max_age_ns old (one shared cache): the
 * views a scrape builds re-use it instead of asking the kernel every request.
 */
int links_dump_recent(struct link_desc **out, __u64 max_age_ns);
/* The link with this ifindex in a dump, or NULL. */
const struct link_desc *links_find_index(const struct link_desc *links, int n, int ifindex);
/* The link named `name` in a dump, or NULL. */
const struct link_desc *links_find(const struct link_desc *links, int n, const char *name);
/* Whether --interface auto would pick this link: ipip, vxlan, wireguard, wireguard-go tun. */
bool link_is_tunnel(const struct link_desc *l);

#endif /* __WARMPATH_LINKS_H */
