/*
 * Differential test over rings: the same seeded random request sequences
 * sent by simulated guests to mxenstored and to Debian's C xenstored 4.17,
 * each daemon on its own simulated host, replies compared one by one and
 * watch events compared per guest at the end.
 *
 * Each host: 4 domains with homes owned by them (as a toolstack makes
 * them), introduced; a toolstack socket watches @introduceDomain and
 * @releaseDomain.  The guests send unprivileged requests: relative and
 * absolute paths in their home, in other guests' homes and outside,
 * READ WRITE MKDIR RM DIRECTORY GET_PERMS SET_PERMS WATCH UNWATCH
 * TRANSACTION_START/END (ids normalised), GET_DOMAIN_PATH, privileged
 * ops (refused), RESET_WATCHES; permissions name guests, dom0 and
 * domids that do not exist.  Between sequences the toolstack RELEASEs a
 * domain, which is destroyed, and introduces a new one (events compared
 * too).  mxenstored runs with --strict-conflicts (the C commit rule).
 * Not covered: a domid reused by a new domain (docs/compat.md: stale
 * permission entries).  Normalised: GET_PERMS entries naming domains
 * that do not exist, and transaction ids.
 *
 * What is never sent: NUL-less payloads (the C daemon 4.17 dies on them
 * while a watch exists, REFERENCE.md).
 *
 * usage: test_guestdiff PRELOAD MXENSTORED CXENSTORED [SEEDS [STEPS]]
 */
#include "tests/xensim/xensim.h"
#include "tests/xensim/testutil.h"

#include <xen/io/xs_wire.h>

#define NDOM 4
#define TMO 30000

struct host {
	const char *name;
	char sim_dir[300], run_dir[300], sock[320];
	struct xensim_sim *sim;
	struct xensim_evq *q;
	struct xensim_sock *ts;
	struct xensim_guest *g[NDOM];
	uint32_t dom[NDOM];
	pid_t pid;
};

static uint32_t rnd_state;
/* The domids of the guests (the same on both hosts: identical histories
 * give identical ids). */
static uint32_t domid[NDOM];

static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

static bool live_domid(uint32_t d)
{
	if (d == 0)
		return true;
	for (int i = 0; i < NDOM; i++)
		if (domid[i] == d)
			return true;
	return false;
}

static void host_start(struct host *h, const char *tmp, const char *tag, const char *bin,
		       const char *preload)
{
	char sub[260];

	h->name = tag;
	snprintf(sub, sizeof(sub), "%s/%s", tmp, tag);
	CHECK(mkdir(sub, 0700) == 0);
	snprintf(h->sim_dir, sizeof(h->sim_dir), "%s/sim", sub);
	snprintf(h->run_dir, sizeof(h->run_dir), "%s/run", sub);
	snprintf(h->sock, sizeof(h->sock), "%s/socket", h->run_dir);
	CHECK(mkdir(h->run_dir, 0700) == 0);
	CHECK_RC(xensim_init(h->sim_dir));
	CHECK_RC(xensim_open(h->sim_dir, &h->sim));
	h->pid = tu_start_xenstored(bin, preload, h->sim_dir, h->run_dir, sub);
	CHECK(h->pid > 0);
	CHECK(tu_wait_listening(h->sock, 30));
	CHECK_RC(xensim_sock_open(h->sock, &h->ts));
	CHECK_RC(xensim_evq_open(h->sim, &h->q));
}

static void introduce(struct host *h, int i)
{
	char path[64], perms[16];

	snprintf(path, sizeof(path), "/local/domain/%u", h->dom[i]);
	CHECK_RC(xensim_sock_mkdir(h->ts, path));
	snprintf(perms, sizeof(perms), "n%u", h->dom[i]);
	CHECK_RC(xensim_sock_set_perms(h->ts, path, perms, (uint32_t)strlen(perms)));
	CHECK_RC(xensim_sock_introduce(h->ts, h->dom[i], xensim_domain_mfn(h->dom[i]),
				       xensim_guest_port(h->g[i])));
}

static void host_domains(struct host *h)
{
	for (int i = 0; i < NDOM; i++) {
		CHECK_RC(xensim_domain_create(h->sim, XENSIM_ANY_DOMID, &h->dom[i]));
		CHECK_RC(xensim_guest_attach(h->q, h->dom[i], &h->g[i]));
		introduce(h, i);
	}
	CHECK_RC(xensim_sock_watch(h->ts, "@introduceDomain", "intro"));
	CHECK_RC(xensim_sock_watch(h->ts, "@releaseDomain", "rel"));
}

static bool live_domid(uint32_t d);

/* A reply as text for comparison: type, then the body with NULs as '|'.
 * GET_PERMS: entries naming a domain that does not exist are left out
 * (the C daemon 4.17 shows them, mxenstored does not: docs/compat.md). */
