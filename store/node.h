/* SPDX-License-Identifier: MIT */
/*
 * Private to store/: the live tree's nodes, their versions and the index,
 * shared by node.c (which alone mutates them), txn.c, store.c and check.c.
 *
 * Ordering labels of the live tree (each names one release/acquire pair):
 *   STORE_NODE_R1/A1   mxs_node.published: a node's path and links are
 *                      written before the index can match it.
 *   STORE_VAL_R1/A1    mxs_node.val: a node version is fully built before
 *                      a reader can load the pointer to it.
 *   STORE_KIDS_R1/A1   kids_head / next_sib: a child is fully built before
 *                      a reader walking its parent's list can reach it.
 *   STORE_SPECIAL_R1/A1 mxs_store.special[]: the permissions of
 *                      @introduceDomain / @releaseDomain.
 * The index itself (cds_lfht_add / cds_lfht_lookup) orders with liburcu's
 * own rcu_assign_pointer / rcu_dereference.
 */
#ifndef MXS_STORE_NODE_H
#define MXS_STORE_NODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include "mxs/protocol.h"
#include "store/perms.h"
#include "store/rcu.h"
#include "store/store.h"

#define MXS_GEN_NONE UINT64_MAX /* generation recorded for a missing node */

/* One version of a node's contents.  Immutable once published. */
struct mxs_nodeval {
	struct rcu_head rcu;
	uint64_t gen;      /* last change of value, permissions or children */
	uint64_t meta_gen; /* last change of value or permissions */
	/*
	 * Generation at which the permission list was set (creation or
	 * SET_PERMS): the domain oracle's entries introduced later are
	 * stale (store.h).  MXS_GEN_NONE in a version not yet published:
	 * set by this version, stamped with gen when it is installed.
	 */
	uint64_t perms_gen;
	uint32_t vlen;
	uint32_t nperms;
	struct mxs_perm *perms; /* points into this allocation */
	char *value;            /* vlen bytes + a NUL, in this allocation */
};

/*
 * A live node.  How long a looked-up node stays valid: a reader may stand
 * on a node that the writer removes meanwhile; the node and its last
 * version stay allocated until the reader's next quiescent state, and its
 * next_sib keeps pointing at a node of the same list (or at one removed in
 * the same grace period), so a listing in progress goes on.
 */
struct mxs_node {
	struct cds_lfht_node hnode;    /* in st->index, key = path */
	struct mxs_node *next_sib;     /* STORE_KIDS: next child of parent */
	struct mxs_node *kids_head;    /* STORE_KIDS: first child */
	struct mxs_node *prev_sib;     /* writer lock */
	struct mxs_node *kids_tail;    /* writer lock */
	struct mxs_node *parent;       /* writer lock */
	int published;                 /* STORE_NODE: set before indexing */
	struct mxs_nodeval *val;       /* STORE_VAL: never NULL */
	/* Owner index: the nodes of one owner slot (writer lock). */
	struct mxs_node *own_next, *own_prev;
	uint32_t own_slot; /* the slot whose list holds this node */
	uint32_t pathlen;
	uint32_t base; /* offset of the last component in path */
	struct rcu_head rcu;
	char path[];
};

struct mxs_store {
	struct cds_lfht *index;
	pthread_mutex_t wlock; /* serialises all mutations of the live tree */
	uint64_t gen;          /* writer lock; last generation handed out */
	struct mxs_node *root;
	uint64_t nodes;        /* writer lock; relaxed reads */
	uint64_t commits, conflicts; /* writer lock; relaxed reads */
	bool strict_conflicts; /* set before use: the C daemon's rule */
	/* @introduceDomain and @releaseDomain permissions (STORE_SPECIAL). */
	struct mxs_nodeval *special[2];
	/* Nodes per owning domain: writer lock, relaxed reads. */
	uint32_t owned[MXS_DOMID_FIRST_RESERVED + 1];
	/*
	 * Owner index: per owner slot, the list of the nodes it owns
	 * (own_next/own_prev), so that everything a domain owns is found in
	 * O(nodes owned).  Writer lock.  MXS_DOMID_FIRST_RESERVED + 1 heads.
	 */
	struct mxs_node **own_head;
	/* Domain oracle (store.h): set before the store is shared. */
	mxs_store_domain_fn oracle;
	void *oracle_arg;
};

