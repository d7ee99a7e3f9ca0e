/* SPDX-License-Identifier: MIT */
/*
 * bench_dispatch's daemon (bench/dispatch_harness.h): the fuzz target's
 * set-up (tests/fuzz/fuzz_dispatch.c, tests/inproc.h) with one socket
 * connection whose peer is the benchmark.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/dispatch_harness.h"
#include "core/daemon.h"
#include "store/rcu.h"
#include "tests/inproc.h"

#define HDR sizeof(struct mxs_msg_hdr)

static struct mxs_daemon d;
static struct mxs_worker w;

static struct {
	struct mxs_conn *c;
	int peer;            /* the client's end of the socketpair */
	unsigned int op, n;
	char *req;           /* the batch, as written */
	size_t req_len;
	char *rsp;           /* what is read back */
	size_t rsp_len;      /* expected: n replies */
	const char *payload; /* expected in each reply */
	size_t payload_len;
} bd = { .peer = -1 };

int mxs_bd_init(void)
{
	const struct mxs_caller dom0 = { 0, MXS_NO_TARGET, true, false };
	struct mxs_changes ch = { 0 };
	static int made; /* 1: made, -1: could not be */
	int err;

	if (made)
		return made > 0 ? 0 : -1;
	made = -1;
	signal(SIGPIPE, SIG_IGN); /* as the daemon */
	rcu_register_thread();
	if (mxs_inproc_init(&d, &w, 1))
		return -1;
	err = mxs_store_write(d.store, NULL, &dom0, MXS_BD_PATH, MXS_BD_VALUE,
			      strlen(MXS_BD_VALUE), &ch);
	mxs_changes_clear(&ch);
	free(ch.v);
	mxs_rcu_quiescent();
	if (err)
		return -1;
	made = 1;
	return 0;
}

int mxs_bd_open(unsigned int op, unsigned int n)
{
	static const char ok[] = "OK";
	const size_t plen = sizeof(MXS_BD_PATH); /* with its NUL */
	const size_t vlen = strlen(MXS_BD_VALUE);
	size_t len = op == MXS_OP_WRITE ? plen + vlen : plen;
	int sv[2];
	char *p;

	if (op != MXS_OP_READ && op != MXS_OP_WRITE)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
		return -1;
	bd.c = mxs_conn_new(&w, sv[0], 1);
	if (!bd.c) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	bd.peer = sv[1];
	bd.op = op;
	bd.n = n;
	if (op == MXS_OP_READ) {
		bd.payload = MXS_BD_VALUE;
		bd.payload_len = vlen;
	} else {
		bd.payload = ok;
		bd.payload_len = sizeof(ok);
	}
	bd.req_len = n * (HDR + len);
	bd.rsp_len = n * (HDR + bd.payload_len);
	bd.req = malloc(bd.req_len);
	bd.rsp = malloc(bd.rsp_len);
	if (!bd.req || !bd.rsp) {
		(void)mxs_bd_close();
		return -1;
	}
	p = bd.req;
	for (unsigned int i = 0; i < n; i++) {
		struct mxs_msg_hdr h = { op, i, 0, (uint32_t)len };

		memcpy(p, &h, HDR);
		memcpy(p + HDR, MXS_BD_PATH, plen);
		if (op == MXS_OP_WRITE)
			memcpy(p + HDR + plen, MXS_BD_VALUE, vlen);
		p += HDR + len;
	}
	return 0;
}

/* The worker loop's order (worker.c): the readable connection, the
 * dirty list, then what the request budget left over, until nothing is
 * (a batch of 256 is served 64 requests at a time). */
static void serve(void)
{
	mxs_conn_readable(bd.c);
	mxs_worker_service_dirty(&w);
	while (w.again)
		mxs_worker_run_again(&w);
}

const char *mxs_bd_round(void)
{
	size_t got = 0;
	const char *p;
	ssize_t r;

	r = write(bd.peer, bd.req, bd.req_len);
	if (r < 0 || (size_t)r != bd.req_len)
		return "short write of the requests";
	serve();
	mxs_rcu_quiescent();
	/* Only the bytes expected: no read for the -EAGAIN that would
	 * prove there is no more (a peer's system call the daemon does not
	 * make).  A reply too many is read first next round, where its id
	 * or type is wrong, or mxs_bd_close finds it. */
	while (got < bd.rsp_len) {
		r = read(bd.peer, bd.rsp + got, bd.rsp_len - got);
		if (r <= 0)
			return "fewer replies than requests";
		got += (size_t)r;
	}
	p = bd.rsp;
	for (unsigned int i = 0; i < bd.n; i++) {
		struct mxs_msg_hdr h;

		memcpy(&h, p, HDR);
		if (h.type != bd.op)
			return "reply of another type (an error?)";
		if (h.req_id != i || h.tx_id != 0)
			return "reply out of order";
		if (h.len != bd.payload_len ||
		    memcmp(p + HDR, bd.payload, bd.payload_len))
			return "reply payload differs";
		p += HDR + bd.payload_len;
	}
	return NULL;
}

const char *mxs_bd_close(void)
{
	const char *err = NULL;
	char extra;

	if (bd.peer >= 0 && read(bd.peer, &extra, 1) > 0)
		err = "more replies than requests";
	if (bd.c && !bd.c->closed)
		mxs_conn_close(bd.c);
	mxs_worker_bury(&w);
	bd.c = NULL;
	if (bd.peer >= 0)
		close(bd.peer);
	bd.peer = -1;
	free(bd.req);
	free(bd.rsp);
	bd.req = bd.rsp = NULL;
	mxs_rcu_quiescent();
	return err;
}
