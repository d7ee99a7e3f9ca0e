/* SPDX-License-Identifier: MIT */
/*
 * The live tree: node versions, the index and the child lists.
 *
 * Contract.  Nodes are found through one RCU hash table keyed by full
 * path (cds_lfht) and list their children in an RCU singly linked list in
 * creation order (DIRECTORY answers in that order, as the C daemon).
 * Readers (any thread online with urcu-qsbr) take no lock and never wait:
 * they sample a snapshot (the last published commit) once per request and
 * see, per node, whether it was alive at that commit (born/died) and its
 * version at that commit (the chain of immutable versions).  The one
 * writer (the caller of every mutation here holds st->wlock) stamps
 * everything a commit changes with the commit's seq, links fully built
 * nodes and versions with release stores, and publishes the seq last
 * (STORE_SEQ_R1): a reader sees all of a commit or none of it.  Removed
 * nodes stay linked until a grace period after their removal was
 * published (no snapshot older than it remains), then are unlinked
 * without touching their next_sib and freed after another grace period.
 * Superseded versions are freed a grace period after the commit that
 * superseded them, all of one commit's together.  Labels: see
 * store/node.h.
 */
#include "store/node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/alloc.h"
#include "store/path.h"

#ifdef MXS_TSAN
char mxs_rcu_gp_token;
#endif

void mxs_store_bug(const char *file, int line, const char *why)
{
	fprintf(stderr, "%s:%d: store bug: %s\n", file, line, why);
	abort();
}

/* ------------------------------------------------------------------ */
/* Node versions                                                        */

/* A version of either representation, its stored generations (gens)
 * left for the caller to set. */
static struct mxs_nodeval *nodeval_make(uint64_t seq, bool gens,
					const struct mxs_perm *perms,
					unsigned int nperms, const void *value,
					size_t vlen, bool kidslot)
{
	struct mxs_nodeval *v;
	size_t size;
	char *val;

	/* A larger list or value never reaches the store (the payload
	 * bounds both); refused rather than truncated. */
	if (nperms > UINT16_MAX || vlen > MXS_PAYLOAD_MAX) {
		errno = E2BIG;
		return NULL;
	}
	size = kidslot ? mxs_nodeval_kidslot_off(gens, nperms, vlen) +
				 sizeof(struct mxs_kidlist *)
		       : mxs_nodeval_head(gens) + nperms * sizeof(*perms) +
				 vlen + 1;
	v = mxs_malloc(size);
	if (!v)
		return NULL;
	v->seq = seq;
	v->older = NULL;
	v->nperms = nperms;
	v->vlen = vlen;
	v->kidslot = kidslot;
	v->gens = gens;
	v->unstamped = !gens;
	if (nperms)
		memcpy(mxs_nodeval_perms(v), perms, nperms * sizeof(*perms));
	val = (char *)mxs_nodeval_value(v);
	if (vlen)
		memcpy(val, value, vlen);
	val[vlen] = '\0';
	if (kidslot)
		*mxs_nodeval_kidslot(v) = NULL;
	return v;
}

struct mxs_nodeval *mxs_nodeval_new(uint64_t seq, uint64_t perms_gen,
				    const struct mxs_perm *perms,
				    unsigned int nperms, const void *value,
				    size_t vlen, bool kidslot)
{
	bool gens = perms_gen != MXS_GEN_NONE;
	struct mxs_nodeval *v = nodeval_make(seq, gens, perms, nperms, value,
					     vlen, kidslot);

	if (v && gens)
		mxs_nodeval_set_gens(v, seq, perms_gen);
	return v;
}

struct mxs_nodeval *mxs_nodeval_dup(const struct mxs_nodeval *o, bool kidslot)
{
	/* Full even when o is lean: a copy that becomes a touch takes a
	 * new seq and keeps o's meta_gen and perms_gen. */
	struct mxs_nodeval *v = nodeval_make(o->seq, true, mxs_nodeval_perms(o),
					     o->nperms, mxs_nodeval_value(o),
					     o->vlen, o->kidslot || kidslot);