/* Owner-count slot of a domid: reserved ids share the last slot. */
static inline uint32_t mxs_owner_slot(uint32_t domid)
{
	return domid < MXS_DOMID_FIRST_RESERVED ? domid
						: MXS_DOMID_FIRST_RESERVED;
}

/* Owner of a version: its first permission entry (dom0 if it has none). */
static inline uint32_t mxs_nodeval_owner(const struct mxs_nodeval *v)
{
	return v->nperms ? v->perms[0].domid : 0;
}

/*
 * Counters written under the writer lock and read without it (stats,
 * quotas): relaxed, a reader only needs some recent value.
 */
static inline void mxs_count_add(uint64_t *c, int64_t d)
{
	__atomic_fetch_add(c, (uint64_t)d, __ATOMIC_RELAXED);
}

/* Caller: writer lock.  Relaxed: stats read it without the lock. */
static inline uint64_t mxs_store_gen_next(struct mxs_store *st)
{
	return __atomic_add_fetch(&st->gen, 1, __ATOMIC_RELAXED);
}

/*
 * Reader side of the live tree.  Caller: RCU read side (online); results
 * valid until its next quiescent state.
 */
/* STORE_VAL_A1: acquire, pairs with STORE_VAL_R1 in node.c: the version
 * is fully built. */
static inline struct mxs_nodeval *mxs_node_val(struct mxs_node *n)
{
	return mxs_rcu_deref(n->val);
}

/* STORE_KIDS_A1: acquire, pairs with STORE_KIDS_R1 in node.c: the child
 * reached is fully built. */
static inline struct mxs_node *mxs_node_kids(struct mxs_node *n)
{
	return mxs_rcu_deref(n->kids_head);
}

/* STORE_KIDS_A1 as in mxs_node_kids(). */
static inline struct mxs_node *mxs_node_next(struct mxs_node *c)
{
	return mxs_rcu_deref(c->next_sib);
}

/* A new unpublished version; NULL on ENOMEM.  No lock. */
struct mxs_nodeval *mxs_nodeval_new(uint64_t gen, const struct mxs_perm *perms,
				    unsigned int nperms, const void *value,
				    size_t vlen);
struct mxs_nodeval *mxs_nodeval_dup(const struct mxs_nodeval *o,
				    uint64_t gen);
/* call_rcu callback freeing a superseded version. */
void mxs_nodeval_free_rcu(struct rcu_head *h);

/*
 * The live node at path p[0..len), or NULL.  Caller: RCU read side
 * (online) or the writer lock.  The node may be removed concurrently but
 * stays allocated until the caller's next quiescent state.
 */
struct mxs_node *mxs_node_lookup(struct mxs_store *st, const char *p,
				 size_t len);

/*
 * Live mutations.  Caller: writer lock.  Each one is visible to readers
 * as soon as it returns (per node: a reader sees a node's old or new
 * version, never a mix).
 */
/* Links a new child of parent built from v (taken over on success). */
int mxs_node_create(struct mxs_store *st, struct mxs_node *parent,
		    const char *path, size_t len, struct mxs_nodeval *v);
/* Replaces n's version with v (taken over). */
void mxs_node_update(struct mxs_store *st, struct mxs_node *n,
		     struct mxs_nodeval *v);
/* Unlinks n and its subtree, frees them after a grace period. */
int mxs_node_remove(struct mxs_store *st, struct mxs_node *n);

/*
 * Adds a node built outside node.c (the root) to the owner index.  Caller:
 * writer lock or sole owner of the store.
 */
void mxs_node_own_link(struct mxs_store *st, struct mxs_node *n);

/* A growable stack of node pointers (walks).  Not shared. */
struct mxs_nodevec {
	struct mxs_node **v;
	size_t n, cap;
};

int mxs_nodevec_push(struct mxs_nodevec *nv, struct mxs_node *n);

#endif
