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

static void test_commit_faults(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct picture before;
	long n;
	int rc = -ENOMEM;

	build_tree(st);
	take(st, &before);
	for (n = 0; rc; n++) {
		struct mxs_txn *tx = make_txn(st);
		bool fired;

		mxs_store_fail_after(n);
		rc = mxs_txn_commit(tx, &ch);
		fired = mxs_store_fault_fired();
		mxs_store_fail_after(-1);
		mxs_txn_free(tx);
		if (rc == 0)
			break; /* past the last allocation, or a best-effort
				* one (the grace probe, store/node.c) */
		assert_int_equal(rc, -ENOMEM);
		assert_true(fired);
		assert_int_equal(ch.n, 0);
		assert_same(st, &before);
		mxs_rcu_quiescent();
	}
	print_message("commit: %ld allocations, each failed once\n", n);
	assert_true(n > 5); /* the injection did reach the commit */
	/* The successful commit did all of it. */
	assert_value(st, NULL, &dom0, "/a/x", "new");
	assert_value(st, NULL, &dom0, "/r/x/k", "new");
	assert_read_err(st, NULL, &dom0, "/c", -ENOENT);
	assert_dir(st, NULL, &dom0, "/n/p", "q");
	assert_int_equal(mxs_store_domain_nodes(st, 5), 1);
	assert_true(mxs_store_generation(st) > before.gen);
	assert_true(ch.n > 0);
	unit_changes_free(&ch);
	unit_check(st);
	mxs_buf_free(&before.dump);
}

/* Operations outside a transaction: the operation and its commit. */
static void test_implicit_faults(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	int op;

	build_tree(st);
	for (op = 0; op < 3; op++) {
		struct picture before;
		long n;
		int rc = -ENOMEM;

		take(st, &before);
		for (n = 0; rc; n++) {
			mxs_store_fail_after(n);
			rc = op == 0   ? mxs_store_write(st, NULL, &dom0,
							 "/w/1/2/3", "v", 1,
							 &ch)
			     : op == 1 ? mxs_store_rm(st, NULL, &dom0, "/c",
						      &ch)
					 : mxs_store_domain_gone(st, 5, &ch);
			mxs_store_fail_after(-1);
			if (rc == 0)
				break;
			assert_int_equal(rc, -ENOMEM);
			assert_int_equal(ch.n, 0);
			assert_same(st, &before);
			mxs_rcu_quiescent();
		}
		print_message("operation %d: %ld allocations\n", op, n);
		assert_true(n > 0);
		assert_true(ch.n > 0);
		unit_changes_free(&ch);
		unit_check(st);
		mxs_buf_free(&before.dump);
		if (op == 1) /* give domain 5 something to lose */
			unit_set_perms(st, "/a/y", "n5");
	}
	assert_value(st, NULL, &dom0, "/w/1/2/3", "v");
	assert_read_err(st, NULL, &dom0, "/c", -ENOENT);
	assert_read_err(st, NULL, &dom0, "/a/y/z", -ENOENT);
	assert_int_equal(mxs_store_domain_nodes(st, 5), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_store_setup, \
					     unit_store_teardown)
	const struct CMUnitTest tests[] = {
		T(test_commit_faults),
		T(test_implicit_faults),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
