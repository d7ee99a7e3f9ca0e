/* SPDX-License-Identifier: MIT */
/* Every store operation outside transactions (store/store.h). */
#include "unit.h"

/* Asserts change i is (path, exact) and, when perms is not NULL, that
 * its recorded permissions format as perms ("" for none recorded). */
static void assert_change(const struct mxs_changes *ch, size_t i,
			  const char *path, bool exact, const char *perms)
{
	assert_true(i < ch->n);
	assert_string_equal(ch->v[i].path, path);
	assert_int_equal(ch->v[i].exact, exact);
	if (perms) {
		struct mxs_buf b = { 0 };
		char *s;

		assert_int_equal(mxs_perms_format(&b, ch->v[i].perms,
						  ch->v[i].nperms),
				 0);
		s = unit_join(&b, ',');
		assert_string_equal(s, perms);
		free(s);
		mxs_buf_free(&b);
	}
}

static void test_initial_store(void **state)
{
	struct mxs_store *st = *state;

	assert_int_equal(unit_nodes(st), 3);
	assert_dir(st, NULL, &dom0, "/", "tool");
	assert_dir(st, NULL, &dom0, "/tool", "xenstored");
	assert_dir(st, NULL, &dom0, "/tool/xenstored", "");
	assert_value(st, NULL, &dom0, "/", "");
	assert_value(st, NULL, &dom0, "/tool/xenstored", "");
	assert_perms(st, NULL, &dom0, "/", "n0");
	assert_perms(st, NULL, &dom0, "/tool", "n0");
	assert_perms(st, NULL, &dom0, "/tool/xenstored", "n0");
	assert_int_equal(mxs_store_domain_nodes(st, 0), 3);
	unit_check(st);
}

static void test_write_read(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_buf b = { 0 };

	/* Creates /a and /a/b as empty intermediate nodes. */
	assert_int_equal(mxs_store_write(st, NULL, &dom0, "/a/b/c", "v1", 2,
					 &ch),
			 0);
	assert_int_equal(ch.n, 1);
	assert_change(&ch, 0, "/a/b/c", false, "");
	assert_null(ch.v[0].perms);
	unit_changes_free(&ch);
	assert_int_equal(unit_nodes(st), 6);
	assert_value(st, NULL, &dom0, "/a/b/c", "v1");
	assert_value(st, NULL, &dom0, "/a/b", "");
	assert_value(st, NULL, &dom0, "/a", "");
	assert_dir(st, NULL, &dom0, "/", "tool,a");
	assert_dir(st, NULL, &dom0, "/a", "b");
	assert_dir(st, NULL, &dom0, "/a/b", "c");

	/* Overwrite: same node, new value, one change. */
	assert_int_equal(mxs_store_write(st, NULL, &dom0, "/a/b/c", "xyz", 3,
					 &ch),
			 0);
	assert_int_equal(ch.n, 1);
	assert_change(&ch, 0, "/a/b/c", false, "");
	unit_changes_free(&ch);
	assert_value(st, NULL, &dom0, "/a/b/c", "xyz");
	assert_int_equal(unit_nodes(st), 6);

	/* Values are bytes: embedded NULs and empty values survive. */
	assert_int_equal(mxs_store_write(st, NULL, &dom0, "/bin", "a\0b", 3,
					 &ch),
			 0);
	assert_int_equal(mxs_store_read(st, NULL, &dom0, "/bin", &b), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.p, "a\0b", 3);
	mxs_buf_reset(&b);
	assert_int_equal(mxs_store_write(st, NULL, &dom0, "/bin", "", 0, &ch),
			 0);
	assert_int_equal(mxs_store_read(st, NULL, &dom0, "/bin", &b), 0);
	assert_int_equal(b.len, 0);
	/* Output is appended to what the buffer holds. */
	assert_int_equal(mxs_buf_add(&b, "pre", 3), 0);
	assert_int_equal(mxs_store_read(st, NULL, &dom0, "/a/b/c", &b), 0);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.p, "prexyz", 6);
	mxs_buf_free(&b);
	unit_changes_free(&ch);

	assert_read_err(st, NULL, &dom0, "/missing", -ENOENT);
	assert_read_err(st, NULL, &dom0, "/missing/deeper", -ENOENT);
	unit_check(st);
}

