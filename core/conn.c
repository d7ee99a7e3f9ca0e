/* SPDX-License-Identifier: MIT */
/*
 * Socket connections.  Everything here runs on the owning worker, except
 * mxs_conn_get/put (any thread).
 *
 * Requests on one connection are handled strictly in order; replies and
 * watch events are queued in the order they are produced and written with
 * writev.  A client that does not read its replies stops being read once
 * MXS_OUT_LIMIT bytes are queued until it drains them; if watch events
 * (which other clients' changes produce) pile up past MXS_OUT_HARD_LIMIT,
 * the connection is closed: the daemon never buffers without bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/daemon.h"

#define MXS_OUT_LIMIT (1u << 20)
#define MXS_OUT_HARD_LIMIT (16u << 20)
#define HDR sizeof(struct mxs_msg_hdr)

void mxs_conn_get(struct mxs_conn *c)
{
	__atomic_fetch_add(&c->refs, 1, __ATOMIC_RELAXED);
}

void mxs_conn_put(struct mxs_conn *c)
{
	/* acq_rel: every use of c by any dropping thread happens before
	 * the free by the last one. */
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(c);
}

static void set_events(struct mxs_conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->epoll_events == events)
		return;
	if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->epoll_events = events;
}

struct mxs_conn *mxs_conn_new(struct mxs_worker *w, int fd, uint64_t seq)
{
	struct mxs_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!c)
		return NULL;
	c->w = w;
	c->fd = fd;
	c->refs = 1;
	c->seq = seq;
	c->caller = (struct mxs_caller){ .domid = 0,
					 .target = MXS_NO_TARGET,
					 .privileged = true,
					 .readonly = false };
	c->out_tail = &c->out_head;
	c->next_txid = 1;
	mxs_watch_owner_init(&c->wo, c, seq);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		goto fail;
	ev.data.ptr = c;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto fail;
	c->epoll_events = EPOLLIN;
	cds_list_add_tail(&c->link, &w->conns);
	w->nconns++;
	__atomic_fetch_add(&w->d->nconns, 1, __ATOMIC_RELAXED);
	if (mxs_verbose)
		mxs_log("connection %llu on worker %u",
			(unsigned long long)seq, w->id);
	return c;
fail:
	free(c);
	return NULL;
}

