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

/* Resolve --interface (or auto) and attach to each. Returns the number attached or -1. */
int attach_interfaces(const struct wp_config *cfg, struct wp_loader *ld)
{
	struct link_desc *links = NULL;
	const struct link_desc *l;
	char err[512], chosen[512] = "";
	int n, ret = -1;

	n = links_dump(&links);
	if (n < 0) {
		log_error("listing network interfaces failed: %s", strerror(-n));
		return -1;
	}
	if (cfg->iface_auto) {
		for (int i = 0; i < n; i++) {
			if (!link_is_tunnel(&links[i]))
				continue;
			if (wp_loader_attach(ld, &links[i],
					     WP_IF_TUNNEL | (links[i].l2 ? WP_IF_L2 : 0), err,
					     sizeof(err))) {
				log_error("%s", err);
				goto cleanup;
			}
			snprintf(chosen + strlen(chosen), sizeof(chosen) - strlen(chosen),
				 "%s%s(%s%s)", chosen[0] ? " " : "", links[i].name,
				 links[i].wireguard_go ? "wireguard-go" : links[i].kind,
				 links[i].l2 ? ",l2" : ",l3");
		}
		if (!ld->nattach)
			/* a node whose CNI has not made its tunnel yet: wait, not ready */
			log_warn("--interface auto found no ipip, vxlan, wireguard or wireguard-go "
				 "interface in this network namespace yet: waiting for one (not "
				 "ready until then; or name one with --interface IF)");
		else
			log_info("interface auto: chose %s", chosen);
	} else {
		for (int i = 0; i < cfg->niface; i++) {
			l = links_find(links, n, cfg->ifaces[i]);
			if (!l) {
				log_error(
					"--interface %s: no such interface in this network namespace "
					"(see 'ip link')",
					cfg->ifaces[i]);
				goto cleanup;
			}
			if (wp_loader_attach(ld, l, WP_IF_TUNNEL | (l->l2 ? WP_IF_L2 : 0), err,
					     sizeof(err))) {
				log_error("%s", err);
				goto cleanup;
			}
		}
	}
	if (cfg->underlay[0]) {
		l = links_find(links, n, cfg->underlay);
		if (!l) {
			log_error("--underlay-interface %s: no such interface in this network "
				  "namespace",
				  cfg->underlay);
			goto cleanup;
		}
		if (!already_attached(ld, l->ifindex) &&
		    wp_loader_attach(ld, l, WP_IF_UNDERLAY | (l->l2 ? WP_IF_L2 : 0), err,
				     sizeof(err))) {
			log_error("%s", err);
			goto cleanup;
		}
	}
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
