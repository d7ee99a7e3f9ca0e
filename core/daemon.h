/* SPDX-License-Identifier: MIT */
/*
 * The daemon's objects: configuration, worker threads and connections.
 *
 * Threads
 * -------
 * - The main thread accepts socket connections and hands each to a worker
 *   (round robin) through that worker's inbox; it never touches the store.
 * - Each worker owns a set of connections: only it reads, writes, parses,
 *   dispatches and closes them, with its own epoll set.  A request runs to
 *   completion on the worker that owns its connection.
 * - A change made on one worker fires watches of connections owned by
 *   others: the event is queued on the owner's inbox (wait-free queue) and
 *   the owner is woken at most once per batch (wake protocol in worker.c).
 */
#ifndef MXS_CORE_DAEMON_H
#define MXS_CORE_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sys/epoll.h>
#include <sys/uio.h>

#include <urcu/list.h>
#include <urcu-qsbr.h>

#include "core/mpsc.h"
#include "core/quota.h"

#include "mxs/protocol.h"
#include "mxs/ring.h"
#include "store/buf.h"
#include "store/perms.h"
#include "store/store.h"
#include "store/watch.h"

struct mxs_daemon;
struct mxs_worker;
struct mxs_conn;
struct mxs_domain;
struct mxs_dominfo;
struct mxs_uworker;

/* How a worker waits and moves socket bytes (--io). */
enum mxs_io {
	MXS_IO_AUTO,  /* io_uring if it can be set up, else epoll */
	MXS_IO_URING,
	MXS_IO_EPOLL,
};

struct mxs_config {
	const char *socket_path;
	const char *pid_file;
	const char *trace_file;
	unsigned int workers;
	bool no_fork;
	bool no_domain_init;
	bool output_pid;
	bool verbose;
	bool strict_conflicts;
	enum mxs_io io; /* --io; AUTO resolved by main.c before the workers */
	uint32_t master_domid; /* whose ring xsd_kva is (--master-domid) */
	uint32_t priv_domid;   /* privileged besides dom0 (--priv-domid) */
	const char *dominfo_plugin; /* --dominfo-plugin, or next to us */
	/* Quotas of unprivileged domains: set from the command line,
	 * changed at run time by XS_CONTROL quota (core/quota.h). */
	struct mxs_quotas quota;
};

/*
 * How a connection moves bytes: the socket (core/sock.c) or a domain's
 * ring page and event channel (core/ringconn.c).  Framing, ordering,
 * output queues, watches and transactions are shared code (conn.c) above
 * it.  Every function runs on the owning worker.
 */
struct mxs_transport {
	const char *name;
	/*
	 * A recv that returns less than asked means nothing more is there
	 * now, and the transport will report more when it comes (a socket
	 * under level-triggered epoll): the connection stops reading
	 * instead of asking again for an -EAGAIN.  A ring asks again: its
	 * notification rules (unmask, then re-check) need the empty answer.
	 */
	bool short_recv_drains;
	/* Bytes copied into buf (> 0), -EAGAIN when nothing is there now,
	 * 0 when the peer has gone (socket EOF), other -errno: broken. */
	ssize_t (*recv)(struct mxs_conn *c, void *buf, size_t len);
	/* Bytes taken from iov (0 when full), or -errno: peer gone. */
	ssize_t (*sendv)(struct mxs_conn *c, const struct iovec *iov,
			 int cnt);
	/* Optional: the whole message (header, then payload) into the
	 * transport at once, or nothing (false: no room, or broken; it is
	 * queued and the flush deals with it).  Called only with nothing
	 * queued, so the output order stays the order of the queue calls;
	 * it spares a reply its allocation, copy and flush. */
	bool (*send_now)(struct mxs_conn *c, const void *hdr, size_t hlen,
			 const void *payload, size_t len);
	/* Output is (still) queued, or input is held back (stalled):
	 * arrange to be called again when the peer makes room. */
	void (*want_send)(struct mxs_conn *c, bool out_queued, bool stalled);
	/* Tell the peer that indices moved (at most once per batch). */
	void (*notify)(struct mxs_conn *c);
	/* The peer broke the protocol (error: MXS_RING_ERR_*): stop
	 * serving it. */
	void (*fail)(struct mxs_conn *c, uint32_t error);
	/* Release the transport's resources (the connection is closed). */
	void (*close)(struct mxs_conn *c);
};

