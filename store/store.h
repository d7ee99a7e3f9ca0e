/* SPDX-License-Identifier: MIT */
/*
 * The xenstore tree: nodes under liburcu RCU (QSBR flavour), transactions
 * and per-domain node accounting.
 *
 * Concurrency contract
 * --------------------
 * - Every function taking a store must be called from a thread registered
 *   with urcu-qsbr and online (rcu_thread_online).  Readers (read,
 *   get_perms, directory, directory_part, watch_permitted, dump) take no
 *   lock and never wait for a writer.  Each such call is one request and
 *   sees the store as of one point between commits: it samples the last
 *   published commit once, at its start, and sees all of every commit up
 *   to it and nothing of later ones (a transaction that removes and
 *   re-creates a node never makes it missing).  Once a call has seen a
 *   commit, every call that starts later, on any thread, sees it too.
 * - Mutations (write, mkdir, rm, set_perms outside a transaction,
 *   mxs_txn_commit, domain_gone) serialise on the store's writer lock:
 *   the permission check and the change are atomic, and each is one
 *   commit.  Replaced node versions and removed nodes are freed with
 *   call_rcu, after every reader has passed a quiescent state.
 * - A transaction (struct mxs_txn) belongs to one connection and is used by
 *   one thread at a time; operations on it read the live tree through RCU
 *   and record what they saw, changes stay private until commit.  A node
 *   keeps the value, permissions and existence it had at the transaction's
 *   first access to it; its children are the live ones plus the
 *   transaction's own changes (docs/compat.md).
 *
 * Paths given to the store are canonical, validated absolute names (see
 * store/path.h); errors are negative errnos with the C xenstored's meaning.
 */
#ifndef MXS_STORE_STORE_H
#define MXS_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/buf.h"
#include "store/perms.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mxs_store;
struct mxs_txn;

/*
 * One change that watches must hear about, in the order they happened.
 * exact: only watches on exactly `path` fire (descendants of a removed
 * node); otherwise watches on path and on its ancestors fire.  perms:
 * the node's permissions before the change (removed node, permission
 * change), used for the watch read check (XSA-115); NULL otherwise.
 */
struct mxs_change {
	char *path;
	bool exact;
	unsigned int nperms;
	struct mxs_perm *perms;
};

struct mxs_changes {
	struct mxs_change *v;
	size_t n, cap;
};

void mxs_changes_clear(struct mxs_changes *ch);

/* Per-store counters of what exists (for CONTROL memreport and quotas). */
struct mxs_store_stats {
	uint64_t nodes;
	uint64_t generation;
	uint64_t commits;
	uint64_t conflicts;
};

/*
 * Builds a store holding "/", "/tool" and "/tool/xenstored", owned by dom0
 * with "n0".  Returns NULL and sets errno on failure.
 */
struct mxs_store *mxs_store_new(void);

/* Frees the store.  No other thread may use it; waits for a grace period. */
void mxs_store_free(struct mxs_store *st);

/* Reads (no lock).  tx may be NULL.  Output is appended to out. */
int mxs_store_read(struct mxs_store *st, struct mxs_txn *tx,
		   const struct mxs_caller *c, const char *path,
		   struct mxs_buf *out);
int mxs_store_get_perms(struct mxs_store *st, struct mxs_txn *tx,
			const struct mxs_caller *c, const char *path,
			struct mxs_buf *out);
/* Child names, each NUL-terminated, in creation order. */
int mxs_store_directory(struct mxs_store *st, struct mxs_txn *tx,
			const struct mxs_caller *c, const char *path,
			struct mxs_buf *out);
/*
 * "<generation>\0" then the children from byte offset `off` of the
 * concatenated child list, as many whole names as fit in `max` bytes in
 * all, and an extra "\0" when the list is complete.
 */
int mxs_store_directory_part(struct mxs_store *st, struct mxs_txn *tx,
			     const struct mxs_caller *c, const char *path,
			     size_t off, size_t max, struct mxs_buf *out);

