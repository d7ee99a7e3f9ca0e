/* SPDX-License-Identifier: MIT */
/*
 * Ring connections and each worker's event channels.
 *
 * Every worker owns a set of domains and its own event-channel handle,
 * whose fd is in the worker's own epoll set (with io_uring, polled by
 * the ring itself, core/uringconn.c); their interdomain ports are
 * bound there, so a domain's requests are served on one thread with no
 * hand-off.  One wake of that fd is one batch:
 *
 *   while ((p = pending()) >= 0)       drain every pending port
 *           queue p's connection         (p stays masked)
 *   for each queued connection:        serve its ring until it would
 *           reconnection? reset          block or its budget runs out
 *           read requests, dispatch
 *   flush queued replies (conn.c,      a reply that fit, with nothing
 *     once per connection)               queued, went in at once
 *   for each port taken:               unmask, then look at the ring
 *           unmask(p)                    again: bytes that arrived after
 *           ring has work? queue again   the last read and before the
 *                                        unmask are served next batch
 *   notify each connection whose indices moved, once
 *
 * No notification is lost: the guest publishes req_prod, then notifies;
 * a notification while the port is masked stays pending and is delivered
 * at the unmask, and what was published before the unmask is seen by the
 * re-check (its acquire load of req_prod, RING_A1 in rings/ring.c).
 *
 * A peer is notified only when it may be waiting (we consumed requests,
 * so it may wait for room; we produced replies, so it may wait for them)
 * and at most once per batch.  The ring page offers no "event index" to
 * know more, so that is the most a server can save.
 *
 * A hostile ring (indices out of range, a header longer than 4096 bytes)
 * gets the page's error field (RINGIDX / PROTO), one log line, and is not
 * served any more (its packets, watches and transactions are dropped):
 * its notifications cost one look at the connection field each, since
 * the guest may still reset the ring with the reconnection handshake.
 * The domain stays introduced until it is released or dies.
 *
 * Owner worker only, throughout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>

#include <xenevtchn.h>
#include <xengnttab.h>

#include "core/domain.h"

static xenevtchn_handle *xce(const struct mxs_worker *w)
{
	return w->xce;
}

static ssize_t ring_recv(struct mxs_conn *c, void *buf, size_t len)
{
	ssize_t n = mxs_ring_read(&c->dom->ring, buf, len);

	if (n > 0) {
		mxs_conn_want_notify(c);
		return n;
	}
	return n == 0 ? -EAGAIN : n;
}

static void ring_fail(struct mxs_conn *c, uint32_t error)
{
	struct mxs_domain *dom = c->dom;

	if (c->stopped)
		return;
	c->stopped = true;
	if (mxs_ring_error(&dom->ring) == MXS_RING_ERR_NONE)
		mxs_ring_set_error(&dom->ring, error);
	/* xenstore-ring.txt: packets, requests, watches and transactions
	 * of the connection are discarded. */
	mxs_conn_reset_io(c);
	mxs_conn_drop_state(c);
	mxs_log("domain %u: ring error %u, not served any more",
		dom->domid, (unsigned int)error);
}

