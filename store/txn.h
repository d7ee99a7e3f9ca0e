/* SPDX-License-Identifier: MIT */
/*
 * Private to store/: the transaction mechanism (txn.c) that the
 * operations of store.c run on.
 *
 * Every mutation is a transaction: an explicit one (TRANSACTION_START)
 * collects private copies of the nodes it touches and is applied at
 * commit if nothing it saw has changed; an operation outside a
 * transaction runs the same code on an implicit transaction while its
 * caller holds the writer lock, and is applied before the lock is
 * released (it cannot conflict).  A read outside a transaction uses a
 * throw-away transaction that records nothing.  A struct mxs_txn is used
 * by one thread at a time.
 */
#ifndef MXS_STORE_TXN_H
#define MXS_STORE_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/buf.h"
#include "store/node.h"
#include "store/store.h"

/* What a transaction knows of one path. */
struct mxs_txe {
	struct mxs_txe *hnext; /* hash chain */
	struct mxs_txe *next;  /* first-access order */
	char *path;
	size_t len;
	uint64_t base_gen;   /* live version's seq at first access, or GEN_NONE */
	uint64_t base_meta;  /* live meta_gen at first access */
	bool kids_read;      /* the child list was read (listed, walked) */
	size_t order;        /* first-access order */
	uint64_t create_seq; /* >0: (re)created in this transaction */
	bool own;            /* the transaction has its own copy (below) */
	bool exists;         /* own copy: does the node exist */
	bool modified;       /* own copy: value or permissions changed */
	struct mxs_nodeval *val; /* own copy when it exists */
	/*
	 * Children of the own copy.  live_kids: the live node's children
	 * minus `gone`, then `kids` (added here); otherwise just `kids`.  A
	 * delta, so that touching /local/domain copies nothing.
	 */
	bool live_kids;
	char **kids;
	size_t nkids, capkids;
	char **gone;
	size_t ngone, capgone;
};

struct mxs_txn {
	struct mxs_store *st;
	struct mxs_txe **buckets;
	size_t nbuckets, nentries;
	struct mxs_txe *first, *last;
	uint64_t seq;
	/* The snapshot views read the live tree at: sampled once per
	 * request (explicit and read-only), MXS_SEQ_WRITER when the writer
	 * lock is held (implicit). */
	uint64_t snap;
	bool implicit;    /* operation outside a transaction: wlock held */
	bool norecord;    /* read outside a transaction: record nothing */
	bool own_buckets; /* buckets were malloc'ed (not on the stack) */
	bool failed;      /* out of memory: commit must fail */
	/* An unprivileged caller's mutation is part of it: its commit is
	 * checked against quota_domid's node quota (store/account.c). */
	bool quota_on;
	uint32_t quota_domid;
	/*
	 * Prepared before the writer lock (implicit WRITE): the new version
	 * of the node, valid if the node's version is still ready_base, and
	 * a copy of the path for the change record.
	 */
	struct mxs_nodeval *ready;
	const struct mxs_nodeval *ready_base;
	char *ch_path;
	struct mxs_changes changes; /* explicit transactions: until commit */
};

/* What a path looks like to a transaction. */
struct mxs_view {
	const struct mxs_nodeval *val; /* NULL: the node does not exist */
	struct mxs_node *live;         /* view of the live node */
	struct mxs_txe *te;            /* own copy in the transaction */
};

/* An empty transaction on buckets[0..nbuckets) (a power of two). */
void mxs_txn_init(struct mxs_txn *tx, struct mxs_store *st,
		  struct mxs_txe **buckets, size_t nbuckets);
/* Frees the entries and recorded changes (not the buckets). */
void mxs_txn_release(struct mxs_txn *tx);

struct mxs_txe *mxs_txe_find(struct mxs_txn *tx, const char *p, size_t len);
/* Makes the own copy childless (removed, or created here). */
void mxs_txe_clear_kids(struct mxs_txe *e);
int mxs_txe_add_kid(struct mxs_txe *e, const char *name, size_t len);
int mxs_txe_del_kid(struct mxs_txe *e, const char *name);