	if (v)
		mxs_nodeval_set_gens(v, mxs_nodeval_meta_gen(o),
				     mxs_nodeval_perms_gen(o));
	return v;
}

void mxs_nodeval_free(struct mxs_nodeval *v)
{
	struct mxs_kidlist **k = v ? mxs_nodeval_kidslot(v) : NULL;

	if (k)
		free(*k);
	free(v);
}

/* Frees the node and the two newest versions (older ones went with the
 * commits that superseded them: struct mxs_retired). */
static void node_free_rcu(struct rcu_head *h)
{
	struct mxs_node *n = caa_container_of(h, struct mxs_node, rcu);

	mxs_rcu_reclaim_begin();
	mxs_nodeval_free(n->val->older);
	mxs_nodeval_free(n->val);
	free(n);
}

/* call_rcu callback: the versions one commit superseded. */
static void retired_free_rcu(struct rcu_head *h)
{
	struct mxs_retired *r = caa_container_of(h, struct mxs_retired, rcu);
	size_t i;

	mxs_rcu_reclaim_begin();
	for (i = 0; i < r->n; i++)
		mxs_nodeval_free(r->v[i]);
	free(r);
}

/*
 * Owner accounting: the count (relaxed: quotas read it without the lock)
 * and the owner index.  Caller: writer lock.
 */
void mxs_node_own_link(struct mxs_store *st, struct mxs_node *n)
{
	uint32_t slot = mxs_owner_slot(mxs_nodeval_owner(n->val));

	n->own_prev = NULL;
	n->own_next = st->own_head[slot];
	if (n->own_next)
		n->own_next->own_prev = n;
	st->own_head[slot] = n;
	__atomic_fetch_add(&st->owned[slot], 1, __ATOMIC_RELAXED);
}

/* v: the version n was linked with (its owner names the slot). */
static void own_unlink(struct mxs_store *st, struct mxs_node *n,
		       const struct mxs_nodeval *v)
{
	uint32_t slot = mxs_owner_slot(mxs_nodeval_owner(v));

	if (n->own_prev)
		n->own_prev->own_next = n->own_next;
	else
		st->own_head[slot] = n->own_next;
	if (n->own_next)
		n->own_next->own_prev = n->own_prev;
	__atomic_fetch_sub(&st->owned[slot], 1, __ATOMIC_RELAXED);
}

/*
 * Stamps a version about to be installed with a change of its value or
 * permissions: its generation, and the generation of its permission
 * list if this version set it.  A lean version is stamped once (its
 * perms_gen becomes seq with it); a published one stamped again would
 * move its list's generation past domains it must see as stale.
 */
static void version_stamp(struct mxs_store *st, struct mxs_nodeval *v)
{
	uint64_t perms_gen;

	if (!v->gens) {
		if (!v->unstamped)
			MXS_STORE_BUG("a lean version installed twice");
		v->seq = mxs_store_gen_next(st);
		v->unstamped = 0;
		return;
	}
	perms_gen = mxs_nodeval_perms_gen(v);
	v->seq = mxs_store_gen_next(st);
	mxs_nodeval_set_gens(v, v->seq,
			     perms_gen == MXS_GEN_NONE ? v->seq : perms_gen);
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
	 * path compared below is written (0, never a key's length, before
	 * that). */
	return __atomic_load_n(&n->pathlen, __ATOMIC_ACQUIRE) == k->len &&
	       memcmp(n->path, k->p, k->len) == 0;
}

struct mxs_node *mxs_node_find(struct mxs_store *st, const char *p,
			       size_t len, uint64_t s)
{
	struct key k = { p, len };
	struct cds_lfht_iter it;
	struct cds_lfht_node *hn;

	/* Several lives of one path are linked only while a removed one
	 * waits to be unlinked: usually the first match is it. */
	cds_lfht_lookup(st->index, mxs_path_hash(p, len), node_match, &k, &it);
	for (hn = cds_lfht_iter_get_node(&it); hn;
	     cds_lfht_next_duplicate(st->index, node_match, &k, &it),
	     hn = cds_lfht_iter_get_node(&it)) {
		struct mxs_node *n = caa_container_of(hn, struct mxs_node,
						      hnode);

		if (mxs_node_visible(n, s))
			return n;
	}
	return NULL;
}

