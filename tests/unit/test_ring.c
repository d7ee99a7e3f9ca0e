/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of rings/ring.c: both roles on one page, wrap-around of the
 * arrays and of the u32 indices, full and empty rings, a hostile guest's
 * indices (every page sits between guard bytes that must stay intact),
 * reset and the reconnection handshake, and a two-thread stress test that
 * streams patterned bytes through req[] and rsp[] at once and verifies
 * every byte.
 *
 * MXS_STRESS_ITERS (environment) sets the number of stress rounds.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rings/ring.h"

#define GUARD 4096
#define GUARD_BYTE 0xa5

/* A page between two guard areas. */
struct guarded {
	_Alignas(64) unsigned char before[GUARD];
	struct mxs_ring_page page;
	unsigned char after[GUARD];
};
_Static_assert(offsetof(struct guarded, page) == GUARD, "no padding");

static struct guarded *guarded_new(void)
{
	struct guarded *g = malloc(sizeof(*g));

	assert_non_null(g);
	memset(g, GUARD_BYTE, sizeof(*g));
	memset(&g->page, 0, sizeof(g->page));
	return g;
}

static void check_guards(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != GUARD_BYTE)
			fail_msg("guard byte %zu overwritten: 0x%02x", i, p[i]);
}

static void guarded_check(const struct guarded *g)
{
	check_guards(g->before, GUARD);
	check_guards(g->after, sizeof(*g) - offsetof(struct guarded, after));
}

/* Byte i of stream s: not periodic in 1024, so a misplaced byte shows. */
static unsigned char pat(unsigned int s, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull + s * 0xbf58476d1ce4e5b9ull;

	x ^= x >> 31;
	x *= 0x94d049bb133111ebull;
	return (unsigned char)(x >> 56);
}

static void fill(unsigned char *buf, size_t n, unsigned int s, uint64_t from)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = pat(s, from + i);
}

static void verify(const unsigned char *buf, size_t n, unsigned int s,
		   uint64_t from)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (buf[i] != pat(s, from + i))
			fail_msg("stream %u byte %llu", s,
				 (unsigned long long)(from + i));
}

/* Sets all four indices of a page (test only, both sides quiescent). */
static void set_indices(struct mxs_ring_page *p, mxs_ring_idx_t v)
{
	p->req_cons = p->req_prod = p->rsp_cons = p->rsp_prod = v;
}

/* Streams bytes both ways in chunks of varying length (1..1024, some
 * larger than the free space) starting at index `start`, so that copies
 * split at the end of the arrays and the u32 indices wrap. */
static void round_trip(mxs_ring_idx_t start)
{
	struct guarded *g = guarded_new();
	struct mxs_ring d, gu;
	unsigned char in[1200], out[1200];
	uint64_t sent[2] = { 0 }, got[2] = { 0 };
	unsigned int k;
	ssize_t n;

	set_indices(&g->page, start);
	mxs_ring_init(&d, &g->page, MXS_RING_DAEMON);
	mxs_ring_init(&gu, &g->page, MXS_RING_GUEST);
	for (k = 0; k < 4000; k++) {
		size_t len = 1 + (k * 397u) % 1100u;

		/* guest -> daemon on req[] */
		fill(out, len, 0, sent[0]);
		n = mxs_ring_write(&gu, out, len);
		assert_true(n >= 0 && (size_t)n <= len);
		sent[0] += (size_t)n;
		n = mxs_ring_read(&d, in, (k % 3) ? sizeof(in) : len / 2);
		assert_true(n >= 0);
		verify(in, (size_t)n, 0, got[0]);
		got[0] += (size_t)n;
		/* daemon -> guest on rsp[] */
		len = 1 + (k * 211u) % 1100u;
		fill(out, len, 1, sent[1]);
		n = mxs_ring_write(&d, out, len);
		assert_true(n >= 0 && (size_t)n <= len);
		sent[1] += (size_t)n;
		n = mxs_ring_read(&gu, in, (k % 5) ? sizeof(in) : 7);
		assert_true(n >= 0);
		verify(in, (size_t)n, 1, got[1]);
		got[1] += (size_t)n;
		assert_int_equal(g->page.req_prod - g->page.req_cons,
				 sent[0] - got[0]);
		assert_int_equal(g->page.rsp_prod - g->page.rsp_cons,
				 sent[1] - got[1]);
	}
	/* Drain. */
	while ((n = mxs_ring_read(&d, in, sizeof(in))) > 0) {
		verify(in, (size_t)n, 0, got[0]);
		got[0] += (size_t)n;
	}
	while ((n = mxs_ring_read(&gu, in, sizeof(in))) > 0) {
		verify(in, (size_t)n, 1, got[1]);
		got[1] += (size_t)n;
	}
	assert_int_equal(n, 0);
	assert_true(sent[0] > 100 * MXS_RING_SIZE);
	assert_true(sent[1] > 100 * MXS_RING_SIZE);
	assert_int_equal(sent[0], got[0]);
	assert_int_equal(sent[1], got[1]);
	assert_int_equal(g->page.error, MXS_RING_ERR_NONE);
	assert_false(mxs_ring_is_broken(&d));
	guarded_check(g);
	free(g);
}

