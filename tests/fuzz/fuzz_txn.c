/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the store API (store/store.h) under two interleaved
 * transactions plus direct writes, compared with a model of the tree.
 *
 * The model is a map of a closed set of paths (names "a".."c", depth 1..3,
 * beside the initial /tool/xenstored) to presence and value.  Direct
 * operations are predicted exactly (result code and effect).  A
 * transaction logs the operations that succeeded inside it; when its
 * commit succeeds the log is replayed on the model at that point: with
 * the strict conflict rule of the C xenstored 4.17 (any change of a node
 * the transaction touched or found missing makes the commit EAGAIN), a
 * commit that succeeds must have exactly the effect of its operations
 * applied at commit time.  An aborted or failed commit changes nothing.
 * Inside a transaction, a read of a path whose last operation in that
 * transaction decides it (a write of that path, a removal of it or of an
 * ancestor) must see that operation (tx_view says when it decides).
 * Once the tree changed outside it, the transaction's view is per node
 * as of its first access to that node (store/store.h, docs/compat.md):
 * a node it never touched may then show up under an ancestor it removed,
 * and only its commit (EAGAIN) is checked.
 *
 * After every commit, abort and direct operation every path's presence
 * and value, and every node's child list, must equal the model's; the
 * store's own check (CONTROL check) must pass after every successful
 * commit and at the end of every input.
 *
 * Input: operations, each an opcode byte, a path byte and, for writes, a
 * length byte and value bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/rcu.h"
#include "store/store.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_TXN_NPATHS 39 /* 3 + 9 + 27 */
#define FUZZ_TXN_VALMAX 16
#define FUZZ_TXN_LOGMAX 64

/* One node of the model. */
struct fuzz_txn_node {
	bool exists;
	uint8_t len;
	char val[FUZZ_TXN_VALMAX];
};

enum fuzz_txn_opkind { FUZZ_TXN_WRITE, FUZZ_TXN_MKDIR, FUZZ_TXN_RM };

struct fuzz_txn_op {
	enum fuzz_txn_opkind kind;
	int path;
	uint8_t len;
	char val[FUZZ_TXN_VALMAX];
};

struct fuzz_txn_tx {
	struct mxs_txn *tx;
	struct fuzz_txn_op log[FUZZ_TXN_LOGMAX];
	unsigned int nlog;
	bool overflow; /* log full: the commit result is not predicted */
	unsigned long start; /* tree_changes when it started */
};

/* Changes of the live tree (direct operations, commits) so far. */
static unsigned long tree_changes;

static char paths[FUZZ_TXN_NPATHS][8];
static int parent_of[FUZZ_TXN_NPATHS]; /* -1: a child of "/" */
static struct mxs_store *st;
static const struct mxs_caller dom0 = { 0, MXS_NO_TARGET, true, false };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int n = 0;

	(void)argc;
	(void)argv;
	rcu_register_thread();
	st = mxs_store_new();
	CHECK(st);
	mxs_store_set_strict_conflicts(st, true);
	/* Breadth-first: parents come before their children. */
	for (int i = 0; i < 3; i++, n++) {
		snprintf(paths[n], sizeof(paths[n]), "/%c", 'a' + i);
		parent_of[n] = -1;
	}
	for (int p = 0; p < 12; p++)
		for (int i = 0; i < 3; i++, n++) {
			snprintf(paths[n], sizeof(paths[n]), "%s/%c", paths[p],
				 'a' + i);
			parent_of[n] = p;
		}
	CHECK(n == FUZZ_TXN_NPATHS);
	return 0;
}

static bool is_under(int p, int anc) /* p == anc or a descendant */
{
	for (; p >= 0; p = parent_of[p])
		if (p == anc)
			return true;
	return false;
}

/* Applies op to model m; returns the result the store must give for a
 * direct operation. */
static int model_apply(struct fuzz_txn_node *m, const struct fuzz_txn_op *op)
{
	int p;

	switch (op->kind) {
	case FUZZ_TXN_WRITE:
		m[op->path].exists = true;
		m[op->path].len = op->len;
		memcpy(m[op->path].val, op->val, op->len);
		/* Missing parents are created empty. */
		for (p = parent_of[op->path]; p >= 0 && !m[p].exists;
		     p = parent_of[p]) {
			m[p].exists = true;
			m[p].len = 0;
		}
		return 0;
	case FUZZ_TXN_MKDIR:
		if (m[op->path].exists)
			return 0;
		m[op->path].exists = true;
		m[op->path].len = 0;
		for (p = parent_of[op->path]; p >= 0 && !m[p].exists;
		     p = parent_of[p]) {
			m[p].exists = true;
			m[p].len = 0;
		}
		return 0;
	case FUZZ_TXN_RM:
		if (!m[op->path].exists) {
			p = parent_of[op->path];
			return p < 0 || m[p].exists ? 0 : -ENOENT;
		}
		for (p = 0; p < FUZZ_TXN_NPATHS; p++)
			if (is_under(p, op->path))
				m[p].exists = false;
		return 0;
	}
	abort();
}