/*
 * One queued outgoing message: header and payload, contiguous.  A watch
 * event for a connection of another worker is built once by the firing
 * worker and travels to the owner through the owner's event queue, where
 * it becomes the queued output itself (no copy on arrival).
 */
struct mxs_out {
	union {
		struct mxs_out *next;       /* in conn's output (owner only) */
		struct mxs_mpsc_node qnode; /* in transit: owner's events */
	};
	struct mxs_conn *conn; /* in transit: destination, one reference */
	/* A watch event of an unprivileged connection: dropped when still
	 * wholly unsent at this time (ns, CLOCK_MONOTONIC; the watch-event
	 * timeout); 0: never. */
	uint64_t deadline;
	size_t len;  /* bytes in data */
	size_t sent; /* bytes already written */
	char data[];
};

struct mxs_conn_tx {
	struct mxs_conn_tx *next;
	uint32_t id;
	struct mxs_txn *tx;
	bool over; /* went past the transaction-nodes quota */
};

struct mxs_conn {
	struct cds_list_head link; /* in worker->conns; owner only */
	struct mxs_worker *w;      /* owner; never changes */
	const struct mxs_transport *t; /* never changes */
	struct mxs_domain *dom;    /* ring connections: their domain */
	unsigned long refs;        /* atomic; the owner holds one while open */
	int fd;                    /* socket transport */
	uint32_t epoll_events;     /* socket transport */
	bool closed;               /* owner only */
	bool stopped;              /* broke the protocol: not served */
	bool blocked;              /* a request is being served elsewhere
				      (INTRODUCE, RELEASE): later ones wait */
	bool moved;                /* ring indices moved in this batch */
	bool again;                /* in worker->again */
	unsigned int budget;       /* requests left in this batch */
	struct mxs_conn *next_notify; /* in worker->notify */
	struct mxs_conn *next_again;  /* in worker->again */
	struct mxs_conn *next_served; /* mxs_worker_run_again() only */
	struct mxs_conn *next_dead; /* in worker->graveyard */
	struct mxs_conn *next_dirty; /* in worker->dirty */
	bool dirty;                /* output or held-back input to service */
	bool overflow;             /* events exceeded the hard output limit */
	/* Atomic, set by any worker: a watch event for c could not be built
	 * (no memory).  c is closed after its owner's batch: a client must
	 * not go on believing it was told of every change. */
	int ev_lost;
	uint64_t seq;              /* creation order */
	/*
	 * Who is asking.  Read by other workers (watch permission checks),
	 * so never modified in place: SET_TARGET publishes a new one
	 * (CONN_R1, release) and frees the old after a grace period;
	 * readers load it with mxs_conn_caller() (CONN_A1, acquire) and
	 * use it until their next quiescent state.  Initially &caller0.
	 */
	struct mxs_caller *caller;
	struct mxs_caller caller0;
	struct mxs_watch_owner wo; /* its watches (registry) */

	/* Input (owner only): bytes received, parsed from the front.  Room
	 * for two whole messages, so one always fits after a partial one. */
	size_t in_len;
	char in[2 * (sizeof(struct mxs_msg_hdr) + MXS_PAYLOAD_MAX)];

	/* Output queue (owner only). */
	struct mxs_out *out_head, **out_tail;
	size_t out_bytes;
	/* Replies queued and not yet taken by the peer: the outstanding
	 * quota holds back its input while it has too many.  Written by
	 * the owner, relaxed; CONTROL quota reads it (relaxed) anywhere. */
	unsigned int out_replies;

