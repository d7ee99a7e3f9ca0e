/* SPDX-License-Identifier: MIT */
/*
 * The nodes quota of the store (store/account.c): exact for implicit
 * writes, for transactions (a commit that would exceed fails, an abort
 * returns everything), under concurrent writers, never applied to
 * privileged callers, and a released domain's count gone so that a
 * reused domid starts at zero (XSA-483).
 */
#include <pthread.h>

#include "unit.h"

#define QDOM 7u
#define QUOTA 6u

static unsigned int quota_fn(void *arg, uint32_t domid)
{
	(void)arg;
	return domid == QDOM ? QUOTA : 0;
}

/* /local/domain/7 owned by 7 (one node of its quota). */
static struct mxs_store *setup_home(void **state)
{
	struct mxs_store *st = *state;

	mxs_store_set_node_quota(st, quota_fn, NULL);
	unit_write(st, "/local/domain/7", "");
	unit_set_perms(st, "/local/domain/7", "n7");
	assert_int_equal(mxs_store_domain_nodes(st, QDOM), 1);
	return st;
}

static int guest_write(struct mxs_store *st, struct mxs_txn *tx,
		       const char *path)
{
	struct mxs_caller g = domu(QDOM);
	struct mxs_changes ch = { 0 };
	int rc = mxs_store_write(st, tx, &g, path, "v", 1, &ch);

	unit_changes_free(&ch);
	return rc;
}

static int guest_rm(struct mxs_store *st, const char *path)
{
	struct mxs_caller g = domu(QDOM);
	struct mxs_changes ch = { 0 };
	int rc = mxs_store_rm(st, NULL, &g, path, &ch);

	unit_changes_free(&ch);
	return rc;
}

static void test_implicit(void **state)
{
	struct mxs_store *st = setup_home(state);
	struct mxs_changes ch = { 0 };
	char p[64];
	unsigned int i;

	for (i = 1; i < QUOTA; i++) {
		snprintf(p, sizeof(p), "/local/domain/7/n%u", i);
		assert_int_equal(guest_write(st, NULL, p), 0);
	}
	assert_int_equal(mxs_store_domain_nodes(st, QDOM), QUOTA);
	/* One more is refused and leaves nothing behind. */
	assert_int_equal(guest_write(st, NULL, "/local/domain/7/over"),
			 -ENOSPC);
	assert_read_err(st, NULL, &dom0, "/local/domain/7/over", -ENOENT);
	/* Rewriting what exists adds nothing: allowed. */
	assert_int_equal(guest_write(st, NULL, "/local/domain/7/n1"), 0);
	/* dom0 is never limited, even creating nodes that 7 owns. */
	assert_int_equal(mxs_store_write(st, NULL, &dom0,
					 "/local/domain/7/by0", "x", 1, &ch),
			 0);
	unit_changes_free(&ch);
	assert_int_equal(mxs_store_domain_nodes(st, QDOM), QUOTA + 1);
	/* Removing one leaves it at the quota: still no room. */
	assert_int_equal(guest_rm(st, "/local/domain/7/n1"), 0);
	assert_int_equal(guest_write(st, NULL, "/local/domain/7/n1"),
			 -ENOSPC);
	/* Three levels at once need three: refused whole with room for 2. */
	assert_int_equal(guest_rm(st, "/local/domain/7/n2"), 0);
	assert_int_equal(guest_rm(st, "/local/domain/7/by0"), 0);
	assert_int_equal(mxs_store_domain_nodes(st, QDOM), QUOTA - 2);
	assert_int_equal(guest_write(st, NULL, "/local/domain/7/x/y/z"),
			 -ENOSPC);
	assert_read_err(st, NULL, &dom0, "/local/domain/7/x", -ENOENT);
	assert_int_equal(guest_write(st, NULL, "/local/domain/7/x/y"), 0);
	assert_int_equal(mxs_store_domain_nodes(st, QDOM), QUOTA);
	unit_check(st);
}

