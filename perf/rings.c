/* SPDX-License-Identifier: MIT */
/*
 * The ring scenarios of a host (mxs-perf ring; perf/perf.h describes the
 * phases): a toolstack over the socket, one guest per domain over its
 * ring (perf/ring.c), a dom0 backend and a dom0 watcher over the socket.
 *
 * Threading: the main thread runs the phases one after the other.  In a
 * phase, generator thread i owns guests i, i+T, i+2T... and its poller;
 * the handshake's backend has a thread of its own.  Threads are created
 * and joined per phase, so a phase's state is handed over by the join.
 * Counters are per thread, summed after the join; the fan-out's send
 * times are the one thing shared while threads run (PERF_RINGS_R1/A1).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "perf/perf.h"
#include "tests/xensim/xensim.h"

/* A phase gives up after this long (the run stays bounded). */
#define PHASE_NS (300ull * 1000000000ull)
#define FL_MAX 64u /* requests in flight per guest, at most */
#define NODES 4u   /* traffic nodes per guest */
#define BACKEND_WINDOW 128u
#define OPEN_DRAIN_NS (5ull * 1000000000ull)

const char *const mxs_perf_ring_phase_name[MXS_RING_PHASES] = {
	"boot", "handshake", "traffic", "fanout", "death",
};

enum tag {
	T_NONE,
	T_READ_BACKEND, /* handshake: the backend's state */
	T_WRITE_4,      /* handshake: the frontend's last write */
	T_FAN_WATCH,
};

struct fl_req {
	uint32_t type, req_id, tag, node, version;
	uint32_t epoch; /* run->epoch of the phase that sent it */
	uint64_t t0;
};

struct guest {
	struct mxs_perf_conn *c;
	int domid;
	struct fl_req fl[FL_MAX];
	uint32_t head, n; /* in flight: fl[head .. head+n) mod FL_MAX */
	bool done;
	int fstate;     /* handshake: the frontend state it wrote */
	bool fan_reply, fan_initial;
	uint32_t sent, replied; /* traffic and open loop */
	uint32_t due;           /* open loop: due, not yet sent */
	uint32_t events;        /* fan-out events after the set-up */
	uint32_t version[NODES];
	unsigned rnd;
};

/* G_HS_UNWATCH: between handshake rounds, each frontend drops its
 * watch on the backend's state (untimed). */
enum gphase { G_HANDSHAKE, G_HS_UNWATCH, G_TRAFFIC, G_OPEN, G_FAN_SETUP,
	      G_FAN };

struct run {
	struct mxs_perf_rings *r;
	struct guest *g;
	enum gphase phase;
	uint32_t epoch; /* one per gen_phase: tells a late reply apart */
	uint64_t deadline;
	uint32_t per_guest; /* traffic and open loop: requests per guest */
	/* Open loop: the step's start and offered rate (set before the
	 * threads are created, read-only while they run). */
	uint64_t start_ns;
	double rate;
	/* Fan-out: when write w was sent (0: not yet).  PERF_RINGS_R1: the
	 * writer stores it with release before sending; PERF_RINGS_A1: the
	 * guests' threads load it with acquire on the event. */
	uint64_t *fan_sent;
};

struct gen {
	pthread_t thr;
	struct run *run;
	int idx;
	struct mxs_perf_poller *p;
	int left; /* guests of this thread not done */
	uint64_t ops, errors;
	uint64_t unanswered; /* open loop: requests without a reply */
	struct mxs_perf_lat lat;
	struct mxs_perf_lat lag; /* open loop: release time - due time */
};

/* False once the daemon (pid > 0) exited: a ring has no end-of-file. */
static bool daemon_alive(pid_t pid)
{
	char path[64], buf[512], *q;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	q = strrchr(buf, ')');
	return q && q[1] == ' ' && q[2] != 'Z' && q[2] != 'X';
}

static void gen_error(struct gen *t, const struct guest *g, const char *what)
{
	if (t->errors++ < 5)
		fprintf(stderr, "mxs-perf ring: domain %d: %s\n", g->domid, what);
}

/* Queues one request of g, its latency counted from t0 (0: now); false
 * (an error counted) if it cannot. */
static bool g_send_at(struct gen *t, struct guest *g, uint32_t type,
		      uint32_t tag, const char *path, const char *val,
		      size_t vlen, uint64_t t0)
{
	struct fl_req *f;
	int64_t id;

	if (g->n == FL_MAX) {
		gen_error(t, g, "too many requests in flight");
		return false;
	}
	id = mxs_perf_queue(g->c, type, 0, path, strlen(path) + 1, val, vlen);
	if (id < 0) {
		gen_error(t, g, "output buffer full");
		return false;
	}
	f = &g->fl[(g->head + g->n++) % FL_MAX];
	*f = (struct fl_req){ .type = type, .req_id = (uint32_t)id, .tag = tag,
			      .epoch = t->run->epoch,
			      .t0 = t0 ? t0 : mxs_perf_now_ns() };
	return true;
}

static bool g_send(struct gen *t, struct guest *g, uint32_t type, uint32_t tag,
		   const char *path, const char *val, size_t vlen)
{
	return g_send_at(t, g, type, tag, path, val, vlen, 0);
}

static void g_done(struct gen *t, struct guest *g)
{
	if (!g->done) {
		g->done = true;
		t->left--;
	}
}

/* ---- the phases' guest halves -------------------------------------- */

static void backend_state_path(char *p, size_t n, int d)
{
	snprintf(p, n, "/local/domain/0/backend/vif/%d/0/state", d);
}

static void frontend_state_path(char *p, size_t n, int d)
{
	snprintf(p, n, "/local/domain/%d/device/vif/0/state", d);
}

/* When request k of guest index i is due in an open-loop step. */
static uint64_t open_due(const struct run *run, uint32_t k, int i)
{
	double j = (double)k * run->r->domains + i;

	return run->start_ns + (uint64_t)(j * 1e9 / run->rate);
}

/* Starts the next traffic request of g, if any is left; in open loop its
 * latency counts from when it was due. */
