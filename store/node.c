/* SPDX-License-Identifier: MIT */
/*
 * The live tree: node versions, the index and the child lists.
 *
 * Contract.  Live nodes are found through one RCU hash table keyed by full
 * path (cds_lfht) and list their children in an RCU singly linked list in
 * creation order (DIRECTORY answers in that order, as the C daemon).
 * Readers (any thread online with urcu-qsbr) take no lock: they follow
 * kids_head/next_sib and load a node's version with acquire loads.  The
 * one writer (the caller of every mutation here holds st->wlock) links a
 * fully built node with a release store and unlinks without touching the
 * unlinked node's next_sib, so a reader standing on it goes on.  A node's
 * contents (value, permissions, generation) are one immutable struct
 * mxs_nodeval, replaced as a whole and freed after a grace period, so a
 * reader always sees one consistent version of each node.  Labels: see
 * store/node.h.
 */
#include "store/node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/path.h"

#ifdef MXS_TSAN
char mxs_rcu_gp_token;
#endif

/* ------------------------------------------------------------------ */
/* Node versions                                                        */

struct mxs_nodeval *mxs_nodeval_new(uint64_t gen, const struct mxs_perm *perms,
				    unsigned int nperms, const void *value,
				    size_t vlen)
{
	struct mxs_nodeval *v;

	v = malloc(sizeof(*v) + nperms * sizeof(*perms) + vlen + 1);
	if (!v)
		return NULL;
	v->gen = gen;
	v->meta_gen = gen;
	v->perms_gen = MXS_GEN_NONE;
	v->nperms = nperms;
	v->vlen = (uint32_t)vlen;
	v->perms = (struct mxs_perm *)(v + 1);
	v->value = (char *)(v->perms + nperms);
	if (nperms)
		memcpy(v->perms, perms, nperms * sizeof(*perms));
	if (vlen)
		memcpy(v->value, value, vlen);
	v->value[vlen] = '\0';
	return v;
}

struct mxs_nodeval *mxs_nodeval_dup(const struct mxs_nodeval *o, uint64_t gen)
{
	struct mxs_nodeval *v = mxs_nodeval_new(gen, o->perms, o->nperms,
						o->value, o->vlen);

	if (v)
		v->perms_gen = o->perms_gen;
	return v;
}

void mxs_nodeval_free_rcu(struct rcu_head *h)
{
	mxs_rcu_reclaim_begin();
	free(caa_container_of(h, struct mxs_nodeval, rcu));
}

static void node_free_rcu(struct rcu_head *h)
{
	struct mxs_node *n = caa_container_of(h, struct mxs_node, rcu);

	mxs_rcu_reclaim_begin();
	free(n->val);
	free(n);
}

/*
 * Owner accounting: the count (relaxed: quotas read it without the lock)
 * and the owner index.  Caller: writer lock.
 */
void mxs_node_own_link(struct mxs_store *st, struct mxs_node *n)
{
	uint32_t slot = mxs_owner_slot(mxs_nodeval_owner(n->val));

	n->own_slot = slot;
	n->own_prev = NULL;
	n->own_next = st->own_head[slot];
	if (n->own_next)
		n->own_next->own_prev = n;
	st->own_head[slot] = n;
	__atomic_fetch_add(&st->owned[slot], 1, __ATOMIC_RELAXED);
}

static void own_unlink(struct mxs_store *st, struct mxs_node *n)
{
	if (n->own_prev)
		n->own_prev->own_next = n->own_next;
	else
		st->own_head[n->own_slot] = n->own_next;
	if (n->own_next)
		n->own_next->own_prev = n->own_prev;
	__atomic_fetch_sub(&st->owned[n->own_slot], 1, __ATOMIC_RELAXED);
}

/* Stamps a version about to be installed: its generation, and the
 * generation of its permission list if this version set it. */
static void version_stamp(struct mxs_store *st, struct mxs_nodeval *v)
{
	v->gen = v->meta_gen = mxs_store_gen_next(st);
	if (v->perms_gen == MXS_GEN_NONE)
		v->perms_gen = v->gen;
}

/* ------------------------------------------------------------------ */
/* Index                                                                */

struct key {
	const char *p;
	size_t len;
};

static int node_match(struct cds_lfht_node *hn, const void *arg)
{
	const struct key *k = arg;
	struct mxs_node *n = caa_container_of(hn, struct mxs_node, hnode);

	/* STORE_NODE_A1: pairs with STORE_NODE_R1 in mxs_node_create(): the
	 * path compared below is written. */
	if (!__atomic_load_n(&n->published, __ATOMIC_ACQUIRE))
		return 0;
	return n->pathlen == k->len && memcmp(n->path, k->p, k->len) == 0;
}

struct mxs_node *mxs_node_lookup(struct mxs_store *st, const char *p,
				 size_t len)
{
	struct key k = { p, len };
	struct cds_lfht_iter it;
	struct cds_lfht_node *hn;

	cds_lfht_lookup(st->index, mxs_path_hash(p, len), node_match, &k, &it);
	hn = cds_lfht_iter_get_node(&it);
	return hn ? caa_container_of(hn, struct mxs_node, hnode) : NULL;
}

