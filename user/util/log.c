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
 * Length of the valid UTF-8 sequence at s (at most n bytes): 1..4, or 0 when
 * the bytes there are not one (a stray continuation byte, a sequence cut short,
 * an overlong form, a surrogate, a code point past U+10FFFF).
 */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Copy src (len bytes) into dst (size >= 4 * len + 1) so that nothing in it
 * can break the line or the JSON around it: every byte that is not part of a
 * valid UTF-8 sequence, and every control character (newlines, escapes, DEL),
 * becomes the four characters \xNN. Valid UTF-8 passes unchanged.
 */
size_t log_escape(char *dst, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, n;

	while (i < len) {
		n = utf8_seq_len(s + i, len - i);
		if (n == 1 && s[i] >= 0x20 && s[i] != 0x7f) {
			dst[o++] = s[i++];
		} else if (n > 1) {
			memcpy(dst + o, s + i, n);
			o += n;
			i += n;
		} else {
			o += sprintf(dst + o, "\\x%02x", s[i++]);
		}
	}
	dst[o] = '\0';
	return o;
}

/*
 * One line: text "TS LEVEL MSG", or JSON {"ts","level","msg"} plus the members
 * of `fields` (which this consumes) for machine-readable events. The message
 * is escaped (log_escape()) so that no input can drop the line or forge
 * another one; a message longer than the buffer is cut and marked.
 */
static void log_line(enum log_level level, json_t *fields, const char *fmt, va_list ap)
{
	static const char cut_mark[] = " [truncated]";
	char msg[1024], safe[4 * sizeof(msg) + sizeof(cut_mark)], ts[96];
	struct timespec now;
	struct tm tm;
	bool cut;
	int ret;
	size_t len;

	if (level == LOG_DEBUG && log_verbosity < 1) {
		json_decref(fields);
		return;
	}
	ret = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (ret < 0)
		ret = snprintf(msg, sizeof(msg), "(unformattable message: %s)", fmt);
	cut = (size_t)ret >= sizeof(msg);
	len = cut ? sizeof(msg) - 1 : (size_t)ret;
	while (len && msg[len - 1] == '\n')
		len--;
	len = log_escape(safe, msg, len);
	if (cut)
		memcpy(safe + len, cut_mark, sizeof(cut_mark));

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 now.tv_nsec / 1000000);

	if (log_json) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "ts", ts, "level", level_names[level],
				      "msg", safe);
		char *line;

		if (o && fields)
			json_object_update(o, fields);
		line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (line)
			fprintf(stderr, "%s\n", line);
		else /* out of memory: still one line, and still JSON */
			fprintf(stderr,
				"{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"(log line lost)\"}\n",
				ts, level_names[level]);
		free(line);
		json_decref(o);
	} else {
		fprintf(stderr, "%s %-5s %s\n", ts, level_names[level], safe);
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
