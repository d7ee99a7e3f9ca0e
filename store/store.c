/* SPDX-License-Identifier: MIT */
/*
 * The store's operations: the public API of store/store.h.
 *
 * Contract.  Each operation is written once, on a transaction (store/txn.h):
 * the C daemon's permission checks (get_node), parent creation and
 * permission inheritance, subtree removal and the watch changes they
 * produce.  Outside a transaction, a mutation runs on an implicit
 * transaction under the writer lock and is one commit; a read runs on a
 * throw-away one with no lock.  Every call that reads is one request: it
 * samples one snapshot (mxs_store_snap, STORE_SEQ_A1) and reads all of it
 * at that commit.  Readers load node versions with STORE_VAL_A1 and the
 * special nodes' permissions with STORE_SPECIAL_A1; set_special_perms
 * publishes them with STORE_SPECIAL_R1.
 */
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxs/protocol.h"
#include "store/alloc.h"
#include "store/node.h"
#include "store/path.h"
#include "store/txn.h"

static const char *const special_names[2] = { "@introduceDomain",
					      "@releaseDomain" };

/* ------------------------------------------------------------------ */
/* Stale permission entries (the domain oracle, store.h)                */

struct stale_arg {
	struct mxs_store *st;
	uint64_t perms_gen; /* MXS_GEN_NONE: the list is being set now */
};

/* Caller: any thread, no lock (the oracle is set before sharing). */
static bool entry_stale(const void *arg, uint32_t domid)
{
	const struct stale_arg *a = arg;
	uint64_t introduced;

	if (domid == 0)
		return false;
	if (!a->st->oracle(a->st->oracle_arg, domid, &introduced))
		return true;
	return a->perms_gen != MXS_GEN_NONE && introduced >= a->perms_gen;
}

/* Rights of c over version v, stale entries left out. */
static uint32_t perm_current(struct mxs_store *st, const struct mxs_caller *c,
			     const struct mxs_nodeval *v)
{
	struct stale_arg a = { st, mxs_nodeval_perms_gen(v) };

	if (!st->oracle)
		return mxs_perm_for(c, mxs_nodeval_perms(v), v->nperms);
	return mxs_perm_for_current(c, mxs_nodeval_perms(v), v->nperms,
				    entry_stale, &a);
}

/*
 * Rewrites p[0..n), a copy of a list set at perms_gen, to its current
 * form: stale owner -> dom0, other stale entries marked ignored.
 */
static void perms_make_current(struct mxs_store *st, uint64_t perms_gen,
			       struct mxs_perm *p, unsigned int n)
{
	struct stale_arg a = { st, perms_gen };
	unsigned int i;

	if (!st->oracle || !n)
		return;
	if (entry_stale(&a, p[0].domid))
		p[0].domid = 0;
	for (i = 1; i < n; i++)
		if (entry_stale(&a, p[i].domid))
			p[i].mode |= MXS_PERM_IGNORE;
}

/* Current owner of version v. */
static uint32_t owner_current(struct mxs_store *st,
			      const struct mxs_nodeval *v)
{
	struct stale_arg a = { st, mxs_nodeval_perms_gen(v) };
	uint32_t owner = mxs_nodeval_owner(v);

	return st->oracle && entry_stale(&a, owner) ? 0 : owner;
}

static uint32_t view_perm(struct mxs_txn *tx, const struct mxs_caller *c,
			  const struct mxs_view *v)
{
	return perm_current(tx->st, c, v->val);
}

/*
 * The C daemon's get_node(): the node if the caller has all of `need` on
 * it; else -EACCES; a missing node is -ENOENT if the nearest existing
 * ancestor grants any of `need`, else -EACCES (so nothing leaks about
 * names one may not see).  A refused access looks at that ancestor too,
 * as the C daemon's does: in a transaction the ancestor joins the read
 * set, so its change before the commit is a conflict (EAGAIN) there as
 * in the C daemon.
 */
static int get_node(struct mxs_txn *tx, const struct mxs_caller *c,
		    const char *path, uint32_t need, struct mxs_view *v)
{
	size_t len = strlen(path);
	struct mxs_view a;

	mxs_txn_view(tx, path, len, v);
	if (v->val && (view_perm(tx, c, v) & need) == need)
		return 0;
	do {
		len = mxs_path_parent_len(path, len);
		mxs_txn_view(tx, path, len, &a);
	} while (!a.val && len > 1);
	if (v->val)
		return -EACCES;
	if (!a.val)
		return -EIO; /* no root: cannot happen */
	return (view_perm(tx, c, &a) & need) ? -ENOENT : -EACCES;
}

/*
 * Appends a change.  tx may be NULL (a removal outside transactions);
 * its prepared path copy (tx->ch_path) is taken when it names path.
 */
