/* SPDX-License-Identifier: MIT */
/*
 * The store's domain hooks: the owner index (checked against a recount
 * by mxs_store_check), mxs_store_domain_gone and stale permission entries
 * through the domain oracle.
 */
#include "tests/unit/unit.h"

/* A domain table standing in for the daemon's: exists + introduced. */
struct fake_domains {
	bool exists[64];
	uint64_t introduced[64];
	unsigned int calls;
};

static bool fake_oracle(void *arg, uint32_t domid, uint64_t *introduced)
{
	struct fake_domains *d = arg;

	__atomic_fetch_add(&d->calls, 1, __ATOMIC_RELAXED);
	if (domid >= 64 || !d->exists[domid])
		return false;
	*introduced = d->introduced[domid];
	return true;
}

static void fake_introduce(struct fake_domains *d, struct mxs_store *st,
			   uint32_t domid)
{
	d->exists[domid] = true;
	d->introduced[domid] = mxs_store_generation(st);
}

static void write_as(struct mxs_store *st, const struct mxs_caller *c,
		     const char *path)
{
	struct mxs_changes ch = { 0 };

	assert_int_equal(mxs_store_write(st, NULL, c, path, "v", 1, &ch), 0);
	unit_changes_free(&ch);
}

static void test_owner_index(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_caller d5 = domu(5), d6 = domu(6);
	struct mxs_changes ch = { 0 };
	struct mxs_perm p7 = { 7, MXS_PERM_NONE };
	struct mxs_txn *tx;

	unit_write(st, "/local/domain/5", "");
	unit_set_perms(st, "/local/domain/5", "n5");
	unit_write(st, "/local/domain/6", "");
	unit_set_perms(st, "/local/domain/6", "n6");
	write_as(st, &d5, "/local/domain/5/a/b");
	write_as(st, &d6, "/local/domain/6/x");
	assert_int_equal(mxs_store_domain_nodes(st, 5), 3);
	assert_int_equal(mxs_store_domain_nodes(st, 6), 2);
	unit_check(st);

	/* Transaction: creations, an owner change and a removal at once. */
	tx = mxs_txn_new(st);
	assert_non_null(tx);
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/local/domain/5/c",
					 "", 0, NULL), 0);
	assert_int_equal(mxs_store_set_perms(st, tx, &dom0,
					     "/local/domain/5/a", &p7, 1,
					     NULL), 0);
	assert_int_equal(mxs_store_rm(st, tx, &dom0, "/local/domain/6/x",
				      NULL), 0);
	assert_int_equal(mxs_txn_commit(tx, &ch), 0);
	mxs_txn_free(tx);
	unit_changes_free(&ch);
	/* 5: /local/domain/5, a/b, c (inherited n5); 7: a; 6: itself. */
	assert_int_equal(mxs_store_domain_nodes(st, 5), 3);
	assert_int_equal(mxs_store_domain_nodes(st, 7), 1);
	assert_int_equal(mxs_store_domain_nodes(st, 6), 1);
	unit_check(st);

	/* Remove-and-recreate in one transaction keeps the index exact. */
	tx = mxs_txn_new(st);
	assert_non_null(tx);
	assert_int_equal(mxs_store_rm(st, tx, &dom0, "/local/domain/5/a",
				      NULL), 0);
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/local/domain/5/a",
					 "", 0, NULL), 0);
	assert_int_equal(mxs_txn_commit(tx, &ch), 0);
	mxs_txn_free(tx);
	unit_changes_free(&ch);
	assert_int_equal(mxs_store_domain_nodes(st, 7), 0);
	assert_int_equal(mxs_store_domain_nodes(st, 5), 3);
	unit_check(st);

	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/local", &ch), 0);
	unit_changes_free(&ch);
	assert_int_equal(mxs_store_domain_nodes(st, 5), 0);
	assert_int_equal(mxs_store_domain_nodes(st, 6), 0);
	assert_int_equal(mxs_store_domain_nodes(st, 0), 3);
	unit_check(st);
}

/* Index of path in ch, or -1. */
static int change_at(const struct mxs_changes *ch, const char *path)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		if (strcmp(ch->v[i].path, path) == 0)
			return (int)i;
	return -1;
}