static void traffic_next(struct gen *t, struct guest *g)
{
	uint32_t node, type;
	uint64_t due = 0;
	char path[64], val[16];
	int vlen = 0;

	if (g->sent >= t->run->per_guest)
		return;
	if (t->run->phase == G_OPEN)
		due = open_due(t->run, g->sent, g->domid - 1);
	node = (uint32_t)rand_r(&g->rnd) % NODES;
	/* 70 % reads, 30 % writes; a node's first request writes it. */
	type = g->version[node] && rand_r(&g->rnd) % 10 < 7 ? MXS_OP_READ
							      : MXS_OP_WRITE;
	snprintf(path, sizeof(path), "/local/domain/%d/data/n%u", g->domid,
		 node);
	if (type == MXS_OP_WRITE)
		vlen = snprintf(val, sizeof(val), "%u", ++g->version[node]);
	if (!g_send_at(t, g, type, T_NONE, path, val, (size_t)vlen, due))
		return;
	g->sent++;
	/* Replies come in order: a READ sees every earlier WRITE. */
	g->fl[(g->head + g->n - 1) % FL_MAX].node = node;
	g->fl[(g->head + g->n - 1) % FL_MAX].version = g->version[node];
}

/* Open loop: sends what of g is due while it has fewer than depth
 * requests in flight. */
static void open_send(struct gen *t, struct guest *g)
{
	/* At most depth on the ring: more could fill it (1 KiB), and a full
	 * ring would block the thread's other guests. */
	while (g->due && g->n < (uint32_t)t->run->r->depth &&
	       g->sent < t->run->per_guest) {
		uint32_t sent = g->sent;

		traffic_next(t, g);
		if (g->sent == sent)
			break; /* an error, counted */
		g->due--;
	}
}

static void g_start(struct gen *t, struct guest *g)
{
	const struct mxs_perf_rings *r = t->run->r;
	char path[96];

	switch (t->run->phase) {
	case G_HANDSHAKE:
		/* The frontend driver: watch the backend, announce itself. */
		backend_state_path(path, sizeof(path), g->domid);
		g_send(t, g, MXS_OP_WATCH, T_NONE, path, "b", 2);
		frontend_state_path(path, sizeof(path), g->domid);
		g_send(t, g, MXS_OP_WRITE, T_NONE, path, "1", 1);
		g->fstate = 1;
		break;
	case G_HS_UNWATCH:
		backend_state_path(path, sizeof(path), g->domid);
		g_send(t, g, MXS_OP_UNWATCH, T_NONE, path, "b", 2);
		break;
	case G_TRAFFIC:
		for (int i = 0; i < r->depth; i++)
			traffic_next(t, g);
		if (!g->sent)
			g_done(t, g);
		break;
	case G_OPEN:
		/* gen_release releases the requests when they are due. */
		if (!t->run->per_guest)
			g_done(t, g);
		break;
	case G_FAN_SETUP:
		g_send(t, g, MXS_OP_WATCH, T_FAN_WATCH, "/perf/fan", "fan", 4);
		break;
	case G_FAN:
		break;
	}
}

static void g_event(struct gen *t, struct guest *g, const char *body,
		    uint32_t len)
{
	const char *token = memchr(body, '\0', len);
	uint64_t now = mxs_perf_now_ns(), sent;
	char path[96];
	int w;

	if (!token)
		goto bad;
	token++;
	switch (t->run->phase) {
	case G_HANDSHAKE:
		if (strcmp(token, "b"))
			return;
		backend_state_path(path, sizeof(path), g->domid);
		g_send(t, g, MXS_OP_READ, T_READ_BACKEND, path, NULL, 0);
		return;
	case G_FAN_SETUP:
		if (!strcmp(token, "fan") && !strcmp(body, "/perf/fan"))
			g->fan_initial = true;
		if (g->fan_initial && g->fan_reply)
			g_done(t, g);
		return;
	case G_FAN:
		if (strcmp(token, "fan"))
			return;
		if (strncmp(body, "/perf/fan/", 10))
			goto bad;
		w = atoi(body + 10);
		if (w < 0 || w >= t->run->r->writes)
			goto bad;
		/* PERF_RINGS_A1: pairs with the writer's PERF_RINGS_R1. */
		sent = __atomic_load_n(&t->run->fan_sent[w], __ATOMIC_ACQUIRE);
		if (!sent)
			goto bad;
		mxs_perf_lat_add(&t->lat, now - sent);
		t->ops++;
		if (++g->events == (uint32_t)t->run->r->writes)
			g_done(t, g);
		else if (g->events > (uint32_t)t->run->r->writes)
			gen_error(t, g, "more fan-out events than writes");
		return;
	case G_HS_UNWATCH:
	case G_TRAFFIC:
	case G_OPEN:
		return; /* the handshake's watch may still fire */
	}
bad:
	gen_error(t, g, "unexpected watch event");
}

static void g_reply(struct gen *t, struct guest *g, const struct fl_req *f,
		    const struct mxs_msg_hdr *h, const char *body)
{
	char path[96];
	int v;

	if (h->type != f->type) {
		gen_error(t, g, h->type == MXS_OP_ERROR ? body : "reply type");
		return;
	}
	switch (t->run->phase) {
	case G_HANDSHAKE:
		if (f->tag == T_WRITE_4) {
			g_done(t, g);
			return;
		}
		if (f->tag != T_READ_BACKEND)
			return;
		v = atoi(body);
		/* The backend connects only after reading this round's 3:
		 * a 4 before it is a state left over (no reset). */
		if (v == 4 && g->fstate < 3) {
			gen_error(t, g, "backend connected before the frontend "
					"initialised");
			return;
		}
		frontend_state_path(path, sizeof(path), g->domid);
		/* Backend InitWait: Initialised; backend Connected: Connected. */
		if (v >= 2 && g->fstate < 3) {
			g_send(t, g, MXS_OP_WRITE, T_NONE, path, "3", 1);
			g->fstate = 3;
		}
		if (v == 4 && g->fstate == 3) {
			g_send(t, g, MXS_OP_WRITE, T_WRITE_4, path, "4", 1);
			g->fstate = 4;
		}
		return;
	case G_HS_UNWATCH:
		g_done(t, g);
		return;
	case G_TRAFFIC:
	case G_OPEN:
		if (f->type == MXS_OP_READ &&
		    strtoul(body, NULL, 10) != f->version)
			gen_error(t, g, "READ returned a stale or wrong value");
		if (++g->replied == t->run->per_guest)
			g_done(t, g);
		else if (t->run->phase == G_TRAFFIC)
			traffic_next(t, g);
		else
			open_send(t, g);
		return;
	case G_FAN_SETUP:
		g->fan_reply = true;
		if (g->fan_initial && g->fan_reply)
			g_done(t, g);
		return;
	case G_FAN:
		return;
	}
}

