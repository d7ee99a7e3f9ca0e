/* SPDX-License-Identifier: MIT */
/* The watch registry and the watch read check (store/watch.h). */
#include "unit.h"

#include "store/watch.h"

/* What mxs_watches_fire reported, as "owner:path:token:event;". */
struct fired {
	char s[1024];
	int n;
};

static void record(void *arg, const struct mxs_watch *w, const char *path)
{
	struct fired *f = arg;
	size_t l = strlen(f->s);

	snprintf(f->s + l, sizeof(f->s) - l, "%s:%s:%s:%s;",
		 (const char *)w->owner->ctx, w->path, mxs_watch_token(w),
		 mxs_watch_event_path(w, path));
	f->n++;
}

static int fire(struct mxs_watches *reg, const char *path, bool exact,
		struct fired *f)
{
	memset(f, 0, sizeof(*f));
	return mxs_watches_fire(reg, path, exact, record, f);
}

static void test_matching(void **state)
{
	struct mxs_watches *reg = mxs_watches_new();
	struct mxs_watch_owner o;
	struct fired f;
	static const char *const paths[] = { "/a/b/c", "/a/b", "/a", "/",
					     "/a/bc", "/a/b/c/d", "/x" };
	/* Distinct tokens: one owner's identical events are sent once
	 * (test_dedup). */
	static const char *const tokens[] = { "t", "t1", "t2", "t3",
					      "t4", "t5", "t6" };
	size_t i;

	(void)state;
	assert_non_null(reg);
	mxs_watch_owner_init(&o, "A", 1);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		assert_int_equal(mxs_watch_add(reg, &o, paths[i], tokens[i], 0),
				 0);
	assert_int_equal(mxs_watches_count(reg), 7);
	assert_int_equal(o.count, 7);

	/* Non-exact: the path and every ancestor, in watch creation order
	 * (one owner); not /a/bc (prefix of a name) nor /a/b/c/d. */
	assert_int_equal(fire(reg, "/a/b/c", false, &f), 4);
	assert_string_equal(f.s, "A:/a/b/c:t:/a/b/c;A:/a/b:t1:/a/b/c;"
				 "A:/a:t2:/a/b/c;A:/:t3:/a/b/c;");
	/* Exact: only the path itself. */
	assert_int_equal(fire(reg, "/a/b/c", true, &f), 1);
	assert_string_equal(f.s, "A:/a/b/c:t:/a/b/c;");
	assert_int_equal(fire(reg, "/a/bc", false, &f), 3);
	assert_string_equal(f.s,
			    "A:/a:t2:/a/bc;A:/:t3:/a/bc;A:/a/bc:t4:/a/bc;");
	assert_int_equal(fire(reg, "/y", false, &f), 1);
	assert_string_equal(f.s, "A:/:t3:/y;");
	assert_int_equal(fire(reg, "/y", true, &f), 0);
	assert_int_equal(fire(reg, "/", false, &f), 1);
	assert_int_equal(fire(reg, "/a/b/c/d/e", false, &f), 5);
	assert_int_equal(fire(reg, "/a/b/c/d/e", true, &f), 0);

	assert_int_equal(mxs_watch_remove_all(reg, &o), 7);
	assert_int_equal(mxs_watches_count(reg), 0);
	assert_int_equal(o.count, 0);
	assert_int_equal(fire(reg, "/a/b/c", false, &f), 0);
	mxs_watches_free(reg);
}

/* The C daemon sends an owner one event per (event path, token) for a
 * change, however many of its watches match; other owners get theirs. */