	/*
	 * Write rate limit (XSA-206, the C daemon 4.17's policy, conn.c;
	 * unprivileged domains only; owner only): credit in thousandths of
	 * a write, refilled at MXS_WRL_RATE / (domains in the limit)
	 * writes/s up to MXS_WRL_BURST, the surplus to the daemon's
	 * reserve; a write with no credit left takes from the reserve, or
	 * waits (input held back, never dropped) until wrl_until, on the
	 * worker's delayed list.  wrl_joined: counted in
	 * d->wrl_ndomains (from its start to its close).
	 */
	bool wrl_joined;
	int64_t wrl_credit;
	uint64_t wrl_stamp;   /* ns (CLOCK_MONOTONIC) of the last refill */
	uint64_t wrl_until;   /* ns: held back until then, or 0 */
	uint64_t wrl_delays;  /* relaxed: writes that had to wait */
	struct mxs_conn *next_delayed; /* in worker->delayed */
	/*
	 * The watch-event timeout (the C daemon's -w watch-event; owner
	 * only): events queue in order, so ev_deadline, the deadline of
	 * the oldest timed event still queued (0: none), is the next one
	 * due; while it is set the connection is on worker->timed (one
	 * reference).  ev_dropped counts the events dropped (relaxed:
	 * CONTROL quota reads it anywhere); ev_unlogged those not logged
	 * yet, at most one line per timeout interval (ev_logged_at).
	 */
	uint64_t ev_deadline;
	bool timed;
	struct mxs_conn *next_timed;
	uint64_t ev_dropped;
	uint64_t ev_unlogged;
	uint64_t ev_logged_at;

	/* Open transactions (owner only; ntxs written by the owner,
	 * relaxed, and read relaxed by CONTROL quota anywhere). */
	struct mxs_conn_tx *txs;
	unsigned int ntxs;
	uint32_t next_txid;
};

enum mxs_inbox_kind {
	MXS_INBOX_CONN,      /* a new socket connection */
	MXS_INBOX_STOP,
	MXS_INBOX_INTRODUCE, /* serve dom here, then answer conn */
	MXS_INBOX_RELEASE,   /* release dom, then answer conn if any */
	MXS_INBOX_REPLY,     /* the answer to conn's blocked request */
};

/* A message to a worker from another thread. */
struct mxs_inbox_msg {
	struct mxs_mpsc_node node;
	enum mxs_inbox_kind kind;
	int fd;                /* MXS_INBOX_CONN */
	uint64_t seq;          /* MXS_INBOX_CONN */
	struct mxs_conn *conn; /* REPLY; INTRODUCE, RELEASE: the
				  requester or NULL.  Holds a reference. */
	struct mxs_domain *dom; /* INTRODUCE, RELEASE */
	struct mxs_msg_hdr hdr; /* INTRODUCE, RELEASE, REPLY: the request
				   (REPLY: type is the reply's type) */
	size_t len;            /* REPLY payload */
	char data[];
};

#define MXS_CACHELINE 64

struct mxs_worker {
	/* Written by other threads (producers): on lines of their own, so
	 * posting to a worker never invalidates the owner's hot fields. */
	struct mxs_mpsc inbox;  /* connections, stop */
	struct mxs_mpsc events; /* struct mxs_out, watch events */
	/* Wake protocol of core/mpsc.h (worker.c). */
	int wake_pending __attribute__((aligned(MXS_CACHELINE)));
	int evfd;
	int ev_lost;    /* a connection of this worker has ev_lost set */

