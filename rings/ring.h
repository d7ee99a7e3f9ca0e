/* SPDX-License-Identifier: MIT */
/*
 * Byte-stream I/O on one domain's xenstore ring page (include/mxs/ring.h).
 *
 * The page holds two single-producer single-consumer byte rings:
 *
 *                 guest                         daemon
 *   req[] :  produces, req_prod  ------->  consumes, req_cons
 *   rsp[] :  consumes, rsp_cons  <-------  produces, rsp_prod
 *
 * A struct mxs_ring is one side's view of the page: the daemon role
 * (MXS_RING_DAEMON) reads req[] and writes rsp[], the guest role
 * (MXS_RING_GUEST, for tests, the simulator and benchmarks) the reverse.
 *
 * Contract
 * --------
 *   The two sides of a page run concurrently (different threads, or a
 *   foreign domain).  On one struct mxs_ring:
 *   mxs_ring_read, mxs_ring_readable:    one thread at a time (the reader).
 *   mxs_ring_write, mxs_ring_write2, mxs_ring_writable:
 *                                        one thread at a time (the writer),
 *                                        concurrently with the reader.
 *   mxs_ring_init, mxs_ring_reset, mxs_ring_set_features:
 *                                        exclusive (no read or write on
 *                                        this struct in progress).
 *   mxs_ring_reconnect_requested, mxs_ring_error, mxs_ring_connected,
 *   mxs_ring_request_reconnect, mxs_ring_is_broken: any thread.
 *   mxs_ring_set_error:                  the reader or the writer.
 *
 *   Ordering: a producer copies its bytes, then publishes its producer
 *   index with a release store (RING_R1); the consumer loads it with an
 *   acquire load (RING_A1) before copying the bytes out.  The consumer
 *   publishes its consumer index with a release store (RING_R2) after its
 *   copy; the producer loads it with an acquire load (RING_A2) before
 *   reusing that space.  Hence no byte is read before it is written, nor
 *   overwritten before it is read.  RING_A3..A6 / RING_R3..R6 (ring.c)
 *   order the reconnection handshake, the error field and the feature
 *   bits.
 *
 *   Progress: every function is wait-free (a bounded copy, a few atomic
 *   loads and stores; no loop waits for the other side).  The caller
 *   sends an event-channel notification after a call that moved an
 *   index (a return > 0), or batches them (REFERENCE.md "Ring page").
 *
 * Hostile guest
 * -------------
 *   The daemon never trusts an index the guest can write.  Its own
 *   indices (req_cons, rsp_prod) live in the private shadow and are only
 *   stored to the page; the guest's (req_prod, rsp_cons) are loaded once
 *   per call.  prod - cons > MXS_RING_SIZE (u32) on either ring is a
 *   corrupt ring: the daemon stores error = MXS_RING_ERR_RINGIDX, the
 *   struct is marked broken and every later read/write returns -EIO
 *   until mxs_ring_reset().  All offsets are masked: no access leaves
 *   req[] / rsp[] whatever the page says.  Bytes are copied out exactly
 *   once: parse the copy, never the page (the guest may change it).
 *   The guest role validates the daemon's indices the same way but never
 *   writes the error field (the server's).
 *
 * No allocation; functions return a byte count or a negative errno.
 */
#ifndef MXS_RINGS_RING_H
#define MXS_RINGS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mxs/ring.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mxs_ring_role {
	MXS_RING_DAEMON, /* consumes req[], produces rsp[] */
	MXS_RING_GUEST,  /* produces req[], consumes rsp[] */
};

/* What mxenstored advertises in server_features (REFERENCE: we support
 * reconnection, unlike the C daemon, and report errors). */
#define MXS_RING_DAEMON_FEATURES (MXS_RING_F_RECONNECTION | MXS_RING_F_ERROR)

struct mxs_ring {
	struct mxs_ring_page *page;
	enum mxs_ring_role role;

	/* The ring this side consumes (req[] for the daemon). */
	const char *in_buf;
	mxs_ring_idx_t *in_prod_p; /* peer's producer index: load only (RING_A1) */
	mxs_ring_idx_t *in_cons_p; /* our consumer index: store only (RING_R2) */
	/* Reader's shadow of *in_cons_p, the only copy we trust.
	 * Invariant on a healthy ring: in_cons <= peer prod <= in_cons + 1024
	 * (u32 arithmetic); byte i is in_buf[i & 1023]. */
	mxs_ring_idx_t in_cons;

