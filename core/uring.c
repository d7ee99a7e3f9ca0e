/* SPDX-License-Identifier: MIT */
/*
 * The io_uring wrapper (core/uring.h): set-up, submission, waiting and
 * the provided-buffer ring, on io_uring_setup/enter/register.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/uring.h"

#define URING_BGID 0

static int sys_setup(unsigned int entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned int submit, unsigned int wait,
		     unsigned int flags, const void *arg, size_t argsz)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, arg,
			    argsz);
}

static int sys_register(int fd, unsigned int op, const void *arg,
			unsigned int n)
{
	return (int)syscall(__NR_io_uring_register, fd, op, arg, n);
}

static int bufs_init(struct mxs_uring *r, unsigned int nbufs,
		     unsigned int nfirst, unsigned int size)
{
	struct io_uring_buf_reg reg;
	size_t ring_len = (size_t)nbufs * sizeof(struct io_uring_buf);
	void *m;

	if (nbufs & (nbufs - 1) || nbufs > 32768 || nfirst > nbufs)
		return -EINVAL;
	/* The kernel reads the ring through our mapping: page aligned. */
	r->br = mmap(NULL, ring_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->br == MAP_FAILED) {
		r->br = NULL;
		return -errno;
	}
	r->nbufs = nbufs; /* what mxs_uring_fini unmaps */
	r->buf_size = size;
	/* Mapped, not malloc'ed: the allocator could hand out pages that
	 * are resident already; these stay untouched until the kernel
	 * receives into them, so bids never provided cost nothing. */
	m = mmap(NULL, (size_t)nbufs * size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	r->bufs = m;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)r->br;
	reg.ring_entries = nbufs;
	reg.bgid = URING_BGID;
	if (sys_register(r->fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
		return -errno;
	(void)mxs_uring_buf_grow(r, nfirst);
	return 0;
}

int mxs_uring_init(struct mxs_uring *r, unsigned int entries,
		   unsigned int nbufs, unsigned int nfirst,
		   unsigned int buf_size)
{
	struct io_uring_params p;
	size_t sq_len, cq_len;
	char *m;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&p, 0, sizeof(p));
	/* Completions come only when we ask (enter): a batch of them per
	 * system call, no task-work interrupt between two. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 4;
	r->fd = sys_setup(entries, &p);
	if (r->fd < 0) {
		r->fd = -1;
		return -errno;
	}
	rc = -ENOSYS;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP) ||
	    !(p.features & IORING_FEAT_EXT_ARG))
		goto fail;
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	r->ring_len = sq_len > cq_len ? sq_len : cq_len;
	m = mmap(NULL, r->ring_len, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	if (m == MAP_FAILED)
		goto fail_errno;
	r->ring_map = m;
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED) {
		r->sqes = NULL;
		goto fail_errno;
	}
	r->sq_head = (unsigned int *)(m + p.sq_off.head);
	r->sq_tail = (unsigned int *)(m + p.sq_off.tail);
	r->sq_array = (unsigned int *)(m + p.sq_off.array);
	r->sq_mask = *(unsigned int *)(m + p.sq_off.ring_mask);
	r->sq_entries = p.sq_entries;
	r->sq_local = *r->sq_tail;
	r->cq_head = (unsigned int *)(m + p.cq_off.head);
	r->cq_tail = (unsigned int *)(m + p.cq_off.tail);
	r->cq_mask = *(unsigned int *)(m + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(m + p.cq_off.cqes);
	if (nbufs && (rc = bufs_init(r, nbufs, nfirst, buf_size)))
		goto fail;
	return 0;
fail_errno:
	rc = -errno;
fail:
	mxs_uring_fini(r);
	return rc;
}

void mxs_uring_fini(struct mxs_uring *r)
{
	/* Closing the ring cancels what is still in flight. */
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	if (r->sqes)
		munmap(r->sqes, r->sqes_len);
	if (r->ring_map)
		munmap(r->ring_map, r->ring_len);
	if (r->br)
		munmap(r->br, (size_t)r->nbufs * sizeof(struct io_uring_buf));
	if (r->bufs)
		munmap(r->bufs, (size_t)r->nbufs * r->buf_size);
	r->sqes = NULL;
	r->ring_map = NULL;
	r->br = NULL;
	r->bufs = NULL;
}

unsigned int mxs_uring_unsubmitted(const struct mxs_uring *r)
{
	/* Relaxed: with DEFER_TASKRUN and a single issuer the kernel moves
	 * the head only inside our own enter. */
	return r->sq_local - __atomic_load_n(r->sq_head, __ATOMIC_RELAXED);
}