	/* Owner only. */
	unsigned int id __attribute__((aligned(MXS_CACHELINE)));
	bool stopping;  /* an MXS_INBOX_STOP arrived */
	pthread_t thread;
	int epfd;
	struct mxs_daemon *d;
	struct cds_list_head conns;
	unsigned long nconns;
	/* Connections closed during this batch: freed after it, since the
	 * batch may still hold epoll events naming them. */
	struct mxs_conn *graveyard;
	/* Connections with output queued (or input held back) during this
	 * batch: serviced once, after the batch, never from inside a
	 * dispatch or a watch callback. */
	struct mxs_conn *dirty;
	struct mxs_buf reply;   /* scratch for reply payloads */
	char req[MXS_PAYLOAD_MAX + 1]; /* current request payload + NUL */
	struct mxs_changes changes;
	uint64_t requests;      /* relaxed reads by CONTROL memreport */
	struct mxs_dominfo *dominfo; /* this worker's plugin handle */
	/* Its io_uring (core/uringconn.c), or NULL: sockets through epoll. */
	struct mxs_uworker *uw;
	/* Receive buffers that io_uring has provided: relaxed reads by
	 * CONTROL memreport. */
	unsigned int uring_bufs;

	/* Event channels of this worker's domains (core/ringconn.c). */
	void *xce;              /* xenevtchn_handle, or NULL: sockets only */
	void *xgt;              /* xengnttab_handle */
	int xce_fd;
	struct mxs_conn **ports; /* local port -> ring connection */
	size_t nports;
	uint32_t virq_port;     /* VIRQ_DOM_EXC, bound on worker 0 only */
	bool virq;              /* VIRQ_DOM_EXC pending in this batch */
	struct mxs_conn *notify; /* ring connections to notify */
	struct mxs_conn *again;  /* input left over by the budget */
	struct mxs_conn *delayed; /* held back by the write rate limit */
	struct mxs_conn *timed;   /* with timed watch events queued */
	unsigned long ndomains;  /* atomic: domains owned (balancing) */
};

_Static_assert(offsetof(struct mxs_worker, wake_pending) %
			       MXS_CACHELINE == 0 &&
		       offsetof(struct mxs_worker, wake_pending) >=
			       offsetof(struct mxs_worker, events) +
				       sizeof(struct mxs_mpsc),
	       "wake flag apart from the queues");
_Static_assert(offsetof(struct mxs_worker, id) % MXS_CACHELINE == 0 &&
		       offsetof(struct mxs_worker, id) >
			       offsetof(struct mxs_worker, evfd),
	       "owner fields apart from what producers write");

