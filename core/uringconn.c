/* SPDX-License-Identifier: MIT */
/*
 * The socket transport through io_uring (--io uring): one ring per worker
 * (core/uring.h), created and used by the worker thread only.
 *
 * - Receiving: one multishot RECV per connection into the worker's
 *   provided buffers.  A completed buffer is held, in order, on its
 *   connection until conn.c's recv copies it out; then it goes back to
 *   the kernel.  A connection holding URING_HELD_MAX buffers (its peer
 *   sends faster than it is served, or does not read its replies) has its
 *   receive cancelled and re-armed once it is below URING_HELD_LOW: held
 *   back, never dropped.  What it holds then, and what a connection that
 *   conn.c stopped serving (its output stalled) holds, is copied to the
 *   connection's own spill buffer and the buffers go back at once: the
 *   worker's buffers are shared by all its sockets, and clients that do
 *   not read must not take them from the others.  A receive that found
 *   no buffer (-ENOBUFS) waits on the worker's starved list until
 *   buffers come back.
 * - The worker's buffers are provided on demand: URING_NBUFS_FIRST at
 *   start, twice as many whenever connections hold more than three
 *   quarters of them or a receive found none (once per batch), up to
 *   URING_NBUFS.  The kernel takes buffers in ring order, so with all
 *   of them provided one connection's trickle soon touches every page:
 *   a quiet worker keeps its few, and the pages of the rest are never
 *   resident.  They are never taken back (a provided buffer cannot be
 *   withdrawn from the kernel): the set stays at the worker's peak,
 *   rounded up to a power of two.
 * - Sending: at most one SEND in flight per connection, from the
 *   connection's own send buffer: conn.c's sendv copies into it, so its
 *   output queue and its accounting stay as with epoll.  A short send
 *   resubmits the rest; the completion marks the connection dirty so the
 *   next flush sends what queued meanwhile.
 * - The worker's epoll set (eventfd) is polled through the ring
 *   (multishot POLL_ADD), so the worker sleeps in one place
 *   (io_uring_enter) and calls epoll_wait(0) only when it fired.  The
 *   event-channel fd has a multishot POLL_ADD of its own and leaves the
 *   epoll set: a guest's notification then wakes the worker with one
 *   completion, and the batch that serves it makes no epoll_wait (one
 *   system call less per ring wake-up, and on the notifier's side no
 *   epoll callback between the device and the ring).  Its completion
 *   is handed to the worker loop as the epoll event it replaces.
 * - Lifetime: every operation in flight holds a reference to its
 *   connection.  Closing cancels them (by user_data) and closes the fd
 *   through the ring, after them: entries queued for the connection but
 *   not yet submitted name its fd by number, and a close(2) at once would
 *   let the next accepted client have that number and get them (a reply
 *   of one client sent to another).  When no entry can be had the fd
 *   waits on the worker's late list until the queue is empty.  The
 *   connection is freed by the last reference, after its last completion
 *   was reaped.
 *
 * user_data: the connection's address with the operation in its low bits
 * (struct mxs_uconn is at least 8-byte aligned); a tag with all low bits
 * set and no address: the epoll poll, a cancellation (its completion
 * carries nothing) or a close (the fd in the upper 32 bits).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/daemon.h"
#include "core/uring.h"

#define URING_ENTRIES 256
#define URING_NBUFS 256   /* per worker, power of two */
#define URING_NBUFS_FIRST 16 /* provided at start; doubled on demand */
#define URING_BUF_SIZE 4096
#define URING_HELD_MAX 8  /* buffers a connection may hold */
#define URING_HELD_LOW 4  /* re-arm below this */
#define URING_SEND_BUF 16384
#define URING_STOP_MS 5000 /* the last completions at a stop */

enum {
	OP_RECV = 1,
	OP_SEND = 2,
	OP_MASK = 3,
	UD_EPOLL = 4 | OP_MASK, /* no connection: low bits all set */
	UD_CANCEL = 8 | OP_MASK,
	UD_CLOSE = 12 | OP_MASK,
	UD_EVTCHN = 16 | OP_MASK,
};

