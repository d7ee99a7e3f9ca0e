/* SPDX-License-Identifier: MIT */
/*
 * mxs-floor: the machine's floor for a xenstore daemon on its Unix socket.
 *
 *   mxs-floor --socket PATH [--threads N] [--io epoll|uring]
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
 *
 * --io uring serves the same pattern through one io_uring per thread
 * (core/uring.h): a multishot receive per connection into the thread's
 * provided buffers, one send per connection in flight, and every
 * submission and completion of a round in one io_uring_enter.  New
 * connections reach their owner through a locked queue and its eventfd
 * (polled through the ring), as mxenstored's inbox does.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/uring.h"
#include "mxs/protocol.h"

#define FLOOR_IN_CAP (64u * 1024u)
#define FLOOR_OUT_CAP (256u * 1024u)

struct floor_held {
	uint16_t bid;
	uint32_t off, len;
};

struct floor_conn {
	int fd;
	/* --io uring: a send of out[out_off..out_len) in flight; the
	 * multishot receive armed; closing once neither is.  Received
	 * bytes that in[] had no room for stay in their buffers (held,
	 * oldest first) with the receive cancelled until in[] takes them:
	 * a client that does not read its replies is not read either. */
	bool sending, receiving, closing, stopping;
	size_t out_off, out_len;
	struct floor_held *held;
	size_t nheld, held_cap;
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
 * Answers the complete messages at the start of c->in into c->out (from
 * *olen on) and removes them from c->in.  Returns 1 when c->out filled
 * before the input ran out (send it, then call again), 0 when no complete
 * message is left, -E2BIG for a payload over MXS_PAYLOAD_MAX (the daemons
 * close such a connection).
 */