static void render(const struct xensim_msg *m, char *out, size_t sz)
{
	size_t o = (size_t)snprintf(out, sz, "%u:", m->type);

	for (uint32_t i = 0; i < m->len && o + 2 < sz; i++) {
		const char *e = m->body + i;

		if (m->type == XS_GET_PERMS && i > 0 &&
		    !live_domid((uint32_t)strtoul(e + 1, NULL, 0))) {
			i += (uint32_t)strlen(e);
			continue;
		}
		if (m->type == XS_GET_PERMS) {
			o += (size_t)snprintf(out + o, sz - o, "%s|", e);
			i += (uint32_t)strlen(e);
			continue;
		}
		out[o++] = m->body[i] ? m->body[i] : '|';
	}
	out[o < sz ? o : sz - 1] = '\0';
}

/* Payload builder: strings separated by NULs, each terminated. */
struct pl {
	char b[600];
	uint32_t len;
};

static void add(struct pl *p, const char *s)
{
	size_t l = strlen(s) + 1;

	CHECK(p->len + l <= sizeof(p->b));
	memcpy(p->b + p->len, s, l);
	p->len += (uint32_t)l;
}

static const char *pick_path(int i)
{
	static char buf[128];
	static const char *leaf[] = { "a", "a/b", "a/b/c", "x", "data", "data/k" };
	uint32_t self = domid[i], other = domid[rnd(NDOM)];

	switch (rnd(6)) {
	case 0: /* relative */
		snprintf(buf, sizeof(buf), "%s", leaf[rnd(6)]);
		break;
	case 1: /* own home, absolute */
		snprintf(buf, sizeof(buf), "/local/domain/%u/%s", self, leaf[rnd(6)]);
		break;
	case 2: /* another guest's home */
		snprintf(buf, sizeof(buf), "/local/domain/%u/%s", other, leaf[rnd(6)]);
		break;
	case 3: /* homes themselves */
		snprintf(buf, sizeof(buf), "/local/domain/%u", other);
		break;
	case 4: /* outside */
		snprintf(buf, sizeof(buf), "%s", rnd(2) ? "/tool" : "/local/domain");
		break;
	default: /* bad */
		snprintf(buf, sizeof(buf), "%s", rnd(2) ? "a//b" : "/local/domain/1/");
		break;
	}
	return buf;
}

/* The last requests of each guest and their replies (mxenstored's),
 * printed when a difference shows up. */
#define HIST 48
static char hist[NDOM][HIST][256];
static int nhist[NDOM];

/* Per guest and host: transaction ids in the order they were started. */
static uint32_t txids[2][NDOM][8];
static int ntx[NDOM];

/* One random request for guest i (same on both hosts); *tx is its
 * transaction slot or -1. */
static uint32_t gen(int i, struct pl *p, int *txslot)
{
	char num[32];
	uint32_t type;

	p->len = 0;
	*txslot = -1;
	switch (rnd(16)) {
	case 0: case 1: case 2:
		type = XS_READ;
		add(p, pick_path(i));
		break;
	case 3: case 4: case 5: {
		char v[32];

		type = XS_WRITE;
		add(p, pick_path(i));
		snprintf(v, sizeof(v), "v%u", rnd(1000));
		memcpy(p->b + p->len, v, strlen(v));
		p->len += (uint32_t)strlen(v);
		break;
	}
	case 6:
		type = XS_MKDIR;
		add(p, pick_path(i));
		break;
	case 7:
		type = XS_RM;
		add(p, pick_path(i));
		break;
	case 8:
		type = XS_DIRECTORY;
		add(p, pick_path(i));
		break;
	case 9:
		type = XS_GET_PERMS;
		add(p, pick_path(i));
		break;
	case 10: {
		char e[16];

		type = XS_SET_PERMS;
		add(p, pick_path(i));
		/* Owners and readers among the guests, dom0 and domids
		 * that do not exist. */
		snprintf(e, sizeof(e), "n%u", rnd(3) ? domid[i] : rnd(2) ? domid[rnd(NDOM)] : rnd(60));
		add(p, e);
		if (rnd(2)) {
			snprintf(e, sizeof(e), "r%u", rnd(3) ? domid[rnd(NDOM)] : rnd(60));
			add(p, e);
		}
		break;
	}
	case 11:
		type = rnd(3) ? XS_WATCH : XS_UNWATCH;
		add(p, rnd(4) ? pick_path(i) : (rnd(2) ? "@releaseDomain" : "@introduceDomain"));
		add(p, rnd(2) ? "t1" : "t2");
		break;
	case 12:
		if (ntx[i] < 8 && rnd(2)) {
			type = XS_TRANSACTION_START;
			add(p, "");
		} else if (ntx[i]) {
			type = XS_TRANSACTION_END;
			*txslot = (int)rnd((uint32_t)ntx[i]);
			add(p, rnd(3) ? "T" : "F");
		} else {
			type = XS_GET_DOMAIN_PATH;
			snprintf(num, sizeof(num), "%u", rnd(40));
			add(p, num);
		}
		break;
	case 13:
		/* An operation inside an open transaction. */
		if (ntx[i]) {
			*txslot = (int)rnd((uint32_t)ntx[i]);
			type = rnd(2) ? XS_READ : XS_WRITE;
			add(p, pick_path(i));
			if (type == XS_WRITE) {
				memcpy(p->b + p->len, "tx", 2);
				p->len += 2;
			}
		} else {
			type = XS_DIRECTORY;
			add(p, "/local/domain");
		}
		break;
	case 14: {
		static const uint32_t priv[] = { XS_INTRODUCE, XS_RELEASE, XS_RESUME,
						 XS_SET_TARGET, XS_IS_DOMAIN_INTRODUCED,
						 XS_CONTROL };

		type = priv[rnd(6)];
		snprintf(num, sizeof(num), "%u", domid[rnd(NDOM)]);
		add(p, num);
		add(p, "1");
		add(p, "1");
		break;
	}
	default:
		type = rnd(4) ? XS_GET_DOMAIN_PATH : XS_RESET_WATCHES;
		snprintf(num, sizeof(num), "%u", rnd(40));
		add(p, num);
		if (type == XS_RESET_WATCHES)
			ntx[i] = 0; /* it ends the transactions too */
		break;
	}
	return type;
}

