/* SPDX-License-Identifier: MIT */
/* Transactions: isolation, conflicts, commit and abort (store/store.h). */
#include "unit.h"

static void test_isolation(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx = mxs_txn_new(st);
	uint64_t nodes;

	unit_write(st, "/t/old", "o");
	nodes = unit_nodes(st);
	assert_non_null(tx);

	assert_int_equal(mxs_store_write(st, tx, &dom0, "/t/new/x", "n", 1,
					 &ch),
			 0);
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/t/old", "O2", 2,
					 &ch),
			 0);
	/* Changes wait for the commit. */
	assert_int_equal(ch.n, 0);
	/* The transaction sees its own writes... */
	assert_value(st, tx, &dom0, "/t/new/x", "n");
	assert_value(st, tx, &dom0, "/t/new", "");
	assert_value(st, tx, &dom0, "/t/old", "O2");
	assert_dir(st, tx, &dom0, "/t", "old,new");
	assert_int_equal(mxs_txn_nodes(tx) >= 3, true);
	/* ...nobody else does. */
	assert_value(st, NULL, &dom0, "/t/old", "o");
	assert_read_err(st, NULL, &dom0, "/t/new", -ENOENT);
	assert_read_err(st, NULL, &dom0, "/t/new/x", -ENOENT);
	assert_dir(st, NULL, &dom0, "/t", "old");
	assert_int_equal(unit_nodes(st), nodes);

	assert_int_equal(mxs_txn_commit(tx, &ch), 0);
	mxs_txn_free(tx);
	/* Now everyone does, with the changes in order. */
	assert_int_equal(ch.n, 2);
	assert_string_equal(ch.v[0].path, "/t/new/x");
	assert_false(ch.v[0].exact);
	assert_string_equal(ch.v[1].path, "/t/old");
	unit_changes_free(&ch);
	assert_value(st, NULL, &dom0, "/t/new/x", "n");
	assert_value(st, NULL, &dom0, "/t/old", "O2");
	assert_dir(st, NULL, &dom0, "/t", "old,new");
	assert_int_equal(unit_nodes(st), nodes + 2);
	unit_check(st);
}

static void test_snapshot_value(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx = mxs_txn_new(st);

	unit_write(st, "/v", "1");
	assert_value(st, tx, &dom0, "/v", "1");
	unit_write(st, "/v", "2");
	/* Read inside stays as first read. */
	assert_value(st, tx, &dom0, "/v", "1");
	assert_value(st, NULL, &dom0, "/v", "2");
	/* ...and the commit conflicts (read set). */
	assert_int_equal(mxs_txn_commit(tx, &ch), -EAGAIN);
	assert_int_equal(ch.n, 0);
	mxs_txn_free(tx);
	assert_value(st, NULL, &dom0, "/v", "2");
}

/* Starts a transaction that reads /a and writes /b (both exist). */
static struct mxs_txn *start_rw(struct mxs_store *st)
{
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx = mxs_txn_new(st);

	assert_non_null(tx);
	assert_value(st, tx, &dom0, "/a", "a0");
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/b", "b1", 2, &ch),
			 0);
	assert_int_equal(ch.n, 0);
	return tx;
}

static void commit_expect(struct mxs_store *st, struct mxs_txn *tx, int want)
{
	struct mxs_changes ch = { 0 };
	struct mxs_store_stats before, after;

	mxs_store_get_stats(st, &before);
	assert_int_equal(mxs_txn_commit(tx, &ch), want);
	mxs_store_get_stats(st, &after);
	if (want == -EAGAIN) {
		assert_int_equal(ch.n, 0);
		assert_int_equal(after.conflicts, before.conflicts + 1);
		assert_int_equal(after.commits, before.commits);
	} else {
		assert_int_equal(after.commits, before.commits + 1);
	}
	unit_changes_free(&ch);
	mxs_txn_free(tx);
}

static void setup_ab(struct mxs_store *st)
{
	unit_write(st, "/a", "a0");
	unit_write(st, "/b", "b0");
	unit_write(st, "/c", "c0");
	unit_write(st, "/dir/sub", "s");
}

