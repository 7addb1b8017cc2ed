// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `--keepalive-interval S|auto[:MIN-MAX]` and the lifetime trial options. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"

static int seconds(const char *s, const char **end, double *out)
{
	char *e;

	errno = 0;
	*out = strtod(s, &e);
	*end = e;
	return errno || e == s || !isfinite(*out) ? -1 : 0;
}

int config_parse_keepalive(struct wp_config *cfg, const char *arg)
{
	const char *end;
	double lo = 5, hi = 120;

	if (strncmp(arg, "auto", 4)) {
		if (seconds(arg, &end, &cfg->keepalive_interval) || *end ||
		    cfg->keepalive_interval < 0.1 || cfg->keepalive_interval > 86400)
			goto bad;
		cfg->keepalive_auto = false;
		return 0;
	}
	if (arg[4] == ':') {
		if (seconds(arg + 5, &end, &lo) || *end != '-' || seconds(end + 1, &end, &hi) ||
		    *end)
			goto bad;
	} else if (arg[4]) {
		goto bad;
	}
	if (lo < 0.5 || hi > 3600 || lo >= hi) {
		fprintf(stderr,
			"warmpath run: --keepalive-interval '%s': want auto:MIN-MAX with 0.5 <= MIN "
			"< MAX <= 3600 seconds\n",
			arg);
		return -1;
	}
	cfg->keepalive_auto = true;
	cfg->auto_min = lo;
	cfg->auto_max = hi;
	/* what the rest of the agent sizes itself by (responder rate, WireGuard keepalive) */
	cfg->keepalive_interval = lo;
	return 0;
bad:
	fprintf(stderr,
		"warmpath run: --keepalive-interval '%s': want seconds (0.1 to 86400), 'auto' or "
		"'auto:MIN-MAX' (e.g. auto:5-120)\n",
		arg);
	return -1;
}

int config_check_keepalive(const struct wp_config *cfg)
{
	if (!cfg->keepalive_auto)
		return 0;
	if (cfg->probe != WP_PROBE_UDP || cfg->mode != WP_MODE_IDLE) {
		fprintf(stderr,
			"warmpath run: --keepalive-interval auto needs --probe udp and --mode "
			"idle (trials are agreed between the agents over UDP probes)\n");
		return -1;
	}
	return 0;
}
