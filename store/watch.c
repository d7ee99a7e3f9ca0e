/* SPDX-License-Identifier: MIT */
#include "store/watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/path.h"

/*
 * Watches per path length, lengths from WATCH_LENS - 1 up sharing the
 * last slot: the ancestor walk of a change skips the prefixes whose
 * length no watch has without hashing them.  Watched paths are usually
 * of a few lengths (a guest's state nodes, a backend directory), while
 * a change's ancestors ("/local", "/local/domain", its home, ...) are of
 * others.  Watches at every length only make every prefix a lookup
 * again, as without the counts.
 */
#define WATCH_LENS 256

struct mxs_watches {
	pthread_rwlock_t lock;
	struct mxs_watch **buckets; /* power of two, at most one watch each
				     * on average (grow) */
	size_t nbuckets;
	unsigned long count;
	uint64_t seq;
	uint32_t bylen[WATCH_LENS]; /* exclusive lock to change */
};

static inline size_t len_slot(size_t len)
{
	return len < WATCH_LENS ? len : WATCH_LENS - 1;
}

struct mxs_watches *mxs_watches_new(void)
{
	struct mxs_watches *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return NULL;
	reg->nbuckets = 256;
	reg->buckets = calloc(reg->nbuckets, sizeof(*reg->buckets));
	if (!reg->buckets) {
		free(reg);
		errno = ENOMEM;
		return NULL;
	}
	{
		pthread_rwlockattr_t attr;

		/* Writer preference: a WATCH/UNWATCH must not starve while
		 * workers keep firing (nobody takes the lock recursively). */
		pthread_rwlockattr_init(&attr);
		pthread_rwlockattr_setkind_np(
			&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&reg->lock, &attr);
		pthread_rwlockattr_destroy(&attr);
	}
	return reg;
}

void mxs_watches_free(struct mxs_watches *reg)
{
	size_t i;

	if (!reg)
		return;
	for (i = 0; i < reg->nbuckets; i++)
		while (reg->buckets[i]) {
			struct mxs_watch *w = reg->buckets[i];

			reg->buckets[i] = w->hnext;
			free(w);
		}
	free(reg->buckets);
	pthread_rwlock_destroy(&reg->lock);
	free(reg);
}

void mxs_watch_owner_init(struct mxs_watch_owner *o, void *ctx, uint64_t seq)
{
	o->ctx = ctx;
	o->seq = seq;
	o->count = 0;
	o->bytes = 0;
	CDS_INIT_LIST_HEAD(&o->list);
}

/* Caller: exclusive lock. */
static void grow(struct mxs_watches *reg)
{
	size_t nb = reg->nbuckets * 2, i;
	struct mxs_watch **b = calloc(nb, sizeof(*b)), *w, *nx;

	if (!b)
		return; /* keep the old table: slower, still correct */
	for (i = 0; i < reg->nbuckets; i++)
		for (w = reg->buckets[i]; w; w = nx) {
			size_t h = w->hash & (nb - 1);

			nx = w->hnext;
			w->hnext = b[h];
			b[h] = w;
		}
	free(reg->buckets);
	reg->buckets = b;
	reg->nbuckets = nb;
}

/* The watch of o on path (hash h) with token, or NULL.  Caller: the
 * exclusive lock. */
static struct mxs_watch *find(struct mxs_watches *reg,
			      const struct mxs_watch_owner *o, uint64_t h,
			      const char *path, size_t len, const char *token)
{
	struct mxs_watch *w;

	for (w = reg->buckets[h & (reg->nbuckets - 1)]; w; w = w->hnext)
		if (w->hash == h && w->owner == o && w->pathlen == len &&
		    memcmp(w->path, path, len) == 0 &&
		    strcmp(mxs_watch_token(w), token) == 0)
			return w;
	return NULL;
}

int mxs_watch_add(struct mxs_watches *reg, struct mxs_watch_owner *o,
		  const char *path, const char *token, size_t rel_off)
{
	size_t len = strlen(path), tlen = strlen(token);
	uint64_t h = mxs_path_hash(path, len);
	struct mxs_watch *w;
	size_t b;

	/* Built before the lock: the lock only guards the table. */
	w = malloc(sizeof(*w) + len + 1 + tlen + 1);
	if (!w)
		return -ENOMEM;
	memcpy(w->path, path, len + 1);
	memcpy(w->path + len + 1, token, tlen + 1);
	w->hash = h;
	w->pathlen = len;
	w->rel_off = rel_off;
	w->owner = o;
	pthread_rwlock_wrlock(&reg->lock);
	if (find(reg, o, h, path, len, token)) {
		pthread_rwlock_unlock(&reg->lock);
		free(w);
		return -EEXIST;
	}
	w->seq = ++reg->seq;
	b = h & (reg->nbuckets - 1);
	w->hnext = reg->buckets[b];
	reg->buckets[b] = w;
	cds_list_add_tail(&w->link, &o->list);
	o->count++;
	reg->bylen[len_slot(len)]++;
	/* Relaxed: readers take no lock and need no ordering
	 * (mxs_watches_owner_bytes). */
	__atomic_fetch_add(&o->bytes, len + tlen, __ATOMIC_RELAXED);
	if (++reg->count > reg->nbuckets)
		grow(reg);
	pthread_rwlock_unlock(&reg->lock);
	return 0;
}