static void test_conflict_read_set(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx;

	setup_ab(st);
	tx = start_rw(st);
	unit_write(st, "/a", "a1");
	commit_expect(st, tx, -EAGAIN);
	/* The transaction's write was not applied. */
	assert_value(st, NULL, &dom0, "/b", "b0");

	/* A permission change of a read node is a change too. */
	unit_write(st, "/a", "a0");
	tx = start_rw(st);
	unit_set_perms(st, "/a", "n0,r1");
	commit_expect(st, tx, -EAGAIN);

	/* So is its removal. */
	tx = start_rw(st);
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/a", &ch), 0);
	unit_changes_free(&ch);
	commit_expect(st, tx, -EAGAIN);
	assert_value(st, NULL, &dom0, "/b", "b0");
	unit_check(st);
}

static void test_conflict_write_set(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_txn *tx;

	setup_ab(st);
	tx = start_rw(st);
	unit_write(st, "/b", "other");
	commit_expect(st, tx, -EAGAIN);
	assert_value(st, NULL, &dom0, "/b", "other");

	/* Written blind (never read), same value written outside: still a
	 * change since. */
	unit_write(st, "/b", "b0");
	tx = start_rw(st);
	unit_write(st, "/b", "b0");
	commit_expect(st, tx, -EAGAIN);
	assert_value(st, NULL, &dom0, "/b", "b0");
	unit_check(st);
}

static void test_conflict_missing(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx;

	setup_ab(st);
	/* Found missing, now exists. */
	tx = mxs_txn_new(st);
	assert_read_err(st, tx, &dom0, "/dir/m", -ENOENT);
	unit_write(st, "/dir/m", "now");
	commit_expect(st, tx, -EAGAIN);

	/* Created inside, created outside too. */
	tx = mxs_txn_new(st);
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/c/new", "in", 2,
					 &ch),
			 0);
	unit_write(st, "/c/new", "out");
	commit_expect(st, tx, -EAGAIN);
	assert_value(st, NULL, &dom0, "/c/new", "out");

	/* Found missing and still missing: no conflict. */
	tx = mxs_txn_new(st);
	assert_read_err(st, tx, &dom0, "/nothing/here", -ENOENT);
	unit_write(st, "/c", "unrelated");
	commit_expect(st, tx, 0);
	unit_check(st);
}

static void test_no_conflict_unrelated(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx;

	setup_ab(st);
	tx = start_rw(st);
	/* Unrelated nodes change meanwhile, even siblings. */
	unit_write(st, "/c", "c1");
	unit_write(st, "/dir/sub", "s1");
	unit_write(st, "/dir/other", "o");
	unit_set_perms(st, "/c", "n0,r3");
	assert_int_equal(mxs_txn_commit(tx, &ch), 0);
	mxs_txn_free(tx);
	assert_int_equal(ch.n, 1);
	assert_string_equal(ch.v[0].path, "/b");
	unit_changes_free(&ch);
	assert_value(st, NULL, &dom0, "/b", "b1");
	assert_value(st, NULL, &dom0, "/c", "c1");

	/* A read-only transaction commits too. */
	tx = mxs_txn_new(st);
	assert_value(st, tx, &dom0, "/a", "a0");
	assert_dir(st, tx, &dom0, "/dir", "sub,other");
	unit_write(st, "/b", "b2");
	commit_expect(st, tx, 0);
	unit_check(st);
}

static void test_conflict_children(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx;

	setup_ab(st);
	/* A listed directory gains a child. */
	tx = mxs_txn_new(st);
	assert_dir(st, tx, &dom0, "/dir", "sub");
	unit_write(st, "/dir/more", "");
	/* The transaction keeps the list it first saw (as the C daemon). */
	assert_dir(st, tx, &dom0, "/dir", "sub");
	assert_dir(st, NULL, &dom0, "/dir", "sub,more");
	commit_expect(st, tx, -EAGAIN);

	/* A subtree removed inside while a child is added outside. */
	tx = mxs_txn_new(st);
	assert_int_equal(mxs_store_rm(st, tx, &dom0, "/dir", &ch), 0);
	unit_write(st, "/dir/late", "");
	commit_expect(st, tx, -EAGAIN);
	assert_value(st, NULL, &dom0, "/dir/late", "");
	assert_value(st, NULL, &dom0, "/dir/sub", "s");

	/* Found missing; created and removed again outside: it is missing
	 * now as then.  /c's child list changed, but the transaction never
	 * read that list: no conflict by default; the strict (C daemon)
	 * rule conflicts because /c changed at all. */
	for (int strict = 0; strict < 2; strict++) {
		mxs_store_set_strict_conflicts(st, strict);
		tx = mxs_txn_new(st);
		assert_read_err(st, tx, &dom0, "/c/flip", -ENOENT);
		assert_int_equal(mxs_store_write(st, tx, &dom0, "/b", "bt", 2,
						 &ch),
				 0);
		unit_write(st, "/c/flip", "1");
		assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/c/flip", &ch),
				 0);
		unit_changes_free(&ch);
		commit_expect(st, tx, strict ? -EAGAIN : 0);
	}
	mxs_store_set_strict_conflicts(st, false);
	unit_check(st);
}

