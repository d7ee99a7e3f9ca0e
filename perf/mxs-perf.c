/* SPDX-License-Identifier: MIT */
/*
 * mxs-perf: drives any xenstore daemon over its Unix socket and prints one
 * JSON object per run on stdout.
 *
 *   mxs-perf SCENARIO --socket PATH [--pid PID] [--label NAME] [options]
 *
 * Scenarios:
 *   mix     --conns N connections spread over --threads T generator
 *           threads, each connection keeping --depth D requests in flight
 *           (1: no pipelining) on its own --nodes K nodes /perf/<conn>/n<k>,
 *           --mix R/W/D percent READ / WRITE / DIRECTORY (default 80/15/5)
 *           until --seconds S or --count N requests in all.
 *   writes  mix with 0/100/0.
 *   fanout  --watchers N connections watch /perf/fan, one writer writes
 *           --writes W children one after the other; every event is one
 *           op, its latency measured from its write's send.
 *   boot    --clients C toolstack threads build --domains N domains (one
 *           transaction each), read them back and tear them down
 *           (perf/boot.c); every request is one op.
 *   ring    under the Xen simulator (--simdir, default $XENSIM_DIR, the
 *           daemon's): --domains N guests over their rings, served by
 *           --threads T generator threads, and --clients C toolstack
 *           threads over the socket: boot storm, xenbus handshake, guest
 *           traffic (--requests R per guest, --depth D in flight, default
 *           50 and 16), watch fan-out (--watchers W guests, --writes K)
 *           and death storm (perf/rings.c); --phases a comma list of
 *           handshake,traffic,fanout,death (default all; boot always
 *           runs).  The JSON has one object per phase under "phases".
 *           --rate R1,R2,... adds open-loop traffic after the traffic
 *           phase: one step per rate R (requests/s offered by all the
 *           guests together, each request due at a fixed time), each of
 *           about --rate-seconds S (default 2) of requests; the JSON's
 *           "open" lists the steps with their latency from the due time
 *           and the generator's lag (lag_p99_us: how late its thread came
 *           round to a request, its own bottleneck); a guest keeps at
 *           most --depth in flight, the rest wait in the generator (their
 *           latency still counts from the due time); a step ends at twice
 *           its schedule plus 5 s ("unanswered": what was left).
 *           --rounds K runs handshake, traffic and fan-out K times back
 *           to back (untimed resets between handshake rounds); their
 *           seconds, ops, CPU and latencies are over the K rounds, so a
 *           small N lasts long enough to time (perf/compare's
 *           linear-scale run); boot and death run once.
 *   memory  one connection writes --count N (default 100,000) nodes of a
 *           13-byte path /m/<3 digits>/n<5 digits> (100 per parent) and
 *           a 32-byte value, --depth D
 *           in flight (default 64); bytes_per_node is the growth of the
 *           daemon's resident set (VmRSS of --pid) divided by N.  Run it
 *           once per daemon start: a second run only overwrites.
 *
 * Every reply is checked unless --no-check (the floor server keeps no
 * store): a READ returns what that connection last wrote there, a
 * DIRECTORY lists that connection's K nodes, every reply has its
 * request's type.  Output (one line):
 *
 *   {"scenario":"mix","label":...,"transport":"socket","conns":16,
 *    "depth":1,"threads":2,"seconds":..., "ops":...,"ops_per_s":...,
 *    "p50_us":...,"p99_us":...,"p999_us":...,"daemon_cpu_s":...,
 *    "cpu_us_per_op":...,"errors":0, ...scenario fields}
 *
 * daemon_cpu_s is the CPU clock of --pid over the measured phase (-1
 * without --pid).  The run is bounded: S seconds (default 5, at most
 * 600) plus at most 10 s to drain; exit status 1 if any error.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perf/perf.h"

#define DRAIN_NS (10ull * 1000000000ull)

struct opts {
	const char *scenario, *target, *label;
	const struct mxs_perf_transport *t;
	pid_t pid;
	int conns, depth, threads, nodes, watchers, writes, domains, clients;
	int pct_read, pct_write, pct_dir, requests, rounds;
	const char *simdir, *phases, *rates;
	double seconds, rate_seconds;
	uint64_t count;
	bool check;
};

struct result {
	double seconds, cpu_s;
	uint64_t ops, errors;
	struct mxs_perf_lat lat;
};

/* ---- mix: READ / WRITE / DIRECTORY on each connection's own nodes -- */

struct mix_req {
	uint32_t type, node, version;
	uint64_t t0;
};

struct mix_conn {
	struct mxs_perf_conn *c;
	struct mix_req *fl; /* by req_id % depth: in flight are consecutive */
	uint32_t *version;  /* last value written per node */
	uint32_t outstanding;
	unsigned rnd;
};

