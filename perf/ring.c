/* SPDX-License-Identifier: MIT */
/*
 * The guest-ring transport of the load generator: a connection is the
 * guest side of one simulated domain's xenstore ring (tests/xensim), its
 * target the domain's id.  One poller is one xensim_evq: one pollable fd
 * serving every guest of a generator thread.
 *
 * Before a connection joins a poller its port is parked on the
 * environment's shared event queue (under the environment's lock), so
 * that it can notify the daemon; blocking receives look at the ring
 * itself.  poller_add moves the port to the poller's queue, which then
 * belongs to the poller's thread.
 *
 * Ring indices (xenstore-ring.txt): the guest produces req[] and consumes
 * rsp[].  Labels PERF_RING_R1/A1 (requests) and PERF_RING_A2/R2
 * (responses) name our halves; the daemon's halves are its own.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
/* xs_wire.h needs the fixed-width types first. */
#include <xen/io/xs_wire.h>

#include "perf/perf.h"
#include "tests/xensim/xensim.h"

/* A blocking wait gives up after this long: a daemon that stopped. */
#define RING_WAIT_NS (60ull * 1000000000ull)
#define RING_DOMS 0x7FF0u

struct mxs_perf_ring_env {
	struct xensim_sim *sim;
	pthread_mutex_t lock; /* guards park and every guest attached to it */
	struct xensim_evq *park;
};

static struct mxs_perf_ring_env ring_env = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

struct ring_conn {
	struct xensim_guest *g;
	struct xensim_evq *q;	     /* where g is attached */
	struct mxs_perf_poller *p;   /* NULL while parked on ring_env.park */
	struct xenstore_domain_interface *r;
	uint32_t domid;
	bool ready; /* in p's ready list */
};

struct mxs_perf_poller {
	struct xensim_evq *q;
	struct mxs_perf_conn **by_dom; /* domid -> connection */
	/* Connections known to have events, not yet handed out. */
	struct mxs_perf_conn **ready;
	size_t nready, cap;
};

int mxs_perf_ring_env_open(const char *simdir)
{
	int rc;

	if (ring_env.sim)
		return 0;
	if ((rc = xensim_open(simdir, &ring_env.sim)))
		return rc;
	if ((rc = xensim_evq_open(ring_env.sim, &ring_env.park))) {
		xensim_close(ring_env.sim);
		ring_env.sim = NULL;
	}
	return rc;
}

struct xensim_sim *mxs_perf_ring_sim(void)
{
	return ring_env.sim;
}

static struct ring_conn *rc_of(struct mxs_perf_conn *c)
{
	return c->priv;
}

static int ring_open(struct mxs_perf_conn *c, const char *target)
{
	struct ring_conn *k;
	char *end;
	unsigned long d = strtoul(target, &end, 10);
	int rc;

	if (!ring_env.sim)
		return -ENXIO;
	if (*end || d == 0 || d >= RING_DOMS)
		return -EINVAL;
	if (!(k = calloc(1, sizeof(*k))))
		return -ENOMEM;
	k->domid = (uint32_t)d;
	k->r = xensim_domain_ring(ring_env.sim, k->domid);
	pthread_mutex_lock(&ring_env.lock);
	rc = k->r ? xensim_guest_attach(ring_env.park, k->domid, &k->g)
		  : -ENOENT;
	pthread_mutex_unlock(&ring_env.lock);
	if (rc) {
		free(k);
		return rc;
	}
	k->q = ring_env.park;
	c->priv = k;
	return 0;
}

/* Kicks the daemon.  Caller: c's thread. */
static void ring_kick(struct ring_conn *k)
{
	uint32_t port = xensim_guest_port(k->g);

	if (k->p) {
		xensim_evq_notify(k->q, k->domid, port);
		return;
	}
	pthread_mutex_lock(&ring_env.lock);
	xensim_evq_notify(k->q, k->domid, port);
	pthread_mutex_unlock(&ring_env.lock);
}

/* Sleeps a little while waiting on the ring; false past the deadline. */
static bool ring_pause(uint64_t deadline)
{
	struct timespec ts = { 0, 20000 };

	if (mxs_perf_now_ns() > deadline)
		return false;
	nanosleep(&ts, NULL);
	return true;
}