/* Concurrent domain creations under one parent (a toolstack's boot
 * storm) do not conflict unless the parent's child list was read or its
 * value or permissions changed; the strict rule conflicts on any change. */
static void test_merge_siblings(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *t1, *t2;
	int strict;

	unit_write(st, "/local/domain/0/name", "dom0");
	for (strict = 0; strict < 2; strict++) {
		char p1[64], p2[64];

		mxs_store_set_strict_conflicts(st, strict);
		snprintf(p1, sizeof(p1), "/local/domain/%d/name", 10 + strict);
		snprintf(p2, sizeof(p2), "/local/domain/%d/name", 20 + strict);
		t1 = mxs_txn_new(st);
		t2 = mxs_txn_new(st);
		assert_int_equal(mxs_store_write(st, t1, &dom0, p1, "a", 1,
						 &ch),
				 0);
		assert_int_equal(mxs_store_write(st, t2, &dom0, p2, "b", 1,
						 &ch),
				 0);
		commit_expect(st, t1, 0);
		commit_expect(st, t2, strict ? -EAGAIN : 0);
		unit_changes_free(&ch);
	}
	mxs_store_set_strict_conflicts(st, false);
	assert_value(st, NULL, &dom0, "/local/domain/10/name", "a");
	assert_value(st, NULL, &dom0, "/local/domain/20/name", "b");
	assert_read_err(st, NULL, &dom0, "/local/domain/21/name", -ENOENT);
	assert_dir(st, NULL, &dom0, "/local/domain", "0,10,20,11");

	/* Same name created by both: the second conflicts. */
	t1 = mxs_txn_new(st);
	t2 = mxs_txn_new(st);
	assert_int_equal(mxs_store_write(st, t1, &dom0, "/local/domain/30/x",
					 "1", 1, &ch),
			 0);
	assert_int_equal(mxs_store_write(st, t2, &dom0, "/local/domain/30/x",
					 "2", 1, &ch),
			 0);
	commit_expect(st, t1, 0);
	commit_expect(st, t2, -EAGAIN);
	assert_value(st, NULL, &dom0, "/local/domain/30/x", "1");

	/* The parent's child list was read: conflict. */
	t1 = mxs_txn_new(st);
	assert_dir(st, t1, &dom0, "/local/domain", "0,10,20,11,30");
	assert_int_equal(mxs_store_write(st, t1, &dom0, "/local/domain/40/x",
					 "1", 1, &ch),
			 0);
	unit_write(st, "/local/domain/41/x", "1");
	commit_expect(st, t1, -EAGAIN);

	/* The parent's permissions changed (a new child would inherit
	 * them): conflict. */
	t1 = mxs_txn_new(st);
	assert_int_equal(mxs_store_write(st, t1, &dom0, "/local/domain/50/x",
					 "1", 1, &ch),
			 0);
	{
		struct mxs_perm p = { 0, MXS_PERM_READ };

		assert_int_equal(mxs_store_set_perms(st, NULL, &dom0,
						     "/local/domain", &p, 1,
						     &ch),
				 0);
	}
	commit_expect(st, t1, -EAGAIN);
	unit_changes_free(&ch);
	free(ch.v);
	unit_check(st);
}

static size_t count_children(struct mxs_store *st, struct mxs_txn *tx,
			     const char *path)
{
	struct mxs_buf out = { 0 };
	size_t n = 0, off;

	assert_int_equal(mxs_store_directory(st, tx, &dom0, path, &out), 0);
	for (off = 0; off < out.len; off += strlen(out.p + off) + 1)
		n++;
	mxs_buf_free(&out);
	return n;
}

