/* SPDX-License-Identifier: MIT */
/*
 * The tree.
 *
 * Live nodes are found through one RCU hash table keyed by full path
 * (cds_lfht), and list their children in an RCU singly linked list in
 * creation order (DIRECTORY answers in that order, as the C daemon):
 * readers follow next_sib/kids_head with acquire loads; the writer links
 * a fully built node with a release store, and unlinks without touching
 * the unlinked node's next_sib, so a reader standing on it goes on.  A node's contents
 * (value, permissions, generation) are one immutable struct mxs_nodeval,
 * replaced as a whole with rcu_assign_pointer and freed after a grace
 * period, so a reader always sees one consistent version.
 *
 * Every mutation is a transaction: an explicit one (TRANSACTION_START)
 * collects private copies of the nodes it touches and is applied at
 * commit if nothing it saw has changed; an operation outside a transaction
 * runs the same code on an implicit transaction while holding the writer
 * lock, and is applied at once (it cannot conflict).  One code path for
 * permission checks, parent creation, inheritance and subtree removal.
 */
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include "store/rcu.h"

#include "mxs/protocol.h"
#include "store/path.h"

#define GEN_NONE UINT64_MAX /* generation recorded for a missing node */

/* Immutable once published. */
struct mxs_nodeval {
	struct rcu_head rcu;
	uint64_t gen;      /* last change of value, permissions or children */
	uint64_t meta_gen; /* last change of value or permissions */
	uint32_t vlen;
	uint32_t nperms;
	struct mxs_perm *perms; /* points into this allocation */
	char *value;            /* vlen bytes + a NUL, in this allocation */
};

struct mxs_node {
	struct cds_lfht_node hnode;    /* in st->index, key = path */
	struct mxs_node *next_sib;     /* RCU: next child of parent */
	struct mxs_node *kids_head;    /* RCU: first child */
	struct mxs_node *prev_sib;     /* writer lock */
	struct mxs_node *kids_tail;    /* writer lock */
	struct mxs_node *parent;       /* writer lock */
	int published; /* R2/A2: set (release) before the node is indexed */
	struct mxs_nodeval *val;       /* RCU pointer, never NULL */
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
	uint64_t commits, conflicts;
	bool strict_conflicts; /* set before use: the C daemon's rule */
	/* @introduceDomain and @releaseDomain permissions (RCU pointers). */
	struct mxs_nodeval *special[2];
	/* Nodes per owning domain: writer lock, relaxed reads. */
	uint32_t owned[MXS_DOMID_FIRST_RESERVED + 1];
};

#ifdef MXS_TSAN
char mxs_rcu_gp_token;
#endif

static const char *const special_names[2] = { "@introduceDomain",
					      "@releaseDomain" };

/* ------------------------------------------------------------------ */
/* Node versions                                                        */