/* Caller: exclusive lock. */
static void unlink_watch(struct mxs_watches *reg, struct mxs_watch *w)
{
	struct mxs_watch **pp = &reg->buckets[w->hash & (reg->nbuckets - 1)];

	while (*pp != w)
		pp = &(*pp)->hnext;
	*pp = w->hnext;
	cds_list_del(&w->link);
	w->owner->count--;
	__atomic_fetch_sub(&w->owner->bytes, w->pathlen + strlen(mxs_watch_token(w)),
			   __ATOMIC_RELAXED);
	reg->bylen[len_slot(w->pathlen)]--;
	reg->count--;
	free(w);
}

int mxs_watch_remove(struct mxs_watches *reg, struct mxs_watch_owner *o,
		     const char *path, const char *token)
{
	size_t len = strlen(path);
	uint64_t h = mxs_path_hash(path, len);
	struct mxs_watch *w;
	int rc = -ENOENT;

	/* Through the table, not the owner's list: a backend holds a watch
	 * per frontend, and (owner, path, token) is unique (add). */
	pthread_rwlock_wrlock(&reg->lock);
	w = find(reg, o, h, path, len, token);
	if (w) {
		unlink_watch(reg, w);
		rc = 0;
	}
	pthread_rwlock_unlock(&reg->lock);
	return rc;
}

unsigned int mxs_watch_remove_all(struct mxs_watches *reg,
				  struct mxs_watch_owner *o)
{
	struct mxs_watch *w, *tmp;
	unsigned int n = 0;

	pthread_rwlock_wrlock(&reg->lock);
	cds_list_for_each_entry_safe(w, tmp, &o->list, link) {
		unlink_watch(reg, w);
		n++;
	}
	pthread_rwlock_unlock(&reg->lock);
	return n;
}

struct hits {
	const struct mxs_watch **v;
	size_t n, cap;
};

static int hits_add(struct hits *h, const struct mxs_watch *w)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		const struct mxs_watch **v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n++] = w;
	return 0;
}

/* Adds the watches on p[0..len) to h.  Caller: shared lock. */
static int collect(struct mxs_watches *reg, const char *p, size_t len,
		   struct hits *h)
{
	const struct mxs_watch *w;
	uint64_t hash;

	if (!reg->bylen[len_slot(len)])
		return 0;
	hash = mxs_path_hash(p, len);
	for (w = reg->buckets[hash & (reg->nbuckets - 1)]; w; w = w->hnext)
		if (w->hash == hash && w->pathlen == len &&
		    memcmp(w->path, p, len) == 0 && hits_add(h, w))
			return -ENOMEM;
	return 0;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct mxs_watch *x = *(const struct mxs_watch *const *)a;
	const struct mxs_watch *y = *(const struct mxs_watch *const *)b;

	if (x->owner->seq != y->owner->seq)
		return x->owner->seq < y->owner->seq ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Would hit i send an event its owner already gets from an earlier hit
 * (same event path, same token)?  The C daemon sends such an event once.
 * Hits [run, i) have the same owner.
 */
static bool duplicate(const struct hits *h, size_t run, size_t i,
		      const char *path)
{
	const struct mxs_watch *w = h->v[i];
	const char *ev = mxs_watch_event_path(w, path);
	size_t j;

	for (j = run; j < i; j++)
		if (strcmp(mxs_watch_token(h->v[j]), mxs_watch_token(w)) == 0 &&
		    strcmp(mxs_watch_event_path(h->v[j], path), ev) == 0)
			return true;
	return false;
}

int mxs_watches_fire(struct mxs_watches *reg, const char *path, bool exact,
		     mxs_watch_fn fn, void *arg)
{
	struct hits h = { 0 };
	size_t len = strlen(path), i, run;
	int rc = 0;

	pthread_rwlock_rdlock(&reg->lock);
	if (!reg->count)
		goto out;
	if (exact || path[0] != '/') {
		/* @names are watched by name, and by "/" (C daemon rule). */
		rc = collect(reg, path, len, &h);
		if (!rc && !exact)
			rc = collect(reg, "/", 1, &h);
	} else {
		/* "/" then every ancestor, then path itself. */
		rc = collect(reg, "/", 1, &h);
		for (i = 2; !rc && i <= len; i++)
			if (i == len || path[i] == '/')
				rc = collect(reg, path, i, &h);
	}
	if (rc)
		goto out;
	if (h.n > 1)
		qsort(h.v, h.n, sizeof(*h.v), hit_cmp);
	rc = 0;
	for (i = 0, run = 0; i < h.n; i++) {
		if (h.v[i]->owner != h.v[run]->owner)
			run = i;
		if (duplicate(&h, run, i, path))
			continue;
		fn(arg, h.v[i], path);
		rc++;
	}
out:
	pthread_rwlock_unlock(&reg->lock);
	free(h.v);
	return rc;
}

const char *mxs_watch_event_path(const struct mxs_watch *w, const char *path)
{
	if (!w->rel_off || strlen(path) < w->rel_off)
		return path;
	path += w->rel_off;
	return *path == '/' ? path + 1 : path;
}

unsigned long mxs_watches_count(struct mxs_watches *reg)
{
	unsigned long n;

	pthread_rwlock_rdlock(&reg->lock);
	n = reg->count;
	pthread_rwlock_unlock(&reg->lock);
	return n;
}

uint64_t mxs_watches_owner_bytes(const struct mxs_watch_owner *o)
{
	return __atomic_load_n(&o->bytes, __ATOMIC_RELAXED);
}

unsigned int mxs_watches_owner_count(struct mxs_watches *reg,
				     const struct mxs_watch_owner *o)
{
	unsigned int n;

	pthread_rwlock_rdlock(&reg->lock);
	n = o->count;
	pthread_rwlock_unlock(&reg->lock);
	return n;
}