#define NO_BID 0xffffu

struct mxs_uconn {
	struct mxs_conn c; /* first: conn.c frees a struct mxs_conn */
	struct mxs_uconn *next_ready; /* in uw->ready */
	struct mxs_uconn *next_starved; /* in uw->starved */
	bool ready;        /* in uw->ready */
	bool starved;      /* in uw->starved */
	bool recv_armed;   /* a RECV is in flight (until its last CQE) */
	bool recv_parked;  /* cancelled at URING_HELD_MAX */
	bool eof;          /* the peer closed its side */
	int err;           /* a receive or send failed: errno */
	bool send_busy;    /* a SEND is in flight */
	/* Held buffers, oldest first, linked through uw->bnext. */
	uint16_t held_head, held_tail;
	unsigned int nheld;
	unsigned int head_off; /* bytes of held_head already copied out */
	/* Input older than the held buffers, copied out of them (spill). */
	char *spill;
	size_t spill_len, spill_off;
	size_t send_len, send_off;
	char sendbuf[URING_SEND_BUF];
};

/*
 * An fd the ring polls for the worker (its epoll set, its event-channel
 * fd): fired when it was reported readable.  A poll that could not be
 * queued leaves it unarmed: it counts as fired every round, and is
 * queued again, until a poll is in.
 */
struct mxs_upoll {
	int fd;
	uint64_t ud;
	bool fired, unarmed;
};

struct mxs_uworker {
	struct mxs_uring r;
	struct mxs_uconn *ready;   /* completions to serve this batch */
	struct mxs_uconn *starved; /* receive ended for want of buffers */
	struct mxs_worker *w;
	unsigned int held;         /* buffers held by connections */
	/* More buffers are provided when held exceeds it: three quarters
	 * of those provided, UINT_MAX once all are (one compare per
	 * receive). */
	unsigned int grow_at;
	bool starve_grown;         /* this reap grew it for a starved recv */
	unsigned long inflight;    /* operations holding a reference */
	struct mxs_upoll epoll;    /* fired: epoll_wait(0) on the set */
	struct mxs_upoll evtchn;   /* fired: the event channels to serve */
	int *late;                 /* fds to close once the queue is empty */
	unsigned int nlate, late_cap;
	uint16_t bnext[URING_NBUFS]; /* held buffer -> next of its conn */
	uint32_t blen[URING_NBUFS];  /* held buffer -> bytes received */
};

static struct mxs_uconn *uconn_of(struct mxs_conn *c)
{
	return (struct mxs_uconn *)c;
}

static uint64_t ud(struct mxs_uconn *u, unsigned int op)
{
	return (uint64_t)(uintptr_t)u | op;
}

/* Queues a receive on u (one reference while in flight).  Owner only. */
static void arm_recv(struct mxs_uworker *uw, struct mxs_uconn *u)
{
	int rc = mxs_uring_recv_multishot(&uw->r, u->c.fd, ud(u, OP_RECV));

	if (rc) {
		u->err = -rc;
		return;
	}
	u->recv_armed = true;
	u->recv_parked = false;
	mxs_conn_get(&u->c);
	uw->inflight++;
}

/* A ring close's user_data: the fd above the tag, for a close that
 * failed (reap closes it directly: the entries before it are in). */
static uint64_t ud_close(int fd)
{
	return (uint64_t)(uint32_t)fd << 32 | UD_CLOSE;
}

static void cancel(struct mxs_uworker *uw, uint64_t target)
{
	/* Without an entry the operation completes when its peer acts. */
	(void)mxs_uring_cancel(&uw->r, target, UD_CANCEL);
}

static void submit_send(struct mxs_uworker *uw, struct mxs_uconn *u)
{
	int rc = mxs_uring_send(&uw->r, u->c.fd, u->sendbuf + u->send_off,
				u->send_len - u->send_off, ud(u, OP_SEND));

	if (rc) {
		u->err = -rc;
		u->send_len = u->send_off = 0;
		return;
	}
	if (!u->send_busy) {
		u->send_busy = true;
		mxs_conn_get(&u->c);
		uw->inflight++;
	}
}