static int change_add(struct mxs_store *st, struct mxs_txn *tx,
		      struct mxs_changes *ch,
		      const char *path, size_t len, bool exact,
		      const struct mxs_nodeval *oldv)
{
	struct mxs_change *x;

	if (ch->n == ch->cap) {
		size_t cap = ch->cap ? ch->cap * 2 : 8;
		struct mxs_change *v = mxs_realloc(ch->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ch->v = v;
		ch->cap = cap;
	}
	x = &ch->v[ch->n];
	memset(x, 0, sizeof(*x));
	if (tx && tx->ch_path && strlen(tx->ch_path) == len &&
	    memcmp(tx->ch_path, path, len) == 0) {
		x->path = tx->ch_path;
		tx->ch_path = NULL;
	} else {
		x->path = mxs_strndup(path, len);
	}
	if (!x->path)
		return -ENOMEM;
	x->exact = exact;
	if (oldv && oldv->nperms) {
		x->perms = mxs_malloc(oldv->nperms * sizeof(*x->perms));
		if (!x->perms) {
			free(x->path);
			return -ENOMEM;
		}
		memcpy(x->perms, mxs_nodeval_perms(oldv),
		       oldv->nperms * sizeof(*x->perms));
		x->nperms = oldv->nperms;
		perms_make_current(st, mxs_nodeval_perms_gen(oldv), x->perms,
				   x->nperms);
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
	struct mxs_view a;
	int rc;

	/* Find the nearest existing ancestor. */
	do {
		top = mxs_path_parent_len(path, top);
		mxs_txn_view(tx, path, top, &a);
	} while (!a.val && top > 1);
	/* Create every level below it, outermost first. */
	plen = top;
	while (plen < len) {
		size_t clen = plen == 1 ? 1 : plen + 1;
		struct mxs_txe *pe, *ce;
		const struct mxs_nodeval *pv;
		struct mxs_nodeval *nv;
		struct mxs_perm *perms;

		while (clen < len && path[clen] != '/')
			clen++;
		pe = mxs_txn_own(tx, path, plen);
		if (!pe || !pe->exists)
			return -ENOMEM;
		pv = pe->val;
		ce = mxs_txn_own(tx, path, clen);
		if (!ce)
			return -ENOMEM;
		/* An ancestor created here has a child from the start: it
		 * gets the child-list slot a touch would have given it. */
		nv = mxs_nodeval_new(0, MXS_GEN_NONE, mxs_nodeval_perms(pv),
				     pv->nperms, clen == len ? val : NULL,
				     clen == len ? vlen : 0, clen < len);
		if (!nv)
			return -ENOMEM;
		/* The child inherits the parent's current list, and
		 * unprivileged domains own what they create. */
		perms = mxs_nodeval_perms(nv);
		perms_make_current(tx->st, mxs_nodeval_perms_gen(pv), perms,
				   nv->nperms);
		if (!c->privileged && nv->nperms)
			perms[0].domid = c->domid;
		free(ce->val);
		mxs_txe_clear_kids(ce);
		ce->val = nv;
		ce->exists = true;
		ce->modified = true;
		ce->create_seq = ++tx->seq;
		rc = mxs_txe_add_kid(pe, path + (plen == 1 ? 1 : plen + 1),
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
	struct mxs_view v;
	int rc = get_node(tx, c, path, MXS_PERM_WRITE, &v);

	if (rc == 0) {
		struct mxs_nodeval *nv = tx->ready;

		/* The version prepared before the lock, if the node is as
		 * it was then (the thread stayed online: no reuse). */
		if (nv && v.val == tx->ready_base) {
			tx->ready = NULL;
		} else {
			/* The list is kept, with its generation. */
			nv = mxs_nodeval_new(v.val->seq,
					     mxs_nodeval_perms_gen(v.val),
					     mxs_nodeval_perms(v.val),
					     v.val->nperms, val, vlen,
					     v.val->kidslot);
			if (!nv)
				return -ENOMEM;
		}
		if (!mxs_txn_replace(tx, path, strlen(path), nv)) {
			free(nv); /* its view was not recorded: ENOMEM */
			return -ENOMEM;
		}
	} else if (rc == -ENOENT) {
		rc = tx_create(tx, c, path, val, vlen);
		if (rc)
			return rc;
	} else {
		return rc;
	}
	return change_add(tx->st, tx, ch, path, strlen(path), false, NULL);
}

static int tx_mkdir(struct mxs_txn *tx, const struct mxs_caller *c,
		    const char *path, struct mxs_changes *ch)
{
	struct mxs_view v;
	int rc = get_node(tx, c, path, MXS_PERM_WRITE, &v);

	if (rc != -ENOENT)
		return rc; /* exists (fine) or no access */
	rc = tx_create(tx, c, path, NULL, 0);
	if (rc)
		return rc;
	return change_add(tx->st, tx, ch, path, strlen(path), false,
			  NULL);
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
		char **p = mxs_realloc(pv->v, cap * sizeof(*p));

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
	int rc = pathvec_push(&stack, mxs_strndup(path, strlen(path)));

	while (!rc && stack.n) {
		char *p = stack.v[--stack.n];
		struct mxs_view w;
		size_t off;

		rc = pathvec_push(out, p);
		if (rc)
			break;
		mxs_txn_view(tx, p, strlen(p), &w);
		mxs_buf_reset(&kids);
		if (w.val && (rc = mxs_view_children(tx, &w, &kids)))
			break;
		for (noffs = 0, off = 0; off < kids.len;
		     off += strlen(kids.p + off) + 1) {
			if (noffs == cap) {
				size_t nc = cap ? cap * 2 : 16;
				size_t *no = mxs_realloc(offs, nc * sizeof(*no));

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
			size_t pl = strlen(p), kl = strlen(kids.p + offs[i]);
			char *cp = mxs_malloc(pl + kl + 2);

			if (cp) {
				memcpy(cp, p, pl);
				cp[pl] = '/';
				memcpy(cp + pl + 1, kids.p + offs[i], kl + 1);
			}
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
	size_t *stack = mxs_malloc(pre->n * sizeof(*stack));
	size_t top = 0, n = 0, i;

	if (!stack)
		return -ENOMEM;
	for (i = 0; i < pre->n; i++) {
		size_t d = mxs_path_depth(pre->v[i]);

		while (top && mxs_path_depth(pre->v[stack[top - 1]]) >= d)
			post[n++] = stack[--top];
		stack[top++] = i;
	}
	while (top)
		post[n++] = stack[--top];
	free(stack);
	return 0;
}

/*
 * An explicit transaction's own copies below a removed path that its walk
 * did not reach: the transaction wrote them, then the tree changed under
 * it (their parent lost them outside), so its child lists no longer lead
 * there.  They go with the subtree, so that nothing below a removed node
 * stays readable in the transaction (found by fuzz_txn).  The commit
 * conflicts anyway; O(entries of the transaction).
 */
static int tx_rm_stray_own(struct mxs_txn *tx, const char *path, size_t len,
			   struct mxs_changes *ch)
{
	struct mxs_txe *e;
	int rc;

	for (e = tx->first; e; e = e->next) {
		if (!e->own || !e->exists || e->len <= len ||
		    e->path[len] != '/' || memcmp(e->path, path, len))
			continue;
		rc = change_add(tx->st, NULL, ch, e->path, e->len, true,
				e->val);
		if (rc)
			return rc;
		free(e->val);
		e->val = NULL;
		mxs_txe_clear_kids(e);
		e->exists = false;
		e->modified = true;
		e->create_seq = 0;
	}
	return 0;
}

static int tx_rm(struct mxs_txn *tx, const struct mxs_caller *c,
		 const char *path, struct mxs_changes *ch)
{
	struct pathvec order = { 0 };
	size_t len = strlen(path), plen, i, *post = NULL;
	struct mxs_view v;
	struct mxs_txe *pe;
	int rc = get_node(tx, c, path, MXS_PERM_WRITE, &v);

	if (rc == -ENOENT) {
		/* Removing a missing node is fine if its parent exists. */
		struct mxs_view p;

		mxs_txn_view(tx, path, mxs_path_parent_len(path, len), &p);
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
		post = mxs_malloc(order.n * sizeof(*post));
		rc = post ? postorder(&order, post) : -ENOMEM;
	}
	for (i = 0; !rc && i < order.n; i++) {
		const char *p = order.v[post[i]];
		struct mxs_txe *te = mxs_txn_own(tx, p, strlen(p));

		if (!te) {
			rc = -ENOMEM;
			break;
		}
		rc = change_add(tx->st, NULL, ch, p, strlen(p), post[i] != 0,
				te->val);
		if (rc)
			break;
		free(te->val);
		te->val = NULL;
		mxs_txe_clear_kids(te);
		te->exists = false;
		te->modified = true;
		te->create_seq = 0;
	}
	if (!rc && !tx->implicit)
		rc = tx_rm_stray_own(tx, path, len, ch);
	if (!rc) {
		plen = mxs_path_parent_len(path, len);
		pe = mxs_txn_own(tx, path, plen);
		if (!pe)
			rc = -ENOMEM;
		else
			rc = mxs_txe_del_kid(pe, path + (plen == 1 ? 1 : plen + 1));
	}
	free(post);
	pathvec_free(&order);
	return rc;
}

static int tx_set_perms(struct mxs_txn *tx, const struct mxs_caller *c,
			const char *path, const struct mxs_perm *perms,
			unsigned int n, struct mxs_changes *ch)
{
	struct mxs_view v;
	struct mxs_nodeval *nv;
	int rc = get_node(tx, c, path, MXS_PERM_WRITE | MXS_PERM_OWNER, &v);

	if (rc)
		return rc;
	/* Only privileged domains may change the owner (XSA-352). */
	if (!c->privileged && v.val->nperms &&
	    perms[0].domid != owner_current(tx->st, v.val))
		return -EPERM;
	rc = change_add(tx->st, tx, ch, path, strlen(path), false, v.val);
	if (rc)
		return rc;
	nv = mxs_nodeval_new(v.val->seq, MXS_GEN_NONE, perms, n,
			     mxs_nodeval_value(v.val), v.val->vlen,
			     v.val->kidslot);
	if (!nv)
		return -ENOMEM;
	if (!mxs_txn_replace(tx, path, strlen(path), nv)) {
		free(nv); /* its view was not recorded: ENOMEM */
		return -ENOMEM;
	}
	return 0;
}

/*
 * An operation outside a transaction runs on an implicit one: begin takes
 * the writer lock, so the permission checks and the change are one atomic
 * step; end applies it (or, on error, drops the changes it recorded),
 * releases the lock and frees the transaction.
 */
#define IMPLICIT_BUCKETS 16

struct implicit_tx {
	struct mxs_txe *buckets[IMPLICIT_BUCKETS];
	struct mxs_txn tx;
	struct mxs_changes *ch;
	size_t mark; /* changes recorded before this operation */
};

/*
 * A WRITE prepares outside the lock what does not depend on it: the room
 * for its change and a copy of the path for it, and, if the node exists
 * now, its new version with the value copied in (used if the node is
 * unchanged once the lock is held).  Failures here only mean the work is
 * done under the lock instead.  Caller: RCU read side.
 */
static void implicit_prepare_write(struct mxs_txn *tx, struct mxs_store *st,
				   const char *path, const void *val,
				   size_t vlen, struct mxs_changes *ch)
{
	uint64_t snap = mxs_store_snap(st);
	size_t len = strlen(path);
	struct mxs_node *n = mxs_node_find(st, path, len, snap);
	const struct mxs_nodeval *base = n ? mxs_node_val_at(n, snap) : NULL;

	if (ch->n == ch->cap) {
		size_t cap = ch->cap ? ch->cap * 2 : 8;
		struct mxs_change *v = mxs_realloc(ch->v, cap * sizeof(*v));

		if (v) {
			ch->v = v;
			ch->cap = cap;
		}
	}
	tx->ch_path = mxs_strndup(path, len);
	if (!base)
		return;
	tx->ready = mxs_nodeval_new(base->seq, mxs_nodeval_perms_gen(base),
				    mxs_nodeval_perms(base), base->nperms, val,
				    vlen, base->kidslot);
	if (tx->ready)
		tx->ready_base = base;
}

/* wpath: a WRITE of wval[0..wlen) to wpath (prepared before the lock),
 * or NULL. */
static struct mxs_txn *implicit_begin(struct implicit_tx *im,
				      struct mxs_store *st,
				      struct mxs_changes *ch,
				      const char *wpath, const void *wval,
				      size_t wlen)
{
	memset(im->buckets, 0, sizeof(im->buckets));
	mxs_txn_init(&im->tx, st, im->buckets, IMPLICIT_BUCKETS);
	im->tx.implicit = true;
	im->ch = ch;
	if (wpath)
		implicit_prepare_write(&im->tx, st, wpath, wval, wlen, ch);
	pthread_mutex_lock(&st->wlock);
	im->mark = ch->n;
	return &im->tx;
}

/* rc: the operation's result.  Returns the result of the whole step. */
static int implicit_end(struct implicit_tx *im, int rc)
{
	if (!rc && im->tx.failed)
		rc = -ENOMEM;
	if (!rc)
		rc = mxs_txn_apply(&im->tx);
	pthread_mutex_unlock(&im->tx.st->wlock);
	if (!rc)
		mxs_index_grow(im->tx.st);
	if (rc)
		changes_truncate(im->ch, im->mark);
	if (im->tx.own_buckets)
		free(im->tx.buckets);
	mxs_txn_release(&im->tx);
	return rc;
}

/* A read outside a transaction: a throw-away view recorder, no lock. */
struct read_tx {
	struct mxs_txe *buckets[IMPLICIT_BUCKETS];
	struct mxs_txn tx;
};

static struct mxs_txn *read_begin(struct read_tx *r, struct mxs_store *st)
{
	memset(r->buckets, 0, sizeof(r->buckets));
	mxs_txn_init(&r->tx, st, r->buckets, IMPLICIT_BUCKETS);
	r->tx.norecord = true;
	r->tx.snap = mxs_store_snap(st); /* the request's one point */
	return &r->tx;
}

static int read_end(struct read_tx *r, int rc)
{
	mxs_txn_release(&r->tx);
	return rc;
}

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
	struct mxs_view v;
	int rc = get_node(tx, c, path, MXS_PERM_READ, &v);

	return rc ? rc
		  : mxs_buf_add(out, mxs_nodeval_value(v.val), v.val->vlen);
}

static int do_get_perms(struct mxs_txn *tx, const struct mxs_caller *c,
			const char *path, struct mxs_buf *out)
{
	struct mxs_view v;
	struct mxs_perm *cur;
	int rc = get_node(tx, c, path, MXS_PERM_READ, &v);

	if (rc)
		return rc;
	if (!tx->st->oracle)
		return mxs_perms_format(out, mxs_nodeval_perms(v.val), v.val->nperms);
	cur = mxs_malloc(v.val->nperms * sizeof(*cur) + 1);
	if (!cur)
		return -ENOMEM;
	memcpy(cur, mxs_nodeval_perms(v.val), v.val->nperms * sizeof(*cur));
	perms_make_current(tx->st, mxs_nodeval_perms_gen(v.val), cur,
			   v.val->nperms);
	rc = mxs_perms_format(out, cur, v.val->nperms);
	free(cur);
	return rc;
}

static int do_directory(struct mxs_txn *tx, const struct mxs_caller *c,
			const char *path, struct mxs_buf *out)
{
	struct mxs_view v;
	int rc = get_node(tx, c, path, MXS_PERM_READ, &v);

	return rc ? rc : mxs_view_children(tx, &v, out);
}

/*
 * Paging through a big directory costs the reply, not the list: a live
 * node's list at the version read is cached in that version
 * (mxs_view_kidlist); a transaction's own copy builds it per call.
 */
static int do_directory_part(struct mxs_txn *tx, const struct mxs_caller *c,
			     const char *path, size_t off, size_t max,
			     struct mxs_buf *out)
{
	const struct mxs_kidlist *cached = NULL;
	struct mxs_buf kids = { 0 };
	const char *list;
	char gen[32];
	size_t genlen, len = 0, maxlen, total;
	struct mxs_view v;
	int rc = get_node(tx, c, path, MXS_PERM_READ, &v);

	if (rc)
		return rc;
	genlen = (size_t)snprintf(gen, sizeof(gen), "%" PRIu64,
				  v.val->seq) + 1;
	rc = mxs_buf_add(out, gen, genlen);
	if (!rc)
		rc = mxs_view_kidlist(tx, &v, &cached);
	if (!rc && !cached)
		rc = mxs_view_children(tx, &v, &kids);
	if (rc)
		goto out;
	list = cached ? cached->names : kids.p;
	total = cached ? cached->len : kids.len;
	if (off >= total) {
		rc = mxs_buf_add(out, "", 1);
		goto out;
	}
	maxlen = max > genlen + 1 ? max - genlen - 1 : 0;
	while (off + len < total) {
		size_t l = strlen(list + off + len) + 1;

		if (len + l > maxlen)
			break;
		len += l;
	}
	rc = mxs_buf_add(out, list + off, len);
	if (!rc && off + len == total)
		rc = mxs_buf_add(out, "", 1);
out:
	mxs_buf_free(&kids);
	return rc;
}

typedef int (*query_fn)(struct mxs_txn *, const struct mxs_caller *,
			const char *, struct mxs_buf *);

/* A read request: in tx, or on a throw-away read transaction; either way
 * one snapshot of the live tree for the whole request. */
static int query(struct mxs_store *st, struct mxs_txn *tx,
		 const struct mxs_caller *c, const char *path,
		 struct mxs_buf *out, query_fn fn)
{
	struct read_tx r;
	struct mxs_txn *t;

	if (tx) {
		tx->snap = mxs_store_snap(st);
		return fn(tx, c, path, out);
	}
	t = read_begin(&r, st);
	return read_end(&r, fn(t, c, path, out));
}

int mxs_store_read(struct mxs_store *st, struct mxs_txn *tx,
		   const struct mxs_caller *c, const char *path,
		   struct mxs_buf *out)
{
	return query(st, tx, c, path, out, do_read);
}

int mxs_store_get_perms(struct mxs_store *st, struct mxs_txn *tx,
			const struct mxs_caller *c, const char *path,
			struct mxs_buf *out)
{
	return query(st, tx, c, path, out, do_get_perms);
}

int mxs_store_directory(struct mxs_store *st, struct mxs_txn *tx,
			const struct mxs_caller *c, const char *path,
			struct mxs_buf *out)
{
	return query(st, tx, c, path, out, do_directory);
}

int mxs_store_directory_part(struct mxs_store *st, struct mxs_txn *tx,
			     const struct mxs_caller *c, const char *path,
			     size_t off, size_t max, struct mxs_buf *out)
{
	struct read_tx r;
	struct mxs_txn *t;

	if (tx) {
		/* One request, one snapshot of the live tree. */
		tx->snap = mxs_store_snap(st);
		return do_directory_part(tx, c, path, off, max, out);
	}
	t = read_begin(&r, st);
	return read_end(&r, do_directory_part(t, c, path, off, max, out));
}

/* A request in an explicit transaction: its caller noted for the quotas,
 * one snapshot of the live tree for the whole request. */
static void explicit_request(struct mxs_store *st, struct mxs_txn *tx,
			     const struct mxs_caller *c)
{
	mxs_account_note(tx, c);
	tx->snap = mxs_store_snap(st);
}

int mxs_store_write(struct mxs_store *st, struct mxs_txn *tx,
		    const struct mxs_caller *c, const char *path,
		    const void *val, size_t len, struct mxs_changes *ch)
{
	struct implicit_tx im;
	struct mxs_txn *t;

	if (tx) {
		explicit_request(st, tx, c);
		return tx_mutation_rc(tx, tx_write(tx, c, path, val, len,
							   &tx->changes));
	}
	t = implicit_begin(&im, st, ch, path, val, len);
	mxs_account_note(t, c);
	return implicit_end(&im, tx_write(t, c, path, val, len, ch));
}

typedef int (*path_mutation_fn)(struct mxs_txn *, const struct mxs_caller *,
				const char *, struct mxs_changes *);

/* MKDIR, RM: a path and nothing else, in tx or on an implicit one. */
static int path_mutation(struct mxs_store *st, struct mxs_txn *tx,
			 const struct mxs_caller *c, const char *path,
			 struct mxs_changes *ch, path_mutation_fn fn)
{
	struct implicit_tx im;
	struct mxs_txn *t;

	if (tx) {
		explicit_request(st, tx, c);
		return tx_mutation_rc(tx, fn(tx, c, path, &tx->changes));
	}
	t = implicit_begin(&im, st, ch, NULL, NULL, 0);
	mxs_account_note(t, c);
	return implicit_end(&im, fn(t, c, path, ch));
}

int mxs_store_mkdir(struct mxs_store *st, struct mxs_txn *tx,
		    const struct mxs_caller *c, const char *path,
		    struct mxs_changes *ch)
{
	return path_mutation(st, tx, c, path, ch, tx_mkdir);
}

int mxs_store_rm(struct mxs_store *st, struct mxs_txn *tx,
		 const struct mxs_caller *c, const char *path,
		 struct mxs_changes *ch)
{
	return path_mutation(st, tx, c, path, ch, tx_rm);
}

int mxs_store_set_perms(struct mxs_store *st, struct mxs_txn *tx,
			const struct mxs_caller *c, const char *path,
			const struct mxs_perm *perms, unsigned int n,
			struct mxs_changes *ch)
{
	struct implicit_tx im;
	struct mxs_txn *t;

	if (tx) {
		explicit_request(st, tx, c);
		return tx_mutation_rc(tx, tx_set_perms(tx, c, path, perms, n,
							       &tx->changes));
	}
	t = implicit_begin(&im, st, ch, NULL, NULL, 0);
	mxs_account_note(t, c);
	return implicit_end(&im, tx_set_perms(t, c, path, perms, n, ch));
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
	uint64_t snap;
	size_t len;
	int si;

	/* Privileged callers read everything: no lookup per event. */
	if (c->privileged)
		return true;
	if (path[0] == '@') {
		si = special_index(path);
		if (si < 0)
			return true;
		/* STORE_SPECIAL_A1: pairs with STORE_SPECIAL_R1 in
		 * mxs_store_set_special_perms(): the version is built. */
		v = mxs_rcu_deref(st->special[si]);
		return mxs_perm_for(c, mxs_nodeval_perms(v), v->nperms) &
		       MXS_PERM_READ;
	}
	if (old && (mxs_perm_for(c, old, nold) & MXS_PERM_READ))
		return true;
	len = strlen(path);
	snap = mxs_store_snap(st);
	n = mxs_node_find(st, path, len, snap);
	if (n) {
		v = mxs_node_val_at(n, snap);
		if (perm_current(st, c, v) & MXS_PERM_READ)
			return true;
	} else if (!old) {
		return false;
	}
	n = mxs_node_find(st, path, mxs_path_parent_len(path, len), snap);
	if (!n)
		return false;
	v = mxs_node_val_at(n, snap);
	return perm_current(st, c, v) & MXS_PERM_READ;
}

/* A replaced special version, freed after a grace period (versions
 * carry no rcu_head: struct mxs_nodeval). */
struct special_gone {
	struct rcu_head rcu;
	struct mxs_nodeval *v;
};

static void special_free_rcu(struct rcu_head *h)
{
	struct special_gone *g = caa_container_of(h, struct special_gone, rcu);

	mxs_rcu_reclaim_begin();
	mxs_nodeval_free(g->v);
	free(g);
}

int mxs_store_set_special_perms(struct mxs_store *st,
				const struct mxs_caller *c, const char *name,
				const struct mxs_perm *perms, unsigned int n)
{
	int si = special_index(name);
	struct mxs_nodeval *v, *old;
	struct special_gone *gone;
	uint32_t need = MXS_PERM_WRITE | MXS_PERM_OWNER;

	if (si < 0)
		return -ENOENT; /* the C daemon: no such special node */
	pthread_mutex_lock(&st->wlock);
	old = st->special[si];
	if ((mxs_perm_for(c, mxs_nodeval_perms(old), old->nperms) & need) !=
	    need) {
		pthread_mutex_unlock(&st->wlock);
		return -EACCES;
	}
	v = mxs_nodeval_new(mxs_store_gen_next(st), MXS_GEN_NONE, perms, n,
			    NULL, 0, false);
	gone = mxs_malloc(sizeof(*gone));
	if (!v || !gone) {
		pthread_mutex_unlock(&st->wlock);
		free(v);
		free(gone);
		return -ENOMEM;
	}
	/* STORE_SPECIAL_R1: pairs with STORE_SPECIAL_A1 in
	 * mxs_store_watch_permitted(). */
	mxs_rcu_publish(st->special[si], v);
	gone->v = old;
	call_rcu(&gone->rcu, special_free_rcu);
	pthread_mutex_unlock(&st->wlock);
	return 0;
}

void mxs_store_set_strict_conflicts(struct mxs_store *st, bool strict)
{
	st->strict_conflicts = strict;
}

unsigned int mxs_store_domain_nodes(struct mxs_store *st, uint32_t domid)
{
	return __atomic_load_n(&st->owned[mxs_owner_slot(domid)],
			       __ATOMIC_RELAXED);
}

void mxs_store_set_domain_oracle(struct mxs_store *st, mxs_store_domain_fn fn,
				 void *arg)
{
	st->oracle_arg = arg;
	st->oracle = fn;
}

uint64_t mxs_store_generation(struct mxs_store *st)
{
	return __atomic_load_n(&st->gen, __ATOMIC_RELAXED);
}

/*
 * Records RM's changes for the live subtree of n (leaves first, the top
 * on its path and ancestors, the rest exactly), then removes it, its
 * parent's touch reserved in touches (the commit's).  On ENOMEM nothing
 * is removed and nothing is recorded.  Caller: writer lock, in a commit.
 */
static int live_rm(struct mxs_store *st, struct mxs_node *n,
		   struct mxs_touches *touches, struct mxs_changes *ch)
{
	struct mxs_nodevec pre = { 0 }, stack = { 0 }, up = { 0 };
	size_t mark = ch->n, i;
	int rc = mxs_nodevec_push(&stack, n);

	/* Pre-order, children in list order. */
	while (!rc && stack.n) {
		struct mxs_node *top = stack.v[--stack.n], *c;
		size_t first = stack.n;

		rc = mxs_nodevec_push(&pre, top);
		for (c = top->kids_head; !rc && c; c = c->next_sib)
			if (c->died == MXS_SEQ_ALIVE)
				rc = mxs_nodevec_push(&stack, c);
		for (i = 0; !rc && i < (stack.n - first) / 2; i++) {
			struct mxs_node *t = stack.v[first + i];

			stack.v[first + i] = stack.v[stack.n - 1 - i];
			stack.v[stack.n - 1 - i] = t;
		}
	}
	/* Post-order: a node follows its subtree (as RM's changes). */
	for (i = 0; !rc && i <= pre.n; i++) {
		size_t d = i < pre.n ? mxs_path_depth(pre.v[i]->path) : 0;

		while (!rc && up.n &&
		       mxs_path_depth(up.v[up.n - 1]->path) >= d) {
			struct mxs_node *x = up.v[--up.n];

			rc = change_add(st, NULL, ch, x->path, x->pathlen, x != n,
					x->val);
		}
		if (!rc && i < pre.n)
			rc = mxs_nodevec_push(&up, pre.v[i]);
	}
	if (!rc)
		rc = mxs_touches_add(touches, mxs_node_parent(st, n));
	if (!rc)
		rc = mxs_touches_seal(touches);
	if (!rc) {
		mxs_account_live_removed(st, pre.v, pre.n);
		mxs_node_remove(st, n);
	} else {
		changes_truncate(ch, mark);
	}
	free(pre.v);
	free(stack.v);
	free(up.v);
	return rc;
}

int mxs_store_domain_gone(struct mxs_store *st, uint32_t domid,
			  struct mxs_changes *ch)
{
	struct mxs_touches touches = { 0 };
	struct mxs_node *n;
	int rc = 0;

	if (domid == 0 || domid >= MXS_DOMID_FIRST_RESERVED)
		return -EINVAL;
	pthread_mutex_lock(&st->wlock);
	mxs_store_commit_begin(st, &touches);
	/*
	 * As the C daemon's walk from the root: a node of domid goes as the
	 * top of a removal unless an ancestor of it is domid's too (then it
	 * goes, exactly, with that ancestor's subtree).  Each removal takes
	 * at least the head off the domain's list.
	 */
	while (!rc && (n = st->own_head[domid])) {
		struct mxs_node *top = n, *a;

		for (a = mxs_node_parent(st, n); a; a = mxs_node_parent(st, a))
			if (mxs_nodeval_owner(a->val) == domid)
				top = a;
		rc = live_rm(st, top, &touches, ch);
	}
	mxs_store_commit_end(st);
	pthread_mutex_unlock(&st->wlock);
	mxs_touches_free(&touches);
	return rc;
}

void mxs_store_get_stats(struct mxs_store *st, struct mxs_store_stats *out)
{
	out->nodes = __atomic_load_n(&st->nodes, __ATOMIC_RELAXED);
	out->generation = __atomic_load_n(&st->gen, __ATOMIC_RELAXED);
	out->commits = __atomic_load_n(&st->commits, __ATOMIC_RELAXED);
	out->conflicts = __atomic_load_n(&st->conflicts, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ */
/* Whole store                                                          */

struct mxs_store *mxs_store_new(void)
{
	static const struct mxs_perm dom0_none = { 0, MXS_PERM_NONE };
	/* Aligned: the cache-line layout of struct mxs_store. */
	struct mxs_store *st = aligned_alloc(MXS_CACHE_LINE,
					     (sizeof(*st) + MXS_CACHE_LINE - 1) /
						     MXS_CACHE_LINE *
						     MXS_CACHE_LINE);
	struct mxs_node *root;
	const struct mxs_caller priv = { 0, MXS_NO_TARGET, true, false };
	struct mxs_changes ch = { 0 };
	int i;

	if (!st)
		goto nomem;
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->wlock, NULL);
	/* Grown by the writers (mxs_index_grow), never lazily. */
	st->index = cds_lfht_new(MXS_INDEX_MIN, MXS_INDEX_MIN, 0, 0, NULL);
	st->index_size = MXS_INDEX_MIN;
	root = mxs_malloc(sizeof(*root) + 2);
	if (!st->index || !root)
		goto nomem;
	strcpy(root->path, "/");
	root->pathlen = 1; /* published */
	root->kids_head = root->next_sib = NULL;
	root->prev_sib = NULL;
	root->born = 0;
	root->died = MXS_SEQ_ALIVE;
	st->wseq = MXS_SEQ_ALIVE;
	cds_lfht_node_init(&root->hnode);
	/* Generation 0: older than every snapshot (the first commit's
	 * wseq is 1), its list's too (not stamped: a full version); a
	 * directory, so it has a child-list slot. */
	root->val = mxs_nodeval_new(0, 0, &dom0_none, 1, NULL, 0, true);
	st->own_head = mxs_calloc(MXS_DOMID_FIRST_RESERVED + 1,
			      sizeof(*st->own_head));
	if (!root->val || !st->own_head)
		goto nomem;
	cds_lfht_add(st->index, mxs_path_hash("/", 1), &root->hnode);
	st->root = root;
	st->nodes = 1;
	mxs_node_own_link(st, root);
	if (mxs_account_init(st))
		goto nomem;
	for (i = 0; i < 2; i++) {
		st->special[i] = mxs_nodeval_new(0, MXS_GEN_NONE, &dom0_none,
						 1, NULL, 0, false);
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
	mxs_node_drop_all(st);
	pthread_mutex_unlock(&st->wlock);
	cds_lfht_for_each(st->index, &it, hn)
		cds_lfht_del(st->index, hn);
	/* Run every pending call_rcu free; a QSBR thread must be offline
	 * while it waits for grace periods. */
	mxs_rcu_offline();
	rcu_barrier();
	mxs_rcu_online();
	mxs_node_grace_drain(st);
	cds_lfht_destroy(st->index, NULL);
	mxs_nodeval_free(st->root->val->older); /* older: retired */
	mxs_nodeval_free(st->root->val);
	free(st->root);
	for (i = 0; i < 2; i++)
		free(st->special[i]);
	free(st->own_head);
	mxs_account_fini(st);
	pthread_mutex_destroy(&st->wlock);
	free(st);
}

