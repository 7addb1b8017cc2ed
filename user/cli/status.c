// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "peer_counters.h"
#include "peer_json.h"
#include "status.h"
#include "peers.h"
#include "util.h"
#include "wireguard.h"
#include "warmpath.h"

const char *const wp_stat_names[WP_STAT_MAX] = {
	[WP_STAT_PACKETS] = "packets",
	[WP_STAT_MATCHED] = "matched",
	[WP_STAT_UNMATCHED] = "unmatched",
	[WP_STAT_NON_IP] = "non_ip",
	[WP_STAT_MALFORMED] = "malformed",
	[WP_STAT_ENCAP_IPIP] = "encap_ipip",
	[WP_STAT_ENCAP_VXLAN] = "encap_vxlan",
	[WP_STAT_PROBE] = "probe",
	[WP_STAT_NO_IFACE] = "no_iface",
	[WP_STAT_UNMATCHED_FULL] = "unmatched_full",
	[WP_STAT_SYN] = "syn",
	[WP_STAT_SYNACK] = "synack",
	[WP_STAT_WG_HANDSHAKE] = "wg_handshake",
	[WP_STAT_WG_MALFORMED] = "wg_malformed",
	[WP_STAT_EVENTS_LOST] = "events_lost",
	[WP_STAT_BAD_PEER_ID] = "bad_peer_id",
};

_Static_assert(WP_STAT_MAX <= 32, "wp_stats_read returns a 32-bit mask");

