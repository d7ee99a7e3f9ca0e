/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the ring reader and writer (rings/ring.c) on one page,
 * driven from both sides by the input: a well-behaved guest and the daemon
 * exchanging sequence-numbered bytes, interleaved with a hostile guest's
 * stores into any field of the page (indices, data, connection) and with
 * reconnections.
 *
 * Checked after every operation:
 *   - no access outside the page or the caller's buffer (ASan: the page
 *     and every buffer are heap blocks of their exact size);
 *   - no call returns more than asked or more than the ring holds;
 *   - the daemon's own indices in the page are its shadows (it never
 *     takes a guest's value for its own);
 *   - a corrupt index (prod - cons > 1024) sets error = RINGIDX, and the
 *     daemon then moves nothing and copies nothing until the reset;
 *   - as long as the guest behaved since the last reset, every byte the
 *     daemon reads is the next one the guest wrote and every byte the
 *     guest reads is the next one the daemon wrote (none lost, none
 *     duplicated), and neither side ever sees a corrupt ring.
 *
 * Input: a sequence of operations, each an opcode byte and its operand
 * bytes (see the switch); bit 7 of the opcode makes a read or write ask
 * mxs_ring_readable / mxs_ring_writable first, so that read and write
 * are also fuzzed on their own index checks.  Lengths are up to 1500, so copies cross the
 * end of the 1024-byte array and span a whole ring.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rings/ring.h"
#include "tests/fuzz/fuzz.h"

struct fuzz_ring_state {
	struct mxs_ring_page *page;
	struct mxs_ring d, g;           /* daemon's and guest's views */
	bool hostile;                   /* the guest misbehaved since reset */
	uint32_t g_sent, d_rcvd;        /* request stream positions */
	uint32_t d_sent, g_rcvd;        /* reply stream positions */
	char snap[MXS_RING_SIZE];       /* a ring's bytes before a write */
};

struct fuzz_ring_input {
	const uint8_t *p;
	size_t n;
};

static uint32_t take(struct fuzz_ring_input *in, unsigned int bytes)
{
	uint32_t v = 0;

	while (bytes-- && in->n) {
		v = v << 8 | *in->p++;
		in->n--;
	}
	return v;
}

/* Byte i of a stream: a pattern whose period (251) is prime to the
 * ring size, so a lost, repeated or misplaced byte shows. */
static uint8_t stream_byte(uint32_t i, uint8_t salt)
{
	return (uint8_t)(i % 251 + salt);
}

/* Daemon-side invariants that hold whatever the guest does. */
static void check_daemon(struct fuzz_ring_state *s)
{
	/* Relaxed loads: the fuzzer is single-threaded. */
	CHECK(s->page->req_cons == s->d.in_cons || s->hostile);
	CHECK(s->page->rsp_prod == s->d.out_prod || s->hostile);
	if (mxs_ring_is_broken(&s->d))
		CHECK(s->page->error == MXS_RING_ERR_RINGIDX || s->hostile);
	if (!s->hostile) {
		CHECK(!mxs_ring_is_broken(&s->d) && !mxs_ring_is_broken(&s->g));
		CHECK(s->page->error == MXS_RING_ERR_NONE);
		CHECK(s->g_sent - s->d_rcvd <= MXS_RING_SIZE);
		CHECK(s->d_sent - s->g_rcvd <= MXS_RING_SIZE);
	}
}

/* query: ask mxs_ring_writable first (and check the write against it);
 * otherwise the write alone must detect a corrupt ring. */
static void do_write(struct fuzz_ring_state *s, struct mxs_ring *r,
		     uint32_t *pos, uint8_t salt, size_t len, bool query)
{
	uint8_t *buf = malloc(len ? len : 1);
	bool was_broken = mxs_ring_is_broken(r);
	mxs_ring_idx_t before = r->out_prod;
	ssize_t n;
	size_t room = query ? mxs_ring_writable(r) : MXS_RING_SIZE;

	CHECK(buf);
	CHECK(room <= MXS_RING_SIZE);
	for (size_t i = 0; i < len; i++)
		buf[i] = stream_byte(*pos + (uint32_t)i, salt);
	memcpy(s->snap, r->out_buf, MXS_RING_SIZE);
	n = mxs_ring_write(r, buf, len);
	/* -EIO exactly when broken; then nothing moved, nothing copied. */
	CHECK((n < 0) == mxs_ring_is_broken(r));
	if (n < 0) {
		CHECK(n == -EIO && r->out_prod == before);
		CHECK(!memcmp(s->snap, r->out_buf, MXS_RING_SIZE));
		if (r == &s->d && !was_broken)
			CHECK(s->page->error == MXS_RING_ERR_RINGIDX);
	} else {
		CHECK((size_t)n <= len && (size_t)n <= MXS_RING_SIZE);
		CHECK(r->out_prod == before + (mxs_ring_idx_t)n);
		if (!s->hostile && query)
			CHECK((size_t)n == (room < len ? room : len));
		*pos += (uint32_t)n;
	}
	free(buf);
}

