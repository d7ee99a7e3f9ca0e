/* SPDX-License-Identifier: MIT */
/*
 * The load generator's pieces, shared by build/mxs-perf and build/xsboot.
 *
 * A connection (struct mxs_perf_conn) is a byte stream to a daemon through
 * a transport: today the Unix socket; a guest ring (tests/xensim/xensim.h,
 * one xensim_evq per generator thread serving thousands of guests) plugs in
 * as a second struct mxs_perf_transport.  Everything above the transport
 * (framing, request/reply matching, scenarios, statistics) sees only the
 * byte stream and the poller, so a scenario runs unchanged over rings.
 *
 * Threading: a connection and a poller belong to one thread at a time.
 * struct mxs_perf_lat is per thread; merge after the threads joined.
 * Functions return 0 or -errno unless they say otherwise.
 */
#ifndef MXS_PERF_PERF_H
#define MXS_PERF_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mxs/protocol.h"

#define MXS_PERF_IN_CAP (64u * 1024u)
#define MXS_PERF_OUT_CAP (64u * 1024u)

struct mxs_perf_transport;
struct mxs_perf_poller;

struct mxs_perf_conn {
	const struct mxs_perf_transport *t;
	void *priv;      /* the transport's (a ring guest) */
	int fd;          /* the socket transport's file descriptor */
	uint32_t id;     /* index among the run's connections */
	uint32_t next_req;
	/* Received bytes not yet consumed: in[in_off, in_len). */
	size_t in_off, in_len;
	/* Requests queued by mxs_perf_queue, sent by mxs_perf_flush. */
	size_t out_len;
	char in[MXS_PERF_IN_CAP];
	char out[MXS_PERF_OUT_CAP];
};

struct mxs_perf_transport {
	const char *name;
	/* Opens c to target (a socket path).  c is zeroed apart from t, id. */
	int (*open)(struct mxs_perf_conn *c, const char *target);
	/* Sends all n bytes; may block. */
	int (*send)(struct mxs_perf_conn *c, const void *p, size_t n);
	/* Receives at most n bytes: > 0 bytes, 0 nothing available (only
	 * when !wait), -EPIPE on EOF, -errno. */
	ssize_t (*recv)(struct mxs_perf_conn *c, void *p, size_t n, bool wait);
	void (*close)(struct mxs_perf_conn *c);
	/* A poller: which of the connections added to it may have bytes. */
	struct mxs_perf_poller *(*poller_new)(void);
	int (*poller_add)(struct mxs_perf_poller *p, struct mxs_perf_conn *c);
	/* Fills ready[] (at most max); returns the count, 0 on timeout. */
	int (*poller_wait)(struct mxs_perf_poller *p,
			   struct mxs_perf_conn **ready, int max,
			   int timeout_ms);
	void (*poller_free)(struct mxs_perf_poller *p);
};

extern const struct mxs_perf_transport mxs_perf_socket;

/* Opens connection id of a run; NULL and errno on failure. */
struct mxs_perf_conn *mxs_perf_conn_open(const struct mxs_perf_transport *t,
					 const char *target, uint32_t id);
void mxs_perf_conn_close(struct mxs_perf_conn *c);

/*
 * Framing.  mxs_perf_queue appends one request (payload a[0..alen) then
 * b[0..blen), b may be NULL) to c->out and returns its req_id, or -ENOBUFS
 * when c->out cannot hold it; mxs_perf_flush sends c->out.
 * mxs_perf_fill receives what the transport has (waiting if asked);
 * mxs_perf_next takes one complete message from c->in: 1 with *h and
 * *body (NUL-terminated in place, valid until the next fill), 0 when no
 * complete message is buffered, -EPROTO on an oversized one.
 */
int64_t mxs_perf_queue(struct mxs_perf_conn *c, uint32_t type, uint32_t tx,
		       const void *a, size_t alen, const void *b, size_t blen);
int mxs_perf_flush(struct mxs_perf_conn *c);
int mxs_perf_fill(struct mxs_perf_conn *c, bool wait);
int mxs_perf_next(struct mxs_perf_conn *c, struct mxs_msg_hdr *h, char **body);

