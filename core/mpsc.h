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

#include <stddef.h>

struct mxs_mpsc_node {
	struct mxs_mpsc_node *next;
};

struct mxs_mpsc {
	struct mxs_mpsc_node *head; /* producers: last pushed */
	struct mxs_mpsc_node *tail; /* consumer: next to pop */
	struct mxs_mpsc_node stub;
};

static inline void mxs_mpsc_init(struct mxs_mpsc *q)
{
	q->stub.next = NULL;
	q->head = q->tail = &q->stub;
}

static inline void mxs_mpsc_push(struct mxs_mpsc *q, struct mxs_mpsc_node *n)
{
	struct mxs_mpsc_node *prev;

	__atomic_store_n(&n->next, NULL, __ATOMIC_RELAXED);
	/* R3: the node's contents are complete before it is reachable. */
	prev = __atomic_exchange_n(&q->head, n, __ATOMIC_ACQ_REL);
	/* R4: pairs with A4 in mxs_mpsc_pop(). */
	__atomic_store_n(&prev->next, n, __ATOMIC_RELEASE);
}

static inline struct mxs_mpsc_node *mxs_mpsc_pop(struct mxs_mpsc *q)
{
	struct mxs_mpsc_node *tail = q->tail, *next, *head;

	/* A4: pairs with R4 in mxs_mpsc_push(). */
	next = __atomic_load_n(&tail->next, __ATOMIC_ACQUIRE);
	if (tail == &q->stub) {
		if (!next)
			return NULL;
		q->tail = next;
		tail = next;
		next = __atomic_load_n(&next->next, __ATOMIC_ACQUIRE); /* A4 */
	}
	if (next) {
		q->tail = next;
		return tail;
	}
	/* A3: pairs with R3: is a producer in the middle of a push? */
	head = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
	if (tail != head)
		return NULL;
	mxs_mpsc_push(q, &q->stub);
	next = __atomic_load_n(&tail->next, __ATOMIC_ACQUIRE); /* A4 */
	if (next) {
		q->tail = next;
		return tail;
	}
	return NULL;
}

#endif
