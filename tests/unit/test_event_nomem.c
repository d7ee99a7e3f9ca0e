/* SPDX-License-Identifier: MIT */
/*
 * A watch event that cannot be built for lack of memory is never lost
 * silently: its connection is closed after its owner's batch (a client
 * must not go on believing it saw every change), on the writer's own
 * worker and on another one (woken through its eventfd); the write itself
 * stands, and the other watchers get their events.
 *
 * Two workers are driven by hand from this thread, as the fuzz harness
 * drives one.  The allocation of one chosen event fails through the
 * linker's --wrap=malloc (this test only): events are the only
 * allocations of their size here, since the tokens are longer than any
 * reply.  Without the fix (the event dropped and nothing else), the
 * watcher stays open and the EOF checks fail.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/daemon.h"
#include "store/rcu.h"
#include "tests/inproc.h"

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);

static size_t fail_size; /* 0: no allocation fails */
static unsigned int failed;

void *__wrap_malloc(size_t n)
{
	if (fail_size && n == fail_size) {
		failed++;
		return NULL;
	}
	return __real_malloc(n);
}

static struct mxs_daemon d;
static struct mxs_worker w[2];

#define TOKEN_A "token-of-the-watcher-on-the-other-worker-a"
#define TOKEN_B "token-of-the-watcher-on-the-writers-worker-b"
#define TOKEN_C "token-of-the-second-watcher-on-the-writers-worker"

static size_t event_size(const char *path, const char *token)
{
	return sizeof(struct mxs_out) + sizeof(struct mxs_msg_hdr) +
	       strlen(path) + 1 + strlen(token) + 1;
}

static void send_msg(int fd, uint32_t type, const char *a, const char *b)
{
	char buf[256];
	size_t la = strlen(a) + 1, lb = b ? strlen(b) + (type == MXS_OP_WATCH) : 0;
	struct mxs_msg_hdr hdr = { type, 7, 0, (uint32_t)(la + lb) };

	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), a, la);
	if (b)
		memcpy(buf + sizeof(hdr) + la, b, lb);
	assert_int_equal(write(fd, buf, sizeof(hdr) + la + lb),
			 (ssize_t)(sizeof(hdr) + la + lb));
}

/* One batch of worker k serving c, as its loop would. */
static void serve(int k, struct mxs_conn *c)
{
	mxs_worker_adopt(&w[k]);
	mxs_worker_take_events(&w[k]);
	if (c)
		mxs_conn_readable(c);
	mxs_worker_service_dirty(&w[k]);
	mxs_worker_bury(&w[k]);
}

struct seen {
	int replies, events;
	bool eof;
	char last_event[256];
};

/* Everything readable on fd now. */
static struct seen drain(int fd)
{
	struct seen s = { 0 };
	char buf[65536];
	size_t len = 0, off = 0;
	ssize_t n;

	while ((n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	s.eof = n == 0;
	while (len - off >= sizeof(struct mxs_msg_hdr)) {
		struct mxs_msg_hdr hdr;

		memcpy(&hdr, buf + off, sizeof(hdr));
		if (hdr.type == MXS_OP_WATCH_EVENT) {
			s.events++;
			const char *p = buf + off + sizeof(hdr);
			size_t pl = strnlen(p, 128);

			snprintf(s.last_event, sizeof(s.last_event), "%.*s %.*s",
				 (int)pl, p, 100, p + pl + 1);
		} else {
			s.replies++;
		}
		off += sizeof(hdr) + hdr.len;
	}
	return s;
}

static struct mxs_conn *conn(int k, int *peer, uint64_t seq)
{
	int sv[2];
	struct mxs_conn *c;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
				    sv),
			 0);
	c = mxs_conn_new(&w[k], sv[0], seq);
	assert_non_null(c);
	*peer = sv[1];
	return c;
}

static void watch(int k, struct mxs_conn *c, int fd, const char *token)
{
	struct seen s;

	send_msg(fd, MXS_OP_WATCH, "/x", token);
	serve(k, c);
	s = drain(fd);
	assert_int_equal(s.replies, 1);
	assert_int_equal(s.events, 1); /* the initial one */
}

static void test_lost_event_closes_watcher(void **state)
{
	struct mxs_conn *ca, *cb, *cc, *cw;
	int fa, fb, fc, fw;
	uint64_t v;
	struct seen s;
	struct mxs_buf val = { 0 };
	const struct mxs_caller dom0 = { 0, MXS_NO_TARGET, true, false };

	(void)state;
	ca = conn(1, &fa, 1); /* watcher on the other worker */
	cb = conn(0, &fb, 2); /* watcher on the writer's worker */
	cc = conn(0, &fc, 3); /* second watcher there */
	cw = conn(0, &fw, 4); /* the writer */
	watch(1, ca, fa, TOKEN_A);
	watch(0, cb, fb, TOKEN_B);
	watch(0, cc, fc, TOKEN_C);

	/* The event for the other worker's watcher cannot be built. */
	while (read(w[1].evfd, &v, sizeof(v)) > 0)
		;
	fail_size = event_size("/x", TOKEN_A);
	send_msg(fw, MXS_OP_WRITE, "/x", "v1");
	serve(0, cw);
	fail_size = 0;
	assert_int_equal(failed, 1);
	s = drain(fw);
	assert_int_equal(s.replies, 1); /* the write is acknowledged */
	assert_int_equal(drain(fb).events, 1);
	assert_int_equal(drain(fc).events, 1);
	/* Its owner was woken and closes it in its next batch. */
	assert_true(read(w[1].evfd, &v, sizeof(v)) > 0);
	s = drain(fa);
	assert_false(s.eof);
	serve(1, NULL);
	s = drain(fa);
	assert_true(s.eof);
	assert_int_equal(s.events, 0);

	/* The same on the writer's own worker: closed after the batch. */
	failed = 0;
	fail_size = event_size("/x", TOKEN_C);
	send_msg(fw, MXS_OP_WRITE, "/x", "v2");
	serve(0, cw);
	fail_size = 0;
	assert_int_equal(failed, 1);
	assert_int_equal(drain(fw).replies, 1);
	s = drain(fb);
	assert_int_equal(s.events, 1);
	assert_false(s.eof);
	assert_string_equal(s.last_event, "/x " TOKEN_B);
	assert_true(drain(fc).eof);

	/* The writes stand. */
	assert_int_equal(mxs_store_read(d.store, NULL, &dom0, "/x", &val), 0);
	assert_int_equal(val.len, 2);
	assert_memory_equal(val.p, "v2", 2);
	mxs_buf_free(&val);

	mxs_worker_adopt(&w[0]);
	mxs_conn_close(cb);
	mxs_conn_close(cw);
	mxs_worker_bury(&w[0]);
	close(fa);
	close(fb);
	close(fc);
	close(fw);
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	rcu_register_thread();
	return mxs_inproc_init(&d, w, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lost_event_closes_watcher),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