/* Takes what g's ring has; 0 or -errno of the connection. */
static int g_input(struct gen *t, struct guest *g)
{
	struct mxs_msg_hdr h;
	char *body;
	int rc;

	if ((rc = mxs_perf_fill(g->c, false)))
		return rc;
	while ((rc = mxs_perf_next(g->c, &h, &body)) == 1) {
		struct fl_req f;

		if (h.type == MXS_OP_WATCH_EVENT) {
			g_event(t, g, body, h.len);
			continue;
		}
		if (!g->n || g->fl[g->head].req_id != h.req_id) {
			gen_error(t, g, "reply to no request in flight");
			continue;
		}
		f = g->fl[g->head];
		g->head = (g->head + 1) % FL_MAX;
		g->n--;
		/* A late reply of an earlier phase (a handshake READ after
		 * the last write) is not this phase's. */
		if (f.epoch != t->run->epoch) {
			if (h.type != f.type)
				gen_error(t, g, "reply type (earlier phase)");
			continue;
		}
		/* Set-ups (the fan-out's watches, the unwatch between
		 * handshake rounds) are not timed. */
		if (t->run->phase != G_FAN_SETUP &&
		    t->run->phase != G_HS_UNWATCH) {
			mxs_perf_lat_add(&t->lat, mxs_perf_now_ns() - f.t0);
			t->ops++;
		}
		g_reply(t, g, &f, &h, body);
	}
	if (rc < 0)
		return rc;
	return mxs_perf_flush(g->c);
}

/*
 * Open loop: this thread's schedule.  Its guests are i = idx + p * T; in
 * round k they are due in the order of p, so the thread's due times only
 * grow and one cursor (k, p) walks them.
 */
struct sched {
	uint32_t k;
	int p, np; /* np: this thread's guests */
};

/* Releases every request due by now; returns when the next one is due
 * (UINT64_MAX: none left). */
static uint64_t gen_release(struct gen *t, struct sched *s, uint64_t now)
{
	struct run *run = t->run;
	int rc;

	while (s->k < run->per_guest) {
		int i = t->idx + s->p * run->r->threads;
		uint64_t due = open_due(run, s->k, i);
		struct guest *g = &run->g[i];

		if (due > now)
			return due;
		/* How late this thread came round to it. */
		mxs_perf_lat_add(&t->lag, now - due);
		g->due++;
		open_send(t, g);
		if ((rc = mxs_perf_flush(g->c)))
			gen_error(t, g, strerror(-rc));
		if (++s->p == s->np) {
			s->p = 0;
			s->k++;
		}
	}
	return UINT64_MAX;
}

/* Waits for ready guests until `until` at the latest, 100 ms at most. */
static int gen_wait(struct gen *t, struct mxs_perf_conn **ready, int max,
		    uint64_t until)
{
	uint64_t cap = mxs_perf_now_ns() + 100000000ull;

	return mxs_perf_ring_wait_until(t->p, ready, max,
					until < cap ? until : cap);
}

static void *gen_main(void *arg)
{
	struct gen *t = arg;
	struct run *run = t->run;
	int nthr = run->r->threads, n, i, rc;
	struct mxs_perf_conn *ready[256];
	struct sched sched = { 0 };
	uint64_t next = UINT64_MAX, now, alive_at = 0;

	t->left = 0;
	for (i = t->idx; i < run->r->domains; i += nthr) {
		struct guest *g = &run->g[i];

		if (run->phase == G_FAN && !g->fan_reply)
			continue; /* not a watcher */
		if (run->phase == G_FAN_SETUP && i >= run->r->watchers)
			continue;
		if (run->phase == G_TRAFFIC || run->phase == G_OPEN)
			g->sent = g->replied = g->due = 0;
		sched.np++;
		g->done = false;
		t->left++;
		g_start(t, g);
		if ((rc = mxs_perf_flush(g->c)))
			gen_error(t, g, strerror(-rc));
	}
	while (t->left > 0) {
		if (run->phase == G_OPEN) {
			next = gen_release(t, &sched, mxs_perf_now_ns());
			n = gen_wait(t, ready, 256, next);
		} else {
			n = mxs_perf_ring.poller_wait(t->p, ready, 256, 100);
		}
		now = mxs_perf_now_ns();
		/* A ring has no end-of-file: look at the daemon when idle,
		 * at most every 100 ms. */
		if (n == 0 && now - alive_at > 100000000ull) {
			alive_at = now;
			if (!daemon_alive(run->r->pid))
				n = -EPIPE;
		}
		if (n >= 0 && now > run->deadline && run->phase == G_OPEN) {
			for (i = t->idx; i < run->r->domains; i += nthr)
				t->unanswered += run->per_guest -
						 run->g[i].replied;
			break;
		}
		if (n < 0 || now > run->deadline) {
			t->errors += (uint64_t)t->left;
			fprintf(stderr, "mxs-perf ring: %d guests stuck\n",
				t->left);
			break;
		}
		for (i = 0; i < n; i++) {
			struct guest *g = &run->g[ready[i]->id];

			if ((rc = g_input(t, g))) {
				gen_error(t, g, strerror(-rc));
				g_done(t, g);
			}
		}
	}
	return NULL;
}

/* Runs guest phase ph on every generator thread; sums into *out (and
 * the open loop's release lags into *lag and unanswered requests into
 * *unanswered, if not NULL). */
