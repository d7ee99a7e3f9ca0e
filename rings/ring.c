/* SPDX-License-Identifier: MIT */
/*
 * Byte-stream I/O on a xenstore ring page; contract in rings/ring.h.
 *
 * Labelled acquire/release pairs (a label names both ends):
 *   RING_A1/R1  producer index: bytes written before RING_R1 (producer)
 *               are visible after RING_A1 (consumer).
 *   RING_A2/R2  consumer index: the consumer's copy-out before RING_R2 is
 *               done before the producer, after RING_A2, overwrites it.
 *   RING_A3/R3  connection = RECONNECT: the guest's last ring accesses
 *               come before the daemon's reset.
 *   RING_A4/R4  connection = CONNECTED: the daemon's reset (zeroed
 *               indices, its last ring accesses) comes before the
 *               guest's restart.
 *   RING_A5/R5  error field.
 *   RING_A6/R6  server_features.
 * Relaxed accesses carry a comment saying why nothing is ordered.
 */
#include "rings/ring.h"

#include <errno.h>
#include <string.h>

static inline mxs_ring_idx_t min_idx(mxs_ring_idx_t a, size_t b)
{
	return b < a ? (mxs_ring_idx_t)b : a;
}

static inline bool ring_broken(const struct mxs_ring *r)
{
	/* Relaxed: a sticky flag; it publishes no data. */
	return __atomic_load_n(&r->broken, __ATOMIC_RELAXED);
}

/* Stop serving this ring.  Only the daemon reports it in the page
 * (error belongs to the server). */
static void ring_break(struct mxs_ring *r, uint32_t error)
{
	if (r->role == MXS_RING_DAEMON)
		/* RING_R5: pairs with RING_A5 in mxs_ring_error(). */
		__atomic_store_n(&r->page->error, error, __ATOMIC_RELEASE);
	/* Relaxed: see ring_broken(). */
	__atomic_store_n(&r->broken, true, __ATOMIC_RELAXED);
}

/* prod - cons > MXS_RING_SIZE. */
static ssize_t ring_corrupt(struct mxs_ring *r)
{
	ring_break(r, MXS_RING_ERR_RINGIDX);
	return -EIO;
}

void mxs_ring_set_error(struct mxs_ring *r, uint32_t error)
{
	ring_break(r, error);
}

void mxs_ring_init(struct mxs_ring *r, struct mxs_ring_page *p,
		   enum mxs_ring_role role)
{
	r->page = p;
	r->role = role;
	if (role == MXS_RING_DAEMON) {
		r->in_buf = p->req;
		r->in_prod_p = &p->req_prod;
		r->in_cons_p = &p->req_cons;
		r->out_buf = p->rsp;
		r->out_cons_p = &p->rsp_cons;
		r->out_prod_p = &p->rsp_prod;
	} else {
		r->in_buf = p->rsp;
		r->in_prod_p = &p->rsp_prod;
		r->in_cons_p = &p->rsp_cons;
		r->out_buf = p->req;
		r->out_cons_p = &p->req_cons;
		r->out_prod_p = &p->req_prod;
	}
	/* Relaxed: our own indices as the page holds them (exclusive
	 * call); checked against the peer's at the first read/write. */
	r->in_cons = __atomic_load_n(r->in_cons_p, __ATOMIC_RELAXED);
	r->out_prod = __atomic_load_n(r->out_prod_p, __ATOMIC_RELAXED);
	r->broken = false;
}

/* Bytes readable at peer producer index prod; > MXS_RING_SIZE if corrupt. */
static inline mxs_ring_idx_t in_avail(const struct mxs_ring *r,
				      mxs_ring_idx_t prod)
{
	return prod - r->in_cons;
}

ssize_t mxs_ring_read(struct mxs_ring *r, void *buf, size_t len)
{
	mxs_ring_idx_t prod, avail, n, off, first;

	if (ring_broken(r))
		return -EIO;
	/* RING_A1: pairs with RING_R1 in the peer's out_publish(): the bytes up to
	 * prod are complete.  Loaded once; only the local copy is used. */
	prod = __atomic_load_n(r->in_prod_p, __ATOMIC_ACQUIRE);
	avail = in_avail(r, prod);
	if (avail > MXS_RING_SIZE)
		return ring_corrupt(r);
	n = min_idx(avail, len);
	if (n == 0)
		return 0;
	off = MXS_RING_MASK(r->in_cons);
	first = min_idx(MXS_RING_SIZE - off, n); /* up to the end of the array */
	memcpy(buf, r->in_buf + off, first);
	memcpy((char *)buf + first, r->in_buf, n - first); /* wrapped part */
	r->in_cons += n;
	/* RING_R2: pairs with RING_A2 in the peer's out_room(): our copy is
	 * done before it reuses the space. */
	__atomic_store_n(r->in_cons_p, r->in_cons, __ATOMIC_RELEASE);
	return (ssize_t)n;
}

size_t mxs_ring_readable(struct mxs_ring *r)
{
	mxs_ring_idx_t avail;

	if (ring_broken(r))
		return 0;
	/* RING_A1: as in mxs_ring_read(). */
	avail = in_avail(r, __atomic_load_n(r->in_prod_p, __ATOMIC_ACQUIRE));
	if (avail > MXS_RING_SIZE) {
		ring_corrupt(r);
		return 0;
	}
	return avail;
}

/* Bytes in flight given peer consumer index cons; > MXS_RING_SIZE if
 * corrupt (including cons ahead of our producer index). */
