/* SPDX-License-Identifier: MIT */
/*
 * The node index grows with the store (mxs_index_grow, store/node.h):
 * writes outside a transaction and a transaction's commit both grow it
 * so that it never holds more than MXS_INDEX_LOAD nodes per bucket, and
 * readers find every node while it grows under them.  An index left at
 * its first 1,024 buckets (liburcu's lazy resize stalling, the bug this
 * replaces) fails the size checks; a growth that lost or hid a node
 * fails the reads.
 */
#include "tests/unit/unit.h"

#include <pthread.h>

#include "store/node.h"

#define NFIXED 64

static unsigned long index_size(struct mxs_store *st)
{
	return __atomic_load_n(&st->index_size, __ATOMIC_RELAXED);
}

/* Every node fits the load factor. */
static void assert_sized(struct mxs_store *st)
{
	assert_true(unit_nodes(st) <=
		    (uint64_t)index_size(st) * MXS_INDEX_LOAD);
}

static void test_writes_grow(void **state)
{
	struct mxs_store *st = *state;
	char path[64], val[32];
	int i;

	assert_int_equal(index_size(st), MXS_INDEX_MIN);
	for (i = 0; i < 20000; i++) {
		snprintf(path, sizeof(path), "/g/%03d/n%05d", i % 100, i);
		snprintf(val, sizeof(val), "%d", i);
		unit_write(st, path, val);
		if (i % 1000 == 0) {
			assert_sized(st);
			mxs_rcu_quiescent();
		}
	}
	assert_sized(st);
	assert_true(index_size(st) >= 8192);
	for (i = 0; i < 20000; i += 7) {
		snprintf(path, sizeof(path), "/g/%03d/n%05d", i % 100, i);
		snprintf(val, sizeof(val), "%d", i);
		assert_value(st, NULL, &dom0, path, val);
	}
	unit_check(st);
}

static void test_commit_grows(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx = mxs_txn_new(st);
	char path[64];
	int i;

	assert_non_null(tx);
	for (i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/t/n%05d", i);
		assert_int_equal(mxs_store_write(st, tx, &dom0, path, "x", 1,
						 &ch),
				 0);
		mxs_changes_clear(&ch);
	}
	assert_int_equal(index_size(st), MXS_INDEX_MIN);
	assert_int_equal(mxs_txn_commit(tx, &ch), 0);
	mxs_txn_free(tx);
	unit_changes_free(&ch);
	assert_sized(st);
	assert_true(index_size(st) >= 2048);
	for (i = 0; i < 5000; i += 3) {
		snprintf(path, sizeof(path), "/t/n%05d", i);
		assert_value(st, NULL, &dom0, path, "x");
	}
	unit_check(st);
}

struct reader {
	struct mxs_store *st;
	int *stop;
	unsigned long reads, bad;
};

/* Reads the fixed nodes over and over until told to stop: each must be
 * there with its value whatever the index is doing. */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	char path[32], want[16];
	int i;

	rcu_register_thread();
	/* Acquire: pairs with the release in test_grow_under_readers(). */
	while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < NFIXED; i++) {
			struct mxs_buf b = { 0 };
			int rc;

			/* No cmocka assertion off the main thread. */
			snprintf(path, sizeof(path), "/fixed/%d", i);
			snprintf(want, sizeof(want), "v%d", i);
			rc = mxs_store_read(r->st, NULL, &dom0, path, &b);
			r->bad += rc || b.len != strlen(want) ||
				  memcmp(b.p, want, b.len) != 0;
			r->reads++;
			mxs_buf_free(&b);
		}
		mxs_rcu_quiescent();
	}
	mxs_rcu_offline();
	rcu_unregister_thread();
	return NULL;
}

static void test_grow_under_readers(void **state)
{
	struct mxs_store *st = *state;
	struct reader r[2];
	pthread_t th[2];
	char path[64], val[16];
	int stop = 0, i;

	for (i = 0; i < NFIXED; i++) {
		snprintf(path, sizeof(path), "/fixed/%d", i);
		snprintf(val, sizeof(val), "v%d", i);
		unit_write(st, path, val);
	}
	for (i = 0; i < 2; i++) {
		r[i] = (struct reader){ st, &stop, 0, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, reader_main,
						&r[i]),
				 0);
	}
	for (i = 0; i < 30000; i++) {
		snprintf(path, sizeof(path), "/w/%03d/n%05d", i % 300, i);
		unit_write(st, path, "1");
		if (i % 100 == 0)
			mxs_rcu_quiescent();
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	mxs_rcu_offline();
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	mxs_rcu_online();
	for (i = 0; i < 2; i++) {
		assert_true(r[i].reads > 0);
		assert_int_equal(r[i].bad, 0);
	}
	assert_sized(st);
	assert_true(index_size(st) >= 16384);
	unit_check(st);
}

#define T(f) cmocka_unit_test_setup_teardown(f, unit_store_setup, \
					     unit_store_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_writes_grow),
		T(test_commit_grows),
		T(test_grow_under_readers),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
