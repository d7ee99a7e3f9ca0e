/* SPDX-License-Identifier: MIT */
/*
 * The watch registry: who watches which path, and which watches a change
 * fires.
 *
 * Concurrency contract
 * --------------------
 * - A pthread rwlock protects the registry.  mxs_watches_fire takes it
 *   shared (any number of writers fire at once); add/remove take it
 *   exclusive.  No function calls back into the registry while holding it.
 * - A struct mxs_watch_owner is embedded in its owner (a connection) and
 *   is only added to/removed from by the owner's thread; the callback of
 *   mxs_watches_fire may run on any thread and must only take a reference
 *   to the owner and queue work for it.
 * - Matching costs O(depth of the changed path): watches are hashed by
 *   path and each ancestor of the change is looked up, never a scan of
 *   all watches.  An ancestor whose length no watch has is skipped
 *   before it is hashed (a count of watches per path length), and a
 *   chain entry is compared by its stored hash before its path, so a
 *   lookup that finds nothing touches no entry of a large table.
 */
#ifndef MXS_STORE_WATCH_H
#define MXS_STORE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/list.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mxs_watches;

/* The part of a connection that the registry knows. */
struct mxs_watch_owner {
	void *ctx;                 /* the connection, for the callback */
	uint64_t seq;              /* creation order of owners */
	struct cds_list_head list; /* its watches (registry lock) */
	unsigned int count;        /* number of watches (registry lock) */
	/* Path and token bytes of its watches, as the C daemon charges
	 * them to the memory quota (written under the registry lock,
	 * relaxed; read relaxed without it). */
	uint64_t bytes;
};

/*
 * One allocation per watch: the header, then path and token with their
 * NULs.  What a chain walk reads (hnext, hash) comes first.
 */
struct mxs_watch {
	struct mxs_watch *hnext;   /* hash chain by path */
	uint64_t hash;             /* mxs_path_hash(path, pathlen) */
	struct mxs_watch_owner *owner;
	uint64_t seq;              /* creation order of watches */
	struct cds_list_head link; /* in owner->list */
	size_t rel_off;            /* relative watch: bytes of prefix to cut */
	size_t pathlen;
	char path[];               /* canonical absolute path or @name,
				    * then the token (mxs_watch_token) */
};

/* The token of w: stored after its path's NUL. */
static inline const char *mxs_watch_token(const struct mxs_watch *w)
{
	return w->path + w->pathlen + 1;
}

struct mxs_watches *mxs_watches_new(void);
void mxs_watches_free(struct mxs_watches *reg);

void mxs_watch_owner_init(struct mxs_watch_owner *o, void *ctx, uint64_t seq);

/*
 * Adds a watch.  rel_off > 0 makes events relative: that many bytes of the
 * event path (the domain's home path) are cut, and a following '/'.
 * Returns 0, -EEXIST (same owner, path and token), -ENOMEM.
 */
int mxs_watch_add(struct mxs_watches *reg, struct mxs_watch_owner *o,
		  const char *path, const char *token, size_t rel_off);

/* Removes the owner's watch on path with token.  0 or -ENOENT. */
int mxs_watch_remove(struct mxs_watches *reg, struct mxs_watch_owner *o,
		     const char *path, const char *token);

/* Removes all of the owner's watches.  Returns how many. */
unsigned int mxs_watch_remove_all(struct mxs_watches *reg,
				  struct mxs_watch_owner *o);

typedef void (*mxs_watch_fn)(void *arg, const struct mxs_watch *w,
			     const char *path);

/*
 * Calls fn for every watch that a change of `path` fires: with exact,
 * watches on exactly path; otherwise watches on path or any ancestor
 * ("/" watches everything).  Calls are ordered by owner creation, then
 * watch creation (the C daemon's order); a watch whose event (path and
 * token) its owner already gets from this change is skipped, as the C
 * daemon sends it once.  Runs fn under the shared lock.  Returns the
 * number of events, or -ENOMEM.
 */
int mxs_watches_fire(struct mxs_watches *reg, const char *path, bool exact,
		     mxs_watch_fn fn, void *arg);

/* The event path a watch reports for a change of path (relative cut). */
const char *mxs_watch_event_path(const struct mxs_watch *w, const char *path);

/* Total number of watches. */
unsigned long mxs_watches_count(struct mxs_watches *reg);
/* Watches of one owner (watches quota, CONTROL quota).  Any thread:
 * takes the registry lock for reading. */
unsigned int mxs_watches_owner_count(struct mxs_watches *reg,
				     const struct mxs_watch_owner *o);
/* Path and token bytes of one owner's watches (memory quota).  Any
 * thread, no lock: some recent value, exact on the owner's thread. */
uint64_t mxs_watches_owner_bytes(const struct mxs_watch_owner *o);

#ifdef __cplusplus
}
#endif

#endif