static int gen_phase(struct run *run, struct gen *gens, enum gphase ph,
		     struct mxs_perf_phase *out, struct mxs_perf_lat *lag,
		     uint64_t *unanswered)
{
	int i, rc = 0;

	run->phase = ph;
	run->epoch++;
	run->start_ns = mxs_perf_now_ns();
	run->deadline = run->start_ns + PHASE_NS;
	if (ph == G_OPEN) {
		/* Overload is a result, not an error: a step ends at twice
		 * its schedule (plus OPEN_DRAIN_NS), its requests not
		 * answered by then counted. */
		double sched = (double)run->per_guest * run->r->domains /
			       run->rate * 1e9;

		if (sched * 2 + OPEN_DRAIN_NS < PHASE_NS)
			run->deadline = run->start_ns + (uint64_t)(sched * 2) +
					OPEN_DRAIN_NS;
	}
	for (i = 0; i < run->r->threads; i++)
		if (pthread_create(&gens[i].thr, NULL, gen_main, &gens[i]))
			abort();
	for (i = 0; i < run->r->threads; i++)
		pthread_join(gens[i].thr, NULL);
	for (i = 0; i < run->r->threads; i++) {
		if (out) {
			out->ops += gens[i].ops;
			out->errors += gens[i].errors;
			if (!rc)
				rc = mxs_perf_lat_merge(&out->lat, &gens[i].lat);
		}
		mxs_perf_lat_free(&gens[i].lat);
		gens[i].ops = gens[i].errors = 0;
		if (lag && !rc)
			rc = mxs_perf_lat_merge(lag, &gens[i].lag);
		mxs_perf_lat_free(&gens[i].lag);
		if (unanswered)
			*unanswered += gens[i].unanswered;
		gens[i].unanswered = 0;
	}
	return rc;
}

/* ---- boot: toolstack threads build and introduce ------------------- */

struct tool {
	pthread_t thr;
	struct mxs_perf_rings *r;
	int *next;
	struct mxs_perf_lat lat;
	uint64_t ops, errors, eagain;
};

static void *tool_main(void *arg)
{
	struct tool *k = arg;
	struct xensim_sim *sim = mxs_perf_ring_sim();
	struct mxs_perf_conn *c = mxs_perf_conn_open(&mxs_perf_socket,
						     k->r->socket, 0);
	struct mxs_msg_hdr h;
	char *body;
	int d, rc;

	if (!c) {
		k->errors++;
		fprintf(stderr, "mxs-perf ring: connect %s: %s\n", k->r->socket,
			strerror(errno));
		return NULL;
	}
	while ((d = __atomic_fetch_add(k->next, 1, __ATOMIC_RELAXED)) <
	       k->r->domains) {
		struct xensim_dominfo di;
		char dom[16], rest[48];
		uint64_t t0;
		int n;

		d += 1; /* domids from 1 */
		rc = xensim_domain_create(sim, (uint32_t)d, NULL);
		if (!rc)
			rc = mxs_perf_boot_domain(c, d, &k->lat, &k->ops,
						  &k->eagain);
		if (!rc)
			rc = xensim_domain_info(sim, (uint32_t)d, &di);
		if (!rc) {
			snprintf(dom, sizeof(dom), "%d", d);
			n = snprintf(rest, sizeof(rest), "%llu", (unsigned long long)
				     xensim_domain_mfn((uint32_t)d)) + 1;
			n += snprintf(rest + n, sizeof(rest) - (size_t)n, "%u",
				      di.xs_port) + 1;
			t0 = mxs_perf_now_ns();
			rc = mxs_perf_call(c, MXS_OP_INTRODUCE, 0, dom, rest,
					   (size_t)n, &h, &body, NULL);
			mxs_perf_lat_add(&k->lat, mxs_perf_now_ns() - t0);
			k->ops++;
		}
		if (rc) {
			if (k->errors++ < 5)
				fprintf(stderr, "mxs-perf ring: domain %d: %s\n",
					d, strerror(-rc));
			break;
		}
	}
	mxs_perf_conn_close(c);
	return NULL;
}

static void phase_boot(struct mxs_perf_rings *r, struct mxs_perf_phase *out)
{
	struct tool *k = calloc((size_t)r->clients, sizeof(*k));
	int next = 0, i;

	if (!k) {
		out->errors++;
		return;
	}
	for (i = 0; i < r->clients; i++) {
		k[i].r = r;
		k[i].next = &next;
		if (pthread_create(&k[i].thr, NULL, tool_main, &k[i]))
			abort();
	}
	for (i = 0; i < r->clients; i++) {
		pthread_join(k[i].thr, NULL);
		out->ops += k[i].ops;
		out->errors += k[i].errors;
		r->eagain += k[i].eagain;
		if (mxs_perf_lat_merge(&out->lat, &k[i].lat))
			out->errors++;
	}
	free(k);
}

/* ---- handshake: the dom0 backend ----------------------------------- */

enum bwork { B_START, B_READ, B_CONNECT };

struct backend {
	pthread_t thr;
	struct mxs_perf_rings *r;
	uint8_t *state; /* per domain: what the backend wrote (0: nothing) */
	bool *done;
	uint64_t ndone, ops, errors;
	struct mxs_perf_lat lat;
};

struct bfl {
	uint32_t req_id, type;
	int d;
	uint64_t t0;
};

static void backend_error(struct backend *b, int d, const char *what)
{
	if (b->errors++ < 5)
		fprintf(stderr, "mxs-perf ring: backend of domain %d: %s\n", d,
			what);
}

