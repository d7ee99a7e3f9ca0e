/* SPDX-License-Identifier: MIT */
/*
 * The nodes quota of the store (store/account.c): exact for implicit
 * writes, for transactions (a commit that would exceed fails, an abort
 * returns everything), under concurrent writers, never applied to
 * privileged callers, and a released domain's count gone so that a
 * reused domid starts at zero (XSA-483).  The same for the memory quota:
 * the bytes of node records each domain is charged, counted as the C
 * daemon 4.17 counts them (store.h, mxs_store_set_memory_quota).
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

/* Writers racing for the last nodes (or bytes) of one domain: implicit
 * writes on one thread, one-node transactions on the other; names of one
 * length, so each node costs the same.  refusal: the quota's error. */
struct racer {
	struct mxs_store *st;
	bool txn;
	int refusal;
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

		snprintf(p, sizeof(p), "/local/domain/7/%s%03u",
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
		else if (rc == r->refusal)
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

static void run_racers(struct racer r[2])
{
	pthread_t t[2];
	int i;

	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	mxs_rcu_offline();
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	mxs_rcu_online();
}

static void test_concurrent(void **state)
{
	struct mxs_store *st = setup_home(state);
	struct racer r[2] = { { st, false, -ENOSPC, 0, 0 },
			      { st, true, -ENOSPC, 0, 0 } };

	mxs_store_set_node_quota(st, quota_fn, NULL);
	run_racers(r);
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

/* ---- The memory quota ---- */

/* The C daemon's record of a node charged to its owner: header,
 * permissions, value, path; and a child's name with its NUL, charged to
 * its parent's owner. */
#define REC(path, nperms, vlen) (24u + 8u * (nperms) + (vlen) + strlen(path))
#define NAME(name) (strlen(name) + 1u)

/* Setup_home's /local/domain/7: "n7", no value, no children yet. */
#define HOME REC("/local/domain/7", 1, 0)

static uint64_t mem_limit;

static uint64_t mem_fn(void *arg, uint32_t domid)
{
	(void)arg;
	return domid == QDOM ? mem_limit : UINT64_MAX;
}

static void dom0_op(int rc)
{
	assert_int_equal(rc, 0);
}

static void test_memory_counts(void **state)
{
	struct mxs_store *st = setup_home(state);
	struct mxs_caller g = domu(QDOM);
	struct mxs_changes ch = { 0 };
	struct mxs_perm two[2] = { { QDOM, MXS_PERM_NONE },
				   { 0, MXS_PERM_READ } };
	struct mxs_perm own0 = { 0, MXS_PERM_NONE }, own7 = { QDOM,
							      MXS_PERM_NONE };
	struct mxs_txn *tx;
	uint64_t dom0_before;

	assert_int_equal(mxs_store_domain_memory(st, QDOM), HOME);
	/* A new node: its record, and its name in the parent's record. */
	assert_int_equal(guest_write(st, NULL, "/local/domain/7/a"), 0);
	assert_int_equal(mxs_store_domain_memory(st, QDOM),
			 HOME + REC("/local/domain/7/a", 1, 1) + NAME("a"));
	/* A longer value, one more permission entry. */
	assert_int_equal(mxs_store_write(st, NULL, &g, "/local/domain/7/a",
					 "vvvv", 4, &ch), 0);
	assert_int_equal(mxs_store_set_perms(st, NULL, &g, "/local/domain/7/a",
					     two, 2, &ch), 0);
	assert_int_equal(mxs_store_domain_memory(st, QDOM),
			 HOME + REC("/local/domain/7/a", 2, 4) + NAME("a"));
	unit_check(st);
	/* Removal returns all of it. */
	assert_int_equal(guest_rm(st, "/local/domain/7/a"), 0);
	assert_int_equal(mxs_store_domain_memory(st, QDOM), HOME);
	/* dom0 writing a node 7 owns (inherited) charges 7. */
	dom0_op(mxs_store_write(st, NULL, &dom0, "/local/domain/7/b", "x", 1,
				&ch));
	assert_int_equal(mxs_store_domain_memory(st, QDOM),
			 HOME + REC("/local/domain/7/b", 1, 1) + NAME("b"));
	/* A new owner of the home takes its record and its child list; b
	 * stays 7's. */
	dom0_before = mxs_store_domain_memory(st, 0);
	dom0_op(mxs_store_set_perms(st, NULL, &dom0, "/local/domain/7", &own0,
				    1, &ch));
	assert_int_equal(mxs_store_domain_memory(st, QDOM),
			 REC("/local/domain/7/b", 1, 1));
	assert_int_equal(mxs_store_domain_memory(st, 0),
			 dom0_before + HOME + NAME("b"));
	unit_check(st);
	dom0_op(mxs_store_set_perms(st, NULL, &dom0, "/local/domain/7", &own7,
				    1, &ch));
	assert_int_equal(mxs_store_domain_memory(st, 0), dom0_before);
	/* A transaction counts at its commit, a subtree in one go. */
	tx = mxs_txn_new(st);
	assert_non_null(tx);
	assert_int_equal(guest_write(st, tx, "/local/domain/7/c/d"), 0);
	assert_int_equal(mxs_store_rm(st, tx, &g, "/local/domain/7/b", &ch),
			 0);
	assert_int_equal(mxs_store_domain_memory(st, QDOM),
			 HOME + REC("/local/domain/7/b", 1, 1) + NAME("b"));
	assert_int_equal(mxs_txn_commit(tx, &ch), 0);
	mxs_txn_free(tx);
	assert_int_equal(mxs_store_domain_memory(st, QDOM),
			 HOME + REC("/local/domain/7/c", 1, 0) + NAME("c") +
				 REC("/local/domain/7/c/d", 1, 1) + NAME("d"));
	/* An aborted one changes nothing. */
	tx = mxs_txn_new(st);
	assert_non_null(tx);
	assert_int_equal(guest_write(st, tx, "/local/domain/7/e"), 0);
	assert_int_equal(mxs_store_rm(st, tx, &g, "/local/domain/7/c", &ch),
			 0);
	mxs_txn_free(tx);
	assert_int_equal(mxs_store_domain_memory(st, QDOM),
			 HOME + REC("/local/domain/7/c", 1, 0) + NAME("c") +
				 REC("/local/domain/7/c/d", 1, 1) + NAME("d"));
	/* Re-created in a transaction (removed, then written). */
	tx = mxs_txn_new(st);
	assert_non_null(tx);
	assert_int_equal(mxs_store_rm(st, tx, &g, "/local/domain/7/c", &ch),
			 0);
	assert_int_equal(guest_write(st, tx, "/local/domain/7/c"), 0);
	assert_int_equal(mxs_txn_commit(tx, &ch), 0);
	mxs_txn_free(tx);
	assert_int_equal(mxs_store_domain_memory(st, QDOM),
			 HOME + REC("/local/domain/7/c", 1, 1) + NAME("c"));
	unit_changes_free(&ch);
	unit_check(st);
}

static void test_memory_quota(void **state)
{
	struct mxs_store *st = setup_home(state);
	struct mxs_caller g = domu(QDOM);
	struct mxs_changes ch = { 0 };
	struct mxs_txn *a, *b;
	const uint64_t node = REC("/local/domain/7/a", 1, 1) + NAME("a");

	mxs_store_set_node_quota(st, NULL, NULL);
	mxs_store_set_memory_quota(st, mem_fn, NULL);
	mem_limit = HOME + 2 * node;
	assert_int_equal(guest_write(st, NULL, "/local/domain/7/a"), 0);
	assert_int_equal(guest_write(st, NULL, "/local/domain/7/b"), 0);
	assert_int_equal(mxs_store_domain_memory(st, QDOM), mem_limit);
	/* One byte more is refused and leaves nothing behind. */
	assert_int_equal(guest_write(st, NULL, "/local/domain/7/c"), -ENOMEM);
	assert_read_err(st, NULL, &dom0, "/local/domain/7/c", -ENOENT);
	assert_int_equal(mxs_store_write(st, NULL, &g, "/local/domain/7/a",
					 "vv", 2, &ch), -ENOMEM);
	assert_value(st, NULL, &dom0, "/local/domain/7/a", "v");
	/* As long a value is fine; dom0 is never limited. */
	assert_int_equal(guest_write(st, NULL, "/local/domain/7/a"), 0);
	dom0_op(mxs_store_write(st, NULL, &dom0, "/local/domain/7/big",
				"0123456789", 10, &ch));
	assert_int_equal(mxs_store_domain_memory(st, QDOM),
			 mem_limit + REC("/local/domain/7/big", 1, 10) +
				 NAME("big"));
	assert_int_equal(guest_rm(st, "/local/domain/7/big"), 0);
	assert_int_equal(guest_rm(st, "/local/domain/7/b"), 0);
	/* Two transactions that each fit alone do not fit together: the
	 * second commit fails whole; an abort gives nothing back because
	 * nothing was taken. */
	a = mxs_txn_new(st);
	b = mxs_txn_new(st);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(guest_write(st, a, "/local/domain/7/x"), 0);
	assert_int_equal(guest_write(st, b, "/local/domain/7/y"), 0);
	assert_int_equal(mxs_txn_commit(a, &ch), 0);
	assert_int_equal(mxs_txn_commit(b, &ch), -ENOMEM);
	assert_read_err(st, NULL, &dom0, "/local/domain/7/y", -ENOENT);
	mxs_txn_free(a);
	mxs_txn_free(b);
	assert_int_equal(mxs_store_domain_memory(st, QDOM), mem_limit);
	unit_changes_free(&ch);
	unit_check(st);
}

static void test_memory_concurrent(void **state)
{
	struct mxs_store *st = setup_home(state);
	struct racer r[2] = { { st, false, -ENOMEM, 0, 0 },
			      { st, true, -ENOMEM, 0, 0 } };
	const uint64_t node = REC("/local/domain/7/w000", 1, 1) + NAME("w000");

	mxs_store_set_node_quota(st, NULL, NULL);
	mxs_store_set_memory_quota(st, mem_fn, NULL);
	mem_limit = HOME + 5 * node;
	run_racers(r);
	/* Exactly the quota, and exactly the nodes that were accepted. */
	assert_int_equal(r[0].ok + r[1].ok, 5);
	assert_int_equal(mxs_store_domain_memory(st, QDOM), mem_limit);
	assert_true(r[0].refused + r[1].refused > 0);
	unit_check(st);
}

static void test_memory_domain_gone(void **state)
{
	struct mxs_store *st = setup_home(state);
	uint64_t dom0_home = mxs_store_domain_memory(st, 0);
	struct mxs_changes ch = { 0 };

	assert_int_equal(guest_write(st, NULL, "/local/domain/7/a/b/c"), 0);
	assert_true(mxs_store_domain_memory(st, QDOM) > HOME);
	assert_int_equal(mxs_store_domain_gone(st, QDOM, &ch), 0);
	unit_changes_free(&ch);
	/* Its bytes are gone, and its name in dom0's /local/domain. */
	assert_int_equal(mxs_store_domain_memory(st, QDOM), 0);
	assert_int_equal(mxs_store_domain_memory(st, 0),
			 dom0_home - NAME("7"));
	unit_check(st);
	/* The domid comes back at zero. */
	unit_write(st, "/local/domain/7", "");
	unit_set_perms(st, "/local/domain/7", "n7");
	assert_int_equal(mxs_store_domain_memory(st, QDOM), HOME);
	assert_int_equal(mxs_store_domain_memory(st, 0), dom0_home);
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
		T(test_memory_counts),
		T(test_memory_quota),
		T(test_memory_concurrent),
		T(test_memory_domain_gone),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
