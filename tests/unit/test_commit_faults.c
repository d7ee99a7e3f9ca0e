/* SPDX-License-Identifier: MIT */
/*
 * Commits cannot half-happen: against the store built with allocation
 * failure injection (mxs_store_faults, store/faults.h), each allocation of
 * a commit in turn is made to fail; the commit must answer -ENOMEM and
 * leave the store exactly as it was (CONTROL check, the dump of every
 * node, the generation, the node count), and the same commit with no
 * failure must then succeed.
 */
#include "tests/unit/unit.h"

#include "store/faults.h"

/* A tree with values, a subtree to remove and a node to re-create. */
static void build_tree(struct mxs_store *st)
{
	char path[64];
	int i;

	unit_write(st, "/a/x", "1");
	unit_write(st, "/a/y/z", "2");
	unit_set_perms(st, "/a/y", "n0,r5");
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/c/k%d/leaf", i);
		unit_write(st, path, "v");
	}
	unit_write(st, "/r/x/k", "old");
}

struct picture {
	struct mxs_buf dump;
	uint64_t gen, nodes;
	unsigned int dom5;
};

static void take(struct mxs_store *st, struct picture *p)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(mxs_store_dump(st, &p->dump), 0);
	p->gen = mxs_store_generation(st);
	p->nodes = unit_nodes(st);
	p->dom5 = mxs_store_domain_nodes(st, 5);
}

static void assert_same(struct mxs_store *st, const struct picture *before)
{
	struct picture now;

	unit_check(st);
	take(st, &now);
	assert_int_equal(now.dump.len, before->dump.len);
	assert_memory_equal(now.dump.p, before->dump.p, now.dump.len);
	assert_int_equal(now.gen, before->gen);
	assert_int_equal(now.nodes, before->nodes);
	assert_int_equal(now.dom5, before->dom5);
	mxs_buf_free(&now.dump);
}

/* The transaction: an update, a creation three levels deep, a subtree
 * removal, a remove-and-re-create and an owner change. */
static struct mxs_txn *make_txn(struct mxs_store *st)
{
	struct mxs_perm p5 = { 5, MXS_PERM_READ };
	struct mxs_txn *tx = mxs_txn_new(st);

	assert_non_null(tx);
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/a/x", "new", 3,
					 NULL), 0);
	assert_int_equal(mxs_store_mkdir(st, tx, &dom0, "/n/p/q", NULL), 0);
	assert_int_equal(mxs_store_rm(st, tx, &dom0, "/c", NULL), 0);
	assert_int_equal(mxs_store_rm(st, tx, &dom0, "/r/x", NULL), 0);
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/r/x/k", "new", 3,
					 NULL), 0);
	assert_int_equal(mxs_store_set_perms(st, tx, &dom0, "/a/y/z", &p5, 1,
					     NULL), 0);
	return tx;
}

/* The operations under test, each on a store built by build_tree. */
enum op { OP_COMMIT, OP_WRITE, OP_RM, OP_DOMAIN_GONE, OP_N };

static int run_op(struct mxs_store *st, enum op op, struct mxs_txn *tx,
		  struct mxs_changes *ch)
{
	switch (op) {
	case OP_COMMIT:
		return mxs_txn_commit(tx, ch);
	case OP_WRITE:
		return mxs_store_write(st, NULL, &dom0, "/w/1/2/3", "v", 1, ch);
	case OP_RM:
		return mxs_store_rm(st, NULL, &dom0, "/c", ch);
	default:
		return mxs_store_domain_gone(st, 5, ch);
	}
}

/* What each operation must have done once it succeeded. */
static void assert_done(struct mxs_store *st, enum op op)
{
	switch (op) {
	case OP_COMMIT:
		assert_value(st, NULL, &dom0, "/a/x", "new");
		assert_value(st, NULL, &dom0, "/r/x/k", "new");
		assert_read_err(st, NULL, &dom0, "/c", -ENOENT);
		assert_dir(st, NULL, &dom0, "/n/p", "q");
		assert_int_equal(mxs_store_domain_nodes(st, 5), 1);
		break;
	case OP_WRITE:
		assert_value(st, NULL, &dom0, "/w/1/2/3", "v");
		break;
	case OP_RM:
		assert_read_err(st, NULL, &dom0, "/c", -ENOENT);
		assert_dir(st, NULL, &dom0, "/", "tool,a,r");
		break;
	default:
		assert_read_err(st, NULL, &dom0, "/a/y/z", -ENOENT);
		assert_int_equal(mxs_store_domain_nodes(st, 5), 0);
		break;
	}
}

/*
 * Fails allocation n of the operation, for n = 0, 1, ... until one run
 * has no failure left to inject: each failed run must leave the store as
 * it was; a run whose failure hit a best-effort allocation (the grace
 * probe, the WRITE's preparation outside the lock) must succeed whole.
 */
static void fault_every_allocation(enum op op)
{
	long n;

	for (n = 0;; n++) {
		struct mxs_store *st = mxs_store_new();
		struct mxs_changes ch = { 0 };
		struct mxs_txn *tx = NULL;
		struct picture before;
		bool fired;
		int rc;

		assert_non_null(st);
		build_tree(st);
		if (op == OP_DOMAIN_GONE)
			unit_set_perms(st, "/a/y", "n5");
		if (op == OP_COMMIT)
			tx = make_txn(st);
		take(st, &before);
		mxs_store_fail_after(n);
		rc = run_op(st, op, tx, &ch);
		fired = mxs_store_fault_fired();
		mxs_store_fail_after(-1);
		mxs_txn_free(tx);
		if (rc == 0) {
			assert_true(ch.n > 0);
			assert_done(st, op);
			assert_true(mxs_store_generation(st) > before.gen);
			unit_check(st);
		} else {
			assert_int_equal(rc, -ENOMEM);
			assert_true(fired);
			assert_int_equal(ch.n, 0);
			assert_same(st, &before);
		}
		unit_changes_free(&ch);
		mxs_buf_free(&before.dump);
		mxs_store_free(st);
		mxs_rcu_quiescent();
		if (!fired)
			break;
	}
	print_message("operation %d: %ld allocations, each failed once\n",
		      (int)op, n);
	assert_true(n > 2); /* the injection did reach the operation */
}

static void test_commit_faults(void **state)
{
	(void)state;
	fault_every_allocation(OP_COMMIT);
}

/* Operations outside a transaction: the operation and its commit. */
static void test_implicit_faults(void **state)
{
	(void)state;
	fault_every_allocation(OP_WRITE);
	fault_every_allocation(OP_RM);
	fault_every_allocation(OP_DOMAIN_GONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_faults),
		cmocka_unit_test(test_implicit_faults),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