static void want_ready(struct mxs_uworker *uw, struct mxs_uconn *u)
{
	if (u->ready || u->c.closed)
		return;
	u->ready = true;
	mxs_conn_get(&u->c);
	u->next_ready = uw->ready;
	uw->ready = u;
}

static void release_buf(struct mxs_uworker *uw, unsigned int bid)
{
	mxs_uring_buf_recycle(&uw->r, bid);
	uw->held--;
}

/* Twice as many buffers provided (up to URING_NBUFS): the kernel is left
 * few, or none.  Owner only. */
static void bufs_grow(struct mxs_uworker *uw)
{
	unsigned int n = uw->r.nprov;

	(void)mxs_uring_buf_grow(&uw->r, n ? n : URING_NBUFS_FIRST);
	n = uw->r.nprov;
	uw->grow_at = n == URING_NBUFS ? UINT_MAX : n - n / 4;
	/* Relaxed: a count, for the report only. */
	__atomic_store_n(&uw->w->uring_bufs, n, __ATOMIC_RELAXED);
}

static void drop_held(struct mxs_uworker *uw, struct mxs_uconn *u)
{
	while (u->nheld) {
		uint16_t bid = u->held_head;

		u->held_head = uw->bnext[bid];
		u->nheld--;
		release_buf(uw, bid);
	}
	u->held_head = u->held_tail = NO_BID;
	u->head_off = 0;
}

/* Input u holds, in buffers' worth: what parks and re-arms its receive. */
static size_t held_units(const struct mxs_uconn *u)
{
	return u->nheld + (u->spill_len - u->spill_off + URING_BUF_SIZE - 1) /
				  URING_BUF_SIZE;
}

/*
 * Copies u's held buffers to the end of its spill buffer and gives them
 * back to the kernel (order kept: the spill is read first).  Bounded:
 * u's receive parks at URING_HELD_MAX units.  On ENOMEM the buffers stay
 * held, as before the spill existed.
 */
static void spill_held(struct mxs_uworker *uw, struct mxs_uconn *u)
{
	size_t keep = u->spill_len - u->spill_off, add = 0;
	uint16_t bid;
	char *p;

	if (!u->nheld)
		return;
	for (bid = u->held_head; bid != NO_BID; bid = uw->bnext[bid])
		add += uw->blen[bid];
	add -= u->head_off;
	if (keep && u->spill_off)
		memmove(u->spill, u->spill + u->spill_off, keep);
	p = realloc(u->spill, keep + add);
	if (!p) {
		u->spill_len = keep;
		u->spill_off = 0;
		return;
	}
	u->spill = p;
	u->spill_len = keep;
	u->spill_off = 0;
	while (u->nheld) {
		bid = u->held_head;
		memcpy(u->spill + u->spill_len,
		       mxs_uring_buf(&uw->r, bid) + u->head_off,
		       uw->blen[bid] - u->head_off);
		u->spill_len += uw->blen[bid] - u->head_off;
		u->head_off = 0;
		u->held_head = uw->bnext[bid];
		u->nheld--;
		release_buf(uw, bid);
	}
	u->held_head = u->held_tail = NO_BID;
}

/* Closes the late fds once nothing queued can name them. */
static void close_late_now(struct mxs_uworker *uw)
{
	if (!uw->nlate || mxs_uring_unsubmitted(&uw->r))
		return;
	while (uw->nlate)
		close(uw->late[--uw->nlate]);
}

/* fd is to close, but the submission queue is full (its entries may
 * name fd): after the queue has gone in. */
static void close_late(struct mxs_uworker *uw, int fd)
{
	if (uw->nlate == uw->late_cap) {
		unsigned int cap = uw->late_cap ? uw->late_cap * 2 : 16;
		int *p = realloc(uw->late, cap * sizeof(*p));

		if (!p) {
			/* No entry and no memory: the old way, at once. */
			mxs_log("io_uring: fd %d closed with entries queued", fd);
			close(fd);
			return;
		}
		uw->late = p;
		uw->late_cap = cap;
	}
	uw->late[uw->nlate++] = fd;
}

