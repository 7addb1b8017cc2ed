// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's interfaces (see ifwatch.h): resolve --interface (or auto) and
 * --underlay-interface to links and attach the datapath at start, then follow
 * interfaces that vanish and come back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ifwatch.h"
#include "links.h"
#include "loader.h"
#include "log.h"

static bool already_attached(const struct wp_loader *ld, int ifindex)
{
	for (int i = 0; i < ld->nattach; i++)
		if (ld->attach[i].ifindex == ifindex)
			return true;
	return false;
}

struct chosen_link {
	const struct link_desc *link;
	__u32 flags;
};

/*
 * The links --interface (or auto) and --underlay-interface name, with their
 * flags. Returns how many, or -1 after logging which name does not resolve.
 */
static int choose_links(const struct wp_config *cfg, const struct link_desc *links, int n,
			struct chosen_link *out, int max)
{
	const struct link_desc *l;
	int k = 0;

	if (cfg->iface_auto) {
		for (int i = 0; i < n && k < max; i++)
			if (link_is_tunnel(&links[i]))
				out[k++] = (struct chosen_link){
					&links[i], WP_IF_TUNNEL | (links[i].l2 ? WP_IF_L2 : 0)
				};
		if (!k) /* a node whose CNI has not made its tunnel yet: wait, not ready */
			log_warn("--interface auto found no ipip, vxlan, wireguard or wireguard-go "
				 "interface in this network namespace yet: waiting for one (not "
				 "ready until then; or name one with --interface IF)");
	} else {
		for (int i = 0; i < cfg->niface && k < max; i++) {
			l = links_find(links, n, cfg->ifaces[i]);
			if (!l) {
				log_error(
					"--interface %s: no such interface in this network namespace "
					"(see 'ip link')",
					cfg->ifaces[i]);
				return -1;
			}
			out[k++] = (struct chosen_link){ l, WP_IF_TUNNEL | (l->l2 ? WP_IF_L2 : 0) };
		}
	}
	if (cfg->underlay[0]) {
		bool dup = false;

		l = links_find(links, n, cfg->underlay);
		if (!l) {
			log_error("--underlay-interface %s: no such interface in this network "
				  "namespace",
				  cfg->underlay);
			return -1;
		}
		for (int i = 0; i < k; i++)
			dup |= out[i].link->ifindex == l->ifindex;
		if (!dup && k < max)
			out[k++] =
				(struct chosen_link){ l, WP_IF_UNDERLAY | (l->l2 ? WP_IF_L2 : 0) };
	}
	return k;
}

/*
 * Resolve --interface (or auto) and attach to each. Every name is resolved and
 * every link checked before the first attach, so a start that fails on its
 * input or refuses an interface leaves what an earlier run attached as it was.
 * Returns the number attached or -1.
 */
int attach_interfaces(const struct wp_config *cfg, struct wp_loader *ld)
{
	struct chosen_link chosen[WP_MAX_IFACES + 1];
	struct link_desc *links = NULL;
	char err[512], names[512] = "";
	int n, k, ret = -1;

	n = links_dump(&links);
	if (n < 0) {
		log_error("listing network interfaces failed: %s", strerror(-n));
		return -1;
	}
	k = choose_links(cfg, links, n, chosen, WP_MAX_IFACES + 1);
	if (k < 0)
		goto cleanup;
	for (int i = 0; i < k; i++) {
		if (wp_loader_preflight(ld, chosen[i].link, err, sizeof(err))) {
			log_error("%s", err);
			goto cleanup;
		}
	}
	for (int i = 0; i < k; i++) {
		const struct link_desc *l = chosen[i].link;

		if (wp_loader_attach(ld, l, chosen[i].flags, err, sizeof(err))) {
			log_error("%s", err);
			goto cleanup;
		}
		if (cfg->iface_auto && (chosen[i].flags & WP_IF_TUNNEL))
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s(%s%s)",
				 names[0] ? " " : "", l->name,
				 l->wireguard_go ? "wireguard-go" : l->kind, l->l2 ? ",l2" : ",l3");
	}
	if (cfg->iface_auto && names[0])
		log_info("interface auto: chose %s", names);
	for (int i = 0; i < ld->nattach; i++)
		log_info("attached to %s (ifindex %d, %s, %s)", ld->attach[i].ifname,
			 ld->attach[i].ifindex, ld->attach[i].flags & WP_IF_L2 ? "l2" : "l3",
			 wp_attach_mode_name(ld->attach[i].mode));
	ret = ld->nattach;
cleanup:
	free(links);
	return ret;
}

static bool wanted_tunnel(const struct wp_config *cfg, const struct link_desc *l)
{
	if (cfg->iface_auto)
		return link_is_tunnel(l);
	for (int i = 0; i < cfg->niface; i++)
		if (!strcmp(cfg->ifaces[i], l->name))
			return true;
	return false;
}

/*
 * Follow interfaces that go away and come back (wg-quick down/up, a CNI
 * restart): detach from vanished ones, attach to wanted ones that (re)appeared.
 * Called from the loop every few seconds; failures are logged, never fatal.
 */
void reconcile_interfaces(const struct wp_config *cfg, struct wp_loader *ld)
{
	struct link_desc *links = NULL;
	const struct link_desc *l;
	char err[512];
	int n;

	n = links_dump(&links);
	if (n < 0)
		return;
	for (int i = ld->nattach - 1; i >= 0; i--) {
		l = links_find(links, n, ld->attach[i].ifname);
		if (l && l->ifindex == ld->attach[i].ifindex)
			continue;
		log_warn("interface %s (ifindex %d) went away: detached", ld->attach[i].ifname,
			 ld->attach[i].ifindex);
		wp_loader_detach_index(ld, i);
	}
	for (int i = 0; i < n; i++) {
		bool tunnel = wanted_tunnel(cfg, &links[i]);
		bool underlay = cfg->underlay[0] && !strcmp(cfg->underlay, links[i].name);
		__u32 flags =
			(tunnel ? WP_IF_TUNNEL : WP_IF_UNDERLAY) | (links[i].l2 ? WP_IF_L2 : 0);

		if ((!tunnel && !underlay) || already_attached(ld, links[i].ifindex))
			continue;
		if (wp_loader_attach(ld, &links[i], flags, err, sizeof(err)))
			log_warn("interface %s appeared but attaching failed: %s", links[i].name,
				 err);
		else
			log_info("interface %s (ifindex %d) appeared: attached (%s)", links[i].name,
				 links[i].ifindex,
				 wp_attach_mode_name(ld->attach[ld->nattach - 1].mode));
	}
	free(links);
}