struct mxs_daemon {
	/*
	 * Commit order: a change of the live store and the queuing of its
	 * watch events happen under this lock (mxs_commit_begin/end in
	 * ops.c), so every connection receives the events of different
	 * commits in the order in which the commits were applied.  Its own
	 * line: every writer on every worker takes it.
	 */
	pthread_mutex_t commit_lock __attribute__((aligned(MXS_CACHELINE)));
	struct mxs_config cfg __attribute__((aligned(MXS_CACHELINE)));
	/* Runs one request (mxs_dispatch; set before the workers run):
	 * connections call up through it, never into ops.c directly. */
	void (*dispatch)(struct mxs_conn *c, const struct mxs_msg_hdr *hdr,
			 char *payload);
	struct mxs_store *store;
	struct mxs_watches *watches;
	struct mxs_worker *workers;
	unsigned int nworkers;
	/* Workers that have set up how they wait (worker.c, start_lock). */
	pthread_mutex_t start_lock;
	pthread_cond_t start_cond;
	unsigned int nstarted;
	int listen_fd;
	uint64_t conn_seq; /* atomic: connection numbers, creation order */
	unsigned long nconns; /* atomic */
	/* Trace file (-T, CONTROL logfile/log): one write per line. */
	pthread_mutex_t trace_lock;
	int trace_fd;
	char *trace_path;
	bool trace_on;
	/* Domains (core/domain.c). */
	bool domains;           /* event channels and grants available */
	struct mxs_domain **domtab; /* domid -> domain (RCU: DOMTAB_R1/A1) */
	uint8_t *domresv;       /* domid being introduced; dom_lock */
	pthread_mutex_t dom_lock;   /* introduce/release; domlist */
	struct cds_list_head domlist; /* introduced domains */
	/*
	 * Domains known to exist (XSA-322): domseen[domid] is 1 + the store
	 * generation at which the daemon first learned that the domain
	 * exists (its introduction, or a SET_PERMS naming it while the
	 * hypervisor knew it), 0 when unknown; cleared when it is released
	 * or found gone.  Atomic (DOMSEEN_R1/A1); read by the store's
	 * domain oracle on any thread.
	 */
	uint64_t *domseen;
	/* Ring features of a domain not yet introduced (SET_FEATURE):
	 * 0 for the defaults, else 1 + the bits; relaxed, cleared at
	 * release. */
	uint32_t *domfeat;
	uint64_t sweeps;        /* relaxed: VIRQ_DOM_EXC sweeps done */
	/*
	 * The write rate limit's global part (conn.c, the C daemon's
	 * wrl_reserve and wrl_ndomains): the reserve of credit (in
	 * thousandths of a write, within [-MXS_WRL_NEWDOMS *
	 * MXS_WRL_BURST, MXS_WRL_GBURST] writes) that domains' surplus
	 * fills and that new or short domains draw on, changed only by
	 * compare-and-swap transfers (relaxed: it publishes nothing), and
	 * the number of unprivileged connections sharing MXS_WRL_RATE.
	 * Their own line: every limited write may touch them.
	 */
	int64_t wrl_reserve __attribute__((aligned(MXS_CACHELINE)));
	long wrl_ndomains;
	/* Open transactions of every connection (relaxed): writes cost
	 * credit only while there are some (conn.c, wrl_in_force). */
	long wrl_ntransactions;
};

/* worker.c: the worker loop (the top layer). */
/* Main thread: starts d->nworkers workers; returns once each has made
 * its io_uring ring or fallen back to epoll.  0 or -errno. */
int mxs_workers_start(struct mxs_daemon *d);
void mxs_workers_stop(struct mxs_daemon *d);
/* Frees the connections closed during the last batch. */
void mxs_worker_bury(struct mxs_worker *w);

/* inbox.c: a worker's inbox and event queue. */
/* Any thread: queue m for w and wake w (at most one wake per batch). */
void mxs_worker_post(struct mxs_worker *w, struct mxs_inbox_msg *m);
/* Any thread: hand the watch event o (o->conn set, one reference held)
 * to its connection's worker. */
void mxs_worker_post_event(struct mxs_worker *w, struct mxs_out *o);
/*
 * Owner only: queues every event that other workers have posted to w on
 * its connections, in posting order.  Events posted before the caller
 * acquired a lock that the posters held are all taken (the posters'
 * pushes are complete by then).
 */
void mxs_worker_take_events(struct mxs_worker *w);
/*
 * Owner only: the protocol's reset of c's state (RESET_WATCHES, ring
 * reconnection, re-INTRODUCE): its watches and transactions dropped, then
 * the events other workers posted for those watches taken onto the
 * output, so that none can follow the reset.  Removing a watch waits, on
 * the registry lock, for every firing that could still see it, and those
 * firings pushed their events before releasing it.
 */
void mxs_conn_reset_state(struct mxs_conn *c);
/* The worker running on this thread, or NULL. */
struct mxs_worker *mxs_worker_self(void);
/* Makes w the calling thread's worker (worker threads; test harnesses
 * that run a worker's connections on their own thread). */
void mxs_worker_adopt(struct mxs_worker *w);

/* conn.c: connections, framing and their queues; owner-worker only,
 * unless stated.  The lowest layer but logging: it calls up only
 * through the transport's functions and d->dispatch. */
/* Drops c's watches and transactions (RESET_WATCHES, close, ring
 * reset). */