/*
 * The view of p[0..len) and, unless norecord, the first access recorded
 * in tx (on ENOMEM tx->failed is set).  Caller: RCU read side.
 */
void mxs_txn_view(struct mxs_txn *tx, const char *p, size_t len,
		  struct mxs_view *v);
/* Gives the transaction its own copy of p; NULL on ENOMEM.  Caller: RCU
 * read side. */
struct mxs_txe *mxs_txn_own(struct mxs_txn *tx, const char *p, size_t len);
/*
 * Makes nv (taken over) the own copy of p, which the transaction has
 * looked at and found: its value or permissions change, its children
 * stay what they are.  NULL if p was not looked at (a bug).
 */
struct mxs_txe *mxs_txn_replace(struct mxs_txn *tx, const char *p,
				size_t len, struct mxs_nodeval *nv);
/* Appends the child names of a view, each NUL-terminated.  Caller: RCU
 * read side. */
int mxs_view_children(struct mxs_txn *tx, const struct mxs_view *v,
		      struct mxs_buf *out);

/*
 * The cached child list of a live view's version, built on first use
 * (*out NULL for a transaction's own copy or a version without a slot,
 * mxs_nodeval_kidslot: use mxs_view_children).
 * 0 or -ENOMEM.  Caller: RCU read side.
 */
int mxs_view_kidlist(struct mxs_txn *tx, const struct mxs_view *v,
		     const struct mxs_kidlist **out);

/*
 * Applies the own copies to the live tree as one commit: everything it
 * needs is allocated first, so it changes all of the tree or, on -ENOMEM
 * (or -EIO for an inconsistent transaction), nothing.  The own copies
 * become the new versions (moved): the transaction is over either way.
 * Caller: writer lock.
 */
int mxs_txn_apply(struct mxs_txn *tx);

/*
 * store/account.c: records that caller c mutates through tx (its node
 * quota then applies at commit).  Owner of tx.
 */
void mxs_account_note(struct mxs_txn *tx, const struct mxs_caller *c);
/*
 * The byte deltas of one commit per owner slot (store/account.c), room
 * for a few domains inline (a commit rarely touches more).
 */
struct mxs_account_delta {
	uint32_t slot;
	int64_t bytes;
};

struct mxs_account_plan {
	struct mxs_account_delta *v;
	size_t n, cap;
	struct mxs_account_delta inl[4];
};

/*
 * Computes into ap what applying tx changes in each domain's node bytes,
 * and checks the caller's quotas: -ENOSPC when its domain would own more
 * nodes than its nodes quota allows, -ENOMEM when more node bytes than
 * its memory quota allows (or when memory runs out), else 0 with ap to
 * be applied (mxs_account_apply) or freed.  Caller: writer lock, before
 * the plan is made (the entries still hold their own copies).
 */
int mxs_account_check(struct mxs_txn *tx, struct mxs_account_plan *ap);
/* Adds ap's deltas to the counts and frees it.  Caller: writer lock,
 * in the commit that applied the transaction. */
void mxs_account_apply(struct mxs_store *st, struct mxs_account_plan *ap);
void mxs_account_plan_free(struct mxs_account_plan *ap);
/*
 * The live nodes v[0..n), a whole subtree with its top first, are about
 * to be removed outside a transaction (a released domain): their bytes
 * and their names' bytes go.  Caller: writer lock, before the removal.
 */
void mxs_account_live_removed(struct mxs_store *st,
			      struct mxs_node *const *v, size_t n);
/* The store's byte counts, the root charged (at creation), and their
 * end (at mxs_store_free).  0 or -ENOMEM. */
int mxs_account_init(struct mxs_store *st);
void mxs_account_fini(struct mxs_store *st);
/*
 * Logical sizes, as the C daemon 4.17 charges a node record: the part
 * charged to the node's owner (header, permissions, value, path) and the
 * part of a child's name in its parent's record (name and NUL).
 */
uint64_t mxs_account_node_bytes(const struct mxs_nodeval *v, size_t pathlen);
uint64_t mxs_account_name_bytes(const char *path, size_t len);

#endif
