// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>
#include <jansson.h>
#include "log.h"

static bool log_json;
static int log_verbosity; /* 0: info, 1: debug, 2: debug + libbpf debug */

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_setup(bool json, int verbosity)
{
	log_json = json;
	log_verbosity = verbosity;
}

bool log_is_json(void)
{
	return log_json;
}

/*
 * One line: text "TS LEVEL MSG", or JSON {"ts","level","msg"} plus the members
 * of `fields` (which this consumes) for machine-readable events.
 */
static void log_line(enum log_level level, json_t *fields, const char *fmt, va_list ap)
{
	char msg[1024], ts[96];
	struct timespec now;
	struct tm tm;
	size_t len;

	if (level == LOG_DEBUG && log_verbosity < 1) {
		json_decref(fields);
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 now.tv_nsec / 1000000);

	if (log_json) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "ts", ts, "level", level_names[level],
				      "msg", msg);
		char *line;

		if (o && fields)
			json_object_update(o, fields);
		line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (line)
			fprintf(stderr, "%s\n", line);
		free(line);
		json_decref(o);
	} else {
		fprintf(stderr, "%s %-5s %s\n", ts, level_names[level], msg);
	}
	json_decref(fields);
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	log_line(level, NULL, fmt, ap);
}

void log_fields(enum log_level level, json_t *fields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(level, fields, fmt, ap);
	va_end(ap);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && log_verbosity < 2)
		return 0;
	if (level == LIBBPF_INFO && log_verbosity < 1)
		return 0;
	/* netlink extack of tc queries on interfaces without clsact: expected, not news */
	if (level == LIBBPF_WARN && log_verbosity < 1 && strstr(fmt, "Kernel error message"))
		return 0;
	log_vmsg(level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG, fmt, ap);
	return 0;
}

void log_hook_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
