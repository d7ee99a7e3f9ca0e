/* SPDX-License-Identifier: MIT */
/*
 * Connections, whatever their transport (struct mxs_transport: the
 * socket in sock.c, a domain's ring in ringconn.c).  Everything here runs
 * on the owning worker, except mxs_conn_get/put and mxs_conn_set_caller
 * (any thread).
 *
 * Requests on one connection are handled strictly in order; replies and
 * watch events are queued in the order they are produced and handed to
 * the transport in one gathered send (a transport with send_now takes a
 * message at once when nothing is queued before it: the same order).  A
 * client that does not read its replies stops being read once
 * MXS_OUT_LIMIT bytes are queued until it drains them; if watch events
 * (which other clients' changes produce) pile up past
 * MXS_OUT_HARD_LIMIT, the connection is closed: the daemon never buffers
 * without bound.  At most MXS_CONN_BUDGET requests of one
 * connection run per batch, so one busy peer cannot starve the others or
 * hold back a grace period; the rest waits on the worker's again list.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/uio.h>

#include "core/daemon.h"
#include "store/rcu.h"

static void wrl_join(struct mxs_conn *c);
static void wrl_leave(struct mxs_conn *c);

#define MXS_OUT_LIMIT (1u << 20)
#define MXS_OUT_HARD_LIMIT (16u << 20)
#define MXS_CONN_BUDGET 64u
#define HDR sizeof(struct mxs_msg_hdr)

void mxs_conn_get(struct mxs_conn *c)
{
	__atomic_fetch_add(&c->refs, 1, __ATOMIC_RELAXED);
}

void mxs_conn_release(struct mxs_conn *c)
{
	if (c->caller != &c->caller0)
		free(c->caller);
	free(c);
}

void mxs_conn_put(struct mxs_conn *c)
{
	/* acq_rel: every use of c by any dropping thread happens before
	 * the free by the last one. */
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		mxs_conn_release(c);
}

/* A replaced identity, freed after a grace period. */
struct caller_box {
	struct mxs_caller who; /* first: the published pointer */
	struct rcu_head rcu;
};

static void caller_free_rcu(struct rcu_head *h)
{
	mxs_rcu_reclaim_begin();
	free(caa_container_of(h, struct caller_box, rcu));
}

int mxs_conn_set_caller(struct mxs_conn *c, const struct mxs_caller *who)
{
	struct caller_box *b = malloc(sizeof(*b)), *old;

	if (!b)
		return -ENOMEM;
	b->who = *who;
	/* CONN_R1: pairs with CONN_A1 in mxs_conn_caller(): the new
	 * identity is complete before it is seen.  Acquire side: the old
	 * one is ours to free once no reader can hold it. */
	old = (struct caller_box *)__atomic_exchange_n(
		&c->caller, &b->who, __ATOMIC_ACQ_REL);
	if (&old->who != &c->caller0)
		call_rcu(&old->rcu, caller_free_rcu);
	return 0;
}

void mxs_conn_init(struct mxs_conn *c, struct mxs_worker *w,
		   const struct mxs_transport *t, uint64_t seq,
		   const struct mxs_caller *who)
{
	c->w = w;
	c->t = t;
	c->refs = 1;
	c->seq = seq;
	c->caller0 = *who;
	c->caller = &c->caller0;
	c->out_tail = &c->out_head;
	c->next_txid = 1;
	c->budget = MXS_CONN_BUDGET;
	mxs_watch_owner_init(&c->wo, c, seq);
	if (!who->privileged)
		wrl_join(c);
	cds_list_add_tail(&c->link, &w->conns);
	w->nconns++;
	__atomic_fetch_add(&w->d->nconns, 1, __ATOMIC_RELAXED);
	if (mxs_verbose)
		mxs_log("connection %llu (%s) on worker %u",
			(unsigned long long)seq, t->name, w->id);
}

/* A reply (counted by the outstanding quota), not a watch event. */
static bool out_is_reply(const struct mxs_out *o)
{
	struct mxs_msg_hdr hdr;

	memcpy(&hdr, o->data, HDR);
	return hdr.type != MXS_OP_WATCH_EVENT;
}

static void drop_output(struct mxs_conn *c)
{
	struct mxs_out *o;

	while ((o = c->out_head)) {
		c->out_head = o->next;
		free(o);
	}
	c->out_tail = &c->out_head;
	c->out_bytes = 0;
	c->ev_deadline = 0; /* no timed event is left */
	__atomic_store_n(&c->out_replies, 0, __ATOMIC_RELAXED);
}

