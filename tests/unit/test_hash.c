/* SPDX-License-Identifier: MIT */
/*
 * The keyed hash of client-chosen names (store/hash.h): SipHash-2-4
 * against the reference test vectors (key 00..0f, message 00..len-1), a
 * process key drawn at start (not the zero key), and a key that matters:
 * the same names hash differently under another key, so a guest cannot
 * precompute colliding names for this daemon's tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/hash.h"
#include "store/path.h"

static void test_reference_vectors(void **state)
{
	static const struct {
		size_t len;
		uint64_t out;
	} v[] = {
		{ 0, 0x726fdb47dd0e0e31ull },
		{ 1, 0x74f839c593dc67fdull },
		{ 15, 0xa129ca6149be45e5ull },
	};
	uint8_t key[16], msg[64];
	size_t i;

	(void)state;
	for (i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_true(mxs_siphash24(key, msg, v[i].len) == v[i].out);
}

static void test_process_key(void **state)
{
	static const uint8_t zero[16];

	(void)state;
	/* The constructor drew a key: not the all-zero one (2^-64 chance
	 * of a false failure). */
	assert_true(mxs_hash("", 0) != mxs_siphash24(zero, "", 0));
	/* Stable within the process. */
	assert_true(mxs_path_hash("/local/domain/7", 15) ==
		    mxs_path_hash("/local/domain/7", 15));
	assert_true(mxs_path_hash("/local/domain/7", 15) ==
		    mxs_hash("/local/domain/7", 15));
}

static void test_key_matters(void **state)
{
	uint8_t k1[16] = { 1 }, k2[16] = { 2 };
	char name[64];
	unsigned int i, same = 0, same_bucket = 0;

	(void)state;
	for (i = 0; i < 1000; i++) {
		int n = snprintf(name, sizeof(name), "/local/domain/%u/data", i);
		uint64_t a = mxs_siphash24(k1, name, (size_t)n);
		uint64_t b = mxs_siphash24(k2, name, (size_t)n);

		same += a == b;
		same_bucket += (a & 1023) == (b & 1023);
	}
	assert_int_equal(same, 0);
	/* Bucket indices are unrelated across keys (~1 in 1024 agree). */
	assert_true(same_bucket < 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_vectors),
		cmocka_unit_test(test_process_key),
		cmocka_unit_test(test_key_matters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
