/*
 * Scale of the simulator itself: 10,000 domains (argument) in one run.
 *
 * A server process plays the daemon through the Xen library ABI only
 * (this binary re-executed with --server under LD_PRELOAD=libxensim.so,
 * linked against the real libxenevtchn/libxengnttab/libxenctrl), the way
 * mxenstored will: one xenevtchn handle, a grant map and an interdomain
 * binding per domain, VIRQ_DOM_EXC answered by one getinfolist sweep. It
 * echoes every request on the rings (same type and req_id, same body).
 * The parent creates the domains, introduces them to the server over a
 * pipe, drives all guests from one event queue (every request in flight at
 * once, twice), then kills every domain at once and waits until the
 * server has released them all and the simulator reaped them.
 *
 * Asserts behaviour only; prints one parseable line of measurements.
 *
 * usage: test_scale_sim [N]
 */
#include "tests/xensim/xensim.h"
#include "tests/xensim/testutil.h"

#include <poll.h>
#include <sys/mman.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xen/grant_table.h>
#include <xen/io/xs_wire.h>

#define MAXD 0x7FF0
#define TMO_S 300.0

/* ---- server (daemon side, ABI only) ------------------------------------ */

struct sdom {
	struct xenstore_domain_interface *intf;
	uint32_t domid;
	evtchn_port_t lport;
	uint8_t in[XENSTORE_PAYLOAD_MAX + 16];
	uint32_t in_have;
	uint8_t out[2 * (XENSTORE_PAYLOAD_MAX + 16)];
	uint32_t out_have;
};

static struct sdom *by_port[65536];
static struct sdom *by_dom[MAXD];
static xenevtchn_handle *xce;
static xengnttab_handle *xgt;

static void s_release(struct sdom *d)
{
	by_port[d->lport] = NULL;
	by_dom[d->domid] = NULL;
	xenevtchn_unbind(xce, d->lport);
	xengnttab_unmap(xgt, d->intf, 1);
	free(d);
}

/* Move reply bytes to rsp, then requests from req; true if we should
 * notify the guest. */
static bool s_serve(struct sdom *d)
{
	struct xenstore_domain_interface *r = d->intf;
	bool kick = false;

	for (;;) {
		uint32_t cons, prod, n;

		/* Flush pending output. */
		while (d->out_have) {
			uint32_t c = __atomic_load_n(&r->rsp_cons, __ATOMIC_ACQUIRE);
			uint32_t p = __atomic_load_n(&r->rsp_prod, __ATOMIC_RELAXED);
			uint32_t space = XENSTORE_RING_SIZE - (p - c);
			uint32_t off = MASK_XENSTORE_IDX(p), chunk = XENSTORE_RING_SIZE - off;

			if (p - c > XENSTORE_RING_SIZE || !space)
				return kick;
			if (chunk > space)
				chunk = space;
			if (chunk > d->out_have)
				chunk = d->out_have;
			memcpy(r->rsp + off, d->out, chunk);
			memmove(d->out, d->out + chunk, d->out_have - chunk);
			d->out_have -= chunk;
			__atomic_store_n(&r->rsp_prod, p + chunk, __ATOMIC_RELEASE);
			kick = true;
		}
		/* Take request bytes up to one whole message. */
		prod = __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE);
		cons = __atomic_load_n(&r->req_cons, __ATOMIC_RELAXED);
		if (prod - cons > XENSTORE_RING_SIZE || prod == cons)
			return kick;
		n = 16;
		if (d->in_have >= 16) {
			uint32_t len;

			memcpy(&len, d->in + 12, 4);
			if (len > XENSTORE_PAYLOAD_MAX)
				return kick; /* hostile: ignore this ring */
			n = 16 + len;
		}
		n -= d->in_have;
		{
			uint32_t off = MASK_XENSTORE_IDX(cons);
			uint32_t chunk = XENSTORE_RING_SIZE - off;

			if (chunk > prod - cons)
				chunk = prod - cons;
			if (chunk > n)
				chunk = n;
			memcpy(d->in + d->in_have, r->req + off, chunk);
			d->in_have += chunk;
			__atomic_store_n(&r->req_cons, cons + chunk, __ATOMIC_RELEASE);
			kick = true;
		}
		if (d->in_have >= 16) {
			uint32_t len;

			memcpy(&len, d->in + 12, 4);
			if (len <= XENSTORE_PAYLOAD_MAX && d->in_have == 16 + len) {
				/* Echo it. */
				memcpy(d->out + d->out_have, d->in, d->in_have);
				d->out_have += d->in_have;
				d->in_have = 0;
			}
		}
	}
}

