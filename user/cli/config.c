// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"

enum {
	OPT_INTERFACE = 256,
	OPT_UNDERLAY,
	OPT_WG_PORT,
	OPT_PEER,
	OPT_PEERS_FILE,
	OPT_KUBERNETES,
	OPT_KUBE_API,
	OPT_KUBE_TOKEN_FILE,
	OPT_KUBE_CA_FILE,
	OPT_KUBE_ANNOTATIONS,
	OPT_NODE_NAME,
	OPT_KEEPALIVE,
	OPT_COLD,
	OPT_MODE,
	OPT_PROBE,
	OPT_PROBE_PORT,
	OPT_PROBE_TIMEOUT,
	OPT_PROBE_KEY_FILE,
	OPT_METRICS_LISTEN,
	OPT_PIN_PATH,
	OPT_LOG_FORMAT,
	OPT_ATTACH_MODE,
	OPT_VXLAN_PORT,
	OPT_MAX_PEER_SERIES,
	OPT_PEER_METRICS,
	OPT_WORST_PEERS,
	OPT_TICK,
	OPT_NO_WG_PREFIXES,
	OPT_NO_ROUTE_PREFIXES,
	OPT_KUBE_PREFIX_ANNOTATIONS,
	OPT_TRIAL_IDLE,
	OPT_TRIAL_EVERY,
	OPT_HELP,
};

static const struct option run_options[] = {
	{ "interface", required_argument, NULL, OPT_INTERFACE },
	{ "underlay-interface", required_argument, NULL, OPT_UNDERLAY },
	{ "wireguard-port", required_argument, NULL, OPT_WG_PORT },
	{ "peer", required_argument, NULL, OPT_PEER },
	{ "peers-file", required_argument, NULL, OPT_PEERS_FILE },
	{ "kubernetes", no_argument, NULL, OPT_KUBERNETES },
	{ "kube-api", required_argument, NULL, OPT_KUBE_API },
	{ "kube-token-file", required_argument, NULL, OPT_KUBE_TOKEN_FILE },
	{ "kube-ca-file", required_argument, NULL, OPT_KUBE_CA_FILE },
	{ "kube-address-annotations", required_argument, NULL, OPT_KUBE_ANNOTATIONS },
	{ "node-name", required_argument, NULL, OPT_NODE_NAME },
	{ "keepalive-interval", required_argument, NULL, OPT_KEEPALIVE },
	{ "lifetime-trial-idle", required_argument, NULL, OPT_TRIAL_IDLE },
	{ "lifetime-trial-every", required_argument, NULL, OPT_TRIAL_EVERY },
	{ "cold-threshold", required_argument, NULL, OPT_COLD },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "probe", required_argument, NULL, OPT_PROBE },
	{ "probe-port", required_argument, NULL, OPT_PROBE_PORT },
	{ "probe-timeout", required_argument, NULL, OPT_PROBE_TIMEOUT },
	{ "probe-key-file", required_argument, NULL, OPT_PROBE_KEY_FILE },
	{ "metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN },
	{ "pin-path", required_argument, NULL, OPT_PIN_PATH },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "attach-mode", required_argument, NULL, OPT_ATTACH_MODE },
	{ "vxlan-port", required_argument, NULL, OPT_VXLAN_PORT },
	{ "max-peer-series", required_argument, NULL, OPT_MAX_PEER_SERIES },
	{ "peer-metrics", required_argument, NULL, OPT_PEER_METRICS },
	{ "worst-peers", required_argument, NULL, OPT_WORST_PEERS },
	{ "tick-interval", required_argument, NULL, OPT_TICK },
	{ "no-wireguard-prefixes", no_argument, NULL, OPT_NO_WG_PREFIXES },
	{ "no-route-prefixes", no_argument, NULL, OPT_NO_ROUTE_PREFIXES },
	{ "kube-prefix-annotations", required_argument, NULL, OPT_KUBE_PREFIX_ANNOTATIONS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, OPT_HELP },
	{},
};