struct mix_run {
	const struct opts *o;
	pthread_barrier_t ready, go;
	uint64_t end_ns; /* written before `go`, read after it */
	uint64_t issued; /* requests started (relaxed atomic, for --count) */
};

struct mix_thread {
	pthread_t thr;
	struct mix_run *run;
	struct mix_conn *mc;
	int nconn;
	uint64_t ops, errors;
	struct mxs_perf_lat lat;
};

static void mix_error(struct mix_thread *t, const char *what,
		      const struct mix_conn *m)
{
	if (t->errors++ < 5)
		fprintf(stderr, "mxs-perf: connection %u: %s\n", m->c->id, what);
}

/* Queues one request on m; false when it may not start (time, count). */
static bool mix_start(struct mix_thread *t, struct mix_conn *m, uint64_t now)
{
	const struct opts *o = t->run->o;
	char path[64], val[16];
	struct mix_req *f;
	uint32_t pick;
	int64_t id;
	int vlen = 0;

	if (now >= t->run->end_ns ||
	    (o->count && __atomic_fetch_add(&t->run->issued, 1,
					    __ATOMIC_RELAXED) >= o->count))
		return false;
	f = &m->fl[m->c->next_req % (uint32_t)o->depth];
	pick = (uint32_t)rand_r(&m->rnd) % 100;
	f->node = (uint32_t)rand_r(&m->rnd) % (uint32_t)o->nodes;
	f->type = pick < (uint32_t)o->pct_read ? MXS_OP_READ
		  : pick < (uint32_t)(o->pct_read + o->pct_write)
			  ? MXS_OP_WRITE
			  : MXS_OP_DIRECTORY;
	if (f->type == MXS_OP_DIRECTORY) {
		snprintf(path, sizeof(path), "/perf/%u", m->c->id);
	} else {
		snprintf(path, sizeof(path), "/perf/%u/n%u", m->c->id, f->node);
		if (f->type == MXS_OP_WRITE) {
			f->version = ++m->version[f->node];
			vlen = snprintf(val, sizeof(val), "%u", f->version);
		} else {
			/* Replies come in order: a READ sees every earlier
			 * WRITE of its connection. */
			f->version = m->version[f->node];
		}
	}
	f->t0 = now;
	id = mxs_perf_queue(m->c, f->type, 0, path, strlen(path) + 1, val,
			    (size_t)vlen);
	if (id < 0)
		return false;
	m->outstanding++;
	return true;
}

static void mix_check(struct mix_thread *t, struct mix_conn *m,
		      const struct mix_req *f, const struct mxs_msg_hdr *h,
		      const char *body)
{
	const struct opts *o = t->run->o;
	uint32_t i, names = 0;

	if (h->type != f->type) {
		mix_error(t, h->type == MXS_OP_ERROR ? body : "reply type", m);
		return;
	}
	if (!o->check)
		return;
	if (f->type == MXS_OP_READ &&
	    strtoul(body, NULL, 10) != f->version)
		mix_error(t, "READ returned a stale or wrong value", m);
	if (f->type == MXS_OP_DIRECTORY) {
		for (i = 0; i < h->len; i++)
			names += body[i] == '\0';
		if (names != (uint32_t)o->nodes)
			mix_error(t, "DIRECTORY lists the wrong children", m);
	}
}

/* Creates connection m's nodes with version 0. */
static int mix_setup(struct mix_thread *t, struct mix_conn *m)
{
	const struct opts *o = t->run->o;
	struct mxs_msg_hdr h;
	char path[64], *body;
	int k, rc;

	for (k = 0; k < o->nodes; k++) {
		snprintf(path, sizeof(path), "/perf/%u/n%d", m->c->id, k);
		if ((rc = mxs_perf_call(m->c, MXS_OP_WRITE, 0, path, "0", 1, &h,
					&body, NULL)))
			return rc;
	}
	return 0;
}

