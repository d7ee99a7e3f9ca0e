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
 * epoll_wait (or io_uring_enter, --io uring) and announce a quiescent
 * state after each batch, so store pointers are never held across a
 * batch.
 *
 * One batch: the inbox; socket events (--io uring: the connections whose
 * receives completed or sends failed, core/uringconn.c); the
 * event-channel fd (every pending port, core/ringconn.c); connections
 * left over by their request budget; replies flushed; each ring peer
 * notified at most once; then, on worker 0, the VIRQ_DOM_EXC sweep.
 * Then the worker blocks unless work is left over: it does not poll for
 * more.  Empty polling rounds (epoll_wait with no timeout) took the
 * cores from the clients and guests they were waiting for
 * (docs/performance.md, "No polling before sleeping").
 *
 * Start: mxs_workers_start returns only once every worker has made its
 * io_uring ring (or fallen back to epoll), so the main thread accepts
 * no client before.  A worker that served an early client closed it
 * through its ring, and a worker still making its ring was given that
 * number: nothing wrong for the kernel, but the close and the ring's
 * creation are system calls ThreadSanitizer does not see, so it took
 * the ring's set-up for an unordered use of the descriptor the main
 * thread had accepted, and reported a race (tests/integration/
 * test_startup.py).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xen/xen.h>

#include "core/daemon.h"
#include "core/domain.h"
#include "core/dominfo.h"
#include "store/rcu.h"

#define EVENTS_PER_WAIT 64

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
			if (!(w->uw ? mxs_uconn_new : mxs_conn_new)(w, m->fd,
								     m->seq))
				close(m->fd);
			break;
		case MXS_INBOX_STOP:
			w->stopping = true;
			break;
		case MXS_INBOX_INTRODUCE:
			mxs_domain_serve_here(w, m);
			break;
		case MXS_INBOX_RELEASE:
			mxs_domain_release_here(w, m);
			break;
		case MXS_INBOX_REPLY:
			mxs_conn_queue(m->conn, m->hdr.type, m->hdr.req_id,
				       m->hdr.tx_id, m->data, m->len);
			mxs_conn_unblock(m->conn);
			mxs_conn_put(m->conn);
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

void mxs_worker_run_again(struct mxs_worker *w)
{
	struct mxs_conn *list = w->again, *done = NULL, *c;

	w->again = NULL;
	while ((c = list)) {
		list = c->next_again;
		c->again = false;
		if (!c->closed) {
			if (c->dom)
				mxs_ringconn_serve(c);
			else
				mxs_conn_readable(c);
		}
		c->next_served = done; /* our reference, for the re-check */
		done = c;
	}
	mxs_worker_service_dirty(w);
	while ((c = done)) {
		done = c->next_served;
		if (c->dom && !c->again && mxs_ringconn_has_work(c))
			mxs_conn_again(c);
		mxs_conn_put(c);
	}
}