static void test_round_trip(void **state)
{
	(void)state;
	round_trip(0);
	round_trip(1000);
	round_trip(0xffffffffu - 5000); /* u32 wrap within the run */
}

/* A write across the end of the array lands in two pieces. */
static void test_wrap_split(void **state)
{
	struct guarded *g = guarded_new();
	struct mxs_ring d, gu;
	unsigned char out[100], in[100];
	int i;

	(void)state;
	set_indices(&g->page, 1000);
	mxs_ring_init(&d, &g->page, MXS_RING_DAEMON);
	mxs_ring_init(&gu, &g->page, MXS_RING_GUEST);
	for (i = 0; i < 100; i++)
		out[i] = (unsigned char)i;
	assert_int_equal(mxs_ring_write(&gu, out, 100), 100);
	assert_memory_equal(g->page.req + 1000, out, 24);
	assert_memory_equal(g->page.req, out + 24, 76);
	assert_int_equal(g->page.req_prod, 1100);
	assert_int_equal(mxs_ring_readable(&d), 100);
	assert_int_equal(mxs_ring_read(&d, in, 100), 100);
	assert_memory_equal(in, out, 100);
	assert_int_equal(g->page.req_cons, 1100);
	guarded_check(g);
	free(g);
}

/* mxs_ring_write2: header and payload whole or not at all, one producer
 * index update, split across the end of rsp[] and across the u32 wrap;
 * a corrupt ring is reported as by mxs_ring_write. */
static void test_write2_whole_or_nothing(void **state)
{
	static const mxs_ring_idx_t starts[] = { 0, 1000, 1020,
						 0xfffffff0u };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		struct guarded *g = guarded_new();
		struct mxs_ring d, gu;
		unsigned char hdr[16], body[900], in[1024];
		mxs_ring_idx_t s0 = starts[i];

		fill(hdr, sizeof(hdr), 1, 0);
		fill(body, sizeof(body), 2, 0);
		set_indices(&g->page, s0);
		mxs_ring_init(&d, &g->page, MXS_RING_DAEMON);
		mxs_ring_init(&gu, &g->page, MXS_RING_GUEST);
		assert_int_equal(mxs_ring_write2(&d, hdr, 16, body, 900), 916);
		assert_int_equal(g->page.rsp_prod, s0 + 916);
		/* 108 bytes free: a 16 + 100 message does not fit, and
		 * nothing of it is written. */
		assert_int_equal(mxs_ring_write2(&d, hdr, 16, body, 100), 0);
		assert_int_equal(g->page.rsp_prod, s0 + 916);
		assert_int_equal(mxs_ring_write2(&d, hdr, 16, body, 92), 108);
		assert_int_equal(mxs_ring_writable(&d), 0);
		assert_int_equal(mxs_ring_read(&gu, in, 1024), 1024);
		assert_memory_equal(in, hdr, 16);
		assert_memory_equal(in + 16, body, 900);
		assert_memory_equal(in + 916, hdr, 16);
		assert_memory_equal(in + 932, body, 92);
		/* No payload: the header alone. */
		assert_int_equal(mxs_ring_write2(&d, hdr, 16, NULL, 0), 16);
		assert_int_equal(mxs_ring_read(&gu, in, 1024), 16);
		assert_memory_equal(in, hdr, 16);
		guarded_check(g);
		/* The guest's consumer index ahead of ours: corrupt. */
		g->page.rsp_cons = s0 + 2000;
		assert_int_equal(mxs_ring_write2(&d, hdr, 16, body, 1), -EIO);
		assert_int_equal(g->page.error, MXS_RING_ERR_RINGIDX);
		assert_int_equal(g->page.rsp_prod, s0 + 1040);
		guarded_check(g);
		free(g);
	}
}