/*
 * One blocking request: sends it, waits for its reply, skipping watch
 * events (counted in *events if events is not NULL).  Returns 0 with the
 * reply in *h / *body, -errno of an error reply (-EAGAIN, -ENOENT...), or
 * -EPIPE / -EPROTO / -errno of the transport when the connection broke.
 */
int mxs_perf_call(struct mxs_perf_conn *c, uint32_t type, uint32_t tx,
		  const char *path, const void *val, size_t vlen,
		  struct mxs_msg_hdr *h, char **body, uint64_t *events);

/* The errno an error reply names ("EAGAIN" -> EAGAIN), EIO if unknown. */
int mxs_perf_errno(const char *name);

/* Per-request latencies in nanoseconds (capped at 2^32-1). */
struct mxs_perf_lat {
	uint32_t *v;
	size_t n, cap;
};

/* Monotonic time in nanoseconds. */
uint64_t mxs_perf_now_ns(void);
/* Records one sample; samples beyond MXS_PERF_LAT_MAX are dropped. */
void mxs_perf_lat_add(struct mxs_perf_lat *l, uint64_t ns);
/* Moves src's samples to the end of dst. */
int mxs_perf_lat_merge(struct mxs_perf_lat *dst, struct mxs_perf_lat *src);
/* Sorts l; then q-quantile in microseconds (q in [0, 1]). */
void mxs_perf_lat_sort(struct mxs_perf_lat *l);
double mxs_perf_lat_us(const struct mxs_perf_lat *l, double q);
void mxs_perf_lat_free(struct mxs_perf_lat *l);
#define MXS_PERF_LAT_MAX (16u * 1024u * 1024u)

/* CPU seconds of pid, all its threads (its CPU clock, in ns; else
 * /proc/<pid>/stat in ticks); -1 if unreadable or pid <= 0. */
double mxs_perf_cpu_s(pid_t pid);

/*
 * The toolstack boot storm over connections of one transport (perf/boot.c,
 * the xsboot scenario): `clients` threads build `domains` domains' trees
 * the way libxl does (one transaction each, retried on EAGAIN), read each
 * back, then tear every domain down (one transaction each).
 */
struct mxs_perf_boot {
	/* in */
	const struct mxs_perf_transport *t;
	const char *target;
	int domains, clients;
	pid_t pid; /* daemon, for CPU seconds; 0: none */
	/* out */
	double build_s, check_s, teardown_s, cpu_s;
	uint64_t requests, eagain, errors;
	struct mxs_perf_lat lat; /* every request of the three phases */
};

/* Runs the three phases; 0 (look at errors), or -errno. */
int mxs_perf_boot_run(struct mxs_perf_boot *b);

/* Builds domain domid's tree in one transaction on c (retried on EAGAIN,
 * counted in *eagain), timing each request into *lat.  0 or -errno. */
int mxs_perf_boot_domain(struct mxs_perf_conn *c, int domid,
			 struct mxs_perf_lat *lat, uint64_t *requests,
			 uint64_t *eagain);

/*
 * The guest-ring transport (perf/ring.c): a connection's target is a
 * simulated domain's id ("17"); the daemon must have been given the
 * domain (XS_INTRODUCE).  mxs_perf_ring_env_open maps the simulation in
 * simdir (NULL: $XENSIM_DIR) once per process, before the first open.
 */
struct xensim_sim;
extern const struct mxs_perf_transport mxs_perf_ring;
int mxs_perf_ring_env_open(const char *simdir);
/* The simulation mapped by mxs_perf_ring_env_open (shared by threads). */
struct xensim_sim *mxs_perf_ring_sim(void);
/* The ring poller's wait (poller_wait) up to a monotonic time in
 * nanoseconds instead of a timeout in milliseconds: the open loop wakes
 * for its next due request without sleeping past a reply. */
int mxs_perf_ring_wait_until(struct mxs_perf_poller *p,
			     struct mxs_perf_conn **ready, int max,
			     uint64_t until_ns);