/*
 * Mutations (writer lock, or private to tx).  Changes are appended to ch.
 * Outside a transaction each is one commit: applied whole, or on an error
 * (-ENOMEM included) not at all, ch as it was.
 */
int mxs_store_write(struct mxs_store *st, struct mxs_txn *tx,
		    const struct mxs_caller *c, const char *path,
		    const void *val, size_t len, struct mxs_changes *ch);
int mxs_store_mkdir(struct mxs_store *st, struct mxs_txn *tx,
		    const struct mxs_caller *c, const char *path,
		    struct mxs_changes *ch);
int mxs_store_rm(struct mxs_store *st, struct mxs_txn *tx,
		 const struct mxs_caller *c, const char *path,
		 struct mxs_changes *ch);
int mxs_store_set_perms(struct mxs_store *st, struct mxs_txn *tx,
			const struct mxs_caller *c, const char *path,
			const struct mxs_perm *perms, unsigned int n,
			struct mxs_changes *ch);

/*
 * May `c` be told about a change of `path`?  Read right on the old
 * permissions (if given), on the node as it is now, or on its parent
 * (the C daemon's rule since XSA-115).  @special names use the special
 * node's permissions.  No lock.
 */
bool mxs_store_watch_permitted(struct mxs_store *st,
			       const struct mxs_caller *c, const char *path,
			       const struct mxs_perm *old, unsigned int nold);

/* Permissions of @introduceDomain / @releaseDomain (SET_PERMS on them). */
int mxs_store_set_special_perms(struct mxs_store *st,
				const struct mxs_caller *c, const char *name,
				const struct mxs_perm *perms, unsigned int n);

/* Nodes owned by `domid` (accounting for quotas).  Relaxed read. */
unsigned int mxs_store_domain_nodes(struct mxs_store *st, uint32_t domid);

/*
 * The nodes quota (store/account.c).  The daemon may set, once and before
 * the store is shared, fn(arg, domid): the most nodes domain `domid` may
 * own, 0 for no limit.  It is called under the writer lock (it must not
 * call into the store) for each commit, implicit or explicit, that an
 * unprivileged caller's mutation is part of.  Such a commit fails with
 * -ENOSPC, changing nothing, when it would leave the caller's domain
 * owning more nodes than that; commits that do not raise the count (a
 * removal, a rewrite) always pass.  The count is checked against the live
 * tree under the writer lock, so concurrent writers and transactions of
 * one domain can never together exceed it.  Without fn: no limit.
 */
typedef unsigned int (*mxs_store_quota_fn)(void *arg, uint32_t domid);
void mxs_store_set_node_quota(struct mxs_store *st, mxs_store_quota_fn fn,
			      void *arg);

/*
 * The memory quota (store/account.c).  Each domain is charged the bytes
 * of the node records it owns, counted as the C daemon 4.17 counts them:
 * per node 24 bytes of header, 8 per permission entry, the value and the
 * path; per child, its name and NUL to the owner of its parent.  The
 * daemon may set, once and before the store is shared, fn(arg, domid):
 * the most such bytes domain `domid` may hold, UINT64_MAX for no limit.
 * It is called under the writer lock (it must not call into the store)
 * for each commit of an unprivileged caller's mutation that raises its
 * domain's bytes; such a commit fails with -ENOMEM, changing nothing,
 * when it would leave them above that.  Commits of privileged callers
 * are counted and never refused.  Exact as the nodes quota is.
 */
typedef uint64_t (*mxs_store_mem_fn)(void *arg, uint32_t domid);
void mxs_store_set_memory_quota(struct mxs_store *st, mxs_store_mem_fn fn,
				void *arg);
/* Bytes of node records charged to `domid` (above).  Relaxed read. */
uint64_t mxs_store_domain_memory(struct mxs_store *st, uint32_t domid);

