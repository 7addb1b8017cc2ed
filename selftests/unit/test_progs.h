/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small test harness in the spirit of the kernel's tools/testing/selftests/bpf
 * test_progs: tests are plain functions listed in a table (test_progs.c), may
 * split into subtests with test__start_subtest(), and check with bool-returning
 * ASSERT_*() macros that print `name:FAIL got=... want=...` on failure (and
 * `name:PASS` with -v) and let the test carry on.
 *
 *	void test_foo(void)
 *	{
 *		if (test__start_subtest("ipv4_tcp")) {
 *			if (!ASSERT_OK(do_it(), "do_it"))
 *				return;
 *		}
 *	}
 */
#ifndef __WARMPATH_TEST_PROGS_H
#define __WARMPATH_TEST_PROGS_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct test_env {
	bool verbose; /* -v: print passing asserts too */
	bool very_verbose; /* -vv: libbpf debug output as well */
};

extern struct test_env env;

/*
 * Begin a subtest of the running test; returns false when the -t filter
 * excludes it (the caller then skips its body). Ends the previous subtest.
 */
bool test__start_subtest(const char *name);
/* Mark the running test (and subtest) failed; the asserts call this. */
void test__fail(void);
/* A message on stdout prefixed with the current test / subtest name. */
void test__printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A failed assert's line: "name:FAIL <message> (file:line)". */
static inline void test__print_failure(const char *file, int line, const char *name,
				       const char *fmt, va_list ap)
{
	printf("%s:FAIL ", name);
	vprintf(fmt, ap);
	printf(" (%s:%d)\n", file, line);
}

/* Print the outcome of one assert; returns ok. */
bool test__assert_report(bool ok, const char *file, int line, const char *name, const char *fmt,
			 ...) __attribute__((format(printf, 5, 6)));

#define ASSERT_TRUE(cond, name)                                                                \
	({                                                                                     \
		bool ___ok = !!(cond);                                                         \
		test__assert_report(___ok, __FILE__, __LINE__, (name), "got=false want=true"); \
	})

#define ASSERT_FALSE(cond, name)                                                               \
	({                                                                                     \
		bool ___ok = !(cond);                                                          \
		test__assert_report(___ok, __FILE__, __LINE__, (name), "got=true want=false"); \
	})

/* "==" reads better as "want=1" than "want==1". */
static inline const char *test__op_str(const char *op)
{
	return strcmp(op, "==") ? op : "=";
}

/* Integer comparisons: both sides are compared (and printed) as long long. */
#define ASSERT_CMP(got, want, op, name)                                                         \
	({                                                                                      \
		long long ___got = (long long)(got);                                            \
		long long ___want = (long long)(want);                                          \
		test__assert_report(___got op ___want, __FILE__, __LINE__, (name),              \
				    "got=%lld want%s%lld", ___got, test__op_str(#op), ___want); \
	})

#define ASSERT_EQ(got, want, name) ASSERT_CMP(got, want, ==, name)
#define ASSERT_NEQ(got, want, name) ASSERT_CMP(got, want, !=, name)
#define ASSERT_GE(got, want, name) ASSERT_CMP(got, want, >=, name)
#define ASSERT_GT(got, want, name) ASSERT_CMP(got, want, >, name)
#define ASSERT_LE(got, want, name) ASSERT_CMP(got, want, <=, name)
#define ASSERT_LT(got, want, name) ASSERT_CMP(got, want, <, name)

/* A 0-or-negative-errno return: 0 passes. */
#define ASSERT_OK(err, name)                                                  \
	({                                                                    \
		long long ___err = (long long)(err);                          \
		test__assert_report(___err == 0, __FILE__, __LINE__, (name),  \
				    "got=%lld (%s) want=0", ___err,           \
				    strerror(___err < 0 ? -___err : ___err)); \
	})

/* A pointer from libbpf (NULL with errno set on failure). */
#define ASSERT_OK_PTR(ptr, name)                                                       \
	({                                                                             \
		const void *___ptr = (ptr);                                            \
		int ___errno = errno;                                                  \
		test__assert_report(___ptr != NULL, __FILE__, __LINE__, (name),        \
				    "got=NULL (%s) want=pointer", strerror(___errno)); \
	})

/* Byte buffers: prints the first differing offset. */
#define ASSERT_MEMEQ(got, want, len, name)                                                     \
	({                                                                                     \
		const unsigned char *___g = (const void *)(got), *___w = (const void *)(want); \
		size_t ___len = (len), ___i = 0;                                               \
		while (___i < ___len && ___g[___i] == ___w[___i])                              \
			___i++;                                                                \
		test__assert_report(___i == ___len, __FILE__, __LINE__, (name),                \
				    "got[%zu]=0x%02x want[%zu]=0x%02x", ___i,                  \
				    ___i < ___len ? ___g[___i] : 0, ___i,                      \
				    ___i < ___len ? ___w[___i] : 0);                           \
	})

/* Benchmark entry point (bench.c), run by `test_progs --bench`. */
int bench_main(void);
/* Discovery at 5,000 nodes against a fake API server (bench/bench_kube.c). */
int bench_kube_main(void);
/* The drop tracer's cost per kernel drop (bench_drops.c), part of bench_main(). */
int bench_drops(void);

#endif /* __WARMPATH_TEST_PROGS_H */
