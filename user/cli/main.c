// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* warmpath: eBPF-assisted keep-alive agent for tunnels over WireGuard. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "loader.h"
#include "log.h"
#include "status.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: warmpath COMMAND [OPTIONS]\n"
		   "\n"
		   "eBPF-assisted keep-alive for tunnels (IPIP / VXLAN) over WireGuard: counts\n"
		   "traffic per peer node in the kernel and probes only the paths that went idle.\n"
		   "\n"
		   "Commands:\n"
		   "  run       the agent, in the foreground until SIGTERM/SIGINT\n"
		   "  status    per-peer table from the pinned maps (while running and after)\n"
		   "  cleanup   detach warmpath's programs and remove its pins, nothing else\n"
		   "  version   print the version\n"
		   "\n"
		   "'warmpath COMMAND --help' for the options of each.\n"
		   "\n"
		   "Examples:\n"
		   "  warmpath run --interface wg0 --peer node-b=10.0.0.2 --mode observe\n"
		   "  warmpath status --json\n"
		   "  bpftool map dump pinned " WP_DEFAULT_PIN_PATH "/peers\n"
		   "  warmpath cleanup\n");
}

static void cleanup_usage(FILE *f)
{
	fprintf(f,
		"Usage: warmpath cleanup [--pin-path DIR] [-v]\n"
		"\n"
		"Detach warmpath's tc/tcx programs (recorded under the pin path) and remove its\n"
		"pinned maps and links. Foreign filters, links and pins are left alone. Run it in\n"
		"the network namespace the agent ran in.\n"
		"\n"
		"  --pin-path DIR   default " WP_DEFAULT_PIN_PATH " (env WARMPATH_PIN_PATH)\n"
		"  -v, --verbose    list what was removed\n");
}

static int cmd_cleanup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-path", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *pin_path = getenv("WARMPATH_PIN_PATH");
	bool verbose = false;
	int opt, n;

	if (!pin_path || !*pin_path)
		pin_path = WP_DEFAULT_PIN_PATH;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			pin_path = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			cleanup_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "warmpath cleanup: bad option '%s'\n", argv[optind - 1]);
			cleanup_usage(stderr);
			return 2;
		}
	}
	log_hook_libbpf();
	n = wp_cleanup(pin_path, verbose);
	if (n < 0)
		return 1;
	printf("warmpath cleanup: removed %d pin(s) under %s\n", n, pin_path);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("warmpath %s (libbpf %s)\n", WARMPATH_VERSION, libbpf_version_string());
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(cmd, "cleanup"))
		return cmd_cleanup(argc - 1, argv + 1);
	fprintf(stderr, "warmpath: unknown command '%s'\n\n", cmd);
	usage(stderr);
	return 2;
}