static int store_apply(struct mxs_txn *tx, const struct fuzz_txn_op *op)
{
	struct mxs_changes ch = { 0 };
	int rc = -EINVAL;

	switch (op->kind) {
	case FUZZ_TXN_WRITE:
		rc = mxs_store_write(st, tx, &dom0, paths[op->path], op->val,
				     op->len, &ch);
		break;
	case FUZZ_TXN_MKDIR:
		rc = mxs_store_mkdir(st, tx, &dom0, paths[op->path], &ch);
		break;
	case FUZZ_TXN_RM:
		rc = mxs_store_rm(st, tx, &dom0, paths[op->path], &ch);
		break;
	}
	mxs_changes_clear(&ch);
	free(ch.v);
	return rc;
}

static void check_store(void)
{
	struct mxs_buf report = { 0 };

	if (mxs_store_check(st, &report)) {
		fprintf(stderr, "store check: %.*s\n", (int)report.len,
			report.p ? report.p : "");
		abort();
	}
	mxs_buf_free(&report);
}

/* The live tree (no transaction) equals the model. */
static void compare(const struct fuzz_txn_node *m)
{
	struct mxs_buf b = { 0 };
	int rc;

	for (int i = -1; i < FUZZ_TXN_NPATHS; i++) {
		const char *path = i < 0 ? "/" : paths[i];
		bool want[3] = { false, false, false };
		size_t off;

		if (i >= 0) {
			mxs_buf_reset(&b);
			rc = mxs_store_read(st, NULL, &dom0, path, &b);
			CHECK(m[i].exists ? rc == 0 : rc == -ENOENT);
			if (rc)
				continue;
			CHECK(b.len == m[i].len &&
			      (!b.len || !memcmp(b.p, m[i].val, b.len)));
		}
		/* Children: exactly the model's (plus "tool" under "/"). */
		mxs_buf_reset(&b);
		CHECK(mxs_store_directory(st, NULL, &dom0, path, &b) == 0);
		for (off = 0; off < b.len; off += strlen(b.p + off) + 1) {
			const char *name = b.p + off;

			if (i < 0 && !strcmp(name, "tool"))
				continue;
			CHECK(i < 12 && name[0] >= 'a' && name[0] <= 'c' &&
			      !name[1] && !want[name[0] - 'a']);
			want[name[0] - 'a'] = true;
		}
		for (int k = 0; k < 3 && i < 12; k++) {
			int child = (i < 0 ? 0 : 3 + 3 * i) + k;

			CHECK(want[k] == m[child].exists);
		}
	}
	mxs_buf_free(&b);
}

/*
 * What a read of path inside t must return, if t's own log decides it:
 * 1 = the value of op *last, 0 = ENOENT, -1 = not decided.  A write of
 * the path decides it always.  A removal of the path or an ancestor
 * decides it if nothing outside changed the tree since t started
 * (undisturbed), or if t had written the path itself before the removal
 * (its own copy goes with the removal even when the walk no longer
 * reaches it: regressions_txn/rm_ancestor_keeps_own_write).  Otherwise a
 * node first accessed after an outside change is seen as it is then.
 */
static int tx_view(const struct fuzz_txn_tx *t, int path, bool undisturbed,
		   const struct fuzz_txn_op **last)
{
	for (unsigned int k = t->nlog; k-- > 0;) {
		const struct fuzz_txn_op *op = &t->log[k];

		if (op->kind == FUZZ_TXN_RM && is_under(path, op->path)) {
			if (undisturbed)
				return 0;
			for (unsigned int j = 0; j < k; j++)
				if (t->log[j].kind == FUZZ_TXN_WRITE &&
				    t->log[j].path == path)
					return 0;
			return -1;
		}
		if (op->kind == FUZZ_TXN_WRITE && op->path == path) {
			*last = op;
			return 1;
		}
		if (is_under(op->path, path))
			return -1; /* created as a parent, or mkdir: value kept */
	}
	return -1;
}