static void *backend_main(void *arg)
{
	struct backend *b = arg;
	int nd = b->r->domains;
	size_t wcap = (size_t)nd * 4 + 16, wh = 0, wn = 0;
	/* Pending work: (kind << 16 | domain index), a FIFO. */
	uint32_t *work = calloc(wcap, sizeof(*work));
	struct bfl fl[BACKEND_WINDOW];
	uint32_t fh = 0, fn = 0;
	struct mxs_perf_conn *c = mxs_perf_conn_open(&mxs_perf_socket,
						     b->r->socket, 0);
	struct mxs_perf_poller *p = mxs_perf_socket.poller_new();
	struct mxs_perf_conn *ready[1];
	struct mxs_msg_hdr h;
	char *body, path[96], tok[16];
	/* Its own: the main thread writes run->deadline meanwhile. */
	uint64_t deadline = mxs_perf_now_ns() + PHASE_NS;
	int i, rc;

	if (!work || !c || !p || mxs_perf_socket.poller_add(p, c)) {
		backend_error(b, 0, "set-up failed");
		goto out;
	}
	for (i = 0; i < nd; i++)
		work[wn++] = (uint32_t)(B_START << 16) | (uint32_t)i;
	while (b->ndone < (uint64_t)nd) {
		while (wn && fn + 2 <= BACKEND_WINDOW) {
			uint32_t w = work[wh];
			int d = (int)(w & 0xffff) + 1, kind = (int)(w >> 16);
			int64_t id1 = 0, id2 = -1;

			wh = (wh + 1) % wcap;
			wn--;
			switch (kind) {
			case B_START:
				/* InitWait, then watch the frontend. */
				backend_state_path(path, sizeof(path), d);
				id1 = mxs_perf_queue(c, MXS_OP_WRITE, 0, path,
						     strlen(path) + 1, "2", 1);
				b->state[d - 1] = 2;
				frontend_state_path(path, sizeof(path), d);
				snprintf(tok, sizeof(tok), "%d", d);
				id2 = mxs_perf_queue(c, MXS_OP_WATCH, 0, path,
						     strlen(path) + 1, tok,
						     strlen(tok) + 1);
				break;
			case B_READ:
				frontend_state_path(path, sizeof(path), d);
				id1 = mxs_perf_queue(c, MXS_OP_READ, 0, path,
						     strlen(path) + 1, NULL, 0);
				break;
			default:
				backend_state_path(path, sizeof(path), d);
				id1 = mxs_perf_queue(c, MXS_OP_WRITE, 0, path,
						     strlen(path) + 1, "4", 1);
				b->state[d - 1] = 4;
				break;
			}
			if (id1 < 0 || (kind == B_START && id2 < 0)) {
				backend_error(b, d, "output buffer full");
				goto out;
			}
			fl[(fh + fn++) % BACKEND_WINDOW] = (struct bfl){
				(uint32_t)id1,
				kind == B_READ ? MXS_OP_READ : MXS_OP_WRITE, d,
				mxs_perf_now_ns()
			};
			if (kind == B_START)
				fl[(fh + fn++) % BACKEND_WINDOW] = (struct bfl){
					(uint32_t)id2, MXS_OP_WATCH, d,
					mxs_perf_now_ns()
				};
		}
		if ((rc = mxs_perf_flush(c)))
			goto broken;
		rc = mxs_perf_socket.poller_wait(p, ready, 1, 100);
		if (rc < 0 || mxs_perf_now_ns() > deadline ||
		    (rc == 0 && !daemon_alive(b->r->pid))) {
			backend_error(b, 0, "handshakes stuck");
			b->errors += (uint64_t)nd - b->ndone;
			goto out;
		}
		if (!rc)
			continue;
		if ((rc = mxs_perf_fill(c, false)))
			goto broken;
		while ((rc = mxs_perf_next(c, &h, &body)) == 1) {
			struct bfl f;
			int d;

			if (h.type == MXS_OP_WATCH_EVENT) {
				const char *t = memchr(body, '\0', h.len);

				d = t ? atoi(t + 1) : 0;
				if (d < 1 || d > nd) {
					backend_error(b, d, "watch event");
					continue;
				}
				if (wn == wcap) {
					backend_error(b, d, "work queue full");
					continue;
				}
				work[(wh + wn++) % wcap] =
					(uint32_t)(B_READ << 16) | (uint32_t)(d - 1);
				continue;
			}
			if (!fn || fl[fh].req_id != h.req_id) {
				backend_error(b, 0, "reply to no request");
				continue;
			}
			f = fl[fh];
			fh = (fh + 1) % BACKEND_WINDOW;
			fn--;
			mxs_perf_lat_add(&b->lat, mxs_perf_now_ns() - f.t0);
			b->ops++;
			if (h.type != f.type) {
				backend_error(b, f.d, h.type == MXS_OP_ERROR
							      ? body
							      : "reply type");
				continue;
			}
			if (f.type != MXS_OP_READ)
				continue;
			if (atoi(body) == 3 && b->state[f.d - 1] < 4 &&
			    wn < wcap)
				work[(wh + wn++) % wcap] =
					(uint32_t)(B_CONNECT << 16) |
					(uint32_t)(f.d - 1);
			if (atoi(body) == 4 && b->state[f.d - 1] == 4 &&
			    !b->done[f.d - 1]) {
				b->done[f.d - 1] = true;
				b->ndone++;
			}
		}
		if (rc < 0)
			goto broken;
	}
	goto out;
broken:
	backend_error(b, 0, strerror(-rc));
	b->errors += (uint64_t)nd - b->ndone;
out:
	if (p)
		mxs_perf_socket.poller_free(p);
	mxs_perf_conn_close(c);
	free(work);
	return NULL;
}

/* ---- death: destroy everything, watch @releaseDomain --------------- */

/*
 * The dom0 watcher does what a toolstack does on @releaseDomain: it asks
 * the daemon which of the domains it still waits for are gone
 * (IS_DOMAIN_INTRODUCED, pipelined), one round per event at most every
 * DEATH_ROUND_NS.  The phase ends at the event after which the last
 * domain was found released.  Then every ring must be unmapped (the
 * domain vanishes from the simulator) within DEATH_UNMAP_NS.
 */
#define DEATH_ROUND_NS (20ull * 1000000ull)
#define DEATH_UNMAP_NS (30ull * 1000000000ull)