static void do_read(struct fuzz_ring_state *s, struct mxs_ring *r,
		    uint32_t *pos, uint8_t salt, size_t len, bool query)
{
	uint8_t *buf = malloc(len ? len : 1);
	bool was_broken = mxs_ring_is_broken(r);
	mxs_ring_idx_t before = r->in_cons;
	size_t avail = query ? mxs_ring_readable(r) : MXS_RING_SIZE;
	ssize_t n;

	CHECK(buf);
	CHECK(avail <= MXS_RING_SIZE);
	n = mxs_ring_read(r, buf, len);
	CHECK((n < 0) == mxs_ring_is_broken(r));
	if (n < 0) {
		CHECK(n == -EIO && r->in_cons == before);
		if (r == &s->d && !was_broken)
			CHECK(s->page->error == MXS_RING_ERR_RINGIDX);
	} else {
		CHECK(!was_broken);
		CHECK((size_t)n <= len && (size_t)n <= MXS_RING_SIZE);
		CHECK(r->in_cons == before + (mxs_ring_idx_t)n);
		if (!s->hostile) {
			if (query)
				CHECK((size_t)n == (avail < len ? avail : len));
			for (ssize_t i = 0; i < n; i++)
				CHECK(buf[i] == stream_byte(*pos + (uint32_t)i,
							    salt));
		}
		*pos += (uint32_t)n;
	}
	free(buf);
}

/* The handshake of xenstore-ring.txt: the guest asks, the daemon resets
 * (dropping whatever was in flight), the guest restarts. */
static void reconnect(struct fuzz_ring_state *s)
{
	mxs_ring_request_reconnect(&s->g);
	CHECK(mxs_ring_reconnect_requested(&s->d));
	mxs_ring_reset(&s->d);
	CHECK(mxs_ring_connected(&s->g));
	mxs_ring_reset(&s->g);
	CHECK(s->page->req_cons == 0 && s->page->req_prod == 0 &&
	      s->page->rsp_cons == 0 && s->page->rsp_prod == 0);
	CHECK(s->page->error == MXS_RING_ERR_NONE);
	CHECK(!mxs_ring_is_broken(&s->d) && !mxs_ring_is_broken(&s->g));
	s->hostile = false;
	s->g_sent = s->d_rcvd = s->d_sent = s->g_rcvd = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ring_input in = { data, size };
	struct fuzz_ring_state s = { 0 };
	uint32_t start;

	s.page = calloc(1, sizeof(*s.page));
	CHECK(s.page);
	/* Indices need not start at zero (xenstore-ring.txt). */
	start = take(&in, 4);
	s.page->req_cons = s.page->req_prod = start;
	s.page->rsp_cons = s.page->rsp_prod = start ^ 0x5a5a5a5au;
	mxs_ring_init(&s.d, s.page, MXS_RING_DAEMON);
	mxs_ring_init(&s.g, s.page, MXS_RING_GUEST);
	mxs_ring_set_features(&s.d, MXS_RING_DAEMON_FEATURES);
	CHECK(mxs_ring_features(&s.g) == MXS_RING_DAEMON_FEATURES);

	while (in.n) {
		uint8_t op = (uint8_t)take(&in, 1);
		size_t len = take(&in, 2) % 1501;
		uint32_t v;

		switch ((op & 0x7f) % 12) { /* bit 7: query before a copy */
		case 0: /* guest sends */
			do_write(&s, &s.g, &s.g_sent, 0, len, op & 0x80);
			break;
		case 1: /* daemon receives */
			do_read(&s, &s.d, &s.d_rcvd, 0, len, op & 0x80);
			break;
		case 2: /* daemon replies */
			do_write(&s, &s.d, &s.d_sent, 0x80, len, op & 0x80);
			break;
		case 3: /* guest receives */
			do_read(&s, &s.g, &s.g_rcvd, 0x80, len, op & 0x80);
			break;
		case 4: /* hostile: the guest's producer index */
			v = take(&in, 4);
			s.hostile = true;
			s.page->req_prod = v;
			break;
		case 5: /* hostile: the guest's consumer index */
			v = take(&in, 4);
			s.hostile = true;
			s.page->rsp_cons = v;
			break;
		case 6: /* hostile: the daemon's own indices in the page */
			v = take(&in, 4);
			s.hostile = true;
			if (len & 1)
				s.page->req_cons = v;
			else
				s.page->rsp_prod = v;
			break;
		case 7: /* hostile: data bytes (the daemon parses its copy) */
			v = take(&in, 1);
			s.hostile = true;
			((uint8_t *)s.page)[len % (2 * MXS_RING_SIZE)] = (uint8_t)v;
			break;
		case 8: /* reconnection */
			reconnect(&s);
			break;
		case 9: /* hostile: connection field flipped between calls */
			v = take(&in, 1);
			s.hostile = true;
			s.page->connection = v & 1 ? MXS_RING_RECONNECT : v;
			break;
		case 10: /* the daemon's queries never exceed the ring */
			CHECK(mxs_ring_readable(&s.d) <= MXS_RING_SIZE);
			CHECK(mxs_ring_writable(&s.d) <= MXS_RING_SIZE);
			break;
		case 11: /* hostile: the error field (the server's) */
			s.hostile = true;
			s.page->error = take(&in, 1);
			break;
		}
		check_daemon(&s);
	}
	free(s.page);
	return 0;
}
