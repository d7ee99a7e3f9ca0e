/* SPDX-License-Identifier: MIT */
/*
 * A small io_uring wrapper on the raw system calls (no liburing): one
 * submission and completion queue pair and one ring of provided receive
 * buffers, owned by one thread.  Knows nothing of connections; used by
 * the daemon's workers (core/uringconn.c) and the floor server.
 *
 * Single issuer: every call on a struct mxs_uring comes from the thread
 * that made it (the kernel is told so, IORING_SETUP_SINGLE_ISSUER and
 * DEFER_TASKRUN: completions are produced only inside mxs_uring_enter,
 * in batches).
 *
 *   get_sqe, fill, get_sqe, fill ...   (queued, not yet visible)
 *   mxs_uring_enter(r, wait, tmo)      (one system call: submit all, run
 *                                       completions, sleep if asked)
 *   while ((cqe = mxs_uring_peek(r))) { use cqe; mxs_uring_seen(r); }
 */
#ifndef MXS_CORE_URING_H
#define MXS_CORE_URING_H

#include <linux/io_uring.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mxs_uring {
	int fd;
	/* Submission queue: the kernel reads [*sq_head, *sq_tail); we
	 * fill sqes[sq_local & sq_mask] and publish sq_local as the tail
	 * at enter (URING_SQ_R1). */
	unsigned int *sq_head, *sq_tail, *sq_array;
	unsigned int sq_mask, sq_entries, sq_local;
	struct io_uring_sqe *sqes;
	/* Completion queue: the kernel writes [*cq_head, *cq_tail). */
	unsigned int *cq_head, *cq_tail, cq_mask;
	struct io_uring_cqe *cqes;
	void *ring_map;
	size_t ring_len, sqes_len;
	/* Provided receive buffers (group 0): room for nbufs of buf_size
	 * bytes, of which bids [0, nprov) have been handed to the kernel
	 * (nprov only grows).  The kernel takes them from the ring's head,
	 * we give them back at its tail (URING_BUF_R1).  The ring has nbufs
	 * entries and each provided bid is in it at most once: it cannot
	 * overflow.  The bytes are an anonymous mapping, so the pages of
	 * bids never provided are never touched, never resident. */
	struct io_uring_buf_ring *br;
	char *bufs;
	unsigned int nbufs, buf_size, nprov;
	uint16_t br_tail;
};

/* Sets up r with room for `entries` queued submissions and nbufs receive
 * buffers of buf_size bytes (nbufs a power of two, 0: none), the first
 * nfirst of them (at most nbufs) handed to the kernel at once, the rest
 * when mxs_uring_buf_grow says so; on the calling thread, which is then
 * its only user.  0 or -errno. */
int mxs_uring_init(struct mxs_uring *r, unsigned int entries,
		   unsigned int nbufs, unsigned int nfirst,
		   unsigned int buf_size);
void mxs_uring_fini(struct mxs_uring *r);
/* A zeroed submission entry to fill; submits the queued ones first when
 * the queue is full.  NULL and errno only when that submission failed. */
struct io_uring_sqe *mxs_uring_get_sqe(struct mxs_uring *r);
/*
 * The operations the socket paths queue, each one submission entry:
 * 0, or -errno when no entry could be had (mxs_uring_get_sqe).
 *   recv_multishot: receives on fd into the provided buffers (group 0)
 *                   until cancelled or failed;
 *   send:           sends buf[0..len) on fd (MSG_NOSIGNAL);
 *   poll_multi:     reports fd readable (POLLIN) until cancelled;
 *   cancel:         cancels the operation whose user_data is target;
 *   close:          closes fd, after every entry queued before it took
 *                   its file (the number is not free for reuse before).
 * ud: the user_data its completions carry.
 */
int mxs_uring_recv_multishot(struct mxs_uring *r, int fd, uint64_t ud);
int mxs_uring_send(struct mxs_uring *r, int fd, const void *buf,
		   size_t len, uint64_t ud);
int mxs_uring_poll_multi(struct mxs_uring *r, int fd, uint64_t ud);
int mxs_uring_cancel(struct mxs_uring *r, uint64_t target, uint64_t ud);
int mxs_uring_close(struct mxs_uring *r, int fd, uint64_t ud);
/* Entries queued and not yet taken by the kernel. */
unsigned int mxs_uring_unsubmitted(const struct mxs_uring *r);
/* Submits everything queued, then waits until `wait` completions are
 * ready or timeout_ms passed (< 0: no limit; wait 0: returns at once).
 * 0, or -errno (-EINTR, -ETIME, -EBUSY are not failures: look at the
 * completions). */
int mxs_uring_enter(struct mxs_uring *r, unsigned int wait, int timeout_ms);
/* The oldest unseen completion, or NULL. */
static inline struct io_uring_cqe *mxs_uring_peek(struct mxs_uring *r)
{
	unsigned int head = *r->cq_head;

	/* URING_CQ_A1: pairs with the kernel's release of the CQ tail:
	 * the entry is written before we see the tail move past it. */
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return NULL;
	return &r->cqes[head & r->cq_mask];
}
/* The completion mxs_uring_peek returned is done with. */
static inline void mxs_uring_seen(struct mxs_uring *r)
{
	/* URING_CQ_R2: pairs with the kernel's acquire of the CQ head: we
	 * have read the entry before the kernel may overwrite it. */
	__atomic_store_n(r->cq_head, *r->cq_head + 1, __ATOMIC_RELEASE);
}
/* Receive buffer bid's bytes. */
static inline char *mxs_uring_buf(struct mxs_uring *r, unsigned int bid)
{
	return r->bufs + (size_t)bid * r->buf_size;
}
/* Gives receive buffer bid (< nprov) back to the kernel. */
void mxs_uring_buf_recycle(struct mxs_uring *r, unsigned int bid);
/* Hands up to n more receive buffers to the kernel (fewer when nbufs
 * are reached); returns how many it handed. */
unsigned int mxs_uring_buf_grow(struct mxs_uring *r, unsigned int n);

#ifdef __cplusplus
}
#endif

#endif
