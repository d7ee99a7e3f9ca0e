/*
 * xensim guest-side library: simulation control, event queues, ring
 * clients (the guest's half of the xenstore ring protocol) and a socket
 * client for the toolstack's half. See xensim.h for the API contract.
 */
#include "tests/xensim/xensim.h"
#include "tests/xensim/sim.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

/* The ring page as the guest sees it. Debian's 4.17 header lacks the
 * evtchn_port field; the offsets we rely on are checked against it. */
typedef struct xenstore_domain_interface xs_ring_t;
_Static_assert(offsetof(xs_ring_t, req_cons) == 2048, "ring layout");
_Static_assert(offsetof(xs_ring_t, rsp_prod) == 2060, "ring layout");
_Static_assert(offsetof(xs_ring_t, server_features) == 2064, "ring layout");
_Static_assert(offsetof(xs_ring_t, connection) == 2068, "ring layout");
_Static_assert(offsetof(xs_ring_t, error) == 2072, "ring layout");

#define XS_HDR_LEN ((uint32_t)sizeof(struct xsd_sockmsg))
/* Largest body we accept from a daemon; anything longer is a protocol
 * error (the daemon's limit is XENSTORE_PAYLOAD_MAX). */
#define XENSIM_RX_MAX (XENSTORE_PAYLOAD_MAX * 16)

/* ---- small containers --------------------------------------------------- */

struct msgq {
	struct xensim_msg **v;
	size_t head, n, cap;
};

static int msgq_push(struct msgq *q, struct xensim_msg *m)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 8;
		struct xensim_msg **v = malloc(cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < q->n; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->head = 0;
		q->cap = cap;
	}
	q->v[(q->head + q->n) % q->cap] = m;
	q->n++;
	return 0;
}

static struct xensim_msg *msgq_pop(struct msgq *q)
{
	struct xensim_msg *m;

	if (!q->n)
		return NULL;
	m = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->n--;
	return m;
}

/* Remove and return the first message with req_id, or NULL. */
static struct xensim_msg *msgq_take_id(struct msgq *q, uint32_t req_id)
{
	for (size_t i = 0; i < q->n; i++) {
		size_t at = (q->head + i) % q->cap;
		struct xensim_msg *m = q->v[at];

		if (m->req_id != req_id)
			continue;
		for (size_t j = i; j > 0; j--)
			q->v[(q->head + j) % q->cap] = q->v[(q->head + j - 1) % q->cap];
		q->head = (q->head + 1) % q->cap;
		q->n--;
		return m;
	}
	return NULL;
}

static void msgq_clear(struct msgq *q)
{
	struct xensim_msg *m;

	while ((m = msgq_pop(q)))
		free(m);
	free(q->v);
	memset(q, 0, sizeof(*q));
}

/* Outgoing bytes not yet in the ring/socket. */
struct obuf {
	uint8_t *b;
	size_t off, len, cap;
};

static int obuf_put(struct obuf *o, const void *p, size_t n)
{
	if (o->off && o->off == o->len)
		o->off = o->len = 0;
	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		uint8_t *b;

		while (cap < o->len - o->off + n)
			cap *= 2;
		b = malloc(cap);
		if (!b)
			return -ENOMEM;
		if (o->len > o->off)
			memcpy(b, o->b + o->off, o->len - o->off);
		free(o->b);
		o->b = b;
		o->len -= o->off;
		o->off = 0;
		o->cap = cap;
	}
	memcpy(o->b + o->len, p, n);
	o->len += n;
	return 0;
}

static void obuf_clear(struct obuf *o)
{
	free(o->b);
	memset(o, 0, sizeof(*o));
}

/* Incoming byte stream -> messages. Watch events and replies go to
 * separate queues. */
struct parser {
	struct xsd_sockmsg hdr;
	uint32_t hdr_have, body_have;
	struct xensim_msg *cur;
	bool bad;
	struct msgq replies, watches;
};