/* Directories of more than 256 children are not copied into a
 * transaction (a toolstack transaction must not copy /local/domain on a
 * host with thousands of domains): it sees the live list plus its own
 * changes.  The commit still fails when the list changed. */
static void test_big_directory_delta(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx;
	char path[64];
	int i;

	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/big/d%d", i);
		unit_write(st, path, "");
	}
	tx = mxs_txn_new(st);
	assert_int_equal(count_children(st, tx, "/big"), 300);
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/big/mine", "", 0,
					 &ch),
			 0);
	assert_int_equal(mxs_store_rm(st, tx, &dom0, "/big/d0", &ch), 0);
	unit_write(st, "/big/outside", "");
	/* 300 - d0 + mine (own changes) + outside (live). */
	assert_int_equal(count_children(st, tx, "/big"), 301);
	commit_expect(st, tx, -EAGAIN);
	assert_int_equal(count_children(st, NULL, "/big"), 301);
	mxs_changes_clear(&ch);
	free(ch.v);
	unit_check(st);
}

static void test_no_conflict_ancestor_value(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx = mxs_txn_new(st);

	unit_write(st, "/an/b/c", "0");
	/* Writing an existing node records that node only. */
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/an/b/c", "1", 1,
					 &ch),
			 0);
	unit_write(st, "/an", "ancestor changed");
	unit_write(st, "/an/b", "parent changed");
	unit_write(st, "/an/b/sibling", "new");
	commit_expect(st, tx, 0);
	assert_value(st, NULL, &dom0, "/an/b/c", "1");
	assert_value(st, NULL, &dom0, "/an/b", "parent changed");
	assert_dir(st, NULL, &dom0, "/an/b", "c,sibling");
	unit_check(st);
}

static void test_commit_rm_recreate(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx;
	uint64_t nodes;

	unit_write(st, "/r/a/b", "1");
	unit_write(st, "/r/c", "2");
	unit_write(st, "/r", "rv");
	unit_write(st, "/z", "z");
	nodes = unit_nodes(st);

	tx = mxs_txn_new(st);
	assert_int_equal(mxs_store_rm(st, tx, &dom0, "/r", &ch), 0);
	assert_int_equal(ch.n, 0);
	assert_read_err(st, tx, &dom0, "/r", -ENOENT);
	assert_read_err(st, tx, &dom0, "/r/a/b", -ENOENT);
	assert_dir(st, tx, &dom0, "/", "tool,z");
	/* Outside, nothing happened yet. */
	assert_value(st, NULL, &dom0, "/r/a/b", "1");
	/* Recreate inside the same transaction. */
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/r/new", "n", 1,
					 &ch),
			 0);
	assert_value(st, tx, &dom0, "/r", "");
	assert_dir(st, tx, &dom0, "/r", "new");
	assert_read_err(st, tx, &dom0, "/r/c", -ENOENT);
	assert_int_equal(mxs_store_rm(st, tx, &dom0, "/z", &ch), 0);
	assert_int_equal(ch.n, 0);

	assert_int_equal(mxs_txn_commit(tx, &ch), 0);
	mxs_txn_free(tx);
	/* One change per node, in the order the transaction first accessed
	 * them (the C daemon's commit): /r (removed), its subtree in
	 * pre-order (exact), the write of /r/new, then rm /z. */
	assert_int_equal(ch.n, 6);
	assert_string_equal(ch.v[0].path, "/r");
	assert_false(ch.v[0].exact);
	assert_string_equal(ch.v[1].path, "/r/a");
	assert_string_equal(ch.v[2].path, "/r/a/b");
	assert_string_equal(ch.v[3].path, "/r/c");
	assert_true(ch.v[1].exact && ch.v[2].exact && ch.v[3].exact);
	assert_string_equal(ch.v[4].path, "/r/new");
	assert_false(ch.v[4].exact);
	assert_string_equal(ch.v[5].path, "/z");
	assert_false(ch.v[5].exact);
	assert_non_null(ch.v[5].perms);
	unit_changes_free(&ch);

	assert_value(st, NULL, &dom0, "/r", "");
	assert_dir(st, NULL, &dom0, "/r", "new");
	assert_value(st, NULL, &dom0, "/r/new", "n");
	assert_read_err(st, NULL, &dom0, "/r/a", -ENOENT);
	assert_read_err(st, NULL, &dom0, "/r/a/b", -ENOENT);
	assert_read_err(st, NULL, &dom0, "/r/c", -ENOENT);
	assert_read_err(st, NULL, &dom0, "/z", -ENOENT);
	/* -3 under /r, +1 new, -1 /z */
	assert_int_equal(unit_nodes(st), nodes - 3);
	assert_int_equal(mxs_store_domain_nodes(st, 0), nodes - 3);
	unit_check(st);
}