static void test_full_empty(void **state)
{
	struct guarded *g = guarded_new();
	struct mxs_ring d, gu;
	unsigned char buf[1500], in[1500];

	(void)state;
	set_indices(&g->page, 0xfffffe00u);
	mxs_ring_init(&d, &g->page, MXS_RING_DAEMON);
	mxs_ring_init(&gu, &g->page, MXS_RING_GUEST);
	/* Empty: nothing to read, everything writable. */
	assert_int_equal(mxs_ring_read(&d, in, sizeof(in)), 0);
	assert_int_equal(mxs_ring_read(&gu, in, sizeof(in)), 0);
	assert_int_equal(mxs_ring_readable(&d), 0);
	assert_int_equal(mxs_ring_writable(&gu), MXS_RING_SIZE);
	assert_int_equal(mxs_ring_write(&gu, buf, 0), 0);
	/* Fill req[]: a short write, then 0. */
	fill(buf, sizeof(buf), 0, 0);
	assert_int_equal(mxs_ring_write(&gu, buf, 1000), 1000);
	assert_int_equal(mxs_ring_write(&gu, buf + 1000, 500), 24);
	assert_int_equal(mxs_ring_writable(&gu), 0);
	assert_int_equal(mxs_ring_write(&gu, buf, 1), 0);
	assert_int_equal(mxs_ring_readable(&d), MXS_RING_SIZE);
	/* One byte freed: exactly one byte writable. */
	assert_int_equal(mxs_ring_read(&d, in, 1), 1);
	assert_int_equal(mxs_ring_writable(&gu), 1);
	assert_int_equal(mxs_ring_write(&gu, buf + 1024, 10), 1);
	assert_int_equal(mxs_ring_read(&d, in + 1, sizeof(in) - 1), 1024);
	verify(in, 1025, 0, 0);
	assert_int_equal(mxs_ring_read(&d, in, sizeof(in)), 0);
	/* Same on rsp[] from the daemon side. */
	assert_int_equal(mxs_ring_write(&d, buf, sizeof(buf)), MXS_RING_SIZE);
	assert_int_equal(mxs_ring_write(&d, buf, 1), 0);
	assert_int_equal(mxs_ring_writable(&d), 0);
	assert_int_equal(mxs_ring_readable(&gu), MXS_RING_SIZE);
	assert_int_equal(mxs_ring_read(&gu, in, sizeof(in)), MXS_RING_SIZE);
	verify(in, MXS_RING_SIZE, 0, 0);
	assert_int_equal(mxs_ring_read(&gu, in, sizeof(in)), 0);
	assert_false(mxs_ring_is_broken(&d));
	guarded_check(g);
	free(g);
}

