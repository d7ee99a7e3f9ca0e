/*
 * Scale: N (default 10,000) simulated domains against Debian's C xenstored
 * under libxensim.so, all guests driven from one thread and one event
 * queue. Every domain is created, given a home directory and introduced;
 * every guest writes and reads back a node over its ring (all requests in
 * flight at once); then all domains die at once and the daemon must
 * release every one of them (rings unmapped, nodes gone).
 *
 * Prints one parseable summary line; asserts behaviour, never timing.
 *
 * usage: test_scale PRELOAD XENSTORED [N]
 */
#include "tests/xensim/xensim.h"
#include "tests/xensim/testutil.h"

#include <xen/io/xs_wire.h>

#define TMO_S 600.0

/* Send one request per guest, then run the queue until all replied. */
static void round_trip(struct xensim_evq *q, struct xensim_guest **g, int n,
		       uint32_t type, const char *(*body)(int, uint32_t *len),
		       const char *(*want)(int))
{
	uint32_t *ids = calloc((size_t)n, sizeof(*ids));
	int done = 0;
	double end = tu_now() + TMO_S;

	CHECK(ids);
	for (int i = 0; i < n; i++) {
		uint32_t len;
		const char *b = body(i, &len);

		CHECK_RC(xensim_guest_send(g[i], type, 0, b, len, &ids[i]));
	}
	while (done < n) {
		CHECK(tu_now() < end);
		CHECK_RC(xensim_evq_run(q, 100));
		for (int i = 0; i < n; i++) {
			struct xensim_msg *m;

			while ((m = xensim_guest_reply(g[i]))) {
				CHECK(m->req_id == ids[i] && m->type == type);
				CHECK(!strcmp(m->body, want(i)));
				free(m);
				done++;
			}
		}
	}
	free(ids);
}

static uint32_t *domids;
static char sbuf[128], wbuf[64];

static const char *write_body(int i, uint32_t *len)
{
	*len = (uint32_t)snprintf(sbuf, sizeof(sbuf), "data/k%cv%u", 0, domids[i]);
	return sbuf;
}

static const char *read_body(int i, uint32_t *len)
{
	(void)i;
	*len = sizeof("data/k");
	return "data/k";
}

static const char *want_ok(int i)
{
	(void)i;
	return "OK";
}

static const char *want_value(int i)
{
	snprintf(wbuf, sizeof(wbuf), "v%u", domids[i]);
	return wbuf;
}

int main(int argc, char **argv)
{
	char simdir[300], rundir[300], sockpath[320];
	double t0, t_create, t_intro, t_write, t_read, t_death;
	struct xensim_guest **g;
	struct xensim_evq *q;
	struct xensim_sim *sim;
	struct xensim_sock *ts;
	struct xensim_msg *ev;
	const char *tmp;
	pid_t daemon;
	int n = 10000, left;

	if (argc < 3) {
		fprintf(stderr, "usage: %s PRELOAD XENSTORED [N]\n", argv[0]);
		return 2;
	}
	if (argc > 3)
		n = atoi(argv[3]);
	CHECK(n > 0 && n < 0x7FF0);
	if (access(argv[2], X_OK)) {
		printf("SKIP: %s not installed\n", argv[2]);
		return 77;
	}
	daemon = tu_host_start("xensim-scale", argv[2], argv[1], simdir, rundir, sockpath,
			       &sim, &tmp);
	CHECK_RC(xensim_sock_open(sockpath, &ts));
	CHECK_RC(xensim_evq_open(sim, &q));
	g = calloc((size_t)n, sizeof(*g));
	domids = calloc((size_t)n, sizeof(*domids));
	CHECK(g && domids);

	/* Creation alone: the simulator's cost per domain. */
	t0 = tu_now();
	for (int i = 0; i < n; i++)
		CHECK_RC(xensim_domain_create(sim, XENSIM_ANY_DOMID, &domids[i]));
	t_create = tu_now() - t0;

	/* Toolstack: home directory owned by the guest, then introduce. */
	t0 = tu_now();
	for (int i = 0; i < n; i++) {
		char path[64], perms[16];

		snprintf(path, sizeof(path), "/local/domain/%u", domids[i]);
		CHECK_RC(xensim_sock_mkdir(ts, path));
		snprintf(perms, sizeof(perms), "n%u", domids[i]);
		CHECK_RC(xensim_sock_set_perms(ts, path, perms, (uint32_t)strlen(perms)));
		CHECK_RC(xensim_guest_attach(q, domids[i], &g[i]));
		CHECK_RC(xensim_sock_introduce(ts, domids[i], xensim_domain_mfn(domids[i]),
					       xensim_guest_port(g[i])));
	}
	t_intro = tu_now() - t0;

	t0 = tu_now();
	round_trip(q, g, n, XS_WRITE, write_body, want_ok);
	t_write = tu_now() - t0;
	t0 = tu_now();
	round_trip(q, g, n, XS_READ, read_body, want_value);
	t_read = tu_now() - t0;

	/* Death storm. */
	CHECK_RC(xensim_sock_watch(ts, "@releaseDomain", "rel"));
	CHECK_RC(xensim_sock_wait_watch(ts, &ev, 30000));
	free(ev);
	t0 = tu_now();
	for (int i = 0; i < n; i++) {
		xensim_guest_detach(g[i]);
		CHECK_RC(xensim_domain_destroy(sim, domids[i], false));
	}
	/* Every domain must vanish, which needs the daemon to unmap it. */
	do {
		struct xensim_dominfo di;

		CHECK(tu_now() - t0 < TMO_S);
		left = 0;
		for (int i = 0; i < n; i++)
			left += xensim_domain_info(sim, domids[i], &di) == 0;
		if (left)
			usleep(20000);
	} while (left);
	t_death = tu_now() - t0;
	CHECK_RC(xensim_sock_wait_watch(ts, &ev, (int)(TMO_S * 1000)));
	CHECK(!strcmp(ev->body, "@releaseDomain"));
	free(ev);
	printf("xensim_scale domains=%d create_us_per_domain=%.2f introduce_s=%.2f "
	       "write_s=%.2f read_s=%.2f ring_req_per_s=%.0f death_cleanup_s=%.2f\n",
	       n, t_create * 1e6 / n, t_intro, t_write, t_read,
	       2.0 * n / (t_write + t_read), t_death);
	fflush(stdout);
	for (int i = 0; i < n; i += n / 10 + 1) {
		char path[64], *val;

		snprintf(path, sizeof(path), "/local/domain/%u/data/k", domids[i]);
		CHECK(xensim_sock_read(ts, path, &val, NULL) == -ENOENT);
	}
	CHECK(tu_alive(daemon));
	xensim_sock_close(ts);
	xensim_evq_close(q);
	kill(daemon, SIGTERM);
	if (tu_is_mxenstored(argv[2]))
		CHECK(tu_wait(daemon, 10) == 0); /* clean stop, no leak */
	else
		tu_wait(daemon, 10);
	xensim_close(sim);
	free(g);
	free(domids);
	printf("PASS\n");
	return 0;
}
