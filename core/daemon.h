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

#include <urcu/list.h>

#include "core/mpsc.h"

#include "mxs/protocol.h"
#include "store/buf.h"
#include "store/perms.h"
#include "store/store.h"
#include "store/watch.h"

struct mxs_daemon;
struct mxs_worker;

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
	size_t len;  /* bytes in data */
	size_t sent; /* bytes already written */
	char data[];
};

struct mxs_conn_tx {
	struct mxs_conn_tx *next;
	uint32_t id;
	struct mxs_txn *tx;
};

struct mxs_conn {
	struct cds_list_head link; /* in worker->conns; owner only */
	struct mxs_worker *w;      /* owner; never changes */
	unsigned long refs;        /* atomic; the owner holds one while open */
	int fd;
	uint32_t epoll_events;
	bool closed;               /* owner only */
	struct mxs_conn *next_dead; /* in worker->graveyard */
	struct mxs_conn *next_dirty; /* in worker->dirty */
	bool dirty;                /* output or held-back input to service */
	bool overflow;             /* events exceeded the hard output limit */
	uint64_t seq;              /* creation order */
	struct mxs_caller caller;
	struct mxs_watch_owner wo; /* its watches (registry) */

	/* Input (owner only): bytes received, parsed from the front.  Room
	 * for two whole messages, so one always fits after a partial one. */
	size_t in_len;
	char in[2 * (sizeof(struct mxs_msg_hdr) + MXS_PAYLOAD_MAX)];

	/* Output queue (owner only). */
	struct mxs_out *out_head, **out_tail;
	size_t out_bytes;

	/* Open transactions (owner only). */
	struct mxs_conn_tx *txs;
	unsigned int ntxs;
	uint32_t next_txid;
};

enum mxs_inbox_kind { MXS_INBOX_CONN, MXS_INBOX_STOP };

/* A message to a worker from another thread. */
struct mxs_inbox_msg {
	struct mxs_mpsc_node node;
	enum mxs_inbox_kind kind;
	int fd;                /* MXS_INBOX_CONN */
	uint64_t seq;          /* MXS_INBOX_CONN */
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
	struct mxs_store *store;
	struct mxs_watches *watches;
	struct mxs_worker *workers;
	unsigned int nworkers;
	int listen_fd;
	uint64_t conn_seq; /* main thread */
	unsigned long nconns; /* atomic */
	/* Trace file (-T, CONTROL logfile/log): one write per line. */
	pthread_mutex_t trace_lock;
	int trace_fd;
	char *trace_path;
	bool trace_on;
};

/* worker.c */
int mxs_workers_start(struct mxs_daemon *d);
void mxs_workers_stop(struct mxs_daemon *d);
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
struct mxs_worker *mxs_worker_self(void);
/* Test harnesses: run a worker's connections on the calling thread. */
void mxs_worker_adopt(struct mxs_worker *w);
/* Frees the connections closed during the last batch. */
void mxs_worker_bury(struct mxs_worker *w);

/* conn.c: owner-worker only, unless stated. */
struct mxs_conn *mxs_conn_new(struct mxs_worker *w, int fd, uint64_t seq);
void mxs_conn_get(struct mxs_conn *c);         /* any thread */
void mxs_conn_put(struct mxs_conn *c);         /* any thread */
void mxs_conn_readable(struct mxs_conn *c);
void mxs_conn_flush(struct mxs_conn *c);
/* Schedules c for mxs_worker_service_dirty. */
void mxs_conn_mark_dirty(struct mxs_conn *c);
/* After a batch: flush queued output, resume held-back input. */
void mxs_worker_service_dirty(struct mxs_worker *w);
void mxs_conn_close(struct mxs_conn *c);
int mxs_conn_queue(struct mxs_conn *c, uint32_t type, uint32_t req_id,
		   uint32_t tx_id, const void *payload, size_t len);
/*
 * A watch event message for path and token, not queued anywhere; NULL
 * when it would exceed the payload limit (XSA-324: never built, logged)
 * or without memory.  Any thread.
 */
struct mxs_out *mxs_out_event_new(const char *path, const char *token);
/*
 * Queues the event o on c, or frees it when c is closed or its unread
 * events exceed the hard limit (c is then closed after the batch).
 * Queue only, never flush: callable inside a watch callback.
 */
void mxs_conn_queue_out_event(struct mxs_conn *c, struct mxs_out *o);
/* mxs_out_event_new + mxs_conn_queue_out_event. */
int mxs_conn_queue_event(struct mxs_conn *c, const char *path,
			 const char *token);

/* ops.c */
void mxs_dispatch(struct mxs_conn *c, const struct mxs_msg_hdr *hdr,
		  char *payload);
const char *mxs_op_name(uint32_t type);
/*
 * Commit order.  Every change of the live store runs as
 *   mxs_commit_begin(d); <store mutation or commit>;
 *   mxs_fire_changes(d, ch); mxs_commit_end(d);
 * begin takes d->commit_lock and first queues the events other workers
 * posted to the calling worker (they belong to earlier commits);
 * mxs_fire_changes queues the events of every change in ch to their
 * connections (directly on this worker, through the owner's event queue
 * on others) and clears ch.
 */
void mxs_commit_begin(struct mxs_daemon *d);
void mxs_commit_end(struct mxs_daemon *d);
void mxs_fire_changes(struct mxs_daemon *d, struct mxs_changes *ch);
void mxs_conn_drop_state(struct mxs_conn *c);

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