/* init adopts the indices already in the page (handover, early guest). */
static void test_init_adopts_page(void **state)
{
	struct guarded *g = guarded_new();
	struct mxs_ring d;
	unsigned char in[64];

	(void)state;
	g->page.req_cons = 1020;
	g->page.req_prod = 1030;
	memcpy(g->page.req + 1020, "0123", 4);
	memcpy(g->page.req, "456789", 6);
	g->page.rsp_cons = g->page.rsp_prod = 77;
	mxs_ring_init(&d, &g->page, MXS_RING_DAEMON);
	assert_int_equal(g->page.req_cons, 1020); /* init writes nothing */
	assert_int_equal(mxs_ring_read(&d, in, sizeof(in)), 10);
	assert_memory_equal(in, "0123456789", 10);
	assert_int_equal(mxs_ring_write(&d, "ab", 2), 2);
	assert_int_equal(g->page.rsp_prod, 79);
	assert_memory_equal(g->page.rsp + 77, "ab", 2);
	guarded_check(g);
	free(g);
}

/* After corruption: every call fails, nothing is copied, until reset. */
static void check_stays_broken(struct guarded *g, struct mxs_ring *d)
{
	unsigned char buf[2 * GUARD];
	size_t i;

	memset(buf, GUARD_BYTE, sizeof(buf));
	for (i = 0; i < 3; i++) {
		assert_int_equal(mxs_ring_read(d, buf, MXS_RING_SIZE), -EIO);
		assert_int_equal(mxs_ring_write(d, buf, 10), -EIO);
		assert_int_equal(mxs_ring_readable(d), 0);
		assert_int_equal(mxs_ring_writable(d), 0);
		assert_true(mxs_ring_is_broken(d));
		assert_int_equal(mxs_ring_error(d), MXS_RING_ERR_RINGIDX);
		/* Even a page that looks healthy again stays refused. */
		set_indices(&g->page, 0);
	}
	check_guards(buf, sizeof(buf));
	guarded_check(g);
}

struct bad_pair {
	mxs_ring_idx_t prod, cons;
};

/* Guest-written producer indices the daemon must refuse on req[]. */
static const struct bad_pair bad_req[] = {
	{ 1025, 0 },		{ 0xffffffffu, 0 },  { 0x80000000u, 0 },
	{ 5, 6 },		{ 1000000, 3 },	     { 2048, 1023 },
	{ 0x7fffffffu, 0xffffffffu },
};

static void test_corrupt_req_prod(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_req) / sizeof(bad_req[0]); i++) {
		struct guarded *g = guarded_new();
		struct mxs_ring d;
		unsigned char buf[GUARD];

		g->page.req_cons = bad_req[i].cons;
		g->page.rsp_cons = g->page.rsp_prod = 0;
		mxs_ring_init(&d, &g->page, MXS_RING_DAEMON);
		g->page.req_prod = bad_req[i].prod;
		memset(buf, GUARD_BYTE, sizeof(buf));
		if (i % 2)
			assert_int_equal(mxs_ring_read(&d, buf, sizeof(buf)),
					 -EIO);
		else
			assert_int_equal(mxs_ring_readable(&d), 0);
		check_guards(buf, sizeof(buf));
		assert_int_equal(g->page.error, MXS_RING_ERR_RINGIDX);
		/* The daemon's own index was not moved. */
		assert_int_equal(g->page.req_cons, bad_req[i].cons);
		check_stays_broken(g, &d);
		free(g);
	}
}

static void test_corrupt_rsp_cons(void **state)
{
	/* The guest's consumer index ahead of the daemon's producer index,
	 * or more than a ring behind it. */
	static const struct bad_pair bad[] = {
		{ 0, 1 },	  { 100, 101 },	    { 0, 0x80000000u },
		{ 2000, 0 },	  { 0xffffffffu, 0 }, { 10, 0xfffffc00u },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct guarded *g = guarded_new();
		struct mxs_ring d;

		g->page.rsp_prod = bad[i].prod;
		mxs_ring_init(&d, &g->page, MXS_RING_DAEMON);
		g->page.rsp_cons = bad[i].cons;
		if (i % 2)
			assert_int_equal(mxs_ring_write(&d, "x", 1), -EIO);
		else
			assert_int_equal(mxs_ring_writable(&d), 0);
		assert_int_equal(g->page.error, MXS_RING_ERR_RINGIDX);
		assert_int_equal(g->page.rsp_prod, bad[i].prod);
		check_stays_broken(g, &d);
		/* Reset recovers. */
		mxs_ring_reset(&d);
		assert_false(mxs_ring_is_broken(&d));
		assert_int_equal(mxs_ring_error(&d), MXS_RING_ERR_NONE);
		assert_int_equal(mxs_ring_write(&d, "x", 1), 1);
		assert_int_equal(g->page.rsp_prod, 1);
		guarded_check(g);
		free(g);
	}
}