void mxs_conn_drop_state(struct mxs_conn *c);
/* Common set-up of a connection with transport t and identity who. */
void mxs_conn_init(struct mxs_conn *c, struct mxs_worker *w,
		   const struct mxs_transport *t, uint64_t seq,
		   const struct mxs_caller *who);
/* Frees what the connection still owns; the last mxs_conn_put. */
void mxs_conn_release(struct mxs_conn *c);
/* The caller identity (CONN_A1); valid until the next quiescent state.
 * Any thread, online for RCU. */
static inline const struct mxs_caller *mxs_conn_caller(
	const struct mxs_conn *c)
{
	/* CONN_A1: pairs with CONN_R1 in mxs_conn_set_caller(). */
	return __atomic_load_n(&c->caller, __ATOMIC_ACQUIRE);
}
/* Replaces the identity (SET_TARGET); any thread, online for RCU.
 * The old one is freed after a grace period. */
int mxs_conn_set_caller(struct mxs_conn *c, const struct mxs_caller *who);
/* May c's next request run now (not closed, stopped, blocked or
 * held back by unread output)? */
bool mxs_conn_can_serve(const struct mxs_conn *c);
/* Queues c for the next batch (input left in its buffer). */
void mxs_conn_again(struct mxs_conn *c);
/* A request served elsewhere has been answered: go on with the next. */
void mxs_conn_unblock(struct mxs_conn *c);
/* The write rate limit (conn.c): per domain, as the C daemon. */
#define MXS_WRL_RATE 200   /* writes per second, shared by all domains */
#define MXS_WRL_BURST 10   /* writes at once, per domain */
#define MXS_WRL_GBURST 1000 /* the reserve's ceiling */
#define MXS_WRL_NEWDOMS 5  /* bursts new domains may borrow at once */
/* Owner only: the earliest time (ns) a delayed connection of w may go
 * on, 0 when none waits; due ones are queued to run again. */
uint64_t mxs_worker_run_delayed(struct mxs_worker *w, uint64_t now);
/* Owner only: drops the watch events of w's connections whose
 * watch-event timeout passed by `now` (logged, counted); returns the
 * next deadline, 0 when none is pending.  UINT64_MAX: drop the list. */
uint64_t mxs_worker_run_timed(struct mxs_worker *w, uint64_t now);
uint64_t mxs_now_ns(void);
/* Drops partial input and queued output (ring reconnection). */
void mxs_conn_reset_io(struct mxs_conn *c);
/* Asks for one t->notify at the end of this batch. */
void mxs_conn_want_notify(struct mxs_conn *c);
/* End of a batch: notify every ring connection that moved. */
void mxs_worker_notify_all(struct mxs_worker *w);

/* sock.c */
/* Who a socket client is: dom0, privileged. */
extern const struct mxs_caller mxs_sock_caller;
struct mxs_conn *mxs_conn_new(struct mxs_worker *w, int fd, uint64_t seq);
void mxs_conn_get(struct mxs_conn *c);         /* any thread */
void mxs_conn_put(struct mxs_conn *c);         /* any thread */
void mxs_conn_readable(struct mxs_conn *c);
void mxs_conn_flush(struct mxs_conn *c);
/* Schedules c for mxs_worker_service_dirty. */
void mxs_conn_mark_dirty(struct mxs_conn *c);
/* After a batch: flush queued output, resume held-back input. */
void mxs_worker_service_dirty(struct mxs_worker *w);
/* Serves the connections whose input the request budget left over (or
 * that a ring re-check or an unblock queued), then flushes their
 * output.  Owner only. */
void mxs_worker_run_again(struct mxs_worker *w);
void mxs_conn_close(struct mxs_conn *c);
int mxs_conn_queue(struct mxs_conn *c, uint32_t type, uint32_t req_id,
		   uint32_t tx_id, const void *payload, size_t len);
/*
 * A watch event message for path and token, not queued anywhere, in *o:
 * 0, -E2BIG when it would exceed the payload limit (XSA-324: never
 * built, logged), -ENOMEM.  Any thread.
 */