static int ring_send(struct mxs_perf_conn *c, const void *p, size_t n)
{
	struct ring_conn *k = rc_of(c);
	struct xenstore_domain_interface *r = k->r;
	uint64_t deadline = mxs_perf_now_ns() + RING_WAIT_NS;
	const char *b = p;

	while (n) {
		uint32_t cons, prod, space, off, chunk;

		/* PERF_RING_A1: the daemon released req_cons after copying
		 * the bytes out; only then is the space free. */
		cons = __atomic_load_n(&r->req_cons, __ATOMIC_ACQUIRE);
		prod = r->req_prod; /* ours */
		if (prod - cons > XENSTORE_RING_SIZE)
			return -EIO;
		space = XENSTORE_RING_SIZE - (prod - cons);
		if (!space) {
			/* Full: the daemon has been kicked already. */
			if (!ring_pause(deadline))
				return -ETIMEDOUT;
			continue;
		}
		off = MASK_XENSTORE_IDX(prod);
		chunk = XENSTORE_RING_SIZE - off;
		if (chunk > space)
			chunk = space;
		if (chunk > n)
			chunk = (uint32_t)n;
		memcpy(r->req + off, b, chunk);
		/* PERF_RING_R1: the bytes before the index; the daemon
		 * acquires req_prod. */
		__atomic_store_n(&r->req_prod, prod + chunk, __ATOMIC_RELEASE);
		b += chunk;
		n -= chunk;
		ring_kick(k);
	}
	return 0;
}

static ssize_t ring_recv(struct mxs_perf_conn *c, void *p, size_t n, bool wait)
{
	struct ring_conn *k = rc_of(c);
	struct xenstore_domain_interface *r = k->r;
	uint64_t deadline = 0;
	size_t got = 0;

	for (;;) {
		uint32_t prod, cons, off, chunk;

		if (__atomic_load_n(&r->error, __ATOMIC_ACQUIRE))
			return -EPIPE;
		/* PERF_RING_A2: the daemon released rsp_prod after copying
		 * the bytes in. */
		prod = __atomic_load_n(&r->rsp_prod, __ATOMIC_ACQUIRE);
		cons = r->rsp_cons; /* ours */
		if (prod - cons > XENSTORE_RING_SIZE)
			return -EIO;
		if (prod != cons && got < n) {
			bool was_busy = prod - cons >= XENSTORE_RING_SIZE / 2;

			off = MASK_XENSTORE_IDX(cons);
			chunk = XENSTORE_RING_SIZE - off;
			if (chunk > prod - cons)
				chunk = prod - cons;
			if (chunk > n - got)
				chunk = (uint32_t)(n - got);
			memcpy((char *)p + got, r->rsp + off, chunk);
			got += chunk;
			/* PERF_RING_R2: the space is free once the bytes are
			 * out; the daemon acquires rsp_cons. */
			__atomic_store_n(&r->rsp_cons, cons + chunk,
					 __ATOMIC_RELEASE);
			/* A daemon blocked on a full response ring waits for
			 * this; below half full it is not blocked. */
			if (was_busy)
				ring_kick(k);
			continue;
		}
		if (got || !wait)
			return (ssize_t)got;
		if (!deadline)
			deadline = mxs_perf_now_ns() + RING_WAIT_NS;
		if (!ring_pause(deadline))
			return -ETIMEDOUT;
	}
}

/* Detaches k's guest from wherever it is attached. */
static void ring_detach(struct ring_conn *k)
{
	if (!k->g)
		return;
	if (k->p) {
		k->p->by_dom[k->domid] = NULL;
		xensim_guest_detach(k->g);
	} else {
		pthread_mutex_lock(&ring_env.lock);
		xensim_guest_detach(k->g);
		pthread_mutex_unlock(&ring_env.lock);
	}
	k->g = NULL;
}

static void ring_close(struct mxs_perf_conn *c)
{
	struct ring_conn *k = rc_of(c);

	if (!k)
		return;
	if (k->p && k->ready) {
		/* Drop it from the ready list. */
		for (size_t i = 0; i < k->p->nready; i++)
			if (k->p->ready[i] == c) {
				k->p->ready[i] = k->p->ready[--k->p->nready];
				break;
			}
	}
	ring_detach(k);
	free(k);
	c->priv = NULL;
}

static struct mxs_perf_poller *ring_poller_new(void)
{
	struct mxs_perf_poller *p = calloc(1, sizeof(*p));

	if (!p || !ring_env.sim)
		goto fail;
	p->by_dom = calloc(RING_DOMS, sizeof(*p->by_dom));
	if (!p->by_dom || xensim_evq_open(ring_env.sim, &p->q))
		goto fail;
	return p;
fail:
	if (p)
		free(p->by_dom);
	free(p);
	return NULL;
}

