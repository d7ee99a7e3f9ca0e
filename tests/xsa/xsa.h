/*
 * The advisory tests' host: mxenstored under the Xen simulator, a dom0
 * toolstack on its socket, and guests introduced over their rings, each
 * with a home /local/domain/<domid> it owns (as libxl makes it).  Every
 * test ends with xsa_finish: XS_CONTROL check must pass (the store's
 * invariants after the attack), the daemon must still be alive and stop
 * cleanly on SIGTERM (no sanitizer report, no leak).
 *
 * The same programs run against Debian's C xenstored 4.17 (which holds
 * these fixes): its behaviour is the reference, so every expectation is
 * also the C daemon's, except where docs/compat.md records a difference
 * (those checks are mxenstored's only: xh.mxs).
 *
 * usage of every test: xsa<NUM> PRELOAD XENSTORED (mxenstored or the C
 * daemon)
 */
#ifndef MXS_TESTS_XSA_H
#define MXS_TESTS_XSA_H

#include "tests/xensim/xensim.h"
#include "tests/xensim/testutil.h"

#include <xen/io/xs_wire.h>

#define XSA_TMO 30000

struct xsa_host {
	char simdir[300], rundir[300], sockpath[320];
	const char *tmp;
	struct xensim_sim *sim;
	struct xensim_evq *q;
	struct xensim_sock *ts; /* dom0, privileged */
	struct xensim_sock *rel; /* dom0 too, watching @releaseDomain */
	pid_t daemon;
	bool mxs; /* the daemon is mxenstored */
};

static struct xsa_host xh;

/* The next @releaseDomain on the watching connection: -ETIMEDOUT if none. */
static inline int xsa_wait_release(void)
{
	struct xensim_msg *ev;
	int rc = xensim_sock_wait_watch(xh.rel, &ev, XSA_TMO);

	if (rc == 0) {
		CHECK(!strcmp(ev->body, "@releaseDomain"));
		free(ev);
	}
	return rc;
}

static inline void xsa_start(const char *name, int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s PRELOAD XENSTORED\n", argv[0]);
		exit(2);
	}
	/* A reference daemon not installed is a skip (exit 77), which
	 * scripts/ctest-ci.sh turns into a failure in CI; what this tree
	 * builds must be there. */
	if (!tu_is_mxenstored(argv[2]) && access(argv[2], X_OK)) {
		printf("SKIP: %s not installed\n", argv[2]);
		exit(77);
	}
	CHECK(access(argv[1], R_OK) == 0 && access(argv[2], X_OK) == 0);
	xh.mxs = tu_is_mxenstored(argv[2]);
	xh.daemon = tu_host_start(name, argv[2], argv[1], xh.simdir, xh.rundir,
				  xh.sockpath, &xh.sim, &xh.tmp);
	/* The C daemon's socket exists a moment before it listens. */
	for (double end = tu_now() + 10;;) {
		int rc = xensim_sock_open(xh.sockpath, &xh.ts);

		if (rc != -ECONNREFUSED || tu_now() > end) {
			CHECK_RC(rc);
			break;
		}
		usleep(5000);
	}
	CHECK_RC(xensim_sock_open(xh.sockpath, &xh.rel));
	CHECK_RC(xensim_sock_watch(xh.rel, "@releaseDomain", "xsa-destroy"));
	CHECK_RC(xsa_wait_release());
	CHECK_RC(xensim_evq_open(xh.sim, &xh.q));
}

static inline char *xsa_home(uint32_t domid, const char *rel)
{
	static char buf[2][4096];
	static int k;
	char *b = buf[k++ & 1];

	snprintf(b, sizeof(buf[0]), "/local/domain/%u%s%s", domid, rel ? "/" : "",
		 rel ? rel : "");
	return b;
}

/* "n0 r5 w7" -> "n0\0r5\0w7\0"; returns the length with the last NUL. */
static inline uint32_t xsa_perms(char *out, size_t size, const char *spaced)
{
	size_t n = strlen(spaced);

	CHECK(n + 1 <= size);
	memcpy(out, spaced, n + 1);
	for (size_t i = 0; i < n; i++)
		if (out[i] == ' ')
			out[i] = '\0';
	return (uint32_t)n + 1;
}

static inline int xsa_dom0_set_perms(const char *path, const char *spaced)
{
	char p[256];
	uint32_t l = xsa_perms(p, sizeof(p), spaced);

	return xensim_sock_set_perms(xh.ts, path, p, l);
}

/* A guest's request with a NUL-separated argument list of len bytes. */
static inline int xsa_call(struct xensim_guest *g, uint32_t type, uint32_t tx,
			   const void *args, uint32_t len, struct xensim_msg **m)
{
	return xensim_guest_call(g, type, tx, args, len, m, XSA_TMO);
}

static inline int xsa_dom0_call(uint32_t type, uint32_t tx, const void *args,
				uint32_t len, struct xensim_msg **m)
{
	return xensim_sock_call(xh.ts, type, tx, args, len, m, XSA_TMO);
}

/* TRANSACTION_START on g; returns the transaction id. */
static inline uint32_t xsa_tx_start(struct xensim_guest *g)
{
	struct xensim_msg *m;
	uint32_t tx;

	CHECK_RC(xsa_call(g, XS_TRANSACTION_START, 0, "", 1, &m));
	tx = (uint32_t)strtoul(m->body, NULL, 10);
	free(m);
	return tx;
}