/* A 1024-byte gap is legal: prod - cons == 1024 is a full ring. */
static void test_full_is_not_corrupt(void **state)
{
	struct guarded *g = guarded_new();
	struct mxs_ring d;
	unsigned char buf[MXS_RING_SIZE + 16];

	(void)state;
	g->page.req_cons = 0xfffffff0u;
	g->page.rsp_prod = 0xfffffff0u;
	mxs_ring_init(&d, &g->page, MXS_RING_DAEMON);
	g->page.req_prod = 0xfffffff0u + MXS_RING_SIZE;
	g->page.rsp_cons = 0xfffffff0u;
	assert_int_equal(mxs_ring_read(&d, buf, sizeof(buf)), MXS_RING_SIZE);
	assert_int_equal(mxs_ring_write(&d, buf, sizeof(buf)), MXS_RING_SIZE);
	assert_int_equal(mxs_ring_writable(&d), 0);
	assert_false(mxs_ring_is_broken(&d));
	assert_int_equal(g->page.error, MXS_RING_ERR_NONE);
	guarded_check(g);
	free(g);
}

/* The guest scribbling over the daemon's own indices changes nothing:
 * the daemon works from its shadow and stores it back. */
static void test_hostile_own_indices_ignored(void **state)
{
	struct guarded *g = guarded_new();
	struct mxs_ring d, gu;
	unsigned char in[16];

	(void)state;
	mxs_ring_init(&d, &g->page, MXS_RING_DAEMON);
	mxs_ring_init(&gu, &g->page, MXS_RING_GUEST);
	assert_int_equal(mxs_ring_write(&gu, "hello", 5), 5);
	g->page.req_cons = 0x12345678u; /* hostile */
	g->page.rsp_prod = 0xdeadbeefu; /* hostile */
	assert_int_equal(mxs_ring_read(&d, in, sizeof(in)), 5);
	assert_memory_equal(in, "hello", 5);
	assert_int_equal(g->page.req_cons, 5);
	assert_int_equal(mxs_ring_write(&d, "ok", 2), 2);
	assert_int_equal(g->page.rsp_prod, 2);
	assert_memory_equal(g->page.rsp, "ok", 2);
	assert_false(mxs_ring_is_broken(&d));
	guarded_check(g);
	free(g);
}

/* The guest role checks the daemon's indices too, but leaves error alone. */
static void test_guest_role_corrupt(void **state)
{
	struct guarded *g = guarded_new();
	struct mxs_ring gu;
	unsigned char in[64];

	(void)state;
	mxs_ring_init(&gu, &g->page, MXS_RING_GUEST);
	g->page.rsp_prod = 5000;
	assert_int_equal(mxs_ring_read(&gu, in, sizeof(in)), -EIO);
	assert_true(mxs_ring_is_broken(&gu));
	assert_int_equal(mxs_ring_write(&gu, "x", 1), -EIO);
	assert_int_equal(g->page.error, MXS_RING_ERR_NONE);
	assert_int_equal(g->page.req_prod, 0);
	guarded_check(g);
	free(g);
}

