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
	/* The second write kept the list: a full version. */
	assert_true(v->gens);
	keep = mxs_nodeval_meta_gen(v);
	/* a value change after the version */
	mxs_nodeval_set_gens(v, v->seq + 1, mxs_nodeval_perms_gen(v));
	assert_broken(st, "/a/b/c: sequence or generation out of order");
	mxs_nodeval_set_gens(v, keep, mxs_nodeval_perms_gen(v));
	/* A list older than the one before it. */
	assert_false(v->older->gens); /* the creation's: lean */
	keep = mxs_nodeval_perms_gen(v);
	mxs_nodeval_set_gens(v, mxs_nodeval_meta_gen(v), v->older->seq - 1);
	assert_broken(st, "/a/b/c: sequence or generation out of order");
	mxs_nodeval_set_gens(v, mxs_nodeval_meta_gen(v), keep);
	/* A lean version installed without its stamp: its list has no
	 * generation (every entry would look current). */
	v = node(st, "/a/d")->val; /* SET_PERMS: lean */
	assert_false(v->gens);
	v->unstamped = 1;
	assert_broken(st, "/a/d: sequence or generation out of order");
	v->unstamped = 0;
	v = node(st, "/a/b/c")->val;
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

/* A lean version, installed: both generations are its own. */
static void assert_lean(const struct mxs_nodeval *v)
{
	assert_false(v->gens);
	assert_false(v->unstamped);
	assert_true(mxs_nodeval_meta_gen(v) == v->seq);
	assert_true(mxs_nodeval_perms_gen(v) == v->seq);
}

/*
 * Which versions are lean (node.h): those that set their own list (a
 * creation, SET_PERMS); a write that keeps the list, a touch and the
 * root are full, with the generations the lean ones imply.
 */
static void test_representation(void **state)
{
	struct mxs_store *st = *state;
	const struct mxs_nodeval *v, *w;

	assert_true(st->root->val->gens);
	unit_write(st, "/r/a", "x");
	assert_lean(node(st, "/r/a")->val);
	/* Created and given its child in one commit: no touch. */
	assert_lean(node(st, "/r")->val);
	assert_int_equal(strcmp(mxs_nodeval_value(node(st, "/r/a")->val),
				"x"), 0);
	assert_int_equal(mxs_nodeval_perms(node(st, "/r/a")->val)[0].domid,
			 0);

	w = node(st, "/r")->val;
	unit_write(st, "/r/b", "");
	v = node(st, "/r")->val; /* touched: only the children changed */
	assert_true(v->gens && v->older == w && v->seq > w->seq);
	assert_true(mxs_nodeval_meta_gen(v) == w->seq);
	assert_true(mxs_nodeval_perms_gen(v) == w->seq);
	assert_non_null(mxs_nodeval_kidslot(v));

	w = node(st, "/r/a")->val;
	unit_write(st, "/r/a", "y"); /* the list is kept */
	v = node(st, "/r/a")->val;
	assert_true(v->gens && v->older == w);
	assert_true(mxs_nodeval_meta_gen(v) == v->seq);
	assert_true(mxs_nodeval_perms_gen(v) == w->seq);
	assert_int_equal(strcmp(mxs_nodeval_value(v), "y"), 0);

	unit_set_perms(st, "/r/a", "n5");
	v = node(st, "/r/a")->val;
	assert_lean(v);
	assert_int_equal(mxs_nodeval_perms(v)[0].domid, 5);
	assert_int_equal(strcmp(mxs_nodeval_value(v), "y"), 0);

	/* In a transaction: its copies are full, what it installs as
	 * above. */
	w = v;
	unit_tx_write2(st, "/r/a", "z", "/r/c", "z");
	v = node(st, "/r/a")->val;
	assert_true(v->gens && v->older == w);
	assert_true(mxs_nodeval_meta_gen(v) == v->seq);
	assert_true(mxs_nodeval_perms_gen(v) == w->seq);
	assert_lean(node(st, "/r/c")->val);
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
		T(test_representation),
		T(test_counts),
		T(test_orphan),
		T(test_parent_lives),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