static void test_transactions(void **state)
{
	struct mxs_store *st = setup_home(state);
	struct mxs_changes ch = { 0 };
	struct mxs_txn *a = mxs_txn_new(st), *b = mxs_txn_new(st);
	struct mxs_txn *c = mxs_txn_new(st);

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	/* Each transaction alone fits (1 + 3 <= 6); both do not. */
	assert_int_equal(guest_write(st, a, "/local/domain/7/a1"), 0);
	assert_int_equal(guest_write(st, a, "/local/domain/7/a2"), 0);
	assert_int_equal(guest_write(st, a, "/local/domain/7/a3"), 0);
	assert_int_equal(guest_write(st, b, "/local/domain/7/b1"), 0);
	assert_int_equal(guest_write(st, b, "/local/domain/7/b2"), 0);
	assert_int_equal(guest_write(st, b, "/local/domain/7/b3"), 0);
	/* An aborted one returns everything: it never counted. */
	assert_int_equal(guest_write(st, c, "/local/domain/7/c1"), 0);
	mxs_txn_free(c);
	assert_int_equal(mxs_store_domain_nodes(st, QDOM), 1);
	assert_int_equal(mxs_txn_commit(a, &ch), 0);
	unit_changes_free(&ch);
	assert_int_equal(mxs_store_domain_nodes(st, QDOM), 4);
	/* The second would make 7: fails, nothing of it is visible. */
	assert_int_equal(mxs_txn_commit(b, &ch), -ENOSPC);
	assert_int_equal(ch.n, 0);
	assert_read_err(st, NULL, &dom0, "/local/domain/7/b1", -ENOENT);
	assert_int_equal(mxs_store_domain_nodes(st, QDOM), 4);
	mxs_txn_free(a);
	mxs_txn_free(b);
	/* A transaction that removes and adds as many passes at the quota. */
	assert_int_equal(guest_write(st, NULL, "/local/domain/7/f1"), 0);
	assert_int_equal(guest_write(st, NULL, "/local/domain/7/f2"), 0);
	assert_int_equal(mxs_store_domain_nodes(st, QDOM), QUOTA);
	a = mxs_txn_new(st);
	assert_non_null(a);
	assert_int_equal(mxs_store_rm(st, a, &dom0, "/local/domain/7/f1",
				      &ch), 0);
	assert_int_equal(guest_write(st, a, "/local/domain/7/g1"), 0);
	assert_int_equal(mxs_txn_commit(a, &ch), 0);
	unit_changes_free(&ch);
	mxs_txn_free(a);
	assert_int_equal(mxs_store_domain_nodes(st, QDOM), QUOTA);
	unit_check(st);
}

/* Writers racing for the last nodes of one domain: implicit writes on
 * one thread, one-node transactions on the other. */
struct racer {
	struct mxs_store *st;
	bool txn;
	unsigned int ok, refused;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	unsigned int i;
	char p[64];

	rcu_register_thread();
	for (i = 0; i < 200; i++) {
		struct mxs_changes ch = { 0 };
		int rc;

		snprintf(p, sizeof(p), "/local/domain/7/%s%u",
			 r->txn ? "t" : "w", i);
		if (r->txn) {
			struct mxs_txn *tx = mxs_txn_new(r->st);

			rc = tx ? guest_write(r->st, tx, p) : -ENOMEM;
			if (!rc)
				rc = mxs_txn_commit(tx, &ch);
			mxs_txn_free(tx);
		} else {
			rc = guest_write(r->st, NULL, p);
		}
		unit_changes_free(&ch);
		if (rc == 0)
			r->ok++;
		else if (rc == -ENOSPC)
			r->refused++;
		/* Every 8th node goes again: the count moves both ways. */
		if (rc == 0 && i % 8 == 0 && guest_rm(r->st, p) == 0)
			r->ok--;
		mxs_rcu_quiescent();
	}
	mxs_rcu_offline();
	rcu_unregister_thread();
	return NULL;
}

static void test_concurrent(void **state)
{
	struct mxs_store *st = setup_home(state);
	struct racer r[2] = { { st, false, 0, 0 }, { st, true, 0, 0 } };
	pthread_t t[2];
	int i;

	mxs_store_set_node_quota(st, quota_fn, NULL);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	mxs_rcu_offline();
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	mxs_rcu_online();
	/* Exactly the quota, and exactly the nodes that were accepted. */
	assert_int_equal(mxs_store_domain_nodes(st, QDOM), QUOTA);
	assert_int_equal(1 + r[0].ok + r[1].ok, QUOTA);
	assert_true(r[0].refused + r[1].refused > 0);
	unit_check(st);
}

static void test_domain_gone(void **state)
{
	struct mxs_store *st = setup_home(state);
	struct mxs_changes ch = { 0 };
	char p[64];
	unsigned int i;

	for (i = 1; i < QUOTA; i++) {
		snprintf(p, sizeof(p), "/local/domain/7/n%u", i);
		assert_int_equal(guest_write(st, NULL, p), 0);
	}
	assert_int_equal(guest_write(st, NULL, "/local/domain/7/x"), -ENOSPC);
	assert_int_equal(mxs_store_domain_gone(st, QDOM, &ch), 0);
	unit_changes_free(&ch);
	assert_int_equal(mxs_store_domain_nodes(st, QDOM), 0);
	/* The domid comes back: it starts at zero, the whole quota free. */
	unit_write(st, "/local/domain/7", "");
	unit_set_perms(st, "/local/domain/7", "n7");
	for (i = 1; i < QUOTA; i++) {
		snprintf(p, sizeof(p), "/local/domain/7/m%u", i);
		assert_int_equal(guest_write(st, NULL, p), 0);
	}
	assert_int_equal(mxs_store_domain_nodes(st, QDOM), QUOTA);
	unit_check(st);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_store_setup, \
					     unit_store_teardown)
	const struct CMUnitTest tests[] = {
		T(test_implicit),
		T(test_transactions),
		T(test_concurrent),
		T(test_domain_gone),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
