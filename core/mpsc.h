/* SPDX-License-Identifier: MIT */
/*
 * Intrusive multi-producer single-consumer queue (D. Vyukov's design).
 *
 * Contract
 * --------
 *   mxs_mpsc_push: any thread, concurrently with pushes and the pop.
 *                  Wait-free (one exchange, one store).
 *   mxs_mpsc_pop:  the single consumer only.  Returns NULL when empty, and
 *                  also, transiently, while a producer is between its
 *                  exchange and its link store: callers pair the queue
 *                  with a wake-up sent after the push (see worker.c), so
 *                  such an element is popped at the next wake.
 *   Order: FIFO per producer.  A popped node is the caller's to free.
 */
#ifndef MXS_CORE_MPSC_H
#define MXS_CORE_MPSC_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

struct mxs_mpsc_node {
	struct mxs_mpsc_node *next;
};

/* Producers write head, the consumer tail (and the stub, which it
 * re-pushes): each on its own cache line. */
struct mxs_mpsc {
	struct mxs_mpsc_node *head __attribute__((aligned(64))); /* last pushed */
	struct mxs_mpsc_node *tail __attribute__((aligned(64))); /* next to pop */
	struct mxs_mpsc_node stub;
};

_Static_assert(offsetof(struct mxs_mpsc, tail) -
			       offsetof(struct mxs_mpsc, head) >= 64 &&
		       offsetof(struct mxs_mpsc, tail) % 64 == 0,
	       "MPSC head and tail on separate cache lines");

static inline void mxs_mpsc_init(struct mxs_mpsc *q)
{
	q->stub.next = NULL;
	q->head = q->tail = &q->stub;
}

static inline void mxs_mpsc_push(struct mxs_mpsc *q, struct mxs_mpsc_node *n)
{
	struct mxs_mpsc_node *prev;

	__atomic_store_n(&n->next, NULL, __ATOMIC_RELAXED);
	/* MPSC_R1: the node's contents are complete before it is reachable;
	 * pairs with MPSC_A1 in mxs_mpsc_pop(). */
	prev = __atomic_exchange_n(&q->head, n, __ATOMIC_ACQ_REL);
	/* MPSC_R2: pairs with MPSC_A2 in mxs_mpsc_pop(). */
	__atomic_store_n(&prev->next, n, __ATOMIC_RELEASE);
}

static inline struct mxs_mpsc_node *mxs_mpsc_pop(struct mxs_mpsc *q)
{
	struct mxs_mpsc_node *tail = q->tail, *next, *head;

	/* MPSC_A2: pairs with MPSC_R2 in mxs_mpsc_push(). */
	next = __atomic_load_n(&tail->next, __ATOMIC_ACQUIRE);
	if (tail == &q->stub) {
		if (!next)
			return NULL;
		q->tail = next;
		tail = next;
		next = __atomic_load_n(&next->next,
				       __ATOMIC_ACQUIRE); /* MPSC_A2 */
	}
	if (next) {
		q->tail = next;
		return tail;
	}
	/* MPSC_A1: pairs with MPSC_R1: is a producer mid-push? */
	head = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
	if (tail != head)
		return NULL;
	mxs_mpsc_push(q, &q->stub);
	next = __atomic_load_n(&tail->next, __ATOMIC_ACQUIRE); /* MPSC_A2 */
	if (next) {
		q->tail = next;
		return tail;
	}
	return NULL;
}

/*
 * Wake protocol of a consumer that sleeps on an eventfd (worker.c):
 *   producer: push; mxs_mpsc_wake(&pending, evfd)
 *   consumer: read evfd; mxs_mpsc_wake_clear(&pending); pop until empty
 * A producer that finds pending already set knows the consumer has not yet
 * cleared it, so the consumer's pops (which follow the clear) will see its
 * node: one eventfd write per batch of pushes, and no wake-up is lost.
 */
static inline void mxs_mpsc_wake(int *pending, int evfd)
{
	uint64_t one = 1;

	/* MPSC_WAKE_R1: the push is visible to whoever clears the flag;
	 * pairs with MPSC_WAKE_A1 in mxs_mpsc_wake_clear(). */
	if (__atomic_exchange_n(pending, 1, __ATOMIC_ACQ_REL) == 0)
		while (write(evfd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
}

static inline void mxs_mpsc_wake_clear(int *pending)
{
	/* MPSC_WAKE_A1: pairs with MPSC_WAKE_R1 in mxs_mpsc_wake(). */
	__atomic_exchange_n(pending, 0, __ATOMIC_ACQ_REL);
}

#endif