/*
 * The ring scenarios of a host (perf/rings.c), one after the other on the
 * same N domains, each phase timed on its own:
 *   boot       `clients` toolstack threads create each domain in the
 *              simulator, build its tree (mxs_perf_boot_domain) and
 *              introduce it over the socket;
 *   handshake  each guest's vif frontend and a dom0 backend (one socket
 *              connection) run the xenbus state handshake through watches
 *              (frontend 1, backend 2, frontend 3, backend 4, frontend 4);
 *   traffic    every guest makes `requests` READ/WRITE requests on its
 *              own nodes, `depth` in flight on its ring (closed loop);
 *   open       (one step per rate in rates[]) the same requests in open
 *              loop: request j of the step (j = k * domains + guest) is
 *              due at start + j / rate, whatever the replies do, so the
 *              offered rate is fixed; a request waits in the generator
 *              while its guest has `depth` in flight.  Latency counts from
 *              the time it was due (no coordinated omission); `lag` is
 *              how late the generator thread came round to release it
 *              (the generator's own bottleneck, not the daemon's);
 *   fanout     `watchers` guests watch /perf/fan, dom0 writes `writes`
 *              children one after the other; done at the last event;
 *   death      every domain is destroyed at once; done at the last
 *              @releaseDomain seen by a dom0 watcher once the daemon has
 *              unmapped every ring.
 * With rounds > 1, handshake, traffic and fan-out run that many times
 * back to back, untimed resets between handshake rounds (the frontend
 * drops its watch, dom0 writes both state nodes back to 1), so every
 * round is the phase at N; boot and death run once.
 * The guests are served by `threads` generator threads, each with one
 * poller (one event queue) for its share of the guests.
 */
struct mxs_perf_phase {
	double seconds, cpu_s;
	double gen_cpu_s; /* this process's (the generator's) CPU seconds */
	uint64_t ops, errors;
	struct mxs_perf_lat lat; /* per request (death: per domain) */
};

enum { MXS_RING_BOOT, MXS_RING_HANDSHAKE, MXS_RING_TRAFFIC, MXS_RING_FANOUT,
       MXS_RING_DEATH, MXS_RING_PHASES };

#define MXS_RING_RATES_MAX 8

/* One open-loop step. */
struct mxs_perf_open {
	double rate;        /* in: offered requests/s, all guests together */
	uint32_t per_guest; /* in: requests per guest */
	struct mxs_perf_phase ph;
	struct mxs_perf_lat lag; /* release time - due time, per request */
	/* Not answered when the step ended (at twice its schedule plus 5
	 * s: the daemon did not keep up).  Not an error. */
	uint64_t unanswered;
};

struct mxs_perf_rings {
	/* in */
	const char *socket;
	int domains, clients, threads, depth, requests, watchers, writes;
	unsigned phases; /* bit mask of 1u << MXS_RING_*; boot always runs */
	/* Handshake, traffic and fan-out each run `rounds` times back to
	 * back (at least 1), so that a small N lasts long enough to time;
	 * their seconds, ops, CPU and latencies are over every round. */
	int rounds;
	pid_t pid;
	/* Open-loop steps, after traffic; nrates 0: none. */
	int nrates;
	struct mxs_perf_open open[MXS_RING_RATES_MAX];
	/* Called after each phase (progress), may be NULL; open_done after
	 * each open-loop step. */
	void (*phase_done)(const struct mxs_perf_rings *r, int phase);
	void (*open_done)(const struct mxs_perf_rings *r, int step);
	/* out */
	struct mxs_perf_phase ph[MXS_RING_PHASES];
	uint64_t eagain;
	uint64_t handshakes;   /* domains whose both ends reached state 4
				* (the fewest of any round) */
	uint64_t release_events;
	uint64_t released;     /* domains the daemon reports not introduced */
};

extern const char *const mxs_perf_ring_phase_name[MXS_RING_PHASES];

/* Runs the phases asked for; 0 (look at each phase's errors), or -errno. */
int mxs_perf_rings_run(struct mxs_perf_rings *r);

#endif