static void test_write_inherits_perms(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_caller d5 = domu(5);

	unit_write(st, "/p", "");
	unit_set_perms(st, "/p", "n0,b5,r6");

	/* dom0 creating: inherits the parent's list as is. */
	unit_write(st, "/p/byzero/x", "0");
	assert_perms(st, NULL, &dom0, "/p/byzero", "n0,b5,r6");
	assert_perms(st, NULL, &dom0, "/p/byzero/x", "n0,b5,r6");

	/* An unprivileged writer owns what it creates, parents included;
	 * the rest of the list is inherited. */
	assert_int_equal(mxs_store_domain_nodes(st, 5), 0);
	assert_int_equal(mxs_store_write(st, NULL, &d5, "/p/q/r", "x", 1, &ch),
			 0);
	assert_int_equal(ch.n, 1);
	assert_change(&ch, 0, "/p/q/r", false, "");
	unit_changes_free(&ch);
	assert_perms(st, NULL, &dom0, "/p/q", "n5,b5,r6");
	assert_perms(st, NULL, &dom0, "/p/q/r", "n5,b5,r6");
	assert_int_equal(mxs_store_domain_nodes(st, 5), 2);
	/* Overwriting does not change ownership. */
	assert_int_equal(mxs_store_write(st, NULL, &d5, "/p/byzero/x", "5", 1,
					 &ch),
			 0);
	unit_changes_free(&ch);
	assert_perms(st, NULL, &dom0, "/p/byzero/x", "n0,b5,r6");
	assert_value(st, NULL, &d5, "/p/byzero/x", "5");
	assert_int_equal(mxs_store_domain_nodes(st, 5), 2);
	assert_int_equal(mxs_store_domain_nodes(st, 0), 3 + 3);
	unit_check(st);
}

static void test_mkdir(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_caller d5 = domu(5);

	assert_int_equal(mxs_store_mkdir(st, NULL, &dom0, "/m/n", &ch), 0);
	assert_int_equal(ch.n, 1);
	assert_change(&ch, 0, "/m/n", false, "");
	unit_changes_free(&ch);
	assert_value(st, NULL, &dom0, "/m/n", "");
	assert_dir(st, NULL, &dom0, "/m", "n");
	assert_int_equal(unit_nodes(st), 5);

	/* Existing node: fine, nothing changes, nothing reported. */
	unit_write(st, "/m/n", "keep");
	assert_int_equal(mxs_store_mkdir(st, NULL, &dom0, "/m/n", &ch), 0);
	assert_int_equal(ch.n, 0);
	assert_value(st, NULL, &dom0, "/m/n", "keep");
	assert_int_equal(unit_nodes(st), 5);

	/* No write access to the parent. */
	assert_int_equal(mxs_store_mkdir(st, NULL, &d5, "/m/x", &ch), -EACCES);
	assert_int_equal(ch.n, 0);
	unit_set_perms(st, "/m", "n0,w5");
	assert_int_equal(mxs_store_mkdir(st, NULL, &d5, "/m/x", &ch), 0);
	assert_int_equal(ch.n, 1);
	unit_changes_free(&ch);
	assert_perms(st, NULL, &dom0, "/m/x", "n5,w5");
	/* mkdir of an existing node one cannot write: EACCES. */
	assert_int_equal(mxs_store_mkdir(st, NULL, &d5, "/m/n", &ch), -EACCES);
	unit_changes_free(&ch);
	unit_check(st);
}

