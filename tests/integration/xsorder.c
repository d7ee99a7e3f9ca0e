/* SPDX-License-Identifier: MIT */
/*
 * xsorder: checks two watch-event guarantees over the socket, against a
 * daemon whose connections are spread over several workers.
 *
 *   xsorder --socket PATH --mode unwatch|reset|order [--rounds N]
 *
 * unwatch, reset: one watcher and three writers that keep writing below
 *   /z.  Each round the watcher sets a watch on /z, lets events flow,
 *   removes it (UNWATCH, or RESET_WATCHES) and then waits 20 ms: any
 *   event that arrives after the reply is a violation (the C daemon never
 *   sends one).
 * order: two writers commit N transactions each; a transaction reads
 *   /c/counter (k), writes k+1 there and creates /o/<k+1>.  Commits that
 *   conflict retry, so k orders the commits as they were applied.  The
 *   watcher of /o must get each /o/<k> exactly once, k strictly
 *   increasing.
 *
 * Connections are accepted in order watcher, writers, so round-robin
 * assignment puts writers on the watcher's worker and on others.  Prints
 * one line "xsorder mode=... rounds=... events=... violations=V" and
 * exits 1 when V > 0 or on any protocol error.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mxs/protocol.h"

#define HDR sizeof(struct mxs_msg_hdr)
#define WRITERS_EVENTS 3
#define WRITERS_ORDER 4

struct msg {
	struct mxs_msg_hdr h;
	char p[MXS_PAYLOAD_MAX + 1];
};

static const char *sock_path;
static int stop_writers; /* relaxed: a plain stop flag */

static void die(const char *what)
{
	fprintf(stderr, "xsorder: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int xconnect(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	return fd;
}

static void xwrite_all(int fd, const void *b, size_t n)
{
	const char *p = b;

	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die("write");
		p += k;
		n -= (size_t)k;
	}
}

static void xread_all(int fd, void *b, size_t n)
{
	char *p = b;

	while (n) {
		ssize_t k = read(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = ECONNRESET;
			die("read");
		}
		p += k;
		n -= (size_t)k;
	}
}

/* Sends one message whose payload is the strings of a and b (b may be
 * NULL, len_b the bytes of b). */
static void send_msg(int fd, uint32_t type, uint32_t tx, const char *a,
		     const char *b, size_t len_b)
{
	char buf[HDR + MXS_PAYLOAD_MAX];
	size_t la = a ? strlen(a) + 1 : 0;
	struct mxs_msg_hdr h = { type, 0, tx, (uint32_t)(la + len_b) };

	memcpy(buf, &h, HDR);
	if (la)
		memcpy(buf + HDR, a, la);
	if (len_b)
		memcpy(buf + HDR + la, b, len_b);
	xwrite_all(fd, buf, HDR + la + len_b);
}

static void recv_msg(int fd, struct msg *m)
{
	xread_all(fd, &m->h, HDR);
	if (m->h.len > MXS_PAYLOAD_MAX) {
		errno = EPROTO;
		die("oversized reply");
	}
	xread_all(fd, m->p, m->h.len);
	m->p[m->h.len] = '\0';
}

/* A reply on a connection that has no watches. */
static void reply(int fd, struct msg *m)
{
	recv_msg(fd, m);
	if (m->h.type == MXS_OP_WATCH_EVENT) {
		errno = EPROTO;
		die("event on a connection without watches");
	}
}

static bool readable_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		die("poll");
	return n > 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ */

static void *event_writer(void *arg)
{
	long id = (long)arg;
	int fd = xconnect();
	char path[64];
	struct msg m;
	unsigned long i = 0;

	while (!__atomic_load_n(&stop_writers, __ATOMIC_RELAXED)) {
		snprintf(path, sizeof(path), "/z/w%ld-%lu", id, i++ % 8);
		send_msg(fd, MXS_OP_WRITE, 0, path, "v", 1);
		reply(fd, &m);
		if (m.h.type != MXS_OP_WRITE) {
			fprintf(stderr, "xsorder: WRITE: %s\n", m.p);
			exit(2);
		}
	}
	close(fd);
	return NULL;
}

/* Reads until the reply of type `type`; returns the events seen. */
static unsigned long until_reply(int fd, uint32_t type, struct msg *m)
{
	unsigned long events = 0;

	for (;;) {
		recv_msg(fd, m);
		if (m->h.type == MXS_OP_WATCH_EVENT) {
			events++;
			continue;
		}
		if (m->h.type != type) {
			fprintf(stderr, "xsorder: reply %u to %u: %s\n",
				m->h.type, type, m->p);
			exit(2);
		}
		return events;
	}
}

static int run_events(bool reset, int rounds, unsigned long *events)
{
	pthread_t thr[WRITERS_EVENTS];
	int fd = xconnect(), violations = 0, r;
	struct msg m;
	char token[32];
	double t0;
	long i;

	/* The watcher's connection is accepted first (see the opening). */
	send_msg(fd, MXS_OP_WRITE, 0, "/z", "", 0);
	reply(fd, &m);
	for (i = 0; i < WRITERS_EVENTS; i++)
		if (pthread_create(&thr[i], NULL, event_writer, (void *)i))
			die("pthread_create");
	for (r = 0; r < rounds; r++) {
		snprintf(token, sizeof(token), "t%d", r);
		send_msg(fd, MXS_OP_WATCH, 0, "/z", token, strlen(token) + 1);
		*events += until_reply(fd, MXS_OP_WATCH, &m);
		/* Let events of the writers flow for a while (2 ms). */
		for (t0 = now_ms();
		     now_ms() - t0 < 2 && readable_within(fd, 2);) {
			recv_msg(fd, &m);
			(*events)++;
		}
		if (reset)
			send_msg(fd, MXS_OP_RESET_WATCHES, 0, NULL, NULL, 0);
		else
			send_msg(fd, MXS_OP_UNWATCH, 0, "/z", token,
				 strlen(token) + 1);
		*events += until_reply(fd, reset ? MXS_OP_RESET_WATCHES
						 : MXS_OP_UNWATCH, &m);
		/* 20 ms of silence expected (reports capped at 20 lines). */
		for (t0 = now_ms();
		     now_ms() - t0 < 20 && readable_within(fd, 20);) {
			recv_msg(fd, &m);
			if (m.h.type != MXS_OP_WATCH_EVENT)
				continue;
			if (violations++ < 20)
				fprintf(stderr, "xsorder: round %d: event %s "
					"after the %s reply\n", r, m.p,
					reset ? "RESET_WATCHES" : "UNWATCH");
		}
	}
	__atomic_store_n(&stop_writers, 1, __ATOMIC_RELAXED);
	for (i = 0; i < WRITERS_EVENTS; i++)
		pthread_join(thr[i], NULL);
	close(fd);
	return violations;
}

