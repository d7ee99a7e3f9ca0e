/* SPDX-License-Identifier: MIT */
/*
 * Transactions: the per-transaction map of paths, the views a transaction
 * has of nodes, applying a transaction to the live tree and committing an
 * explicit one.
 *
 * Contract.  A transaction is used by one thread at a time.  Views and own
 * copies are built on the RCU read side (no lock): a transaction reads the
 * live tree at tx->snap through mxs_node_find and the acquire loads of node
 * versions and child lists (STORE_VAL_A1, STORE_KIDS_A1, partners in
 * node.c), so that one request's views are all of one commit.
 * mxs_txn_apply and the conflict check of mxs_txn_commit run under the
 * writer lock.  See store/txn.h for the model.
 */
#include "store/txn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "store/alloc.h"
#include "store/path.h"

/* ------------------------------------------------------------------ */
/* Transactions                                                         */

struct mxs_txe *mxs_txe_find(struct mxs_txn *tx, const char *p, size_t len)
{
	struct mxs_txe *e;

	for (e = tx->buckets[mxs_path_hash(p, len) & (tx->nbuckets - 1)]; e;
	     e = e->hnext)
		if (e->len == len && memcmp(e->path, p, len) == 0)
			return e;
	return NULL;
}

static int tx_grow(struct mxs_txn *tx)
{
	size_t nb = tx->nbuckets * 2, i;
	struct mxs_txe **b = mxs_calloc(nb, sizeof(*b)), *e, *nx;

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

static struct mxs_txe *txe_add(struct mxs_txn *tx, const char *p, size_t len,
			   uint64_t base_gen, uint64_t base_meta)
{
	struct mxs_txe *e;
	size_t h;

	if (tx->nentries >= tx->nbuckets && tx_grow(tx))
		return NULL;
	e = mxs_calloc(1, sizeof(*e) + len + 1); /* the path follows */
	if (!e)
		return NULL;
	e->path = (char *)(e + 1);
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

void mxs_txe_clear_kids(struct mxs_txe *e)
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
		char **k = mxs_realloc(*v, c * sizeof(*k));

		if (!k)
			return -ENOMEM;
		*v = k;
		*cap = c;
	}
	s = mxs_strndup(name, len);
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

int mxs_txe_add_kid(struct mxs_txe *e, const char *name, size_t len)
{
	return names_push(&e->kids, &e->nkids, &e->capkids, name, len);
}

int mxs_txe_del_kid(struct mxs_txe *e, const char *name)
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

void mxs_txn_init(struct mxs_txn *tx, struct mxs_store *st,
		    struct mxs_txe **buckets, size_t nbuckets)
{
	memset(tx, 0, sizeof(*tx));
	tx->st = st;
	tx->buckets = buckets;
	tx->nbuckets = nbuckets;
	tx->snap = MXS_SEQ_WRITER;
}

void mxs_txn_release(struct mxs_txn *tx)
{
	struct mxs_txe *e, *nx;

	for (e = tx->first; e; e = nx) {
		nx = e->next;
		mxs_txe_clear_kids(e);
		free(e->kids);
		free(e->gone);
		free(e->val);
		free(e);
	}
	tx->first = tx->last = NULL;
	tx->nentries = 0;
	free(tx->ready);
	tx->ready = NULL;
	free(tx->ch_path);
	tx->ch_path = NULL;
	mxs_changes_clear(&tx->changes);
	free(tx->changes.v);
	tx->changes.v = NULL;
}

/* ------------------------------------------------------------------ */
/* Views: what a path looks like to a transaction.                     */

#define SNAP_KIDS_MAX 256

/* Copies the live children if there are at most SNAP_KIDS_MAX, else
 * marks the copy as a delta over the live list.  Caller: RCU read side. */
static int snapshot_kids(struct mxs_txn *tx, struct mxs_txe *te,
			 struct mxs_node *live)
{
	struct mxs_node *c;
	size_t n = 0;

	for (c = mxs_node_kids(live); c && n <= SNAP_KIDS_MAX;
	     c = mxs_node_next(c))
		n += mxs_node_visible(c, tx->snap);
	if (n > SNAP_KIDS_MAX) {
		te->live_kids = true;
		return 0;
	}
	te->live_kids = false;
	for (c = mxs_node_kids(live); c; c = mxs_node_next(c)) {
		const char *name;
		size_t l;

		if (!mxs_node_visible(c, tx->snap))
			continue;
		name = mxs_node_name(c, &l);
		if (mxs_txe_add_kid(te, name, l))
			return -ENOMEM;
	}
	return 0;
}

/* Caller: RCU read side.  Records the first access in tx. */
void mxs_txn_view(struct mxs_txn *tx, const char *p, size_t len,
		     struct mxs_view *v)
{
	struct mxs_txe *te = mxs_txe_find(tx, p, len);
	struct mxs_node *live;
	const struct mxs_nodeval *val;

	if (te && te->own) {
		v->te = te;
		v->live = NULL;
		v->val = te->exists ? te->val : NULL;
		return;
	}
	live = mxs_node_find(tx->st, p, len, tx->snap);
	val = live ? mxs_node_val_at(live, tx->snap) : NULL;
	if (!te && !tx->norecord) {
		te = txe_add(tx, p, len, val ? val->seq : MXS_GEN_NONE,
			     val ? mxs_nodeval_meta_gen(val) : MXS_GEN_NONE);
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
			te->val = mxs_nodeval_dup(val, false);
			if (te->val && snapshot_kids(tx, te, live) == 0) {
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
struct mxs_txe *mxs_txn_own(struct mxs_txn *tx, const char *p, size_t len)
{
	struct mxs_txe *te = mxs_txe_find(tx, p, len);
	struct mxs_node *live;
	const struct mxs_nodeval *val;

	if (!te) {
		struct mxs_view v;

		mxs_txn_view(tx, p, len, &v);
		te = mxs_txe_find(tx, p, len);
		if (!te)
			return NULL;
	}
	if (te->own)
		return te;
	live = mxs_node_find(tx->st, p, len, tx->snap);
	val = live ? mxs_node_val_at(live, tx->snap) : NULL;
	te->exists = val != NULL;
	if (val) {
		te->val = mxs_nodeval_dup(val, false);
		if (!te->val)
			return NULL;
		te->live_kids = true;
	}
	te->own = true;
	return te;
}

struct mxs_txe *mxs_txn_replace(struct mxs_txn *tx, const char *p,
				size_t len, struct mxs_nodeval *nv)
{
	struct mxs_txe *te = mxs_txe_find(tx, p, len);

	if (!te || (te->own && !te->exists))
		return NULL; /* not looked at, or missing: a bug */
	if (!te->own) {
		te->own = true;
		te->exists = true;
		te->live_kids = true;
	}
	free(te->val);
	te->val = nv;
	te->modified = true;
	return te;
}

/*
 * Appends the names of parent's children visible at snap, except those
 * in gone[0..ngone).  The hot loop of DIRECTORY: the reply is built in
 * locals, so that the relaxed load of each child's death stamp does not
 * make the compiler store the buffer's length back every time.
 */
static int list_kids(struct mxs_node *parent, uint64_t snap, char **gone,
		     size_t ngone, struct mxs_buf *out)
{
	size_t len = out->len, cap = out->cap;
	char *p = out->p;
	struct mxs_node *c;
	int rc = 0;

	for (c = mxs_node_kids(parent); c; c = mxs_node_next(c)) {
		const char *name;
		size_t l;

		if (!mxs_node_visible(c, snap))
			continue;
		name = mxs_node_name(c, &l);
		if (ngone && names_find(gone, ngone, name, l) >= 0)
			continue;
		l++; /* and its NUL */
		if (len + l > cap) {
			out->len = len;
			rc = mxs_buf_reserve(out, l);
			if (rc)
				break;
			p = out->p;
			cap = out->cap;
		}
		memcpy(p + len, name, l);
		len += l;
	}
	out->len = len;
	return rc;
}

int mxs_view_children(struct mxs_txn *tx, const struct mxs_view *v,
		      struct mxs_buf *out)
{
	struct mxs_node *live;
	size_t i;
	int rc;

	if (v->te) {
		v->te->kids_read = true; /* see mxs_txn_commit */
		live = v->te->live_kids ? mxs_node_find(tx->st, v->te->path,
							v->te->len, tx->snap)
					: NULL;
		if (live && (rc = list_kids(live, tx->snap, v->te->gone,
					    v->te->ngone, out)))
			return rc;
		for (i = 0; i < v->te->nkids; i++)
			if ((rc = mxs_buf_add_str(out, v->te->kids[i])))
				return rc;
		return 0;
	}
	return v->live ? list_kids(v->live, tx->snap, NULL, 0, out) : 0;
}

int mxs_view_kidlist(struct mxs_txn *tx, const struct mxs_view *v,
		     const struct mxs_kidlist **out)
{
	/* The cache is the one field of a version readers write. */
	struct mxs_kidlist **slot, *k, *none = NULL;
	struct mxs_buf b = { 0 };
	int rc;

	*out = NULL;
	if (v->te || !v->live || !(slot = mxs_nodeval_kidslot(v->val)))
		return 0;
	/* STORE_KIDLIST_A1: pairs with STORE_KIDLIST_R1 below (another
	 * reader's): the list is built. */
	k = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (k) {
		*out = k;
		return 0;
	}
	rc = list_kids(v->live, tx->snap, NULL, 0, &b);
	k = rc ? NULL : mxs_malloc(sizeof(*k) + b.len);
	if (k) {
		k->len = b.len;
		if (b.len)
			memcpy(k->names, b.p, b.len);
		/* STORE_KIDLIST_R1: pairs with STORE_KIDLIST_A1 above.  A
		 * reader that loses the race uses the winner's list. */
		if (!__atomic_compare_exchange_n(slot, &none, k, false,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE)) {
			free(k);
			k = none;
		}
		*out = k;
	} else if (!rc) {
		rc = -ENOMEM;
	}
	mxs_buf_free(&b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Applying a transaction to the live tree (writer lock held).         */

/* One change of the live tree, with everything it needs allocated. */
struct apply_step {
	struct mxs_txe *e;
	struct mxs_nodeval *nv; /* the version to install (e->exists) */
	struct mxs_node *nn;    /* the node object to link (a creation) */
};

/* Parents before children, siblings in creation order. */
static int apply_cmp(const void *a, const void *b)
{
	const struct mxs_txe *x = ((const struct apply_step *)a)->e;
	const struct mxs_txe *y = ((const struct apply_step *)b)->e;
	size_t dx = mxs_path_depth(x->path), dy = mxs_path_depth(y->path);

	if (dx != dy)
		return dx < dy ? -1 : 1;
	if (x->create_seq != y->create_seq)
		return x->create_seq < y->create_seq ? -1 : 1;
	return 0;
}

struct apply_plan {
	struct apply_step *v;
	size_t n;
	struct mxs_touches touches; /* nodes whose children change */
};

static void plan_free(struct apply_plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->v[i].nv);
		free(p->v[i].nn);
	}
	free(p->v);
	mxs_touches_free(&p->touches);
}

/*
 * Allocates everything applying tx needs: versions, node objects and a
 * touch version for every live node whose child list will change.
 * Parents before children, siblings in creation order.  Caller: writer
 * lock.  Nothing is changed; on failure nothing is left allocated.
 */
static int plan_prepare(struct mxs_txn *tx, struct apply_plan *p)
{
	struct mxs_store *st = tx->st;
	struct mxs_txe *e;
	size_t n = 0, i;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	for (e = tx->first; e; e = e->next)
		n += e->own && (e->modified || e->create_seq);
	p->v = mxs_calloc(n + 1, sizeof(*p->v));
	if (!p->v)
		return -ENOMEM;
	for (e = tx->first; e; e = e->next)
		if (e->own && (e->modified || e->create_seq))
			p->v[p->n++].e = e;
	qsort(p->v, p->n, sizeof(*p->v), apply_cmp);
	for (i = 0; i < p->n && !rc; i++) {
		struct apply_step *sp = &p->v[i];
		struct mxs_node *live, *parent;
		size_t plen;

		e = sp->e;
		live = mxs_node_lookup(st, e->path, e->len);
		/* A removal changes the parent's children. */
		if (live && (!e->exists || e->create_seq))
			rc = mxs_touches_add(&p->touches,
					     mxs_node_parent(st, live));
		if (rc || !e->exists)
			continue;
		/* The transaction's own copy becomes the version: moved,
		 * not copied (the transaction ends with this commit). */
		sp->nv = e->val;
		e->val = NULL;
		if (live && !e->create_seq) {
			p->touches.updates++;
			continue;
		}
		/* A creation: its node, and its parent's touch (a parent
		 * created by this plan is touched in place). */
		sp->nn = mxs_node_alloc(e->path, e->len);
		if (!sp->nn) {
			rc = -ENOMEM;
			break;
		}
		plen = mxs_path_parent_len(e->path, e->len);
		parent = mxs_node_lookup(st, e->path, plen);
		if (parent) {
			rc = mxs_touches_add(&p->touches, parent);
		} else {
			struct mxs_txe *pe = mxs_txe_find(tx, e->path, plen);

			if (!pe || !pe->own || !pe->exists)
				rc = -EIO; /* an orphan: cannot happen */
		}
	}
	if (!rc)
		rc = mxs_touches_seal(&p->touches);
	if (rc)
		plan_free(p);
	return rc;
}

/* Applies a prepared plan.  Caller: writer lock, inside a commit.
 * Cannot fail. */
static void plan_apply(struct mxs_store *st, struct apply_plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		struct apply_step *sp = &p->v[i];
		struct mxs_txe *e = sp->e;
		struct mxs_node *live = mxs_node_lookup(st, e->path, e->len);
		struct mxs_node *parent;

		if (!e->exists) {
			if (live)
				mxs_node_remove(st, live);
			continue;
		}
		if (live && e->create_seq) {
			mxs_node_remove(st, live);
			live = NULL;
		}
		if (live) {
			mxs_node_update(st, live, sp->nv);
			sp->nv = NULL;
			continue;
		}
		parent = mxs_node_lookup(st, e->path,
					 mxs_path_parent_len(e->path, e->len));
		if (!parent || !sp->nn)
			MXS_STORE_BUG("plan_prepare saw another tree");
		mxs_node_create(st, parent, sp->nn, sp->nv);
		sp->nn = NULL;
		sp->nv = NULL;
	}
}

int mxs_txn_apply(struct mxs_txn *tx)
{
	struct mxs_account_plan acct;
	struct apply_plan plan;
	int rc = mxs_account_check(tx, &acct);

	if (rc)
		return rc;
	rc = plan_prepare(tx, &plan);
	if (rc) {
		mxs_account_plan_free(&acct);
		return rc;
	}
	mxs_store_commit_begin(tx->st, &plan.touches);
	plan_apply(tx->st, &plan);
	mxs_account_apply(tx->st, &acct);
	mxs_store_commit_end(tx->st);
	plan_free(&plan);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Explicit transactions                                                */

struct mxs_txn *mxs_txn_new(struct mxs_store *st)
{
	struct mxs_txn *tx = mxs_malloc(sizeof(*tx));
	struct mxs_txe **b = mxs_calloc(16, sizeof(*b));

	if (!tx || !b) {
		free(tx);
		free(b);
		errno = ENOMEM;
		return NULL;
	}
	mxs_txn_init(tx, st, b, 16);
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
 * writer lock, after mxs_txn_apply.
 */
static void drop_transient_changes(struct mxs_txn *tx)
{
	struct mxs_changes *c = &tx->changes;
	size_t i, n = 0;

	for (i = 0; i < c->n; i++) {
		struct mxs_change *x = &c->v[i];
		size_t len = strlen(x->path);
		struct mxs_txe *e = mxs_txe_find(tx, x->path, len);

		if (e && e->base_gen == MXS_GEN_NONE &&
		    !mxs_node_lookup(tx->st, x->path, len)) {
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
 * hear of it) with the permissions it had before.  k: room for one key
 * per change.  Caller: writer lock.
 */
static void collapse_changes(struct mxs_txn *tx, struct change_key *k)
{
	struct mxs_changes *c = &tx->changes;
	size_t i, n = 0;

	if (c->n < 2)
		return;
	for (i = 0; i < c->n; i++) {
		struct mxs_txe *e = mxs_txe_find(tx, c->v[i].path,
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
}

/* Room for n more changes in ch; 0 or -ENOMEM. */
static int changes_reserve(struct mxs_changes *ch, size_t n)
{
	size_t cap = ch->cap ? ch->cap : 8;
	struct mxs_change *v;

	if (ch->n + n <= ch->cap)
		return 0;
	while (cap < ch->n + n)
		cap *= 2;
	v = mxs_realloc(ch->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	ch->v = v;
	ch->cap = cap;
	return 0;
}

/*
 * Everything that can fail is done before the tree changes: the conflict
 * check, the room for the changes in ch and for collapsing them, and the
 * plan of mxs_txn_apply.  After that the commit cannot fail.
 */
int mxs_txn_commit(struct mxs_txn *tx, struct mxs_changes *ch)
{
	struct mxs_store *st = tx->st;
	struct change_key *k = NULL;
	struct mxs_txe *e;
	size_t i;
	int rc = 0;

	if (tx->failed)
		return -EAGAIN;
	pthread_mutex_lock(&st->wlock);
	for (e = tx->first; e; e = e->next) {
		struct mxs_node *live = mxs_node_lookup(st, e->path, e->len);
		uint64_t gen = live ? live->val->seq : MXS_GEN_NONE;

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
		    e->base_gen == MXS_GEN_NONE ||
		    mxs_nodeval_meta_gen(live->val) != e->base_meta) {
			rc = -EAGAIN;
			break;
		}
	}
	if (!rc)
		rc = changes_reserve(ch, tx->changes.n);
	if (!rc && tx->changes.n > 1) {
		k = mxs_malloc(tx->changes.n * sizeof(*k));
		rc = k ? 0 : -ENOMEM;
	}
	if (!rc)
		rc = mxs_txn_apply(tx);
	if (!rc) {
		drop_transient_changes(tx);
		collapse_changes(tx, k);
	}
	if (rc == -EAGAIN)
		mxs_count_add(&st->conflicts, 1);
	else if (!rc)
		mxs_count_add(&st->commits, 1);
	pthread_mutex_unlock(&st->wlock);
	free(k);
	if (rc)
		return rc;
	mxs_index_grow(st);
	/* Hand the recorded changes over (fired by the caller). */
	for (i = 0; i < tx->changes.n; i++) {
		ch->v[ch->n++] = tx->changes.v[i];
		tx->changes.v[i].path = NULL;
		tx->changes.v[i].perms = NULL;
	}
	return 0;
}

void mxs_txn_free(struct mxs_txn *tx)
{
	if (!tx)
		return;
	mxs_txn_release(tx);
	free(tx->buckets);
	free(tx);
}