int mxs_out_event_new(const char *path, const char *token,
		      struct mxs_out **o);
/*
 * An event for c was lost (no memory): c is closed, with a log line,
 * after its owner's batch.  self: the calling worker.  Any worker,
 * inside a watch callback too.
 */
void mxs_conn_lose_event(struct mxs_conn *c, struct mxs_worker *self);
/*
 * Queues the event o on c, or frees it when c is closed or its unread
 * events exceed the hard limit (c is then closed after the batch).
 * Queue only, never flush: callable inside a watch callback.
 */
void mxs_conn_queue_out_event(struct mxs_conn *c, struct mxs_out *o);
/* mxs_out_event_new + mxs_conn_queue_out_event. */
int mxs_conn_queue_event(struct mxs_conn *c, const char *path,
			 const char *token);

/* ringconn.c: ring connections and the worker's event channels. */
/* Opens w's event-channel and grant handles (its fd joins w's epoll
 * set).  -errno when the host has none (sockets only). */
int mxs_worker_evtchn_open(struct mxs_worker *w);
void mxs_worker_evtchn_close(struct mxs_worker *w);
/* A ring connection for dom, whose page is mapped and whose port is
 * bound (dom->port) on w.  NULL and errno on failure. */
struct mxs_conn *mxs_ringconn_new(struct mxs_worker *w,
				  struct mxs_domain *dom);
/* Binds c's domain to a new port (a repeated INTRODUCE).  0 or
 * -errno (then no port is bound).  Owner only. */
int mxs_ringconn_rebind(struct mxs_conn *c, uint32_t remote_port);
/* One wake of the event-channel fd: drains every pending port, serves
 * each ring (budget per batch), flushes, unmasks, re-checks each ring
 * after the unmask.  Owner only. */
void mxs_worker_rings_run(struct mxs_worker *w);
/* Serves c's ring once (reconnection, input, output).  Owner only. */
void mxs_ringconn_serve(struct mxs_conn *c);
/* After a batch: is there ring work no notification will announce? */
bool mxs_ringconn_has_work(struct mxs_conn *c);

/* uringconn.c: the socket transport through the worker's io_uring
 * (owner worker only, unless stated). */
/* Any thread: 0 when an io_uring with provided buffers can be set up,
 * else -errno (kernel too old, or blocked, as containers often do). */
int mxs_uring_available(void);
/* On w's thread, before it serves: its ring, with its epoll set polled
 * through it.  0 or -errno (w then stays on epoll). */
int mxs_worker_uring_start(struct mxs_worker *w);
/* After every connection of w is closed: waits for their last
 * completions (bounded), then frees the ring. */
void mxs_worker_uring_stop(struct mxs_worker *w);
/* A socket connection on fd served through w's ring (w->uw set). */
struct mxs_conn *mxs_uconn_new(struct mxs_worker *w, int fd, uint64_t seq);
/* Submits what is queued, waits up to timeout_ms (-1: no limit, 0: not
 * at all) for a completion, reaps them all; when the epoll set fired,
 * its events (epoll_wait(0)) are in ev.  Their number, or -errno. */
int mxs_worker_uring_wait(struct mxs_worker *w, struct epoll_event *ev,
			  int max, int timeout_ms);
/* Serves the connections whose receives or failed sends completed. */
void mxs_worker_uring_serve(struct mxs_worker *w);
/* Completions or epoll events are waiting: do not sleep. */
bool mxs_worker_uring_busy(const struct mxs_worker *w);

/* domain.c: the domain table and the domain lifecycle. */
int mxs_domains_init(struct mxs_daemon *d);
/* Opens the domain-info plugin for each worker (cfg.dominfo_plugin, else
 * next to the executable, else the installed one) and, with it, the
 * store's domain oracle.  Main thread, before the workers run; without
 * it domain death goes unnoticed (logged) and no entry is ever stale. */