	/* The ring this side produces (rsp[] for the daemon). */
	char *out_buf;
	mxs_ring_idx_t *out_cons_p; /* peer's consumer index: load only (RING_A2) */
	mxs_ring_idx_t *out_prod_p; /* our producer index: store only (RING_R1) */
	/* Writer's shadow of *out_prod_p.
	 * Invariant: peer cons <= out_prod <= peer cons + 1024. */
	mxs_ring_idx_t out_prod;

	/* Sticky until mxs_ring_reset(); set by the reader or the writer,
	 * so accessed with relaxed atomics (it publishes nothing). */
	bool broken;
};

/* Binds r to page p in the given role.  The shadow indices are taken
 * from the page as it is (a page handed over by a previous daemon or
 * written before introduction keeps its contents); they are validated
 * against the peer's at the first read or write.  Does not write p. */
void mxs_ring_init(struct mxs_ring *r, struct mxs_ring_page *p,
		   enum mxs_ring_role role);

/* Copies up to len bytes available in the ring this role consumes into
 * buf.  Returns the number copied (0 if none), or -EIO if the ring is
 * corrupt or broken.  Reader only. */
ssize_t mxs_ring_read(struct mxs_ring *r, void *buf, size_t len);

/* Copies up to len bytes of buf into the free space of the ring this
 * role produces.  Returns the number copied (short or 0 when the ring
 * is full), or -EIO if the ring is corrupt or broken.  Writer only. */
ssize_t mxs_ring_write(struct mxs_ring *r, const void *buf, size_t len);

/* Copies a then b (one message: header, payload) into the ring, whole
 * or not at all, exposed by one producer-index update.  Returns alen +
 * blen, 0 when they do not fit now, or -EIO if the ring is corrupt or
 * broken.  Writer only. */
ssize_t mxs_ring_write2(struct mxs_ring *r, const void *a, size_t alen,
			const void *b, size_t blen);

/* Bytes mxs_ring_read could copy now.  0 if broken; a corrupt ring is
 * detected (and reported) as by mxs_ring_read.  Reader only. */
size_t mxs_ring_readable(struct mxs_ring *r);

/* Bytes mxs_ring_write could copy now.  0 if broken; a corrupt ring is
 * detected (and reported) as by mxs_ring_write.  Writer only. */
size_t mxs_ring_writable(struct mxs_ring *r);

/* True once a corrupt ring was seen, until mxs_ring_reset(). */
bool mxs_ring_is_broken(const struct mxs_ring *r);

/* Daemon: zeroes the four indices and the error field, then stores
 * connection = CONNECTED (RING_R4), and clears the broken flag.  The caller
 * has dropped partial packets and queued replies first (REFERENCE
 * "Reconnection") and notifies the guest afterwards.
 * Guest: after mxs_ring_connected() returned true, restarts its own
 * shadow indices at 0 and clears the broken flag (writes nothing).
 * Exclusive on r. */
void mxs_ring_reset(struct mxs_ring *r);

/* Daemon: did the guest store connection = RECONNECT (RING_A3)? */
bool mxs_ring_reconnect_requested(const struct mxs_ring *r);

/* Daemon: stores server_features (RING_R6), e.g. MXS_RING_DAEMON_FEATURES,
 * before the domain is introduced to the guest.  Exclusive on r. */
void mxs_ring_set_features(struct mxs_ring *r, uint32_t features);

/* Guest: server_features as advertised (RING_A6). */
uint32_t mxs_ring_features(const struct mxs_ring *r);

/* Guest: asks for a reconnection (connection = RECONNECT, RING_R3) after it
 * stopped using the ring; then it waits for mxs_ring_connected(). */
void mxs_ring_request_reconnect(struct mxs_ring *r);

/* Guest: has the daemon stored connection = CONNECTED (RING_A4)? */
bool mxs_ring_connected(const struct mxs_ring *r);

/* Daemon: reports a protocol violation the ring layer cannot see (a
 * header longer than the payload limit: MXS_RING_ERR_PROTO) in the
 * error field (RING_R5) and marks r broken until mxs_ring_reset().  Reader or
 * writer. */
void mxs_ring_set_error(struct mxs_ring *r, uint32_t error);

/* The page's error field (MXS_RING_ERR_*, RING_A5). */
uint32_t mxs_ring_error(const struct mxs_ring *r);

#ifdef __cplusplus
}
#endif

#endif /* MXS_RINGS_RING_H */