void config_print_run_help(FILE *f)
{
	fprintf(f,
		"Usage: warmpath run [OPTIONS]\n"
		"\n"
		"Attach the datapath to tunnel and WireGuard interfaces, count traffic per peer\n"
		"node, and keep idle paths warm with probes. Runs in the foreground until\n"
		"SIGTERM/SIGINT; SIGHUP reloads --peers-file. Every option is also an environment\n"
		"variable WARMPATH_<NAME> (e.g. WARMPATH_KEEPALIVE_INTERVAL=5); flags win.\n"
		"\n"
		"Interfaces:\n"
		"  --interface IF[,IF...]      tunnel / WireGuard interfaces to watch (repeatable);\n"
		"                              'auto' (default): every ipip, vxlan, wireguard link\n"
		"                              and every wireguard-go tun device\n"
		"  --underlay-interface IF     interface carrying WireGuard UDP (handshakes)\n"
		"                              (default: the one the route to the WireGuard\n"
		"                              peers' endpoints goes through; 'none': no underlay)\n"
		"  --wireguard-port N          WireGuard UDP port on the underlay (default 51820)\n"
		"  --attach-mode auto|tcx|tc   tcx links when the kernel has them (default auto)\n"
		"  --vxlan-port N[,N]          VXLAN UDP ports to decapsulate (default 4789,8472)\n"
		"\n"
		"Peers:\n"
		"  --peer NAME=ADDR[,PREFIX...]  a peer node (repeatable): ADDR is the probe target\n"
		"                              through the tunnel, PREFIXes more addresses/CIDRs of\n"
		"                              that node (node IP, pod CIDR)\n"
		"  --peers-file FILE           one peer a line: NAME ADDR [PREFIX...]; '#' comments;\n"
		"                              reloaded on SIGHUP\n"
		"  --kubernetes                discover peers from the Kubernetes API (nodes)\n"
		"  --kube-api URL              API server (default: in-cluster, from\n"
		"                              KUBERNETES_SERVICE_HOST/_PORT)\n"
		"  --kube-token-file FILE      bearer token, read again for every request\n"
		"                              (default: the service account's; 'none': no token)\n"
		"  --kube-ca-file FILE         CA of the API server (default: the service\n"
		"                              account's; 'system': the system's CA store)\n"
		"  --kube-address-annotations KEY[,KEY...]\n"
		"                              node annotations holding the probe address, the\n"
		"                              first one set wins, else the InternalIP (default:\n"
		"                              Calico's IPIP, VXLAN, WireGuard tunnel addresses;\n"
		"                              'none': InternalIP only)\n"
		"  --node-name NAME            this node's name, skipped among peers\n"
		"                              (default: $NODE_NAME, else the hostname)\n"
		"  --kube-prefix-annotations KEY[,KEY...]\n"
		"                              node annotations whose addresses (or pod CIDRs) become\n"
		"                              the node's prefixes (default: every node-address,\n"
		"                              tunnel-address and pod-CIDR annotation of Calico,\n"
		"                              Cilium and flannel; 'none': spec.podCIDRs and\n"
		"                              InternalIPs only)\n"
		"  --no-wireguard-prefixes     do not add a WireGuard peer's allowed IPs to the\n"
		"                              prefixes of the peer it belongs to (added by default)\n"
		"  --no-route-prefixes         do not add routes through a watched tunnel whose\n"
		"                              gateway is a peer's (Calico /26 blocks, flannel /24s)\n"
		"                              to that peer's prefixes (added by default; followed\n"
		"                              as routes change)\n"
		"\n"
		"Keep-alive:\n"
		"  --mode idle|constant|observe  probe idle peers only (default) / every peer every\n"
		"                              interval / never\n"
		"  --keepalive-interval S      probe a peer idle this long (default 10)\n"
		"  --keepalive-interval auto[:MIN-MAX]  learn each path's lifetime by trials\n"
		"                              agreed with the peer's agent and probe at 0.7x it,\n"
		"                              within MIN-MAX (default 5-120); MIN until learned\n"
		"  --lifetime-trial-idle S     trial only pairs without workload this long (300)\n"
		"  --lifetime-trial-every S    at most one trial per pair this often (3600)\n"
		"  --cold-threshold S          idle gap that makes the next packet a cold start\n"
		"                              (default 30)\n"
		"  --probe udp|http|icmp       probe kind (default udp)\n"
		"  --probe-port N              UDP echo / HTTP probe port, also answered here\n"
		"                              (default 9050)\n"
		"  --probe-timeout MS          a probe unanswered this long has failed (default 1000)\n"
		"  --probe-key-file FILE       shared cluster key (16-128 bytes): probes and\n"
		"                              replies carry an HMAC-SHA256 and a replay window;\n"
		"                              unauthenticated ones are counted and ignored\n"
		"                              (default: none, probes unauthenticated: warns)\n"
		"  --tick-interval S           how often peers are examined (default 1)\n"
		"\n"
		"Output:\n"
		"  --metrics-listen ADDR:PORT  /metrics, /peers, /healthz, /readyz\n"
		"                              (default 0.0.0.0:9051; 'off' disables)\n"
		"  --peer-metrics none|worst|all  per-peer series: none, the worst --worst-peers\n"
		"                              peers by name (default; a fixed series count), or\n"
		"                              every peer (~35-60 series a peer: small clusters)\n"
		"                              Node-level totals and histograms are always there;\n"
		"                              /peers has every peer in full\n"
		"  --worst-peers K             peers named by --peer-metrics worst (default 10)\n"
		"  --max-peer-series N         --peer-metrics all: per-peer series cap; the rest\n"
		"                              is peer=\"_other\" (default 1000)\n"
		"  --pin-path DIR              bpffs directory for pinned maps\n"
		"                              (default /sys/fs/bpf/warmpath)\n"
		"  --log-format text|json      log line format (default text)\n"
		"  -v, --verbose               more logging (-vv: libbpf debug and verifier logs)\n"
		"  --help                      this text\n"
		"\n"
		"Examples:\n"
		"  warmpath run --interface wg0 --peer node-b=10.0.0.2,192.168.2.0/24 --mode observe\n"
		"  warmpath run --peers-file /etc/warmpath/peers --keepalive-interval 5\n"
		"  WARMPATH_MODE=constant warmpath run --interface vxlan.calico,wg0\n");
}