static int parser_feed(struct parser *ps, const uint8_t *p, size_t n)
{
	while (n) {
		if (ps->hdr_have < XS_HDR_LEN) {
			size_t k = XS_HDR_LEN - ps->hdr_have;

			if (k > n)
				k = n;
			memcpy((uint8_t *)&ps->hdr + ps->hdr_have, p, k);
			ps->hdr_have += (uint32_t)k;
			p += k;
			n -= k;
			if (ps->hdr_have < XS_HDR_LEN)
				break;
			if (ps->hdr.len > XENSIM_RX_MAX) {
				ps->bad = true;
				return -EPROTO;
			}
			ps->cur = malloc(sizeof(*ps->cur) + ps->hdr.len + 1);
			if (!ps->cur)
				return -ENOMEM;
			ps->cur->type = ps->hdr.type;
			ps->cur->req_id = ps->hdr.req_id;
			ps->cur->tx_id = ps->hdr.tx_id;
			ps->cur->len = ps->hdr.len;
			ps->body_have = 0;
		} else {
			size_t k = ps->hdr.len - ps->body_have;

			if (k > n)
				k = n;
			memcpy(ps->cur->body + ps->body_have, p, k);
			ps->body_have += (uint32_t)k;
			p += k;
			n -= k;
		}
		if (ps->body_have == ps->hdr.len) {
			struct xensim_msg *m = ps->cur;
			int rc;

			m->body[m->len] = '\0';
			ps->cur = NULL;
			ps->hdr_have = 0;
			ps->body_have = 0;
			rc = msgq_push(m->type == XS_WATCH_EVENT ? &ps->watches
								 : &ps->replies,
				       m);
			if (rc) {
				free(m);
				return rc;
			}
		}
	}
	return 0;
}

static void parser_reset(struct parser *ps)
{
	free(ps->cur);
	msgq_clear(&ps->replies);
	msgq_clear(&ps->watches);
	memset(ps, 0, sizeof(*ps));
}

int xensim_errno_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (!strcmp(name, xsd_errors[i].errstring))
			return -xsd_errors[i].errnum;
	return -EIO;
}

int xensim_msg_error(const struct xensim_msg *m)
{
	return m->type == XS_ERROR ? xensim_errno_from_name(m->body) : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
	int64_t l = deadline - now_ms();

	return l < 0 ? 0 : (int)l;
}

/* ---- simulation ------------------------------------------------------- */

int xensim_init(const char *dir)
{
	return xensim_sim_create(dir);
}

int xensim_open(const char *dir, struct xensim_sim **out)
{
	return xensim_sim_open(dir, out);
}

void xensim_close(struct xensim_sim *sim)
{
	xensim_sim_close(sim);
}

int xensim_domain_create(struct xensim_sim *sim, uint32_t domid, uint32_t *out)
{
	return xensim_dom_create(sim, domid, out);
}

int xensim_domain_destroy(struct xensim_sim *sim, uint32_t domid, bool force)
{
	return xensim_dom_destroy(sim, domid, force);
}

int xensim_domain_shutdown(struct xensim_sim *sim, uint32_t domid, unsigned reason)
{
	return xensim_dom_shutdown(sim, domid, reason);
}

int xensim_domain_info(struct xensim_sim *sim, uint32_t domid,
		       struct xensim_dominfo *info)
{
	struct xensim_dom *d = xensim_dom(sim, domid);
	uint32_t f;

	if (!d)
		return -EINVAL;
	/* XSIM_A6: acquire pairs with XSIM_R6 (domain published). */
	f = atomic_load_explicit(&d->flags, memory_order_acquire);
	memset(info, 0, sizeof(*info));
	info->domid = domid;
	info->exists = f & XENSIM_DF_EXISTS;
	if (!info->exists)
		return -ESRCH;
	info->dying = f & XENSIM_DF_DYING;
	info->shutdown = f & XENSIM_DF_SHUTDOWN;
	info->shutdown_reason = (f & XENSIM_DF_REASON_MASK) >> XENSIM_DF_REASON_SHIFT;
	info->uid = d->uid;
	info->xs_port = d->xs_port;
	info->maps = atomic_load_explicit(&d->maps, memory_order_relaxed);
	return 0;
}

void *xensim_domain_ring(struct xensim_sim *sim, uint32_t domid)
{
	return domid < XENSIM_DOMID_MAX ? xensim_ring_page(sim, domid) : NULL;
}

uint64_t xensim_domain_mfn(uint32_t domid)
{
	return 0x100000u + domid;
}

void xensim_stats(struct xensim_sim *sim, struct xensim_stats *st)
{
	st->notify = atomic_load_explicit(&sim->hdr->st_notify, memory_order_relaxed);
	st->deliver = atomic_load_explicit(&sim->hdr->st_deliver, memory_order_relaxed);
	st->lost = atomic_load_explicit(&sim->hdr->st_lost, memory_order_relaxed);
	st->virq = atomic_load_explicit(&sim->hdr->st_virq, memory_order_relaxed);
}