/* Publishes the queued entries; returns how many are not yet taken. */
static unsigned int sq_publish(struct mxs_uring *r)
{
	/* URING_SQ_R1: pairs with the kernel's acquire of the SQ tail:
	 * the entries are filled before it sees them. */
	__atomic_store_n(r->sq_tail, r->sq_local, __ATOMIC_RELEASE);
	return mxs_uring_unsubmitted(r);
}

struct io_uring_sqe *mxs_uring_get_sqe(struct mxs_uring *r)
{
	struct io_uring_sqe *sqe;
	unsigned int idx;

	if (mxs_uring_unsubmitted(r) >= r->sq_entries) {
		int rc = mxs_uring_enter(r, 0, 0);

		if (rc < 0 && rc != -EINTR && rc != -EBUSY) {
			errno = -rc;
			return NULL;
		}
		if (mxs_uring_unsubmitted(r) >= r->sq_entries) {
			errno = EBUSY;
			return NULL;
		}
	}
	idx = r->sq_local & r->sq_mask;
	sqe = &r->sqes[idx];
	memset(sqe, 0, sizeof(*sqe));
	r->sq_array[idx] = idx;
	r->sq_local++;
	return sqe;
}

int mxs_uring_enter(struct mxs_uring *r, unsigned int wait, int timeout_ms)
{
	struct __kernel_timespec ts;
	struct io_uring_getevents_arg arg;
	unsigned int submit = sq_publish(r);
	unsigned int flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
	int n;

	memset(&arg, 0, sizeof(arg));
	if (wait && timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
		arg.ts = (uint64_t)(uintptr_t)&ts;
	}
	n = sys_enter(r->fd, submit, wait, flags, &arg, sizeof(arg));
	return n < 0 ? -errno : 0;
}

void mxs_uring_buf_recycle(struct mxs_uring *r, unsigned int bid)
{
	struct io_uring_buf *b = &r->br->bufs[r->br_tail & (r->nbufs - 1)];

	b->addr = (uint64_t)(uintptr_t)mxs_uring_buf(r, bid);
	b->len = r->buf_size;
	b->bid = (uint16_t)bid;
	r->br_tail++;
	/* URING_BUF_R1: pairs with the kernel's acquire of the buffer
	 * ring's tail: the entry is complete before it may take it. */
	__atomic_store_n(&r->br->tail, r->br_tail, __ATOMIC_RELEASE);
}

unsigned int mxs_uring_buf_grow(struct mxs_uring *r, unsigned int n)
{
	unsigned int i;

	if (n > r->nbufs - r->nprov)
		n = r->nbufs - r->nprov;
	/* New bids go in at the tail like recycled ones: the kernel takes
	 * them after those it already has. */
	for (i = 0; i < n; i++)
		mxs_uring_buf_recycle(r, r->nprov++);
	return n;
}

/* A zeroed entry with its operation, fd and user_data set; NULL and
 * errno as mxs_uring_get_sqe. */
static struct io_uring_sqe *prep(struct mxs_uring *r, uint8_t opcode, int fd,
				 uint64_t ud)
{
	struct io_uring_sqe *sqe = mxs_uring_get_sqe(r);

	if (sqe) {
		sqe->opcode = opcode;
		sqe->fd = fd;
		sqe->user_data = ud;
	}
	return sqe;
}

int mxs_uring_recv_multishot(struct mxs_uring *r, int fd, uint64_t ud)
{
	struct io_uring_sqe *sqe = prep(r, IORING_OP_RECV, fd, ud);

	if (!sqe)
		return -errno;
	sqe->ioprio = IORING_RECV_MULTISHOT;
	sqe->flags = IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	return 0;
}

int mxs_uring_send(struct mxs_uring *r, int fd, const void *buf,
		   size_t len, uint64_t ud)
{
	struct io_uring_sqe *sqe = prep(r, IORING_OP_SEND, fd, ud);

	if (!sqe)
		return -errno;
	sqe->addr = (uint64_t)(uintptr_t)buf;
	sqe->len = (uint32_t)len;
	sqe->msg_flags = MSG_NOSIGNAL;
	return 0;
}

int mxs_uring_poll_multi(struct mxs_uring *r, int fd, uint64_t ud)
{
	struct io_uring_sqe *sqe = prep(r, IORING_OP_POLL_ADD, fd, ud);

	if (!sqe)
		return -errno;
	sqe->poll32_events = POLLIN;
	sqe->len = IORING_POLL_ADD_MULTI;
	return 0;
}

int mxs_uring_cancel(struct mxs_uring *r, uint64_t target, uint64_t ud)
{
	struct io_uring_sqe *sqe = prep(r, IORING_OP_ASYNC_CANCEL, 0, ud);

	if (!sqe)
		return -errno;
	sqe->addr = target;
	return 0;
}

int mxs_uring_close(struct mxs_uring *r, int fd, uint64_t ud)
{
	return prep(r, IORING_OP_CLOSE, fd, ud) ? 0 : -errno;
}