static int server(void)
{
	static xc_domaininfo_t info[MAXD];
	struct pollfd pfd[2];
	xc_interface *xch;
	bool eof = false;
	int virq, ndom = 0;

	xce = xenevtchn_open(NULL, 0);
	xgt = xengnttab_open(NULL, 0);
	xch = xc_interface_open(NULL, NULL, 0);
	if (!xce || !xgt || !xch) {
		fprintf(stderr, "server: Xen ABI unavailable (no LD_PRELOAD?)\n");
		return 1;
	}
	virq = xenevtchn_bind_virq(xce, VIRQ_DOM_EXC);
	if (virq <= 0)
		return 1;
	pfd[0].fd = 0; /* introductions: (domid, port) pairs */
	pfd[0].events = POLLIN;
	pfd[1].fd = xenevtchn_fd(xce);
	pfd[1].events = POLLIN;
	while (!eof || ndom) {
		int port;

		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[0].revents) {
			uint32_t rec[64 * 2];
			ssize_t n = read(0, rec, sizeof(rec));

			if (n <= 0) {
				eof = true;
				pfd[0].fd = -1;
			}
			for (ssize_t i = 0; i + 1 < n / 4; i += 2) {
				struct sdom *d = calloc(1, sizeof(*d));
				int lp;

				if (!d)
					return 1;
				d->domid = rec[i];
				d->intf = xengnttab_map_grant_ref(xgt, d->domid,
								  GNTTAB_RESERVED_XENSTORE,
								  PROT_READ | PROT_WRITE);
				lp = xenevtchn_bind_interdomain(xce, d->domid, rec[i + 1]);
				if (!d->intf || lp <= 0 || lp >= 65536) {
					fprintf(stderr, "server: introduce %u failed\n", d->domid);
					return 1;
				}
				d->lport = (evtchn_port_t)lp;
				by_port[lp] = d;
				by_dom[d->domid] = d;
				ndom++;
			}
		}
		/* One wake: take every pending port. */
		while ((port = xenevtchn_pending(xce)) > 0) {
			if (port == virq) {
				/* One coherent sweep; release the dead. */
				int n = xc_domain_getinfolist(xch, 0, MAXD, info);
				static bool alive[MAXD];

				memset(alive, 0, sizeof(alive));
				for (int i = 0; i < n; i++)
					if (!(info[i].flags & XEN_DOMINF_dying))
						alive[info[i].domain] = true;
				for (uint32_t dd = 1; dd < MAXD; dd++) {
					if (by_dom[dd] && !alive[dd]) {
						s_release(by_dom[dd]);
						ndom--;
					}
				}
			} else if (by_port[port] && s_serve(by_port[port])) {
				xenevtchn_notify(xce, port);
			}
			xenevtchn_unmask(xce, (evtchn_port_t)port);
		}
	}
	xenevtchn_close(xce);
	xengnttab_close(xgt);
	xc_interface_close(xch);
	return 0;
}

/* ---- driver (guest side) --------------------------------------------- */

static void echo_round(struct xensim_evq *q, struct xensim_guest **g, int n, int round)
{
	uint32_t *ids = calloc((size_t)n, sizeof(*ids));
	double end = tu_now() + TMO_S;
	char body[64];
	int done = 0;

	CHECK(ids);
	for (int i = 0; i < n; i++) {
		int l = snprintf(body, sizeof(body), "r%d/dom%u", round, xensim_guest_domid(g[i]));

		CHECK_RC(xensim_guest_send(g[i], XS_READ, 0, body, (uint32_t)l + 1, &ids[i]));
	}
	while (done < n) {
		CHECK(tu_now() < end);
		CHECK_RC(xensim_evq_run(q, 100));
		for (int i = 0; i < n; i++) {
			struct xensim_msg *m = xensim_guest_reply(g[i]);

			if (!m)
				continue;
			snprintf(body, sizeof(body), "r%d/dom%u", round, xensim_guest_domid(g[i]));
			CHECK(m->req_id == ids[i] && m->type == XS_READ);
			CHECK(!strcmp(m->body, body));
			free(m);
			done++;
		}
	}
	free(ids);
}

