// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "agent.h"
#include "config.h"
#include "links.h"
#include "loader.h"
#include "log.h"
#include "peers.h"

static volatile sig_atomic_t exiting;
static volatile sig_atomic_t reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		exiting = 1;
}

/* --peer flags plus --peers-file, without this node. */
static int build_peer_set(const struct wp_config *cfg, struct wp_peer_set *out)
{
	struct wp_peer_set file = {};
	char err[512];
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (cfg->peers_file[0]) {
		ret = peers_file_load(cfg->peers_file, &file, err, sizeof(err));
		if (ret) {
			log_error("%s", err);
			goto cleanup;
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		const struct wp_peer_set *src = pass == 0 ? &cfg->cli_peers : &file;

		for (int i = 0; i < src->n; i++) {
			if (!strcmp(src->peers[i].name, cfg->node_name)) {
				log_debug("peer %s is this node: skipped", src->peers[i].name);
				continue;
			}
			ret = peer_set_add(out, &src->peers[i], err, sizeof(err));
			if (ret) {
				log_error("%s", err);
				goto cleanup;
			}
		}
	}
cleanup:
	peer_set_free(&file);
	if (ret)
		peer_set_free(out);
	return ret;
}

static int sync_peers(struct wp_loader *ld, struct wp_peer_set *set)
{
	char err[512];
	int ret;

	ret = peers_sync_maps(wp_loader_map_fd(ld, "peers"), wp_loader_map_fd(ld, "prefixes"), set,
			      err, sizeof(err));
	if (ret)
		log_error("%s", err);
	return ret;
}

static bool already_attached(const struct wp_loader *ld, int ifindex)
{
	for (int i = 0; i < ld->nattach; i++)
		if (ld->attach[i].ifindex == ifindex)
			return true;
	return false;
}

/* Resolve --interface (or auto) and attach to each. Returns the number attached or -1. */
static int attach_interfaces(const struct wp_config *cfg, struct wp_loader *ld)
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
		if (!ld->nattach) {
			log_error(
				"--interface auto found no ipip, vxlan, wireguard or wireguard-go "
				"interface in this network namespace; name one with --interface IF");
			goto cleanup;
		}
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

int cmd_run(int argc, char **argv)
{
	struct wp_load_opts lo = {};
	struct wp_peer_set peers = {};
	struct sigaction sa = {};
	struct wp_loader ld = {};
	struct wp_config cfg;
	char err[512];
	int ret;

	ret = config_parse_run(argc, argv, &cfg);
	if (ret)
		return ret > 0 ? 0 : 2;
	log_setup(cfg.log_json, cfg.verbosity);
	log_hook_libbpf();

	if (build_peer_set(&cfg, &peers)) {
		ret = 2;
		goto out;
	}
	lo.pin_path = cfg.pin_path;
	lo.probe_port = cfg.probe_port;
	lo.vxlan_ports[0] = cfg.vxlan_ports[0];
	lo.vxlan_ports[1] = cfg.vxlan_ports[1];
	lo.attach_pref = cfg.attach_pref;
	if (wp_loader_load(&ld, &lo, err, sizeof(err))) {
		log_error("%s", err);
		ret = 1;
		goto out;
	}
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (attach_interfaces(&cfg, &ld) < 0) {
		ret = 1;
		goto detach;
	}
	wp_loader_prune_stale(&ld);
	if (sync_peers(&ld, &peers)) {
		ret = 1;
		goto detach;
	}
	log_info("warmpath %s running: %d peer(s), mode %s, maps pinned at %s", WARMPATH_VERSION,
		 peers.n, wp_mode_name(cfg.mode), cfg.pin_path);

	while (!exiting) {
		struct timespec ts = {
			.tv_sec = (time_t)cfg.tick_interval,
			.tv_nsec = (long)((cfg.tick_interval - (time_t)cfg.tick_interval) * 1e9)
		};

		nanosleep(&ts, NULL);
		if (reload) {
			struct wp_peer_set fresh;

			reload = 0;
			if (build_peer_set(&cfg, &fresh)) {
				log_warn("SIGHUP: peers unchanged (%d peers kept)", peers.n);
				continue;
			}
			if (sync_peers(&ld, &fresh)) {
				peer_set_free(&fresh);
				continue;
			}
			peer_set_free(&peers);
			peers = fresh;
			log_info("SIGHUP: peers reloaded: %d peer(s)", peers.n);
		}
	}
	log_info("exiting: detaching programs; maps stay pinned at %s", cfg.pin_path);
	ret = 0;
detach:
	wp_loader_detach_all(&ld);
	wp_loader_destroy(&ld);
out:
	peer_set_free(&peers);
	config_free(&cfg);
	return ret;
}
