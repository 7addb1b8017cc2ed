// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `warmpath run` flags and WARMPATH_* variables (user/cli/config.c): the
 * input is NUL-separated words; words of the form WARMPATH_X=v become the
 * environment, the others argv. Whatever config_parse_run() accepts must
 * be a usable configuration (strings terminated, ports and intervals in
 * range).
 */
#include <getopt.h>
#include <stdio.h>
#include "config.h"
#include "fuzz.h"

#define MAX_WORDS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = fuzz_strndup(data, size), *argv[MAX_WORDS + 2], *envs[MAX_WORDS];
	int argc = 0, nenv = 0;
	struct wp_config cfg;
	size_t i = 0;

	argv[argc++] = "run";
	while (i < size && argc < MAX_WORDS + 1) {
		char *w = copy + i;
		size_t n = strlen(w);

		if (!strncmp(w, "WARMPATH_", 9) && strchr(w, '=') && nenv < MAX_WORDS) {
			*strchr(w, '=') = '\0';
			setenv(w, w + strlen(w) + 1, 1);
			envs[nenv++] = w;
		} else {
			argv[argc++] = w;
		}
		i += n + 1;
	}
	argv[argc] = NULL;
	/*
	 * getopt keeps a pointer into the last argv it scanned; the agent parses
	 * once, the fuzzer again and again with argv freed in between: reset it
	 * (optind 0 reinitialises glibc's getopt) so that is not reported.
	 */
	{
		static char *none[] = { "reset", NULL };

		optind = 0;
		while (getopt(1, none, "") != -1)
			;
	}
	if (config_parse_run(argc, argv, &cfg) == 0) {
		FUZZ_CHECK(memchr(cfg.node_name, '\0', sizeof(cfg.node_name)));
		FUZZ_CHECK(memchr(cfg.metrics_listen, '\0', sizeof(cfg.metrics_listen)));
		FUZZ_CHECK(memchr(cfg.pin_path, '\0', sizeof(cfg.pin_path)));
		FUZZ_CHECK(cfg.keepalive_interval > 0 && cfg.probe_timeout_ms > 0);
		/* auto: a usable range, UDP probes in idle mode, MIN the base interval */
		FUZZ_CHECK(!cfg.keepalive_auto ||
			   (cfg.auto_min >= 0.5 && cfg.auto_min < cfg.auto_max &&
			    cfg.auto_max <= 3600 && cfg.probe == WP_PROBE_UDP &&
			    cfg.mode == WP_MODE_IDLE && cfg.keepalive_interval == cfg.auto_min));
		FUZZ_CHECK(cfg.trial_idle >= 0 && cfg.trial_every >= 0);
	}
	config_free(&cfg);
	for (int e = 0; e < nenv; e++)
		unsetenv(envs[e]);
	free(copy);
	return 0;
}