void mxs_domains_plugin(struct mxs_daemon *d);
void mxs_domains_fini(struct mxs_daemon *d);
/* dom0 (the master domain) from /proc/xen/xsd_kva and xsd_port:
 * introduced on a worker (no @introduceDomain).  Main thread. */
int mxs_domains_dom0(struct mxs_daemon *d);
/* SET_PERMS naming domids: note those the hypervisor knows (w's plugin
 * handle), before the store sets the list.  -ENOENT when the owner
 * does not exist (the C daemon's answer), else 0.  Owner worker. */
int mxs_domains_note_perms(struct mxs_worker *w, const struct mxs_perm *p,
			   unsigned int n);
/* Domain ops, on the requester's worker.  0: answered in r (reply
 * queued already, or the requester is blocked until the owning worker
 * answers); -errno: the error to send. */
int mxs_domain_introduce(struct mxs_conn *c, const struct mxs_msg_hdr *hdr,
			 uint32_t domid, uint32_t port);
int mxs_domain_release(struct mxs_conn *c, const struct mxs_msg_hdr *hdr,
		       uint32_t domid);
int mxs_domain_resume(struct mxs_daemon *d, uint32_t domid);
int mxs_domain_set_target(struct mxs_daemon *d, uint32_t domid,
			  uint32_t target);
bool mxs_domain_introduced(struct mxs_daemon *d, uint32_t domid);
/* The ring features domain domid gets at INTRODUCE (SET_FEATURE's, else
 * the daemon's).  Any thread. */
uint32_t mxs_domain_features_for(struct mxs_daemon *d, uint32_t domid);
/* Owner side of MXS_INBOX_INTRODUCE / MXS_INBOX_RELEASE. */
void mxs_domain_serve_here(struct mxs_worker *w, struct mxs_inbox_msg *m);
void mxs_domain_release_here(struct mxs_worker *w, struct mxs_inbox_msg *m);
/* VIRQ_DOM_EXC on worker 0: one getinfolist sweep; dying and vanished
 * domains are released on their owners. */
void mxs_domains_sweep(struct mxs_worker *w);

/* ops.c: request handling.  The daemon's d->dispatch. */
void mxs_dispatch(struct mxs_conn *c, const struct mxs_msg_hdr *hdr,
		  char *payload);

/*
 * events.c: watch-event delivery.  Commit order: every change of the
 * live store runs as
 *   mxs_commit_begin(d); <store mutation or commit>;
 *   mxs_fire_changes(d, ch); mxs_commit_end(d);
 * begin takes d->commit_lock and first queues the events other workers
 * posted to the calling worker (they belong to earlier commits);
 * mxs_fire_changes queues the events of every change in ch to their
 * connections (directly on this worker, through the owner's event queue
 * on others) and clears ch.
 */
/* Main thread, before any worker runs: d->commit_lock.  0 or -errno. */
int mxs_commit_lock_init(struct mxs_daemon *d);
void mxs_commit_begin(struct mxs_daemon *d);
void mxs_commit_end(struct mxs_daemon *d);
void mxs_fire_changes(struct mxs_daemon *d, struct mxs_changes *ch);
/* A special watch (@introduceDomain, @releaseDomain) fires from worker
 * w, as one commit of its own. */
void mxs_fire_special(struct mxs_worker *w, const char *name);

/* control.c */
int mxs_control(struct mxs_conn *c, char **argv, unsigned int argc,
		struct mxs_buf *reply);

/* log.c */
void mxs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mxs_trace_io(struct mxs_daemon *d, const struct mxs_conn *c, bool out,
		  const struct mxs_msg_hdr *hdr, const char *payload);
void mxs_trace(struct mxs_daemon *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int mxs_trace_open(struct mxs_daemon *d, const char *path);
void mxs_log_init(bool foreground, bool verbose);
extern bool mxs_verbose;

#endif