__u32 wp_stats_read(int stats_fd, __u64 sums[WP_STAT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *percpu = calloc(ncpu > 0 ? ncpu : 1, sizeof(*percpu));
	__u32 read = 0;

	for (__u32 key = 0; percpu && key < WP_STAT_MAX; key++) {
		sums[key] = 0;
		if (bpf_map_lookup_elem(stats_fd, &key, percpu))
			continue;
		for (int c = 0; c < ncpu; c++)
			sums[key] += percpu[c];
		read |= 1u << key;
	}
	free(percpu);
	return read;
}

json_t *status_peer_json(struct peer_state *ps, __u32 id, __u64 now)
{
	json_t *o = json_object();

	ps->name[WP_PEER_NAME_LEN - 1] = '\0';
	json_object_set_new(o, "name", json_string(ps->name));
	json_object_set_new(o, "id", json_integer(id));
	wp_peer_state_json(o, ps, now);
	return o;
}

/* The per-device detail: packets and bytes each way seen on the interface (tunnels only). */
static void iface_counters_json(json_t *o, int fd, __u32 slot)
{
	int ncpu = libbpf_num_possible_cpus();
	struct iface_counters *pc, sum = {};

	if (fd < 0 || ncpu <= 0 || !(pc = calloc(ncpu, sizeof(*pc))))
		return;
	if (!bpf_map_lookup_elem(fd, &slot, pc)) {
		for (int c = 0; c < ncpu; c++)
			for (int d = 0; d < 2; d++) {
				sum.packets[d] += pc[c].packets[d];
				sum.bytes[d] += pc[c].bytes[d];
			}
		json_object_set_new(o, "tx_packets", json_integer(sum.packets[WP_DIR_TX]));
		json_object_set_new(o, "rx_packets", json_integer(sum.packets[WP_DIR_RX]));
		json_object_set_new(o, "tx_bytes", json_integer(sum.bytes[WP_DIR_TX]));
		json_object_set_new(o, "rx_bytes", json_integer(sum.bytes[WP_DIR_RX]));
	}
	free(pc);
}

json_t *status_json_from_pins(const char *pin_path, char *err, size_t errlen)
{
	int peers_fd = -1, ifaces_fd = -1, stats_fd = -1, unm_fd = -1, pc_fd = -1, ifc_fd = -1;
	__u64 sums[WP_STAT_MAX];
	__u32 read;
	json_t *root = NULL, *arr, *o;
	__u64 now = wp_now_ns();
	struct peer_state ps;
	__u32 key;

	peers_fd = wp_open_pin(pin_path, "peers", err, errlen);
	if (peers_fd < 0)
		goto cleanup;
	ifaces_fd = wp_open_pin(pin_path, "ifaces", err, errlen);
	stats_fd = wp_open_pin(pin_path, "stats", err, errlen);
	unm_fd = wp_open_pin(pin_path, "unmatched", err, errlen);
	if (ifaces_fd < 0 || stats_fd < 0 || unm_fd < 0)
		goto cleanup;
	/* the datapath's per-CPU counts: the totals even when no agent folds them any more */
	pc_fd = wp_open_pin(pin_path, "peer_counters", err, errlen);
	if (pc_fd < 0)
		goto cleanup;

	/* optional: maps pinned by a warmpath without per-interface counters */
	ifc_fd = wp_open_pin(pin_path, "iface_counters", NULL, 0);
	root = json_object();
	json_object_set_new(root, "pin_path", json_string(pin_path));

	arr = json_array();
	WP_MAP_FOR_EACH_KEY(ifaces_fd, &key)
	{
		struct iface_cfg ic;

		if (bpf_map_lookup_elem(ifaces_fd, &key, &ic))
			continue;
		o = json_pack("{s:s, s:i, s:s, s:s, s:b}", "name", ic.name, "ifindex", (int)key,
			      "layout", ic.flags & WP_IF_L2 ? "l2" : "l3", "attach",
			      wp_attach_mode_name(ic.attach_mode), "underlay",
			      !!(ic.flags & WP_IF_UNDERLAY));
		iface_counters_json(o, ifc_fd, ic.slot);
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "interfaces", arr);

	arr = json_array();
	for (key = 0; key < WP_MAX_PEERS; key++) {
		struct peer_counters sum;

		if (bpf_map_lookup_elem(peers_fd, &key, &ps) || !ps.name[0])
			continue;
		if (!wp_peer_counters_read(pc_fd, &key, 1, &sum))
			wp_peer_counters_apply(&ps, &sum);
		json_array_append_new(arr, status_peer_json(&ps, key, now));
	}
	{
		int pfx_fd = wp_open_pin(pin_path, "prefixes", err, errlen);
		int src_fd = prefix_sources_open(pin_path, false);

		wp_peers_attach_prefixes(arr, pfx_fd, src_fd);
		if (pfx_fd >= 0)
			close(pfx_fd);
		if (src_fd >= 0)
			close(src_fd);
		err[0] = '\0';
	}
	json_object_set_new(root, "peers", arr);

	o = json_object();
	read = wp_stats_read(stats_fd, sums);
	for (key = 0; key < WP_STAT_MAX; key++)
		if (read & (1u << key))
			json_object_set_new(o, wp_stat_names[key], json_integer(sums[key]));
	json_object_set_new(root, "datapath", o);

	arr = json_array();
	{
		struct addr_key ak;
		struct unmatched_state us;
		char a[INET6_ADDRSTRLEN];

		WP_MAP_FOR_EACH_KEY(unm_fd, &ak)
		{
			if (bpf_map_lookup_elem(unm_fd, &ak, &us))
				continue;
			wp_addr16_format(ak.addr, a, sizeof(a));
			json_array_append_new(
				arr, json_pack("{s:s, s:I, s:I, s:I, s:I, s:f}", "address", a,
					       "tx_packets", (json_int_t)us.tx_packets,
					       "rx_packets", (json_int_t)us.rx_packets, "tx_bytes",
					       (json_int_t)us.tx_bytes, "rx_bytes",
					       (json_int_t)us.rx_bytes, "last_seen_seconds_ago",
					       wp_age_s(now, us.last_seen_ns)));
		}
	}
	json_object_set_new(root, "unmatched", arr);
	{
		char wgerr[256];
		json_t *wg = wg_status_json_from_pins(pin_path, wgerr, sizeof(wgerr));

		if (wg) /* NULL: maps pinned by a warmpath without wg_endpoints */
			json_object_set_new(root, "wireguard", wg);
	}
cleanup:
	if (peers_fd >= 0)
		close(peers_fd);
	if (ifaces_fd >= 0)
		close(ifaces_fd);
	if (stats_fd >= 0)
		close(stats_fd);
	if (unm_fd >= 0)
		close(unm_fd);
	if (pc_fd >= 0)
		close(pc_fd);
	if (ifc_fd >= 0)
		close(ifc_fd);
	return root;
}

/* An age field of a peer object; -1 (never) when null. */
static double age_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : -1;
}

/* "21.0s trial" and "28.5-33.2s" (or "-" without evidence) for the table. */
static void status_interval(json_t *o, char *iv, size_t ivlen, char *life, size_t lifelen)
{
	json_t *v = json_object_get(o, "keepalive_interval_seconds"),
	       *lo = json_object_get(o, "lifetime_lower_seconds"),
	       *hi = json_object_get(o, "lifetime_upper_seconds");
	const char *src = json_string_value(json_object_get(o, "interval_source"));
	const char *done = json_is_true(json_object_get(o, "lifetime_converged")) ? " learned" : "";

	if (json_is_number(v))
		snprintf(iv, ivlen, "%.1fs %s", json_number_value(v), src ? src : "");
	else
		snprintf(iv, ivlen, "-");
	if (json_is_number(lo) && json_is_number(hi))
		snprintf(life, lifelen, "%.1f-%.1fs%s", json_number_value(lo),
			 json_number_value(hi), done);
	else if (json_is_number(lo))
		snprintf(life, lifelen, ">=%.1fs%s", json_number_value(lo), done);
	else if (json_is_number(hi))
		snprintf(life, lifelen, "<%.1fs%s", json_number_value(hi), done);
	else
		snprintf(life, lifelen, "-");
}