static int floor_batch(struct floor_conn *c, size_t *olen)
{
	size_t off = 0;
	int full = 0;

	while (c->in_len - off >= sizeof(struct mxs_msg_hdr)) {
		struct mxs_msg_hdr q;

		memcpy(&q, c->in + off, sizeof(q));
		if (q.len > MXS_PAYLOAD_MAX)
			return -E2BIG;
		if (c->in_len - off < sizeof(q) + q.len)
			break;
		if ((full = floor_answer(c->out, olen, &q,
					 c->in + off + sizeof(q))))
			break;
		off += sizeof(q) + q.len;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return full;
}

/*
 * Reads what is available, answers every complete message in one write
 * (more when they do not fit one batch).  Returns 0, or -errno when the
 * connection must close (EOF, error, an oversized payload).
 */
static int floor_serve(struct floor_conn *c)
{
	size_t olen;
	ssize_t r;
	int full, rc;

	r = read(c->fd, c->in + c->in_len, FLOOR_IN_CAP - c->in_len);
	if (r == 0)
		return -EPIPE;
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	c->in_len += (size_t)r;
	do {
		olen = 0;
		if ((full = floor_batch(c, &olen)) < 0)
			return full;
		if (olen && (rc = floor_write_all(c->fd, c->out, olen)))
			return rc;
	} while (full);
	return 0;
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

/* --io uring.  user_data: a connection's address with the operation in
 * its low bits, or one of the thread's own polls. */
#define FLOOR_UD_RECV 1u
#define FLOOR_UD_SEND 2u
#define FLOOR_UD_LISTEN 3u
#define FLOOR_UD_WAKE 4u
#define FLOOR_UD_MASK 7u
#define FLOOR_BUFS 512u
#define FLOOR_BUF_SIZE 4096u

/* New connections for a thread: the acceptor queues the fd and writes
 * the owner's eventfd. */
struct floor_inbox {
	pthread_mutex_t lock;
	int *fds;
	size_t n, cap;
	int efd;
};

static bool use_uring;
static struct floor_inbox inboxes[256];

static int floor_urecv(struct mxs_uring *r, struct floor_conn *c)
{
	int rc = mxs_uring_recv_multishot(r, c->fd,
					  (uint64_t)(uintptr_t)c | FLOOR_UD_RECV);

	if (!rc)
		c->receiving = true;
	return rc;
}

static int floor_usend(struct mxs_uring *r, struct floor_conn *c)
{
	int rc = mxs_uring_send(r, c->fd, c->out + c->out_off,
				c->out_len - c->out_off,
				(uint64_t)(uintptr_t)c | FLOOR_UD_SEND);

	if (!rc)
		c->sending = true;
	return rc;
}

/* Closed and freed once no operation of c is in flight; the caller's
 * last use of c. */
static void floor_ureap(struct mxs_uring *r, struct floor_conn *c)
{
	if (c->closing && !c->sending && !c->receiving) {
		while (c->nheld)
			mxs_uring_buf_recycle(r, c->held[--c->nheld].bid);
		close(c->fd);
		free(c->held);
		free(c);
	}
}

/* c is to close: what it has in flight is cancelled (its completions
 * still come, floor_ureap frees c after the last). */
static void floor_uclose(struct mxs_uring *r, struct floor_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->closing)
		return;
	c->closing = true;
	if ((c->receiving || c->sending) && (sqe = mxs_uring_get_sqe(r))) {
		sqe->opcode = IORING_OP_ASYNC_CANCEL;
		sqe->fd = c->fd;
		sqe->cancel_flags = IORING_ASYNC_CANCEL_FD |
				    IORING_ASYNC_CANCEL_ALL;
		sqe->user_data = 0;
	}
}

/* Stops c's multishot receive (its last completion says -ECANCELED). */
static void floor_ustop(struct mxs_uring *r, struct floor_conn *c)
{
	if (!mxs_uring_cancel(r, (uint64_t)(uintptr_t)c | FLOOR_UD_RECV, 0))
		c->stopping = true;
}

/* Moves held bytes into c->in while it has room; re-arms the receive
 * once nothing is held.  0 or -errno. */
static int floor_unhold(struct mxs_uring *r, struct floor_conn *c)
{
	while (c->nheld) {
		struct floor_held *h = &c->held[0];
		size_t n = h->len - h->off, room = FLOOR_IN_CAP - c->in_len;

		if (n > room)
			n = room;
		memcpy(c->in + c->in_len, mxs_uring_buf(r, h->bid) + h->off, n);
		c->in_len += n;
		h->off += (uint32_t)n;
		if (h->off < h->len)
			return 0;
		mxs_uring_buf_recycle(r, h->bid);
		memmove(c->held, c->held + 1, --c->nheld * sizeof(*c->held));
	}
	return c->receiving || c->closing ? 0 : floor_urecv(r, c);
}

/* Received bytes n in buffer bid: into c->in, or held. */
static void floor_ureceived(struct mxs_uring *r, struct floor_conn *c,
			    unsigned int bid, size_t n)
{
	if (!c->nheld && n <= FLOOR_IN_CAP - c->in_len) {
		memcpy(c->in + c->in_len, mxs_uring_buf(r, bid), n);
		c->in_len += n;
		mxs_uring_buf_recycle(r, bid);
		return;
	}
	if (c->nheld == c->held_cap) {
		size_t cap = c->held_cap ? 2 * c->held_cap : 8;
		struct floor_held *v = realloc(c->held, cap * sizeof(*v));

		if (!v) {
			mxs_uring_buf_recycle(r, bid);
			floor_uclose(r, c);
			return;
		}
		c->held = v;
		c->held_cap = cap;
	}
	if (c->receiving && !c->stopping)
		floor_ustop(r, c);
	c->held[c->nheld++] = (struct floor_held){ (uint16_t)bid, 0,
						   (uint32_t)n };
}

/* Answers the complete messages in c->in, when no send is in flight,
 * in one send.  0, or -errno when c must close. */
static int floor_userve(struct mxs_uring *r, struct floor_conn *c)
{
	size_t olen = 0;
	int rc;

	if (c->sending || c->closing)
		return 0;
	/* A full batch: the rest after this send. */
	if ((rc = floor_batch(c, &olen)) < 0)
		return rc;
	if (c->nheld && (rc = floor_unhold(r, c)))
		return rc;
	if (!olen)
		return 0;
	c->out_off = 0;
	c->out_len = olen;
	return floor_usend(r, c);
}

static void floor_uadd(struct mxs_uring *r, int fd)
{
	struct floor_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	if (floor_urecv(r, c)) {
		close(fd);
		free(c);
	}
}

static void floor_uaccept(struct mxs_uring *r, int self)
{
	int fd;

	while ((fd = accept4(listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		unsigned owner = __atomic_fetch_add(&next_owner, 1,
						    __ATOMIC_RELAXED) %
				 (unsigned)nthreads;
		struct floor_inbox *in = &inboxes[owner];
		uint64_t one = 1;

		if ((int)owner == self) {
			floor_uadd(r, fd);
			continue;
		}
		pthread_mutex_lock(&in->lock);
		if (in->n == in->cap) {
			size_t cap = in->cap ? 2 * in->cap : 64;
			int *v = realloc(in->fds, cap * sizeof(*v));

			if (!v) {
				pthread_mutex_unlock(&in->lock);
				close(fd);
				continue;
			}
			in->fds = v;
			in->cap = cap;
		}
		in->fds[in->n++] = fd;
		pthread_mutex_unlock(&in->lock);
		if (write(in->efd, &one, sizeof(one)) < 0)
			perror("mxs-floor: eventfd");
	}
}

static void floor_uwoken(struct mxs_uring *r, int self)
{
	struct floor_inbox *in = &inboxes[self];
	uint64_t v;
	size_t i;

	if (read(in->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		perror("mxs-floor: eventfd");
	pthread_mutex_lock(&in->lock);
	for (i = 0; i < in->n; i++)
		floor_uadd(r, in->fds[i]);
	in->n = 0;
	pthread_mutex_unlock(&in->lock);
}

static void floor_ucomplete(struct mxs_uring *r, int self,
			    const struct io_uring_cqe *cqe)
{
	struct floor_conn *c =
		(struct floor_conn *)(uintptr_t)(cqe->user_data &
						 ~(uint64_t)FLOOR_UD_MASK);
	unsigned int tag = (unsigned int)(cqe->user_data & FLOOR_UD_MASK);
	bool more = cqe->flags & IORING_CQE_F_MORE, stopped;

	switch (tag) {
	case FLOOR_UD_LISTEN:
		floor_uaccept(r, self);
		if (!more && mxs_uring_poll_multi(r, listen_fd, FLOOR_UD_LISTEN))
			perror("mxs-floor: io_uring poll");
		return;
	case FLOOR_UD_WAKE:
		floor_uwoken(r, self);
		if (!more &&
		    mxs_uring_poll_multi(r, inboxes[self].efd, FLOOR_UD_WAKE))
			perror("mxs-floor: io_uring poll");
		return;
	case FLOOR_UD_SEND:
		c->sending = false;
		if (cqe->res < 0) {
			floor_uclose(r, c);
		} else if (!c->closing) {
			c->out_off += (size_t)cqe->res;
			if (c->out_off < c->out_len ? floor_usend(r, c)
						    : floor_userve(r, c))
				floor_uclose(r, c);
		}
		floor_ureap(r, c);
		return;
	case FLOOR_UD_RECV:
		if (!more)
			c->receiving = false;
		if (cqe->flags & IORING_CQE_F_BUFFER)
			floor_ureceived(r, c,
					cqe->flags >> IORING_CQE_BUFFER_SHIFT,
					cqe->res > 0 ? (size_t)cqe->res : 0);
		/* EOF or an error: closed.  Out of buffers (-ENOBUFS):
		 * armed again, the data waits in the socket.  Stopped by
		 * floor_ustop: armed again once nothing is held. */
		stopped = !more && c->stopping;
		if (!more)
			c->stopping = false;
		if (cqe->res <= 0 && cqe->res != -ENOBUFS &&
		    !(stopped && cqe->res == -ECANCELED))
			floor_uclose(r, c);
		if (!c->closing && !c->receiving && !c->nheld && floor_urecv(r, c))
			floor_uclose(r, c);
		if (floor_userve(r, c))
			floor_uclose(r, c);
		floor_ureap(r, c);
		return;
	default:
		return; /* a cancel's own completion */
	}
}

static void *floor_uring_thread(void *arg)
{
	int self = (int)(intptr_t)arg, rc;
	struct mxs_uring r;
	struct io_uring_cqe *cqe;

	rc = mxs_uring_init(&r, 256, FLOOR_BUFS, FLOOR_BUFS,
			    FLOOR_BUF_SIZE);
	if (rc) {
		fprintf(stderr, "mxs-floor: io_uring: %s\n", strerror(-rc));
		exit(1);
	}
	if (mxs_uring_poll_multi(&r, listen_fd, FLOOR_UD_LISTEN) ||
	    mxs_uring_poll_multi(&r, inboxes[self].efd, FLOOR_UD_WAKE)) {
		perror("mxs-floor: io_uring poll");
		exit(1);
	}
	for (;;) {
		rc = mxs_uring_enter(&r, 1, -1);
		if (rc && rc != -EINTR && rc != -ETIME && rc != -EBUSY) {
			fprintf(stderr, "mxs-floor: io_uring_enter: %s\n",
				strerror(-rc));
			exit(1);
		}
		while ((cqe = mxs_uring_peek(&r))) {
			struct io_uring_cqe copy = *cqe;

			mxs_uring_seen(&r);
			floor_ucomplete(&r, self, &copy);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "io", required_argument, NULL, 'i' },
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
		case 'i':
			if (strcmp(optarg, "uring") && strcmp(optarg, "epoll"))
				return 2;
			use_uring = !strcmp(optarg, "uring");
			break;
		default: return 2;
		}
	}
	if (!path || threads < 1 || threads > 256 ||
	    strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "usage: mxs-floor --socket PATH [--threads N] "
				"[--io epoll|uring]\n");
		return 2;
	}
	if (use_uring) {
		/* Before the socket exists: whoever waits for it (perf/
		 * compare) sees a floor that cannot run exit instead. */
		struct mxs_uring probe;
		int rc = mxs_uring_init(&probe, 8, 8, 8, FLOOR_BUF_SIZE);

		if (rc) {
			fprintf(stderr, "mxs-floor: io_uring: %s\n",
				strerror(-rc));
			return 1;
		}
		mxs_uring_fini(&probe);
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
	if (use_uring) {
		for (i = 0; i < threads; i++) {
			pthread_mutex_init(&inboxes[i].lock, NULL);
			inboxes[i].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (inboxes[i].efd < 0) {
				perror("mxs-floor: eventfd");
				return 1;
			}
		}
		for (i = 1; i < threads; i++)
			if (pthread_create(&thr, NULL, floor_uring_thread,
					   (void *)(intptr_t)i)) {
				fprintf(stderr, "mxs-floor: thread %d failed\n",
					i);
				return 1;
			}
		floor_uring_thread((void *)(intptr_t)0);
		return 0;
	}
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
