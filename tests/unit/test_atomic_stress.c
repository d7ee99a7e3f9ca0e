/* SPDX-License-Identifier: MIT */
/*
 * Atomic visibility under concurrency: one writer thread commits
 * transactions while reader threads check that no request ever sees part
 * of one:
 *   - a transaction creates NKIDS children of /y, the next removes them
 *     all: every DIRECTORY (and DIRECTORY_PART) of /y lists 0 or NKIDS;
 *   - each transaction also writes k to /p/a and /p/b: reading one and
 *     then the other never finds the second older than the first;
 *   - a transaction removes /r/x (with its child) and creates it again
 *     with new values: READ /r/x is never ENOENT, and /r/x/k is never
 *     older than the /r/x read just before it.
 * The writer and the readers are RCU (QSBR) threads announcing a
 * quiescent state per loop, as the daemon's workers per batch.
 *
 * MXS_STRESS_ITERS (environment) sets the writer's transactions.
 */
#include "unit.h"

#include <pthread.h>

#define NREADERS 3
#define NKIDS 40

static struct mxs_store *st;
static int stop_readers; /* set by main (release), polled by readers */
static unsigned long iters = 3000;

struct reader_stats {
	unsigned long lists, partial, pairs, torn, reads, missing;
};

/* The number at the start of a value; -1 if it is not a number. */
static long value_num(const char *path, int *rc)
{
	char *v = unit_read(st, NULL, &dom0, path, rc);
	long n;

	if (!v)
		return -1;
	n = *v ? strtol(v, NULL, 10) : -1;
	free(v);
	return n;
}

static void check_listing(struct reader_stats *s)
{
	struct mxs_buf b = { 0 };
	size_t i, n = 0;
	int rc = mxs_store_directory(st, NULL, &dom0, "/y", &b);

	if (rc == 0) {
		for (i = 0; i < b.len; i++)
			n += b.p[i] == '\0';
		s->lists++;
		if (n != 0 && n != NKIDS)
			s->partial++;
	} else {
		s->partial++; /* /y exists throughout */
	}
	mxs_buf_reset(&b);
	/* DIRECTORY_PART: the whole list fits, so one call answers it. */
	rc = mxs_store_directory_part(st, NULL, &dom0, "/y", 0, 4096, &b);
	if (rc == 0) {
		size_t gen_end = strlen(b.p) + 1;

		n = 0;
		for (i = gen_end; i + 1 < b.len; i++)
			n += b.p[i] == '\0';
		if (n != 0 && n != NKIDS)
			s->partial++;
	} else {
		s->partial++;
	}
	mxs_buf_free(&b);
}

static void *reader(void *arg)
{
	struct reader_stats *s = arg;
	unsigned int turn = 0;

	rcu_register_thread();
	while (!__atomic_load_n(&stop_readers, __ATOMIC_ACQUIRE)) {
		const char *first = turn & 1 ? "/p/b" : "/p/a";
		const char *second = turn & 1 ? "/p/a" : "/p/b";
		long x, y;
		int rc1, rc2;

		check_listing(s);
		/* Later requests see at least what earlier ones saw. */
		x = value_num(first, &rc1);
		y = value_num(second, &rc2);
		s->pairs++;
		if (rc1 || rc2 || y < x)
			s->torn++;
		/* Remove-and-recreate in one commit: never missing. */
		x = value_num("/r/x", &rc1);
		y = value_num("/r/x/k", &rc2);
		s->reads++;
		if (rc1 == -ENOENT || rc2 == -ENOENT)
			s->missing++;
		else if (rc1 || rc2 || y < x)
			s->torn++;
		turn++;
		mxs_rcu_quiescent();
	}
	mxs_rcu_offline();
	rcu_unregister_thread();
	return NULL;
}

/* Runs one transaction to commit, retrying on EAGAIN (none expected:
 * one writer).  Returns the commit's result. */
static int commit_round(unsigned long k, bool create)
{
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx = mxs_txn_new(st);
	char path[64], val[32];
	int i, rc = 0;

	if (!tx)
		return -ENOMEM;
	snprintf(val, sizeof(val), "%lu", k);
	for (i = 0; !rc && i < NKIDS; i++) {
		snprintf(path, sizeof(path), "/y/c%d", i);
		rc = create ? mxs_store_write(st, tx, &dom0, path, val,
					      strlen(val), NULL)
			    : mxs_store_rm(st, tx, &dom0, path, NULL);
	}
	rc = rc ?: mxs_store_write(st, tx, &dom0, "/p/a", val, strlen(val),
				   NULL);
	rc = rc ?: mxs_store_write(st, tx, &dom0, "/p/b", val, strlen(val),
				   NULL);
	rc = rc ?: mxs_store_rm(st, tx, &dom0, "/r/x", NULL);
	rc = rc ?: mxs_store_write(st, tx, &dom0, "/r/x", val, strlen(val),
				   NULL);
	rc = rc ?: mxs_store_write(st, tx, &dom0, "/r/x/k", val, strlen(val),
				   NULL);
	rc = rc ?: mxs_txn_commit(tx, &ch);
	mxs_txn_free(tx);
	unit_changes_free(&ch);
	return rc;
}

static void *writer(void *arg)
{
	unsigned long k, *failed = arg;

	rcu_register_thread();
	for (k = 1; k <= iters; k++) {
		if (commit_round(k, k & 1))
			(*failed)++;
		mxs_rcu_quiescent();
	}
	mxs_rcu_offline();
	rcu_unregister_thread();
	return NULL;
}

static void test_atomic_stress(void **state)
{
	pthread_t rt[NREADERS], wt;
	struct reader_stats rs[NREADERS];
	const char *env = getenv("MXS_STRESS_ITERS");
	unsigned long failed = 0;
	char want[32];
	int i;

	(void)state;
	if (env && atol(env) > 0)
		iters = (unsigned long)atol(env);
	st = mxs_store_new();
	assert_non_null(st);
	unit_write(st, "/y", "");
	unit_write(st, "/p/a", "0");
	unit_write(st, "/p/b", "0");
	unit_write(st, "/r/x/k", "0");
	unit_write(st, "/r/x", "0");

	memset(rs, 0, sizeof(rs));
	for (i = 0; i < NREADERS; i++)
		assert_int_equal(pthread_create(&rt[i], NULL, reader, &rs[i]),
				 0);
	assert_int_equal(pthread_create(&wt, NULL, writer, &failed), 0);
	mxs_rcu_offline(); /* never hold up a grace period while waiting */
	pthread_join(wt, NULL);
	__atomic_store_n(&stop_readers, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NREADERS; i++)
		pthread_join(rt[i], NULL);
	mxs_rcu_online();

	assert_int_equal(failed, 0);
	for (i = 0; i < NREADERS; i++) {
		print_message("reader %d: %lu listings, %lu pairs, %lu "
			      "re-created reads\n",
			      i, rs[i].lists, rs[i].pairs, rs[i].reads);
		assert_true(rs[i].lists > 0);
		assert_int_equal(rs[i].partial, 0);
		assert_int_equal(rs[i].torn, 0);
		assert_int_equal(rs[i].missing, 0);
	}
	/* The last round (iters) decides the final contents. */
	snprintf(want, sizeof(want), "%lu", iters);
	assert_value(st, NULL, &dom0, "/p/a", want);
	assert_value(st, NULL, &dom0, "/r/x/k", want);
	if (iters & 1)
		assert_value(st, NULL, &dom0, "/y/c0", want);
	else
		assert_read_err(st, NULL, &dom0, "/y/c0", -ENOENT);
	unit_check(st);
	mxs_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atomic_stress),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