static int ring_mark(struct mxs_perf_poller *p, struct mxs_perf_conn *c)
{
	struct ring_conn *k = rc_of(c);

	if (k->ready)
		return 0;
	if (p->nready == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		struct mxs_perf_conn **v = realloc(p->ready, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->ready = v;
		p->cap = cap;
	}
	p->ready[p->nready++] = c;
	k->ready = true;
	return 0;
}

static int ring_poller_add(struct mxs_perf_poller *p, struct mxs_perf_conn *c)
{
	struct ring_conn *k = rc_of(c);
	int rc;

	if (k->p)
		return -EBUSY;
	ring_detach(k);
	if ((rc = xensim_guest_attach(p->q, k->domid, &k->g)))
		return rc;
	k->q = p->q;
	k->p = p;
	p->by_dom[k->domid] = c;
	/* Bytes may have come while it moved. */
	return ring_mark(p, c);
}

/* Waits for p's event queue up to *ts (NULL: forever). 1 ready, 0 not,
 * -errno. */
static int ring_evq_wait(struct mxs_perf_poller *p, const struct timespec *ts)
{
	struct pollfd pfd = { .fd = xensim_evq_fd(p->q), .events = POLLIN };
	int n;

	do
		n = ppoll(&pfd, 1, ts, NULL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n > 0;
}

/* ring_poller_wait, waiting at most *ts. */
static int ring_poller_wait_ts(struct mxs_perf_poller *p,
			       struct mxs_perf_conn **ready, int max,
			       const struct timespec *ts)
{
	uint32_t domid, port;
	int i, n, rc;

	if (!p->nready) {
		rc = ring_evq_wait(p, ts);
		if (rc < 0)
			return rc;
		/* Unmask before the caller looks at the ring: an event after
		 * its look is queued again and wakes us, none is lost. */
		while ((rc = xensim_evq_pending(p->q, &domid, &port)) == 0) {
			struct mxs_perf_conn *c =
				domid < RING_DOMS ? p->by_dom[domid] : NULL;

			xensim_evq_unmask(p->q, domid, port);
			if (c && (rc = ring_mark(p, c)))
				return rc;
		}
		if (rc != -EAGAIN)
			return rc;
	}
	n = p->nready < (size_t)max ? (int)p->nready : max;
	for (i = 0; i < n; i++) {
		ready[i] = p->ready[--p->nready];
		rc_of(ready[i])->ready = false;
	}
	return n;
}

static int ring_poller_wait(struct mxs_perf_poller *p,
			    struct mxs_perf_conn **ready, int max,
			    int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000,
			       (long)(timeout_ms % 1000) * 1000000 };

	return ring_poller_wait_ts(p, ready, max, timeout_ms < 0 ? NULL : &ts);
}

int mxs_perf_ring_wait_until(struct mxs_perf_poller *p,
			     struct mxs_perf_conn **ready, int max,
			     uint64_t until_ns)
{
	uint64_t now = mxs_perf_now_ns(),
		 left = until_ns > now ? until_ns - now : 0;
	struct timespec ts = { (time_t)(left / 1000000000ull),
			       (long)(left % 1000000000ull) };

	return ring_poller_wait_ts(p, ready, max, &ts);
}

static void ring_poller_free(struct mxs_perf_poller *p)
{
	/* Connections still on it go back to the park. */
	for (uint32_t d = 0; d < RING_DOMS; d++) {
		struct mxs_perf_conn *c = p->by_dom[d];
		struct ring_conn *k;

		if (!c)
			continue;
		k = rc_of(c);
		ring_detach(k);
		k->p = NULL;
		k->ready = false;
		pthread_mutex_lock(&ring_env.lock);
		if (!xensim_guest_attach(ring_env.park, k->domid, &k->g))
			k->q = ring_env.park;
		pthread_mutex_unlock(&ring_env.lock);
	}
	xensim_evq_close(p->q);
	free(p->by_dom);
	free(p->ready);
	free(p);
}

const struct mxs_perf_transport mxs_perf_ring = {
	.name = "ring",
	.open = ring_open,
	.send = ring_send,
	.recv = ring_recv,
	.close = ring_close,
	.poller_new = ring_poller_new,
	.poller_add = ring_poller_add,
	.poller_wait = ring_poller_wait,
	.poller_free = ring_poller_free,
};