const char *wp_mode_name(enum wp_mode m)
{
	static const char *const names[] = { "idle", "constant", "observe" };

	return names[m];
}

const char *wp_probe_name(enum wp_probe_kind k)
{
	static const char *const names[] = { "udp", "http", "icmp" };

	return names[k];
}

const char *wp_peer_metrics_name(enum wp_peer_metrics m)
{
	static const char *const names[] = { "worst", "none", "all" };

	return names[m];
}

static int bad(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "warmpath run: bad %s '%s': %s\n", opt, val, want);
	return -1;
}

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		char want[80];

		snprintf(want, sizeof(want), "want an integer from %ld to %ld", lo, hi);
		return bad(opt, s, want);
	}
	*out = v;
	return 0;
}

static int parse_seconds(const char *opt, const char *s, double lo, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > 86400) {
		char want[80];

		snprintf(want, sizeof(want), "want seconds from %g to 86400", lo);
		return bad(opt, s, want);
	}
	*out = v;
	return 0;
}

static int add_interfaces(struct wp_config *cfg, const char *list)
{
	char *copy = strdup(list), *tok, *save = NULL;
	int ret = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "auto")) {
			cfg->iface_auto = true;
			continue;
		}
		if (strlen(tok) >= WP_IFNAME_LEN) {
			ret = bad("--interface", tok, "interface names are at most 15 characters");
			break;
		}
		if (cfg->niface == WP_MAX_CLI_IFACES) {
			ret = bad("--interface", tok, "too many interfaces");
			break;
		}
		strcpy(cfg->ifaces[cfg->niface++], tok);
	}
	free(copy);
	return ret;
}

static int add_peer(struct wp_config *cfg, const char *spec)
{
	struct wp_peer p;
	char err[256];

	if (peer_parse_spec(spec, &p, err, sizeof(err)) ||
	    peer_set_add(&cfg->cli_peers, &p, err, sizeof(err))) {
		fprintf(stderr, "warmpath run: %s\n", err);
		return -1;
	}
	return 0;
}

