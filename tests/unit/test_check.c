/* SPDX-License-Identifier: MIT */
/*
 * mxs_store_check (XS_CONTROL check, which every advisory and hostile
 * test runs at its end) finds each broken invariant: a store is built,
 * one invariant is broken in place, the check must fail naming it, and
 * once repaired pass again.  A check that passed on a broken store would
 * let those tests pass on a corrupted daemon.
 */
#include "tests/unit/unit.h"

#include "store/node.h"

/* The check fails and its report holds want. */
static void assert_broken(struct mxs_store *st, const char *want)
{
	struct mxs_buf rep = { 0 };
	char *text;

	assert_int_equal(mxs_store_check(st, &rep), -EIO);
	text = strndup(rep.p ? rep.p : "", rep.len);
	assert_non_null(text);
	if (!strstr(text, want))
		print_error("report lacks \"%s\": %s\n", want, text);
	assert_non_null(strstr(text, want));
	free(text);
	mxs_buf_free(&rep);
}

static struct mxs_node *node(struct mxs_store *st, const char *path)
{
	struct mxs_node *n = mxs_node_lookup(st, path, strlen(path));

	assert_non_null(n);
	return n;
}

static void build(struct mxs_store *st)
{
	unit_write(st, "/a/b/c", "1");
	unit_write(st, "/a/b/c", "2"); /* a second version */
	unit_write(st, "/a/d", "3");
	unit_set_perms(st, "/a/d", "n5");
	unit_check(st);
}

static void test_stamps(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_nodeval *v;
	uint64_t keep;

	build(st);
	v = node(st, "/a/b/c")->val;
	keep = v->seq;
	v->seq = st->seq + 1; /* installed by a commit still to come */
	assert_broken(st, "/a/b/c: sequence or generation out of order");
	v->seq = keep;
	keep = v->meta_gen;
	v->meta_gen = v->seq + 1; /* a value change after the version */
	assert_broken(st, "/a/b/c: sequence or generation out of order");
	v->meta_gen = keep;
	assert_non_null(v->older);
	keep = v->older->seq;
	v->older->seq = v->seq; /* the older version is as new */
	assert_broken(st, "/a/b/c: sequence or generation out of order");
	v->older->seq = keep;
	keep = node(st, "/a/b")->born;
	node(st, "/a/b")->born = node(st, "/a/b/c")->born + 1;
	assert_broken(st, "sequence or generation out of order");
	node(st, "/a/b")->born = keep;
	unit_check(st);
}

static void test_counts(void **state)
{
	struct mxs_store *st = *state;

	build(st);
	st->owned[5]++;
	assert_broken(st, "domain 5 owns 1 nodes, counted 2");
	st->owned[5]--;
	st->nodes++;
	assert_broken(st, "node count");
	st->nodes--;
	/* /a/d: 24 + 8 (one entry) + 1 (value) + 4 (path), owned by 5. */
	st->mem[5] += 3;
	assert_broken(st, "domain 5 holds 37 bytes, counted 40");
	st->mem[5] -= 3;
	unit_check(st);
}

static void test_orphan(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_node *b;

	build(st);
	b = node(st, "/a/b");
	b->died = st->seq; /* removed, its child left alive */
	assert_broken(st, "/a/b/c: alive under a removed parent");
	b->died = MXS_SEQ_ALIVE;
	unit_check(st);
}

/*
 * The writer finds parents through the index (mxs_node_parent): with a
 * path removed and created again, every life of a child still linked
 * finds its own parent's life.  No grace period passes inside a test
 * (the thread stays online), so the removed lives stay linked.
 */
static void test_parent_lives(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_node *old_p, *old_c, *new_p, *gone_c, *new_c;

	unit_write(st, "/p/c", "1");
	unit_write(st, "/p/d", "1");
	old_p = node(st, "/p");
	old_c = node(st, "/p/c");
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/p", &ch), 0);
	unit_write(st, "/p/c", "2");
	new_p = node(st, "/p");
	gone_c = node(st, "/p/c");
	/* A third life of /p/c; the second one removed under the live /p. */
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/p/c", &ch), 0);
	unit_write(st, "/p/c", "3");
	new_c = node(st, "/p/c");
	assert_ptr_not_equal(new_p, old_p);
	assert_ptr_not_equal(new_c, gone_c);
	pthread_mutex_lock(&st->wlock);
	assert_true(old_p->died != MXS_SEQ_ALIVE &&
		    gone_c->died != MXS_SEQ_ALIVE);
	assert_ptr_equal(mxs_node_parent(st, old_c), old_p);
	assert_ptr_equal(mxs_node_parent(st, gone_c), new_p);
	assert_ptr_equal(mxs_node_parent(st, new_c), new_p);
	assert_ptr_equal(mxs_node_parent(st, old_p), st->root);
	assert_ptr_equal(mxs_node_parent(st, new_p), st->root);
	assert_null(mxs_node_parent(st, st->root));
	pthread_mutex_unlock(&st->wlock);
	unit_check(st); /* each child's parent, removed children too */
	unit_changes_free(&ch);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_store_setup, \
					     unit_store_teardown)
	const struct CMUnitTest tests[] = {
		T(test_stamps),
		T(test_counts),
		T(test_orphan),
		T(test_parent_lives),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