static void test_reset(void **state)
{
	struct guarded *g = guarded_new();
	struct mxs_ring d;

	(void)state;
	g->page.req_cons = 3;
	g->page.req_prod = 9000;
	g->page.rsp_cons = 77;
	g->page.rsp_prod = 70;
	g->page.connection = MXS_RING_RECONNECT;
	g->page.server_features = MXS_RING_DAEMON_FEATURES;
	g->page.evtchn_port = 42;
	mxs_ring_init(&d, &g->page, MXS_RING_DAEMON);
	assert_int_equal(mxs_ring_readable(&d), 0);
	assert_true(mxs_ring_is_broken(&d));
	assert_int_equal(g->page.error, MXS_RING_ERR_RINGIDX);
	mxs_ring_reset(&d);
	assert_int_equal(g->page.req_cons, 0);
	assert_int_equal(g->page.req_prod, 0);
	assert_int_equal(g->page.rsp_cons, 0);
	assert_int_equal(g->page.rsp_prod, 0);
	assert_int_equal(g->page.error, MXS_RING_ERR_NONE);
	assert_int_equal(g->page.connection, MXS_RING_CONNECTED);
	/* Untouched by reset. */
	assert_int_equal(g->page.server_features, MXS_RING_DAEMON_FEATURES);
	assert_int_equal(g->page.evtchn_port, 42);
	assert_false(mxs_ring_is_broken(&d));
	assert_int_equal(mxs_ring_readable(&d), 0);
	assert_int_equal(mxs_ring_writable(&d), MXS_RING_SIZE);
	guarded_check(g);
	free(g);
}

static void test_reconnect(void **state)
{
	struct guarded *g = guarded_new();
	struct mxs_ring d, gu;
	unsigned char in[64];

	(void)state;
	mxs_ring_init(&d, &g->page, MXS_RING_DAEMON);
	mxs_ring_init(&gu, &g->page, MXS_RING_GUEST);
	mxs_ring_set_features(&d, MXS_RING_DAEMON_FEATURES);
	assert_int_equal(g->page.server_features,
			 MXS_RING_F_RECONNECTION | MXS_RING_F_ERROR);
	assert_true(mxs_ring_features(&gu) & MXS_RING_F_RECONNECTION);
	assert_true(mxs_ring_connected(&gu));
	assert_false(mxs_ring_reconnect_requested(&d));
	/* Some traffic, a partial request left in req[]. */
	assert_int_equal(mxs_ring_write(&gu, "partial", 7), 7);
	assert_int_equal(mxs_ring_read(&d, in, 3), 3);
	assert_int_equal(mxs_ring_write(&d, "reply", 5), 5);
	/* Guest asks; the daemon sees it and resets. */
	mxs_ring_request_reconnect(&gu);
	assert_int_equal(g->page.connection, MXS_RING_RECONNECT);
	assert_true(mxs_ring_reconnect_requested(&d));
	assert_false(mxs_ring_connected(&gu));
	mxs_ring_reset(&d);
	assert_false(mxs_ring_reconnect_requested(&d));
	assert_true(mxs_ring_connected(&gu));
	mxs_ring_reset(&gu);
	/* Fresh streams both ways. */
	assert_int_equal(mxs_ring_read(&d, in, sizeof(in)), 0);
	assert_int_equal(mxs_ring_read(&gu, in, sizeof(in)), 0);
	assert_int_equal(mxs_ring_write(&gu, "again", 5), 5);
	assert_int_equal(mxs_ring_read(&d, in, sizeof(in)), 5);
	assert_memory_equal(in, "again", 5);
	assert_int_equal(mxs_ring_write(&d, "yes", 3), 3);
	assert_int_equal(mxs_ring_read(&gu, in, sizeof(in)), 3);
	assert_memory_equal(in, "yes", 3);
	assert_int_equal(g->page.req_prod, 5);
	assert_int_equal(g->page.rsp_prod, 3);
	guarded_check(g);
	free(g);
}

/* ---- Two-thread stress ------------------------------------------------ */

#define STRESS_BYTES (8ull << 20) /* per direction per round */

struct stress_side {
	struct mxs_ring ring;
	unsigned int in_stream, out_stream;
	unsigned int seed;
	/* Results, read by main after pthread_join. */
	uint64_t sent, got;
	uint64_t bad_at; /* first mismatching byte + 1, 0 if none */
	int err;	 /* first negative return */
};

