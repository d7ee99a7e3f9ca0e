/* SPDX-License-Identifier: MIT */
/*
 * Watch-event delivery: the layer between request handling (ops.c,
 * domain.c) and connections (conn.c, inbox.c).  A change fires the
 * registry's matching watches; each event is built once and queued on
 * its connection, directly on this worker or through the owner's event
 * queue, all under the commit-order lock (docs/design.md, "Order and
 * finality of watch events").  Runs on workers, online for RCU.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/daemon.h"

struct fire_ctx {
	struct mxs_daemon *d;
	struct mxs_worker *self;
	const struct mxs_change *ch;
};

/*
 * Registry callback (shared registry lock and d->commit_lock held): one
 * event, built once; queued directly on this worker's connections, handed
 * to the owner's event queue otherwise.  Both happen under the commit
 * lock, so each connection gets the events of commits in commit order.
 */
static void fire_watch(void *arg, const struct mxs_watch *w, const char *path)
{
	struct fire_ctx *f = arg;
	struct mxs_conn *c = w->owner->ctx;
	struct mxs_out *o;
	int rc;

	if (!mxs_store_watch_permitted(f->d->store, mxs_conn_caller(c), path,
				       f->ch->perms, f->ch->nperms))
		return;
	rc = mxs_out_event_new(mxs_watch_event_path(w, path), mxs_watch_token(w), &o);
	if (rc == -ENOMEM)
		mxs_conn_lose_event(c, f->self); /* never lost silently */
	if (rc)
		return; /* or oversized: dropped, as by the C daemon */
	if (c->w == f->self) {
		mxs_conn_queue_out_event(c, o);
		return;
	}
	mxs_conn_get(c);
	o->conn = c;
	mxs_worker_post_event(c->w, o);
}

void mxs_fire_changes(struct mxs_daemon *d, struct mxs_changes *ch)
{
	struct fire_ctx f = { d, mxs_worker_self(), NULL };
	size_t i;

	for (i = 0; i < ch->n; i++) {
		f.ch = &ch->v[i];
		mxs_watches_fire(d->watches, ch->v[i].path, ch->v[i].exact,
				 fire_watch, &f);
	}
	mxs_changes_clear(ch);
}

/*
 * Adaptive: a writer that finds the lock taken spins a little before it
 * sleeps.  Commits hold it for about a microsecond, so with writers on
 * two workers a blocked lock() was mostly a futex wait and a futex wake
 * (two system calls and a context switch each way) for a wait shorter
 * than either (docs/performance.md, "Ring requests: CPU per request").
 */
int mxs_commit_lock_init(struct mxs_daemon *d)
{
	pthread_mutexattr_t a;
	int rc = pthread_mutexattr_init(&a);

	if (rc)
		return -rc;
	rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
	if (!rc)
		rc = pthread_mutex_init(&d->commit_lock, &a);
	pthread_mutexattr_destroy(&a);
	return -rc;
}

void mxs_commit_begin(struct mxs_daemon *d)
{
	struct mxs_worker *self = mxs_worker_self();

	pthread_mutex_lock(&d->commit_lock);
	/*
	 * Events that other workers posted here came from commits applied
	 * before this one (posted under this lock, so complete now): they
	 * go to their connections before anything this commit queues
	 * directly.
	 */
	if (self)
		mxs_worker_take_events(self);
}

void mxs_commit_end(struct mxs_daemon *d)
{
	pthread_mutex_unlock(&d->commit_lock);
}

/* A special watch (@introduceDomain, @releaseDomain) fires from worker w,
 * as one commit of its own. */
void mxs_fire_special(struct mxs_worker *w, const char *name)
{
	struct mxs_change ch = { .path = (char *)name };
	struct fire_ctx f = { w->d, w, &ch };

	mxs_commit_begin(w->d);
	mxs_watches_fire(w->d->watches, name, false, fire_watch, &f);
	mxs_commit_end(w->d);
}