static void tx_end(struct fuzz_txn_tx *t, struct fuzz_txn_node *m,
		   bool commit)
{
	struct mxs_changes ch = { 0 };
	struct fuzz_txn_node after[FUZZ_TXN_NPATHS];
	int rc;

	if (!commit) {
		mxs_txn_free(t->tx); /* abort */
		t->tx = NULL;
		compare(m);
		return;
	}
	memcpy(after, m, sizeof(after));
	for (unsigned int k = 0; k < t->nlog; k++)
		model_apply(after, &t->log[k]);
	rc = mxs_txn_commit(t->tx, &ch);
	CHECK(rc == 0 || rc == -EAGAIN || (rc == -ENOSPC && t->overflow));
	mxs_txn_free(t->tx);
	t->tx = NULL;
	mxs_changes_clear(&ch);
	free(ch.v);
	if (rc == 0 && !t->overflow)
		memcpy(m, after, sizeof(after));
	if (rc == 0)
		tree_changes++;
	if (rc == 0)
		check_store();
	compare(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_txn_node m[FUZZ_TXN_NPATHS];
	struct fuzz_txn_tx tx[2];
	struct mxs_buf b = { 0 };
	size_t i = 0;

	memset(m, 0, sizeof(m));
	memset(tx, 0, sizeof(tx));
	while (i + 2 <= size) {
		uint8_t opc = data[i++];
		struct fuzz_txn_op op = { 0 };
		int who = opc >> 6; /* 0, 3: direct; 1, 2: a transaction */
		struct fuzz_txn_tx *t = who == 1 || who == 2 ? &tx[who - 1] : NULL;
		const struct fuzz_txn_op *last = NULL;
		int rc, v;

		op.path = data[i++] % FUZZ_TXN_NPATHS;
		switch (opc % 7) {
		case 0: /* write */
		case 1:
			op.kind = FUZZ_TXN_WRITE;
			if (i < size) {
				op.len = data[i++] % (FUZZ_TXN_VALMAX + 1);
				if (op.len > size - i)
					op.len = (uint8_t)(size - i);
				memcpy(op.val, data + i, op.len);
				i += op.len;
			}
			break;
		case 2:
			op.kind = FUZZ_TXN_MKDIR;
			break;
		case 3:
			op.kind = FUZZ_TXN_RM;
			break;
		case 4: /* read (checked in a transaction by its own log) */
			if (!t || !t->tx)
				continue;
			mxs_buf_reset(&b);
			rc = mxs_store_read(st, t->tx, &dom0, paths[op.path], &b);
			v = tx_view(t, op.path, tree_changes == t->start, &last);
			if (v == 0)
				CHECK(rc == -ENOENT);
			if (v == 1)
				CHECK(rc == 0 && b.len == last->len &&
				      (!b.len ||
				       !memcmp(b.p, last->val, b.len)));
			continue;
		case 5: /* commit */
		case 6: /* abort */
			if (t && t->tx)
				tx_end(t, m, opc % 7 == 5);
			continue;
		}
		if (!t) {
			struct fuzz_txn_node before[FUZZ_TXN_NPATHS];

			memcpy(before, m, sizeof(m));
			rc = store_apply(NULL, &op);
			CHECK(rc == model_apply(m, &op));
			tree_changes++;
			if (rc)
				memcpy(m, before, sizeof(m));
			compare(m);
			continue;
		}
		if (!t->tx) {
			t->tx = mxs_txn_new(st);
			CHECK(t->tx);
			t->nlog = 0;
			t->overflow = false;
			t->start = tree_changes;
		}
		rc = store_apply(t->tx, &op);
		CHECK(rc == 0 || rc == -ENOENT || rc == -ENOSPC);
		if (rc == 0) {
			if (t->nlog < FUZZ_TXN_LOGMAX)
				t->log[t->nlog++] = op;
			else
				t->overflow = true;
		}
	}
	/* Unfinished transactions are aborted. */
	for (int k = 0; k < 2; k++)
		if (tx[k].tx)
			tx_end(&tx[k], m, false);
	mxs_buf_free(&b);
	/* Back to the initial tree for the next input. */
	for (int k = 0; k < 3; k++) {
		struct fuzz_txn_op rm = { FUZZ_TXN_RM, k, 0, { 0 } };

		CHECK(store_apply(NULL, &rm) == 0);
	}
	check_store();
	memset(m, 0, sizeof(m));
	compare(m);
	check_store();
	mxs_rcu_quiescent();
	return 0;
}
