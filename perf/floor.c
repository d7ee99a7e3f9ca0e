/* SPDX-License-Identifier: MIT */
/*
 * mxs-floor: the machine's floor for a xenstore daemon on its Unix socket.
 *
 *   mxs-floor --socket PATH [--threads N]
 *
 * Answers every well-formed wire message at once with a plausible reply
 * and keeps no store: READ an empty value, DIRECTORY no children,
 * GET_PERMS "n0", TRANSACTION_START transaction 1, GET_DOMAIN_PATH the
 * domain's home, IS_DOMAIN_INTRODUCED "T", every other request "OK";
 * an unknown type, a reply type or an oversized payload is answered
 * "EINVAL"/"ENOSYS" as a daemon would.  It never sends a watch event.
 *
 * What a daemon costs beyond this server is what its store, permission
 * checks, watch bookkeeping and thread hand-offs cost: the floor runs the
 * same socket, epoll and syscall pattern (one read of everything
 * available, one write of every reply it produced) that a well-built
 * daemon cannot avoid.  N threads (default 1) each run an epoll set
 * holding the shared listening socket (EPOLLEXCLUSIVE: one thread wakes
 * per new connection); whichever accepts hands the connection to the
 * threads in turn (epoll_ctl on the owner's set, as mxenstored deals
 * connections to its workers), and from then on only the owner touches
 * it.  SIGTERM/SIGINT stop it.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mxs/protocol.h"

#define FLOOR_IN_CAP (64u * 1024u)
#define FLOOR_OUT_CAP (256u * 1024u)

struct floor_conn {
	int fd;
	size_t in_len;
	char in[FLOOR_IN_CAP];
	char out[FLOOR_OUT_CAP];
};

static int listen_fd = -1;
static int nthreads = 1;
static int epfd[256];      /* each thread's epoll set, made before any runs */
static unsigned next_owner; /* round robin (relaxed atomic) */

/* Appends one reply; 0, or -ENOBUFS when the batch is full (flush). */
static int floor_reply(char *out, size_t *olen, const struct mxs_msg_hdr *q,
		       uint32_t type, const char *body, size_t blen)
{
	struct mxs_msg_hdr h = { type, q->req_id, q->tx_id, (uint32_t)blen };

	if (*olen + sizeof(h) + blen > FLOOR_OUT_CAP)
		return -ENOBUFS;
	memcpy(out + *olen, &h, sizeof(h));
	memcpy(out + *olen + sizeof(h), body, blen);
	*olen += sizeof(h) + blen;
	return 0;
}

/* The plausible answer to request q, whose payload is p[0..q->len). */
static int floor_answer(char *out, size_t *olen, const struct mxs_msg_hdr *q,
			const char *p)
{
	char home[48], domid[16] = "";
	int n;

	switch (q->type) {
	case MXS_OP_READ:
	case MXS_OP_DIRECTORY:
		return floor_reply(out, olen, q, q->type, "", 0);
	case MXS_OP_GET_PERMS:
		return floor_reply(out, olen, q, q->type, "n0", 3);
	case MXS_OP_TRANSACTION_START:
		return floor_reply(out, olen, q, q->type, "1", 2);
	case MXS_OP_IS_DOMAIN_INTRODUCED:
		return floor_reply(out, olen, q, q->type, "T", 2);
	case MXS_OP_GET_DOMAIN_PATH:
		memcpy(domid, p, q->len < sizeof(domid) ? q->len : 15);
		n = snprintf(home, sizeof(home), "/local/domain/%lu",
			     strtoul(domid, NULL, 10));
		return floor_reply(out, olen, q, q->type, home, (size_t)n + 1);
	case MXS_OP_WATCH_EVENT:
	case MXS_OP_ERROR:
		return floor_reply(out, olen, q, MXS_OP_ERROR, "EINVAL", 7);
	default:
		if (q->type >= MXS_OP_COUNT || q->type == MXS_OP_RESTRICT ||
		    q->type >= MXS_OP_GET_FEATURE)
			return floor_reply(out, olen, q, MXS_OP_ERROR, "ENOSYS",
					   7);
		return floor_reply(out, olen, q, q->type, "OK", 3);
	}
}