static int copy_str(const char *opt, const char *val, char *dst, size_t len)
{
	if (strlen(val) >= len)
		return bad(opt, val, "too long");
	strcpy(dst, val);
	return 0;
}

/* Apply one option. `from_env` only changes how errors are named. */
static int apply(struct wp_config *cfg, int opt, const char *arg)
{
	long v;

	switch (opt) {
	case OPT_INTERFACE:
		if (!cfg->niface)
			cfg->iface_auto = false;
		return add_interfaces(cfg, arg);
	case OPT_UNDERLAY:
		return copy_str("--underlay-interface", arg, cfg->underlay, sizeof(cfg->underlay));
	case OPT_WG_PORT:
		if (parse_long("--wireguard-port", arg, 1, 65535, &v))
			return -1;
		cfg->wireguard_port = v;
		return 0;
	case OPT_PEER:
		return add_peer(cfg, arg);
	case OPT_PROBE_KEY_FILE:
		return copy_str("--probe-key-file", arg, cfg->probe_key_file,
				sizeof(cfg->probe_key_file));
	case OPT_PEERS_FILE:
		return copy_str("--peers-file", arg, cfg->peers_file, sizeof(cfg->peers_file));
	case OPT_KUBERNETES:
		cfg->kubernetes = !arg || !strcmp(arg, "1") || !strcasecmp(arg, "true");
		return 0;
	case OPT_NO_WG_PREFIXES:
		cfg->no_wireguard_prefixes = !arg || !strcmp(arg, "1") || !strcasecmp(arg, "true");
		return 0;
	case OPT_NO_ROUTE_PREFIXES:
		cfg->no_route_prefixes = !arg || !strcmp(arg, "1") || !strcasecmp(arg, "true");
		return 0;
	case OPT_KUBE_PREFIX_ANNOTATIONS:
		return copy_str("--kube-prefix-annotations", arg, cfg->kube_prefix_annotations,
				sizeof(cfg->kube_prefix_annotations));
	case OPT_KUBE_API:
		if (strncmp(arg, "https://", 8) && strncmp(arg, "http://", 7))
			return bad("--kube-api", arg, "want https://HOST[:PORT]");
		return copy_str("--kube-api", arg, cfg->kube_api, sizeof(cfg->kube_api));
	case OPT_KUBE_TOKEN_FILE:
		return copy_str("--kube-token-file", arg, cfg->kube_token_file,
				sizeof(cfg->kube_token_file));
	case OPT_KUBE_CA_FILE:
		return copy_str("--kube-ca-file", arg, cfg->kube_ca_file,
				sizeof(cfg->kube_ca_file));
	case OPT_KUBE_ANNOTATIONS:
		return copy_str("--kube-address-annotations", arg, cfg->kube_annotations,
				sizeof(cfg->kube_annotations));
	case OPT_NODE_NAME:
		return copy_str("--node-name", arg, cfg->node_name, sizeof(cfg->node_name));
	case OPT_KEEPALIVE:
		return config_parse_keepalive(cfg, arg);
	case OPT_TRIAL_IDLE:
		return parse_seconds("--lifetime-trial-idle", arg, 0, &cfg->trial_idle);
	case OPT_TRIAL_EVERY:
		return parse_seconds("--lifetime-trial-every", arg, 0, &cfg->trial_every);
	case OPT_COLD:
		return parse_seconds("--cold-threshold", arg, 0.1, &cfg->cold_threshold);
	case OPT_TICK:
		return parse_seconds("--tick-interval", arg, 0.05, &cfg->tick_interval);
	case OPT_MODE:
		if (!strcmp(arg, "idle"))
			cfg->mode = WP_MODE_IDLE;
		else if (!strcmp(arg, "constant"))
			cfg->mode = WP_MODE_CONSTANT;
		else if (!strcmp(arg, "observe"))
			cfg->mode = WP_MODE_OBSERVE;
		else
			return bad("--mode", arg, "want idle, constant or observe");
		return 0;
	case OPT_PROBE:
		if (!strcmp(arg, "udp"))
			cfg->probe = WP_PROBE_UDP;
		else if (!strcmp(arg, "http"))
			cfg->probe = WP_PROBE_HTTP;
		else if (!strcmp(arg, "icmp"))
			cfg->probe = WP_PROBE_ICMP;
		else
			return bad("--probe", arg, "want udp, http or icmp");
		return 0;
	case OPT_PROBE_PORT:
		if (parse_long("--probe-port", arg, 1, 65535, &v))
			return -1;
		cfg->probe_port = v;
		return 0;
	case OPT_PROBE_TIMEOUT:
		if (parse_long("--probe-timeout", arg, 1, 600000, &v))
			return -1;
		cfg->probe_timeout_ms = v;
		return 0;
	case OPT_METRICS_LISTEN:
		return copy_str("--metrics-listen", arg, cfg->metrics_listen,
				sizeof(cfg->metrics_listen));
	case OPT_PIN_PATH:
		if (arg[0] != '/')
			return bad("--pin-path", arg, "want an absolute path on a bpffs");
		return copy_str("--pin-path", arg, cfg->pin_path, sizeof(cfg->pin_path));
	case OPT_LOG_FORMAT:
		if (!strcmp(arg, "text"))
			cfg->log_json = false;
		else if (!strcmp(arg, "json"))
			cfg->log_json = true;
		else
			return bad("--log-format", arg, "want text or json");
		return 0;
	case OPT_ATTACH_MODE:
		if (!strcmp(arg, "auto"))
			cfg->attach_pref = WP_ATTACH_PREF_AUTO;
		else if (!strcmp(arg, "tcx"))
			cfg->attach_pref = WP_ATTACH_PREF_TCX;
		else if (!strcmp(arg, "tc"))
			cfg->attach_pref = WP_ATTACH_PREF_TC;
		else
			return bad("--attach-mode", arg, "want auto, tcx or tc");
		return 0;
	case OPT_VXLAN_PORT: {
		char *copy = strdup(arg), *comma;
		int ret = 0;

		if (!copy)
			return -1;
		comma = strchr(copy, ',');
		if (comma)
			*comma = '\0';
		if (parse_long("--vxlan-port", copy, 1, 65535, &v))
			ret = -1;
		else
			cfg->vxlan_ports[0] = cfg->vxlan_ports[1] = v;
		if (!ret && comma) {
			if (parse_long("--vxlan-port", comma + 1, 1, 65535, &v))
				ret = -1;
			else
				cfg->vxlan_ports[1] = v;
		}
		free(copy);
		return ret;
	}
	case OPT_PEER_METRICS:
		if (!strcmp(arg, "none"))
			cfg->peer_metrics = WP_PEER_METRICS_NONE;
		else if (!strcmp(arg, "worst"))
			cfg->peer_metrics = WP_PEER_METRICS_WORST;
		else if (!strcmp(arg, "all"))
			cfg->peer_metrics = WP_PEER_METRICS_ALL;
		else
			return bad("--peer-metrics", arg, "want none, worst or all");
		return 0;
	case OPT_WORST_PEERS:
		if (parse_long("--worst-peers", arg, 1, 100, &v))
			return -1;
		cfg->worst_peers = v;
		return 0;
	case OPT_MAX_PEER_SERIES:
		if (parse_long("--max-peer-series", arg, 1, WP_MAX_PEERS, &v))
			return -1;
		cfg->max_peer_series = v;
		return 0;
	}
	return -1;
}