static struct mxs_nodeval *val_new(uint64_t gen, const struct mxs_perm *perms,
				   unsigned int nperms, const void *value,
				   size_t vlen)
{
	struct mxs_nodeval *v;

	v = malloc(sizeof(*v) + nperms * sizeof(*perms) + vlen + 1);
	if (!v)
		return NULL;
	v->gen = gen;
	v->meta_gen = gen;
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

static struct mxs_nodeval *val_dup(const struct mxs_nodeval *o, uint64_t gen)
{
	return val_new(gen, o->perms, o->nperms, o->value, o->vlen);
}

static void val_free_rcu(struct rcu_head *h)
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

static uint32_t owner_slot(uint32_t domid)
{
	return domid < MXS_DOMID_FIRST_RESERVED ? domid
						: MXS_DOMID_FIRST_RESERVED;
}

/* Counters read without the lock (stats, quotas); written under it. */
static void count_add(uint64_t *c, int64_t d)
{
	__atomic_fetch_add(c, (uint64_t)d, __ATOMIC_RELAXED);
}

static void owned_add(struct mxs_store *st, const struct mxs_nodeval *v,
		      int d)
{
	uint32_t slot = owner_slot(v->nperms ? v->perms[0].domid : 0);

	__atomic_fetch_add(&st->owned[slot], (uint32_t)d, __ATOMIC_RELAXED);
}

/* Caller: writer lock. */
static uint64_t gen_next(struct mxs_store *st)
{
	return __atomic_add_fetch(&st->gen, 1, __ATOMIC_RELAXED);
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

	/* A2: pairs with R2 in live_create(): the node is fully built. */
	if (!__atomic_load_n(&n->published, __ATOMIC_ACQUIRE))
		return 0;
	return n->pathlen == k->len && memcmp(n->path, k->p, k->len) == 0;
}

/* Caller: RCU read side (online).  The node may be removed concurrently
 * but stays allocated until the caller's next quiescent state. */
static struct mxs_node *live_lookup(struct mxs_store *st, const char *p,
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

static void live_publish(struct mxs_node *n, struct mxs_nodeval *v)
{
	struct mxs_nodeval *old = n->val;

	mxs_rcu_publish(n->val, v);
	call_rcu(&old->rcu, val_free_rcu);
}

/* New version of n with the same contents and a new generation (its
 * children changed).  On ENOMEM the old generation stays. */
static void live_bump(struct mxs_store *st, struct mxs_node *n)
{
	struct mxs_nodeval *v = val_dup(n->val, gen_next(st));

	if (v) {
		v->meta_gen = n->val->meta_gen; /* only the children changed */
		live_publish(n, v);
	}
}

static int live_create(struct mxs_store *st, struct mxs_node *parent,
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
	v->gen = v->meta_gen = gen_next(st);
	n->val = v;
	cds_lfht_node_init(&n->hnode);
	/* R2: pairs with A2 in node_match(). */
	__atomic_store_n(&n->published, 1, __ATOMIC_RELEASE);
	/* Link at the tail of the parent's children: release publishes
	 * the built node to readers walking the list. */
	n->prev_sib = parent->kids_tail;
	if (parent->kids_tail)
		mxs_rcu_publish(parent->kids_tail->next_sib, n);
	else
		mxs_rcu_publish(parent->kids_head, n);
	parent->kids_tail = n;
	cds_lfht_add(st->index, mxs_path_hash(path, len), &n->hnode);
	count_add(&st->nodes, 1);
	owned_add(st, v, 1);
	live_bump(st, parent);
	return 0;
}

static void live_update(struct mxs_store *st, struct mxs_node *n,
			struct mxs_nodeval *v)
{
	uint32_t old_owner = n->val->nperms ? n->val->perms[0].domid : 0;
	uint32_t new_owner = v->nperms ? v->perms[0].domid : 0;

	if (old_owner != new_owner) {
		owned_add(st, n->val, -1);
		owned_add(st, v, 1);
	}
	v->gen = v->meta_gen = gen_next(st);
	live_publish(n, v);
}

struct nodevec {
	struct mxs_node **v;
	size_t n, cap;
};

static int nodevec_push(struct nodevec *nv, struct mxs_node *n)
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
 * Removes n and everything below it.  Iterative (no recursion on a depth
 * the client controls, XSA-418).  Children are unlinked before parents.
 */
static int live_remove(struct mxs_store *st, struct mxs_node *n)
{
	struct nodevec stack = { 0 }, order = { 0 };
	struct mxs_node *parent = n->parent, *c;
	size_t i;
	int rc = 0;

	if (nodevec_push(&stack, n))
		return -ENOMEM;
	while (stack.n) {
		struct mxs_node *top = stack.v[--stack.n];

		if ((rc = nodevec_push(&order, top)))
			goto out;
		for (c = top->kids_head; c; c = c->next_sib)
			if ((rc = nodevec_push(&stack, c)))
				goto out;
	}
	/* order is a pre-order; walk it backwards: leaves first. */
	for (i = order.n; i-- > 0;) {
		struct mxs_node *d = order.v[i];

		struct mxs_node *p = d->parent;

		cds_lfht_del(st->index, &d->hnode);
		/* Unlink; d->next_sib stays valid for readers standing on d. */
		if (d->prev_sib)
			mxs_rcu_publish(d->prev_sib->next_sib, d->next_sib);
		else
			mxs_rcu_publish(p->kids_head, d->next_sib);
		if (d->next_sib)
			d->next_sib->prev_sib = d->prev_sib;
		else
			p->kids_tail = d->prev_sib;
		count_add(&st->nodes, -1);
		owned_add(st, d->val, -1);
		call_rcu(&d->rcu, node_free_rcu);
	}
	live_bump(st, parent);
out:
	free(stack.v);
	free(order.v);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Transactions                                                         */

/* What a transaction knows of one path. */
struct txe {
	struct txe *hnext;  /* hash chain */
	struct txe *next;   /* first-access order */
	char *path;
	size_t len;
	uint64_t base_gen;  /* live generation at first access, or GEN_NONE */
	uint64_t base_meta; /* live meta_gen at first access */
	bool kids_read;     /* the child list was read (listed, walked) */
	size_t order;       /* first-access order */
	uint64_t create_seq; /* >0: (re)created in this transaction */
	bool own;           /* the transaction has its own copy (below) */
	bool exists;        /* own copy: does the node exist */
	bool modified;      /* own copy: value or permissions changed */
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
	struct txe **buckets;
	size_t nbuckets, nentries;
	struct txe *first, *last;
	uint64_t seq;
	bool implicit;      /* operation outside a transaction: wlock held */
	bool norecord;      /* read outside a transaction: record nothing */
	bool own_buckets;   /* buckets were malloc'ed (not on the stack) */
	bool failed;        /* out of memory: commit must fail */
	struct mxs_changes changes; /* explicit transactions: until commit */
};

static struct txe *txe_find(struct mxs_txn *tx, const char *p, size_t len)
{
	struct txe *e;

	for (e = tx->buckets[mxs_path_hash(p, len) & (tx->nbuckets - 1)]; e;
	     e = e->hnext)
		if (e->len == len && memcmp(e->path, p, len) == 0)
			return e;
	return NULL;
}

static int tx_grow(struct mxs_txn *tx)
{
	size_t nb = tx->nbuckets * 2, i;
	struct txe **b = calloc(nb, sizeof(*b)), *e, *nx;

	if (!b)
		return -ENOMEM;
	for (i = 0; i < tx->nbuckets; i++)
		for (e = tx->buckets[i]; e; e = nx) {
			size_t h = mxs_path_hash(e->path, e->len) & (nb - 1);

			nx = e->hnext;
			e->hnext = b[h];
			b[h] = e;
		}
	if (tx->own_buckets)
		free(tx->buckets);
	tx->buckets = b;
	tx->nbuckets = nb;
	tx->own_buckets = true;
	return 0;
}

static struct txe *txe_add(struct mxs_txn *tx, const char *p, size_t len,
			   uint64_t base_gen, uint64_t base_meta)
{
	struct txe *e;
	size_t h;

	if (tx->nentries >= tx->nbuckets && tx_grow(tx))
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->path = malloc(len + 1);
	if (!e->path) {
		free(e);
		return NULL;
	}
	memcpy(e->path, p, len);
	e->path[len] = '\0';
	e->len = len;
	e->base_gen = base_gen;
	e->base_meta = base_meta;
	e->order = tx->nentries;
	h = mxs_path_hash(p, len) & (tx->nbuckets - 1);
	e->hnext = tx->buckets[h];
	tx->buckets[h] = e;
	if (tx->last)
		tx->last->next = e;
	else
		tx->first = e;
	tx->last = e;
	tx->nentries++;
	return e;
}

/* Makes the own copy childless (removed, or created here). */
static void txe_clear_kids(struct txe *e)
{
	while (e->nkids)
		free(e->kids[--e->nkids]);
	while (e->ngone)
		free(e->gone[--e->ngone]);
	e->live_kids = false;
}

static int names_push(char ***v, size_t *n, size_t *cap, const char *name,
		      size_t len)
{
	char *s;

	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		char **k = realloc(*v, c * sizeof(*k));

		if (!k)
			return -ENOMEM;
		*v = k;
		*cap = c;
	}
	s = strndup(name, len);
	if (!s)
		return -ENOMEM;
	(*v)[(*n)++] = s;
	return 0;
}

static ssize_t names_find(char **v, size_t n, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(v[i]) == len && memcmp(v[i], name, len) == 0)
			return (ssize_t)i;
	return -1;
}

static int txe_add_kid(struct txe *e, const char *name, size_t len)
{
	return names_push(&e->kids, &e->nkids, &e->capkids, name, len);
}

static int txe_del_kid(struct txe *e, const char *name)
{
	ssize_t i = names_find(e->kids, e->nkids, name, strlen(name));

	if (i >= 0) {
		free(e->kids[i]);
		memmove(&e->kids[i], &e->kids[i + 1],
			(e->nkids - (size_t)i - 1) * sizeof(e->kids[0]));
		e->nkids--;
		return 0;
	}
	if (e->live_kids)
		return names_push(&e->gone, &e->ngone, &e->capgone, name,
				  strlen(name));
	return 0;
}

static void tx_init(struct mxs_txn *tx, struct mxs_store *st,
		    struct txe **buckets, size_t nbuckets)
{
	memset(tx, 0, sizeof(*tx));
	tx->st = st;
	tx->buckets = buckets;
	tx->nbuckets = nbuckets;
}

static void tx_release(struct mxs_txn *tx)
{
	struct txe *e, *nx;

	for (e = tx->first; e; e = nx) {
		nx = e->next;
		txe_clear_kids(e);
		free(e->kids);
		free(e->gone);
		free(e->val);
		free(e->path);
		free(e);
	}
	tx->first = tx->last = NULL;
	tx->nentries = 0;
	mxs_changes_clear(&tx->changes);
	free(tx->changes.v);
	tx->changes.v = NULL;
}

/* ------------------------------------------------------------------ */
/* Views: what a path looks like to a transaction.                     */

struct view {
	const struct mxs_nodeval *val; /* NULL: the node does not exist */
	struct mxs_node *live;         /* view of the live node */
	struct txe *te;                /* own copy in the transaction */
};

#define SNAP_KIDS_MAX 256

/* Copies the live children if there are at most SNAP_KIDS_MAX, else
 * marks the copy as a delta over the live list.  Caller: RCU read side. */
static int snapshot_kids(struct txe *te, struct mxs_node *live)
{
	struct mxs_node *c;
	size_t n = 0;

	for (c = mxs_rcu_deref(live->kids_head); c && n <= SNAP_KIDS_MAX;
	     c = mxs_rcu_deref(c->next_sib))
		n++;
	if (n > SNAP_KIDS_MAX) {
		te->live_kids = true;
		return 0;
	}
	te->live_kids = false;
	for (c = mxs_rcu_deref(live->kids_head); c;
	     c = mxs_rcu_deref(c->next_sib))
		if (txe_add_kid(te, c->path + c->base, c->pathlen - c->base))
			return -ENOMEM;
	return 0;
}

/* Caller: RCU read side.  Records the first access in tx. */
static void get_view(struct mxs_txn *tx, const char *p, size_t len,
		     struct view *v)
{
	struct txe *te = txe_find(tx, p, len);
	struct mxs_node *live;
	const struct mxs_nodeval *val;

	if (te && te->own) {
		v->te = te;
		v->live = NULL;
		v->val = te->exists ? te->val : NULL;
		return;
	}
	live = live_lookup(tx->st, p, len);
	val = live ? mxs_rcu_deref(live->val) : NULL;
	if (!te && !tx->norecord) {
		te = txe_add(tx, p, len, val ? val->gen : GEN_NONE,
			     val ? val->meta_gen : GEN_NONE);
		if (!te) {
			tx->failed = true;
		} else if (!val && !tx->implicit) {
			/* Missing at first access: stays missing to this
			 * transaction (the C daemon's view). */
			te->own = true;
			te->exists = false;
			v->te = te;
			v->live = NULL;
			v->val = NULL;
			return;
		} else if (val && !tx->implicit) {
			/*
			 * An explicit transaction sees a node as it was at
			 * first access (the C daemon's behaviour): value,
			 * permissions and, for up to SNAP_KIDS_MAX children,
			 * the child list.  Larger directories (/local/domain
			 * on a big host) stay a delta over the live list, so
			 * that a transaction never copies all domains; see
			 * docs/compat.md.
			 */
			te->val = val_dup(val, val->gen);
			if (te->val && snapshot_kids(te, live) == 0) {
				te->own = true;
				te->exists = true;
				v->te = te;
				v->live = NULL;
				v->val = te->val;
				return;
			}
			tx->failed = true;
		}
	}
	v->te = NULL;
	v->live = val ? live : NULL;
	v->val = val;
}

/* Gives the transaction its own copy of p (which it has looked at). */
static struct txe *make_own(struct mxs_txn *tx, const char *p, size_t len)
{
	struct txe *te = txe_find(tx, p, len);
	struct mxs_node *live;
	const struct mxs_nodeval *val;

	if (!te) {
		struct view v;

		get_view(tx, p, len, &v);
		te = txe_find(tx, p, len);
		if (!te)
			return NULL;
	}
	if (te->own)
		return te;
	live = live_lookup(tx->st, p, len);
	val = live ? mxs_rcu_deref(live->val) : NULL;
	te->exists = val != NULL;
	if (val) {
		te->val = val_dup(val, val->gen);
		if (!te->val)
			return NULL;
		te->live_kids = true;
	}
	te->own = true;
	return te;
}

static int view_children(struct mxs_txn *tx, const struct view *v,
			 struct mxs_buf *out)
{
	struct mxs_node *c, *live;
	size_t i;
	int rc;

	if (v->te) {
		v->te->kids_read = true; /* see mxs_txn_commit */
		live = v->te->live_kids
			       ? live_lookup(tx->st, v->te->path, v->te->len)
			       : NULL;
		for (c = live ? mxs_rcu_deref(live->kids_head) : NULL; c;
		     c = mxs_rcu_deref(c->next_sib)) {
				if (names_find(v->te->gone, v->te->ngone,
					       c->path + c->base,
					       c->pathlen - c->base) >= 0)
					continue;
				if ((rc = mxs_buf_add(out, c->path + c->base,
						      c->pathlen - c->base +
							      1)))
					return rc;
			}
		for (i = 0; i < v->te->nkids; i++)
			if ((rc = mxs_buf_add_str(out, v->te->kids[i])))
				return rc;
		return 0;
	}
	if (!v->live)
		return 0;
	for (c = mxs_rcu_deref(v->live->kids_head); c;
	     c = mxs_rcu_deref(c->next_sib))
		if ((rc = mxs_buf_add(out, c->path + c->base,
				      c->pathlen - c->base + 1)))
			return rc;
	return 0;
}

static uint32_t view_perm(const struct mxs_caller *c, const struct view *v)
{
	return mxs_perm_for(c, v->val->perms, v->val->nperms);
}

/*
 * The C daemon's get_node(): the node if the caller has all of `need` on
 * it; else -EACCES; a missing node is -ENOENT if the nearest existing
 * ancestor grants any of `need`, else -EACCES (so nothing leaks about
 * names one may not see).
 */
static int get_node(struct mxs_txn *tx, const struct mxs_caller *c,
		    const char *path, uint32_t need, struct view *v)
{
	size_t len = strlen(path);
	struct view a;

	get_view(tx, path, len, v);
	if (v->val)
		return (view_perm(c, v) & need) == need ? 0 : -EACCES;
	do {
		len = mxs_path_parent_len(path, len);
		get_view(tx, path, len, &a);
	} while (!a.val && len > 1);
	if (!a.val)
		return -EIO; /* no root: cannot happen */
	return (view_perm(c, &a) & need) ? -ENOENT : -EACCES;
}

static int change_add(struct mxs_changes *ch, const char *path, size_t len,
		      bool exact, const struct mxs_nodeval *oldv)
{
	struct mxs_change *x;

	if (ch->n == ch->cap) {
		size_t cap = ch->cap ? ch->cap * 2 : 8;
		struct mxs_change *v = realloc(ch->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ch->v = v;
		ch->cap = cap;
	}
	x = &ch->v[ch->n];
	memset(x, 0, sizeof(*x));
	x->path = strndup(path, len);
	if (!x->path)
		return -ENOMEM;
	x->exact = exact;
	if (oldv && oldv->nperms) {
		x->perms = malloc(oldv->nperms * sizeof(*x->perms));
		if (!x->perms) {
			free(x->path);
			return -ENOMEM;
		}
		memcpy(x->perms, oldv->perms, oldv->nperms * sizeof(*x->perms));
		x->nperms = oldv->nperms;
	}
	ch->n++;
	return 0;
}

static void changes_truncate(struct mxs_changes *ch, size_t n)
{
	while (ch->n > n) {
		ch->n--;
		free(ch->v[ch->n].path);
		free(ch->v[ch->n].perms);
	}
}

void mxs_changes_clear(struct mxs_changes *ch)
{
	changes_truncate(ch, 0);
}

/* ------------------------------------------------------------------ */
/* Operations on a transaction (explicit or implicit).                 */

/* Creates path and its missing ancestors (the nearest existing ancestor
 * has been checked for write permission by get_node). */
static int tx_create(struct mxs_txn *tx, const struct mxs_caller *c,
		     const char *path, const void *val, size_t vlen)
{
	size_t len = strlen(path), top = len, plen;
	struct view a;
	int rc;

	/* Find the nearest existing ancestor. */
	do {
		top = mxs_path_parent_len(path, top);
		get_view(tx, path, top, &a);
	} while (!a.val && top > 1);
	/* Create every level below it, outermost first. */
	plen = top;
	while (plen < len) {
		size_t clen = plen == 1 ? 1 : plen + 1;
		struct txe *pe, *ce;
		const struct mxs_nodeval *pv;
		struct mxs_nodeval *nv;
		struct mxs_perm *perms;

		while (clen < len && path[clen] != '/')
			clen++;
		pe = make_own(tx, path, plen);
		if (!pe || !pe->exists)
			return -ENOMEM;
		pv = pe->val;
		ce = make_own(tx, path, clen);
		if (!ce)
			return -ENOMEM;
		nv = clen == len ? val_new(0, pv->perms, pv->nperms, val, vlen)
				 : val_new(0, pv->perms, pv->nperms, NULL, 0);
		if (!nv)
			return -ENOMEM;
		/* Unprivileged domains own what they create. */
		perms = nv->perms;
		if (!c->privileged && nv->nperms)
			perms[0].domid = c->domid;
		free(ce->val);
		txe_clear_kids(ce);
		ce->val = nv;
		ce->exists = true;
		ce->modified = true;
		ce->create_seq = ++tx->seq;
		rc = txe_add_kid(pe, path + (plen == 1 ? 1 : plen + 1),
				 clen - (plen == 1 ? 1 : plen + 1));
		if (rc)
			return rc;
		plen = clen;
	}
	return 0;
}

static int tx_write(struct mxs_txn *tx, const struct mxs_caller *c,
		    const char *path, const void *val, size_t vlen,
		    struct mxs_changes *ch)
{
	struct view v;
	int rc = get_node(tx, c, path, MXS_PERM_WRITE, &v);

	if (rc == 0) {
		struct txe *te = make_own(tx, path, strlen(path));
		struct mxs_nodeval *nv;

		if (!te)
			return -ENOMEM;
		nv = val_new(te->val->gen, te->val->perms, te->val->nperms,
			     val, vlen);
		if (!nv)
			return -ENOMEM;
		free(te->val);
		te->val = nv;
		te->modified = true;
	} else if (rc == -ENOENT) {
		rc = tx_create(tx, c, path, val, vlen);
		if (rc)
			return rc;
	} else {
		return rc;
	}
	return change_add(ch, path, strlen(path), false, NULL);
}

static int tx_mkdir(struct mxs_txn *tx, const struct mxs_caller *c,
		    const char *path, struct mxs_changes *ch)
{
	struct view v;
	int rc = get_node(tx, c, path, MXS_PERM_WRITE, &v);

	if (rc != -ENOENT)
		return rc; /* exists (fine) or no access */
	rc = tx_create(tx, c, path, NULL, 0);
	if (rc)
		return rc;
	return change_add(ch, path, strlen(path), false, NULL);
}

struct pathvec {
	char **v;
	size_t n, cap;
};

static int pathvec_push(struct pathvec *pv, char *s)
{
	if (!s)
		return -ENOMEM;
	if (pv->n == pv->cap) {
		size_t cap = pv->cap ? pv->cap * 2 : 16;
		char **p = realloc(pv->v, cap * sizeof(*p));

		if (!p) {
			free(s);
			return -ENOMEM;
		}
		pv->v = p;
		pv->cap = cap;
	}
	pv->v[pv->n++] = s;
	return 0;
}

static void pathvec_free(struct pathvec *pv)
{
	while (pv->n)
		free(pv->v[--pv->n]);
	free(pv->v);
}

/* Depth of a path: its number of slashes. */
static size_t depth(const char *p)
{
	size_t d = 0;

	for (; *p; p++)
		d += *p == '/';
	return d;
}

/*
 * Appends the subtree of path, as tx sees it, to out in pre-order,
 * children in list order.  Iterative: no recursion on a depth a client
 * controls (XSA-418).
 */
static int walk_subtree(struct mxs_txn *tx, const char *path,
			struct pathvec *out)
{
	struct pathvec stack = { 0 };
	struct mxs_buf kids = { 0 };
	size_t *offs = NULL, noffs = 0, cap = 0, i;
	int rc = pathvec_push(&stack, strdup(path));

	while (!rc && stack.n) {
		char *p = stack.v[--stack.n];
		struct view w;
		size_t off;

		rc = pathvec_push(out, p);
		if (rc)
			break;
		get_view(tx, p, strlen(p), &w);
		mxs_buf_reset(&kids);
		if (w.val && (rc = view_children(tx, &w, &kids)))
			break;
		for (noffs = 0, off = 0; off < kids.len;
		     off += strlen(kids.p + off) + 1) {
			if (noffs == cap) {
				size_t nc = cap ? cap * 2 : 16;
				size_t *no = realloc(offs, nc * sizeof(*no));

				if (!no) {
					rc = -ENOMEM;
					break;
				}
				offs = no;
				cap = nc;
			}
			offs[noffs++] = off;
		}
		/* The stack pops last-pushed first: push in reverse. */
		for (i = noffs; !rc && i-- > 0;) {
			char *cp;

			if (asprintf(&cp, "%s/%s", p, kids.p + offs[i]) < 0)
				cp = NULL;
			rc = pathvec_push(&stack, cp);
		}
	}
	pathvec_free(&stack);
	mxs_buf_free(&kids);
	free(offs);
	return rc;
}

/*
 * Post-order (leaves first, children in list order) of a pre-order list:
 * a node is emitted once the walk has left its subtree, i.e. when a node
 * of its depth or shallower follows.  Writes indices into post.
 */
static int postorder(const struct pathvec *pre, size_t *post)
{
	size_t *stack = malloc(pre->n * sizeof(*stack));
	size_t top = 0, n = 0, i;

	if (!stack)
		return -ENOMEM;
	for (i = 0; i < pre->n; i++) {
		size_t d = depth(pre->v[i]);

		while (top && depth(pre->v[stack[top - 1]]) >= d)
			post[n++] = stack[--top];
		stack[top++] = i;
	}
	while (top)
		post[n++] = stack[--top];
	free(stack);
	return 0;
}

static int tx_rm(struct mxs_txn *tx, const struct mxs_caller *c,
		 const char *path, struct mxs_changes *ch)
{
	struct pathvec order = { 0 };
	size_t len = strlen(path), plen, i, *post = NULL;
	struct view v;
	struct txe *pe;
	int rc = get_node(tx, c, path, MXS_PERM_WRITE, &v);

	if (rc == -ENOENT) {
		/* Removing a missing node is fine if its parent exists. */
		struct view p;

		get_view(tx, path, mxs_path_parent_len(path, len), &p);
		return p.val ? 0 : -ENOENT;
	}
	if (rc)
		return rc;
	if (len == 1)
		return -EINVAL; /* "/" */

	/*
	 * The walk visits the subtree in pre-order, as the C daemon's
	 * removal reads it (the order an explicit transaction's commit fires
	 * the removals in: first access); the changes are recorded leaves
	 * first, as the C daemon fires them outside a transaction.
	 */
	rc = walk_subtree(tx, path, &order);
	if (!rc) {
		post = malloc(order.n * sizeof(*post));
		rc = post ? postorder(&order, post) : -ENOMEM;
	}
	for (i = 0; !rc && i < order.n; i++) {
		const char *p = order.v[post[i]];
		struct txe *te = make_own(tx, p, strlen(p));

		if (!te) {
			rc = -ENOMEM;
			break;
		}
		rc = change_add(ch, p, strlen(p), post[i] != 0, te->val);
		if (rc)
			break;
		free(te->val);
		te->val = NULL;
		txe_clear_kids(te);
		te->exists = false;
		te->modified = true;
		te->create_seq = 0;
	}
	if (!rc) {
		plen = mxs_path_parent_len(path, len);
		pe = make_own(tx, path, plen);
		if (!pe)
			rc = -ENOMEM;
		else
			rc = txe_del_kid(pe, path + (plen == 1 ? 1 : plen + 1));
	}
	free(post);
	pathvec_free(&order);
	return rc;
}

static int tx_set_perms(struct mxs_txn *tx, const struct mxs_caller *c,
			const char *path, const struct mxs_perm *perms,
			unsigned int n, struct mxs_changes *ch)
{
	struct view v;
	struct txe *te;
	struct mxs_nodeval *nv;
	int rc = get_node(tx, c, path, MXS_PERM_WRITE | MXS_PERM_OWNER, &v);

	if (rc)
		return rc;
	/* Only privileged domains may change the owner (XSA-352). */
	if (!c->privileged && v.val->nperms && perms[0].domid !=
						       v.val->perms[0].domid)
		return -EPERM;
	te = make_own(tx, path, strlen(path));
	if (!te)
		return -ENOMEM;
	rc = change_add(ch, path, strlen(path), false, te->val);
	if (rc)
		return rc;
	nv = val_new(te->val->gen, perms, n, te->val->value, te->val->vlen);
	if (!nv)
		return -ENOMEM;
	free(te->val);
	te->val = nv;
	te->modified = true;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Applying a transaction to the live tree (writer lock held).         */

static int apply_cmp(const void *a, const void *b)
{
	const struct txe *x = *(const struct txe *const *)a;
	const struct txe *y = *(const struct txe *const *)b;
	size_t dx = depth(x->path), dy = depth(y->path);

	if (dx != dy)
		return dx < dy ? -1 : 1;
	if (x->create_seq != y->create_seq)
		return x->create_seq < y->create_seq ? -1 : 1;
	return 0;
}

/* All or nothing up to allocation failure of the live tree itself. */
static int tx_apply(struct mxs_txn *tx)
{
	struct mxs_store *st = tx->st;
	struct txe **v, *e;
	size_t n = 0, i;
	int rc = 0;

	v = malloc((tx->nentries + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (e = tx->first; e; e = e->next)
		if (e->own && (e->modified || e->create_seq))
			v[n++] = e;
	qsort(v, n, sizeof(*v), apply_cmp);
	for (i = 0; i < n && !rc; i++) {
		struct mxs_node *live;

		e = v[i];
		live = live_lookup(st, e->path, e->len);
		if (!e->exists) {
			if (live)
				rc = live_remove(st, live);
			continue;
		}
		if (live && e->create_seq)
			rc = live_remove(st, live), live = NULL;
		if (rc)
			break;
		if (live) {
			struct mxs_nodeval *nv = val_dup(e->val, 0);

			if (!nv)
				rc = -ENOMEM;
			else
				live_update(st, live, nv);
		} else {
			size_t plen = mxs_path_parent_len(e->path, e->len);
			struct mxs_node *parent = live_lookup(st, e->path, plen);
			struct mxs_nodeval *nv = val_dup(e->val, 0);

			if (!nv)
				rc = -ENOMEM;
			else if (!parent) {
				free(nv);
				rc = -EIO;
			} else if ((rc = live_create(st, parent, e->path,
						     e->len, nv)))
				free(nv);
		}
	}
	free(v);
	return rc;
}

/* Runs one operation outside a transaction: atomically, at once. */
#define IMPLICIT_BUCKETS 16
#define WITH_IMPLICIT_TX(st, tx, body)                                        \
	({                                                                    \
		struct txe *bk_[IMPLICIT_BUCKETS] = { 0 };                    \
		struct mxs_txn tx_;                                           \
		struct mxs_txn *tx = &tx_;                                    \
		int rc_;                                                      \
		tx_init(&tx_, (st), bk_, IMPLICIT_BUCKETS);                   \
		tx_.implicit = true;                                          \
		pthread_mutex_lock(&(st)->wlock);                             \
		size_t mark_ = ch->n;                                         \
		rc_ = (body);                                                 \
		if (!rc_ && tx_.failed)                                       \
			rc_ = -ENOMEM;                                        \
		if (!rc_)                                                     \
			rc_ = tx_apply(&tx_);                                 \
		pthread_mutex_unlock(&(st)->wlock);                           \
		if (rc_)                                                      \
			changes_truncate(ch, mark_);                          \
		if (tx_.own_buckets)                                          \
			free(tx_.buckets);                                    \
		tx_.buckets = NULL;                                           \
		tx_release(&tx_);                                             \
		rc_;                                                          \
	})

/* For reads outside a transaction: a throw-away view recorder. */
#define WITH_READ_TX(st, tx, body)                                            \
	({                                                                    \
		struct txe *bk_[IMPLICIT_BUCKETS] = { 0 };                    \
		struct mxs_txn tx_;                                           \
		struct mxs_txn *tx = &tx_;                                    \
		int rc_;                                                      \
		tx_init(&tx_, (st), bk_, IMPLICIT_BUCKETS);                   \
		tx_.norecord = true;                                          \
		rc_ = (body);                                                 \
		tx_.buckets = NULL;                                           \
		tx_release(&tx_);                                             \
		rc_;                                                          \
	})

/* Mutation of an explicit transaction: changes wait for the commit. */
static int tx_mutation_rc(struct mxs_txn *tx, int rc)
{
	if (rc == -ENOMEM)
		tx->failed = true;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Public operations                                                    */

static int do_read(struct mxs_txn *tx, const struct mxs_caller *c,
		   const char *path, struct mxs_buf *out)
{
	struct view v;
	int rc = get_node(tx, c, path, MXS_PERM_READ, &v);

	return rc ? rc : mxs_buf_add(out, v.val->value, v.val->vlen);
}

static int do_get_perms(struct mxs_txn *tx, const struct mxs_caller *c,
			const char *path, struct mxs_buf *out)
{
	struct view v;
	int rc = get_node(tx, c, path, MXS_PERM_READ, &v);

	return rc ? rc : mxs_perms_format(out, v.val->perms, v.val->nperms);
}

static int do_directory(struct mxs_txn *tx, const struct mxs_caller *c,
			const char *path, struct mxs_buf *out)
{
	struct view v;
	int rc = get_node(tx, c, path, MXS_PERM_READ, &v);

	return rc ? rc : view_children(tx, &v, out);
}

static int do_directory_part(struct mxs_txn *tx, const struct mxs_caller *c,
			     const char *path, size_t off, size_t max,
			     struct mxs_buf *out)
{
	struct mxs_buf kids = { 0 };
	char gen[32];
	size_t genlen, len = 0, maxlen;
	struct view v;
	int rc = get_node(tx, c, path, MXS_PERM_READ, &v);

	if (rc)
		return rc;
	genlen = (size_t)snprintf(gen, sizeof(gen), "%" PRIu64,
				  v.val->gen) + 1;
	rc = mxs_buf_add(out, gen, genlen);
	if (!rc)
		rc = view_children(tx, &v, &kids);
	if (rc)
		goto out;
	if (off >= kids.len) {
		rc = mxs_buf_add(out, "", 1);
		goto out;
	}
	maxlen = max > genlen + 1 ? max - genlen - 1 : 0;
	while (off + len < kids.len) {
		size_t l = strlen(kids.p + off + len) + 1;

		if (len + l > maxlen)
			break;
		len += l;
	}
	rc = mxs_buf_add(out, kids.p + off, len);
	if (!rc && off + len == kids.len)
		rc = mxs_buf_add(out, "", 1);
out:
	mxs_buf_free(&kids);
	return rc;
}

int mxs_store_read(struct mxs_store *st, struct mxs_txn *tx,
		   const struct mxs_caller *c, const char *path,
		   struct mxs_buf *out)
{
	if (tx)
		return do_read(tx, c, path, out);
	return WITH_READ_TX(st, t, do_read(t, c, path, out));
}

int mxs_store_get_perms(struct mxs_store *st, struct mxs_txn *tx,
			const struct mxs_caller *c, const char *path,
			struct mxs_buf *out)
{
	if (tx)
		return do_get_perms(tx, c, path, out);
	return WITH_READ_TX(st, t, do_get_perms(t, c, path, out));
}

int mxs_store_directory(struct mxs_store *st, struct mxs_txn *tx,
			const struct mxs_caller *c, const char *path,
			struct mxs_buf *out)
{
	if (tx)
		return do_directory(tx, c, path, out);
	return WITH_READ_TX(st, t, do_directory(t, c, path, out));
}

int mxs_store_directory_part(struct mxs_store *st, struct mxs_txn *tx,
			     const struct mxs_caller *c, const char *path,
			     size_t off, size_t max, struct mxs_buf *out)
{
	if (tx)
		return do_directory_part(tx, c, path, off, max, out);
	return WITH_READ_TX(st, t,
			    do_directory_part(t, c, path, off, max, out));
}

int mxs_store_write(struct mxs_store *st, struct mxs_txn *tx,
		    const struct mxs_caller *c, const char *path,
		    const void *val, size_t len, struct mxs_changes *ch)
{
	if (tx)
		return tx_mutation_rc(tx, tx_write(tx, c, path, val, len,
						   &tx->changes));
	return WITH_IMPLICIT_TX(st, t, tx_write(t, c, path, val, len, ch));
}

int mxs_store_mkdir(struct mxs_store *st, struct mxs_txn *tx,
		    const struct mxs_caller *c, const char *path,
		    struct mxs_changes *ch)
{
	if (tx)
		return tx_mutation_rc(tx, tx_mkdir(tx, c, path, &tx->changes));
	return WITH_IMPLICIT_TX(st, t, tx_mkdir(t, c, path, ch));
}

int mxs_store_rm(struct mxs_store *st, struct mxs_txn *tx,
		 const struct mxs_caller *c, const char *path,
		 struct mxs_changes *ch)
{
	if (tx)
		return tx_mutation_rc(tx, tx_rm(tx, c, path, &tx->changes));
	return WITH_IMPLICIT_TX(st, t, tx_rm(t, c, path, ch));
}

int mxs_store_set_perms(struct mxs_store *st, struct mxs_txn *tx,
			const struct mxs_caller *c, const char *path,
			const struct mxs_perm *perms, unsigned int n,
			struct mxs_changes *ch)
{
	if (tx)
		return tx_mutation_rc(tx, tx_set_perms(tx, c, path, perms, n,
						       &tx->changes));
	return WITH_IMPLICIT_TX(st, t, tx_set_perms(t, c, path, perms, n, ch));
}

static int special_index(const char *name)
{
	return strcmp(name, special_names[0]) == 0   ? 0
	       : strcmp(name, special_names[1]) == 0 ? 1
						     : -1;
}

bool mxs_store_watch_permitted(struct mxs_store *st,
			       const struct mxs_caller *c, const char *path,
			       const struct mxs_perm *old, unsigned int nold)
{
	const struct mxs_nodeval *v;
	struct mxs_node *n;
	size_t len;
	int si;

	/* Privileged callers read everything: no lookup per event. */
	if (c->privileged)
		return true;
	if (path[0] == '@') {
		si = special_index(path);
		if (si < 0)
			return true;
		v = mxs_rcu_deref(st->special[si]);
		return mxs_perm_for(c, v->perms, v->nperms) & MXS_PERM_READ;
	}
	if (old && (mxs_perm_for(c, old, nold) & MXS_PERM_READ))
		return true;
	len = strlen(path);
	n = live_lookup(st, path, len);
	if (n) {
		v = mxs_rcu_deref(n->val);
		if (mxs_perm_for(c, v->perms, v->nperms) & MXS_PERM_READ)
			return true;
	} else if (!old) {
		return false;
	}
	n = live_lookup(st, path, mxs_path_parent_len(path, len));
	if (!n)
		return false;
	v = mxs_rcu_deref(n->val);
	return mxs_perm_for(c, v->perms, v->nperms) & MXS_PERM_READ;
}

int mxs_store_set_special_perms(struct mxs_store *st,
				const struct mxs_caller *c, const char *name,
				const struct mxs_perm *perms, unsigned int n)
{
	int si = special_index(name);
	struct mxs_nodeval *v, *old;
	uint32_t need = MXS_PERM_WRITE | MXS_PERM_OWNER;

	if (si < 0)
		return -ENOENT; /* the C daemon: no such special node */
	pthread_mutex_lock(&st->wlock);
	old = st->special[si];
	if ((mxs_perm_for(c, old->perms, old->nperms) & need) != need) {
		pthread_mutex_unlock(&st->wlock);
		return -EACCES;
	}
	v = val_new(gen_next(st), perms, n, NULL, 0);
	if (!v) {
		pthread_mutex_unlock(&st->wlock);
		return -ENOMEM;
	}
	mxs_rcu_publish(st->special[si], v);
	call_rcu(&old->rcu, val_free_rcu);
	pthread_mutex_unlock(&st->wlock);
	return 0;
}

void mxs_store_set_strict_conflicts(struct mxs_store *st, bool strict)
{
	st->strict_conflicts = strict;
}

unsigned int mxs_store_domain_nodes(struct mxs_store *st, uint32_t domid)
{
	return __atomic_load_n(&st->owned[owner_slot(domid)], __ATOMIC_RELAXED);
}

void mxs_store_get_stats(struct mxs_store *st, struct mxs_store_stats *out)
{
	out->nodes = __atomic_load_n(&st->nodes, __ATOMIC_RELAXED);
	out->generation = __atomic_load_n(&st->gen, __ATOMIC_RELAXED);
	out->commits = __atomic_load_n(&st->commits, __ATOMIC_RELAXED);
	out->conflicts = __atomic_load_n(&st->conflicts, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ */
/* Explicit transactions                                                */

struct mxs_txn *mxs_txn_new(struct mxs_store *st)
{
	struct mxs_txn *tx = malloc(sizeof(*tx));
	struct txe **b = calloc(16, sizeof(*b));

	if (!tx || !b) {
		free(tx);
		free(b);
		errno = ENOMEM;
		return NULL;
	}
	tx_init(tx, st, b, 16);
	tx->own_buckets = true;
	return tx;
}

unsigned int mxs_txn_nodes(const struct mxs_txn *tx)
{
	return (unsigned int)tx->nentries;
}

/*
 * A node the transaction created and removed again never existed for
 * anyone else: the C daemon fires nothing for it at commit.  Caller:
 * writer lock, after tx_apply.
 */
static void drop_transient_changes(struct mxs_txn *tx)
{
	struct mxs_changes *c = &tx->changes;
	size_t i, n = 0;

	for (i = 0; i < c->n; i++) {
		struct mxs_change *x = &c->v[i];
		size_t len = strlen(x->path);
		struct txe *e = txe_find(tx, x->path, len);

		if (e && e->base_gen == GEN_NONE &&
		    !live_lookup(tx->st, x->path, len)) {
			free(x->path);
			free(x->perms);
			continue;
		}
		c->v[n++] = *x;
	}
	c->n = n;
}

struct change_key {
	size_t order, idx;
	struct mxs_change ch;
};

static int change_key_cmp(const void *a, const void *b)
{
	const struct change_key *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * At commit the C daemon fires one event per changed node, in the order
 * the transaction first accessed the nodes; a node both written and
 * removed as a descendant fires as written (watches on its ancestors
 * hear of it) with the permissions it had before.  Caller: writer lock.
 */
static int collapse_changes(struct mxs_txn *tx)
{
	struct mxs_changes *c = &tx->changes;
	struct change_key *k;
	size_t i, n = 0;

	if (c->n < 2)
		return 0;
	k = malloc(c->n * sizeof(*k));
	if (!k)
		return -ENOMEM;
	for (i = 0; i < c->n; i++) {
		struct txe *e = txe_find(tx, c->v[i].path,
					 strlen(c->v[i].path));

		k[i].order = e ? e->order : SIZE_MAX;
		k[i].idx = i;
		k[i].ch = c->v[i];
	}
	qsort(k, c->n, sizeof(*k), change_key_cmp);
	for (i = 0; i < c->n; i++) {
		struct mxs_change *last = n ? &c->v[n - 1] : NULL;

		if (last && k[i].order != SIZE_MAX &&
		    strcmp(last->path, k[i].ch.path) == 0) {
			last->exact = last->exact && k[i].ch.exact;
			if (!last->perms) {
				last->perms = k[i].ch.perms;
				last->nperms = k[i].ch.nperms;
				k[i].ch.perms = NULL;
			}
			free(k[i].ch.path);
			free(k[i].ch.perms);
			continue;
		}
		c->v[n++] = k[i].ch;
	}
	c->n = n;
	free(k);
	return 0;
}

int mxs_txn_commit(struct mxs_txn *tx, struct mxs_changes *ch)
{
	struct mxs_store *st = tx->st;
	struct txe *e;
	size_t i;
	int rc = 0;

	if (tx->failed)
		return -EAGAIN;
	pthread_mutex_lock(&st->wlock);
	for (e = tx->first; e; e = e->next) {
		struct mxs_node *live = live_lookup(st, e->path, e->len);
		uint64_t gen = live ? live->val->gen : GEN_NONE;

		if (gen == e->base_gen)
			continue;
		/*
		 * Changed since first access.  Only the children of a node
		 * whose child list the transaction never read (it may have
		 * added or removed children by name: their own entries
		 * catch clashes) do not conflict, unless the store is
		 * strict (the C daemon's rule: any change conflicts).
		 */
		if (st->strict_conflicts || e->kids_read || !live ||
		    e->base_gen == GEN_NONE ||
		    live->val->meta_gen != e->base_meta) {
			rc = -EAGAIN;
			break;
		}
	}
	if (!rc)
		rc = tx_apply(tx);
	if (!rc) {
		drop_transient_changes(tx);
		collapse_changes(tx); /* on ENOMEM: uncollapsed, still fired */
	}
	if (rc == -EAGAIN)
		count_add(&st->conflicts, 1);
	else if (!rc)
		count_add(&st->commits, 1);
	pthread_mutex_unlock(&st->wlock);
	if (rc)
		return rc;
	/* Hand the recorded changes over (fired by the caller). */
	for (i = 0; i < tx->changes.n; i++) {
		struct mxs_change *x = &tx->changes.v[i];

		if (ch->n == ch->cap) {
			size_t cap = ch->cap ? ch->cap * 2 : 8;
			struct mxs_change *v = realloc(ch->v, cap * sizeof(*v));

			if (!v)
				return 0; /* committed; events lost to ENOMEM */
			ch->v = v;
			ch->cap = cap;
		}
		ch->v[ch->n++] = *x;
		x->path = NULL;
		x->perms = NULL;
	}
	return 0;
}

void mxs_txn_free(struct mxs_txn *tx)
{
	if (!tx)
		return;
	tx_release(tx);
	free(tx->buckets);
	free(tx);
}

/* ------------------------------------------------------------------ */
/* Whole store                                                          */

struct mxs_store *mxs_store_new(void)
{
	static const struct mxs_perm dom0_none = { 0, MXS_PERM_NONE };
	struct mxs_store *st = calloc(1, sizeof(*st));
	struct mxs_node *root;
	const struct mxs_caller priv = { 0, MXS_NO_TARGET, true, false };
	struct mxs_changes ch = { 0 };
	int i;

	if (!st)
		goto nomem;
	pthread_mutex_init(&st->wlock, NULL);
	st->index = cds_lfht_new(1024, 1024, 0,
				 CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
				 NULL);
	root = malloc(sizeof(*root) + 2);
	if (!st->index || !root)
		goto nomem;
	strcpy(root->path, "/");
	root->pathlen = 1;
	root->base = 1;
	root->parent = NULL;
	root->kids_head = root->kids_tail = root->next_sib = NULL;
	root->prev_sib = NULL;
	root->published = 1;
	cds_lfht_node_init(&root->hnode);
	root->val = val_new(gen_next(st), &dom0_none, 1, NULL, 0);
	if (!root->val)
		goto nomem;
	cds_lfht_add(st->index, mxs_path_hash("/", 1), &root->hnode);
	st->root = root;
	st->nodes = 1;
	st->owned[0] = 1;
	for (i = 0; i < 2; i++) {
		st->special[i] = val_new(0, &dom0_none, 1, NULL, 0);
		if (!st->special[i])
			goto nomem;
	}
	if (mxs_store_write(st, NULL, &priv, "/tool/xenstored", "", 0, &ch))
		goto nomem;
	mxs_changes_clear(&ch);
	free(ch.v);
	return st;
nomem:
	/* Partially built stores are leaked deliberately: start-up fails. */
	errno = ENOMEM;
	return NULL;
}

void mxs_store_free(struct mxs_store *st)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *hn;
	int i;

	if (!st)
		return;
	pthread_mutex_lock(&st->wlock);
	while (st->root->kids_head)
		if (live_remove(st, st->root->kids_head))
			break;
	pthread_mutex_unlock(&st->wlock);
	cds_lfht_for_each(st->index, &it, hn)
		cds_lfht_del(st->index, hn);
	/* Run every pending call_rcu free; a QSBR thread must be offline
	 * while it waits for grace periods. */
	mxs_rcu_offline();
	rcu_barrier();
	mxs_rcu_online();
	cds_lfht_destroy(st->index, NULL);
	free(st->root->val);
	free(st->root);
	for (i = 0; i < 2; i++)
		free(st->special[i]);
	pthread_mutex_destroy(&st->wlock);
	free(st);
}

int mxs_store_check(struct mxs_store *st, struct mxs_buf *report)
{
	struct nodevec stack = { 0 };
	uint64_t count = 0;
	struct mxs_node *n, *c;
	char line[256];
	int problems = 0, len;
	uint32_t *owned = calloc(MXS_DOMID_FIRST_RESERVED + 1, sizeof(*owned));
	size_t i;

	if (!owned)
		return -ENOMEM;
	pthread_mutex_lock(&st->wlock);
	if (nodevec_push(&stack, st->root))
		goto nomem;
	while (stack.n) {
		n = stack.v[--stack.n];
		count++;
		owned[owner_slot(n->val->nperms ? n->val->perms[0].domid : 0)]++;
		if (live_lookup(st, n->path, n->pathlen) != n) {
			len = snprintf(line, sizeof(line),
				       "node %.200s not in index\n", n->path);
			mxs_buf_add(report, line, (size_t)len);
			problems++;
		}
		for (c = n->kids_head; c; c = c->next_sib) {
			if (c->parent != n ||
			    mxs_path_parent_len(c->path, c->pathlen) !=
				    n->pathlen ||
			    memcmp(c->path, n->path, n->pathlen) != 0) {
				len = snprintf(line, sizeof(line),
					       "node %.200s misplaced\n",
					       c->path);
				mxs_buf_add(report, line, (size_t)len);
				problems++;
			}
			if (nodevec_push(&stack, c))
				goto nomem;
		}
	}
	if (count != st->nodes) {
		len = snprintf(line, sizeof(line),
			       "node count %" PRIu64 " != walked %" PRIu64 "\n",
			       st->nodes, count);
		mxs_buf_add(report, line, (size_t)len);
		problems++;
	}
	for (i = 0; i <= MXS_DOMID_FIRST_RESERVED; i++)
		if (owned[i] != st->owned[i]) {
			len = snprintf(line, sizeof(line),
				       "domain %zu owns %u nodes, counted %u\n",
				       i, owned[i], st->owned[i]);
			mxs_buf_add(report, line, (size_t)len);
			problems++;
		}
	pthread_mutex_unlock(&st->wlock);
	free(stack.v);
	free(owned);
	return problems ? -EIO : 0;
nomem:
	pthread_mutex_unlock(&st->wlock);
	free(stack.v);
	free(owned);
	return -ENOMEM;
}

int mxs_store_dump(struct mxs_store *st, struct mxs_buf *out)
{
	struct nodevec stack = { 0 };
	struct mxs_buf perms = { 0 };
	int rc = nodevec_push(&stack, st->root);

	while (!rc && stack.n) {
		struct mxs_node *n = stack.v[--stack.n], *c;
		const struct mxs_nodeval *v = mxs_rcu_deref(n->val);
		size_t i, mark = stack.n;

		mxs_buf_reset(&perms);
		rc = mxs_perms_format(&perms, v->perms, v->nperms);
		for (i = 0; !rc && i < perms.len; i++)
			if (!perms.p[i])
				perms.p[i] = i + 1 == perms.len ? '\0' : ',';
		if (rc)
			break;
		rc = mxs_buf_add(out, n->path, n->pathlen);
		rc = rc ?: mxs_buf_add(out, " = \"", 4);
		rc = rc ?: mxs_buf_add(out, v->value, v->vlen);
		rc = rc ?: mxs_buf_add(out, "\" (", 3);
		rc = rc ?: mxs_buf_add(out, perms.p, perms.len ? perms.len - 1
								  : 0);
		rc = rc ?: mxs_buf_add(out, ")\n", 2);
		/* Push children reversed so they pop in creation order. */
		for (c = mxs_rcu_deref(n->kids_head); c && !rc;
		     c = mxs_rcu_deref(c->next_sib))
			rc = nodevec_push(&stack, c);
		for (i = 0; !rc && i < (stack.n - mark) / 2; i++) {
			struct mxs_node *t = stack.v[mark + i];

			stack.v[mark + i] = stack.v[stack.n - 1 - i];
			stack.v[stack.n - 1 - i] = t;
		}
	}
	free(stack.v);
	mxs_buf_free(&perms);
	return rc;
}