static void phase_death(struct mxs_perf_rings *r, struct mxs_perf_phase *out)
{
	struct xensim_sim *sim = mxs_perf_ring_sim();
	struct mxs_perf_conn *c = mxs_perf_conn_open(&mxs_perf_socket,
						     r->socket, 0);
	struct mxs_perf_poller *p = mxs_perf_socket.poller_new();
	int *left = calloc((size_t)r->domains, sizeof(*left));
	struct mxs_perf_conn *ready[1];
	uint64_t t0, now, t_event = 0, t_round_event = 0, t_done = 0;
	uint64_t round_end = 0, initial = 0;
	struct mxs_msg_hdr h;
	char *body, dom[16];
	/* left[0, nleft): not known released; a round asks left[0, rlen)
	 * in order, next one at rnext, replies seen rdone; released ones
	 * are compacted out when the round ends. */
	int nleft = r->domains, rlen = 0, rnext = 0, rdone = 0, keep = 0;
	bool round = false, pending_event = false;
	int i, rc;

	if (!c || !p || !left || mxs_perf_socket.poller_add(p, c) ||
	    mxs_perf_call(c, MXS_OP_WATCH, 0, "@releaseDomain", "rel", 4, &h,
			  &body, &initial)) {
		fprintf(stderr, "mxs-perf ring: death: set-up failed\n");
		out->errors++;
		goto out;
	}
	/* The event a new watch fires at once. */
	while (!initial) {
		while (!initial && (rc = mxs_perf_next(c, &h, &body)) == 1)
			initial += h.type == MXS_OP_WATCH_EVENT;
		if (!initial && (rc < 0 || mxs_perf_fill(c, true))) {
			out->errors++;
			goto out;
		}
	}
	for (i = 0; i < r->domains; i++)
		left[i] = i + 1;
	t0 = mxs_perf_now_ns();
	for (i = 0; i < r->domains; i++)
		if (xensim_domain_destroy(sim, (uint32_t)i + 1, false))
			out->errors++;
	while (nleft) {
		now = mxs_perf_now_ns();
		if (now > t0 + PHASE_NS || !daemon_alive(r->pid)) {
			fprintf(stderr, "mxs-perf ring: death: %d domains not "
				"released\n", nleft);
			out->errors += (uint64_t)nleft;
			break;
		}
		if (!round && pending_event && now >= round_end + DEATH_ROUND_NS) {
			round = true;
			pending_event = false;
			t_round_event = t_event;
			rlen = nleft;
			rnext = rdone = keep = 0;
		}
		while (round && rnext < rlen && rnext - rdone < (int)BACKEND_WINDOW) {
			snprintf(dom, sizeof(dom), "%d", left[rnext]);
			if (mxs_perf_queue(c, MXS_OP_IS_DOMAIN_INTRODUCED, 0, dom,
					   strlen(dom) + 1, NULL, 0) < 0)
				break;
			rnext++;
		}
		if (mxs_perf_flush(c) ||
		    (rc = mxs_perf_socket.poller_wait(p, ready, 1, 5)) < 0 ||
		    (rc && mxs_perf_fill(c, false))) {
			out->errors++;
			break;
		}
		now = mxs_perf_now_ns();
		while ((rc = mxs_perf_next(c, &h, &body)) == 1) {
			if (h.type == MXS_OP_WATCH_EVENT) {
				if (!strcmp(body, "@releaseDomain")) {
					r->release_events++;
					t_event = now;
					pending_event = true;
				}
				continue;
			}
			if (!round || rdone >= rnext) {
				out->errors++;
				continue;
			}
			if (h.type == MXS_OP_IS_DOMAIN_INTRODUCED &&
			    !strcmp(body, "F")) {
				mxs_perf_lat_add(&out->lat, t_round_event - t0);
			} else {
				if (h.type != MXS_OP_IS_DOMAIN_INTRODUCED)
					out->errors++;
				left[keep++] = left[rdone];
			}
			if (++rdone == rlen) {
				/* Those beyond the round stay; none here. */
				round = false;
				round_end = now;
				r->released += (uint64_t)(nleft - keep);
				nleft = keep;
				if (!nleft)
					t_done = t_round_event;
			}
		}
		if (rc < 0) {
			out->errors++;
			break;
		}
	}
	out->seconds = t_done ? (double)(t_done - t0) / 1e9 : 0;
	out->ops = (uint64_t)r->domains;
	/* Every ring unmapped: the domains vanish from the simulator. */
	now = mxs_perf_now_ns();
	for (i = 1; i <= r->domains; i++) {
		struct xensim_dominfo di;

		while (xensim_domain_info(sim, (uint32_t)i, &di) == 0) {
			if (mxs_perf_now_ns() > now + DEATH_UNMAP_NS) {
				fprintf(stderr, "mxs-perf ring: death: domain %d "
					"still mapped\n", i);
				out->errors++;
				break;
			}
			usleep(10000);
		}
	}
out:
	if (p)
		mxs_perf_socket.poller_free(p);
	mxs_perf_conn_close(c);
	free(left);
}

/* ---- the run ------------------------------------------------------- */

static bool want(const struct mxs_perf_rings *r, int ph)
{
	return r->phases & (1u << ph);
}

/* dom0 writes /perf/fan/<w> one after the other. */
static void fan_write(struct run *run, struct mxs_perf_phase *out)
{
	struct mxs_perf_conn *c = mxs_perf_conn_open(&mxs_perf_socket,
						     run->r->socket, 0);
	struct mxs_msg_hdr h;
	char *body, path[32];

	if (!c) {
		out->errors++;
		return;
	}
	for (int w = 0; w < run->r->writes; w++) {
		snprintf(path, sizeof(path), "/perf/fan/%d", w);
		/* PERF_RINGS_R1: pairs with the guests' PERF_RINGS_A1. */
		__atomic_store_n(&run->fan_sent[w], mxs_perf_now_ns(),
				 __ATOMIC_RELEASE);
		if (mxs_perf_call(c, MXS_OP_WRITE, 0, path, "x", 1, &h, &body,
				  NULL))
			out->errors++;
	}
	mxs_perf_conn_close(c);
}

struct fan_writer {
	pthread_t thr;
	struct run *run;
	struct mxs_perf_phase *out;
};

static void *fan_writer_main(void *arg)
{
	struct fan_writer *fw = arg;

	fan_write(fw->run, fw->out);
	return NULL;
}