static void test_rm(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	size_t i;

	unit_write(st, "/r/a/b", "1");
	unit_write(st, "/r/a/c", "2");
	unit_write(st, "/r/d", "3");
	unit_write(st, "/keep", "k");
	unit_set_perms(st, "/r/a/b", "n0,r3");
	unit_set_perms(st, "/r/a/c", "b4");
	assert_int_equal(unit_nodes(st), 3 + 6);

	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/r", &ch), 0);
	/* Descendants first (exact), the removed node last (not exact);
	 * every change carries the node's permissions. */
	assert_int_equal(ch.n, 5);
	assert_change(&ch, 4, "/r", false, "n0");
	for (i = 0; i < 4; i++) {
		const char *p = ch.v[i].path;
		size_t j;

		assert_true(ch.v[i].exact);
		assert_non_null(ch.v[i].perms);
		/* A node's descendants come before it. */
		for (j = i + 1; j < ch.n; j++)
			assert_false(strncmp(ch.v[j].path, p, strlen(p)) == 0 &&
				     ch.v[j].path[strlen(p)] == '/');
		if (strcmp(p, "/r/a/b") == 0)
			assert_change(&ch, i, p, true, "n0,r3");
		else if (strcmp(p, "/r/a/c") == 0)
			assert_change(&ch, i, p, true, "b4");
		else if (strcmp(p, "/r/a") == 0 || strcmp(p, "/r/d") == 0)
			assert_change(&ch, i, p, true, "n0");
		else
			fail_msg("unexpected change %s", p);
	}
	unit_changes_free(&ch);
	assert_int_equal(unit_nodes(st), 4);
	assert_read_err(st, NULL, &dom0, "/r", -ENOENT);
	assert_read_err(st, NULL, &dom0, "/r/a/b", -ENOENT);
	assert_dir(st, NULL, &dom0, "/", "tool,keep");
	assert_int_equal(mxs_store_domain_nodes(st, 3), 0);
	assert_int_equal(mxs_store_domain_nodes(st, 4), 0);
	assert_int_equal(mxs_store_domain_nodes(st, 0), 4);

	/* Missing node whose parent exists: success, nothing reported. */
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/keep/none", &ch), 0);
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/r", &ch), 0);
	assert_int_equal(ch.n, 0);
	/* Missing parent: ENOENT. */
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/r/x", &ch), -ENOENT);
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/no/such/node", &ch),
			 -ENOENT);
	/* The root cannot be removed. */
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/", &ch), -EINVAL);
	assert_int_equal(ch.n, 0);
	assert_int_equal(unit_nodes(st), 4);

	/* A leaf: one change, not exact. */
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/keep", &ch), 0);
	assert_int_equal(ch.n, 1);
	assert_change(&ch, 0, "/keep", false, "n0");
	unit_changes_free(&ch);
	/* Removing then recreating gives a fresh, empty node. */
	unit_write(st, "/r/a", "new");
	assert_dir(st, NULL, &dom0, "/r/a", "");
	assert_value(st, NULL, &dom0, "/r", "");
	unit_check(st);
}

static void test_rm_perms(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_caller d5 = domu(5);

	unit_write(st, "/w/x", "1");
	unit_set_perms(st, "/w", "n0,r5");
	unit_set_perms(st, "/w/x", "n0,r5");
	assert_int_equal(mxs_store_rm(st, NULL, &d5, "/w/x", &ch), -EACCES);
	/* Missing node, parent readable but not writable: EACCES (the
	 * C daemon asks the parent for the right it needed). */
	assert_int_equal(mxs_store_rm(st, NULL, &d5, "/w/y", &ch), -EACCES);
	unit_set_perms(st, "/w", "n0,w5");
	/* Parent writable but not readable: missing is fine. */
	assert_int_equal(mxs_store_rm(st, NULL, &d5, "/w/y", &ch), 0);
	assert_int_equal(ch.n, 0);
	unit_set_perms(st, "/w/x", "n0,b5");
	assert_int_equal(mxs_store_rm(st, NULL, &d5, "/w/x", &ch), 0);
	assert_int_equal(ch.n, 1);
	unit_changes_free(&ch);
	assert_read_err(st, NULL, &dom0, "/w/x", -ENOENT);
	/* Read-only dom0 cannot remove. */
	assert_int_equal(mxs_store_rm(st, NULL, &dom0_ro, "/w", &ch), -EACCES);
	assert_int_equal(ch.n, 0);
	unit_check(st);
}

static void test_directory_order(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	int rc;

	unit_write(st, "/d/zeta", "");
	unit_write(st, "/d/alpha", "");
	unit_write(st, "/d/mid/x", "");
	unit_write(st, "/d/beta", "");
	assert_dir(st, NULL, &dom0, "/d", "zeta,alpha,mid,beta");
	/* Rewriting does not reorder; removal and recreation moves last. */
	unit_write(st, "/d/zeta", "again");
	assert_dir(st, NULL, &dom0, "/d", "zeta,alpha,mid,beta");
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/d/alpha", &ch), 0);
	unit_changes_free(&ch);
	unit_write(st, "/d/alpha", "");
	assert_dir(st, NULL, &dom0, "/d", "zeta,mid,beta,alpha");
	assert_null(unit_dir(st, NULL, &dom0, "/d/none", &rc));
	assert_int_equal(rc, -ENOENT);
}

