/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared bits of the libFuzzer targets in selftests/fuzz/ (see README.md
 * there): each fuzz_<target>.c defines LLVMFuzzerTestOneInput() over one
 * parser of user/; a target that needs a parser's static functions includes
 * that .c file and is linked without its object (FUZZ_OWN_<target> in the
 * Makefile).
 */
#ifndef __WARMPATH_FUZZ_H
#define __WARMPATH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated malloc'd copy of data (NULL bytes inside stay: the string ends there). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A crash the harness found itself (an invariant, not a sanitizer report). */
#define FUZZ_CHECK(cond)                                                                    \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, \
				__LINE__);                                                  \
			abort();                                                            \
		}                                                                           \
	} while (0)

#endif /* __WARMPATH_FUZZ_H */