static ssize_t usock_recv(struct mxs_conn *c, void *buf, size_t len)
{
	struct mxs_uworker *uw = c->w->uw;
	struct mxs_uconn *u = uconn_of(c);
	size_t got = 0;

	if (u->spill_off < u->spill_len) {
		got = u->spill_len - u->spill_off;
		if (got > len)
			got = len;
		memcpy(buf, u->spill + u->spill_off, got);
		u->spill_off += got;
		if (u->spill_off == u->spill_len)
			u->spill_off = u->spill_len = 0;
	}
	while (u->nheld && got < len) {
		uint16_t bid = u->held_head;
		size_t left = uw->blen[bid] - u->head_off;
		size_t n = left < len - got ? left : len - got;

		memcpy((char *)buf + got,
		       mxs_uring_buf(&uw->r, bid) + u->head_off, n);
		got += n;
		u->head_off += (unsigned int)n;
		if (u->head_off < uw->blen[bid])
			break;
		u->held_head = uw->bnext[bid];
		u->head_off = 0;
		if (!--u->nheld)
			u->held_head = u->held_tail = NO_BID;
		release_buf(uw, bid);
	}
	if (u->recv_parked && !u->recv_armed &&
	    held_units(u) < URING_HELD_LOW && !u->eof && !u->err)
		arm_recv(uw, u);
	if (got)
		return (ssize_t)got;
	if (u->err)
		return -u->err;
	return u->eof ? 0 : -EAGAIN;
}

static ssize_t usock_sendv(struct mxs_conn *c, const struct iovec *iov,
			   int cnt)
{
	struct mxs_uconn *u = uconn_of(c);
	size_t len = 0;
	int i;

	if (u->err)
		return -u->err;
	if (u->send_busy)
		return 0;
	for (i = 0; i < cnt && len < sizeof(u->sendbuf); i++) {
		size_t n = iov[i].iov_len;

		if (n > sizeof(u->sendbuf) - len)
			n = sizeof(u->sendbuf) - len;
		memcpy(u->sendbuf + len, iov[i].iov_base, n);
		len += n;
	}
	if (!len)
		return 0;
	u->send_len = len;
	u->send_off = 0;
	submit_send(c->w->uw, u);
	if (u->err)
		return -u->err;
	return (ssize_t)len;
}

static void usock_want_send(struct mxs_conn *c, bool out_queued,
			    bool stalled)
{
	struct mxs_uconn *u = uconn_of(c);

	/* A send completion marks c dirty: nothing to arm for output.
	 * Input held while c was stalled is not announced again; a stalled
	 * c gives its buffers back meanwhile. */
	(void)out_queued;
	if (stalled)
		spill_held(c->w->uw, u);
	else if (held_units(u) || u->eof || u->err)
		mxs_conn_again(c);
}

static void usock_notify(struct mxs_conn *c)
{
	(void)c; /* a socket needs no doorbell */
}

static void usock_fail(struct mxs_conn *c, uint32_t error)
{
	(void)error;
	mxs_conn_close(c);
}

static void usock_close(struct mxs_conn *c)
{
	struct mxs_uworker *uw = c->w->uw;
	struct mxs_uconn *u = uconn_of(c);

	drop_held(uw, u);
	free(u->spill);
	u->spill = NULL;
	u->spill_len = u->spill_off = 0;
	if (u->recv_armed)
		cancel(uw, ud(u, OP_RECV));
	if (u->send_busy)
		cancel(uw, ud(u, OP_SEND));
	/* In-flight operations hold their own reference to the file. */
	if (mxs_uring_close(&uw->r, c->fd, ud_close(c->fd)))
		close_late(uw, c->fd);
	c->fd = -1;
}

static const struct mxs_transport usock_transport = {
	.name = "socket (io_uring)",
	.short_recv_drains = true,
	.recv = usock_recv,
	.sendv = usock_sendv,
	.want_send = usock_want_send,
	.notify = usock_notify,
	.fail = usock_fail,
	.close = usock_close,
};