static void test_commit_create_order(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx = mxs_txn_new(st);

	unit_write(st, "/k/first", "");
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/k/zz/deep", "", 0,
					 &ch),
			 0);
	assert_int_equal(mxs_store_mkdir(st, tx, &dom0, "/k/aa", &ch), 0);
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/k/mm", "", 0, &ch),
			 0);
	/* mkdir of something that exists inside: nothing to report. */
	assert_int_equal(mxs_store_mkdir(st, tx, &dom0, "/k/zz", &ch), 0);
	assert_dir(st, tx, &dom0, "/k", "first,zz,aa,mm");
	assert_int_equal(mxs_txn_commit(tx, &ch), 0);
	mxs_txn_free(tx);
	assert_int_equal(ch.n, 3);
	unit_changes_free(&ch);
	/* Creation order survives the commit. */
	assert_dir(st, NULL, &dom0, "/k", "first,zz,aa,mm");
	assert_dir(st, NULL, &dom0, "/k/zz", "deep");
	unit_check(st);
}

static void test_commit_set_perms(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx = mxs_txn_new(st);
	struct mxs_perm p[2] = { { 4, MXS_PERM_READ }, { 6, MXS_PERM_WRITE } };

	unit_write(st, "/sp", "v");
	assert_int_equal(mxs_store_set_perms(st, tx, &dom0, "/sp", p, 2, &ch),
			 0);
	assert_int_equal(ch.n, 0);
	assert_perms(st, tx, &dom0, "/sp", "r4,w6");
	assert_perms(st, NULL, &dom0, "/sp", "n0");
	assert_int_equal(mxs_store_domain_nodes(st, 4), 0);
	assert_int_equal(mxs_txn_commit(tx, &ch), 0);
	mxs_txn_free(tx);
	assert_int_equal(ch.n, 1);
	assert_string_equal(ch.v[0].path, "/sp");
	assert_int_equal(ch.v[0].nperms, 1);
	assert_int_equal(ch.v[0].perms[0].domid, 0);
	unit_changes_free(&ch);
	assert_perms(st, NULL, &dom0, "/sp", "r4,w6");
	assert_value(st, NULL, &dom0, "/sp", "v");
	assert_int_equal(mxs_store_domain_nodes(st, 4), 1);
	unit_check(st);
}

static void test_abort(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx = mxs_txn_new(st);
	struct mxs_perm p = { 9, MXS_PERM_NONE };
	struct mxs_store_stats before, after;
	struct mxs_buf d1 = { 0 }, d2 = { 0 };

	unit_write(st, "/x/y", "1");
	unit_write(st, "/x/z", "2");
	mxs_store_get_stats(st, &before);
	assert_int_equal(mxs_store_dump(st, &d1), 0);

	assert_int_equal(mxs_store_write(st, tx, &dom0, "/x/y", "9", 1, &ch),
			 0);
	assert_int_equal(mxs_store_rm(st, tx, &dom0, "/x/z", &ch), 0);
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/n/e/w", "", 0, &ch),
			 0);
	assert_int_equal(mxs_store_set_perms(st, tx, &dom0, "/x", &p, 1, &ch),
			 0);
	assert_int_equal(ch.n, 0);
	mxs_txn_free(tx); /* abort */

	mxs_store_get_stats(st, &after);
	assert_int_equal(after.nodes, before.nodes);
	assert_int_equal(after.generation, before.generation);
	assert_int_equal(after.commits, before.commits);
	assert_int_equal(mxs_store_dump(st, &d2), 0);
	assert_int_equal(d1.len, d2.len);
	assert_memory_equal(d1.p, d2.p, d1.len);
	mxs_buf_free(&d1);
	mxs_buf_free(&d2);
	assert_int_equal(mxs_store_domain_nodes(st, 9), 0);
	unit_check(st);
}