void mxs_conn_close(struct mxs_conn *c)
{
	struct mxs_out *o;

	if (c->closed)
		return;
	/* Flush what can go without blocking, as the C daemon does. */
	mxs_conn_flush(c);
	c->closed = true;
	mxs_conn_drop_state(c);
	while ((o = c->out_head)) {
		c->out_head = o->next;
		free(o);
	}
	c->out_tail = &c->out_head;
	c->out_bytes = 0;
	epoll_ctl(c->w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	cds_list_del(&c->link);
	c->w->nconns--;
	__atomic_fetch_sub(&c->w->d->nconns, 1, __ATOMIC_RELAXED);
	/* The owner's reference is dropped after the current batch. */
	c->next_dead = c->w->graveyard;
	c->w->graveyard = c;
}

void mxs_conn_mark_dirty(struct mxs_conn *c)
{
	if (c->dirty || c->closed)
		return;
	c->dirty = true;
	c->next_dirty = c->w->dirty;
	c->w->dirty = c;
}

static void queue_out(struct mxs_conn *c, struct mxs_out *o)
{
	mxs_conn_mark_dirty(c);
	o->next = NULL;
	*c->out_tail = o;
	c->out_tail = &o->next;
	c->out_bytes += o->len;
}

int mxs_conn_queue(struct mxs_conn *c, uint32_t type, uint32_t req_id,
		   uint32_t tx_id, const void *payload, size_t len)
{
	struct mxs_msg_hdr hdr = { type, req_id, tx_id, (uint32_t)len };
	struct mxs_out *o;

	if (c->closed)
		return -EPIPE;
	o = malloc(sizeof(*o) + HDR + len);
	if (!o)
		return -ENOMEM;
	o->conn = NULL;
	o->len = HDR + len;
	o->sent = 0;
	memcpy(o->data, &hdr, HDR);
	if (len)
		memcpy(o->data + HDR, payload, len);
	mxs_trace_io(c->w->d, c, true, &hdr, o->data + HDR);
	queue_out(c, o);
	return 0;
}

struct mxs_out *mxs_out_event_new(const char *path, const char *token)
{
	size_t plen = strlen(path) + 1, tlen = strlen(token) + 1;
	struct mxs_msg_hdr hdr = { MXS_OP_WATCH_EVENT, 0, 0,
				   (uint32_t)(plen + tlen) };
	struct mxs_out *o;

	if (plen + tlen > MXS_PAYLOAD_MAX) {
		/* XSA-324: never build an oversized event. */
		mxs_log("dropping oversized watch event %.64s", path);
		return NULL;
	}
	o = malloc(sizeof(*o) + HDR + plen + tlen);
	if (!o)
		return NULL;
	o->conn = NULL;
	o->len = HDR + plen + tlen;
	o->sent = 0;
	memcpy(o->data, &hdr, HDR);
	memcpy(o->data + HDR, path, plen);
	memcpy(o->data + HDR + plen, token, tlen);
	return o;
}

void mxs_conn_queue_out_event(struct mxs_conn *c, struct mxs_out *o)
{
	if (c->closed || c->overflow) {
		free(o);
		return;
	}
	if (c->out_bytes + o->len > MXS_OUT_HARD_LIMIT) {
		/* Closed after the batch, outside the registry's lock. */
		c->overflow = true;
		mxs_conn_mark_dirty(c);
		free(o);
		return;
	}
	mxs_trace_io(c->w->d, c, true, (const struct mxs_msg_hdr *)o->data,
		     o->data + HDR);
	queue_out(c, o);
}

int mxs_conn_queue_event(struct mxs_conn *c, const char *path,
			 const char *token)
{
	struct mxs_out *o = mxs_out_event_new(path, token);

	if (!o)
		return -ENOMEM;
	mxs_conn_queue_out_event(c, o);
	return 0;
}

static void handle_messages(struct mxs_conn *c)
{
	struct mxs_worker *w = c->w;
	size_t off = 0;

	/* Never nested: it runs from the worker loop only (readable and
	 * mxs_worker_service_dirty), never from a dispatch, a flush or a
	 * close, so a request is consumed exactly once. */
	while (!c->closed && c->out_bytes < MXS_OUT_LIMIT &&
	       c->in_len - off >= HDR) {
		struct mxs_msg_hdr hdr;

		memcpy(&hdr, c->in + off, HDR);
		if (hdr.len > MXS_PAYLOAD_MAX) {
			/* Violating this is fatal for the connection. */
			if (mxs_verbose)
				mxs_log("connection %llu: payload %u too long",
					(unsigned long long)c->seq, hdr.len);
			mxs_conn_close(c);
			break;
		}
		if (c->in_len - off < HDR + hdr.len)
			break;
		memcpy(w->req, c->in + off + HDR, hdr.len);
		w->req[hdr.len] = '\0';
		off += HDR + hdr.len;
		__atomic_store_n(&w->requests, w->requests + 1,
				 __ATOMIC_RELAXED);
		mxs_trace_io(w->d, c, false, &hdr, w->req);
		mxs_dispatch(c, &hdr, w->req);
	}
	if (c->closed)
		return;
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
}

void mxs_conn_readable(struct mxs_conn *c)
{
	ssize_t n;

	for (;;) {
		if (c->out_bytes >= MXS_OUT_LIMIT)
			break;
		n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			mxs_conn_close(c);
			return;
		}
		if (n == 0) {
			handle_messages(c);
			if (!c->closed)
				mxs_conn_close(c);
			return;
		}
		c->in_len += (size_t)n;
		handle_messages(c);
		if (c->closed)
			return;
	}
	mxs_conn_mark_dirty(c);
}

void mxs_worker_service_dirty(struct mxs_worker *w)
{
	while (w->dirty) {
		struct mxs_conn *c = w->dirty;

		w->dirty = c->next_dirty;
		c->dirty = false;
		if (c->closed)
			continue;
		mxs_conn_flush(c);
		if (c->overflow && !c->closed) {
			mxs_log("connection %llu: %zu bytes of events unread, "
				"closing it", (unsigned long long)c->seq,
				c->out_bytes);
			mxs_conn_close(c);
			continue;
		}
		/* Requests held back by a full output queue can go on now
		 * (this may queue output and mark c dirty again). */
		if (!c->closed && c->out_bytes < MXS_OUT_LIMIT &&
		    c->in_len >= HDR)
			handle_messages(c);
	}
}

void mxs_conn_flush(struct mxs_conn *c)
{
	struct iovec iov[64];
	struct mxs_out *o;
	ssize_t n;
	int cnt;

	while (c->out_head && !c->closed) {
		for (cnt = 0, o = c->out_head; o && cnt < 64; o = o->next) {
			iov[cnt].iov_base = o->data + o->sent;
			iov[cnt].iov_len = o->len - o->sent;
			cnt++;
		}
		n = writev(c->fd, iov, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			/* Peer gone: reading will notice and close. */
			while ((o = c->out_head)) {
				c->out_head = o->next;
				free(o);
			}
			c->out_tail = &c->out_head;
			c->out_bytes = 0;
			break;
		}
		while (n > 0) {
			size_t left;

			o = c->out_head;
			left = o->len - o->sent;
			if ((size_t)n < left) {
				o->sent += (size_t)n;
				break;
			}
			n -= (ssize_t)left;
			c->out_bytes -= o->len;
			c->out_head = o->next;
			if (!c->out_head)
				c->out_tail = &c->out_head;
			free(o);
		}
	}
	if (c->closed)
		return;
	if (c->out_head)
		set_events(c, c->out_bytes >= MXS_OUT_LIMIT
				      ? EPOLLOUT
				      : EPOLLIN | EPOLLOUT);
	else
		set_events(c, EPOLLIN);
}