struct mxs_node *mxs_node_parent(struct mxs_store *st,
				 const struct mxs_node *n)
{
	struct key k = { n->path, mxs_path_parent_len(n->path, n->pathlen) };
	struct mxs_node *best = NULL;
	struct cds_lfht_iter it;
	struct cds_lfht_node *hn;

	if (n == st->root)
		return NULL;
	cds_lfht_lookup(st->index, mxs_path_hash(k.p, k.len), node_match, &k,
			&it);
	for (hn = cds_lfht_iter_get_node(&it); hn;
	     cds_lfht_next_duplicate(st->index, node_match, &k, &it),
	     hn = cds_lfht_iter_get_node(&it)) {
		struct mxs_node *p = caa_container_of(hn, struct mxs_node,
						      hnode);

		if (p->died >= n->died && (!best || p->died < best->died))
			best = p;
	}
	if (!best)
		MXS_STORE_BUG("a linked node without its parent");
	return best;
}

void mxs_index_grow(struct mxs_store *st)
{
	/* Relaxed: any recent count will do, the next commit looks again;
	 * the CAS below decides who grows. */
	uint64_t nodes = __atomic_load_n(&st->nodes, __ATOMIC_RELAXED);
	unsigned long size = __atomic_load_n(&st->index_size,
					     __ATOMIC_RELAXED);
	unsigned long want = size;

	while (nodes > (uint64_t)want * MXS_INDEX_LOAD)
		want *= 2;
	if (want == size ||
	    !__atomic_compare_exchange_n(&st->index_size, &size, want, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	/* Grows in place (no grace period: it only links bucket entries);
	 * lookups and inserts go on during it. */
	cds_lfht_resize(st->index, want);
}

/* ------------------------------------------------------------------ */
/* Commits and reclamation: caller holds st->wlock.                    */

/* call_rcu callback: a grace period has passed since the probe was
 * queued, so no reader holds a snapshot older than probe->seq. */
static void grace_passed(struct rcu_head *h)
{
	struct mxs_grace *g = caa_container_of(h, struct mxs_grace, rcu);

	mxs_rcu_reclaim_begin();
	/* STORE_GRACE_R1: pairs with STORE_GRACE_A1 in grace_collect(). */
	__atomic_store_n(&g->done, 1, __ATOMIC_RELEASE);
}

/*
 * Takes the finished probes off the head of the queue (in order: a
 * later one finishing first waits for the ones before) and returns the
 * newest commit that no reader's snapshot is older than.
 */
static uint64_t grace_collect(struct mxs_store *st)
{
	struct mxs_grace *g;

	/* STORE_GRACE_A1: pairs with STORE_GRACE_R1 in grace_passed(): the
	 * callback is done with the probe. */
	while ((g = st->grace_head) &&
	       __atomic_load_n(&g->done, __ATOMIC_ACQUIRE)) {
		st->safe_seq = g->seq;
		st->grace_head = g->next;
		if (!st->grace_head)
			st->grace_tail = NULL;
		free(g);
	}
	return st->safe_seq;
}

/*
 * Unlinks a removed node from the index and its parent's children.  The
 * list is singly linked for readers; prev_sib links it backwards for the
 * writer, the first child's prev_sib being the last child.
 */
static void node_unlink(struct mxs_store *st, struct mxs_node *d)
{
	struct mxs_node *p = mxs_node_parent(st, d), *head = p->kids_head;

	cds_lfht_del(st->index, &d->hnode);
	/* d->next_sib stays valid for readers standing on d.
	 * STORE_KIDS_R1 as in mxs_node_create(). */
	if (d == head) {
		mxs_rcu_publish(p->kids_head, d->next_sib);
		if (d->next_sib)
			d->next_sib->prev_sib = d->prev_sib; /* the last */
	} else {
		mxs_rcu_publish(d->prev_sib->next_sib, d->next_sib);
		if (d->next_sib)
			d->next_sib->prev_sib = d->prev_sib;
		else
			head->prev_sib = d->prev_sib; /* new last */
	}
	call_rcu(&d->rcu, node_free_rcu);
}

void mxs_store_commit_begin(struct mxs_store *st,
			    struct mxs_touches *touches)
{
	uint64_t safe = grace_collect(st);

	/* The graveyard is in removal order; a node's children were
	 * removed with it or before it, so they go first. */
	while (st->grave_head && st->grave_head->died <= safe) {
		struct mxs_node *d = st->grave_head;

		st->grave_head = d->grave_next;
		if (!st->grave_head)
			st->grave_tail = NULL;
		node_unlink(st, d);
	}
	/* st->gen >= st->seq: generations handed out outside commits (the
	 * special nodes) only widen the gap. */
	st->wseq = st->gen + 1;
	st->touches = touches;
}

void mxs_store_commit_end(struct mxs_store *st)
{
	bool removed = st->grave_tail && st->grave_tail->died == st->wseq;

	/*
	 * A commit that stamped anything handed out a generation (a
	 * creation stamps its version, a removal touches the parent), so
	 * its stamps are > the last snapshot and <= st->gen; one that
	 * changed nothing publishes the same snapshot again.
	 * STORE_SEQ_R1: pairs with STORE_SEQ_A1 in mxs_store_snap():
	 * everything stamped from wseq to gen is linked.
	 */
	__atomic_store_n(&st->seq, st->gen, __ATOMIC_RELEASE);
	st->wseq = MXS_SEQ_ALIVE; /* stamping outside a commit is a bug */
	/* One grace period for everything the commit superseded. */
	if (st->touches && st->touches->retired &&
	    st->touches->retired->n) {
		call_rcu(&st->touches->retired->rcu, retired_free_rcu);
		st->touches->retired = NULL;
		st->touches->rcap = 0;
	}
	st->touches = NULL;
	/*
	 * A commit that removed nodes queues a probe: they are unlinked at
	 * the first commit after its grace period.  If the probe cannot be
	 * allocated, a later commit's probe covers them (later, that's all).
	 */
	if (removed) {
		struct mxs_grace *g = mxs_malloc(sizeof(*g));

		if (g) {
			g->seq = st->seq;
			g->done = 0;
			g->next = NULL;
			if (st->grace_tail)
				st->grace_tail->next = g;
			else
				st->grace_head = g;
			st->grace_tail = g;
			call_rcu(&g->rcu, grace_passed);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Live mutations: caller holds st->wlock.                             */

/*
 * Installs v as n's newest version at this commit.  Older snapshots keep
 * the version before; a version installed earlier in the same commit was
 * never visible to any snapshot and is replaced.  What no snapshot from
 * now on reaches goes to the commit's retired list (freed a grace period
 * after the commit), whose room the touches reserved.
 */
static void node_publish(struct mxs_store *st, struct mxs_node *n,
			 struct mxs_nodeval *v)
{
	struct mxs_nodeval *cur = n->val, *gone;
	struct mxs_retired *r = st->touches ? st->touches->retired : NULL;

	if (cur->seq >= st->wseq) { /* installed by this commit */
		v->older = cur->older;
		gone = cur;
	} else {
		v->older = cur;
		gone = cur->older; /* no snapshot from now on reaches it */
	}
	if (gone && (!r || r->n == st->touches->rcap))
		MXS_STORE_BUG("a superseded version without its reservation");
	/* STORE_VAL_R1: pairs with STORE_VAL_A1 in mxs_node_val_at(): v is
	 * fully built, older included. */
	mxs_rcu_publish(n->val, v);
	if (gone)
		r->v[r->n++] = gone;
}

static int touch_cmp(const void *a, const void *b)
{
	const struct mxs_touch *x = a, *y = b;

	return x->node < y->node ? -1 : x->node > y->node;
}

int mxs_touches_add(struct mxs_touches *t, struct mxs_node *n)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct mxs_touch *v = mxs_realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n].node = n;
	t->v[t->n++].val = NULL;
	return 0;
}

int mxs_touches_seal(struct mxs_touches *t)
{
	size_t i, n = 0;

	/* Sealing again after more adds keeps the versions it has. */
	if (t->n)
		qsort(t->v, t->n, sizeof(*t->v), touch_cmp);
	for (i = 0; i < t->n; i++) {
		if (n && t->v[n - 1].node == t->v[i].node) {
			if (!t->v[n - 1].val)
				t->v[n - 1].val = t->v[i].val;
			else
				free(t->v[i].val);
			continue;
		}
		t->v[n++] = t->v[i];
	}
	t->n = n;
	for (i = 0; i < t->n; i++)
		if (!t->v[i].val &&
		    !(t->v[i].val = mxs_nodeval_dup(t->v[i].node->val, true)))
			return -ENOMEM;
	/* Each touch and each update supersedes at most one version. */
	if (t->n + t->updates > t->rcap) {
		size_t cap = t->n + t->updates;
		struct mxs_retired *r = mxs_realloc(
			t->retired, sizeof(*r) + cap * sizeof(r->v[0]));

		if (!r)
			return -ENOMEM;
		if (!t->retired)
			r->n = 0;
		t->retired = r;
		t->rcap = cap;
	}
	return 0;
}

void mxs_touches_free(struct mxs_touches *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i].val);
	free(t->v);
	free(t->retired); /* empty unless handed over by commit_end */
	memset(t, 0, sizeof(*t));
}

/*
 * n's children changed: a new version with a new generation.  A version
 * this commit already installed is newer than anything a reader or a
 * transaction saw, and no reader sees it before the commit is published,
 * so it stands for the change as it is; otherwise the version reserved
 * in the commit's touches becomes the new one.  Never allocates.
 */
static void node_touch(struct mxs_store *st, struct mxs_node *n)
{
	struct mxs_touch key = { n, NULL }, *t;
	struct mxs_nodeval *v;

	if (n->val->seq >= st->wseq)
		return;
	t = st->touches && st->touches->n
		    ? bsearch(&key, st->touches->v, st->touches->n,
			      sizeof(key), touch_cmp)
		    : NULL;
	if (!t || !t->val)
		MXS_STORE_BUG("a touch without its reservation");
	v = t->val;
	t->val = NULL;
	/* Full (mxs_nodeval_dup): only the children changed. */
	v->seq = mxs_store_gen_next(st);
	mxs_nodeval_set_gens(v, mxs_nodeval_meta_gen(n->val),
			     mxs_nodeval_perms_gen(n->val));
	node_publish(st, n, v);
}

struct mxs_node *mxs_node_alloc(const char *path, size_t len)
{
	struct mxs_node *n = mxs_malloc(offsetof(struct mxs_node, path) +
					len + 1);

	if (n) {
		memcpy(n->path, path, len);
		n->path[len] = '\0';
		n->pathlen = 0; /* not published */
	}
	return n;
}

void mxs_node_create(struct mxs_store *st, struct mxs_node *parent,
		     struct mxs_node *n, struct mxs_nodeval *v)
{
	const char *path = n->path;
	size_t len = strlen(path);

	n->kids_head = n->next_sib = NULL;
	n->born = st->wseq;
	n->died = MXS_SEQ_ALIVE;
	version_stamp(st, v);
	v->older = NULL;
	n->val = v;
	cds_lfht_node_init(&n->hnode);
	/* STORE_NODE_R1: pairs with STORE_NODE_A1 in node_match(). */
	__atomic_store_n(&n->pathlen, (uint16_t)len, __ATOMIC_RELEASE);
	/* Link at the tail of the parent's children.  STORE_KIDS_R1: pairs
	 * with STORE_KIDS_A1 in the readers' list walks: n is built. */
	if (parent->kids_head) {
		struct mxs_node *last = parent->kids_head->prev_sib;

		n->prev_sib = last;
		parent->kids_head->prev_sib = n;
		mxs_rcu_publish(last->next_sib, n);
	} else {
		n->prev_sib = n;
		mxs_rcu_publish(parent->kids_head, n);
	}
	cds_lfht_add(st->index, mxs_path_hash(path, len), &n->hnode);
	mxs_count_add(&st->nodes, 1);
	mxs_node_own_link(st, n);
	node_touch(st, parent);
}

void mxs_node_update(struct mxs_store *st, struct mxs_node *n,
		     struct mxs_nodeval *v)
{
	bool moved = mxs_nodeval_owner(n->val) != mxs_nodeval_owner(v);

	if (moved)
		own_unlink(st, n, n->val);
	version_stamp(st, v);
	node_publish(st, n, v);
	if (moved)
		mxs_node_own_link(st, n);
}

int mxs_nodevec_push(struct mxs_nodevec *nv, struct mxs_node *n)
{
	if (nv->n == nv->cap) {
		size_t cap = nv->cap ? nv->cap * 2 : 16;
		struct mxs_node **p = mxs_realloc(nv->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		nv->v = p;
		nv->cap = cap;
	}
	nv->v[nv->n++] = n;
	return 0;
}

static struct mxs_node *alive_from(struct mxs_node *c)
{
	while (c && c->died != MXS_SEQ_ALIVE)
		c = c->next_sib;
	return c;
}

/* The first node of n's subtree in post-order (its deepest first leaf). */
static struct mxs_node *post_first(struct mxs_node *n)
{
	struct mxs_node *c;

	while ((c = alive_from(n->kids_head)))
		n = c;
	return n;
}

/*
 * A walk in post-order over the sibling links and the parents (found
 * through the index: no stack, no allocation, no recursion on a depth
 * the client controls: XSA-418), so children are removed before parents
 * and the graveyard unlinks them first.
 */
void mxs_node_remove(struct mxs_store *st, struct mxs_node *n)
{
	struct mxs_node *parent = mxs_node_parent(st, n), *d = post_first(n);
	struct mxs_node *next;

	for (;;) {
		struct mxs_node *sib = d == n ? NULL : alive_from(d->next_sib);

		/* d's parent is alive until the walk comes back to it. */
		next = d == n ? NULL
		       : sib  ? post_first(sib)
			      : mxs_node_parent(st, d);
		/* Relaxed: published by STORE_SEQ_R1 (mxs_node_visible). */
		__atomic_store_n(&d->died, st->wseq, __ATOMIC_RELAXED);
		mxs_count_add(&st->nodes, -1);
		own_unlink(st, d, d->val);
		d->grave_next = NULL;
		if (st->grave_tail)
			st->grave_tail->grave_next = d;
		else
			st->grave_head = d;
		st->grave_tail = d;
		if (!next)
			break;
		d = next;
	}
	node_touch(st, parent);
}

void mxs_node_drop_all(struct mxs_store *st)
{
	struct mxs_touches touch = { 0 };
	struct mxs_node *c, *d;

	/* On ENOMEM the tree leaks: the process is ending anyway. */
	if (mxs_touches_add(&touch, st->root) == 0 &&
	    mxs_touches_seal(&touch) == 0) {
		mxs_store_commit_begin(st, &touch);
		for (c = st->root->kids_head; c; c = c->next_sib)
			if (c->died == MXS_SEQ_ALIVE)
				mxs_node_remove(st, c);
		mxs_store_commit_end(st);
	}
	mxs_touches_free(&touch);
	while ((d = st->grave_head)) {
		st->grave_head = d->grave_next;
		node_unlink(st, d);
	}
	st->grave_tail = NULL;
}

void mxs_node_grace_drain(struct mxs_store *st)
{
	grace_collect(st);
	if (st->grace_head)
		MXS_STORE_BUG("a grace probe outlived rcu_barrier()");
}