static void test_txn_perms(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_caller d5 = domu(5);
	struct mxs_txn *tx = mxs_txn_new(st);

	unit_write(st, "/h", "");
	unit_set_perms(st, "/h", "n0,w5");
	unit_write(st, "/ro", "r");
	unit_set_perms(st, "/ro", "n0,r5");
	/* The same permission rules inside a transaction. */
	assert_int_equal(mxs_store_write(st, tx, &d5, "/ro", "x", 1, &ch),
			 -EACCES);
	assert_read_err(st, tx, &d5, "/h/none", -EACCES); /* no read on /h */
	assert_read_err(st, tx, &d5, "/ro/none", -ENOENT);
	assert_int_equal(mxs_store_write(st, tx, &d5, "/h/mine", "m", 1, &ch),
			 0);
	assert_perms(st, tx, &d5, "/h/mine", "n5,w5");
	assert_int_equal(mxs_txn_commit(tx, &ch), 0);
	mxs_txn_free(tx);
	unit_changes_free(&ch);
	assert_perms(st, NULL, &dom0, "/h/mine", "n5,w5");
	assert_int_equal(mxs_store_domain_nodes(st, 5), 1);
	unit_check(st);
}

/*
 * Found by fuzz_txn (tests/fuzz/regressions_txn/rm_ancestor_keeps_own_
 * write): a transaction wrote /b/a/a, the node was then removed outside
 * it, and the transaction removed /b.  Its own write must go with the
 * subtree: READ /b/a/a inside it is ENOENT like /b (it answered the old
 * private value).  The commit conflicts either way.
 */
static void test_rm_ancestor_drops_own_write(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx = mxs_txn_new(st);

	unit_write(st, "/b/a/a", "live");
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/b/a/a", "mine", 4,
					 &ch),
			 0);
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/b/a/a", &ch), 0);
	mxs_changes_clear(&ch);
	assert_int_equal(mxs_store_rm(st, tx, &dom0, "/b", &ch), 0);
	assert_read_err(st, tx, &dom0, "/b", -ENOENT);
	assert_read_err(st, tx, &dom0, "/b/a", -ENOENT);
	assert_read_err(st, tx, &dom0, "/b/a/a", -ENOENT);
	commit_expect(st, tx, -EAGAIN);
	assert_value(st, NULL, &dom0, "/b/a", "");
	unit_check(st);
	mxs_changes_clear(&ch);
	free(ch.v);
}

/*
 * A refused access inside a transaction still looks at the parents, as
 * the C daemon's get_node() does (errno_from_parents reads the nearest
 * existing ancestor to choose the errno), so the ancestor is in the
 * transaction's read set: its change before the commit is a conflict.
 * Found by a 40 x 400 diff_guests run (seed 33: C EAGAIN, we committed).
 */
static void test_refused_read_records_parent(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_caller d5 = domu(5);

	unit_write(st, "/p/secret", "s");
	unit_set_perms(st, "/p", "n0,r5");
	unit_set_perms(st, "/p/secret", "n0");
	for (int strict = 0; strict < 2; strict++) {
		struct mxs_txn *tx = mxs_txn_new(st);

		mxs_store_set_strict_conflicts(st, strict);
		assert_read_err(st, tx, &d5, "/p/secret", -EACCES);
		unit_write(st, "/p", strict ? "changed again" : "changed");
		commit_expect(st, tx, -EAGAIN);
	}
	mxs_store_set_strict_conflicts(st, false);
	unit_check(st);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_store_setup, \
					     unit_store_teardown)
	const struct CMUnitTest tests[] = {
		T(test_isolation),
		T(test_snapshot_value),
		T(test_conflict_read_set),
		T(test_conflict_write_set),
		T(test_conflict_missing),
		T(test_no_conflict_unrelated),
		T(test_conflict_children),
		T(test_big_directory_delta),
		T(test_merge_siblings),
		T(test_no_conflict_ancestor_value),
		T(test_commit_rm_recreate),
		T(test_commit_create_order),
		T(test_commit_set_perms),
		T(test_abort),
		T(test_txn_perms),
		T(test_rm_ancestor_drops_own_write),
		T(test_refused_read_records_parent),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