static void *mix_main(void *arg)
{
	struct mix_thread *t = arg;
	const struct opts *o = t->run->o;
	struct mxs_perf_poller *p = o->t->poller_new();
	struct mxs_perf_conn *ready[256];
	uint64_t now;
	int i, j, n, active = 0;

	for (i = 0; p && i < t->nconn; i++) {
		struct mix_conn *m = &t->mc[i];

		if (mix_setup(t, m) || o->t->poller_add(p, m->c))
			mix_error(t, "set-up failed", m);
	}
	pthread_barrier_wait(&t->run->ready);
	pthread_barrier_wait(&t->run->go);
	if (!p || t->errors)
		goto out;
	now = mxs_perf_now_ns();
	for (i = 0; i < t->nconn; i++) {
		struct mix_conn *m = &t->mc[i];

		for (j = 0; j < o->depth && mix_start(t, m, now); j++)
			;
		if (mxs_perf_flush(m->c))
			mix_error(t, "send failed", m);
		else if (m->outstanding)
			active++;
	}
	while (active > 0) {
		n = o->t->poller_wait(p, ready, 256, 200);
		now = mxs_perf_now_ns();
		if (n < 0 || (n == 0 && now > t->run->end_ns + DRAIN_NS)) {
			t->errors += (uint64_t)active;
			fprintf(stderr, "mxs-perf: %d connections stuck\n",
				active);
			break;
		}
		for (i = 0; i < n; i++) {
			struct mix_conn *m =
				&t->mc[ready[i]->id / (uint32_t)o->threads];
			struct mxs_msg_hdr h;
			char *body;
			int rc;

			if (!m->outstanding)
				continue;
			if ((rc = mxs_perf_fill(m->c, false)))
				goto broken;
			while ((rc = mxs_perf_next(m->c, &h, &body)) == 1) {
				struct mix_req *f =
					&m->fl[h.req_id % (uint32_t)o->depth];

				if (h.type == MXS_OP_WATCH_EVENT)
					continue;
				mxs_perf_lat_add(&t->lat, now - f->t0);
				mix_check(t, m, f, &h, body);
				t->ops++;
				m->outstanding--;
				mix_start(t, m, now);
			}
			if (rc < 0 || (rc = mxs_perf_flush(m->c)))
				goto broken;
			if (!m->outstanding)
				active--;
			continue;
broken:
			mix_error(t, strerror(-rc), m);
			m->outstanding = 0;
			active--;
		}
	}
out:
	if (p)
		o->t->poller_free(p);
	return NULL;
}

static int run_mix(const struct opts *o, struct result *res)
{
	struct mix_run run = { .o = o };
	struct mix_thread *th = calloc((size_t)o->threads, sizeof(*th));
	struct mix_conn *mc = calloc((size_t)o->conns, sizeof(*mc));
	uint64_t t0;
	double cpu0;
	int i, rc = 0;

	if (!th || !mc) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < o->conns; i++) {
		struct mix_conn *m = &mc[i];

		m->c = mxs_perf_conn_open(o->t, o->target, (uint32_t)i);
		m->fl = calloc((size_t)o->depth, sizeof(*m->fl));
		m->version = calloc((size_t)o->nodes, sizeof(*m->version));
		m->rnd = (unsigned)i * 2654435761u + 1;
		if (!m->c || !m->fl || !m->version) {
			rc = m->c ? -ENOMEM : -errno;
			fprintf(stderr, "mxs-perf: connect %s: %s\n", o->target,
				strerror(-rc));
			goto out;
		}
	}
	/* Thread j serves connections j, j+T, j+2T...: connection id i is
	 * slot i / T of thread i % T (mix_main finds it so). */
	for (i = 0; i < o->threads; i++) {
		th[i].run = &run;
		th[i].nconn = (o->conns - i + o->threads - 1) / o->threads;
		th[i].mc = calloc((size_t)th[i].nconn, sizeof(*th[i].mc));
		if (!th[i].mc) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < o->conns; i++)
		th[i % o->threads].mc[i / o->threads] = mc[i];
	pthread_barrier_init(&run.ready, NULL, (unsigned)o->threads + 1);
	pthread_barrier_init(&run.go, NULL, (unsigned)o->threads + 1);
	for (i = 0; i < o->threads; i++)
		if (pthread_create(&th[i].thr, NULL, mix_main, &th[i]))
			abort();
	pthread_barrier_wait(&run.ready);
	cpu0 = mxs_perf_cpu_s(o->pid);
	t0 = mxs_perf_now_ns();
	run.end_ns = t0 + (uint64_t)(o->seconds * 1e9);
	pthread_barrier_wait(&run.go);
	for (i = 0; i < o->threads; i++)
		pthread_join(th[i].thr, NULL);
	res->seconds = (double)(mxs_perf_now_ns() - t0) / 1e9;
	res->cpu_s = cpu0 < 0 ? -1 : mxs_perf_cpu_s(o->pid) - cpu0;
	for (i = 0; i < o->threads; i++) {
		res->ops += th[i].ops;
		res->errors += th[i].errors;
		if ((rc = mxs_perf_lat_merge(&res->lat, &th[i].lat)))
			break;
	}
	mxs_perf_lat_sort(&res->lat);
	pthread_barrier_destroy(&run.ready);
	pthread_barrier_destroy(&run.go);