/*
 * What a step queued reaches every guest before the next request: one
 * round trip each.  The C daemon drops a watch event identical to one
 * still queued for the connection (send_event); without this, whether
 * it sent both would depend on how soon it wrote the first.
 */
static void drain(struct host *h, int n)
{
	for (int s = 0; s < n; s++)
		for (int k = 0; k < NDOM; k++)
			CHECK_RC(xensim_guest_call(h[s].g[k], XS_GET_DOMAIN_PATH, 0, "0",
						   2, NULL, TMO));
}

static void compare_events(struct host *h, int n, const char *what)
{
	char ev[2][4096];

	for (int k = 0; k < NDOM + 1; k++) {
		size_t o[2] = { 0, 0 };

		for (int s = 0; s < n; s++) {
			struct xensim_msg *m;
			double end = tu_now() + 0.15;

			/* Quiet period: nothing more arrives. */
			while (tu_now() < end) {
				if (k < NDOM) {
					xensim_evq_run(h[s].q, 20);
					m = xensim_guest_watch_event(h[s].g[k]);
				} else if (xensim_sock_wait_watch(h[s].ts, &m, 20)) {
					m = NULL;
				}
				if (!m)
					continue;
				o[s] += (size_t)snprintf(ev[s] + o[s], sizeof(ev[s]) - o[s], "%s %s;",
							 m->body, m->body + strlen(m->body) + 1);
				if (o[s] >= sizeof(ev[s]))
					o[s] = sizeof(ev[s]) - 1;
				free(m);
				end = tu_now() + 0.15;
			}
			ev[s][o[s]] = '\0';
		}
		if (strcmp(ev[0], ev[1])) {
			fprintf(stderr, "%s: events of %s %d differ:\n  mx: %s\n  C:  %s\n", what,
				k < NDOM ? "guest" : "toolstack", k, ev[0], ev[1]);
			CHECK(!"watch events differ");
		}
	}
}