/* ---- event queues ------------------------------------------------------ */

struct xensim_guest {
	struct xensim_evq *evq;
	uint32_t domid, port, gidx;
	xs_ring_t *intf;
	struct obuf out;
	struct parser in;
	uint32_t next_req_id;
	bool touched; /* in evq->touched for the current run */
};

struct xensim_evq {
	struct xensim_sim *sim;
	uint32_t token;
	int fd;
	/* gidx -> guest; calloc()ed, pages only touched where guests live. */
	struct xensim_guest **by_gidx;
	struct xensim_guest **touched;
	size_t ntouched, cap_touched;
};

int xensim_evq_open(struct xensim_sim *sim, struct xensim_evq **out)
{
	struct xensim_evq *q = calloc(1, sizeof(*q));
	int rc;

	if (!q)
		return -ENOMEM;
	q->sim = sim;
	q->by_gidx = calloc(XENSIM_NPORTS, sizeof(*q->by_gidx));
	if (!q->by_gidx) {
		free(q);
		return -ENOMEM;
	}
	/* domid UINT32_MAX: a multi-domain queue (ports of any domain). */
	rc = xensim_handle_open(sim, UINT32_MAX, &q->token, &q->fd, true);
	if (rc) {
		free(q->by_gidx);
		free(q);
		return rc;
	}
	*out = q;
	return 0;
}

void xensim_evq_close(struct xensim_evq *q)
{
	if (!q)
		return;
	for (uint32_t g = 0; g < XENSIM_NPORTS; g++)
		if (q->by_gidx[g])
			xensim_guest_detach(q->by_gidx[g]);
	xensim_handle_close(q->sim, q->token, q->fd);
	free(q->touched);
	free(q->by_gidx);
	free(q);
}

int xensim_evq_fd(struct xensim_evq *q)
{
	return q->fd;
}

int xensim_evq_alloc_unbound(struct xensim_evq *q, uint32_t ldom, uint32_t rdom)
{
	return xensim_ev_alloc_unbound(q->sim, q->token, ldom, rdom);
}

int xensim_evq_bind_interdomain(struct xensim_evq *q, uint32_t ldom, uint32_t rdom,
				uint32_t rport)
{
	return xensim_ev_bind_interdomain(q->sim, q->token, ldom, rdom, rport);
}

int xensim_evq_bind_virq(struct xensim_evq *q, uint32_t ldom, unsigned virq)
{
	return xensim_ev_bind_virq(q->sim, q->token, ldom, virq);
}

int xensim_evq_unbind(struct xensim_evq *q, uint32_t ldom, uint32_t port)
{
	return xensim_ev_unbind(q->sim, q->token, ldom, port);
}

int xensim_evq_notify(struct xensim_evq *q, uint32_t ldom, uint32_t port)
{
	return xensim_ev_notify(q->sim, q->token, ldom, port);
}

int xensim_evq_pending(struct xensim_evq *q, uint32_t *domid, uint32_t *port)
{
	uint32_t g;
	int rc = xensim_ev_pending(q->sim, q->fd, &g);

	if (rc)
		return rc;
	xensim_gidx_split(g, domid, port);
	return 0;
}

int xensim_evq_unmask(struct xensim_evq *q, uint32_t domid, uint32_t port)
{
	uint32_t g = xensim_gidx(domid, port);

	return g == UINT32_MAX ? -EINVAL : xensim_ev_unmask(q->sim, g);
}

int xensim_evq_wait(struct xensim_evq *q, int timeout_ms)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
	int n;

	do
		n = poll(&pfd, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n > 0;
}