out:
	for (i = 0; th && i < o->threads; i++) {
		mxs_perf_lat_free(&th[i].lat);
		free(th[i].mc);
	}
	for (i = 0; mc && i < o->conns; i++) {
		mxs_perf_conn_close(mc[i].c);
		free(mc[i].fl);
		free(mc[i].version);
	}
	free(th);
	free(mc);
	return rc;
}

/* ---- fanout: N watchers, one writer --------------------------------- */

static int run_fanout(const struct opts *o, struct result *res)
{
	struct mxs_perf_conn **c = calloc((size_t)o->watchers + 1, sizeof(*c));
	uint64_t *sent = calloc((size_t)o->writes, sizeof(*sent));
	uint64_t *seen = calloc((size_t)o->watchers, sizeof(*seen));
	struct mxs_perf_poller *p = o->t->poller_new();
	struct mxs_perf_conn *ready[256];
	struct mxs_msg_hdr h;
	uint64_t t0, end, want, got = 0, now;
	char *body, token[16], path[64];
	int i, n, w, rc = 0, written = 0, replied = 0;
	double cpu0;

	if (!c || !sent || !seen || !p) {
		rc = -ENOMEM;
		goto out;
	}
	/* c[0] writes; c[1..N] watch. */
	for (i = 0; i <= o->watchers; i++)
		if (!(c[i] = mxs_perf_conn_open(o->t, o->target, (uint32_t)i))) {
			rc = -errno;
			goto out;
		}
	if ((rc = mxs_perf_call(c[0], MXS_OP_WRITE, 0, "/perf/fan", "", 0, &h,
				&body, NULL)))
		goto out;
	for (i = 1; i <= o->watchers; i++) {
		uint64_t initial = 0;

		n = snprintf(token, sizeof(token), "w%d", i) + 1;
		if ((rc = mxs_perf_call(c[i], MXS_OP_WATCH, 0, "/perf/fan",
					token, (size_t)n, &h, &body, &initial)))
			goto out;
		/* The event every new watch fires at once. */
		while (!initial) {
			while (!initial && (rc = mxs_perf_next(c[i], &h, &body)) == 1)
				initial += h.type == MXS_OP_WATCH_EVENT;
			if (!initial && (rc < 0 || (rc = mxs_perf_fill(c[i], true))))
				goto out;
		}
		if ((rc = o->t->poller_add(p, c[i])))
			goto out;
	}
	if ((rc = o->t->poller_add(p, c[0])))
		goto out;
	want = (uint64_t)o->watchers * (uint64_t)o->writes;
	cpu0 = mxs_perf_cpu_s(o->pid);
	t0 = mxs_perf_now_ns();
	end = t0 + (uint64_t)(o->seconds * 1e9);
	snprintf(path, sizeof(path), "/perf/fan/%d", written);
	sent[written++] = t0;
	if (mxs_perf_queue(c[0], MXS_OP_WRITE, 0, path, strlen(path) + 1, "x",
			   1) < 0 ||
	    (rc = mxs_perf_flush(c[0])))
		goto out;
	while (got < want || replied < o->writes) {
		n = o->t->poller_wait(p, ready, 256, 200);
		now = mxs_perf_now_ns();
		if (n < 0 || now > end) {
			res->errors += want - got + (uint64_t)(o->writes - replied);
			fprintf(stderr, "mxs-perf: fanout: %llu events missing\n",
				(unsigned long long)(want - got));
			break;
		}
		for (i = 0; i < n; i++) {
			struct mxs_perf_conn *k = ready[i];

			if ((rc = mxs_perf_fill(k, false)))
				goto out;
			while ((rc = mxs_perf_next(k, &h, &body)) == 1) {
				if (k == c[0]) {
					if (h.type != MXS_OP_WRITE)
						res->errors++;
					if (++replied >= o->writes)
						continue;
					snprintf(path, sizeof(path),
						 "/perf/fan/%d", written);
					sent[written++] = now;
					if (mxs_perf_queue(c[0], MXS_OP_WRITE, 0,
							   path,
							   strlen(path) + 1,
							   "x", 1) < 0)
						res->errors++;
					continue;
				}
				if (h.type != MXS_OP_WATCH_EVENT ||
				    strncmp(body, "/perf/fan/", 10)) {
					res->errors++;
					continue;
				}
				w = atoi(body + 10);
				if (w < 0 || w >= written) {
					res->errors++;
					continue;
				}
				mxs_perf_lat_add(&res->lat, now - sent[w]);
				seen[k->id - 1]++;
				got++;
			}
			if (rc < 0 || (rc = mxs_perf_flush(k)))
				goto out;
		}
	}
	res->seconds = (double)(mxs_perf_now_ns() - t0) / 1e9;
	res->cpu_s = cpu0 < 0 ? -1 : mxs_perf_cpu_s(o->pid) - cpu0;
	res->ops = got;
	for (i = 0; i < o->watchers; i++)
		if (seen[i] != (uint64_t)o->writes && o->check)
			res->errors++;
	mxs_perf_lat_sort(&res->lat);
out:
	for (i = 0; c && i <= o->watchers; i++)
		mxs_perf_conn_close(c[i]);
	if (p)
		o->t->poller_free(p);
	free(c);
	free(sent);
	free(seen);
	return rc;
}

