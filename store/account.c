/* SPDX-License-Identifier: MIT */
/*
 * Per-domain accounting for quotas: the nodes and the bytes of node
 * records each domain owns, checked against its quotas when a commit of
 * the domain's own mutation is applied.
 *
 * What a byte count means.  The C daemon 4.17 charges each node's
 * database record to the node's owner: the record header (24 bytes), 8
 * bytes per permission entry, the value, the concatenated child names
 * with their NULs, and the path (the record's key).  We count the same
 * logical sizes, never our allocator's, so the node layout of node.c does
 * not change them: a node is charged to its owner with its own part
 * (mxs_account_node_bytes) and each child's name (with its NUL) is
 * charged to the owner of the child's parent, whose record holds it.
 *
 * Why exact: the counts (st->owned, st->mem) change only under the
 * writer lock: mxs_txn_apply adds the deltas this file computes from the
 * transaction against the live tree in the same critical section that
 * applies it, and mxs_store_domain_gone subtracts what it removes.  Every
 * commit of every worker is therefore checked against the counts that
 * all earlier commits left, and no interleaving of implicit writes and
 * explicit transactions of one domain can pass a quota together.  An
 * aborted transaction never reached the live tree, so it has nothing to
 * return.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/node.h"
#include "store/path.h"
#include "store/txn.h"

/* The C daemon's struct xs_tdb_record_hdr (u64 generation, u32 num_perms,
 * datalen, childlen: 20 bytes, padded to 8) and struct xs_permissions. */
#define ACCOUNT_RECORD_HDR 24u
#define ACCOUNT_PERM 8u

void mxs_store_set_node_quota(struct mxs_store *st, mxs_store_quota_fn fn,
			      void *arg)
{
	st->node_quota_arg = arg;
	st->node_quota = fn;
}

void mxs_store_set_memory_quota(struct mxs_store *st, mxs_store_mem_fn fn,
				void *arg)
{
	st->mem_quota_arg = arg;
	st->mem_quota = fn;
}

uint64_t mxs_store_domain_memory(struct mxs_store *st, uint32_t domid)
{
	/* Relaxed: written only under the writer lock; a reader needs some
	 * recent value. */
	return __atomic_load_n(&st->mem[mxs_owner_slot(domid)],
			       __ATOMIC_RELAXED);
}

uint64_t mxs_account_node_bytes(const struct mxs_nodeval *v, size_t pathlen)
{
	return ACCOUNT_RECORD_HDR + (uint64_t)ACCOUNT_PERM * v->nperms +
	       v->vlen + pathlen;
}

uint64_t mxs_account_name_bytes(const char *path, size_t len)
{
	size_t plen = mxs_path_parent_len(path, len);

	/* The name after the parent's "/" (the root's children: after "/"),
	 * and its NUL. */
	return len - (plen == 1 ? 1 : plen + 1) + 1;
}

int mxs_account_init(struct mxs_store *st)
{
	st->mem = calloc(MXS_DOMID_FIRST_RESERVED + 1, sizeof(*st->mem));
	if (!st->mem)
		return -ENOMEM;
	st->mem[mxs_owner_slot(mxs_nodeval_owner(st->root->val))] =
		mxs_account_node_bytes(st->root->val, st->root->pathlen);
	return 0;
}

void mxs_account_fini(struct mxs_store *st)
{
	free(st->mem);
	st->mem = NULL;
}

void mxs_account_note(struct mxs_txn *tx, const struct mxs_caller *c)
{
	if (c->privileged)
		return;
	tx->quota_on = true;
	tx->quota_domid = c->domid;
}

void mxs_account_plan_free(struct mxs_account_plan *ap)
{
	if (ap->v != ap->inl)
		free(ap->v);
	ap->v = NULL;
	ap->n = ap->cap = 0;
}

