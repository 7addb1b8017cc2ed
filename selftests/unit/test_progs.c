// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_progs: runs the unit tests listed in prog_tests.h, or the
 * benchmark with --bench.
 *
 *	test_progs [-v|-vv] [-l] [-t FILTER] [--bench]
 *
 * FILTER is `test` or `test/subtest`; each part matches as a substring, or as
 * a shell glob when it contains one of *?[. Output per test is `#N name:OK`
 * (or FAIL, or SKIP when the filter left none of its subtests), per subtest
 * `#N/M name/sub:OK|FAIL`. The closing line `P passed, F failed` counts
 * units: every subtest, every test without subtests, and a test whose asserts
 * failed outside its subtests counts one more failure. Exit status 1 when any
 * unit failed.
 */
#include <fnmatch.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <bpf/libbpf.h>
#include "test_progs.h"

/* The tests: prog_tests.h, included once for the prototypes, once for the table. */
#define TEST(name) void test_##name(void);
#define TEST_WEAK(name) void test_##name(void) __attribute__((weak));
#include "prog_tests.h"
#undef TEST
#undef TEST_WEAK

struct prog_test {
	const char *name;
	void (*run)(void); /* NULL: a TEST_WEAK whose file is not linked in */
};

static const struct prog_test prog_tests[] = {
#define TEST(name) { #name, test_##name },
#define TEST_WEAK(name) { #name, test_##name },
#include "prog_tests.h"
#undef TEST
#undef TEST_WEAK
};

struct test_env env;

/* The running test and subtest. */
static struct {
	int num;
	const char *name;
	bool failed_outside; /* an assert failed outside any subtest */
	bool any_failed;
	int subtest_num; /* position of the current subtest, counting filtered-out ones */
	int subtests_run;
	char *subtest_name; /* running subtest, NULL outside one */
	bool subtest_failed;
} cur;

static char *filter_test, *filter_subtest;
static int units_passed, units_failed;

static bool name_matches(const char *pattern, const char *name)
{
	if (!pattern || !*pattern)
		return true;
	if (strpbrk(pattern, "*?["))
		return fnmatch(pattern, name, 0) == 0;
	return strstr(name, pattern) != NULL;
}

static void end_subtest(void)
{
	if (!cur.subtest_name)
		return;
	printf("#%d/%d %s/%s:%s\n", cur.num, cur.subtest_num, cur.name, cur.subtest_name,
	       cur.subtest_failed ? "FAIL" : "OK");
	if (cur.subtest_failed)
		units_failed++;
	else
		units_passed++;
	free(cur.subtest_name);
	cur.subtest_name = NULL;
}

bool test__start_subtest(const char *name)
{
	end_subtest();
	cur.subtest_num++;
	if (!name_matches(filter_subtest, name))
		return false;
	cur.subtests_run++;
	cur.subtest_name = strdup(name);
	cur.subtest_failed = false;
	if (!cur.subtest_name) {
		test__fail();
		return false;
	}
	return true;
}

void test__fail(void)
{
	cur.any_failed = true;
	if (cur.subtest_name)
		cur.subtest_failed = true;
	else
		cur.failed_outside = true;
}

static void print_prefix(void)
{
	if (cur.subtest_name)
		printf("%s/%s: ", cur.name, cur.subtest_name);
	else if (cur.name)
		printf("%s: ", cur.name);
}

void test__printf(const char *fmt, ...)
{
	va_list ap;

	print_prefix();
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

bool test__assert_report(bool ok, const char *file, int line, const char *name, const char *fmt,
			 ...)
{
	va_list ap;

	if (ok && !env.verbose)
		return true;
	print_prefix();
	if (ok) {
		printf("%s:PASS\n", name);
		return true;
	}
	test__fail();
	va_start(ap, fmt);
	test__print_failure(file, line, name, fmt, ap);
	va_end(ap);
	return false;
}

static void run_test(int num, const struct prog_test *t)
{
	const char *verdict;

	memset(&cur, 0, sizeof(cur));
	cur.num = num;
	cur.name = t->name;
	t->run();
	end_subtest();

	if (!cur.subtests_run) {
		/* No subtests ran: the test is one unit (or all were filtered out). */
		if (filter_subtest && !cur.any_failed) {
			verdict = "SKIP";
		} else {
			verdict = cur.any_failed ? "FAIL" : "OK";
			if (cur.any_failed)
				units_failed++;
			else
				units_passed++;
		}
	} else {
		verdict = cur.any_failed ? "FAIL" : "OK";
		if (cur.failed_outside)
			units_failed++;
	}
	printf("#%d %s:%s\n", num, t->name, verdict);
	fflush(stdout);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !env.very_verbose)
		return 0;
	if (level == LIBBPF_INFO && !env.verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"Usage: %s [-v|-vv] [-l] [-t TEST[/SUBTEST]] [--bench]\n"
		"  -v          print passing asserts too (-vv: libbpf debug output)\n"
		"  -t FILTER   run matching tests / subtests (substring, or glob with *?[)\n"
		"  -l          list the tests\n"
		"  --bench     run the datapath benchmark instead of the tests\n"
		"  --bench-kube  run the 5,000-node discovery benchmark instead of the tests\n",
		prog);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "bench", no_argument, NULL, 'b' },
		{ "bench-kube", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{},
	};
	bool bench = false, bench_kube = false, list = false;
	char *filter = NULL, *slash;
	size_t i;
	int opt;

	while ((opt = getopt_long(argc, argv, "bhlt:v", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			bench = true;
			break;
		case 'k':
			bench_kube = true;
			break;
		case 'l':
			list = true;
			break;
		case 't':
			filter = optarg;
			break;
		case 'v':
			if (env.verbose)
				env.very_verbose = true;
			env.verbose = true;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr, argv[0]);
		return 2;
	}

	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	libbpf_set_print(libbpf_print);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (bench)
		return bench_main() ? 1 : 0;
	if (bench_kube)
		return bench_kube_main() ? 1 : 0;

	if (filter) {
		filter_test = filter;
		slash = strchr(filter, '/');
		if (slash) {
			*slash = '\0';
			filter_subtest = slash + 1;
		}
	}

	for (i = 0; i < sizeof(prog_tests) / sizeof(prog_tests[0]); i++) {
		if (!name_matches(filter_test, prog_tests[i].name))
			continue;
		if (list) {
			printf("%s\n", prog_tests[i].name);
			continue;
		}
		if (!prog_tests[i].run) {
			printf("#%zu %s:SKIP (not linked in)\n", i + 1, prog_tests[i].name);
			continue;
		}
		run_test(i + 1, &prog_tests[i]);
	}
	if (list)
		return 0;

	printf("%d passed, %d failed\n", units_passed, units_failed);
	return units_failed ? 1 : 0;
}