void mxs_conn_reset_io(struct mxs_conn *c)
{
	drop_output(c);
	c->in_len = 0;
	c->overflow = false;
	__atomic_store_n(&c->ev_lost, 0, __ATOMIC_RELAXED);
}

/* Its watches and transactions: the state the protocol resets. */
void mxs_conn_drop_state(struct mxs_conn *c)
{
	struct mxs_conn_tx *t;

	mxs_watch_remove_all(c->w->d->watches, &c->wo);
	while ((t = c->txs)) {
		c->txs = t->next;
		mxs_txn_free(t->tx);
		free(t);
	}
	__atomic_fetch_sub(&c->w->d->wrl_ntransactions,
			   (long)__atomic_load_n(&c->ntxs, __ATOMIC_RELAXED),
			   __ATOMIC_RELAXED);
	__atomic_store_n(&c->ntxs, 0, __ATOMIC_RELAXED);
}

void mxs_conn_close(struct mxs_conn *c)
{
	if (c->closed)
		return;
	/* Flush what can go without blocking, as the C daemon does. */
	mxs_conn_flush(c);
	c->closed = true;
	wrl_leave(c);
	mxs_conn_drop_state(c);
	drop_output(c);
	c->t->close(c);
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

void mxs_conn_again(struct mxs_conn *c)
{
	if (c->again || c->closed)
		return;
	c->again = true;
	mxs_conn_get(c);
	c->next_again = c->w->again;
	c->w->again = c;
}

void mxs_conn_want_notify(struct mxs_conn *c)
{
	if (c->moved || c->closed)
		return;
	c->moved = true;
	mxs_conn_get(c);
	c->next_notify = c->w->notify;
	c->w->notify = c;
}

void mxs_worker_notify_all(struct mxs_worker *w)
{
	while (w->notify) {
		struct mxs_conn *c = w->notify;

		w->notify = c->next_notify;
		c->moved = false;
		if (!c->closed)
			c->t->notify(c);
		mxs_conn_put(c);
	}
}

void mxs_conn_unblock(struct mxs_conn *c)
{
	c->blocked = false;
	mxs_conn_mark_dirty(c);
	mxs_conn_again(c); /* a ring says nothing of what it still holds */
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
	if (!c->out_head && c->t->send_now &&
	    c->t->send_now(c, &hdr, HDR, payload, len)) {
		mxs_trace_io(c->w->d, c, true, &hdr, payload);
		return 0;
	}
	o = malloc(sizeof(*o) + HDR + len);
	if (!o)
		return -ENOMEM;
	o->conn = NULL;
	o->deadline = 0;
	o->len = HDR + len;
	o->sent = 0;
	memcpy(o->data, &hdr, HDR);
	if (len)
		memcpy(o->data + HDR, payload, len);
	mxs_trace_io(c->w->d, c, true, &hdr, o->data + HDR);
	queue_out(c, o);
	if (type != MXS_OP_WATCH_EVENT)
		__atomic_fetch_add(&c->out_replies, 1, __ATOMIC_RELAXED);
	return 0;
}

/*
 * The watch-event timeout, as the C daemon 4.17: an event queued for an
 * unprivileged domain gets a deadline; still wholly unsent by then, it
 * is dropped (mxs_worker_run_timed).  Privileged connections wait for
 * their events however long they take.  Owner only.
 */
static void event_set_deadline(struct mxs_conn *c, struct mxs_out *o)
{
	unsigned int ms = __atomic_load_n(&c->w->d->cfg.quota.watch_event_ms,
					  __ATOMIC_RELAXED);

	if (!ms || mxs_conn_caller(c)->privileged)
		return;
	o->deadline = mxs_now_ns() + (uint64_t)ms * 1000000u;
	if (!c->ev_deadline)
		c->ev_deadline = o->deadline;
	if (!c->timed) {
		c->timed = true;
		mxs_conn_get(c);
		c->next_timed = c->w->timed;
		c->w->timed = c;
	}
}

/*
 * Drops c's events whose deadline passed by now and of which nothing was
 * sent, oldest first, up to the first one not due; sets ev_deadline to
 * that one's (0 when none is left).  Owner only.
 */
static void drop_timed_out(struct mxs_conn *c, uint64_t now)
{
	struct mxs_out **pp = &c->out_head, *o, *last = NULL;
	uint64_t dropped = 0;

	c->ev_deadline = 0;
	while ((o = *pp)) {
		if (!o->deadline || o->sent) {
			last = o;
			pp = &o->next;
			continue;
		}
		if (o->deadline > now) {
			c->ev_deadline = o->deadline;
			break;
		}
		*pp = o->next;
		c->out_bytes -= o->len;
		free(o);
		dropped++;
	}
	if (!*pp)
		c->out_tail = last ? &last->next : &c->out_head;
	if (!dropped)
		return;
	__atomic_store_n(&c->ev_dropped, c->ev_dropped + dropped,
			 __ATOMIC_RELAXED);
	c->ev_unlogged += dropped;
	/* Room in the queue: held-back input may go on. */
	mxs_conn_mark_dirty(c);
}

uint64_t mxs_worker_run_timed(struct mxs_worker *w, uint64_t now)
{
	unsigned int ms = __atomic_load_n(&w->d->cfg.quota.watch_event_ms,
					  __ATOMIC_RELAXED);
	uint64_t interval = (uint64_t)(ms ? ms : 1000) * 1000000u;
	struct mxs_conn **pp = &w->timed, *c;
	uint64_t next = 0;

	while ((c = *pp)) {
		if (!c->closed && now != UINT64_MAX && c->ev_deadline &&
		    c->ev_deadline <= now)
			drop_timed_out(c, now);
		if (c->ev_unlogged && !c->closed && now != UINT64_MAX &&
		    (!c->ev_logged_at || now - c->ev_logged_at >= interval)) {
			mxs_log("domain %u: %llu watch events left unread for "
				"%u s dropped", mxs_conn_caller(c)->domid,
				(unsigned long long)c->ev_unlogged, ms / 1000);
			c->ev_unlogged = 0;
			c->ev_logged_at = now;
		}
		if (!c->closed && now != UINT64_MAX &&
		    (c->ev_deadline || c->ev_unlogged)) {
			uint64_t due = c->ev_deadline;

			/* A line held back by the interval is due too. */
			if (c->ev_unlogged &&
			    (!due || c->ev_logged_at + interval < due))
				due = c->ev_logged_at + interval;
			if (!next || due < next)
				next = due;
			pp = &c->next_timed;
			continue;
		}
		*pp = c->next_timed;
		c->timed = false;
		mxs_conn_put(c);
	}
	return next;
}

int mxs_out_event_new(const char *path, const char *token,
		      struct mxs_out **out)
{
	size_t plen = strlen(path) + 1, tlen = strlen(token) + 1;
	struct mxs_msg_hdr hdr = { MXS_OP_WATCH_EVENT, 0, 0,
				   (uint32_t)(plen + tlen) };
	struct mxs_out *o;

	*out = NULL;
	if (plen + tlen > MXS_PAYLOAD_MAX) {
		/* XSA-324: never build an oversized event. */
		mxs_log("dropping oversized watch event %.64s", path);
		return -E2BIG;
	}
	o = malloc(sizeof(*o) + HDR + plen + tlen);
	if (!o)
		return -ENOMEM;
	o->conn = NULL;
	o->deadline = 0;
	o->len = HDR + plen + tlen;
	o->sent = 0;
	memcpy(o->data, &hdr, HDR);
	memcpy(o->data + HDR, path, plen);
	memcpy(o->data + HDR + plen, token, tlen);
	*out = o;
	return 0;
}

void mxs_conn_lose_event(struct mxs_conn *c, struct mxs_worker *self)
{
	__atomic_store_n(&c->ev_lost, 1, __ATOMIC_RELAXED);
	if (c->w == self) {
		mxs_conn_mark_dirty(c);
		return;
	}
	/* CONN_LOST_R1: pairs with CONN_LOST_A1 in mxs_worker_take_events():
	 * the owner that sees the worker's flag sees the connection's.  The
	 * wake comes after both, so the owner looks at them after it. */
	__atomic_store_n(&c->w->ev_lost, 1, __ATOMIC_RELEASE);
	mxs_mpsc_wake(&c->w->wake_pending, c->w->evfd);
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
	event_set_deadline(c, o);
	queue_out(c, o);
}

int mxs_conn_queue_event(struct mxs_conn *c, const char *path,
			 const char *token)
{
	struct mxs_out *o;
	int rc = mxs_out_event_new(path, token, &o);

	if (rc == -ENOMEM)
		mxs_conn_lose_event(c, c->w);
	if (rc)
		return rc;
	mxs_conn_queue_out_event(c, o);
	return 0;
}

/*
 * Input waits while the peer leaves too much output unread: MXS_OUT_LIMIT
 * bytes, or, for unprivileged domains, more unread replies than the
 * outstanding quota (the C daemon's rule: requests are delayed, never
 * dropped).
 */
static bool held_by_output(const struct mxs_conn *c)
{
	const struct mxs_caller *who = mxs_conn_caller(c);
	unsigned int limit = mxs_quota_for(&c->w->d->cfg.quota, who->domid,
					   MXS_QUOTA_OUTSTANDING);

	return c->out_bytes >= MXS_OUT_LIMIT ||
	       (limit && c->out_replies >= limit && !who->privileged);
}

bool mxs_conn_can_serve(const struct mxs_conn *c)
{
	return !c->closed && !c->stopped && !c->blocked && !c->wrl_until &&
	       !held_by_output(c);
}

uint64_t mxs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Requests that count as writes for the rate limit: changes outside a
 * transaction, and commits. */
static bool wrl_counts(const struct mxs_msg_hdr *hdr, const char *p)
{
	switch (hdr->type) {
	case MXS_OP_WRITE:
	case MXS_OP_MKDIR:
	case MXS_OP_RM:
	case MXS_OP_SET_PERMS:
		return hdr->tx_id == 0;
	case MXS_OP_TRANSACTION_END:
		return hdr->len >= 1 && p[0] == 'T';
	default:
		return false;
	}
}

#define WRL_UNIT 1000 /* credit per write */

/*
 * Does this write cost credit?  As the C daemon (wrl_apply_debit_direct,
 * _trans_commit): only while a transaction is open somewhere, which
 * the writes could starve of commits; a commit when another one is
 * open besides its own.  Relaxed: a count, no ordering needed.
 */
static bool wrl_in_force(struct mxs_daemon *d, const struct mxs_msg_hdr *hdr)
{
	long n = __atomic_load_n(&d->wrl_ntransactions, __ATOMIC_RELAXED);

	return hdr->type == MXS_OP_TRANSACTION_END ? n > 1 : n > 0;
}

/*
 * The global part of the write rate limit, as the C daemon 4.17
 * (xenstored_domain.c wrl_*): the domains in the limit share
 * MXS_WRL_RATE writes/s (each refills at RATE / ndomains); what a domain
 * gains above its burst goes to one reserve (up to MXS_WRL_GBURST
 * writes, the rest is lost); a domain short of credit for a write takes
 * it from the reserve; a new domain borrows its first burst from it,
 * which may go MXS_WRL_NEWDOMS bursts into debt, so a storm of new
 * domains cannot each bring a burst; a closed one gives back what it
 * had, up to a burst.  So every write admitted was paid by time at the
 * shared rate, once: over any window the domains together write at most
 * RATE x its length plus the credit held at its start (bursts and the
 * reserve).
 *
 * Concurrency: a connection's credit is its owner's; the reserve is one
 * word that every worker changes by compare-and-swap, so a transfer
 * never takes it below its floor or above its ceiling and credit moves
 * between a domain and the reserve without being made or lost, with no
 * lock on the request path.  Relaxed: the reserve publishes nothing.
 */

/* Moves as much as possible from the reserve to *credit, keeping the
 * reserve >= floor and *credit <= ceil (wrl_xfer_credit's rule). */
static void wrl_take(struct mxs_daemon *d, int64_t floor, int64_t *credit,
		     int64_t ceil)
{
	int64_t r = __atomic_load_n(&d->wrl_reserve, __ATOMIC_RELAXED), x;

	do {
		x = r - floor < ceil - *credit ? r - floor : ceil - *credit;
		if (x <= 0)
			return;
	} while (!__atomic_compare_exchange_n(&d->wrl_reserve, &r, r - x,
					      true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	*credit += x;
}

/* Moves as much as possible from *credit to the reserve, keeping *credit
 * >= floor and the reserve <= ceil. */
static void wrl_give(struct mxs_daemon *d, int64_t *credit, int64_t floor,
		     int64_t ceil)
{
	int64_t r = __atomic_load_n(&d->wrl_reserve, __ATOMIC_RELAXED), x;

	do {
		x = *credit - floor < ceil - r ? *credit - floor : ceil - r;
		if (x <= 0)
			return;
	} while (!__atomic_compare_exchange_n(&d->wrl_reserve, &r, r + x,
					      true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	*credit -= x;
}

/* c joins the limit (an unprivileged connection starts): one more
 * domain shares the rate, its first burst borrowed from the reserve. */
static void wrl_join(struct mxs_conn *c)
{
	struct mxs_daemon *d = c->w->d;

	c->wrl_joined = true;
	c->wrl_credit = 0;
	c->wrl_stamp = mxs_now_ns();
	__atomic_fetch_add(&d->wrl_ndomains, 1, __ATOMIC_RELAXED);
	wrl_take(d, -(int64_t)MXS_WRL_NEWDOMS * MXS_WRL_BURST * WRL_UNIT,
		 &c->wrl_credit, MXS_WRL_BURST * WRL_UNIT);
}

/* c leaves (closed): what credit it has goes back, up to a burst, as
 * the C daemon's wrl_domain_destroy. */
static void wrl_leave(struct mxs_conn *c)
{
	struct mxs_daemon *d = c->w->d;

	if (!c->wrl_joined)
		return;
	c->wrl_joined = false;
	__atomic_fetch_sub(&d->wrl_ndomains, 1, __ATOMIC_RELAXED);
	wrl_give(d, &c->wrl_credit, 0, MXS_WRL_BURST * WRL_UNIT);
}

/*
 * May c's next write run now?  As the C daemon: a write is admitted
 * unless the domain is in debt, and costs one unit afterwards (so the
 * write that empties the credit may overdraw it by less than one).
 * Refills its credit at its share of the rate, gives the surplus over a
 * burst to the reserve, pays a debt from it; a domain still in debt
 * waits on the worker's delayed list (one reference) until its own
 * refill has paid it.  Owner only.
 */
static bool wrl_admit(struct mxs_conn *c)
{
	struct mxs_daemon *d = c->w->d;
	uint64_t now = mxs_now_ns();
	long n = __atomic_load_n(&d->wrl_ndomains, __ATOMIC_RELAXED);
	int64_t gain, surplus;

	if (!c->wrl_joined) { /* became unprivileged after it started */
		wrl_join(c);
		n = __atomic_load_n(&d->wrl_ndomains, __ATOMIC_RELAXED);
	}
	if (n < 1)
		n = 1;
	/* Whole units of credit only, so nothing is lost to rounding:
	 * the stamp moves only when credit was added. */
	gain = (int64_t)((now - c->wrl_stamp) * MXS_WRL_RATE * WRL_UNIT /
			 (1000000000u * (uint64_t)n));
	if (gain > 0) {
		c->wrl_credit += gain;
		c->wrl_stamp = now;
	}
	if (c->wrl_credit > MXS_WRL_BURST * WRL_UNIT) {
		surplus = c->wrl_credit - MXS_WRL_BURST * WRL_UNIT;
		c->wrl_credit = MXS_WRL_BURST * WRL_UNIT;
		wrl_give(d, &surplus, 0, MXS_WRL_GBURST * WRL_UNIT);
		/* What the full reserve could not take is discarded. */
	}
	/* In debt (the last write overdrew): the reserve may pay it. */
	if (c->wrl_credit < 0)
		wrl_take(d, 0, &c->wrl_credit, 0);
	if (c->wrl_credit >= 0)
		return true;
	if (!c->wrl_until) {
		c->wrl_until = now + (uint64_t)(-c->wrl_credit) * 1000000000u *
					     (uint64_t)n /
					     (MXS_WRL_RATE * WRL_UNIT);
		mxs_conn_get(c);
		c->next_delayed = c->w->delayed;
		c->w->delayed = c;
		__atomic_store_n(&c->wrl_delays, c->wrl_delays + 1,
				 __ATOMIC_RELAXED);
	}
	return false;
}

uint64_t mxs_worker_run_delayed(struct mxs_worker *w, uint64_t now)
{
	struct mxs_conn **pp = &w->delayed, *c;
	uint64_t next = 0;

	while ((c = *pp)) {
		if (c->wrl_until > now && !c->closed) {
			if (!next || c->wrl_until < next)
				next = c->wrl_until;
			pp = &c->next_delayed;
			continue;
		}
		*pp = c->next_delayed;
		c->wrl_until = 0;
		mxs_conn_again(c);
		mxs_conn_put(c);
	}
	return next;
}

static void handle_messages(struct mxs_conn *c)
{
	struct mxs_worker *w = c->w;
	size_t off = 0;

	/* Never nested: it runs from the worker loop only (readable and
	 * mxs_worker_service_dirty), never from a dispatch, a flush or a
	 * close, so a request is consumed exactly once. */
	while (mxs_conn_can_serve(c) && c->in_len - off >= HDR) {
		struct mxs_msg_hdr hdr;

		memcpy(&hdr, c->in + off, HDR);
		if (hdr.len > MXS_PAYLOAD_MAX) {
			/* Violating this is fatal for the connection. */
			mxs_log("connection %llu: payload %u too long",
				(unsigned long long)c->seq, hdr.len);
			c->t->fail(c, MXS_RING_ERR_PROTO);
			break;
		}
		if (c->in_len - off < HDR + hdr.len)
			break;
		if (!c->budget) {
			mxs_conn_again(c);
			break;
		}
		/* XSA-206: a domain's writes wait for credit, in order. */
		if (!mxs_conn_caller(c)->privileged &&
		    wrl_counts(&hdr, c->in + off + HDR) && !wrl_admit(c))
			break;
		c->budget--;
		memcpy(w->req, c->in + off + HDR, hdr.len);
		w->req[hdr.len] = '\0';
		off += HDR + hdr.len;
		__atomic_store_n(&w->requests, w->requests + 1,
				 __ATOMIC_RELAXED);
		if (!mxs_conn_caller(c)->privileged &&
		    wrl_counts(&hdr, w->req) && wrl_in_force(w->d, &hdr))
			c->wrl_credit -= WRL_UNIT;
		mxs_trace_io(w->d, c, false, &hdr, w->req);
		w->d->dispatch(c, &hdr, w->req);
	}
	if (c->closed || c->stopped)
		return;
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
}

void mxs_conn_readable(struct mxs_conn *c)
{
	ssize_t n;

	c->budget = MXS_CONN_BUDGET;
	handle_messages(c); /* what an earlier batch left */
	for (;;) {
		size_t room = sizeof(c->in) - c->in_len;

		if (!mxs_conn_can_serve(c) || !room)
			break;
		n = c->t->recv(c, c->in + c->in_len, room);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			c->t->fail(c, MXS_RING_ERR_RINGIDX);
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
		if (c->closed || c->stopped)
			return;
		/* Drained: one read per request, not a second for -EAGAIN
		 * (a third of a socket request's system calls). */
		if ((size_t)n < room && c->t->short_recv_drains)
			break;
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
		if (c->overflow && !c->closed && !c->stopped) {
			mxs_log("connection %llu: %zu bytes of events unread, "
				"closing it", (unsigned long long)c->seq,
				c->out_bytes);
			c->t->fail(c, MXS_RING_ERR_COMM);
			continue;
		}
		if (__atomic_load_n(&c->ev_lost, __ATOMIC_RELAXED) &&
		    !c->closed && !c->stopped) {
			mxs_log("connection %llu: out of memory for a watch "
				"event, closing it", (unsigned long long)c->seq);
			c->t->fail(c, MXS_RING_ERR_COMM);
			continue;
		}
		/* Requests held back by a full output queue or a blocked
		 * request can go on now (this may queue output and mark c
		 * dirty again). */
		if (mxs_conn_can_serve(c) && c->in_len >= HDR)
			handle_messages(c);
	}
}

void mxs_conn_flush(struct mxs_conn *c)
{
	struct iovec iov[64];
	struct mxs_out *o;
	ssize_t n;
	int cnt;

	while (c->out_head && !c->closed && !c->stopped) {
		for (cnt = 0, o = c->out_head; o && cnt < 64; o = o->next) {
			iov[cnt].iov_base = o->data + o->sent;
			iov[cnt].iov_len = o->len - o->sent;
			cnt++;
		}
		n = c->t->sendv(c, iov, cnt);
		if (n == 0)
			break;
		if (n < 0) {
			/* Peer gone: reading will notice and close. */
			drop_output(c);
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
			if (out_is_reply(o))
				__atomic_fetch_sub(&c->out_replies, 1,
						   __ATOMIC_RELAXED);
			c->out_head = o->next;
			if (!c->out_head)
				c->out_tail = &c->out_head;
			free(o);
		}
	}
	/* Nothing queued, nothing to time out: off the worker's list at
	 * its next look. */
	if (!c->out_head)
		c->ev_deadline = 0;
	if (c->closed || c->stopped)
		return;
	c->t->want_send(c, c->out_head != NULL,
			held_by_output(c) || c->blocked);
}