/* Adds d bytes to slot's delta.  0 or -ENOMEM. */
static int plan_add(struct mxs_account_plan *ap, uint32_t slot, int64_t d)
{
	size_t i;

	if (!d)
		return 0;
	for (i = 0; i < ap->n; i++)
		if (ap->v[i].slot == slot) {
			ap->v[i].bytes += d;
			return 0;
		}
	if (ap->n == ap->cap) {
		size_t nc = ap->cap * 2;
		struct mxs_account_delta *nv = malloc(nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		memcpy(nv, ap->v, ap->n * sizeof(*nv));
		if (ap->v != ap->inl)
			free(ap->v);
		ap->v = nv;
		ap->cap = nc;
	}
	ap->v[ap->n].slot = slot;
	ap->v[ap->n++].bytes = d;
	return 0;
}

static int plan_owner_add(struct mxs_account_plan *ap, uint32_t owner,
			  int64_t d)
{
	return plan_add(ap, mxs_owner_slot(owner), d);
}

/* The names of n's live children.  Caller: writer lock. */
static uint64_t live_kids_bytes(const struct mxs_node *n)
{
	const struct mxs_node *c;
	uint64_t b = 0;

	for (c = n->kids_head; c; c = c->next_sib)
		if (c->died == MXS_SEQ_ALIVE)
			b += mxs_account_name_bytes(c->path, c->pathlen);
	return b;
}

/*
 * Takes away everything of the live subtree of n but n's own name (its
 * parent's part): each node's own part from its owner, each child's name
 * from its parent's owner.  Caller: writer lock.  0 or -ENOMEM.
 */
static int plan_sub_subtree(struct mxs_account_plan *ap, struct mxs_node *n)
{
	struct mxs_nodevec stack = { 0 };
	int rc = mxs_nodevec_push(&stack, n);

	while (!rc && stack.n) {
		struct mxs_node *x = stack.v[--stack.n], *c;
		uint32_t owner = mxs_nodeval_owner(x->val);

		rc = plan_owner_add(ap, owner,
				    -(int64_t)mxs_account_node_bytes(
					    x->val, x->pathlen));
		for (c = x->kids_head; !rc && c; c = c->next_sib) {
			if (c->died != MXS_SEQ_ALIVE)
				continue;
			rc = plan_owner_add(ap, owner,
					    -(int64_t)mxs_account_name_bytes(
						    c->path, c->pathlen));
			rc = rc ?: mxs_nodevec_push(&stack, c);
		}
	}
	free(stack.v);
	return rc;
}

/* Does the plan apply a change to e (plan_prepare's filter)? */
static bool entry_changes(const struct mxs_txe *e)
{
	return e->own && (e->modified || e->create_seq);
}

/* Does applying e remove a live node (its own, or a re-creation's
 * predecessor, with its subtree)?  Caller: writer lock. */
static bool entry_removes_live(struct mxs_store *st, const struct mxs_txe *e)
{
	return entry_changes(e) && (!e->exists || e->create_seq) &&
	       mxs_node_lookup(st, e->path, e->len);
}

/* The live node e's step in mxs_txn_apply finds: none when a shallower
 * step removed an ancestor's subtree first.  Caller: writer lock. */
static struct mxs_node *entry_live(struct mxs_txn *tx,
				   const struct mxs_txe *e)
{
	size_t len = e->len;

	while (len > 1) {
		const struct mxs_txe *pe;

		len = mxs_path_parent_len(e->path, len);
		pe = mxs_txe_find(tx, e->path, len);
		if (pe && entry_removes_live(tx->st, pe))
			return NULL;
	}
	return mxs_node_lookup(tx->st, e->path, e->len);
}

/* Owner of e's parent once the shallower steps are applied: its own copy
 * if the transaction has one, else the live node.  Caller: writer lock. */
static uint32_t parent_owner(struct mxs_txn *tx, const struct mxs_txe *e)
{
	size_t plen = mxs_path_parent_len(e->path, e->len);
	const struct mxs_txe *pe = mxs_txe_find(tx, e->path, plen);
	const struct mxs_node *p;

	if (pe && pe->own && pe->exists && pe->val)
		return mxs_nodeval_owner(pe->val);
	p = mxs_node_lookup(tx->st, e->path, plen);
	/* No parent: an orphan, which plan_prepare refuses (-EIO). */
	return p ? mxs_nodeval_owner(p->val) : 0;
}

/*
 * The byte deltas of applying e, as mxs_txn_apply's step for e will
 * change the live tree (steps run parents first, so a parent's owner is
 * the one its own step left).  Caller: writer lock, before plan_prepare
 * moves the own copies.  0 or -ENOMEM.
 */
static int plan_entry(struct mxs_txn *tx, const struct mxs_txe *e,
		      struct mxs_account_plan *ap)
{
	struct mxs_node *live = entry_live(tx, e);
	int64_t name = (int64_t)mxs_account_name_bytes(e->path, e->len);
	uint32_t o1, o2;
	int rc = 0;

	if (live && (!e->exists || e->create_seq)) {
		rc = plan_sub_subtree(ap, live);
		rc = rc ?: plan_owner_add(ap, parent_owner(tx, e), -name);
		live = NULL;
	}
	if (rc || !e->exists || !e->val)
		return rc;
	o2 = mxs_nodeval_owner(e->val);
	rc = plan_owner_add(ap, o2,
			    (int64_t)mxs_account_node_bytes(e->val, e->len));
	if (!live)
		return rc ?: plan_owner_add(ap, parent_owner(tx, e), name);
	/* An update: the old version's part goes; the children's names
	 * move with a new owner. */
	o1 = mxs_nodeval_owner(live->val);
	rc = rc ?: plan_owner_add(ap, o1,
				  -(int64_t)mxs_account_node_bytes(
					  live->val, live->pathlen));
	if (!rc && mxs_owner_slot(o1) != mxs_owner_slot(o2)) {
		int64_t k = (int64_t)live_kids_bytes(live);

		rc = plan_owner_add(ap, o1, -k);
		rc = rc ?: plan_owner_add(ap, o2, k);
	}
	return rc;
}

/* Nodes of domid the entry adds (+1), takes away (-1) or leaves (0).
 * Caller: writer lock (the live node cannot change). */
static int entry_node_delta(struct mxs_store *st, const struct mxs_txe *e,
			    uint32_t domid)
{
	struct mxs_node *live = mxs_node_lookup(st, e->path, e->len);
	int was = live && mxs_nodeval_owner(live->val) == domid;
	int is = e->exists && e->val && mxs_nodeval_owner(e->val) == domid;

	/* A node re-created here replaces the live one: both count. */
	return is - was;
}

/* -ENOSPC when the commit would leave quota_domid owning more nodes than
 * its quota.  Caller: writer lock. */
static int check_nodes(struct mxs_txn *tx)
{
	struct mxs_store *st = tx->st;
	const struct mxs_txe *e;
	unsigned int limit;
	int64_t delta = 0;

	if (!st->node_quota)
		return 0;
	limit = st->node_quota(st->node_quota_arg, tx->quota_domid);
	if (!limit)
		return 0;
	for (e = tx->first; e; e = e->next)
		if (entry_changes(e))
			delta += entry_node_delta(st, e, tx->quota_domid);
	if (delta <= 0)
		return 0;
	/* Relaxed: written only under the writer lock, which we hold. */
	if (__atomic_load_n(&st->owned[mxs_owner_slot(tx->quota_domid)],
			    __ATOMIC_RELAXED) + (uint64_t)delta > limit)
		return -ENOSPC;
	return 0;
}

/* -ENOMEM when the commit would leave quota_domid's node bytes above
 * what its memory quota allows.  Caller: writer lock. */
static int check_memory(struct mxs_txn *tx,
			const struct mxs_account_plan *ap)
{
	struct mxs_store *st = tx->st;
	uint32_t slot = mxs_owner_slot(tx->quota_domid);
	uint64_t allowed;
	size_t i;

	if (!st->mem_quota)
		return 0;
	for (i = 0; i < ap->n; i++)
		if (ap->v[i].slot == slot)
			break;
	if (i == ap->n || ap->v[i].bytes <= 0)
		return 0;
	allowed = st->mem_quota(st->mem_quota_arg, tx->quota_domid);
	if (st->mem[slot] + (uint64_t)ap->v[i].bytes > allowed)
		return -ENOMEM;
	return 0;
}

int mxs_account_check(struct mxs_txn *tx, struct mxs_account_plan *ap)
{
	const struct mxs_txe *e;
	int rc = 0;

	ap->v = ap->inl;
	ap->n = 0;
	ap->cap = sizeof(ap->inl) / sizeof(ap->inl[0]);
	if (tx->quota_on)
		rc = check_nodes(tx);
	for (e = tx->first; e && !rc; e = e->next)
		if (entry_changes(e))
			rc = plan_entry(tx, e, ap);
	if (!rc && tx->quota_on)
		rc = check_memory(tx, ap);
	if (rc)
		mxs_account_plan_free(ap);
	return rc;
}

void mxs_account_apply(struct mxs_store *st, struct mxs_account_plan *ap)
{
	size_t i;

	for (i = 0; i < ap->n; i++)
		/* Relaxed: readers of the counts need no ordering. */
		__atomic_fetch_add(&st->mem[ap->v[i].slot],
				   (uint64_t)ap->v[i].bytes, __ATOMIC_RELAXED);
	mxs_account_plan_free(ap);
}

void mxs_account_live_removed(struct mxs_store *st,
			      struct mxs_node *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct mxs_node *x = v[i], *p;
		uint64_t b = mxs_account_node_bytes(x->val, x->pathlen);
		uint32_t slot = mxs_owner_slot(mxs_nodeval_owner(x->val));

		/* Relaxed, as in mxs_account_apply. */
		__atomic_fetch_sub(&st->mem[slot], b, __ATOMIC_RELAXED);
		if (!(p = mxs_node_parent(st, x)))
			continue;
		slot = mxs_owner_slot(mxs_nodeval_owner(p->val));
		__atomic_fetch_sub(&st->mem[slot],
				   mxs_account_name_bytes(x->path, x->pathlen),
				   __ATOMIC_RELAXED);
	}
}