struct mxs_conn *mxs_uconn_new(struct mxs_worker *w, int fd, uint64_t seq)
{
	struct mxs_uconn *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->c.fd = fd;
	u->held_head = u->held_tail = NO_BID;
	mxs_conn_init(&u->c, w, &usock_transport, seq, &mxs_sock_caller);
	arm_recv(w->uw, u);
	if (u->err)
		want_ready(w->uw, u); /* served: the failure closes it */
	return &u->c;
}

/* One receive completion on u.  Returns true when u's operation ended
 * (its reference is to be dropped by the caller). */
static bool on_recv(struct mxs_uworker *uw, struct mxs_uconn *u,
		    const struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		uint16_t bid =
			(uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);

		if (++uw->held > uw->grow_at)
			bufs_grow(uw);
		if (u->c.closed || cqe->res <= 0) {
			release_buf(uw, bid);
		} else {
			uw->blen[bid] = (uint32_t)cqe->res;
			uw->bnext[bid] = NO_BID;
			if (u->nheld)
				uw->bnext[u->held_tail] = bid;
			else
				u->held_head = bid;
			u->held_tail = bid;
			u->nheld++;
		}
	}
	if (cqe->res == 0)
		u->eof = true;
	else if (cqe->res == -ENOBUFS && !u->c.closed && !u->starved) {
		/* Re-armed by mxs_worker_uring_serve: at once if this
		 * grew the set, else once buffers come back.  One growth
		 * per batch: receives that starve together are one
		 * shortage; if they starve again, the next batch grows. */
		if (!uw->starve_grown && uw->r.nprov < URING_NBUFS) {
			bufs_grow(uw);
			uw->starve_grown = true;
		}
		u->starved = true;
		mxs_conn_get(&u->c);
		u->next_starved = uw->starved;
		uw->starved = u;
	} else if (cqe->res < 0 && cqe->res != -ECANCELED &&
		   cqe->res != -ENOBUFS)
		u->err = -cqe->res;
	if (!u->c.closed && more && held_units(u) >= URING_HELD_MAX &&
	    !u->recv_parked) {
		u->recv_parked = true;
		cancel(uw, ud(u, OP_RECV));
		spill_held(uw, u);
	}
	if (cqe->res != -ECANCELED && cqe->res != -ENOBUFS)
		want_ready(uw, u);
	if (more)
		return false;
	u->recv_armed = false;
	/* Ended for another reason (e.g. a full completion queue), or
	 * parked but already drained below the mark: on. */
	if (!u->c.closed && !u->eof && !u->err && !u->starved &&
	    (!u->recv_parked || held_units(u) < URING_HELD_LOW))
		arm_recv(uw, u);
	return true;
}

/* One send completion on u; true when u's send is over. */
static bool on_send(struct mxs_uworker *uw, struct mxs_uconn *u,
		    const struct io_uring_cqe *cqe)
{
	if (cqe->res > 0 && !u->c.closed) {
		u->send_off += (size_t)cqe->res;
		if (u->send_off < u->send_len) {
			submit_send(uw, u); /* short: the rest */
			if (!u->err)
				return false;
		}
	} else if (cqe->res < 0 && !u->c.closed) {
		u->err = cqe->res == -ECANCELED ? EPIPE : -cqe->res;
	}
	u->send_busy = false;
	u->send_len = u->send_off = 0;
	if (!u->c.closed) {
		mxs_conn_mark_dirty(&u->c);
		if (u->err)
			want_ready(uw, u);
	}
	return true;
}

/* 0, or -errno when no poll could be queued (p unarmed: fired). */
static int arm_poll(struct mxs_uworker *uw, struct mxs_upoll *p)
{
	int rc = mxs_uring_poll_multi(&uw->r, p->fd, p->ud);

	p->unarmed = rc != 0;
	p->fired |= p->unarmed;
	return rc;
}

/* p's readiness is being acted on: fired again only if still unarmed
 * (or if more is left, the caller's more). */
static void poll_seen(struct mxs_uworker *uw, struct mxs_upoll *p,
		      bool more)
{
	p->fired = more || p->unarmed;
	if (p->unarmed)
		(void)arm_poll(uw, p);
}