/* ------------------------------------------------------------------ */

static int commits_per_writer;

static void *order_writer(void *arg)
{
	int fd = xconnect(), done = 0;
	struct msg m;
	char path[64], val[32];
	uint32_t tx;
	long k;

	(void)arg;
	while (done < commits_per_writer) {
		send_msg(fd, MXS_OP_TRANSACTION_START, 0, "", NULL, 0);
		reply(fd, &m);
		tx = (uint32_t)strtoul(m.p, NULL, 10);
		send_msg(fd, MXS_OP_READ, tx, "/c/counter", NULL, 0);
		reply(fd, &m);
		if (m.h.type != MXS_OP_READ) {
			fprintf(stderr, "xsorder: READ counter: %s\n", m.p);
			exit(2);
		}
		k = strtol(m.p, NULL, 10) + 1;
		/* The rest of the transaction pipelined: the shortest window
		 * between two commits, the likeliest reordering. */
		snprintf(val, sizeof(val), "%ld", k);
		send_msg(fd, MXS_OP_WRITE, tx, "/c/counter", val, strlen(val));
		snprintf(path, sizeof(path), "/o/%ld", k);
		send_msg(fd, MXS_OP_WRITE, tx, path, "", 0);
		send_msg(fd, MXS_OP_TRANSACTION_END, tx, "T", NULL, 0);
		reply(fd, &m);
		reply(fd, &m);
		reply(fd, &m);
		if (m.h.type == MXS_OP_TRANSACTION_END)
			done++;
		else if (strcmp(m.p, "EAGAIN")) {
			fprintf(stderr, "xsorder: commit: %s\n", m.p);
			exit(2);
		}
	}
	close(fd);
	return NULL;
}

static int run_order(int commits, unsigned long *events)
{
	pthread_t thr[WRITERS_ORDER];
	int fd = xconnect(), violations = 0, i;
	long last = 0, total = (long)commits * WRITERS_ORDER;
	struct msg m;

	send_msg(fd, MXS_OP_WRITE, 0, "/c/counter", "0", 1);
	reply(fd, &m);
	send_msg(fd, MXS_OP_WRITE, 0, "/o", "", 0);
	reply(fd, &m);
	send_msg(fd, MXS_OP_WATCH, 0, "/o", "o", 2);
	until_reply(fd, MXS_OP_WATCH, &m);
	recv_msg(fd, &m); /* the watch's first event, for /o itself */
	commits_per_writer = commits;
	for (i = 0; i < WRITERS_ORDER; i++)
		if (pthread_create(&thr[i], NULL, order_writer, NULL))
			die("pthread_create");
	while (last < total && readable_within(fd, 60000)) {
		long k;

		recv_msg(fd, &m);
		if (m.h.type != MXS_OP_WATCH_EVENT ||
		    strncmp(m.p, "/o/", 3)) {
			fprintf(stderr, "xsorder: unexpected %u %s\n",
				m.h.type, m.p);
			exit(2);
		}
		(*events)++;
		k = strtol(m.p + 3, NULL, 10);
		if (k != last + 1) {
			violations++;
			fprintf(stderr, "xsorder: event /o/%ld after /o/%ld\n",
				k, last);
		}
		if (k > last)
			last = k;
	}
	for (i = 0; i < WRITERS_ORDER; i++)
		pthread_join(thr[i], NULL);
	/* Nothing may follow the last commit's event. */
	while (readable_within(fd, 100)) {
		recv_msg(fd, &m);
		violations++;
		fprintf(stderr, "xsorder: extra event %s\n", m.p);
	}
	if ((long)*events != total) {
		violations++;
		fprintf(stderr, "xsorder: %lu events for %ld commits\n",
			*events, total);
	}
	close(fd);
	return violations;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "rounds", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mode = NULL;
	unsigned long events = 0;
	int rounds = 0, v, c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': sock_path = optarg; break;
		case 'm': mode = optarg; break;
		case 'r': rounds = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!sock_path || !mode) {
		fprintf(stderr, "usage: xsorder --socket PATH "
			"--mode unwatch|reset|order [--rounds N]\n");
		return 2;
	}
	if (!strcmp(mode, "unwatch") || !strcmp(mode, "reset")) {
		rounds = rounds ? rounds : 300;
		v = run_events(mode[0] == 'r', rounds, &events);
	} else if (!strcmp(mode, "order")) {
		rounds = rounds ? rounds : 3000;
		v = run_order(rounds, &events);
	} else {
		fprintf(stderr, "xsorder: unknown mode %s\n", mode);
		return 2;
	}
	printf("xsorder mode=%s rounds=%d events=%lu violations=%d\n", mode,
	       rounds, events, v);
	return v ? 1 : 0;
}
