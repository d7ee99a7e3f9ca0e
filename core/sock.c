/* SPDX-License-Identifier: MIT */
/*
 * The socket transport: a Unix-socket client (the toolstack, xenstore-*
 * tools).  Socket clients are dom0 and privileged.  Owner worker only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/daemon.h"

const struct mxs_caller mxs_sock_caller = {
	.domid = 0, .target = MXS_NO_TARGET, .privileged = true,
	.readonly = false,
};

static void set_events(struct mxs_conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->epoll_events == events)
		return;
	if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->epoll_events = events;
}

static ssize_t sock_recv(struct mxs_conn *c, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(c->fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static ssize_t sock_sendv(struct mxs_conn *c, const struct iovec *iov,
			  int cnt)
{
	ssize_t n;

	do
		n = writev(c->fd, iov, cnt);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return n;
}

static void sock_want_send(struct mxs_conn *c, bool out_queued, bool stalled)
{
	uint32_t ev = (stalled ? 0 : EPOLLIN) | (out_queued ? EPOLLOUT : 0);

	set_events(c, ev);
}

static void sock_notify(struct mxs_conn *c)
{
	(void)c; /* a socket needs no doorbell */
}

static void sock_fail(struct mxs_conn *c, uint32_t error)
{
	(void)error;
	mxs_conn_close(c);
}

static void sock_close(struct mxs_conn *c)
{
	epoll_ctl(c->w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

static const struct mxs_transport sock_transport = {
	.name = "socket",
	.short_recv_drains = true,
	.recv = sock_recv,
	.sendv = sock_sendv,
	.want_send = sock_want_send,
	.notify = sock_notify,
	.fail = sock_fail,
	.close = sock_close,
};

struct mxs_conn *mxs_conn_new(struct mxs_worker *w, int fd, uint64_t seq)
{
	struct mxs_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!c)
		return NULL;
	c->fd = fd;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		goto fail;
	ev.data.ptr = c;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto fail;
	c->epoll_events = EPOLLIN;
	mxs_conn_init(c, w, &sock_transport, seq, &mxs_sock_caller);
	return c;
fail:
	free(c);
	return NULL;
}
