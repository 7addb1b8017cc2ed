/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `warmpath run` options: flags, each also an environment variable WARMPATH_<NAME>. */
#ifndef __WARMPATH_CONFIG_H
#define __WARMPATH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "loader.h"
#include "peers.h"

enum wp_mode { WP_MODE_IDLE = 0, WP_MODE_CONSTANT, WP_MODE_OBSERVE };
enum wp_probe_kind { WP_PROBE_UDP = 0, WP_PROBE_HTTP, WP_PROBE_ICMP };
/* Per-peer series: none, the worst --worst-peers K, every peer (capped by --max-peer-series). */
enum wp_peer_metrics { WP_PEER_METRICS_WORST = 0, WP_PEER_METRICS_NONE, WP_PEER_METRICS_ALL };

#define WP_MAX_CLI_IFACES WP_MAX_IFACES

struct wp_config {
	bool iface_auto;
	int niface;
	char ifaces[WP_MAX_CLI_IFACES][WP_IFNAME_LEN];
	char underlay[WP_IFNAME_LEN];
	int wireguard_port;
	struct wp_peer_set cli_peers; /* from --peer */
	char peers_file[256];
	char probe_key_file[256]; /* "": probes unauthenticated */
	bool kubernetes;
	bool no_wireguard_prefixes; /* --no-wireguard-prefixes */
	bool no_route_prefixes; /* --no-route-prefixes */
	char kube_prefix_annotations[2048]; /* "": every known one; "none": no annotation */
	char kube_api[256]; /* "" : in-cluster (KUBERNETES_SERVICE_HOST/_PORT) */
	char kube_token_file[256]; /* "" : the service account's; "none": no token */
	char kube_ca_file[256]; /* "" : the service account's; "system": the system store */
	char kube_annotations[512]; /* "" : the Calico defaults; "none": InternalIP only */
	char node_name[WP_PEER_NAME_LEN];
	double keepalive_interval; /* seconds; with auto: its MIN */
	bool keepalive_auto; /* --keepalive-interval auto[:MIN-MAX] */
	double auto_min, auto_max; /* seconds */
	double trial_idle, trial_every; /* --lifetime-trial-idle, --lifetime-trial-every */
	double cold_threshold; /* seconds */
	enum wp_mode mode;
	enum wp_probe_kind probe;
	int probe_port;
	int probe_timeout_ms;
	char metrics_listen[128];
	char pin_path[200];
	bool log_json;
	int verbosity;
	enum wp_attach_pref attach_pref;
	int vxlan_ports[2];
	int max_peer_series;
	enum wp_peer_metrics peer_metrics;
	int worst_peers; /* K of --peer-metrics worst */
	double tick_interval; /* seconds */
};

/* Parse argv (after "run") and WARMPATH_* variables. Returns 0, 1 for --help shown, or -1. */
int config_parse_run(int argc, char **argv, struct wp_config *cfg);
void config_free(struct wp_config *cfg);
/* --keepalive-interval S|auto[:MIN-MAX] (config_lifetime.c); 0 or -1 (said on stderr). */
int config_parse_keepalive(struct wp_config *cfg, const char *arg);
/* After parsing: auto needs UDP probes and idle mode. */
int config_check_keepalive(const struct wp_config *cfg);
void config_print_run_help(FILE *f);
const char *wp_mode_name(enum wp_mode m);
const char *wp_probe_name(enum wp_probe_kind k);
const char *wp_peer_metrics_name(enum wp_peer_metrics m);

#endif /* __WARMPATH_CONFIG_H */