static void config_defaults(struct wp_config *cfg)
{
	const char *node = getenv("NODE_NAME");

	memset(cfg, 0, sizeof(*cfg));
	cfg->iface_auto = true;
	cfg->wireguard_port = WP_WIREGUARD_PORT;
	cfg->keepalive_interval = 10;
	cfg->trial_idle = 300;
	cfg->trial_every = 3600;
	cfg->cold_threshold = 30;
	cfg->mode = WP_MODE_IDLE;
	cfg->probe = WP_PROBE_UDP;
	cfg->probe_port = WP_DEFAULT_PROBE_PORT;
	cfg->probe_timeout_ms = 1000;
	strcpy(cfg->metrics_listen, "0.0.0.0:9051");
	strcpy(cfg->pin_path, WP_DEFAULT_PIN_PATH);
	cfg->vxlan_ports[0] = WP_VXLAN_PORT_IANA;
	cfg->vxlan_ports[1] = WP_VXLAN_PORT_LINUX;
	cfg->max_peer_series = 1000;
	cfg->peer_metrics = WP_PEER_METRICS_WORST;
	cfg->worst_peers = 10;
	cfg->tick_interval = 1;
	if (node && *node && strlen(node) < sizeof(cfg->node_name))
		strcpy(cfg->node_name, node);
	else if (gethostname(cfg->node_name, sizeof(cfg->node_name) - 1))
		cfg->node_name[0] = '\0';
}