static void test_dedup(void **state)
{
	struct mxs_watches *reg = mxs_watches_new();
	struct mxs_watch_owner a, b;
	struct fired f;

	(void)state;
	mxs_watch_owner_init(&a, "A", 1);
	mxs_watch_owner_init(&b, "B", 2);
	assert_int_equal(mxs_watch_add(reg, &a, "/w", "T", 0), 0);
	assert_int_equal(mxs_watch_add(reg, &a, "/w/a", "T", 0), 0);
	assert_int_equal(mxs_watch_add(reg, &a, "/w/a", "U", 0), 0);
	assert_int_equal(mxs_watch_add(reg, &b, "/w/a", "T", 0), 0);
	assert_int_equal(fire(reg, "/w/a/y", false, &f), 3);
	assert_string_equal(f.s, "A:/w:T:/w/a/y;A:/w/a:U:/w/a/y;"
				 "B:/w/a:T:/w/a/y;");
	/* A relative watch reports another path: not a duplicate. */
	assert_int_equal(mxs_watch_add(reg, &a, "/local/domain/0/r", "T",
				       strlen("/local/domain/0")),
			 0);
	assert_int_equal(mxs_watch_add(reg, &a, "/local/domain/0", "T", 0),
			 0);
	assert_int_equal(fire(reg, "/local/domain/0/r", false, &f), 2);
	mxs_watch_remove_all(reg, &a);
	mxs_watch_remove_all(reg, &b);
	mxs_watches_free(reg);
}

static void test_special(void **state)
{
	struct mxs_watches *reg = mxs_watches_new();
	struct mxs_watch_owner o;
	struct fired f;

	(void)state;
	mxs_watch_owner_init(&o, "A", 1);
	assert_int_equal(mxs_watch_add(reg, &o, "@introduceDomain", "i", 0),
			 0);
	assert_int_equal(mxs_watch_add(reg, &o, "@releaseDomain", "r", 0), 0);
	assert_int_equal(mxs_watch_add(reg, &o, "/", "root", 0), 0);
	assert_int_equal(mxs_watch_add(reg, &o, "/local", "l", 0), 0);

	assert_int_equal(fire(reg, "@introduceDomain", false, &f), 2);
	assert_string_equal(f.s, "A:@introduceDomain:i:@introduceDomain;"
				 "A:/:root:@introduceDomain;");
	assert_int_equal(fire(reg, "@introduceDomain", true, &f), 1);
	assert_string_equal(f.s, "A:@introduceDomain:i:@introduceDomain;");
	assert_int_equal(fire(reg, "@releaseDomain", false, &f), 2);
	assert_string_equal(f.s, "A:@releaseDomain:r:@releaseDomain;"
				 "A:/:root:@releaseDomain;");
	/* A node change does not fire the special watches. */
	assert_int_equal(fire(reg, "/local/domain/1", false, &f), 2);
	assert_string_equal(f.s, "A:/:root:/local/domain/1;"
				 "A:/local:l:/local/domain/1;");
	mxs_watch_remove_all(reg, &o);
	mxs_watches_free(reg);
}

static void test_add_remove(void **state)
{
	struct mxs_watches *reg = mxs_watches_new();
	struct mxs_watch_owner a, b;
	struct fired f;

	(void)state;
	mxs_watch_owner_init(&a, "A", 1);
	mxs_watch_owner_init(&b, "B", 2);
	assert_int_equal(mxs_watch_add(reg, &a, "/p", "t", 0), 0);
	/* Same owner, path and token: EEXIST. */
	assert_int_equal(mxs_watch_add(reg, &a, "/p", "t", 0), -EEXIST);
	/* Any difference is another watch. */
	assert_int_equal(mxs_watch_add(reg, &a, "/p", "t2", 0), 0);
	assert_int_equal(mxs_watch_add(reg, &a, "/q", "t", 0), 0);
	assert_int_equal(mxs_watch_add(reg, &b, "/p", "t", 0), 0);
	assert_int_equal(mxs_watches_count(reg), 4);
	assert_int_equal(a.count, 3);

	assert_int_equal(mxs_watch_remove(reg, &a, "/p", "none"), -ENOENT);
	assert_int_equal(mxs_watch_remove(reg, &a, "/none", "t"), -ENOENT);
	assert_int_equal(mxs_watch_remove(reg, &a, "/p", "t"), 0);
	assert_int_equal(mxs_watch_remove(reg, &a, "/p", "t"), -ENOENT);
	assert_int_equal(mxs_watches_count(reg), 3);
	assert_int_equal(fire(reg, "/p", false, &f), 2);
	assert_string_equal(f.s, "A:/p:t2:/p;B:/p:t:/p;");
	/* Re-adding after removal works. */
	assert_int_equal(mxs_watch_add(reg, &a, "/p", "t", 0), 0);
	/* remove_all affects only its owner. */
	assert_int_equal(mxs_watch_remove_all(reg, &a), 3);
	assert_int_equal(mxs_watch_remove_all(reg, &a), 0);
	assert_int_equal(mxs_watches_count(reg), 1);
	assert_int_equal(fire(reg, "/p", false, &f), 1);
	assert_string_equal(f.s, "B:/p:t:/p;");
	assert_int_equal(mxs_watch_remove(reg, &b, "/p", "t"), 0);
	assert_int_equal(mxs_watches_count(reg), 0);
	mxs_watches_free(reg);
}

