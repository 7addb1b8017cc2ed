/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Assertions and checks several test files share. */
#ifndef __WARMPATH_TEST_HELPERS_H
#define __WARMPATH_TEST_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#define PROMTOOL "/usr/bin/promtool"

bool assert_text(const char *got, const char *want, const char *name);
bool assert_contains(const char *hay, const char *needle, const char *name);
int count_occurrences(const char *hay, const char *needle);
int promtool_check(const char *text, bool quiet);
/* xorshift64*: the same pseudo-random sequence from @state on every machine, unlike rand(). */
uint64_t test_prng(uint64_t *state);

#endif /* __WARMPATH_TEST_HELPERS_H */
