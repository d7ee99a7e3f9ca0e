/* SPDX-License-Identifier: MIT */
/*
 * Generator connections: the Unix-socket transport, wire framing, the
 * blocking request helper, latency samples and daemon CPU time.
 * See perf/perf.h for the threading rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "perf/perf.h"

/* ---- the Unix-socket transport ------------------------------------ */

static int sock_open(struct mxs_perf_conn *c, const char *target)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(target) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, target, strlen(target) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	c->fd = fd;
	return 0;
}

static int sock_send(struct mxs_perf_conn *c, const void *p, size_t n)
{
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t sock_recv(struct mxs_perf_conn *c, void *p, size_t n, bool wait)
{
	for (;;) {
		ssize_t r = recv(c->fd, p, n, wait ? 0 : MSG_DONTWAIT);

		if (r > 0)
			return r;
		if (r == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 0 : -errno;
	}
}

static void sock_close(struct mxs_perf_conn *c)
{
	close(c->fd);
}

struct mxs_perf_poller {
	int ep;
};

static struct mxs_perf_poller *sock_poller_new(void)
{
	struct mxs_perf_poller *p = malloc(sizeof(*p));

	if (!p)
		return NULL;
	p->ep = epoll_create1(EPOLL_CLOEXEC);
	if (p->ep < 0) {
		free(p);
		return NULL;
	}
	return p;
}

static int sock_poller_add(struct mxs_perf_poller *p, struct mxs_perf_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	return epoll_ctl(p->ep, EPOLL_CTL_ADD, c->fd, &ev) ? -errno : 0;
}

static int sock_poller_wait(struct mxs_perf_poller *p,
			    struct mxs_perf_conn **ready, int max,
			    int timeout_ms)
{
	struct epoll_event ev[256];
	int i, n;

	if (max > 256)
		max = 256;
	do
		n = epoll_wait(p->ep, ev, max, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++)
		ready[i] = ev[i].data.ptr;
	return n;
}

static void sock_poller_free(struct mxs_perf_poller *p)
{
	close(p->ep);
	free(p);
}

const struct mxs_perf_transport mxs_perf_socket = {
	.name = "socket",
	.open = sock_open,
	.send = sock_send,
	.recv = sock_recv,
	.close = sock_close,
	.poller_new = sock_poller_new,
	.poller_add = sock_poller_add,
	.poller_wait = sock_poller_wait,
	.poller_free = sock_poller_free,
};

/* ---- connections and framing --------------------------------------- */

struct mxs_perf_conn *mxs_perf_conn_open(const struct mxs_perf_transport *t,
					 const char *target, uint32_t id)
{
	struct mxs_perf_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return NULL;
	c->t = t;
	c->id = id;
	c->fd = -1;
	if ((rc = t->open(c, target))) {
		free(c);
		errno = -rc;
		return NULL;
	}
	return c;
}

void mxs_perf_conn_close(struct mxs_perf_conn *c)
{
	if (!c)
		return;
	c->t->close(c);
	free(c);
}

int64_t mxs_perf_queue(struct mxs_perf_conn *c, uint32_t type, uint32_t tx,
		       const void *a, size_t alen, const void *b, size_t blen)
{
	struct mxs_msg_hdr h = { type, c->next_req, tx, (uint32_t)(alen + blen) };

	if (alen + blen > MXS_PAYLOAD_MAX ||
	    c->out_len + sizeof(h) + alen + blen > MXS_PERF_OUT_CAP)
		return -ENOBUFS;
	memcpy(c->out + c->out_len, &h, sizeof(h));
	memcpy(c->out + c->out_len + sizeof(h), a, alen);
	if (blen)
		memcpy(c->out + c->out_len + sizeof(h) + alen, b, blen);
	c->out_len += sizeof(h) + alen + blen;
	return c->next_req++;
}

int mxs_perf_flush(struct mxs_perf_conn *c)
{
	int rc = 0;

	if (c->out_len)
		rc = c->t->send(c, c->out, c->out_len);
	c->out_len = 0;
	return rc;
}

int mxs_perf_fill(struct mxs_perf_conn *c, bool wait)
{
	ssize_t r;

	if (c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	r = c->t->recv(c, c->in + c->in_len, MXS_PERF_IN_CAP - c->in_len, wait);
	if (r < 0)
		return (int)r;
	c->in_len += (size_t)r;
	return 0;
}

int mxs_perf_next(struct mxs_perf_conn *c, struct mxs_msg_hdr *h, char **body)
{
	size_t avail = c->in_len - c->in_off;

	if (avail < sizeof(*h))
		return 0;
	memcpy(h, c->in + c->in_off, sizeof(*h));
	if (h->len > MXS_PAYLOAD_MAX)
		return -EPROTO;
	if (avail < sizeof(*h) + h->len)
		return 0;
	/* A NUL after the body would overwrite the next message's first
	 * byte: move the body down over its own header and end it there. */
	*body = c->in + c->in_off;
	memmove(*body, c->in + c->in_off + sizeof(*h), h->len);
	(*body)[h->len] = '\0';
	c->in_off += sizeof(*h) + h->len;
	return 1;
}

int mxs_perf_errno(const char *name)
{
#define MXS_PERF_ERRNO(E)            \
	if (strcmp(name, #E) == 0) \
		return E;
	MXS_ERRORS(MXS_PERF_ERRNO)
#undef MXS_PERF_ERRNO
	return EIO;
}

int mxs_perf_call(struct mxs_perf_conn *c, uint32_t type, uint32_t tx,
		  const char *path, const void *val, size_t vlen,
		  struct mxs_msg_hdr *h, char **body, uint64_t *events)
{
	int64_t id = mxs_perf_queue(c, type, tx, path, strlen(path) + 1, val,
				    vlen);
	int rc;

	if (id < 0)
		return (int)id;
	if ((rc = mxs_perf_flush(c)))
		return rc;
	for (;;) {
		while ((rc = mxs_perf_next(c, h, body)) == 1) {
			if (h->type == MXS_OP_WATCH_EVENT) {
				if (events)
					(*events)++;
				continue;
			}
			if (h->req_id != (uint32_t)id)
				return -EPROTO;
			return h->type == MXS_OP_ERROR ? -mxs_perf_errno(*body)
						       : 0;
		}
		if (rc < 0 || (rc = mxs_perf_fill(c, true)))
			return rc;
	}
}

/* ---- latencies and CPU time ---------------------------------------- */

uint64_t mxs_perf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void mxs_perf_lat_add(struct mxs_perf_lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		uint32_t *v;

		if (cap > MXS_PERF_LAT_MAX)
			return;
		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

int mxs_perf_lat_merge(struct mxs_perf_lat *dst, struct mxs_perf_lat *src)
{
	if (dst->n + src->n > dst->cap) {
		uint32_t *v = realloc(dst->v, (dst->n + src->n) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		dst->v = v;
		dst->cap = dst->n + src->n;
	}
	if (src->n)
		memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
	dst->n += src->n;
	mxs_perf_lat_free(src);
	return 0;
}

static int lat_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void mxs_perf_lat_sort(struct mxs_perf_lat *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), lat_cmp);
}

double mxs_perf_lat_us(const struct mxs_perf_lat *l, double q)
{
	size_t i;

	if (!l->n)
		return 0;
	i = (size_t)(q * (double)(l->n - 1) + 0.5);
	return (double)l->v[i] / 1e3;
}

void mxs_perf_lat_free(struct mxs_perf_lat *l)
{
	free(l->v);
	*l = (struct mxs_perf_lat){ 0 };
}

/* utime + stime from /proc/PID/stat, in clock ticks (10 ms): where the
 * process's CPU clock cannot be read. */
static double cpu_s_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields follow the last ')'.
	 * After it: state(3) ... utime(14) stime(15). */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * The process's CPU clock: the same sum over its threads, the exited ones
 * included, as utime + stime, but in nanoseconds.  /proc/PID/stat rounds
 * to 10 ms ticks, which is 6 % of a 0.17 s phase (the ring scenarios'
 * linear-scale check compares such phases).
 */
double mxs_perf_cpu_s(pid_t pid)
{
	struct timespec ts;
	clockid_t clk;

	if (pid <= 0)
		return -1;
	if (clock_getcpuclockid(pid, &clk) == 0 &&
	    clock_gettime(clk, &ts) == 0)
		return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	return cpu_s_ticks(pid);
}