/* ---- memory: resident bytes per node ------------------------------- */

/* VmRSS of pid in bytes (/proc/<pid>/status), -1 if unreadable. */
static long rss_bytes(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (pid <= 0 || !(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

static int run_memory(const struct opts *o, struct result *res, double *bpn)
{
	struct mxs_perf_conn *c = mxs_perf_conn_open(o->t, o->target, 0);
	uint64_t n = o->count ? o->count : 100000, sent = 0, done = 0, t0;
	struct mxs_msg_hdr h;
	char *body, path[32], val[40];
	long rss0, rss1;
	double cpu0;
	int rc = 0;

	if (!c)
		return -errno;
	if ((rss0 = rss_bytes(o->pid)) < 0) {
		fprintf(stderr, "mxs-perf memory: needs --pid of the daemon\n");
		rc = -EINVAL;
		goto out;
	}
	cpu0 = mxs_perf_cpu_s(o->pid);
	t0 = mxs_perf_now_ns();
	while (done < n) {
		while (sent < n && sent - done < (uint64_t)o->depth) {
			snprintf(path, sizeof(path), "/m/%03llu/n%05llu",
				 (unsigned long long)(sent / 100 % 1000),
				 (unsigned long long)(sent % 100000));
			snprintf(val, sizeof(val), "%032llu",
				 (unsigned long long)sent);
			if (mxs_perf_queue(c, MXS_OP_WRITE, 0, path,
					   strlen(path) + 1, val, 32) < 0)
				break;
			sent++;
		}
		if ((rc = mxs_perf_flush(c)) || (rc = mxs_perf_fill(c, true)))
			goto out;
		while ((rc = mxs_perf_next(c, &h, &body)) == 1) {
			if (h.type != MXS_OP_WRITE)
				res->errors++;
			done++;
		}
		if (rc < 0)
			goto out;
		rc = 0;
	}
	res->seconds = (double)(mxs_perf_now_ns() - t0) / 1e9;
	res->cpu_s = mxs_perf_cpu_s(o->pid) - cpu0;
	res->ops = done;
	/* Resident memory settles once deferred frees have run. */
	usleep(200000);
	rss1 = rss_bytes(o->pid);
	*bpn = (double)(rss1 - rss0) / (double)n;
out:
	mxs_perf_conn_close(c);
	return rc;
}

/* ---- output and arguments ------------------------------------------ */

static void print_json(const struct opts *o, const struct result *r,
		       const char *extra)
{
	printf("{\"scenario\":\"%s\",\"label\":\"%s\",\"transport\":\"%s\","
	       "\"conns\":%d,\"depth\":%d,\"threads\":%d,"
	       "\"mix\":\"%d/%d/%d\",\"seconds\":%.3f,\"ops\":%llu,"
	       "\"ops_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
	       "\"p999_us\":%.1f,\"daemon_cpu_s\":%.3f,"
	       "\"cpu_us_per_op\":%.3f,\"errors\":%llu%s}\n",
	       o->scenario, o->label, o->t->name, o->conns, o->depth,
	       o->threads, o->pct_read, o->pct_write, o->pct_dir, r->seconds,
	       (unsigned long long)r->ops,
	       r->seconds > 0 ? (double)r->ops / r->seconds : 0,
	       mxs_perf_lat_us(&r->lat, 0.50), mxs_perf_lat_us(&r->lat, 0.99),
	       mxs_perf_lat_us(&r->lat, 0.999), r->cpu_s,
	       r->cpu_s >= 0 && r->ops ? r->cpu_s * 1e6 / (double)r->ops : -1,
	       (unsigned long long)r->errors, extra);
	fflush(stdout);
}

/* ---- ring: the host's ring scenarios (perf/rings.c) ---------------- */

static void usage(void);

/* "name":{...} of phase i. */
static void print_phase(const struct mxs_perf_rings *r, int i)
{
	const struct mxs_perf_phase *ph = &r->ph[i];

	printf("\"%s\":{\"seconds\":%.4f,\"ops\":%llu,"
	       "\"ops_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
	       "\"p999_us\":%.1f,\"daemon_cpu_s\":%.3f,"
	       "\"generator_cpu_s\":%.3f,\"errors\":%llu}",
	       mxs_perf_ring_phase_name[i], ph->seconds,
	       (unsigned long long)ph->ops,
	       ph->seconds > 0 ? (double)ph->ops / ph->seconds : 0,
	       mxs_perf_lat_us(&ph->lat, 0.50), mxs_perf_lat_us(&ph->lat, 0.99),
	       mxs_perf_lat_us(&ph->lat, 0.999), ph->cpu_s, ph->gen_cpu_s,
	       (unsigned long long)ph->errors);
}

/* {...} of open-loop step j. */
static void print_open(const struct mxs_perf_rings *r, int j)
{
	const struct mxs_perf_open *o = &r->open[j];
	const struct mxs_perf_phase *ph = &o->ph;

	printf("{\"rate\":%.0f,\"requests_per_guest\":%u,\"seconds\":%.4f,"
	       "\"ops\":%llu,\"ops_per_s\":%.0f,\"p50_us\":%.1f,"
	       "\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
	       "\"lag_p50_us\":%.1f,\"lag_p99_us\":%.1f,"
	       "\"daemon_cpu_s\":%.3f,\"generator_cpu_s\":%.3f,"
	       "\"unanswered\":%llu,\"errors\":%llu}",
	       o->rate, o->per_guest, ph->seconds, (unsigned long long)ph->ops,
	       ph->seconds > 0 ? (double)ph->ops / ph->seconds : 0,
	       mxs_perf_lat_us(&ph->lat, 0.50), mxs_perf_lat_us(&ph->lat, 0.99),
	       mxs_perf_lat_us(&ph->lat, 0.999), mxs_perf_lat_us(&ph->lat, 1),
	       mxs_perf_lat_us(&o->lag, 0.50), mxs_perf_lat_us(&o->lag, 0.99),
	       ph->cpu_s, ph->gen_cpu_s, (unsigned long long)o->unanswered,
	       (unsigned long long)ph->errors);
}

/* Progress: one line per finished phase, so that a run cut short by a
 * timeout still tells what it measured. */
static void ring_progress(const struct mxs_perf_rings *r, int i)
{
	printf("{\"progress\":1,");
	print_phase(r, i);
	printf("}\n");
	fflush(stdout);
}

static void ring_open_progress(const struct mxs_perf_rings *r, int j)
{
	printf("{\"progress\":1,\"open\":");
	print_open(r, j);
	printf("}\n");
	fflush(stdout);
}

/* Parses o->rates into r's open-loop steps; 0 or -EINVAL. */
static int ring_rates(const struct opts *o, struct mxs_perf_rings *r)
{
	char list[256], *tok, *save, *end;

	if (!o->rates)
		return 0;
	if (!(o->rate_seconds > 0) || o->rate_seconds > 300)
		return -EINVAL;
	snprintf(list, sizeof(list), "%s", o->rates);
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		double rate = strtod(tok, &end), k;

		if (*end || !(rate >= 1) || rate > 1e8 ||
		    r->nrates == MXS_RING_RATES_MAX)
			return -EINVAL;
		/* About rate_seconds of requests, at least one per guest. */
		k = rate * o->rate_seconds / r->domains;
		if (k > 1e6)
			return -EINVAL;
		r->open[r->nrates].rate = rate;
		r->open[r->nrates].per_guest = k < 1 ? 1 : (uint32_t)(k + 0.5);
		r->nrates++;
	}
	return 0;
}

static int run_ring(const struct opts *o)
{
	struct mxs_perf_rings r = {
		.socket = o->target, .domains = o->domains,
		.clients = o->clients, .threads = o->threads ? o->threads : 2,
		.depth = o->depth ? o->depth : 16, .requests = o->requests,
		.watchers = o->watchers ? o->watchers : 1000,
		.writes = o->writes, .pid = o->pid, .rounds = o->rounds,
		.phases = 1u << MXS_RING_BOOT, .phase_done = ring_progress,
		.open_done = ring_open_progress,
	};
	uint64_t errors = 0;
	char list[128], *tok, *save;
	const char *sep = "";
	int i, rc;

	snprintf(list, sizeof(list), "%s", o->phases);
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < MXS_RING_PHASES; i++)
			if (!strcmp(tok, mxs_perf_ring_phase_name[i]))
				break;
		if (i == MXS_RING_PHASES) {
			fprintf(stderr, "mxs-perf ring: unknown phase %s\n", tok);
			return 2;
		}
		r.phases |= 1u << i;
	}
	if (!o->target || r.domains < 1 || r.domains >= 0x7ff0 ||
	    r.clients < 1 || r.clients > 1024 || r.threads < 1 ||
	    r.threads > 64 || r.depth < 1 || r.requests < 0 ||
	    r.writes > 100000 || r.rounds < 1 || r.rounds > 1000 ||
	    ring_rates(o, &r)) {
		usage();
		return 2;
	}
	if ((rc = mxs_perf_ring_env_open(o->simdir))) {
		fprintf(stderr, "mxs-perf ring: simulation %s: %s\n",
			o->simdir ? o->simdir : "$XENSIM_DIR", strerror(-rc));
		return 1;
	}
	rc = mxs_perf_rings_run(&r);
	printf("{\"scenario\":\"ring\",\"label\":\"%s\",\"transport\":"
	       "\"ring\",\"domains\":%d,\"clients\":%d,\"threads\":%d,"
	       "\"depth\":%d,\"requests\":%d,\"watchers\":%d,\"writes\":%d,"
	       "\"rounds\":%d,\"eagain\":%llu,\"handshakes\":%llu,\"release_events\":%llu,"
	       "\"released\":%llu,\"phases\":{",
	       o->label, r.domains, r.clients, r.threads, r.depth, r.requests,
	       r.watchers, r.writes, r.rounds, (unsigned long long)r.eagain,
	       (unsigned long long)r.handshakes,
	       (unsigned long long)r.release_events,
	       (unsigned long long)r.released);
	for (i = 0; i < MXS_RING_PHASES; i++) {
		if (!(r.phases & (1u << i)))
			continue;
		printf("%s", sep);
		print_phase(&r, i);
		sep = ",";
		errors += r.ph[i].errors;
		mxs_perf_lat_free(&r.ph[i].lat);
	}
	printf("},\"open\":[");
	for (i = 0; i < r.nrates; i++) {
		printf("%s", i ? "," : "");
		print_open(&r, i);
		errors += r.open[i].ph.errors;
		mxs_perf_lat_free(&r.open[i].ph.lat);
		mxs_perf_lat_free(&r.open[i].lag);
	}
	printf("],\"errors\":%llu}\n", (unsigned long long)errors);
	fflush(stdout);
	if (rc)
		fprintf(stderr, "mxs-perf ring: %s\n", strerror(-rc));
	return rc || errors ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: mxs-perf mix|writes|fanout|boot|memory|ring --socket PATH [--pid PID]\n"
		"       [--label NAME] [--seconds S] [--count N] [--no-check]\n"
		"       mix/writes: [--conns N] [--depth D] [--threads T]\n"
		"                   [--nodes K] [--mix R/W/D]\n"
		"       fanout:     [--watchers N] [--writes W]\n"
		"       boot:       [--domains N] [--clients C]\n"
		"       memory:     [--count N] [--depth D]\n"
		"       ring:       [--simdir DIR] [--domains N] [--clients C]\n"
		"                   [--threads T] [--requests R] [--depth D]\n"
		"                   [--watchers W] [--writes K] [--phases LIST]\n"
		"                   [--rate R1,R2,...] [--rate-seconds S]\n"
		"                   [--rounds K]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "pid", required_argument, NULL, 'P' },
		{ "label", required_argument, NULL, 'l' },
		{ "conns", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 'T' },
		{ "seconds", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'n' },
		{ "nodes", required_argument, NULL, 'k' },
		{ "mix", required_argument, NULL, 'm' },
		{ "watchers", required_argument, NULL, 'w' },
		{ "writes", required_argument, NULL, 'W' },
		{ "domains", required_argument, NULL, 'D' },
		{ "clients", required_argument, NULL, 'C' },
		{ "no-check", no_argument, NULL, 'x' },
		{ "simdir", required_argument, NULL, 'S' },
		{ "requests", required_argument, NULL, 'R' },
		{ "phases", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, 'r' },
		{ "rate-seconds", required_argument, NULL, 'e' },
		{ "rounds", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .label = "daemon", .t = &mxs_perf_socket,
			  .conns = 16, .depth = 0, .threads = 0,
			  .requests = 50, .phases = "handshake,traffic,fanout,death", .nodes = 16,
			  .watchers = 0, .writes = 10, .domains = 1000,
			  .clients = 4, .pct_read = 80, .pct_write = 15,
			  .pct_dir = 5, .seconds = 5, .rate_seconds = 2,
			  .rounds = 1,
			  .check = true };
	struct result res = { 0 };
	char extra[256] = "";
	int opt, rc;

	if (argc < 2 || argv[1][0] == '-') {
		usage();
		return 2;
	}
	o.scenario = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 's': o.target = optarg; break;
		case 'P': o.pid = (pid_t)atoi(optarg); break;
		case 'l': o.label = optarg; break;
		case 'c': o.conns = atoi(optarg); break;
		case 'd': o.depth = atoi(optarg); break;
		case 'T': o.threads = atoi(optarg); break;
		case 't': o.seconds = atof(optarg); break;
		case 'n': o.count = strtoull(optarg, NULL, 10); break;
		case 'k': o.nodes = atoi(optarg); break;
		case 'm':
			if (sscanf(optarg, "%d/%d/%d", &o.pct_read,
				   &o.pct_write, &o.pct_dir) != 3) {
				usage();
				return 2;
			}
			break;
		case 'w': o.watchers = atoi(optarg); break;
		case 'W': o.writes = atoi(optarg); break;
		case 'D': o.domains = atoi(optarg); break;
		case 'C': o.clients = atoi(optarg); break;
		case 'x': o.check = false; break;
		case 'S': o.simdir = optarg; break;
		case 'R': o.requests = atoi(optarg); break;
		case 'p': o.phases = optarg; break;
		case 'r': o.rates = optarg; break;
		case 'e': o.rate_seconds = atof(optarg); break;
		case 'K': o.rounds = atoi(optarg); break;
		default: usage(); return 2;
		}
	}
	if (strcmp(o.scenario, "writes") == 0) {
		o.pct_read = 0;
		o.pct_write = 100;
		o.pct_dir = 0;
	}
	if (strcmp(o.scenario, "ring") == 0)
		return run_ring(&o);
	if (o.watchers == 0)
		o.watchers = 100;
	if (o.depth == 0)
		o.depth = 1;
	if (o.threads == 0)
		o.threads = o.conns < 2 ? 1 : 2;
	if (o.threads > o.conns)
		o.threads = o.conns;
	if (!o.target || o.conns < 1 || o.conns > 4096 || o.depth < 1 ||
	    o.depth > 256 || o.threads < 1 || o.nodes < 1 ||
	    o.nodes > 10000 || o.seconds <= 0 || o.seconds > 600 ||
	    o.pct_read < 0 || o.pct_write < 0 || o.pct_dir < 0 ||
	    o.pct_read + o.pct_write + o.pct_dir != 100 || o.watchers < 1 ||
	    o.watchers > 10000 || o.writes < 1 || o.writes > 1000000) {
		usage();
		return 2;
	}
	if (strcmp(o.scenario, "mix") == 0 ||
	    strcmp(o.scenario, "writes") == 0) {
		rc = run_mix(&o, &res);
	} else if (strcmp(o.scenario, "fanout") == 0) {
		o.conns = o.watchers + 1;
		o.threads = 1;
		rc = run_fanout(&o, &res);
		snprintf(extra, sizeof(extra), ",\"watchers\":%d,\"writes\":%d",
			 o.watchers, o.writes);
	} else if (strcmp(o.scenario, "boot") == 0) {
		struct mxs_perf_boot b = { .t = o.t, .target = o.target,
					   .domains = o.domains,
					   .clients = o.clients, .pid = o.pid };

		if (o.domains < 1 || o.domains >= 0x7ff0 || o.clients < 1 ||
		    o.clients > 1024) {
			usage();
			return 2;
		}
		rc = mxs_perf_boot_run(&b);
		o.conns = o.threads = o.clients;
		res.seconds = b.build_s + b.check_s + b.teardown_s;
		res.cpu_s = b.cpu_s;
		res.ops = b.requests;
		res.errors = b.errors;
		res.lat = b.lat;
		snprintf(extra, sizeof(extra),
			 ",\"domains\":%d,\"build_s\":%.3f,\"check_s\":%.3f,"
			 "\"teardown_s\":%.3f,\"eagain\":%llu",
			 o.domains, b.build_s, b.check_s, b.teardown_s,
			 (unsigned long long)b.eagain);
	} else if (strcmp(o.scenario, "memory") == 0) {
		double bpn = 0;

		o.conns = o.threads = 1;
		if (o.depth == 1)
			o.depth = 64;
		rc = run_memory(&o, &res, &bpn);
		snprintf(extra, sizeof(extra), ",\"bytes_per_node\":%.1f", bpn);
	} else {
		usage();
		return 2;
	}
	if (rc) {
		fprintf(stderr, "mxs-perf %s: %s\n", o.scenario, strerror(-rc));
		mxs_perf_lat_free(&res.lat);
		return 1;
	}
	print_json(&o, &res, extra);
	mxs_perf_lat_free(&res.lat);
	return res.errors ? 1 : 0;
}
