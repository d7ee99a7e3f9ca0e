/* SPDX-License-Identifier: MIT */
/*
 * Worker threads: one per CPU, each with its own epoll set, its own
 * connections and an inbox for work from other threads.
 *
 * Inbox, event queue and wake protocol (many producers, one consumer)
 * --------------------------------------------------------------------
 *  producer:  mxs_mpsc_push(inbox or events, m)
 *             mxs_mpsc_wake(&wake_pending, evfd)  (writes evfd on 0 -> 1)
 *  consumer:  read(evfd); mxs_mpsc_wake_clear(&wake_pending)
 *             pop events, then inbox, until empty
 *
 * One eventfd write wakes the worker for a whole batch (core/mpsc.h says
 * why none is lost).  The worker may also pop its event queue without
 * clearing the flag (mxs_worker_take_events, inside a dispatch): a message
 * pushed after that pop is still covered by the flag's pending eventfd
 * write.
 *
 * RCU: workers are urcu-qsbr readers.  They are offline while blocked in
 * epoll_wait and announce a quiescent state after each batch, so store
 * pointers are never held across a batch.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/daemon.h"
#include "store/rcu.h"

#define EVENTS_PER_WAIT 64

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
}

/* Returns false when the worker must stop.  woken: the eventfd fired. */
static bool drain_inbox(struct mxs_worker *w, bool woken)
{
	struct mxs_mpsc_node *node;
	uint64_t v;

	if (woken && read(w->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		mxs_log("worker %u: eventfd read: %s", w->id, strerror(errno));
	mxs_mpsc_wake_clear(&w->wake_pending);

	mxs_worker_take_events(w);
	while ((node = mxs_mpsc_pop(&w->inbox))) {
		struct mxs_inbox_msg *m =
			caa_container_of(node, struct mxs_inbox_msg, node);

		switch (m->kind) {
		case MXS_INBOX_CONN:
			if (!mxs_conn_new(w, m->fd, m->seq))
				close(m->fd);
			break;
		case MXS_INBOX_STOP:
			w->stopping = true;
			break;
		}
		free(m);
	}
	return !w->stopping;
}

void mxs_worker_bury(struct mxs_worker *w)
{
	while (w->graveyard) {
		struct mxs_conn *c = w->graveyard;

		w->graveyard = c->next_dead;
		mxs_conn_put(c);
	}
}

static void *worker_main(void *arg)
{
	struct mxs_worker *w = arg;
	struct epoll_event ev[EVENTS_PER_WAIT];
	bool run = true;
	int n, i;

	self = w;
	rcu_register_thread();
	while (run) {
		mxs_rcu_offline();
		n = epoll_wait(w->epfd, ev, EVENTS_PER_WAIT, -1);
		mxs_rcu_online();
		if (n < 0) {
			if (errno == EINTR)
				continue;
			mxs_log("worker %u: epoll_wait: %s", w->id,
				strerror(errno));
			break;
		}
		/*
		 * The inbox first, whether or not the eventfd fired: an event
		 * posted before a request that arrives in this batch (the
		 * writer was answered, then told the watcher) must reach the
		 * watcher before that request's reply, as with a single-
		 * threaded daemon.
		 */
		for (i = 0; i < n && ev[i].data.ptr; i++)
			;
		run = drain_inbox(w, i < n) && run;
		for (i = 0; i < n; i++) {
			struct mxs_conn *c = ev[i].data.ptr;

			if (!c)
				continue; /* eventfd: drained above */
			if (c->closed)
				continue;
			if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				mxs_conn_readable(c);
			if (!c->closed && (ev[i].events & EPOLLOUT))
				mxs_conn_mark_dirty(c);
		}
		mxs_worker_service_dirty(w);
		mxs_worker_bury(w);
		mxs_rcu_quiescent();
	}
	/* Orderly stop: close what this worker owns. */
	while (!cds_list_empty(&w->conns))
		mxs_conn_close(cds_list_first_entry(&w->conns, struct mxs_conn,
						    link));
	drain_inbox(w, true); /* drop events queued to closed connections */
	mxs_worker_bury(w);
	rcu_unregister_thread();
	return NULL;
}

static void pin(struct mxs_worker *w)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (ncpu <= 0)
		return;
	CPU_ZERO(&set);
	CPU_SET((int)(w->id % (unsigned long)ncpu), &set);
	/* Best effort: containers may forbid it. */
	(void)pthread_setaffinity_np(w->thread, sizeof(set), &set);
}

int mxs_workers_start(struct mxs_daemon *d)
{
	unsigned int i;
	int rc;

	/* Cache-line aligned: struct mxs_worker keeps what other threads
	 * write apart from the owner's fields. */
	if (posix_memalign((void **)&d->workers, MXS_CACHELINE,
			   d->nworkers * sizeof(*d->workers)))
		return -ENOMEM;
	memset(d->workers, 0, d->nworkers * sizeof(*d->workers));
	for (i = 0; i < d->nworkers; i++) {
		struct mxs_worker *w = &d->workers[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		w->id = i;
		w->d = d;
		CDS_INIT_LIST_HEAD(&w->conns);
		mxs_mpsc_init(&w->inbox);
		mxs_mpsc_init(&w->events);
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->epfd < 0 || w->evfd < 0 ||
		    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) < 0)
			return -errno;
		rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc)
			return -rc;
		pin(w);
	}
	return 0;
}

void mxs_workers_stop(struct mxs_daemon *d)
{
	unsigned int i;

	for (i = 0; i < d->nworkers; i++) {
		struct mxs_inbox_msg *m = calloc(1, sizeof(*m));

		if (!m)
			abort(); /* cannot stop cleanly without memory */
		m->kind = MXS_INBOX_STOP;
		mxs_worker_post(&d->workers[i], m);
	}
	for (i = 0; i < d->nworkers; i++) {
		struct mxs_worker *w = &d->workers[i];

		pthread_join(w->thread, NULL);
	}
	/* Every worker has stopped: nobody posts any more.  Drop what was
	 * queued to workers after their last drain. */
	for (i = 0; i < d->nworkers; i++) {
		struct mxs_worker *w = &d->workers[i];
		struct mxs_mpsc_node *node;

		while ((node = mxs_mpsc_pop(&w->events))) {
			struct mxs_out *o = caa_container_of(
				node, struct mxs_out, qnode);

			mxs_conn_put(o->conn);
			free(o);
		}
		while ((node = mxs_mpsc_pop(&w->inbox))) {
			struct mxs_inbox_msg *m = caa_container_of(
				node, struct mxs_inbox_msg, node);

			if (m->kind == MXS_INBOX_CONN)
				close(m->fd);
			free(m);
		}
		close(w->epfd);
		close(w->evfd);
		mxs_buf_free(&w->reply);
		mxs_changes_clear(&w->changes);
		free(w->changes.v);
	}
	free(d->workers);
	d->workers = NULL;
}
