// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * user/util/log.c: no input loses a log line or forges one. A message with a
 * cut multi-byte UTF-8 sequence (a node name truncated by a peer) still
 * appears in JSON mode, escaped, and the line parses (jansson, and jq when
 * installed); control characters never break a text line.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "log.h"
#include "test_progs.h"

#define ASSERT_STREQ(got, want, name)                                               \
	test__assert_report(strcmp((got), (want)) == 0, __FILE__, __LINE__, (name), \
			    "got=\"%s\" want=\"%s\"", (got), (want))

/* Run fn with stderr sent to a temporary file; returns what it wrote (malloc'd). */
static char *capture_stderr(void (*fn)(void), char *path, size_t path_len)
{
	int saved, fd;
	char *out = NULL;
	FILE *f;
	long len;

	snprintf(path, path_len, "/tmp/warmpath-test-log.%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	out = calloc(1, len + 1);
	if (out && fread(out, 1, len, f) != (size_t)len) {
		free(out);
		out = NULL;
	}
	fclose(f);
	return out;
}

static void log_bad_utf8(void)
{
	log_setup(true, 0);
	/* "café" with its last character cut after the first byte */
	log_info("node %s joined", "caf\xc3");
	/* a lone continuation byte, an overlong '/', a surrogate, and a newline */
	log_warn("peer %s", "a\x80"
			    "b\xc0\xaf"
			    "c\xed\xa0\x80"
			    "d\ne");
	log_setup(false, 0);
}

static void log_text_controls(void)
{
	log_setup(false, 0);
	log_info("name %s end", "x\nFAKE error forged\x1b[31m\x7f");
	log_info("caf\xc3\xa9 ok");
}

static void log_long(void)
{
	char big[3000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* the cut falls in the middle of a two-byte sequence */
	big[1022] = (char)0xc3;
	big[1023] = (char)0xa9;
	log_setup(true, 0);
	log_info("%s", big);
	log_setup(false, 0);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Each line of out must be a JSON object; returns the msg of line idx. */
static const char *json_line_msg(const char *out, int idx, json_t **keep)
{
	const char *line = out;
	char buf[8192];
	const char *nl;
	json_error_t err;

	while (idx-- > 0 && (nl = strchr(line, '\n')))
		line = nl + 1;
	nl = strchr(line, '\n');
	if (!nl || (size_t)(nl - line) >= sizeof(buf))
		return NULL;
	memcpy(buf, line, nl - line);
	buf[nl - line] = '\0';
	*keep = json_loads(buf, 0, &err);
	if (!*keep)
		return NULL;
	return json_string_value(json_object_get(*keep, "msg"));
}

static bool jq_parses(const char *path)
{
	char cmd[512];

	if (system("command -v jq >/dev/null 2>&1") != 0)
		return true; /* jansson above already parsed every line */
	snprintf(cmd, sizeof(cmd), "jq -e -c .msg %s >/dev/null 2>&1", path);
	return system(cmd) == 0;
}

void test_log_escape(void)
{
	char path[128];
	json_t *j0 = NULL, *j1 = NULL;
	const char *msg;
	char *out;

	if (test__start_subtest("json_invalid_utf8")) {
		out = capture_stderr(log_bad_utf8, path, sizeof(path));
		if (ASSERT_OK_PTR(out, "capture")) {
			ASSERT_EQ(count_lines(out), 2, "two_lines");
			msg = json_line_msg(out, 0, &j0);
			if (ASSERT_OK_PTR(msg, "line0_json"))
				ASSERT_STREQ(msg, "node caf\\xc3 joined", "line0_msg");
			msg = json_line_msg(out, 1, &j1);
			if (ASSERT_OK_PTR(msg, "line1_json"))
				ASSERT_STREQ(msg, "peer a\\x80b\\xc0\\xafc\\xed\\xa0\\x80d\\x0ae",
					     "line1_msg");
			ASSERT_TRUE(jq_parses(path), "jq_parses");
			json_decref(j0);
			json_decref(j1);
			j0 = j1 = NULL;
		}
		free(out);
		unlink(path);
	}
	if (test__start_subtest("text_controls")) {
		out = capture_stderr(log_text_controls, path, sizeof(path));
		if (ASSERT_OK_PTR(out, "capture")) {
			ASSERT_EQ(count_lines(out), 2, "no_forged_line");
			ASSERT_OK_PTR(
				strstr(out, "name x\\x0aFAKE error forged\\x1b[31m\\x7f end\n"),
				"escaped");
			ASSERT_OK_PTR(strstr(out, "caf\xc3\xa9 ok\n"), "utf8_kept");
		}
		free(out);
		unlink(path);
	}
	if (test__start_subtest("json_truncated")) {
		out = capture_stderr(log_long, path, sizeof(path));
		if (ASSERT_OK_PTR(out, "capture")) {
			ASSERT_EQ(count_lines(out), 1, "one_line");
			msg = json_line_msg(out, 0, &j0);
			if (ASSERT_OK_PTR(msg, "json")) {
				ASSERT_OK_PTR(strstr(msg, "aaa\\xc3 [truncated]"), "cut_marked");
				ASSERT_EQ(strlen(msg), 1022 + 4 + 12, "length");
			}
			ASSERT_TRUE(jq_parses(path), "jq_parses");
			json_decref(j0);
		}
		free(out);
		unlink(path);
	}
}