int main(int argc, char **argv)
{
	double t0, t_create, t_intro, t_echo, t_death, t_total = tu_now();
	struct xensim_guest **g;
	struct xensim_evq *q;
	struct xensim_sim *sim;
	char dir[300], envs[2][400], self[600];
	int n = 10000, pipefd[2], left;
	uint32_t *domids;
	pid_t srv;

	if (argc > 1 && !strcmp(argv[1], "--server"))
		return server();
	if (argc > 2)
		return 2;
	if (argc > 1)
		n = atoi(argv[1]);
	CHECK(n > 0 && n < MAXD);
	snprintf(dir, sizeof(dir), "%s/sim", tu_mktemp("xensim-scale-sim"));
	CHECK_RC(xensim_init(dir));
	CHECK_RC(xensim_open(dir, &sim));
	CHECK_RC(xensim_evq_open(sim, &q));
	g = calloc((size_t)n, sizeof(*g));
	domids = calloc((size_t)n, sizeof(*domids));
	CHECK(g && domids);

	/* The server: ourselves, under the preload. */
	{
		ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);

		CHECK(l > 0);
		self[l] = '\0';
	}
	CHECK(getenv("XENSIM_PRELOAD"));
	snprintf(envs[0], sizeof(envs[0]), "XENSIM_DIR=%s", dir);
	snprintf(envs[1], sizeof(envs[1]), "LD_PRELOAD=%s", getenv("XENSIM_PRELOAD"));
	/* CLOEXEC: the server must not inherit the write end, or it never
	 * sees EOF. dup2 to stdin clears the flag on its copy. */
	CHECK(pipe2(pipefd, O_CLOEXEC) == 0);
	{
		char *sargv[] = { self, "--server", NULL };
		char *senv[] = { envs[0], envs[1], NULL };
		int saved = dup(0);

		/* The child inherits the pipe's read end as stdin. */
		CHECK(dup2(pipefd[0], 0) == 0);
		srv = tu_spawn(sargv, senv, NULL);
		CHECK(dup2(saved, 0) == 0);
		close(saved);
		close(pipefd[0]);
	}

	t0 = tu_now();
	for (int i = 0; i < n; i++)
		CHECK_RC(xensim_domain_create(sim, XENSIM_ANY_DOMID, &domids[i]));
	t_create = tu_now() - t0;

	t0 = tu_now();
	for (int i = 0; i < n; i++) {
		uint32_t rec[2];

		CHECK_RC(xensim_guest_attach(q, domids[i], &g[i]));
		rec[0] = domids[i];
		rec[1] = xensim_guest_port(g[i]);
		CHECK(write(pipefd[1], rec, sizeof(rec)) == sizeof(rec));
	}
	/* Introduced once the server's binding made our port interdomain:
	 * the first echo round below waits for that implicitly. */
	t_intro = tu_now() - t0;

	t0 = tu_now();
	echo_round(q, g, n, 1);
	echo_round(q, g, n, 2);
	t_echo = tu_now() - t0;

	t0 = tu_now();
	for (int i = 0; i < n; i++) {
		xensim_guest_detach(g[i]);
		CHECK_RC(xensim_domain_destroy(sim, domids[i], false));
	}
	do {
		struct xensim_dominfo di;

		CHECK(tu_now() - t0 < TMO_S);
		CHECK(tu_alive(srv));
		left = 0;
		for (int i = 0; i < n; i++)
			left += xensim_domain_info(sim, domids[i], &di) == 0;
		if (left)
			usleep(10000);
	} while (left);
	t_death = tu_now() - t0;

	close(pipefd[1]);
	CHECK(tu_wait(srv, 60) == 0);
	{
		struct xensim_stats st;

		xensim_stats(sim, &st);
		CHECK(st.lost == 0);
		printf("xensim_scale_sim domains=%d create_us_per_domain=%.2f "
		       "attach_introduce_s=%.2f echo_req_per_s=%.0f death_cleanup_s=%.2f "
		       "total_s=%.2f notify=%llu deliver=%llu virq=%llu\n",
		       n, t_create * 1e6 / n, t_intro, 2.0 * n / t_echo, t_death,
		       tu_now() - t_total, (unsigned long long)st.notify,
		       (unsigned long long)st.deliver, (unsigned long long)st.virq);
	}
	xensim_evq_close(q);
	xensim_close(sim);
	free(g);
	free(domids);
	printf("PASS\n");
	return 0;
}