static ssize_t ring_sendv(struct mxs_conn *c, const struct iovec *iov,
			  int cnt)
{
	ssize_t total = 0, n;
	int i;

	for (i = 0; i < cnt; i++) {
		n = mxs_ring_write(&c->dom->ring, iov[i].iov_base,
				   iov[i].iov_len);
		if (n < 0) {
			ring_fail(c, MXS_RING_ERR_RINGIDX);
			return 0;
		}
		total += n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	if (total)
		mxs_conn_want_notify(c);
	return total;
}

/* A reply straight into the ring when it fits whole (conn.c calls this
 * only with nothing queued); one index update exposes header and payload.
 * No room, or a broken ring: queued, and the flush's write (failing on a
 * broken ring) stops the connection (ring_fail). */
static bool ring_send_now(struct mxs_conn *c, const void *hdr, size_t hlen,
			  const void *payload, size_t len)
{
	if (c->stopped ||
	    mxs_ring_write2(&c->dom->ring, hdr, hlen, payload, len) <= 0)
		return false;
	mxs_conn_want_notify(c);
	return true;
}

static void ring_want_send(struct mxs_conn *c, bool out_queued, bool stalled)
{
	/* The guest notifies after it consumed replies: the port wakes us
	 * for the rest. */
	(void)c;
	(void)out_queued;
	(void)stalled;
}

static void ring_notify(struct mxs_conn *c)
{
	if (xenevtchn_notify(xce(c->w), c->dom->port) < 0)
		mxs_log("domain %u: notify: %s", c->dom->domid,
			strerror(errno));
}

static void ring_close(struct mxs_conn *c)
{
	struct mxs_domain *dom = c->dom;
	struct mxs_worker *w = c->w;

	if (dom->port < w->nports && w->ports[dom->port] == c)
		w->ports[dom->port] = NULL;
	if (dom->port && xenevtchn_unbind(xce(w), dom->port) < 0)
		mxs_log("domain %u: unbind port %u: %s", dom->domid,
			dom->port, strerror(errno));
	dom->port = 0;
	if (dom->kva)
		munmap(dom->page, 4096);
	else if (xengnttab_unmap(w->xgt, dom->page, 1) < 0)
		mxs_log("domain %u: unmap: %s", dom->domid, strerror(errno));
	dom->page = NULL;
}

static const struct mxs_transport ring_transport = {
	.name = "ring",
	.recv = ring_recv,
	.sendv = ring_sendv,
	.send_now = ring_send_now,
	.want_send = ring_want_send,
	.notify = ring_notify,
	.fail = ring_fail,
	.close = ring_close,
};

/* Maps local port -> c (grows the table).  0 or -ENOMEM. */
static int port_set(struct mxs_worker *w, uint32_t port, struct mxs_conn *c)
{
	if (port >= w->nports) {
		size_t n = w->nports ? w->nports : 64;
		struct mxs_conn **p;

		while (n <= port)
			n *= 2;
		p = realloc(w->ports, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memset(p + w->nports, 0, (n - w->nports) * sizeof(*p));
		w->ports = p;
		w->nports = n;
	}
	w->ports[port] = c;
	return 0;
}

int mxs_ringconn_rebind(struct mxs_conn *c, uint32_t remote_port)
{
	struct mxs_domain *dom = c->dom;
	struct mxs_worker *w = c->w;
	int rc;

	if (dom->port < w->nports)
		w->ports[dom->port] = NULL;
	if (dom->port)
		xenevtchn_unbind(xce(w), dom->port);
	dom->port = 0;
	rc = xenevtchn_bind_interdomain(xce(w), dom->domid, remote_port);
	if (rc < 0)
		return -errno;
	dom->port = (uint32_t)rc;
	dom->remote_port = remote_port;
	return port_set(w, dom->port, c);
}

struct mxs_conn *mxs_ringconn_new(struct mxs_worker *w,
				  struct mxs_domain *dom)
{
	struct mxs_daemon *d = w->d;
	struct mxs_conn *c = calloc(1, sizeof(*c));
	struct mxs_caller who = {
		.domid = dom->domid,
		.target = MXS_NO_TARGET,
		.privileged = dom->domid == 0 || dom->domid == d->cfg.priv_domid,
		.readonly = false,
	};

	if (!c)
		return NULL;
	c->fd = -1;
	c->dom = dom;
	if (port_set(w, dom->port, c)) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	/* Domain connections come after every socket so far: the watch
	 * order of the C daemon is by connection creation. */
	mxs_conn_init(c, w, &ring_transport,
		      __atomic_add_fetch(&d->conn_seq, 1, __ATOMIC_RELAXED),
		      &who);
	return c;
}

int mxs_worker_evtchn_open(struct mxs_worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->xce_fd };
	xenevtchn_handle *h;
	xengnttab_handle *g;
	int fd;

	h = xenevtchn_open(NULL, 0);
	if (!h)
		return -errno;
	g = xengnttab_open(NULL, 0);
	if (!g) {
		int e = errno;

		xenevtchn_close(h);
		return -e;
	}
	/* One grant per domain at most. */
	xengnttab_set_max_grants(g, MXS_DOMID_FIRST_RESERVED);
	fd = xenevtchn_fd(h);
	/* The real device blocks unless told not to: drain with EAGAIN. */
	if (fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;

		xengnttab_close(g);
		xenevtchn_close(h);
		return -e;
	}
	w->xce = h;
	w->xgt = g;
	w->xce_fd = fd;
	return 0;
}

void mxs_worker_evtchn_close(struct mxs_worker *w)
{
	if (!w->xce)
		return;
	if (w->virq_port)
		xenevtchn_unbind(xce(w), w->virq_port);
	xenevtchn_close(xce(w));
	xengnttab_close(w->xgt);
	w->xce = NULL;
	w->xgt = NULL;
	free(w->ports);
	w->ports = NULL;
	w->nports = 0;
}

bool mxs_ringconn_has_work(struct mxs_conn *c)
{
	struct mxs_ring *r = &c->dom->ring;

	if (c->closed)
		return false;
	if (!c->blocked && mxs_ring_reconnect_requested(r))
		return true;
	if (c->stopped)
		return false;
	if (c->out_head && mxs_ring_writable(r))
		return true;
	return mxs_conn_can_serve(c) && c->in_len < sizeof(c->in) &&
	       mxs_ring_readable(r);
}

/*
 * The reconnection handshake (xenstore-ring.txt): drop partial packets,
 * queued requests and replies, watches and transactions; reset the
 * indices; connection = CONNECTED (RING_R4 in rings/ring.c); notify.
 * A request being answered on another worker finishes first.
 */
static void reconnect(struct mxs_conn *c)
{
	struct mxs_domain *dom = c->dom;

	/* The dropped watches' events go with the rest of the old
	 * output. */
	mxs_conn_reset_state(c);
	mxs_conn_reset_io(c);
	mxs_ring_reset(&dom->ring);
	c->stopped = false;
	mxs_conn_want_notify(c);
	if (mxs_verbose)
		mxs_log("domain %u: reconnected", dom->domid);
}

void mxs_ringconn_serve(struct mxs_conn *c)
{
	if (c->closed)
		return;
	if (!c->blocked && mxs_ring_reconnect_requested(&c->dom->ring))
		reconnect(c);
	if (!c->stopped)
		mxs_conn_readable(c);
}

void mxs_worker_rings_run(struct mxs_worker *w)
{
	struct mxs_conn *taken = NULL, *c;
	xenevtchn_port_or_error_t p;

	/* Every pending port, in one batch.  Each stays masked until the
	 * unmask below. */
	while ((p = xenevtchn_pending(xce(w))) >= 0) {
		uint32_t port = (uint32_t)p;

		if (port == w->virq_port && w->virq_port) {
			w->virq = true;
			xenevtchn_unmask(xce(w), port);
			continue;
		}
		c = port < w->nports ? w->ports[port] : NULL;
		if (!c) {
			xenevtchn_unmask(xce(w), port); /* released since */
			continue;
		}
		if (c->dom->masked)
			continue;
		c->dom->masked = true;
		mxs_conn_get(c);
		c->dom->next_masked = taken;
		taken = c;
		mxs_ringconn_serve(c);
	}
	if (p < 0 && errno != EAGAIN)
		mxs_log("worker %u: xenevtchn_pending: %s", w->id,
			strerror(errno));
	/* Replies out before the unmask: one flush per connection. */
	mxs_worker_service_dirty(w);
	while ((c = taken)) {
		taken = c->dom->next_masked;
		c->dom->masked = false;
		if (!c->closed) {
			xenevtchn_unmask(xce(w), c->dom->port);
			if (mxs_ringconn_has_work(c))
				mxs_conn_again(c);
		}
		mxs_conn_put(c);
	}
}