static int touch(struct xensim_evq *q, struct xensim_guest *g)
{
	if (g->touched)
		return 0;
	if (q->ntouched == q->cap_touched) {
		size_t cap = q->cap_touched ? q->cap_touched * 2 : 64;
		struct xensim_guest **v = realloc(q->touched, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		q->touched = v;
		q->cap_touched = cap;
	}
	q->touched[q->ntouched++] = g;
	g->touched = true;
	return 0;
}

int xensim_evq_run(struct xensim_evq *q, int timeout_ms)
{
	uint32_t gidx;
	size_t n;
	int rc;

	rc = xensim_evq_wait(q, timeout_ms);
	if (rc <= 0)
		return rc;
	/* One wake drains every pending port. Unmask before pumping: an
	 * event arriving after our look at the ring is then re-queued and
	 * wakes us again, so none is lost. */
	while ((rc = xensim_ev_pending(q->sim, q->fd, &gidx)) == 0) {
		struct xensim_guest *g = q->by_gidx[gidx];

		xensim_ev_unmask(q->sim, gidx);
		if (g && touch(q, g))
			return -ENOMEM;
	}
	if (rc != -EAGAIN)
		return rc;
	n = q->ntouched;
	for (size_t i = 0; i < n; i++) {
		q->touched[i]->touched = false;
		xensim_guest_pump(q->touched[i]);
	}
	q->ntouched = 0;
	return (int)n;
}

/* ---- guests ----------------------------------------------------------- */

int xensim_guest_attach(struct xensim_evq *q, uint32_t domid,
			struct xensim_guest **out)
{
	struct xensim_dominfo info;
	struct xensim_guest *g;
	int rc;

	rc = xensim_domain_info(q->sim, domid, &info);
	if (rc)
		return rc;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->evq = q;
	g->domid = domid;
	g->port = info.xs_port;
	g->gidx = xensim_gidx(domid, info.xs_port);
	g->intf = xensim_ring_page(q->sim, domid);
	g->next_req_id = 1;
	q->by_gidx[g->gidx] = g;
	rc = xensim_ev_attach(q->sim, q->token, domid, g->port);
	if (rc) {
		q->by_gidx[g->gidx] = NULL;
		free(g);
		return rc;
	}
	*out = g;
	return 0;
}

void xensim_guest_detach(struct xensim_guest *g)
{
	struct xensim_evq *q;

	if (!g)
		return;
	q = g->evq;
	xensim_ev_detach(q->sim, q->token, g->domid, g->port);
	q->by_gidx[g->gidx] = NULL;
	for (size_t i = 0; i < q->ntouched; i++) {
		if (q->touched[i] == g) {
			q->touched[i] = q->touched[--q->ntouched];
			break;
		}
	}
	obuf_clear(&g->out);
	parser_reset(&g->in);
	free(g);
}

uint32_t xensim_guest_domid(const struct xensim_guest *g)
{
	return g->domid;
}

uint32_t xensim_guest_port(const struct xensim_guest *g)
{
	return g->port;
}

uint32_t xensim_guest_server_features(const struct xensim_guest *g)
{
	return __atomic_load_n(&g->intf->server_features, __ATOMIC_ACQUIRE);
}

uint32_t xensim_guest_ring_error(const struct xensim_guest *g)
{
	return __atomic_load_n(&g->intf->error, __ATOMIC_ACQUIRE);
}

static void kick(struct xensim_guest *g)
{
	xensim_ev_notify(g->evq->sim, g->evq->token, g->domid, g->port);
}

/*
 * Guest half of the ring protocol. The guest produces req[] and consumes
 * rsp[]; the daemon does the opposite. Indices are free-running u32, the
 * offset is idx % XENSTORE_RING_SIZE, and prod - cons <= RING_SIZE always
 * holds on a sane ring.
 *   req: copy bytes, then XSIM_R7 release-store req_prod (daemon acquires it);
 *        XSIM_A8 acquire-load req_cons (daemon released it after copying out)
 *        before reusing that space.
 *   rsp: XSIM_A9 acquire-load rsp_prod (daemon released it after copying in),
 *        copy bytes, then XSIM_R10 release-store rsp_cons (daemon acquires it
 *        before reusing the space).
 */
static int push_req(struct xensim_guest *g, const uint8_t *p, size_t n, size_t *done)
{
	xs_ring_t *r = g->intf;
	uint32_t cons, prod;

	*done = 0;
	while (*done < n) {
		uint32_t space, off, chunk;

		/* XSIM_A8: pairs with the daemon's release of req_cons. */
		cons = __atomic_load_n(&r->req_cons, __ATOMIC_ACQUIRE);
		prod = __atomic_load_n(&r->req_prod, __ATOMIC_RELAXED); /* ours */
		if (prod - cons > XENSTORE_RING_SIZE)
			return -EIO;
		space = XENSTORE_RING_SIZE - (prod - cons);
		if (!space)
			break;
		off = MASK_XENSTORE_IDX(prod);
		chunk = XENSTORE_RING_SIZE - off;
		if (chunk > space)
			chunk = space;
		if (chunk > n - *done)
			chunk = (uint32_t)(n - *done);
		memcpy(r->req + off, p + *done, chunk);
		/* XSIM_R7: publish the bytes; pairs with the daemon's acquire. */
		__atomic_store_n(&r->req_prod, prod + chunk, __ATOMIC_RELEASE);
		*done += chunk;
	}
	return 0;
}

int xensim_guest_pump(struct xensim_guest *g)
{
	xs_ring_t *r = g->intf;
	bool moved = false;
	size_t done;
	int rc;

	/* While a reconnection is in progress the guest must ignore every
	 * field but the connection state (xenstore-ring.txt): a store of
	 * rsp_cons now could land after the daemon's reset. */
	if (__atomic_load_n(&r->connection, __ATOMIC_ACQUIRE) != XENSTORE_CONNECTED)
		return 0;

	if (g->out.len > g->out.off) {
		rc = push_req(g, g->out.b + g->out.off, g->out.len - g->out.off, &done);
		if (rc)
			return rc;
		g->out.off += done;
		moved |= done > 0;
	}
	for (;;) {
		uint32_t prod, cons, off, chunk;

		/* XSIM_A9: pairs with the daemon's release of rsp_prod. */
		prod = __atomic_load_n(&r->rsp_prod, __ATOMIC_ACQUIRE);
		cons = __atomic_load_n(&r->rsp_cons, __ATOMIC_RELAXED); /* ours */
		if (prod - cons > XENSTORE_RING_SIZE)
			return -EIO;
		if (prod == cons)
			break;
		off = MASK_XENSTORE_IDX(cons);
		chunk = XENSTORE_RING_SIZE - off;
		if (chunk > prod - cons)
			chunk = prod - cons;
		rc = parser_feed(&g->in, (const uint8_t *)r->rsp + off, chunk);
		/* XSIM_R10: the space may be reused; pairs with daemon's acquire. */
		__atomic_store_n(&r->rsp_cons, cons + chunk, __ATOMIC_RELEASE);
		moved = true;
		if (rc)
			return rc;
	}
	if (moved)
		kick(g);
	if (__atomic_load_n(&r->error, __ATOMIC_ACQUIRE) != XENSTORE_ERROR_NONE)
		return -EIO;
	return moved;
}

int xensim_guest_send(struct xensim_guest *g, uint32_t type, uint32_t tx_id,
		      const void *payload, uint32_t len, uint32_t *req_id)
{
	struct xsd_sockmsg h = { .type = type, .req_id = g->next_req_id++,
				 .tx_id = tx_id, .len = len };
	int rc;

	rc = obuf_put(&g->out, &h, sizeof(h));
	if (!rc && len)
		rc = obuf_put(&g->out, payload, len);
	if (rc)
		return rc;
	if (req_id)
		*req_id = h.req_id;
	rc = xensim_guest_pump(g);
	return rc < 0 ? rc : 0;
}

struct xensim_msg *xensim_guest_reply(struct xensim_guest *g)
{
	return msgq_pop(&g->in.replies);
}

struct xensim_msg *xensim_guest_watch_event(struct xensim_guest *g)
{
	return msgq_pop(&g->in.watches);
}

unsigned xensim_guest_outstanding(const struct xensim_guest *g)
{
	return (unsigned)(g->out.len - g->out.off);
}

int xensim_guest_call(struct xensim_guest *g, uint32_t type, uint32_t tx_id,
		      const void *payload, uint32_t len, struct xensim_msg **reply,
		      int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct xensim_msg *m;
	uint32_t id;
	int rc;

	rc = xensim_guest_send(g, type, tx_id, payload, len, &id);
	if (rc)
		return rc;
	for (;;) {
		rc = xensim_guest_pump(g);
		if (rc < 0)
			return rc;
		m = msgq_take_id(&g->in.replies, id);
		if (m)
			break;
		if (!left_ms(deadline))
			return -ETIMEDOUT;
		rc = xensim_evq_run(g->evq, left_ms(deadline) > 100 ? 100 : left_ms(deadline));
		if (rc < 0)
			return rc;
	}
	rc = xensim_msg_error(m);
	if (reply && !rc)
		*reply = m;
	else
		free(m);
	return rc;
}

#define CALL_TIMEOUT_MS 30000

/*
 * The simple requests, for either transport (a guest's ring or a socket):
 * call is xensim_guest_call or xensim_sock_call behind a void pointer.
 */
typedef int (*call_fn)(void *conn, uint32_t type, uint32_t tx_id,
		       const void *payload, uint32_t len,
		       struct xensim_msg **reply, int timeout_ms);

static int take_body(struct xensim_msg *m, char **out, uint32_t *len)
{
	/* The body was allocated with a trailing NUL; hand it out as is. */
	uint32_t l = m->len;
	char *s = malloc(l + 1);

	if (!s) {
		free(m);
		return -ENOMEM;
	}
	memcpy(s, m->body, l + 1);
	free(m);
	*out = s;
	if (len)
		*len = l;
	return 0;
}

/* <path>\0<value> (WRITE) or <a>\0<b>\0 (WATCH, UNWATCH). */
static int req_two(call_fn call, void *conn, uint32_t type, const char *a,
		   const char *b, bool b_nul)
{
	size_t la = strlen(a) + 1, lb = strlen(b) + (b_nul ? 1 : 0);
	char buf[XENSTORE_PAYLOAD_MAX];

	if (la + lb > sizeof(buf))
		return -E2BIG;
	memcpy(buf, a, la);
	memcpy(buf + la, b, lb);
	return call(conn, type, 0, buf, (uint32_t)(la + lb), NULL,
		    CALL_TIMEOUT_MS);
}

/* <path>\0, with the reply body handed out when out is given. */
static int req_path(call_fn call, void *conn, uint32_t type, const char *path,
		    char **out, uint32_t *len)
{
	struct xensim_msg *m;
	int rc = call(conn, type, 0, path, (uint32_t)strlen(path) + 1,
		      out ? &m : NULL, CALL_TIMEOUT_MS);

	return rc || !out ? rc : take_body(m, out, len);
}

static int guest_call(void *conn, uint32_t type, uint32_t tx_id,
		      const void *payload, uint32_t len,
		      struct xensim_msg **reply, int timeout_ms)
{
	return xensim_guest_call(conn, type, tx_id, payload, len, reply,
				 timeout_ms);
}

int xensim_guest_write(struct xensim_guest *g, const char *path, const char *value)
{
	return req_two(guest_call, g, XS_WRITE, path, value, false);
}

int xensim_guest_read(struct xensim_guest *g, const char *path, char **value,
		      uint32_t *len)
{
	return req_path(guest_call, g, XS_READ, path, value, len);
}

int xensim_guest_directory(struct xensim_guest *g, const char *path, char **list,
			   uint32_t *len)
{
	return req_path(guest_call, g, XS_DIRECTORY, path, list, len);
}

int xensim_guest_mkdir(struct xensim_guest *g, const char *path)
{
	return req_path(guest_call, g, XS_MKDIR, path, NULL, NULL);
}

int xensim_guest_rm(struct xensim_guest *g, const char *path)
{
	return req_path(guest_call, g, XS_RM, path, NULL, NULL);
}

int xensim_guest_watch(struct xensim_guest *g, const char *path, const char *token)
{
	return req_two(guest_call, g, XS_WATCH, path, token, true);
}

int xensim_guest_unwatch(struct xensim_guest *g, const char *path, const char *token)
{
	return req_two(guest_call, g, XS_UNWATCH, path, token, true);
}

int xensim_guest_wait_watch(struct xensim_guest *g, struct xensim_msg **ev,
			    int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int rc;

	for (;;) {
		rc = xensim_guest_pump(g);
		if (rc < 0)
			return rc;
		*ev = msgq_pop(&g->in.watches);
		if (*ev)
			return 0;
		if (!left_ms(deadline))
			return -ETIMEDOUT;
		rc = xensim_evq_run(g->evq, left_ms(deadline) > 100 ? 100 : left_ms(deadline));
		if (rc < 0)
			return rc;
	}
}

int xensim_guest_reconnect(struct xensim_guest *g, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	xs_ring_t *r = g->intf;

	if (!(xensim_guest_server_features(g) & XENSTORE_SERVER_FEATURE_RECONNECTION))
		return -EOPNOTSUPP;
	/* XSIM_R11: ask for a reset; the daemon acquires the field. */
	__atomic_store_n(&r->connection, XENSTORE_RECONNECT, __ATOMIC_RELEASE);
	kick(g);
	/* XSIM_A12: the daemon release-stores CONNECTED after resetting the
	 * indices, so they are valid once we see it. */
	while (__atomic_load_n(&r->connection, __ATOMIC_ACQUIRE) != XENSTORE_CONNECTED) {
		int rc;

		if (!left_ms(deadline))
			return -ETIMEDOUT;
		rc = xensim_evq_run(g->evq, left_ms(deadline) > 50 ? 50 : left_ms(deadline));
		if (rc < 0)
			return rc;
	}
	obuf_clear(&g->out);
	parser_reset(&g->in);
	return 0;
}

/* ---- hostile modes ------------------------------------------------------ */

int xensim_guest_write_raw(struct xensim_guest *g, const void *bytes, uint32_t len)
{
	size_t done;
	int rc = push_req(g, bytes, len, &done);

	kick(g);
	return rc ? rc : (int)done;
}

int xensim_guest_send_garbage(struct xensim_guest *g, uint32_t len, uint32_t seed)
{
	uint8_t buf[XENSTORE_RING_SIZE];
	uint32_t x = seed ? seed : 0x9e3779b9u;

	if (len > sizeof(buf))
		len = sizeof(buf);
	for (uint32_t i = 0; i < len; i++) {
		/* xorshift32: reproducible from the seed. */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	return xensim_guest_write_raw(g, buf, len);
}

int xensim_guest_send_oversized(struct xensim_guest *g, uint32_t claimed_len)
{
	uint8_t buf[XENSTORE_RING_SIZE];
	struct xsd_sockmsg h = { .type = XS_WRITE, .req_id = g->next_req_id++,
				 .tx_id = 0, .len = claimed_len };

	memset(buf, 'x', sizeof(buf));
	memcpy(buf, &h, sizeof(h));
	return xensim_guest_write_raw(g, buf, sizeof(buf));
}

int xensim_guest_corrupt_indices(struct xensim_guest *g, enum xensim_corrupt how,
				 uint32_t seed)
{
	xs_ring_t *r = g->intf;
	uint32_t x = seed ? seed : 12345;

	switch (how) {
	case XENSIM_CORRUPT_REQ_PROD:
		__atomic_store_n(&r->req_prod,
				 __atomic_load_n(&r->req_cons, __ATOMIC_ACQUIRE) +
					 2 * XENSTORE_RING_SIZE,
				 __ATOMIC_RELEASE);
		break;
	case XENSIM_CORRUPT_RSP_CONS:
		__atomic_store_n(&r->rsp_cons,
				 __atomic_load_n(&r->rsp_prod, __ATOMIC_ACQUIRE) + 100,
				 __ATOMIC_RELEASE);
		break;
	case XENSIM_CORRUPT_RANDOM: {
		uint32_t *idx[4] = { &r->req_cons, &r->req_prod, &r->rsp_cons, &r->rsp_prod };

		for (int i = 0; i < 4; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			__atomic_store_n(idx[i], x, __ATOMIC_RELEASE);
		}
		break;
	}
	default:
		return -EINVAL;
	}
	kick(g);
	return 0;
}

int xensim_guest_vanish(struct xensim_guest *g)
{
	static const char path[] = "data/vanished";
	struct xsd_sockmsg h = { .type = XS_WRITE, .req_id = g->next_req_id++,
				 .tx_id = 0, .len = sizeof(path) + 16 };
	uint8_t buf[sizeof(h) + sizeof(path)];
	int rc;

	/* The header promises more body than ever arrives. */
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), path, sizeof(path));
	rc = xensim_guest_write_raw(g, buf, sizeof(buf));
	xensim_guest_detach(g);
	return rc < 0 ? rc : 0;
}