/*
 * Domains, as the store sees them (it knows nothing else of domains).
 *
 * The daemon may set, once and before the store is shared, an oracle:
 * fn(arg, domid, &introduced) returns whether domain `domid` exists now
 * and, if so, sets `introduced` to the value mxs_store_generation()
 * returned when it was introduced.  It is called by readers on any
 * thread with no lock held (it must be thread-safe and must not call
 * into the store), at most once per permission entry looked at.
 *
 * With an oracle set, a permission entry naming domain d is stale when
 * d does not exist, or when d was introduced at a generation >= the one
 * at which the node's permission list was set (its creation or its last
 * SET_PERMS): a domain re-created with a reused domid does not inherit
 * the rights of its predecessor (XSA-322; the C daemon's
 * chk_domain_generation).  Entries naming dom0 are never stale.  A
 * stale owner reads as dom0 (the privileged domain); other stale
 * entries are dropped: in what GET_PERMS shows, in every access check,
 * in the permissions a new child inherits and in watch permission
 * checks.  The stored list is not rewritten: the owner index and
 * mxs_store_domain_nodes still count a node under its stored owner.
 * Cost: one oracle call per entry (owner included) of each node
 * checked; none when no oracle is set (socket-only mode, unit tests),
 * where nothing is ever stale.
 */
typedef bool (*mxs_store_domain_fn)(void *arg, uint32_t domid,
				    uint64_t *introduced);
void mxs_store_set_domain_oracle(struct mxs_store *st, mxs_store_domain_fn fn,
				 void *arg);

/* The last generation handed out (relaxed read, no lock). */
uint64_t mxs_store_generation(struct mxs_store *st);

/*
 * Domain `domid` was released (the C daemon 4.17's XSA-415 rule): every
 * node it owns is removed with its subtree, under the writer lock, as
 * one mutation; the watch changes are appended to ch as RM's are (a
 * removed top node fires on its path and ancestors, its descendants
 * exactly, with the permissions they had).  Afterwards
 * mxs_store_domain_nodes(st, domid) is 0.  Cost: O(nodes removed) via
 * the owner index, never a walk of the whole tree.  Returns 0, -EINVAL
 * for dom0 or a reserved domid, -ENOMEM (the store is then unchanged
 * for the subtree that failed; earlier subtrees stay removed and their
 * changes stay in ch).
 */
int mxs_store_domain_gone(struct mxs_store *st, uint32_t domid,
			  struct mxs_changes *ch);

void mxs_store_get_stats(struct mxs_store *st, struct mxs_store_stats *out);

/*
 * Consistency check of the whole tree (CONTROL check): every node is in
 * the index under its own path, is its parent's child, and the per-domain
 * counts and the owner index agree with a recount.  Takes the writer
 * lock.  Returns 0 or -EIO and appends a description of each problem to
 * report.
 */
int mxs_store_check(struct mxs_store *st, struct mxs_buf *report);

/*
 * Appends the tree in "path = value (perms)" lines, one per node, in
 * depth-first creation order (CONTROL print).  No lock (RCU snapshot per
 * node); iterative, any depth.
 */
int mxs_store_dump(struct mxs_store *st, struct mxs_buf *out);

/*
 * Conflict rule of commits.  Default: a commit fails when a node the
 * transaction read or wrote changed, where adding or removing children of
 * a node whose child list the transaction never read is not a change of
 * what it read (concurrent domain creations under /local/domain do not
 * conflict).  strict: any change of such a node conflicts, as in the C
 * xenstored 4.17 (docs/compat.md).  Call before the store is shared.
 */
void mxs_store_set_strict_conflicts(struct mxs_store *st, bool strict);

/* Transactions. */
struct mxs_txn *mxs_txn_new(struct mxs_store *st);
/*
 * Commits: -EAGAIN when any node the transaction read or wrote (or found
 * missing) has changed since; -ENOMEM, with nothing changed, when memory
 * runs out; otherwise all its changes become visible as one commit and
 * their watch changes are appended to ch.  The transaction is finished
 * either way; free it with mxs_txn_free.
 */
int mxs_txn_commit(struct mxs_txn *tx, struct mxs_changes *ch);
void mxs_txn_free(struct mxs_txn *tx);
/* Number of nodes the transaction has touched (transaction-nodes quota). */
unsigned int mxs_txn_nodes(const struct mxs_txn *tx);

#ifdef __cplusplus
}
#endif

#endif