static void test_domain_gone(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_caller d5 = domu(5), d6 = domu(6);
	struct mxs_changes ch = { 0 };
	int top, leaf, mid, other;
	int rc;

	unit_write(st, "/local/domain/5", "");
	unit_set_perms(st, "/local/domain/5", "n5,r6");
	write_as(st, &d5, "/local/domain/5/dev/vif");
	/* A node under 5's tree owned by dom0 goes with the subtree. */
	unit_write(st, "/local/domain/5/dom0node", "");
	unit_set_perms(st, "/local/domain/5/dom0node", "n0");
	unit_write(st, "/local/domain/6", "");
	unit_set_perms(st, "/local/domain/6", "n6");
	write_as(st, &d6, "/local/domain/6/keep");
	/* A node of 5 inside 6's tree, and one elsewhere. */
	unit_write(st, "/local/domain/6/backend", "");
	unit_set_perms(st, "/local/domain/6/backend", "n5");
	unit_write(st, "/vm/5", "");
	unit_set_perms(st, "/vm/5", "n5");
	/* Removed just before: still linked for older snapshots, but
	 * not removed again nor reported. */
	write_as(st, &d5, "/local/domain/5/dev/old");
	assert_int_equal(mxs_store_rm(st, NULL, &dom0,
				      "/local/domain/5/dev/old", &ch), 0);
	unit_changes_free(&ch);
	assert_int_equal(mxs_store_domain_nodes(st, 5), 5);

	assert_int_equal(mxs_store_domain_gone(st, 0, &ch), -EINVAL);
	assert_int_equal(mxs_store_domain_gone(st, MXS_DOMID_FIRST_RESERVED,
					       &ch), -EINVAL);
	assert_int_equal(ch.n, 0);

	assert_int_equal(mxs_store_domain_gone(st, 5, &ch), 0);
	assert_int_equal(mxs_store_domain_nodes(st, 5), 0);
	assert_int_equal(mxs_store_domain_nodes(st, 6), 2);
	unit_check(st);
	/* Six nodes went: 5's tree (4), 6/backend, /vm/5. */
	assert_int_equal(ch.n, 6);
	top = change_at(&ch, "/local/domain/5");
	mid = change_at(&ch, "/local/domain/5/dev");
	leaf = change_at(&ch, "/local/domain/5/dev/vif");
	other = change_at(&ch, "/local/domain/5/dom0node");
	assert_true(top >= 0 && mid >= 0 && leaf >= 0 && other >= 0);
	/* As RM: leaves first; the top fires for its ancestors' watches
	 * too, descendants only exactly; each carries its permissions. */
	assert_true(leaf < mid && mid < top && other < top);
	assert_false(ch.v[top].exact);
	assert_true(ch.v[leaf].exact);
	assert_int_equal(ch.v[top].nperms, 2);
	assert_int_equal(ch.v[top].perms[1].domid, 6);
	assert_true(change_at(&ch, "/local/domain/6/backend") >= 0);
	assert_false(ch.v[change_at(&ch, "/vm/5")].exact);
	assert_int_equal(change_at(&ch, "/local/domain/6"), -1);
	unit_changes_free(&ch);

	assert_read_err(st, NULL, &dom0, "/local/domain/5", -ENOENT);
	assert_read_err(st, NULL, &dom0, "/vm/5", -ENOENT);
	assert_value(st, NULL, &dom0, "/local/domain/6/keep", "v");
	assert_dir(st, NULL, &dom0, "/local/domain", "6");
	assert_dir(st, NULL, &dom0, "/local/domain/6", "keep");
	rc = mxs_store_domain_gone(st, 5, &ch);
	assert_int_equal(rc, 0);
	assert_int_equal(ch.n, 0); /* nothing left to remove */
	unit_changes_free(&ch);
}