static void *worker_main(void *arg)
{
	struct mxs_worker *w = arg;
	struct epoll_event ev[EVENTS_PER_WAIT];
	bool run = true;
	int n, i;

	mxs_worker_adopt(w);
	rcu_register_thread();
	/* The ring is the thread's own (a single issuer): made here. */
	if (w->d->cfg.io == MXS_IO_URING) {
		int rc = mxs_worker_uring_start(w);

		if (rc)
			mxs_log("worker %u: no io_uring (%s): sockets through "
				"epoll", w->id, strerror(-rc));
	}
	pthread_mutex_lock(&w->d->start_lock);
	w->d->nstarted++;
	pthread_cond_signal(&w->d->start_cond);
	pthread_mutex_unlock(&w->d->start_lock);
	while (run) {
		bool sleep = !w->again, woken = false, rings = false;
		/* Connections held back by the write rate limit, and the
		 * next watch event to time out, bound the sleep (ms,
		 * rounded up). */
		uint64_t now = w->delayed || w->timed ? mxs_now_ns() : 0;
		uint64_t due = w->delayed ? mxs_worker_run_delayed(w, now) : 0;
		uint64_t tdue = w->timed ? mxs_worker_run_timed(w, now) : 0;
		int tmo;

		if (tdue && (!due || tdue < due))
			due = tdue;
		tmo = due ? (int)((due - now + 999999) / 1000000) : -1;
		/* Events dropped: their connections have room to use now. */
		if (w->again || w->dirty ||
		    (w->uw && mxs_worker_uring_busy(w)))
			sleep = false;
		if (sleep)
			mxs_rcu_offline();
		if (w->uw) {
			n = mxs_worker_uring_wait(w, ev, EVENTS_PER_WAIT,
						  sleep ? tmo : 0);
			if (n < 0)
				errno = -n, n = -1;
		} else {
			n = epoll_wait(w->epfd, ev, EVENTS_PER_WAIT,
				       sleep ? tmo : 0);
		}
		if (sleep)
			mxs_rcu_online();
		if (n < 0) {
			if (errno == EINTR)
				continue;
			mxs_log("worker %u: %s: %s", w->id,
				w->uw ? "io_uring" : "epoll_wait",
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
		for (i = 0; i < n; i++) {
			woken |= !ev[i].data.ptr;
			rings |= ev[i].data.ptr == &w->xce_fd;
		}
		run = drain_inbox(w, woken) && run;
		for (i = 0; i < n; i++) {
			struct mxs_conn *c = ev[i].data.ptr;

			if (!c || ev[i].data.ptr == &w->xce_fd)
				continue; /* drained above, or below */
			if (c->closed)
				continue;
			if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				mxs_conn_readable(c);
			if (!c->closed && (ev[i].events & EPOLLOUT))
				mxs_conn_mark_dirty(c);
		}
		if (w->uw)
			mxs_worker_uring_serve(w);
		if (rings)
			mxs_worker_rings_run(w);
		mxs_worker_run_again(w);
		mxs_worker_service_dirty(w);
		mxs_worker_notify_all(w);
		if (w->virq) {
			w->virq = false;
			mxs_domains_sweep(w);
		}
		mxs_worker_bury(w);
		mxs_rcu_quiescent();
	}
	/*
	 * Orderly stop: close what this worker owns, then drop the events
	 * queued to closed connections.  That drain also serves what other
	 * workers posted since the loop's last one: an INTRODUCE among it
	 * makes a new ring connection, closed by the next round.
	 */
	do {
		while (!cds_list_empty(&w->conns))
			mxs_conn_close(cds_list_first_entry(
				&w->conns, struct mxs_conn, link));
		mxs_worker_run_delayed(w, UINT64_MAX); /* their references */
		mxs_worker_run_timed(w, UINT64_MAX);
		drain_inbox(w, true);
	} while (!cds_list_empty(&w->conns));
	mxs_worker_service_dirty(w);
	mxs_worker_notify_all(w);
	while (w->again) {
		struct mxs_conn *c = w->again;

		w->again = c->next_again;
		c->again = false;
		mxs_conn_put(c);
	}
	mxs_worker_bury(w);
	if (w->uw)
		mxs_worker_uring_stop(w); /* the last references */
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

/*
 * Every worker gets its own event-channel handle, worker 0 also
 * VIRQ_DOM_EXC.  Without event channels (no Xen, no simulator) the
 * daemon serves sockets only.
 */
static void open_evtchns(struct mxs_daemon *d)
{
	unsigned int i;
	int rc = 0;

	for (i = 0; i < d->nworkers && !rc; i++)
		rc = mxs_worker_evtchn_open(&d->workers[i]);
	if (!rc) {
		rc = xenevtchn_bind_virq(d->workers[0].xce, VIRQ_DOM_EXC);
		if (rc < 0)
			rc = -errno;
		else
			d->workers[0].virq_port = (uint32_t)rc, rc = 0;
	}
	if (rc) {
		mxs_log("no event channels (%s): serving the socket only",
			strerror(-rc));
		for (i = 0; i < d->nworkers; i++)
			mxs_worker_evtchn_close(&d->workers[i]);
		return;
	}
	d->domains = true;
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
	d->dispatch = mxs_dispatch;
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
	}
	open_evtchns(d);
	if (d->domains)
		mxs_domains_plugin(d);
	pthread_mutex_init(&d->start_lock, NULL);
	pthread_cond_init(&d->start_cond, NULL);
	d->nstarted = 0;
	rc = 0;
	for (i = 0; i < d->nworkers; i++) {
		struct mxs_worker *w = &d->workers[i];

		rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc)
			break;
		pin(w);
	}
	/* The i created have made their rings (the opening comment). */
	pthread_mutex_lock(&d->start_lock);
	while (d->nstarted < i)
		pthread_cond_wait(&d->start_cond, &d->start_lock);
	pthread_mutex_unlock(&d->start_lock);
	return -rc;
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

			if (m->conn)
				mxs_conn_put(m->conn);
			if (m->kind == MXS_INBOX_CONN)
				close(m->fd);
			else if (m->kind == MXS_INBOX_INTRODUCE &&
				 !m->dom->conn)
				free(m->dom); /* never served */
			free(m);
		}
		mxs_worker_evtchn_close(w);
		if (w->dominfo)
			mxs_dominfo_unload(w->dominfo);
		close(w->epfd);
		close(w->evfd);
		mxs_buf_free(&w->reply);
		mxs_changes_clear(&w->changes);
		free(w->changes.v);
	}
	free(d->workers);
	d->workers = NULL;
	pthread_cond_destroy(&d->start_cond);
	pthread_mutex_destroy(&d->start_lock);
}