static void reap(struct mxs_worker *w)
{
	struct mxs_uworker *uw = w->uw;
	struct io_uring_cqe *cqe;

	uw->starve_grown = false;
	while ((cqe = mxs_uring_peek(&uw->r))) {
		uint64_t data = cqe->user_data;
		struct mxs_uconn *u = (struct mxs_uconn *)(uintptr_t)(
			data & ~(uint64_t)OP_MASK);
		bool over = false;

		if ((data & OP_MASK) == OP_MASK) {
			if ((data & 0xffffffffu) == UD_CLOSE && cqe->res < 0 &&
			    cqe->res != -EBADF) {
				mxs_log("io_uring close: %s",
					strerror(-cqe->res));
				close((int)(data >> 32));
			} else if (data == UD_EPOLL || data == UD_EVTCHN) {
				struct mxs_upoll *p = data == UD_EPOLL ?
					&uw->epoll : &uw->evtchn;

				p->fired = true;
				if (!(cqe->flags & IORING_CQE_F_MORE))
					(void)arm_poll(uw, p);
			}
		} else if ((data & OP_MASK) == OP_RECV) {
			over = on_recv(uw, u, cqe);
		} else {
			over = on_send(uw, u, cqe);
		}
		mxs_uring_seen(&uw->r);
		if (over) {
			uw->inflight--;
			mxs_conn_put(&u->c); /* the operation's reference */
		}
	}
}

/*
 * The probe runs what the socket path relies on, on a socket pair: a
 * multishot receive into a provided buffer (its completion must say
 * more will come), a send, and the receive's end at end of file.  A
 * kernel that sets the ring up but lacks one of them fails here, not on
 * the first client.
 */
static int probe_ops(struct mxs_uring *r, int sv[2])
{
	enum { P_RECV = 1, P_SEND = 2 };
	bool got_data = false, sent = false, eof = false;
	uint64_t until = mxs_now_ns() + 2000000000ull;
	struct io_uring_cqe *cqe;
	int rc;

	if ((rc = mxs_uring_recv_multishot(r, sv[0], P_RECV)) ||
	    (rc = mxs_uring_send(r, sv[1], "x", 1, P_SEND)))
		return rc;
	while (!eof) {
		if (mxs_now_ns() > until)
			return -ETIMEDOUT;
		rc = mxs_uring_enter(r, 1, 100);
		if (rc && rc != -EINTR && rc != -ETIME)
			return rc;
		while ((cqe = mxs_uring_peek(r))) {
			struct io_uring_cqe c = *cqe;

			mxs_uring_seen(r);
			if (c.user_data == P_SEND && c.res == 1)
				sent = true;
			else if (c.user_data == P_RECV && c.res == 1 &&
				 (c.flags & IORING_CQE_F_BUFFER) &&
				 (c.flags & IORING_CQE_F_MORE))
				got_data = true;
			else if (c.user_data == P_RECV && c.res == 0 &&
				 got_data)
				eof = true;
			else
				return c.res < 0 ? c.res : -EIO;
		}
		if (got_data && sent && sv[1] >= 0) {
			close(sv[1]); /* nothing queued names it now */
			sv[1] = -1;
		}
	}
	return 0;
}

int mxs_uring_available(void)
{
	struct mxs_uring r;
	int sv[2], rc = mxs_uring_init(&r, 8, 8, 8, URING_BUF_SIZE);

	if (rc)
		return rc;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv)) {
		rc = -errno;
		mxs_uring_fini(&r);
		return rc;
	}
	rc = probe_ops(&r, sv);
	mxs_uring_fini(&r); /* cancels what is left, before the closes */
	close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return rc;
}

