/* SPDX-License-Identifier: MIT */
/*
 * Per-domain accounting for quotas: the nodes a commit adds to the
 * caller's domain, checked against its quota under the writer lock.
 *
 * Why exact: the per-owner counts (st->owned) change only in
 * mxs_txn_apply, under the writer lock, and this check runs inside the
 * same critical section right before it.  Every commit of every worker is
 * therefore checked against the count that all earlier commits left, and
 * no interleaving of implicit writes and explicit transactions of one
 * domain can pass the quota together.  An aborted transaction never
 * reached the live tree, so it has nothing to return; a removal lowers
 * the count in the same apply that unlinks the nodes.
 */
#include <errno.h>

#include "store/node.h"
#include "store/txn.h"

void mxs_store_set_node_quota(struct mxs_store *st, mxs_store_quota_fn fn,
			      void *arg)
{
	st->node_quota_arg = arg;
	st->node_quota = fn;
}

void mxs_account_note(struct mxs_txn *tx, const struct mxs_caller *c)
{
	if (c->privileged)
		return;
	tx->quota_on = true;
	tx->quota_domid = c->domid;
}

/* Nodes of domid the entry adds (+1), takes away (-1) or leaves (0).
 * Caller: writer lock (the live node cannot change). */
static int entry_delta(struct mxs_store *st, const struct mxs_txe *e,
		       uint32_t domid)
{
	struct mxs_node *live = mxs_node_lookup(st, e->path, e->len);
	int was = live && mxs_nodeval_owner(live->val) == domid;
	int is = e->exists && e->val && mxs_nodeval_owner(e->val) == domid;

	/* A node re-created here replaces the live one: both count. */
	return is - was;
}

int mxs_account_check(struct mxs_txn *tx)
{
	struct mxs_store *st = tx->st;
	const struct mxs_txe *e;
	unsigned int limit;
	int64_t delta = 0;

	if (!tx->quota_on || !st->node_quota)
		return 0;
	limit = st->node_quota(st->node_quota_arg, tx->quota_domid);
	if (!limit)
		return 0;
	for (e = tx->first; e; e = e->next)
		if (e->own && (e->modified || e->create_seq))
			delta += entry_delta(st, e, tx->quota_domid);
	if (delta <= 0)
		return 0;
	/* Relaxed: written only under the writer lock, which we hold. */
	if (__atomic_load_n(&st->owned[mxs_owner_slot(tx->quota_domid)],
			    __ATOMIC_RELAXED) + (uint64_t)delta > limit)
		return -ENOSPC;
	return 0;
}
