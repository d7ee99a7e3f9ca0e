/* SPDX-License-Identifier: MIT */
/* Node name validation and canonicalisation (store/path.h). */
#include "unit.h"

#include "mxs/protocol.h"
#include "store/path.h"

#define REL MXS_REL_PATH_MAX

/* A path of exactly `len` bytes: prefix then "/xxxx..." components. */
static char *make_path(const char *prefix, size_t len)
{
	char *p = malloc(len + 1);
	size_t i = strlen(prefix);

	assert_non_null(p);
	assert_true(i < len);
	memcpy(p, prefix, i);
	for (; i < len; i++)
		p[i] = (i % 64 == 0) ? '/' : 'x';
	if (p[len - 1] == '/')
		p[len - 1] = 'y';
	p[len] = '\0';
	assert_int_equal(strlen(p), len);
	return p;
}

static void test_valid_chars(void **state)
{
	(void)state;
	assert_true(mxs_path_valid("/", false, REL));
	assert_true(mxs_path_valid("/a", false, REL));
	assert_true(mxs_path_valid("/Az09-_/b", false, REL));
	assert_true(mxs_path_valid("/local/domain/1/device/vif/0", false,
				   REL));
	/* '@' is a valid character inside a name (C daemon's set). */
	assert_true(mxs_path_valid("/a@b", false, REL));

	assert_false(mxs_path_valid("", false, REL));
	assert_false(mxs_path_valid("", true, REL));
	assert_false(mxs_path_valid("a", false, REL));
	assert_false(mxs_path_valid("a/b", true, REL));
	assert_false(mxs_path_valid("/a b", false, REL));
	assert_false(mxs_path_valid("/a.b", false, REL));
	assert_false(mxs_path_valid("/a:b", false, REL));
	assert_false(mxs_path_valid("/a\nb", false, REL));
	assert_false(mxs_path_valid("/\xc3\xa9", false, REL));
	assert_false(mxs_path_valid("/a//b", false, REL));
	assert_false(mxs_path_valid("//", false, REL));
	assert_false(mxs_path_valid("//a", false, REL));
	assert_false(mxs_path_valid("/a/", false, REL));
	assert_false(mxs_path_valid("/a/b/", false, REL));
}

static void test_valid_special(void **state)
{
	(void)state;
	assert_false(mxs_path_valid("@introduceDomain", false, REL));
	assert_true(mxs_path_valid("@introduceDomain", true, REL));
	assert_true(mxs_path_valid("@releaseDomain", true, REL));
	assert_false(mxs_path_valid("@bad name", true, REL));
	assert_false(mxs_path_valid("@x/", true, REL));
}

static void test_valid_abs_limit(void **state)
{
	char *ok = make_path("/a", MXS_ABS_PATH_MAX);
	char *big = make_path("/a", MXS_ABS_PATH_MAX + 1);

	(void)state;
	/* rel_max 0: only the absolute limit applies. */
	assert_true(mxs_path_valid(ok, false, 0));
	assert_false(mxs_path_valid(big, false, 0));
	/* Outside /local/domain/<id>/ the whole name counts as relative. */
	assert_false(mxs_path_valid(ok, false, REL));
	free(ok);
	free(big);
}