static unsigned int next_rand(unsigned int *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

/* Writes its stream and reads (and verifies) the peer's until both have
 * moved STRESS_BYTES; yields when neither direction moved. */
static void *stress_thread(void *arg)
{
	struct stress_side *s = arg;
	unsigned char out[1100], in[1100];
	uint64_t i;

	while ((s->sent < STRESS_BYTES || s->got < STRESS_BYTES) && !s->err &&
	       !s->bad_at) {
		bool moved = false;
		ssize_t n;

		if (s->sent < STRESS_BYTES) {
			size_t len = 1 + next_rand(&s->seed) % sizeof(out);

			if (len > STRESS_BYTES - s->sent)
				len = (size_t)(STRESS_BYTES - s->sent);
			fill(out, len, s->out_stream, s->sent);
			n = mxs_ring_write(&s->ring, out, len);
			if (n < 0) {
				s->err = (int)n;
				break;
			}
			s->sent += (uint64_t)n;
			moved |= n > 0;
		}
		if (s->got < STRESS_BYTES) {
			size_t len = 1 + next_rand(&s->seed) % sizeof(in);

			n = mxs_ring_read(&s->ring, in, len);
			if (n < 0) {
				s->err = (int)n;
				break;
			}
			for (i = 0; i < (uint64_t)n; i++)
				if (in[i] != pat(s->in_stream, s->got + i)) {
					s->bad_at = s->got + i + 1;
					break;
				}
			s->got += (uint64_t)n;
			moved |= n > 0;
		}
		if (!moved)
			sched_yield();
	}
	return NULL;
}

static void test_stress_two_threads(void **state)
{
	const char *env = getenv("MXS_STRESS_ITERS");
	unsigned long rounds = 1, r;

	(void)state;
	if (env && atol(env) > 0)
		rounds = (unsigned long)atol(env);
	for (r = 0; r < rounds; r++) {
		struct guarded *g = guarded_new();
		struct stress_side d = { .in_stream = 0, .out_stream = 1,
					 .seed = 1 + (unsigned int)r };
		struct stress_side gu = { .in_stream = 1, .out_stream = 0,
					  .seed = 1000 + (unsigned int)r };
		pthread_t td, tg;

		/* The u32 indices wrap during the round. */
		set_indices(&g->page, 0xffffffffu - (mxs_ring_idx_t)(r * 4099u) -
					      (mxs_ring_idx_t)(STRESS_BYTES / 2));
		mxs_ring_init(&d.ring, &g->page, MXS_RING_DAEMON);
		mxs_ring_init(&gu.ring, &g->page, MXS_RING_GUEST);
		assert_int_equal(pthread_create(&td, NULL, stress_thread, &d), 0);
		assert_int_equal(pthread_create(&tg, NULL, stress_thread, &gu), 0);
		assert_int_equal(pthread_join(td, NULL), 0);
		assert_int_equal(pthread_join(tg, NULL), 0);
		assert_int_equal(d.err, 0);
		assert_int_equal(gu.err, 0);
		assert_int_equal(d.bad_at, 0);
		assert_int_equal(gu.bad_at, 0);
		assert_int_equal(d.sent, STRESS_BYTES);
		assert_int_equal(d.got, STRESS_BYTES);
		assert_int_equal(gu.sent, STRESS_BYTES);
		assert_int_equal(gu.got, STRESS_BYTES);
		assert_int_equal(g->page.error, MXS_RING_ERR_NONE);
		assert_int_equal(g->page.req_prod, g->page.req_cons);
		assert_int_equal(g->page.rsp_prod, g->page.rsp_cons);
		guarded_check(g);
		free(g);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrap_split),
		cmocka_unit_test(test_write2_whole_or_nothing),
		cmocka_unit_test(test_full_empty),
		cmocka_unit_test(test_init_adopts_page),
		cmocka_unit_test(test_corrupt_req_prod),
		cmocka_unit_test(test_corrupt_rsp_cons),
		cmocka_unit_test(test_full_is_not_corrupt),
		cmocka_unit_test(test_hostile_own_indices_ignored),
		cmocka_unit_test(test_guest_role_corrupt),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_stress_two_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