static void test_stale_perms(void **state)
{
	struct mxs_store *st = *state;
	struct fake_domains doms = { 0 };
	struct mxs_caller d5 = domu(5), d7 = domu(7);
	struct mxs_perm r5[2] = { { 0, MXS_PERM_NONE }, { 5, MXS_PERM_READ } };
	struct mxs_changes ch = { 0 };

	/* No oracle: entries of unknown domains count as they are. */
	unit_write(st, "/a", "x");
	unit_set_perms(st, "/a", "n0,r5");
	assert_value(st, NULL, &d5, "/a", "x");

	fake_introduce(&doms, st, 5);
	fake_introduce(&doms, st, 7);
	mxs_store_set_domain_oracle(st, fake_oracle, &doms);
	/* Domain 5 was introduced after /a's list was set: stale. */
	assert_read_err(st, NULL, &d5, "/a", -EACCES);
	assert_perms(st, NULL, &dom0, "/a", "n0");
	assert_true(doms.calls > 0);
	/* Set again now that 5 exists: current. */
	unit_set_perms(st, "/a", "n0,r5");
	assert_value(st, NULL, &d5, "/a", "x");
	assert_perms(st, NULL, &dom0, "/a", "n0,r5");
	assert_true(mxs_store_watch_permitted(st, &d5, "/a", NULL, 0));

	/* 5 goes away: its entry is dropped everywhere. */
	doms.exists[5] = false;
	assert_perms(st, NULL, &dom0, "/a", "n0");
	assert_false(mxs_store_watch_permitted(st, &d5, "/a", NULL, 0));
	/* A domain re-created with the same domid does not inherit. */
	unit_write(st, "/unrelated", "");
	fake_introduce(&doms, st, 5);
	assert_read_err(st, NULL, &d5, "/a", -EACCES);
	assert_perms(st, NULL, &dom0, "/a", "n0");
	/* Rewriting the value does not refresh the list. */
	unit_write(st, "/a", "y");
	assert_read_err(st, NULL, &d5, "/a", -EACCES);
	assert_int_equal(mxs_store_set_perms(st, NULL, &dom0, "/a", r5, 2,
					     &ch), 0);
	unit_changes_free(&ch);
	assert_value(st, NULL, &d5, "/a", "y");

	/* A stale owner reads as dom0, and children inherit that. */
	unit_write(st, "/b", "");
	unit_set_perms(st, "/b", "b7");
	write_as(st, &d7, "/b/own");
	assert_perms(st, NULL, &dom0, "/b", "b7");
	doms.exists[7] = false;
	assert_perms(st, NULL, &dom0, "/b", "b0");
	unit_write(st, "/b/c", "");
	fake_introduce(&doms, st, 7);
	assert_perms(st, NULL, &dom0, "/b/c", "b0");
	assert_perms(st, NULL, &dom0, "/b", "b0");
	/* The new 7 gets the default (b) of the stale list, not owner
	 * rights: it may not change the owner of /b. */
	{
		struct mxs_perm own7 = { 7, MXS_PERM_NONE };
		struct mxs_perm own0 = { 0, MXS_PERM_NONE };

		assert_int_equal(mxs_store_set_perms(st, NULL, &d7, "/b",
						     &own7, 1, &ch),
				 -EACCES);
		assert_int_equal(mxs_store_set_perms(st, NULL, &d7, "/b",
						     &own0, 1, &ch),
				 -EACCES);
	}
	unit_changes_free(&ch);
	/* The stored owner still accounts the node. */
	assert_int_equal(mxs_store_domain_nodes(st, 7), 2);
	unit_check(st);
}

/*
 * A list keeps the generation it was set at through every version that
 * does not set it: a touch (a child created or removed), a rewrite of
 * the value, a transaction's copy and commit.  A domain introduced after
 * the list was set stays stale through all of them.
 */
static void test_stale_kept(void **state)
{
	struct mxs_store *st = *state;
	struct fake_domains doms = { 0 };
	struct mxs_caller d5 = domu(5);
	struct mxs_changes ch = { 0 };

	mxs_store_set_domain_oracle(st, fake_oracle, &doms);
	unit_write(st, "/t", "x");
	unit_set_perms(st, "/t", "n0,r5");
	fake_introduce(&doms, st, 5);
	assert_read_err(st, NULL, &d5, "/t", -EACCES);
	unit_write(st, "/t/kid", ""); /* touches /t */
	assert_read_err(st, NULL, &d5, "/t", -EACCES);
	assert_perms(st, NULL, &dom0, "/t", "n0");
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/t/kid", &ch), 0);
	unit_changes_free(&ch);
	assert_read_err(st, NULL, &d5, "/t", -EACCES);
	unit_write(st, "/t", "y");
	assert_read_err(st, NULL, &d5, "/t", -EACCES);
	unit_tx_write2(st, "/t", "z", "/t/k2", "");
	assert_read_err(st, NULL, &d5, "/t", -EACCES);
	assert_perms(st, NULL, &dom0, "/t", "n0");
	/* The child inherited the current list: 5 left out. */
	assert_perms(st, NULL, &dom0, "/t/k2", "n0");
	/* Set again: current. */
	unit_set_perms(st, "/t", "n0,r5");
	assert_value(st, NULL, &d5, "/t", "z");
	unit_check(st);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_store_setup, \
					     unit_store_teardown)
	const struct CMUnitTest tests[] = {
		T(test_owner_index),
		T(test_domain_gone),
		T(test_stale_perms),
		T(test_stale_kept),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
