// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include "test_helpers.h"
#include "test_progs.h"

/* Exact text, with the first difference and both texts on failure. */
bool assert_text(const char *got, const char *want, const char *name)
{
	size_t i = 0;

	if (!got)
		return test__assert_report(false, __FILE__, __LINE__, name, "got=NULL");
	while (got[i] && got[i] == want[i])
		i++;
	if (got[i] == want[i])
		return test__assert_report(true, __FILE__, __LINE__, name, "equal");
	return test__assert_report(false, __FILE__, __LINE__, name,
				   "differs at offset %zu\n--- got:\n%s--- want:\n%s---", i, got,
				   want);
}

bool assert_contains(const char *hay, const char *needle, const char *name)
{
	return test__assert_report(hay && strstr(hay, needle), __FILE__, __LINE__, name,
				   "\"%s\" not in:\n%s", needle, hay ? hay : "(null)");
}

int count_occurrences(const char *hay, const char *needle)
{
	int n = 0;

	while (hay && (hay = strstr(hay, needle))) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* Exit status of `promtool check metrics` on @text; -1 if it could not run. */
int promtool_check(const char *text, bool quiet)
{
	FILE *p;
	int status;

	p = popen(quiet ? PROMTOOL " check metrics >/dev/null 2>&1" : PROMTOOL " check metrics",
		  "w");
	if (!p)
		return -1;
	fwrite(text, 1, strlen(text), p);
	status = pclose(p);
	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

uint64_t test_prng(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}