static int floor_write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Reads what is available, answers every complete message in one write.
 * Returns 0, or -errno when the connection must close (EOF, error, a
 * payload over MXS_PAYLOAD_MAX: the daemons close such a connection).
 */
static int floor_serve(struct floor_conn *c)
{
	size_t off = 0, olen = 0;
	ssize_t r;
	int rc = 0;

	r = read(c->fd, c->in + c->in_len, FLOOR_IN_CAP - c->in_len);
	if (r == 0)
		return -EPIPE;
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	c->in_len += (size_t)r;
	while (c->in_len - off >= sizeof(struct mxs_msg_hdr)) {
		struct mxs_msg_hdr q;

		memcpy(&q, c->in + off, sizeof(q));
		if (q.len > MXS_PAYLOAD_MAX)
			return -E2BIG;
		if (c->in_len - off < sizeof(q) + q.len)
			break;
		if (floor_answer(c->out, &olen, &q, c->in + off + sizeof(q))) {
			if ((rc = floor_write_all(c->fd, c->out, olen)))
				return rc;
			olen = 0;
			continue; /* the same message again, into an empty batch */
		}
		off += sizeof(q) + q.len;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return olen ? floor_write_all(c->fd, c->out, olen) : 0;
}

static void *floor_thread(void *arg)
{
	struct epoll_event evs[64];
	int ep = epfd[(intptr_t)arg], i, n;

	for (;;) {
		n = epoll_wait(ep, evs, 64, -1);
		for (i = 0; i < n; i++) {
			struct floor_conn *c = evs[i].data.ptr;

			if (!c) {
				int fd = accept4(listen_fd, NULL, NULL,
						 SOCK_NONBLOCK | SOCK_CLOEXEC);
				struct epoll_event cev = { .events = EPOLLIN };
				unsigned owner;

				if (fd < 0)
					continue;
				owner = __atomic_fetch_add(&next_owner, 1,
							   __ATOMIC_RELAXED) %
					(unsigned)nthreads;
				/* c->fd is set before the owner can see c: the
				 * epoll_ctl system call orders it. */
				c = calloc(1, sizeof(*c));
				if (c)
					c->fd = fd;
				cev.data.ptr = c;
				if (!c || epoll_ctl(epfd[owner], EPOLL_CTL_ADD,
						    fd, &cev)) {
					free(c);
					close(fd);
				}
				continue;
			}
			if (floor_serve(c)) {
				close(c->fd); /* also leaves the epoll set */
				free(c);
			}
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *path = NULL;
	struct epoll_event lev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
				   .data.ptr = NULL };
	pthread_t thr;
	int threads = 1, i, o;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 's': path = optarg; break;
		case 't': threads = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!path || threads < 1 || threads > 256 ||
	    strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "usage: mxs-floor --socket PATH [--threads N]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memcpy(a.sun_path, path, strlen(path) + 1);
	unlink(path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			   0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(listen_fd, 1024)) {
		perror("mxs-floor: listen");
		return 1;
	}
	nthreads = threads;
	for (i = 0; i < threads; i++) {
		epfd[i] = epoll_create1(EPOLL_CLOEXEC);
		if (epfd[i] < 0 ||
		    epoll_ctl(epfd[i], EPOLL_CTL_ADD, listen_fd, &lev)) {
			perror("mxs-floor: epoll");
			return 1;
		}
	}
	for (i = 1; i < threads; i++)
		if (pthread_create(&thr, NULL, floor_thread,
				   (void *)(intptr_t)i)) {
			fprintf(stderr, "mxs-floor: thread %d failed\n", i);
			return 1;
		}
	floor_thread((void *)(intptr_t)0);
	return 0;
}