/* ------------------------------------------------------------------ */
/* Live mutations: caller holds st->wlock.                             */

static void node_publish(struct mxs_node *n, struct mxs_nodeval *v)
{
	struct mxs_nodeval *old = n->val;

	/* STORE_VAL_R1: pairs with STORE_VAL_A1 in the readers' loads of
	 * n->val (txn.c, store.c, check.c): v is fully built. */
	mxs_rcu_publish(n->val, v);
	call_rcu(&old->rcu, mxs_nodeval_free_rcu);
}

/* New version of n with the same contents and a new generation (its
 * children changed).  On ENOMEM the old generation stays. */
static void node_touch(struct mxs_store *st, struct mxs_node *n)
{
	struct mxs_nodeval *v = mxs_nodeval_dup(n->val, mxs_store_gen_next(st));

	if (v) {
		v->meta_gen = n->val->meta_gen; /* only the children changed */
		node_publish(n, v);
	}
}

int mxs_node_create(struct mxs_store *st, struct mxs_node *parent,
		    const char *path, size_t len, struct mxs_nodeval *v)
{
	struct mxs_node *n = malloc(sizeof(*n) + len + 1);

	if (!n)
		return -ENOMEM;
	memcpy(n->path, path, len);
	n->path[len] = '\0';
	n->pathlen = (uint32_t)len;
	n->base = (uint32_t)mxs_path_parent_len(path, len);
	n->base += n->base > 1; /* skip the '/' unless the parent is root */
	n->kids_head = n->kids_tail = n->next_sib = NULL;
	n->parent = parent;
	version_stamp(st, v);
	n->val = v;
	cds_lfht_node_init(&n->hnode);
	/* STORE_NODE_R1: pairs with STORE_NODE_A1 in node_match(). */
	__atomic_store_n(&n->published, 1, __ATOMIC_RELEASE);
	/* Link at the tail of the parent's children.  STORE_KIDS_R1: pairs
	 * with STORE_KIDS_A1 in the readers' list walks: n is built. */
	n->prev_sib = parent->kids_tail;
	if (parent->kids_tail)
		mxs_rcu_publish(parent->kids_tail->next_sib, n);
	else
		mxs_rcu_publish(parent->kids_head, n);
	parent->kids_tail = n;
	cds_lfht_add(st->index, mxs_path_hash(path, len), &n->hnode);
	mxs_count_add(&st->nodes, 1);
	mxs_node_own_link(st, n);
	node_touch(st, parent);
	return 0;
}

void mxs_node_update(struct mxs_store *st, struct mxs_node *n,
		     struct mxs_nodeval *v)
{
	bool moved = mxs_nodeval_owner(n->val) != mxs_nodeval_owner(v);

	version_stamp(st, v);
	node_publish(n, v);
	if (moved) {
		own_unlink(st, n);
		mxs_node_own_link(st, n);
	}
}

int mxs_nodevec_push(struct mxs_nodevec *nv, struct mxs_node *n)
{
	if (nv->n == nv->cap) {
		size_t cap = nv->cap ? nv->cap * 2 : 16;
		struct mxs_node **p = realloc(nv->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		nv->v = p;
		nv->cap = cap;
	}
	nv->v[nv->n++] = n;
	return 0;
}

/*
 * Iterative (no recursion on a depth the client controls, XSA-418).
 * Children are unlinked before parents.
 */
int mxs_node_remove(struct mxs_store *st, struct mxs_node *n)
{
	struct mxs_nodevec stack = { 0 }, order = { 0 };
	struct mxs_node *parent = n->parent, *c;
	size_t i;
	int rc = 0;

	if (mxs_nodevec_push(&stack, n))
		return -ENOMEM;
	while (stack.n) {
		struct mxs_node *top = stack.v[--stack.n];

		if ((rc = mxs_nodevec_push(&order, top)))
			goto out;
		for (c = top->kids_head; c; c = c->next_sib)
			if ((rc = mxs_nodevec_push(&stack, c)))
				goto out;
	}
	/* order is a pre-order; walk it backwards: leaves first. */
	for (i = order.n; i-- > 0;) {
		struct mxs_node *d = order.v[i];
		struct mxs_node *p = d->parent;

		cds_lfht_del(st->index, &d->hnode);
		/* Unlink; d->next_sib stays valid for readers standing on d.
		 * STORE_KIDS_R1 as in mxs_node_create(). */
		if (d->prev_sib)
			mxs_rcu_publish(d->prev_sib->next_sib, d->next_sib);
		else
			mxs_rcu_publish(p->kids_head, d->next_sib);
		if (d->next_sib)
			d->next_sib->prev_sib = d->prev_sib;
		else
			p->kids_tail = d->prev_sib;
		mxs_count_add(&st->nodes, -1);
		own_unlink(st, d);
		call_rcu(&d->rcu, node_free_rcu);
	}
	node_touch(st, parent);
out:
	free(stack.v);
	free(order.v);
	return rc;
}
