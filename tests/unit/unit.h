/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the store unit tests: callers, a store per test, and
 * short wrappers that return a read value as a C string.
 *
 * Every test runs on the main thread, registered with urcu-qsbr and
 * online (the store's contract); it announces a quiescent state between
 * tests so that call_rcu frees make progress.
 */
#ifndef MXS_TESTS_UNIT_H
#define MXS_TESTS_UNIT_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include "store/rcu.h" /* urcu-qsbr, made visible to TSan */

#include "store/perms.h"
#include "store/store.h"

static const struct mxs_caller dom0 = { 0, MXS_NO_TARGET, true, false };
static const struct mxs_caller dom0_ro = { 0, MXS_NO_TARGET, true, true };

static inline struct mxs_caller domu(uint32_t domid)
{
	struct mxs_caller c = { domid, MXS_NO_TARGET, false, false };

	return c;
}

/* Group setup/teardown: the test thread is an RCU reader. */
static inline int unit_rcu_register(void **state)
{
	(void)state;
	rcu_register_thread();
	return 0;
}

static inline int unit_rcu_unregister(void **state)
{
	(void)state;
	rcu_unregister_thread();
	return 0;
}

/* Per-test setup/teardown: *state is a fresh store. */
static inline int unit_store_setup(void **state)
{
	struct mxs_store *st = mxs_store_new();

	if (!st)
		return -1;
	*state = st;
	return 0;
}

static inline int unit_store_teardown(void **state)
{
	mxs_store_free(*state);
	mxs_rcu_quiescent();
	return 0;
}

/* Reads path; returns the value as a malloc'ed NUL-terminated string
 * (caller frees) or NULL with *rc set. */
static inline char *unit_read(struct mxs_store *st, struct mxs_txn *tx,
			      const struct mxs_caller *c, const char *path,
			      int *rc)
{
	struct mxs_buf b = { 0 };

	*rc = mxs_store_read(st, tx, c, path, &b);
	if (*rc) {
		mxs_buf_free(&b);
		return NULL;
	}
	assert_int_equal(mxs_buf_add(&b, "", 1), 0);
	return b.p;
}

/* Asserts that path reads as `want` for c. */
#define assert_value(st, tx, c, path, want)                                   \
	do {                                                                  \
		int rc_;                                                      \
		char *v_ = unit_read((st), (tx), (c), (path), &rc_);          \
		assert_int_equal(rc_, 0);                                     \
		assert_string_equal(v_, (want));                              \
		free(v_);                                                     \
	} while (0)

/* Asserts that reading path fails with err. */
#define assert_read_err(st, tx, c, path, err)                                 \
	do {                                                                  \
		int rc_;                                                      \
		char *v_ = unit_read((st), (tx), (c), (path), &rc_);          \
		assert_null(v_);                                              \
		assert_int_equal(rc_, (err));                                 \
	} while (0)

/*
 * Joins a NUL-separated list (directory, get_perms output) into one
 * string with `sep` between entries, for readable assertions.  Caller
 * frees.
 */
static inline char *unit_join(const struct mxs_buf *b, char sep)
{
	char *s = malloc(b->len + 1);
	size_t i;

	assert_non_null(s);
	if (b->len)
		memcpy(s, b->p, b->len);
	s[b->len] = '\0';
	if (b->len && s[b->len - 1] == '\0')
		s[b->len - 1] = '\0';
	for (i = 0; i + 1 < b->len; i++)
		if (s[i] == '\0')
			s[i] = sep;
	return s;
}

typedef int (*unit_query_fn)(struct mxs_store *, struct mxs_txn *,
			     const struct mxs_caller *, const char *,
			     struct mxs_buf *);

/* A list-answering query (directory, get_perms) as "a,b,c" (caller
 * frees), or NULL with *rc set. */
static inline char *unit_list(unit_query_fn fn, struct mxs_store *st,
			      struct mxs_txn *tx, const struct mxs_caller *c,
			      const char *path, int *rc)
{
	struct mxs_buf b = { 0 };
	char *s;

	*rc = fn(st, tx, c, path, &b);
	if (*rc) {
		mxs_buf_free(&b);
		return NULL;
	}
	s = unit_join(&b, ',');
	mxs_buf_free(&b);
	return s;
}

#define unit_dir(st, tx, c, path, rc)                                         \
	unit_list(mxs_store_directory, (st), (tx), (c), (path), (rc))
#define unit_perms(st, tx, c, path, rc)                                       \
	unit_list(mxs_store_get_perms, (st), (tx), (c), (path), (rc))

#define assert_list(fn, st, tx, c, path, want)                                \
	do {                                                                  \
		int rc_;                                                      \
		char *v_ = unit_list((fn), (st), (tx), (c), (path), &rc_);    \
		assert_int_equal(rc_, 0);                                     \
		assert_string_equal(v_, (want));                              \
		free(v_);                                                     \
	} while (0)
#define assert_dir(st, tx, c, path, want)                                     \
	assert_list(mxs_store_directory, st, tx, c, path, want)
#define assert_perms(st, tx, c, path, want)                                   \
	assert_list(mxs_store_get_perms, st, tx, c, path, want)

/* Writes a string value as dom0 and asserts success. */
static inline void unit_write(struct mxs_store *st, const char *path,
			      const char *val)
{
	struct mxs_changes ch = { 0 };

	assert_int_equal(mxs_store_write(st, NULL, &dom0, path, val,
					 strlen(val), &ch),
			 0);
	mxs_changes_clear(&ch);
	free(ch.v);
}

/* Writes two string values in one transaction as dom0 and commits it,
 * asserting success. */
static inline void unit_tx_write2(struct mxs_store *st, const char *p1,
				  const char *v1, const char *p2,
				  const char *v2)
{
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx = mxs_txn_new(st);

	assert_non_null(tx);
	assert_int_equal(mxs_store_write(st, tx, &dom0, p1, v1, strlen(v1),
					 &ch),
			 0);
	assert_int_equal(mxs_store_write(st, tx, &dom0, p2, v2, strlen(v2),
					 &ch),
			 0);
	assert_int_equal(mxs_txn_commit(tx, &ch), 0);
	mxs_txn_free(tx);
	mxs_changes_clear(&ch);
	free(ch.v);
}

/* Sets permissions from a "n0,r5" string as dom0 and asserts success. */
static inline void unit_set_perms(struct mxs_store *st, const char *path,
				  const char *spec)
{
	struct mxs_perm perms[16];
	struct mxs_changes ch = { 0 };
	char buf[256];
	unsigned int n = 1;
	size_t i;

	assert_true(strlen(spec) < sizeof(buf));
	strcpy(buf, spec);
	for (i = 0; buf[i]; i++)
		if (buf[i] == ',') {
			buf[i] = '\0';
			n++;
		}
	assert_true(n <= 16);
	assert_int_equal(mxs_perms_parse(buf, n, perms), 0);
	assert_int_equal(mxs_store_set_perms(st, NULL, &dom0, path, perms, n,
					     &ch),
			 0);
	mxs_changes_clear(&ch);
	free(ch.v);
}

static inline void unit_changes_free(struct mxs_changes *ch)
{
	mxs_changes_clear(ch);
	free(ch->v);
	ch->v = NULL;
	ch->cap = 0;
}

static inline uint64_t unit_nodes(struct mxs_store *st)
{
	struct mxs_store_stats s;

	mxs_store_get_stats(st, &s);
	return s.nodes;
}

static inline void unit_check(struct mxs_store *st)
{
	struct mxs_buf rep = { 0 };
	int rc = mxs_store_check(st, &rep);

	if (rc)
		print_error("store check: %.*s\n", (int)rep.len,
			    rep.p ? rep.p : "");
	assert_int_equal(rc, 0);
	mxs_buf_free(&rep);
}

#endif