int mxs_worker_uring_start(struct mxs_worker *w)
{
	struct mxs_uworker *uw = calloc(1, sizeof(*uw));
	int rc;

	if (!uw)
		return -ENOMEM;
	rc = mxs_uring_init(&uw->r, URING_ENTRIES, URING_NBUFS, 0,
			    URING_BUF_SIZE);
	if (rc) {
		free(uw);
		return rc;
	}
	w->uw = uw;
	uw->w = w;
	bufs_grow(uw); /* the first URING_NBUFS_FIRST */
	uw->epoll = (struct mxs_upoll){ .fd = w->epfd, .ud = UD_EPOLL };
	(void)arm_poll(uw, &uw->epoll);
	/* Out of the epoll set only once its own poll is queued: the
	 * first submission either sees it readable or waits for it. */
	uw->evtchn = (struct mxs_upoll){ .fd = w->xce_fd, .ud = UD_EVTCHN };
	if (w->xce && !arm_poll(uw, &uw->evtchn) &&
	    epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->xce_fd, NULL) < 0)
		mxs_log("worker %u: event channel left in epoll: %s", w->id,
			strerror(errno));
	return 0;
}

int mxs_worker_uring_wait(struct mxs_worker *w, struct epoll_event *ev,
			  int max, int timeout_ms)
{
	struct mxs_uworker *uw = w->uw;
	bool wait = timeout_ms != 0 && !mxs_worker_uring_busy(w);
	int rc, n = 0;

	rc = mxs_uring_enter(&uw->r, wait, wait ? timeout_ms : 0);
	/* Not a broken ring: a signal, the timeout, completions to reap
	 * first, no memory for a submission now, or a completion the
	 * kernel could not keep on overflow (-EBADR, reported once).  The
	 * rest stops the worker, as a broken epoll set does. */
	if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EBUSY &&
	    rc != -EAGAIN && rc != -ENOMEM && rc != -EBADR)
		return rc;
	close_late_now(uw);
	reap(w);
	if (uw->epoll.fired) {
		n = epoll_wait(w->epfd, ev, max, 0);
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		/* A full answer may leave more: poll again next round. */
		poll_seen(uw, &uw->epoll, n == max);
	}
	if (uw->evtchn.fired && n < max) {
		ev[n].events = EPOLLIN;
		ev[n].data.ptr = &w->xce_fd;
		n++;
		poll_seen(uw, &uw->evtchn, false);
	}
	return n;
}

void mxs_worker_uring_serve(struct mxs_worker *w)
{
	struct mxs_uworker *uw = w->uw;
	struct mxs_uconn *u;

	while ((u = uw->ready)) {
		uw->ready = u->next_ready;
		u->ready = false;
		if (!u->c.closed)
			mxs_conn_readable(&u->c);
		mxs_conn_put(&u->c);
	}
	/* Buffers came back: the receives that found none go on. */
	while (uw->held < uw->r.nprov && (u = uw->starved)) {
		uw->starved = u->next_starved;
		u->starved = false;
		if (!u->c.closed && !u->recv_armed && !u->eof && !u->err)
			arm_recv(uw, u);
		mxs_conn_put(&u->c);
	}
}

bool mxs_worker_uring_busy(const struct mxs_worker *w)
{
	return w->uw->epoll.fired || w->uw->ready || w->uw->evtchn.fired;
}

void mxs_worker_uring_stop(struct mxs_worker *w)
{
	struct mxs_uworker *uw = w->uw;
	uint64_t until = mxs_now_ns() + (uint64_t)URING_STOP_MS * 1000000;
	struct mxs_uconn *u;

	/* Every connection is closed: their cancellations and closes are
	 * queued; in they go even with nothing in flight to wait for. */
	(void)mxs_uring_enter(&uw->r, 0, 0);
	while (uw->inflight && mxs_now_ns() < until) {
		int rc = mxs_uring_enter(&uw->r, 1, 100);

		if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EBUSY)
			break;
		close_late_now(uw);
		reap(w);
	}
	if (uw->inflight)
		mxs_log("worker %u: %lu io_uring operations never completed",
			w->id, uw->inflight);
	while ((u = uw->ready)) {
		uw->ready = u->next_ready;
		mxs_conn_put(&u->c);
	}
	while ((u = uw->starved)) {
		uw->starved = u->next_starved;
		mxs_conn_put(&u->c);
	}
	mxs_uring_fini(&uw->r);
	/* The ring is gone: nothing queued can name the late fds now. */
	while (uw->nlate)
		close(uw->late[--uw->nlate]);
	free(uw->late);
	free(uw);
	w->uw = NULL;
}
