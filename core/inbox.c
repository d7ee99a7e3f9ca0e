/* SPDX-License-Identifier: MIT */
/*
 * A worker's inbox and event queue, as seen by the threads that post to
 * it (any thread) and by the worker that takes from it.  The wake
 * protocol is core/mpsc.h's: one eventfd write per batch of posts.
 * Below request handling and event delivery, above connections (taken
 * events become their output).
 */
#include "core/daemon.h"

static __thread struct mxs_worker *self;

struct mxs_worker *mxs_worker_self(void)
{
	return self;
}

void mxs_worker_adopt(struct mxs_worker *w)
{
	self = w;
}

void mxs_worker_post(struct mxs_worker *w, struct mxs_inbox_msg *m)
{
	mxs_mpsc_push(&w->inbox, &m->node);
	mxs_mpsc_wake(&w->wake_pending, w->evfd);
}

void mxs_worker_post_event(struct mxs_worker *w, struct mxs_out *o)
{
	mxs_mpsc_push(&w->events, &o->qnode);
	mxs_mpsc_wake(&w->wake_pending, w->evfd);
}

void mxs_worker_take_events(struct mxs_worker *w)
{
	struct mxs_mpsc_node *node;

	while ((node = mxs_mpsc_pop(&w->events))) {
		struct mxs_out *o = caa_container_of(node, struct mxs_out,
						     qnode);
		struct mxs_conn *c = o->conn;

		mxs_conn_queue_out_event(c, o);
		mxs_conn_put(c);
	}
	/* CONN_LOST_A1: pairs with CONN_LOST_R1 in mxs_conn_lose_event().
	 * Rare: a scan of this worker's connections.  The relaxed load
	 * first keeps the locked exchange off every batch and commit. */
	if (__atomic_load_n(&w->ev_lost, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&w->ev_lost, 0, __ATOMIC_ACQUIRE)) {
		struct mxs_conn *c;

		cds_list_for_each_entry(c, &w->conns, link)
			if (__atomic_load_n(&c->ev_lost, __ATOMIC_RELAXED))
				mxs_conn_mark_dirty(c);
	}
}

void mxs_conn_reset_state(struct mxs_conn *c)
{
	mxs_conn_drop_state(c);
	mxs_worker_take_events(c->w);
}