static void test_valid_rel_limit(void **state)
{
	static const char pfx[] = "/local/domain/12/";
	size_t plen = sizeof(pfx) - 1;
	char *ok = make_path(pfx, plen + REL);
	char *big = make_path(pfx, plen + REL + 1);
	char *plain_ok = make_path("/x", REL);
	char *plain_big = make_path("/x", REL + 1);

	(void)state;
	/* The part below /local/domain/<id>/ is limited to rel_max. */
	assert_true(mxs_path_valid(ok, false, REL));
	assert_false(mxs_path_valid(big, false, REL));
	assert_true(mxs_path_valid(big, false, REL + 1));
	assert_true(mxs_path_valid(big, false, 0));
	/* Elsewhere the whole name is. */
	assert_true(mxs_path_valid(plain_ok, false, REL));
	assert_false(mxs_path_valid(plain_big, false, REL));
	/* A small per-domain limit (quota path-max). */
	assert_true(mxs_path_valid("/local/domain/3/abcd", false, 4));
	assert_false(mxs_path_valid("/local/domain/3/abcde", false, 4));
	assert_false(mxs_path_valid("/local/abcde", false, 4));

	assert_int_equal(mxs_path_domain_prefix("/local/domain/12/x"), plen);
	assert_int_equal(mxs_path_domain_prefix("/local/domain/12"), 0);
	assert_int_equal(mxs_path_domain_prefix("/local/domain/x/y"), 0);
	assert_int_equal(mxs_path_domain_prefix("/tool/x"), 0);
	free(ok);
	free(big);
	free(plain_ok);
	free(plain_big);
}

static void test_canonical(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(mxs_path_canonical("/a/b", 7, out, sizeof(out)), 0);
	assert_string_equal(out, "/a/b");
	assert_int_equal(mxs_path_canonical("device/vif", 7, out, sizeof(out)),
			 0);
	assert_string_equal(out, "/local/domain/7/device/vif");
	assert_int_equal(mxs_path_canonical("x", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "/local/domain/0/x");
	assert_int_equal(mxs_path_canonical("@releaseDomain", 7, out,
					    sizeof(out)),
			 0);
	assert_string_equal(out, "@releaseDomain");
	/* Does not fit: "/local/domain/7/x" is 17 bytes + NUL. */
	assert_int_equal(mxs_path_canonical("x", 7, out, 17), -EINVAL);
	assert_int_equal(mxs_path_canonical("x", 7, out, 18), 0);
	assert_string_equal(out, "/local/domain/7/x");
	assert_int_equal(mxs_path_canonical("/abc", 7, out, 4), -EINVAL);
	assert_int_equal(mxs_path_canonical("/abc", 7, out, 5), 0);
	assert_string_equal(out, "/abc");
	/* Every digit of the widest domids. */
	assert_int_equal(mxs_path_canonical("a", 32752, out, sizeof(out)), 0);
	assert_string_equal(out, "/local/domain/32752/a");
	assert_int_equal(mxs_path_canonical("a", 4294967295u, out,
					    sizeof(out)), 0);
	assert_string_equal(out, "/local/domain/4294967295/a");
	assert_int_equal(mxs_path_canonical("a", 10, out, sizeof(out)), 0);
	assert_string_equal(out, "/local/domain/10/a");
}

static void test_is_child(void **state)
{
	(void)state;
	assert_true(mxs_path_is_child("/a/b", "/a"));
	assert_true(mxs_path_is_child("/a/b/c", "/a"));
	assert_true(mxs_path_is_child("/a", "/a"));
	assert_true(mxs_path_is_child("/a", "/"));
	assert_true(mxs_path_is_child("/", "/"));
	assert_true(mxs_path_is_child("@introduceDomain", "/"));
	assert_false(mxs_path_is_child("/ab", "/a"));
	assert_false(mxs_path_is_child("/a", "/a/b"));
	assert_false(mxs_path_is_child("/b/a", "/a"));
}

static void test_parent_len(void **state)
{
	(void)state;
	assert_int_equal(mxs_path_parent_len("/a/b", 4), 2);
	assert_int_equal(mxs_path_parent_len("/a", 2), 1);
	assert_int_equal(mxs_path_parent_len("/", 1), 1);
	assert_int_equal(mxs_path_parent_len("/abc/def/g", 10), 8);
	/* len limits the name considered: parent of "/abc/def" */
	assert_int_equal(mxs_path_parent_len("/abc/def/g", 8), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_chars),
		cmocka_unit_test(test_valid_special),
		cmocka_unit_test(test_valid_abs_limit),
		cmocka_unit_test(test_valid_rel_limit),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_is_child),
		cmocka_unit_test(test_parent_len),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