static void print_table(json_t *root)
{
	json_t *arr, *o;
	size_t i;

	arr = json_object_get(root, "interfaces");
	printf("interfaces:");
	if (!json_array_size(arr))
		printf(" none attached");
	json_array_foreach(arr, i, o) {
		printf(" %s(%s,%s)", json_string_value(json_object_get(o, "name")),
		       json_string_value(json_object_get(o, "layout")),
		       json_string_value(json_object_get(o, "attach")));
	}
	/* per-device detail: a packet crossing stacked devices counts on each, once per peer */
	if (json_array_size(arr))
		printf("\npackets per interface:");
	json_array_foreach(arr, i, o) {
		if (json_object_get(o, "tx_packets") &&
		    !json_is_true(json_object_get(o, "underlay")))
			printf(" %s tx %lld rx %lld", json_string_value(json_object_get(o, "name")),
			       json_integer_value(json_object_get(o, "tx_packets")),
			       json_integer_value(json_object_get(o, "rx_packets")));
	}
	printf("\n\n%-24s %10s %10s %12s %12s %8s %8s %7s %7s %7s %5s %5s %6s %-15s %s\n", "PEER",
	       "TX_PKTS", "RX_PKTS", "TX_BYTES", "RX_BYTES", "PRB_TX", "PRB_RX", "IDLE", "LAST_TX",
	       "LAST_RX", "COLD", "FPD", "BYPASS", "INTERVAL", "LIFETIME");
	arr = json_object_get(root, "peers");
	json_array_foreach(arr, i, o) {
		char idle[16], ltx[16], lrx[16], iv[32], life[48];

		wp_format_age(age_of(o, "idle_seconds"), idle, sizeof(idle));
		wp_format_age(age_of(o, "last_tx_seconds_ago"), ltx, sizeof(ltx));
		wp_format_age(age_of(o, "last_rx_seconds_ago"), lrx, sizeof(lrx));
		status_interval(o, iv, sizeof(iv), life, sizeof(life));
		printf("%-24s %10lld %10lld %12lld %12lld %8lld %8lld %7s %7s %7s %5lld %5lld %6lld "
		       "%-15s %s\n",
		       json_string_value(json_object_get(o, "name")),
		       json_integer_value(json_object_get(o, "tx_packets")),
		       json_integer_value(json_object_get(o, "rx_packets")),
		       json_integer_value(json_object_get(o, "tx_bytes")),
		       json_integer_value(json_object_get(o, "rx_bytes")),
		       json_integer_value(json_object_get(o, "tx_probe_packets")),
		       json_integer_value(json_object_get(o, "rx_probe_packets")), idle, ltx, lrx,
		       json_integer_value(json_object_get(o, "cold_starts")),
		       json_integer_value(json_object_get(o, "first_packet_drops")),
		       json_integer_value(json_object_get(o, "probes_bypassed")), iv, life);
	}
	if (!json_array_size(arr))
		printf("(no peers)\n");
	arr = json_object_get(root, "unmatched");
	if (json_array_size(arr))
		printf("\n%zu address(es) matched no peer (see --json)\n", json_array_size(arr));
	wg_status_print(json_object_get(root, "wireguard"), stdout);
}

static void status_usage(FILE *f)
{
	fprintf(f,
		"Usage: warmpath status [--pin-path DIR] [--json]\n"
		"\n"
		"Per-peer table read from the pinned maps; works while the agent runs and after\n"
		"it exits.\n"
		"\n"
		"  --pin-path DIR   bpffs directory of the maps (default " WP_DEFAULT_PIN_PATH ";\n"
		"                   env WARMPATH_PIN_PATH)\n"
		"  --json           one JSON document instead of the table\n"
		"\n"
		"Examples:\n"
		"  warmpath status\n"
		"  warmpath status --json | jq '.peers[] | {name, idle_seconds}'\n");
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-path", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *pin_path = getenv("WARMPATH_PIN_PATH");
	bool json = false;
	char err[512];
	json_t *root;
	int opt;

	if (!pin_path || !*pin_path)
		pin_path = WP_DEFAULT_PIN_PATH;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			pin_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			status_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "warmpath status: bad option '%s'\n", argv[optind - 1]);
			status_usage(stderr);
			return 2;
		}
	}
	root = status_json_from_pins(pin_path, err, sizeof(err));
	if (!root) {
		fprintf(stderr, "warmpath status: %s\n", err);
		return 1;
	}
	if (json) {
		json_dumpf(root, stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		print_table(root);
	}
	json_decref(root);
	return 0;
}
