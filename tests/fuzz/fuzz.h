/* SPDX-License-Identifier: MIT */
/* What the libFuzzer targets share: a failed check aborts, so that
 * libFuzzer saves the input. */
#ifndef MXS_TESTS_FUZZ_FUZZ_H
#define MXS_TESTS_FUZZ_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                       \
	do {                                                           \
		if (!(c)) {                                            \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, \
				#c);                                   \
			abort();                                       \
		}                                                      \
	} while (0)

#endif
