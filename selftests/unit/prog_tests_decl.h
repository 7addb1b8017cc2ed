/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Declarations of every test_<name>() of prog_tests.h, for tests that run others. */
#ifndef __WARMPATH_PROG_TESTS_DECL_H
#define __WARMPATH_PROG_TESTS_DECL_H

#define TEST(name) void test_##name(void);
#define TEST_WEAK(name) void test_##name(void) __attribute__((weak));
#include "prog_tests.h"
#undef TEST
#undef TEST_WEAK

#endif /* __WARMPATH_PROG_TESTS_DECL_H */