static void test_perms_ops(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_caller d5 = domu(5), d6 = domu(6), d7 = domu(7);
	struct mxs_perm p[3];
	int rc;

	unit_write(st, "/o", "val");
	unit_set_perms(st, "/o", "n5,r6,b7");
	assert_perms(st, NULL, &d5, "/o", "n5,r6,b7");
	assert_perms(st, NULL, &d6, "/o", "n5,r6,b7");
	assert_int_equal(mxs_store_domain_nodes(st, 5), 1);

	/* Owner may change the list but not the owner (XSA-352). */
	p[0] = (struct mxs_perm){ 5, MXS_PERM_READ };
	p[1] = (struct mxs_perm){ 6, MXS_PERM_WRITE };
	assert_int_equal(mxs_store_set_perms(st, NULL, &d5, "/o", p, 2, &ch),
			 0);
	assert_int_equal(ch.n, 1);
	/* The change carries the permissions before the change. */
	assert_change(&ch, 0, "/o", false, "n5,r6,b7");
	unit_changes_free(&ch);
	assert_perms(st, NULL, &dom0, "/o", "r5,w6");
	assert_value(st, NULL, &dom0, "/o", "val");
	p[0] = (struct mxs_perm){ 6, MXS_PERM_READ };
	assert_int_equal(mxs_store_set_perms(st, NULL, &d5, "/o", p, 1, &ch),
			 -EPERM);
	assert_int_equal(ch.n, 0);
	assert_perms(st, NULL, &dom0, "/o", "r5,w6");

	/* Write access without ownership is not enough. */
	unit_set_perms(st, "/o", "n5,b6");
	p[0] = (struct mxs_perm){ 5, MXS_PERM_READ };
	assert_int_equal(mxs_store_set_perms(st, NULL, &d6, "/o", p, 1, &ch),
			 -EACCES);
	/* Neither is being unnamed. */
	assert_int_equal(mxs_store_set_perms(st, NULL, &d7, "/o", p, 1, &ch),
			 -EACCES);
	assert_int_equal(ch.n, 0);
	/* Unreadable for d7: get_perms fails too. */
	assert_null(unit_perms(st, NULL, &d7, "/o", &rc));
	assert_int_equal(rc, -EACCES);

	/* Privileged callers may give the node away. */
	p[0] = (struct mxs_perm){ 7, MXS_PERM_NONE };
	assert_int_equal(mxs_store_set_perms(st, NULL, &dom0, "/o", p, 1, &ch),
			 0);
	unit_changes_free(&ch);
	assert_perms(st, NULL, &d7, "/o", "n7");
	assert_int_equal(mxs_store_domain_nodes(st, 5), 0);
	assert_int_equal(mxs_store_domain_nodes(st, 7), 1);
	/* Read-only dom0 may not. */
	p[0] = (struct mxs_perm){ 0, MXS_PERM_NONE };
	assert_int_equal(mxs_store_set_perms(st, NULL, &dom0_ro, "/o", p, 1,
					     &ch),
			 -EACCES);
	/* Missing node. */
	assert_int_equal(mxs_store_set_perms(st, NULL, &dom0, "/nope", p, 1,
					     &ch),
			 -ENOENT);
	assert_int_equal(ch.n, 0);
	unit_check(st);
}

static void test_access_errors(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_caller d5 = domu(5);
	struct mxs_buf b = { 0 };
	int rc;

	unit_write(st, "/secret/inner", "s");
	unit_write(st, "/pub/inner", "p");
	unit_write(st, "/open", "o");
	unit_set_perms(st, "/pub", "r0");
	unit_set_perms(st, "/pub/inner", "r0");
	unit_set_perms(st, "/open", "b0");

	/* "/" is n0: nothing readable for d5. */
	assert_read_err(st, NULL, &d5, "/", -EACCES);
	assert_read_err(st, NULL, &d5, "/secret", -EACCES);
	assert_read_err(st, NULL, &d5, "/secret/inner", -EACCES);
	assert_null(unit_dir(st, NULL, &d5, "/secret", &rc));
	assert_int_equal(rc, -EACCES);
	assert_int_equal(mxs_store_directory_part(st, NULL, &d5, "/secret", 0,
						  4096, &b),
			 -EACCES);
	/* A missing node under an unreadable parent: EACCES, not ENOENT
	 * (its existence is not the caller's business). */
	assert_read_err(st, NULL, &d5, "/secret/none", -EACCES);
	assert_read_err(st, NULL, &d5, "/secret/none/deeper", -EACCES);
	assert_read_err(st, NULL, &d5, "/nothing", -EACCES);
	/* Under a readable parent: ENOENT. */
	assert_value(st, NULL, &d5, "/pub", "");
	assert_value(st, NULL, &d5, "/pub/inner", "p");
	assert_read_err(st, NULL, &d5, "/pub/none", -ENOENT);
	assert_read_err(st, NULL, &d5, "/pub/none/deeper", -ENOENT);

	/* Writes need write access on the node, or on the nearest existing
	 * ancestor to create it. */
	assert_int_equal(mxs_store_write(st, NULL, &d5, "/pub/inner", "x", 1,
					 &ch),
			 -EACCES);
	assert_int_equal(mxs_store_write(st, NULL, &d5, "/pub/new", "x", 1,
					 &ch),
			 -EACCES);
	assert_int_equal(mxs_store_write(st, NULL, &d5, "/secret/new/x", "x",
					 1, &ch),
			 -EACCES);
	assert_int_equal(mxs_store_write(st, NULL, &d5, "/top", "x", 1, &ch),
			 -EACCES);
	assert_int_equal(ch.n, 0);
	assert_int_equal(unit_nodes(st), 3 + 5);
	assert_value(st, NULL, &dom0, "/pub/inner", "p");

	/* The readonly flag strips write even from dom0. */
	assert_int_equal(mxs_store_write(st, NULL, &dom0_ro, "/open", "x", 1,
					 &ch),
			 -EACCES);
	assert_value(st, NULL, &dom0_ro, "/secret/inner", "s");

	/* A default of "b" lets anyone write, and create below. */
	assert_int_equal(mxs_store_write(st, NULL, &d5, "/open", "x", 1, &ch),
			 0);
	assert_int_equal(mxs_store_write(st, NULL, &d5, "/open/a/b", "y", 1,
					 &ch),
			 0);
	unit_changes_free(&ch);
	assert_perms(st, NULL, &d5, "/open/a", "b5");
	assert_value(st, NULL, &d5, "/open", "x");
	mxs_buf_free(&b);
	unit_check(st);
}