/* WARMPATH_<NAME> for every long option; list-valued ones split on whitespace. */
static int apply_env(struct wp_config *cfg)
{
	for (const struct option *o = run_options; o->name; o++) {
		char var[64], *val, *copy, *tok, *save = NULL;
		int ret = 0;

		if (o->val == OPT_HELP || o->val == 'v')
			continue;
		snprintf(var, sizeof(var), "WARMPATH_");
		for (const char *c = o->name; *c && strlen(var) < sizeof(var) - 1; c++) {
			size_t n = strlen(var);

			var[n] = *c == '-' ? '_' : toupper((unsigned char)*c);
			var[n + 1] = '\0';
		}
		val = getenv(var);
		if (!val || !*val)
			continue;
		if (o->val != OPT_PEER && o->val != OPT_INTERFACE) {
			if (apply(cfg, o->val, val)) {
				fprintf(stderr, "warmpath run: (from %s)\n", var);
				return -1;
			}
			continue;
		}
		copy = strdup(val);
		if (!copy)
			return -1;
		for (tok = strtok_r(copy, " \t\n;", &save); tok && !ret;
		     tok = strtok_r(NULL, " \t\n;", &save))
			ret = apply(cfg, o->val, tok);
		free(copy);
		if (ret) {
			fprintf(stderr, "warmpath run: (from %s)\n", var);
			return -1;
		}
	}
	if (getenv("WARMPATH_VERBOSE"))
		cfg->verbosity = atoi(getenv("WARMPATH_VERBOSE"));
	return 0;
}

int config_parse_run(int argc, char **argv, struct wp_config *cfg)
{
	bool env_ifaces, env_peers;
	int opt;

	config_defaults(cfg);
	if (apply_env(cfg))
		return -1;
	/* flags replace, not extend, list values that came from the environment */
	env_ifaces = cfg->niface > 0;
	env_peers = cfg->cli_peers.n > 0;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":v", run_options, NULL)) != -1) {
		switch (opt) {
		case 'v':
			cfg->verbosity++;
			break;
		case OPT_HELP:
			config_print_run_help(stdout);
			return 1;
		case ':':
			fprintf(stderr,
				"warmpath run: %s needs a value (see 'warmpath run --help')\n",
				argv[optind - 1]);
			return -1;
		case '?':
			fprintf(stderr,
				"warmpath run: unknown option '%s' (see 'warmpath run --help')\n",
				argv[optind - 1]);
			return -1;
		default:
			if (opt == OPT_INTERFACE && env_ifaces) {
				cfg->niface = 0;
				env_ifaces = false;
			}
			if (opt == OPT_PEER && env_peers) {
				peer_set_free(&cfg->cli_peers);
				env_peers = false;
			}
			if (apply(cfg, opt, optarg))
				return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"warmpath run: unexpected argument '%s' (see 'warmpath run --help')\n",
			argv[optind]);
		return -1;
	}
	if (cfg->iface_auto && cfg->niface) {
		fprintf(stderr, "warmpath run: --interface auto cannot be combined with names\n");
		return -1;
	}
	return config_check_keepalive(cfg);
}

void config_free(struct wp_config *cfg)
{
	peer_set_free(&cfg->cli_peers);
}