/* ---- socket client ---------------------------------------------------- */

struct xensim_sock {
	int fd;
	uint32_t next_req_id;
	struct parser in;
};

int xensim_sock_open(const char *path, struct xensim_sock **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[sizeof(sa.sun_path)];
	struct xensim_sock *s;
	const char *e;
	int fd;

	if (!path) {
		if ((e = getenv("XENSTORED_PATH")) && *e) {
			path = e;
		} else if ((e = getenv("XENSTORED_RUNDIR")) && *e) {
			snprintf(buf, sizeof(buf), "%s/socket", e);
			path = buf;
		} else {
			path = "/run/xenstored/socket";
		}
	}
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->fd = fd;
	s->next_req_id = 1;
	*out = s;
	return 0;
}

void xensim_sock_close(struct xensim_sock *s)
{
	if (!s)
		return;
	close(s->fd);
	parser_reset(&s->in);
	free(s);
}

int xensim_sock_fd(const struct xensim_sock *s)
{
	return s->fd;
}

static int sock_read_some(struct xensim_sock *s, int timeout_ms)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	uint8_t buf[8192];
	ssize_t n;
	int rc;

	rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	n = read(s->fd, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;
	return parser_feed(&s->in, buf, (size_t)n);
}

int xensim_sock_call(struct xensim_sock *s, uint32_t type, uint32_t tx_id,
		     const void *payload, uint32_t len, struct xensim_msg **reply,
		     int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct xsd_sockmsg h = { .type = type, .req_id = s->next_req_id++,
				 .tx_id = tx_id, .len = len };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	struct xensim_msg *m;
	size_t total = sizeof(h) + len, sent = 0;
	int rc;

	while (sent < total) {
		ssize_t n = sendmsg(s->fd, &mh, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		sent += (size_t)n;
		/* Advance the iovecs past what went out. */
		while (n > 0 && mh.msg_iovlen) {
			size_t k = (size_t)n < mh.msg_iov->iov_len ? (size_t)n
								   : mh.msg_iov->iov_len;
			mh.msg_iov->iov_base = (uint8_t *)mh.msg_iov->iov_base + k;
			mh.msg_iov->iov_len -= k;
			n -= (ssize_t)k;
			if (!mh.msg_iov->iov_len) {
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
	}
	while (!(m = msgq_take_id(&s->in.replies, h.req_id))) {
		rc = sock_read_some(s, left_ms(deadline));
		if (rc)
			return rc;
	}
	rc = xensim_msg_error(m);
	if (reply && !rc)
		*reply = m;
	else
		free(m);
	return rc;
}

static int sock_call(void *conn, uint32_t type, uint32_t tx_id,
		     const void *payload, uint32_t len, struct xensim_msg **reply,
		     int timeout_ms)
{
	return xensim_sock_call(conn, type, tx_id, payload, len, reply,
				timeout_ms);
}

int xensim_sock_write(struct xensim_sock *s, const char *path, const char *value)
{
	return req_two(sock_call, s, XS_WRITE, path, value, false);
}

int xensim_sock_read(struct xensim_sock *s, const char *path, char **value,
		     uint32_t *len)
{
	return req_path(sock_call, s, XS_READ, path, value, len);
}

int xensim_sock_directory(struct xensim_sock *s, const char *path, char **list,
			  uint32_t *len)
{
	return req_path(sock_call, s, XS_DIRECTORY, path, list, len);
}

int xensim_sock_mkdir(struct xensim_sock *s, const char *path)
{
	return req_path(sock_call, s, XS_MKDIR, path, NULL, NULL);
}

int xensim_sock_rm(struct xensim_sock *s, const char *path)
{
	return req_path(sock_call, s, XS_RM, path, NULL, NULL);
}

int xensim_sock_set_perms(struct xensim_sock *s, const char *path, const char *perms,
			  uint32_t perms_len)
{
	size_t lp = strlen(path) + 1;
	char buf[XENSTORE_PAYLOAD_MAX];

	if (lp + perms_len + 1 > sizeof(buf))
		return -E2BIG;
	memcpy(buf, path, lp);
	memcpy(buf + lp, perms, perms_len);
	/* Each permission is NUL-terminated on the wire. */
	if (!perms_len || perms[perms_len - 1] != '\0')
		buf[lp + perms_len++] = '\0';
	return xensim_sock_call(s, XS_SET_PERMS, 0, buf, (uint32_t)(lp + perms_len), NULL,
				CALL_TIMEOUT_MS);
}

int xensim_sock_watch(struct xensim_sock *s, const char *path, const char *token)
{
	return req_two(sock_call, s, XS_WATCH, path, token, true);
}

int xensim_sock_wait_watch(struct xensim_sock *s, struct xensim_msg **ev,
			   int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int rc;

	while (!(*ev = msgq_pop(&s->in.watches))) {
		rc = sock_read_some(s, left_ms(deadline));
		if (rc)
			return rc;
	}
	return 0;
}

int xensim_sock_introduce(struct xensim_sock *s, uint32_t domid, uint64_t mfn,
			  uint32_t port)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "%u%c%llu%c%u", domid, 0,
			 (unsigned long long)mfn, 0, port);

	return xensim_sock_call(s, XS_INTRODUCE, 0, buf, (uint32_t)n + 1, NULL,
				CALL_TIMEOUT_MS);
}

int xensim_sock_release(struct xensim_sock *s, uint32_t domid)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%u", domid);

	return xensim_sock_call(s, XS_RELEASE, 0, buf, (uint32_t)n + 1, NULL,
				CALL_TIMEOUT_MS);
}