static void test_check_and_accounting(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_caller d9 = domu(9);
	struct mxs_buf dump = { 0 };
	char path[64];
	int i;

	unit_write(st, "/local/domain/9", "");
	unit_set_perms(st, "/local/domain/9", "n9");
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/local/domain/9/n%d/leaf", i);
		assert_int_equal(mxs_store_write(st, NULL, &d9, path, "v", 1,
						 &ch),
				 0);
	}
	unit_changes_free(&ch);
	/* /local/domain/9 itself plus 2 per loop. */
	assert_int_equal(mxs_store_domain_nodes(st, 9), 41);
	assert_int_equal(mxs_store_domain_nodes(st, 0), 5);
	assert_int_equal(unit_nodes(st), 46);
	unit_check(st);

	assert_int_equal(mxs_store_rm(st, NULL, &d9, "/local/domain/9/n3",
				      &ch),
			 0);
	unit_changes_free(&ch);
	assert_int_equal(mxs_store_domain_nodes(st, 9), 39);
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/local", &ch), 0);
	unit_changes_free(&ch);
	assert_int_equal(mxs_store_domain_nodes(st, 9), 0);
	assert_int_equal(mxs_store_domain_nodes(st, 0), 3);
	assert_int_equal(unit_nodes(st), 3);
	unit_check(st);

	assert_int_equal(mxs_store_dump(st, &dump), 0);
	assert_int_equal(mxs_buf_add(&dump, "", 1), 0);
	assert_string_equal(dump.p, "/ = \"\" (n0)\n"
				    "/tool = \"\" (n0)\n"
				    "/tool/xenstored = \"\" (n0)\n");
	mxs_buf_free(&dump);
}

static void test_deep_tree(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	char path[3072];
	size_t len = 0;
	int depth = 0;

	/* A deep chain (XSA-418: nothing recurses on client depth). */
	while (len + 3 < 3000) {
		path[len++] = '/';
		path[len++] = 'd';
		depth++;
	}
	path[len] = '\0';
	assert_int_equal(mxs_store_write(st, NULL, &dom0, path, "deep", 4,
					 &ch),
			 0);
	unit_changes_free(&ch);
	assert_int_equal(unit_nodes(st), 3 + (uint64_t)depth);
	assert_value(st, NULL, &dom0, path, "deep");
	unit_check(st);
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/d", &ch), 0);
	assert_int_equal(ch.n, (size_t)depth);
	assert_string_equal(ch.v[0].path, path);
	assert_string_equal(ch.v[ch.n - 1].path, "/d");
	unit_changes_free(&ch);
	assert_int_equal(unit_nodes(st), 3);
	unit_check(st);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_store_setup, \
					     unit_store_teardown)
	const struct CMUnitTest tests[] = {
		T(test_initial_store),
		T(test_write_read),
		T(test_write_inherits_perms),
		T(test_mkdir),
		T(test_rm),
		T(test_rm_perms),
		T(test_directory_order),
		T(test_perms_ops),
		T(test_access_errors),
		T(test_check_and_accounting),
		T(test_deep_tree),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