static inline mxs_ring_idx_t out_used(const struct mxs_ring *r,
				      mxs_ring_idx_t cons)
{
	return r->out_prod - cons;
}

/* Free space given the peer's consumer index (RING_A2, loaded once),
 * or -EIO for a corrupt ring. */
static ssize_t out_room(struct mxs_ring *r)
{
	mxs_ring_idx_t used;

	if (ring_broken(r))
		return -EIO;
	/* RING_A2: pairs with RING_R2 in the peer's mxs_ring_read(): the
	 * space before cons has been copied out. */
	used = out_used(r, __atomic_load_n(r->out_cons_p, __ATOMIC_ACQUIRE));
	if (used > MXS_RING_SIZE)
		return ring_corrupt(r);
	return (ssize_t)(MXS_RING_SIZE - used);
}

/* n bytes of buf at the shadow producer index, which moves past them;
 * the page's index is not published (out_publish).  buf may be NULL
 * when n is 0 (an empty payload). */
static void out_copy(struct mxs_ring *r, const void *buf, mxs_ring_idx_t n)
{
	mxs_ring_idx_t off = MXS_RING_MASK(r->out_prod);
	mxs_ring_idx_t first = min_idx(MXS_RING_SIZE - off, n);

	if (!n)
		return;
	memcpy(r->out_buf + off, buf, first);
	memcpy(r->out_buf, (const char *)buf + first, n - first);
	r->out_prod += n;
}

static void out_publish(struct mxs_ring *r)
{
	/* RING_R1: pairs with RING_A1 in the peer's mxs_ring_read(): the
	 * bytes are complete before the index that exposes them. */
	__atomic_store_n(r->out_prod_p, r->out_prod, __ATOMIC_RELEASE);
}

ssize_t mxs_ring_write(struct mxs_ring *r, const void *buf, size_t len)
{
	ssize_t room = out_room(r);
	mxs_ring_idx_t n;

	if (room < 0)
		return room;
	n = min_idx((mxs_ring_idx_t)room, len);
	if (n == 0)
		return 0;
	out_copy(r, buf, n);
	out_publish(r);
	return (ssize_t)n;
}

ssize_t mxs_ring_write2(struct mxs_ring *r, const void *a, size_t alen,
			const void *b, size_t blen)
{
	ssize_t room = out_room(r);

	if (room < 0)
		return room;
	if (alen > (size_t)room || blen > (size_t)room - alen)
		return 0;
	out_copy(r, a, (mxs_ring_idx_t)alen);
	out_copy(r, b, (mxs_ring_idx_t)blen);
	out_publish(r);
	return (ssize_t)(alen + blen);
}

size_t mxs_ring_writable(struct mxs_ring *r)
{
	ssize_t room = out_room(r);

	return room < 0 ? 0 : (size_t)room;
}

bool mxs_ring_is_broken(const struct mxs_ring *r)
{
	return ring_broken(r);
}

void mxs_ring_reset(struct mxs_ring *r)
{
	struct mxs_ring_page *p = r->page;

	r->in_cons = 0;
	r->out_prod = 0;
	/* Relaxed: see ring_broken(); exclusive call. */
	__atomic_store_n(&r->broken, false, __ATOMIC_RELAXED);
	if (r->role != MXS_RING_DAEMON)
		return;
	/* Relaxed: RING_R4 below publishes the zeroed indices and error. */
	__atomic_store_n(&p->req_cons, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&p->req_prod, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&p->rsp_cons, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&p->rsp_prod, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&p->error, MXS_RING_ERR_NONE, __ATOMIC_RELAXED);
	/* RING_R4: pairs with RING_A4 in mxs_ring_connected(). */
	__atomic_store_n(&p->connection, MXS_RING_CONNECTED, __ATOMIC_RELEASE);
}

bool mxs_ring_reconnect_requested(const struct mxs_ring *r)
{
	/* RING_A3: pairs with RING_R3 in mxs_ring_request_reconnect(). */
	return __atomic_load_n(&r->page->connection, __ATOMIC_ACQUIRE) ==
	       MXS_RING_RECONNECT;
}

void mxs_ring_set_features(struct mxs_ring *r, uint32_t features)
{
	/* RING_R6: pairs with RING_A6 in mxs_ring_features(). */
	__atomic_store_n(&r->page->server_features, features,
			 __ATOMIC_RELEASE);
}

uint32_t mxs_ring_features(const struct mxs_ring *r)
{
	/* RING_A6: pairs with RING_R6 in mxs_ring_set_features(). */
	return __atomic_load_n(&r->page->server_features, __ATOMIC_ACQUIRE);
}

void mxs_ring_request_reconnect(struct mxs_ring *r)
{
	/* RING_R3: pairs with RING_A3 in mxs_ring_reconnect_requested(). */
	__atomic_store_n(&r->page->connection, MXS_RING_RECONNECT,
			 __ATOMIC_RELEASE);
}

bool mxs_ring_connected(const struct mxs_ring *r)
{
	/* RING_A4: pairs with RING_R4 in mxs_ring_reset(). */
	return __atomic_load_n(&r->page->connection, __ATOMIC_ACQUIRE) ==
	       MXS_RING_CONNECTED;
}

uint32_t mxs_ring_error(const struct mxs_ring *r)
{
	/* RING_A5: pairs with RING_R5 in ring_break(). */
	return __atomic_load_n(&r->page->error, __ATOMIC_ACQUIRE);
}