/* Introduce domain domid (XENSIM_ANY_DOMID: a new one) as the toolstack
 * does: its home owned by it, then INTRODUCE with its ring's port. */
static inline struct xensim_guest *xsa_guest(uint32_t domid, uint32_t *out)
{
	struct xensim_guest *g;
	char perms[16];
	uint32_t d;

	CHECK_RC(xensim_domain_create(xh.sim, domid, &d));
	CHECK_RC(xensim_sock_mkdir(xh.ts, xsa_home(d, NULL)));
	snprintf(perms, sizeof(perms), "n%u", d);
	CHECK_RC(xensim_sock_set_perms(xh.ts, xsa_home(d, NULL), perms,
				       (uint32_t)strlen(perms) + 1));
	CHECK_RC(xensim_guest_attach(xh.q, d, &g));
	CHECK_RC(xensim_sock_introduce(xh.ts, d, xensim_domain_mfn(d),
				       xensim_guest_port(g)));
	if (out)
		*out = d;
	return g;
}

static inline bool xsa_introduced(uint32_t domid)
{
	struct xensim_msg *m;
	char buf[16];
	bool yes;

	snprintf(buf, sizeof(buf), "%u", domid);
	CHECK_RC(xsa_dom0_call(XS_IS_DOMAIN_INTRODUCED, 0, buf,
			       (uint32_t)strlen(buf) + 1, &m));
	yes = m->body[0] == 'T';
	free(m);
	return yes;
}

/* Destroy a domain (its guest detached by the caller) and wait until the
 * daemon has released it, as a toolstack does: its @releaseDomain (fired
 * once its nodes are gone), and the simulator forgetting it (once no one
 * maps its ring page). */
static inline void xsa_destroy(uint32_t domid)
{
	struct xensim_dominfo di;
	double end = tu_now() + 30;

	CHECK_RC(xensim_domain_destroy(xh.sim, domid, false));
	CHECK_RC(xsa_wait_release());
	while (xensim_domain_info(xh.sim, domid, &di) == 0) {
		CHECK(tu_now() < end);
		usleep(5000);
	}
	CHECK(!xsa_introduced(domid));
}

/*
 * Watch events: first up to XSA_TMO for each of the n expected ones whose
 * path is path (NULL: any), then until quiet_ms pass without one; returns
 * how many had that path.  A late expected event under load is waited
 * for, not missed; one too many is still seen.  From dom0's socket
 * (g NULL) or guest g's ring.
 */
static inline int xsa_events(struct xensim_guest *g, const char *path, int n,
			     int quiet_ms)
{
	struct xensim_msg *ev;
	int got = 0;

	for (;;) {
		int tmo = got < n ? XSA_TMO : quiet_ms;

		if ((g ? xensim_guest_wait_watch(g, &ev, tmo)
		       : xensim_sock_wait_watch(xh.ts, &ev, tmo)) != 0)
			return got;
		got += !path || !strcmp(ev->body, path);
		free(ev);
	}
}

/* dom0's watch events until quiet_ms pass without one; those whose path
 * is path counted (path NULL: all). */
static inline int xsa_dom0_events(const char *path, int quiet_ms)
{
	return xsa_events(NULL, path, 0, quiet_ms);
}

/* The same on guest g's ring. */
static inline int xsa_guest_events(struct xensim_guest *g, const char *path,
				   int quiet_ms)
{
	return xsa_events(g, path, 0, quiet_ms);
}

/* n events of path expected (xsa_events): the count. */
static inline int xsa_dom0_expect(const char *path, int n, int quiet_ms)
{
	return xsa_events(NULL, path, n, quiet_ms);
}

static inline int xsa_guest_expect(struct xensim_guest *g, const char *path,
				   int n, int quiet_ms)
{
	return xsa_events(g, path, n, quiet_ms);
}

/* A round trip on g: everything the daemon sent before is in by now. */
static inline void xsa_sync(struct xensim_guest *g)
{
	CHECK_RC(xsa_call(g, XS_GET_DOMAIN_PATH, 0, "0", 2, NULL));
}

static inline void xsa_check_store(void)
{
	CHECK(tu_alive(xh.daemon));
	CHECK_RC(xsa_dom0_call(XS_CONTROL, 0, "check", 6, NULL));
}

/* The end of every advisory test: store invariants hold, the daemon is
 * alive and stops cleanly (mxenstored: exit status 0, so no sanitizer
 * report and no leak; the C daemon dies of the signal). */
static inline int xsa_finish(const char *xsa)
{
	xsa_check_store();
	printf("ok: XS_CONTROL check clean after the attack\n");
	xensim_evq_close(xh.q);
	xensim_sock_close(xh.rel);
	xensim_sock_close(xh.ts);
	kill(xh.daemon, SIGTERM);
	if (xh.mxs)
		CHECK(tu_wait(xh.daemon, 10) == 0);
	else
		tu_wait(xh.daemon, 10);
	xensim_close(xh.sim);
	printf("PASS %s\n", xsa);
	return 0;
}

#endif