/* Creates /perf/fan, readable by every domain (watch events need it). */
static int fan_prepare(const struct mxs_perf_rings *r)
{
	struct mxs_perf_conn *c = mxs_perf_conn_open(&mxs_perf_socket,
						     r->socket, 0);
	struct mxs_msg_hdr h;
	char *body;
	int rc;

	if (!c)
		return -errno;
	rc = mxs_perf_call(c, MXS_OP_WRITE, 0, "/perf/fan", "", 0, &h, &body,
			   NULL);
	if (!rc)
		rc = mxs_perf_call(c, MXS_OP_SET_PERMS, 0, "/perf/fan", "r0", 3,
				   &h, &body, NULL);
	mxs_perf_conn_close(c);
	return rc;
}

/* CPU seconds of this process, all threads. */
static double self_cpu_s(void)
{
	struct rusage u;

	if (getrusage(RUSAGE_SELF, &u))
		return -1;
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
	       (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/* Fills ph's times (since t0, the daemon's CPU since cpu0, ours since
 * self0) and sorts its latencies. */
static void phase_measure(const struct mxs_perf_rings *r,
			  struct mxs_perf_phase *ph, uint64_t t0, double cpu0,
			  double self0)
{
	ph->gen_cpu_s = self_cpu_s() - self0;
	if (!ph->seconds)
		ph->seconds = (double)(mxs_perf_now_ns() - t0) / 1e9;
	ph->cpu_s = cpu0 < 0 ? -1 : mxs_perf_cpu_s(r->pid) - cpu0;
	mxs_perf_lat_sort(&ph->lat);
}

static void phase_timed(struct mxs_perf_rings *r, struct mxs_perf_phase *ph,
			uint64_t t0, double cpu0, double self0)
{
	phase_measure(r, ph, t0, cpu0, self0);
	if (r->phase_done)
		r->phase_done(r, (int)(ph - r->ph));
}

/* One timed round of a phase that runs r->rounds times. */
struct round_clock {
	uint64_t t0;
	double cpu0, self0;
};

static void round_start(const struct mxs_perf_rings *r,
			struct round_clock *c)
{
	c->cpu0 = mxs_perf_cpu_s(r->pid);
	c->self0 = self_cpu_s();
	c->t0 = mxs_perf_now_ns();
}

/* Adds the round's wall time and both CPU times to ph. */
static void round_stop(const struct mxs_perf_rings *r,
		       struct mxs_perf_phase *ph, const struct round_clock *c)
{
	ph->seconds += (double)(mxs_perf_now_ns() - c->t0) / 1e9;
	ph->gen_cpu_s += self_cpu_s() - c->self0;
	if (c->cpu0 < 0 || ph->cpu_s < 0)
		ph->cpu_s = -1;
	else
		ph->cpu_s += mxs_perf_cpu_s(r->pid) - c->cpu0;
}

/* After a phase's last round: its latencies sorted, progress told. */
static void phase_report(struct mxs_perf_rings *r, struct mxs_perf_phase *ph)
{
	mxs_perf_lat_sort(&ph->lat);
	if (r->phase_done)
		r->phase_done(r, (int)(ph - r->ph));
}

/*
 * Between two handshake rounds (untimed): every frontend drops its watch
 * on its backend's state and dom0 writes both state nodes back to 1, as
 * the boot storm left them; the backend's watches went with its
 * connection.  The next round then does what the first did.  0 or
 * -errno; failed requests are counted in ph->errors.
 */
static int hs_reset(struct run *run, struct gen *gens,
		    struct mxs_perf_phase *ph)
{
	struct mxs_perf_phase unwatch = { 0 };
	struct mxs_perf_conn *c;
	struct mxs_msg_hdr h;
	char *body, path[96];
	int rc = gen_phase(run, gens, G_HS_UNWATCH, &unwatch, NULL, NULL);

	ph->errors += unwatch.errors;
	mxs_perf_lat_free(&unwatch.lat);
	if (rc)
		return rc;
	if (!(c = mxs_perf_conn_open(&mxs_perf_socket, run->r->socket, 0)))
		return -errno;
	for (int d = 1; d <= run->r->domains; d++) {
		backend_state_path(path, sizeof(path), d);
		if (mxs_perf_call(c, MXS_OP_WRITE, 0, path, "1", 1, &h, &body,
				  NULL))
			ph->errors++;
		frontend_state_path(path, sizeof(path), d);
		if (mxs_perf_call(c, MXS_OP_WRITE, 0, path, "1", 1, &h, &body,
				  NULL))
			ph->errors++;
	}
	mxs_perf_conn_close(c);
	return 0;
}

/* The open-loop steps, one after the other; 0 or -errno. */
static int phase_open(struct run *run, struct gen *gens)
{
	struct mxs_perf_rings *r = run->r;

	for (int j = 0; j < r->nrates; j++) {
		struct mxs_perf_open *o = &r->open[j];
		double cpu0 = mxs_perf_cpu_s(r->pid), self0 = self_cpu_s();
		uint64_t t0 = mxs_perf_now_ns();
		int rc;

		if (!(o->rate > 0))
			return -EINVAL;
		run->rate = o->rate;
		run->per_guest = o->per_guest;
		if ((rc = gen_phase(run, gens, G_OPEN, &o->ph, &o->lag,
				    &o->unanswered)))
			return rc;
		phase_measure(r, &o->ph, t0, cpu0, self0);
		mxs_perf_lat_sort(&o->lag);
		/* Every request answered or counted. */
		if (o->ph.ops + o->unanswered !=
		    (uint64_t)r->domains * o->per_guest)
			o->ph.errors++;
		if (r->open_done)
			r->open_done(r, j);
	}
	return 0;
}

int mxs_perf_rings_run(struct mxs_perf_rings *r)
{
	struct run run = { .r = r };
	struct gen *gens = calloc((size_t)r->threads, sizeof(*gens));
	struct backend b = { .r = r };
	struct round_clock clk;
	uint64_t t0;
	double cpu0, self0;
	int i, k, rc = 0;

	if (r->watchers > r->domains)
		r->watchers = r->domains;
	if (r->rounds < 1)
		r->rounds = 1;
	run.g = calloc((size_t)r->domains, sizeof(*run.g));
	run.fan_sent = calloc((size_t)r->writes, sizeof(*run.fan_sent));
	b.state = calloc((size_t)r->domains, sizeof(*b.state));
	b.done = calloc((size_t)r->domains, sizeof(*b.done));
	if (!gens || !run.g || !run.fan_sent || !b.state || !b.done) {
		rc = -ENOMEM;
		goto out;
	}
	if (r->depth > (int)FL_MAX)
		r->depth = (int)FL_MAX;

	/* Boot storm: build + introduce. */
	cpu0 = mxs_perf_cpu_s(r->pid);
	self0 = self_cpu_s();
	t0 = mxs_perf_now_ns();
	phase_boot(r, &r->ph[MXS_RING_BOOT]);
	phase_timed(r, &r->ph[MXS_RING_BOOT], t0, cpu0, self0);
	if (r->ph[MXS_RING_BOOT].errors)
		goto out;

	/* Every guest connects its ring (not timed: the guest's boot). */
	for (i = 0; i < r->threads; i++) {
		gens[i].run = &run;
		gens[i].idx = i;
		if (!(gens[i].p = mxs_perf_ring.poller_new())) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < r->domains; i++) {
		char dom[16];
		struct guest *g = &run.g[i];

		snprintf(dom, sizeof(dom), "%d", i + 1);
		g->domid = i + 1;
		g->rnd = (unsigned)i * 2654435761u + 1;
		if (!(g->c = mxs_perf_conn_open(&mxs_perf_ring, dom,
						(uint32_t)i))) {
			rc = -errno;
			goto out;
		}
		if ((rc = mxs_perf_ring.poller_add(gens[i % r->threads].p,
						   g->c)))
			goto out;
	}

	if (want(r, MXS_RING_HANDSHAKE)) {
		struct mxs_perf_phase *ph = &r->ph[MXS_RING_HANDSHAKE];
		uint64_t fewest = UINT64_MAX;

		for (k = 0; k < r->rounds && !rc; k++) {
			uint64_t hs = 0;

			if (k && (rc = hs_reset(&run, gens, ph)))
				break;
			memset(b.state, 0, (size_t)r->domains * sizeof(*b.state));
			memset(b.done, 0, (size_t)r->domains * sizeof(*b.done));
			b.ndone = b.ops = b.errors = 0;
			round_start(r, &clk);
			if (pthread_create(&b.thr, NULL, backend_main, &b))
				abort();
			rc = gen_phase(&run, gens, G_HANDSHAKE, ph, NULL, NULL);
			pthread_join(b.thr, NULL);
			round_stop(r, ph, &clk);
			ph->ops += b.ops;
			ph->errors += b.errors;
			if (!rc)
				rc = mxs_perf_lat_merge(&ph->lat, &b.lat);
			for (i = 0; i < r->domains; i++)
				hs += b.done[i] && run.g[i].fstate == 4 &&
				      run.g[i].done;
			if (hs != (uint64_t)r->domains)
				ph->errors++;
			if (hs < fewest)
				fewest = hs;
		}
		r->handshakes = fewest == UINT64_MAX ? 0 : fewest;
		phase_report(r, ph);
		if (rc)
			goto out;
	}
	if (want(r, MXS_RING_TRAFFIC)) {
		struct mxs_perf_phase *ph = &r->ph[MXS_RING_TRAFFIC];

		run.per_guest = (uint32_t)r->requests;
		for (k = 0; k < r->rounds; k++) {
			round_start(r, &clk);
			if ((rc = gen_phase(&run, gens, G_TRAFFIC, ph, NULL,
					    NULL)))
				goto out;
			round_stop(r, ph, &clk);
		}
		phase_report(r, ph);
	}
	if ((rc = phase_open(&run, gens)))
		goto out;
	if (want(r, MXS_RING_FANOUT)) {
		struct mxs_perf_phase *ph = &r->ph[MXS_RING_FANOUT];
		struct fan_writer fw = { .run = &run, .out = ph };

		if ((rc = fan_prepare(r)) ||
		    (rc = gen_phase(&run, gens, G_FAN_SETUP, ph, NULL, NULL)))
			goto out;
		ph->ops = 0;
		for (k = 0; k < r->rounds; k++) {
			/* No thread runs: the joins handed these over. */
			memset(run.fan_sent, 0,
			       (size_t)r->writes * sizeof(*run.fan_sent));
			for (i = 0; i < r->domains; i++)
				run.g[i].events = 0;
			round_start(r, &clk);
			/* The writer runs beside the guests' threads. */
			if (pthread_create(&fw.thr, NULL, fan_writer_main, &fw))
				abort();
			rc = gen_phase(&run, gens, G_FAN, ph, NULL, NULL);
			pthread_join(fw.thr, NULL);
			if (rc)
				goto out;
			round_stop(r, ph, &clk);
		}
		phase_report(r, ph);
		if (ph->ops != (uint64_t)r->watchers * (uint64_t)r->writes *
				       (uint64_t)r->rounds)
			ph->errors++;
	}
	/* The guests let go of their rings before their domains die. */
	for (i = 0; i < r->domains; i++) {
		mxs_perf_conn_close(run.g[i].c);
		run.g[i].c = NULL;
	}
	if (want(r, MXS_RING_DEATH)) {
		struct mxs_perf_phase *ph = &r->ph[MXS_RING_DEATH];

		cpu0 = mxs_perf_cpu_s(r->pid);
		self0 = self_cpu_s();
		t0 = mxs_perf_now_ns();
		phase_death(r, ph);
		phase_timed(r, ph, t0, cpu0, self0);
	}
out:
	for (i = 0; run.g && i < r->domains; i++)
		mxs_perf_conn_close(run.g[i].c);
	for (i = 0; gens && i < r->threads; i++)
		if (gens[i].p)
			mxs_perf_ring.poller_free(gens[i].p);
	mxs_perf_lat_free(&b.lat);
	free(gens);
	free(run.g);
	free(run.fan_sent);
	free(b.state);
	free(b.done);
	return rc;
}