int main(int argc, char **argv)
{
	struct host h[2];
	const char *tmp;
	int seeds, steps, diffs = 0, sent = 0;
	bool verbose;

	if (argc < 4) {
		fprintf(stderr, "usage: %s PRELOAD MXENSTORED CXENSTORED [SEEDS [STEPS]]\n",
			argv[0]);
		return 2;
	}
	/* GUESTDIFF_VERBOSE=1: every step of every guest on stderr. */
	verbose = getenv("GUESTDIFF_VERBOSE") && *getenv("GUESTDIFF_VERBOSE");
	seeds = argc > 4 ? atoi(argv[4]) : 10;
	steps = argc > 5 ? atoi(argv[5]) : 200;
	if (access(argv[3], X_OK)) {
		printf("SKIP: %s not installed\n", argv[3]);
		return getenv("CI") ? 1 : 77;
	}
	tmp = tu_mktemp("xensim-guestdiff");
	/* The C daemon's commit rule (docs/compat.md). */
	setenv("MXS_DAEMON_ARG", "--strict-conflicts", 1);
	memset(h, 0, sizeof(h));
	host_start(&h[0], tmp, "mx", argv[2], argv[1]);
	host_start(&h[1], tmp, "c", argv[3], argv[1]);
	for (int s = 0; s < 2; s++)
		host_domains(&h[s]);
	for (int i = 0; i < NDOM; i++) {
		CHECK(h[0].dom[i] == h[1].dom[i]);
		domid[i] = h[0].dom[i];
	}
	compare_events(h, 2, "introduction");

	for (int seed = 1; seed <= seeds; seed++) {
		rnd_state = (uint32_t)seed * 2654435761u;
		for (int step = 0; step < steps; step++) {
			int i = (int)rnd(NDOM), slot;
			struct pl p;
			uint32_t type = gen(i, &p, &slot);
			char out[2][2048];
			struct xensim_msg *m[2];

			for (int s = 0; s < 2; s++) {
				uint32_t tx = slot >= 0 ? txids[s][i][slot] : 0;
				int rc = xensim_guest_call(h[s].g[i], type, tx, p.b, p.len, &m[s],
							   TMO);

				CHECK(rc != -ETIMEDOUT && rc != -EIO);
				if (rc) {
					snprintf(out[s], sizeof(out[s]), "error %d", rc);
					m[s] = NULL;
				} else {
					render(m[s], out[s], sizeof(out[s]));
				}
			}
			sent++;
			if (type == XS_TRANSACTION_START && m[0] && m[1]) {
				for (int s = 0; s < 2; s++)
					txids[s][i][ntx[i]] = (uint32_t)atoi(m[s]->body);
				ntx[i]++;
				snprintf(out[0], sizeof(out[0]), "tx");
				snprintf(out[1], sizeof(out[1]), "tx");
			}
			if (type == XS_TRANSACTION_END && slot >= 0) {
				for (int s = 0; s < 2; s++)
					txids[s][i][slot] = txids[s][i][ntx[i] - 1];
				ntx[i]--;
			}
			{
				char *hl = hist[i][nhist[i]++ % HIST];
				int o = snprintf(hl, 256, "s%d.%d op %u tx%d: ", seed, step, type,
						 slot);

				for (uint32_t k = 0; k < p.len && o < 200; k++)
					hl[o++] = p.b[k] ? p.b[k] : '|';
				snprintf(hl + o, (size_t)(256 - o), " -> %.40s", out[0]);
				if (verbose)
					fprintf(stderr, "g%d %s\n", i + 1, hl);
			}
			if (strcmp(out[0], out[1])) {
				for (int k = nhist[i] > HIST ? nhist[i] - HIST : 0; k < nhist[i]; k++)
					fprintf(stderr, "  %s\n", hist[i][k % HIST]);
				fprintf(stderr,
					"seed %d step %d guest %d op %u: mx \"%s\" C \"%s\"\n  request:",
					seed, step, i + 1, type, out[0], out[1]);
				for (uint32_t k = 0; k < p.len; k++)
					fputc(p.b[k] ? p.b[k] : '|', stderr);
				fputc('\n', stderr);
				diffs++;
			}
			free(m[0]);
			free(m[1]);
			CHECK(diffs == 0);
			if (strncmp(out[0], "error", 5))
				drain(h, 2);
		}
		compare_events(h, 2, "sequence");
		/* The toolstack releases a guest's domain, which is then
		 * destroyed, and a new domain (a new domid: domid reuse is
		 * docs/compat.md's) takes its place. */
		{
			int i = (int)rnd(NDOM);

			for (int s = 0; s < 2; s++) {
				CHECK_RC(xensim_sock_release(h[s].ts, h[s].dom[i]));
				xensim_guest_detach(h[s].g[i]);
				CHECK_RC(xensim_domain_destroy(h[s].sim, h[s].dom[i], true));
				CHECK_RC(xensim_domain_create(h[s].sim, XENSIM_ANY_DOMID,
							      &h[s].dom[i]));
				CHECK_RC(xensim_guest_attach(h[s].q, h[s].dom[i], &h[s].g[i]));
				introduce(&h[s], i);
			}
			CHECK(h[0].dom[i] == h[1].dom[i]);
			domid[i] = h[0].dom[i];
			ntx[i] = 0;
			compare_events(h, 2, "release and introduction");
		}
	}
	for (int s = 0; s < 2; s++) {
		CHECK(tu_alive(h[s].pid));
		for (int i = 0; i < NDOM; i++)
			xensim_guest_detach(h[s].g[i]);
		xensim_evq_close(h[s].q);
		xensim_sock_close(h[s].ts);
		kill(h[s].pid, SIGTERM);
		if (s == 0)
			CHECK(tu_wait(h[s].pid, 10) == 0); /* mxenstored: clean stop */
		else
			tu_wait(h[s].pid, 10);
		xensim_close(h[s].sim);
	}
	printf("guestdiff: %d seeds, %d requests over rings, %d differences\n", seeds, sent,
	       diffs);
	printf("PASS\n");
	return 0;
}
