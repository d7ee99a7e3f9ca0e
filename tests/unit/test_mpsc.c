/* SPDX-License-Identifier: MIT */
/*
 * The workers' MPSC queue and wake protocol (core/mpsc.h): producers push
 * numbered messages and wake; one consumer sleeps on the eventfd exactly as
 * a worker does, clears the flag, pops until empty.  Checked: every
 * message arrives exactly once, each producer's messages in push order,
 * and the consumer is never left asleep with a message queued (a lost
 * wake-up shows as a poll that gives up after 30 s with messages
 * outstanding: generous, so it only fires when the wake really is lost).
 * Label stress; MXS_STRESS_ITERS scales the message count.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>
#include <urcu/compiler.h>

#include "core/mpsc.h"

#define PRODUCERS 4

struct msg {
	struct mxs_mpsc_node node;
	unsigned int producer;
	unsigned long seq;
};

struct queue {
	struct mxs_mpsc q;
	int pending __attribute__((aligned(64)));
	int evfd;
	unsigned long per_producer;
};

struct producer {
	struct queue *qu;
	unsigned int id;
	bool bursty; /* pauses now and then, so the consumer goes to sleep */
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	unsigned long i;

	for (i = 0; i < p->qu->per_producer; i++) {
		struct msg *m = malloc(sizeof(*m));

		assert_non_null(m);
		m->producer = p->id;
		m->seq = i;
		mxs_mpsc_push(&p->qu->q, &m->node);
		mxs_mpsc_wake(&p->qu->pending, p->qu->evfd);
		if (p->bursty && i % 64 == 0)
			usleep(50);
	}
	return NULL;
}

static unsigned long iters(unsigned long dflt)
{
	const char *s = getenv("MXS_STRESS_ITERS");

	return s && atol(s) > 0 ? (unsigned long)atol(s) : dflt;
}

static void run(bool bursty)
{
	struct queue qu = { .per_producer = iters(20000) };
	struct producer p[PRODUCERS];
	pthread_t thr[PRODUCERS];
	unsigned long next[PRODUCERS] = { 0 }, got = 0, sleeps = 0;
	unsigned long total;
	unsigned int i;

	mxs_mpsc_init(&qu.q);
	qu.evfd = eventfd(0, EFD_NONBLOCK);
	assert_true(qu.evfd >= 0);
	total = qu.per_producer * PRODUCERS;
	for (i = 0; i < PRODUCERS; i++) {
		p[i] = (struct producer){ &qu, i, bursty };
		assert_int_equal(pthread_create(&thr[i], NULL, produce, &p[i]),
				 0);
	}
	while (got < total) {
		struct pollfd pfd = { .fd = qu.evfd, .events = POLLIN };
		struct mxs_mpsc_node *n;
		uint64_t v;
		int rc;

		/* Sleep as a worker does, then clear and drain. */
		rc = poll(&pfd, 1, 30000);
		if (rc < 0 && errno == EINTR)
			continue;
		assert_int_equal(rc, 1); /* 0: a lost wake-up */
		sleeps++;
		if (read(qu.evfd, &v, sizeof(v)) < 0)
			assert_int_equal(errno, EAGAIN);
		mxs_mpsc_wake_clear(&qu.pending);
		while ((n = mxs_mpsc_pop(&qu.q))) {
			struct msg *m = caa_container_of(n, struct msg, node);

			assert_true(m->producer < PRODUCERS);
			/* Exactly once and in order per producer. */
			assert_int_equal(m->seq, next[m->producer]);
			next[m->producer]++;
			got++;
			free(m);
		}
	}
	for (i = 0; i < PRODUCERS; i++) {
		pthread_join(thr[i], NULL);
		assert_int_equal(next[i], qu.per_producer);
	}
	/* Nothing more: no duplicate, no stray node. */
	assert_null(mxs_mpsc_pop(&qu.q));
	close(qu.evfd);
	print_message("%lu messages, %lu wake-ups\n", got, sleeps);
}

static void test_mpsc_flood(void **state)
{
	(void)state;
	run(false);
}

static void test_mpsc_bursty(void **state)
{
	(void)state;
	run(true);
}

/* Single thread: FIFO, empty queue, stub re-insertion at the last node. */
static void test_mpsc_sequential(void **state)
{
	struct mxs_mpsc q;
	struct msg m[3];
	unsigned int i, round;

	(void)state;
	mxs_mpsc_init(&q);
	assert_null(mxs_mpsc_pop(&q));
	for (round = 0; round < 3; round++) {
		for (i = 0; i <= round; i++) {
			m[i].seq = i;
			mxs_mpsc_push(&q, &m[i].node);
		}
		for (i = 0; i <= round; i++) {
			struct mxs_mpsc_node *n = mxs_mpsc_pop(&q);

			assert_ptr_equal(n, &m[i].node);
		}
		assert_null(mxs_mpsc_pop(&q));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mpsc_sequential),
		cmocka_unit_test(test_mpsc_flood),
		cmocka_unit_test(test_mpsc_bursty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