static void test_order(void **state)
{
	struct mxs_watches *reg = mxs_watches_new();
	struct mxs_watch_owner a, b, c;
	struct fired f;

	(void)state;
	/* Owner seq decides first, whatever the order of registration. */
	mxs_watch_owner_init(&a, "A", 10);
	mxs_watch_owner_init(&b, "B", 5);
	mxs_watch_owner_init(&c, "C", 7);
	assert_int_equal(mxs_watch_add(reg, &a, "/o/x", "a1", 0), 0);
	assert_int_equal(mxs_watch_add(reg, &b, "/o/x", "b1", 0), 0);
	assert_int_equal(mxs_watch_add(reg, &a, "/o", "a2", 0), 0);
	assert_int_equal(mxs_watch_add(reg, &c, "/", "c1", 0), 0);
	assert_int_equal(mxs_watch_add(reg, &b, "/", "b2", 0), 0);
	assert_int_equal(mxs_watch_add(reg, &a, "/o/x", "a3", 0), 0);
	assert_int_equal(fire(reg, "/o/x", false, &f), 6);
	assert_string_equal(f.s, "B:/o/x:b1:/o/x;B:/:b2:/o/x;"
				 "C:/:c1:/o/x;"
				 "A:/o/x:a1:/o/x;A:/o:a2:/o/x;A:/o/x:a3:/o/x;");
	mxs_watch_remove_all(reg, &a);
	mxs_watch_remove_all(reg, &b);
	mxs_watch_remove_all(reg, &c);
	mxs_watches_free(reg);
}

static void test_many(void **state)
{
	struct mxs_watches *reg = mxs_watches_new();
	struct mxs_watch_owner a;
	struct fired f;
	char path[64];
	int i;

	(void)state;
	/* Enough watches to grow the hash table; matching stays exact. */
	mxs_watch_owner_init(&a, "A", 1);
	for (i = 0; i < 2000; i++) {
		snprintf(path, sizeof(path), "/m/%d", i);
		assert_int_equal(mxs_watch_add(reg, &a, path, "t", 0), 0);
	}
	assert_int_equal(mxs_watches_count(reg), 2000);
	assert_int_equal(fire(reg, "/m/1234/x", false, &f), 1);
	assert_string_equal(f.s, "A:/m/1234:t:/m/1234/x;");
	assert_int_equal(fire(reg, "/m/12345", false, &f), 0);
	assert_int_equal(mxs_watch_remove(reg, &a, "/m/1999", "t"), 0);
	assert_int_equal(fire(reg, "/m/1999", false, &f), 0);
	assert_int_equal(mxs_watch_remove_all(reg, &a), 1999);
	mxs_watches_free(reg);
}

static void test_relative(void **state)
{
	struct mxs_watches *reg = mxs_watches_new();
	struct mxs_watch_owner a;
	struct fired f;
	static const char home[] = "/local/domain/7";

	(void)state;
	mxs_watch_owner_init(&a, "A", 1);
	/* A domain's relative watch "device": the home path and its '/'
	 * are cut from events. */
	assert_int_equal(mxs_watch_add(reg, &a, "/local/domain/7/device", "r",
				       sizeof(home) - 1),
			 0);
	assert_int_equal(mxs_watch_add(reg, &a, "/local/domain/7/device", "abs",
				       0),
			 0);
	assert_int_equal(fire(reg, "/local/domain/7/device/vif/0", false, &f),
			 2);
	assert_string_equal(f.s,
			    "A:/local/domain/7/device:r:device/vif/0;"
			    "A:/local/domain/7/device:abs:"
			    "/local/domain/7/device/vif/0;");
	assert_int_equal(fire(reg, "/local/domain/7/device", true, &f), 2);
	assert_string_equal(f.s, "A:/local/domain/7/device:r:device;"
				 "A:/local/domain/7/device:abs:"
				 "/local/domain/7/device;");
	mxs_watch_remove_all(reg, &a);
	mxs_watches_free(reg);
}

static void test_permitted(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_caller d5 = domu(5), d6 = domu(6);
	struct mxs_perm rd5[2] = { { 0, MXS_PERM_NONE },
				   { 5, MXS_PERM_READ } };
	struct mxs_perm none[1] = { { 0, MXS_PERM_NONE } };
	struct mxs_perm p[2];

	unit_write(st, "/w/readable", "");
	unit_write(st, "/w/hidden", "");
	unit_write(st, "/h/hidden", "");
	unit_set_perms(st, "/w", "n0,r5");
	unit_set_perms(st, "/w/readable", "n0,r5");
	unit_set_perms(st, "/w/hidden", "n0");
	unit_set_perms(st, "/h/hidden", "n0");

	/* dom0 sees everything. */
	assert_true(mxs_store_watch_permitted(st, &dom0, "/h/hidden", NULL,
					      0));
	/* Read on the node. */
	assert_true(mxs_store_watch_permitted(st, &d5, "/w/readable", NULL,
					      0));
	assert_false(mxs_store_watch_permitted(st, &d6, "/w/readable", NULL,
					       0));
	/* No read on the node but on its parent. */
	assert_true(mxs_store_watch_permitted(st, &d5, "/w/hidden", NULL, 0));
	/* Neither. */
	assert_false(mxs_store_watch_permitted(st, &d5, "/h/hidden", NULL,
					       0));
	assert_false(mxs_store_watch_permitted(st, &d5, "/h", NULL, 0));
	/* Removed nodes: the old permissions decide first... */
	assert_true(mxs_store_watch_permitted(st, &d5, "/h/gone", rd5, 2));
	assert_false(mxs_store_watch_permitted(st, &d6, "/h/gone", rd5, 2));
	/* ...then the parent. */
	assert_true(mxs_store_watch_permitted(st, &d5, "/w/gone", none, 1));
	assert_false(mxs_store_watch_permitted(st, &d5, "/h/gone", none, 1));
	/* Old permissions readable though the node now is not (permission
	 * change taking read away). */
	assert_true(mxs_store_watch_permitted(st, &d5, "/h/hidden", rd5, 2));

	/* Special names use their own permissions (n0 at start). */
	assert_true(mxs_store_watch_permitted(st, &dom0, "@introduceDomain",
					      NULL, 0));
	assert_false(mxs_store_watch_permitted(st, &d5, "@introduceDomain",
					       NULL, 0));
	assert_false(mxs_store_watch_permitted(st, &d5, "@releaseDomain",
					       NULL, 0));
	p[0] = (struct mxs_perm){ 0, MXS_PERM_NONE };
	p[1] = (struct mxs_perm){ 5, MXS_PERM_READ };
	assert_int_equal(mxs_store_set_special_perms(st, &d5,
						     "@introduceDomain", p, 2),
			 -EACCES);
	assert_int_equal(mxs_store_set_special_perms(st, &dom0, "@bogus", p,
						     2),
			 -ENOENT);
	assert_int_equal(mxs_store_set_special_perms(st, &dom0,
						     "@introduceDomain", p, 2),
			 0);
	assert_true(mxs_store_watch_permitted(st, &d5, "@introduceDomain",
					      NULL, 0));
	assert_false(mxs_store_watch_permitted(st, &d6, "@introduceDomain",
					       NULL, 0));
	assert_false(mxs_store_watch_permitted(st, &d5, "@releaseDomain",
					       NULL, 0));
	/* The node permissions of "/" do not matter for them. */
	unit_set_perms(st, "/", "r0");
	assert_false(mxs_store_watch_permitted(st, &d5, "@releaseDomain",
					       NULL, 0));
	assert_false(mxs_store_watch_permitted(st, &d5, "/h/gone", none, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_dedup),
		cmocka_unit_test(test_special),
		cmocka_unit_test(test_add_remove),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_relative),
		cmocka_unit_test_setup_teardown(test_permitted,
						unit_store_setup,
						unit_store_teardown),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
