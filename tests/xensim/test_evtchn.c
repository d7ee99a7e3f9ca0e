/*
 * Event-channel semantics across processes, through the simulator core:
 *   - notify marks the peer pending and wakes its fd; pending returns one
 *     port per call until none is left;
 *   - a taken port stays masked: further notifies coalesce and arrive once
 *     after unmask;
 *   - many ports pending at once drain after a single wake;
 *   - both directions; sends on an unbound port are dropped;
 *   - VIRQ_DOM_EXC fires on shutdown and destruction, in another process;
 *     a second binding per domain is refused;
 *   - destroying a domain unbinds the peer's end;
 *   - the handle of a process that died is reclaimed.
 *
 * The parent plays dom0 (like a daemon), a child process plays the guests.
 * They step through the scenario over a pipe pair.
 */
#include "tests/xensim/xensim.h"
#include "tests/xensim/testutil.h"

#include <poll.h>

#define NDOM 64

static int to_child[2], to_parent[2];

static void say(int fd, char c)
{
	CHECK(write(fd, &c, 1) == 1);
}

static char hear(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	CHECK(poll(&p, 1, 60000) == 1);
	CHECK(read(fd, &c, 1) == 1);
	return c;
}

/* Number of pending ports right now (fd must already be readable). */
static bool readable(struct xensim_evq *q, int timeout_ms)
{
	return xensim_evq_wait(q, timeout_ms) == 1;
}

static void child(const char *dir, const uint32_t *dom)
{
	struct xensim_guest *g[NDOM];
	struct xensim_evq *q;
	struct xensim_sim *sim;
	uint32_t d, p;
	char c;

	CHECK_RC(xensim_open(dir, &sim));
	CHECK_RC(xensim_evq_open(sim, &q));
	for (int i = 0; i < NDOM; i++)
		CHECK_RC(xensim_guest_attach(q, dom[i], &g[i]));
	say(to_parent[1], 'a');

	while ((c = hear(to_child[0])) != 'q') {
		switch (c) {
		case '1': /* one notify on guest 0 */
			CHECK_RC(xensim_evq_notify(q, dom[0], xensim_guest_port(g[0])));
			break;
		case '2': /* two more while dom0 has it masked */
			CHECK_RC(xensim_evq_notify(q, dom[0], xensim_guest_port(g[0])));
			CHECK_RC(xensim_evq_notify(q, dom[0], xensim_guest_port(g[0])));
			break;
		case 'b': /* everyone, twice */
			for (int r = 0; r < 2; r++)
				for (int i = 0; i < NDOM; i++)
					CHECK_RC(xensim_evq_notify(q, dom[i],
								   xensim_guest_port(g[i])));
			break;
		case 'r': /* expect dom0's notification on guest 5 */
			CHECK(readable(q, 60000));
			CHECK_RC(xensim_evq_pending(q, &d, &p));
			CHECK(d == dom[5] && p == xensim_guest_port(g[5]));
			CHECK(xensim_evq_pending(q, &d, &p) == -EAGAIN);
			CHECK_RC(xensim_evq_unmask(q, d, p));
			break;
		case 's':
			CHECK_RC(xensim_domain_shutdown(sim, dom[1], 3 /* crash */));
			break;
		case 'd':
			CHECK_RC(xensim_domain_destroy(sim, dom[2], false));
			break;
		case 'x':
			/* Die without closing anything. */
			_exit(0);
		}
		say(to_parent[1], 'k');
	}
	_exit(0);
}

int main(void)
{
	struct xensim_evq *q, *q2;
	struct xensim_guest *gg;
	struct xensim_sim *sim;
	struct xensim_dominfo di;
	uint32_t dom[NDOM], lport[NDOM], d, p, vport;
	bool seen[NDOM];
	char dir[300];
	pid_t pid;
	int n;

	snprintf(dir, sizeof(dir), "%s/sim", tu_mktemp("xensim-evtchn"));
	CHECK_RC(xensim_init(dir));
	CHECK_RC(xensim_open(dir, &sim));
	for (int i = 0; i < NDOM; i++)
		CHECK_RC(xensim_domain_create(sim, XENSIM_ANY_DOMID, &dom[i]));
	CHECK(pipe(to_child) == 0 && pipe(to_parent) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		child(dir, dom);
	tu_children[tu_nchildren++] = pid;

	/* dom0 side: bind to every guest's xenstore port, like INTRODUCE. */
	CHECK_RC(xensim_evq_open(sim, &q));
	CHECK(hear(to_parent[0]) == 'a');
	for (int i = 0; i < NDOM; i++) {
		CHECK_RC(xensim_domain_info(sim, dom[i], &di));
		n = xensim_evq_bind_interdomain(q, 0, dom[i], di.xs_port);
		CHECK_RC(n);
		lport[i] = (uint32_t)n;
	}
	/* Binding may leave ports pending (Xen sets the new local port
	 * pending); start from a quiet queue. */
	while (xensim_evq_pending(q, &d, &p) == 0)
		CHECK_RC(xensim_evq_unmask(q, d, p));
	CHECK(!readable(q, 0));

	/* One notify: one pending port, exactly once. */
	say(to_child[1], '1');
	CHECK(hear(to_parent[0]) == 'k');
	CHECK(readable(q, 60000));
	CHECK_RC(xensim_evq_pending(q, &d, &p));
	CHECK(d == 0 && p == lport[0]);
	CHECK(xensim_evq_pending(q, &d, &p) == -EAGAIN);
	printf("ok: notify -> pending once\n");

	/* Masked until unmask; the two notifies coalesce into one. */
	say(to_child[1], '2');
	CHECK(hear(to_parent[0]) == 'k');
	CHECK(!readable(q, 0));
	CHECK(xensim_evq_pending(q, &d, &p) == -EAGAIN);
	CHECK_RC(xensim_evq_unmask(q, 0, lport[0]));
	CHECK(readable(q, 0));
	CHECK_RC(xensim_evq_pending(q, &d, &p));
	CHECK(d == 0 && p == lport[0]);
	CHECK(xensim_evq_pending(q, &d, &p) == -EAGAIN);
	CHECK_RC(xensim_evq_unmask(q, 0, lport[0]));
	CHECK(!readable(q, 0));
	printf("ok: masked until unmask, coalesced\n");

	/* Batching: 2 x NDOM notifies, one wake drains NDOM distinct ports. */
	say(to_child[1], 'b');
	CHECK(hear(to_parent[0]) == 'k');
	CHECK(readable(q, 60000));
	memset(seen, 0, sizeof(seen));
	n = 0;
	while (xensim_evq_pending(q, &d, &p) == 0) {
		int i;

		for (i = 0; i < NDOM && lport[i] != p; i++)
			;
		CHECK(d == 0 && i < NDOM && !seen[i]);
		seen[i] = true;
		n++;
	}
	CHECK(n == NDOM);
	for (int i = 0; i < NDOM; i++)
		CHECK_RC(xensim_evq_unmask(q, 0, lport[i]));
	CHECK(!readable(q, 0));
	printf("ok: %d pending ports drained after one wake\n", n);

	/* Other direction. */
	CHECK_RC(xensim_evq_notify(q, 0, lport[5]));
	say(to_child[1], 'r');
	CHECK(hear(to_parent[0]) == 'k');
	printf("ok: dom0 -> guest notify\n");

	/* VIRQ_DOM_EXC: one binding per domain; fires on state changes made
	 * by another process. */
	n = xensim_evq_bind_virq(q, 0, XENSIM_VIRQ_DOM_EXC);
	CHECK_RC(n);
	vport = (uint32_t)n;
	CHECK(xensim_evq_bind_virq(q, 0, XENSIM_VIRQ_DOM_EXC) == -EEXIST);
	CHECK(!readable(q, 0));
	say(to_child[1], 's');
	CHECK(hear(to_parent[0]) == 'k');
	CHECK(readable(q, 60000));
	CHECK_RC(xensim_evq_pending(q, &d, &p));
	CHECK(d == 0 && p == vport);
	CHECK_RC(xensim_evq_unmask(q, 0, vport));
	CHECK_RC(xensim_domain_info(sim, dom[1], &di));
	CHECK(di.shutdown && di.shutdown_reason == 3 && !di.dying);

	say(to_child[1], 'd');
	CHECK(hear(to_parent[0]) == 'k');
	CHECK(readable(q, 60000));
	CHECK_RC(xensim_evq_pending(q, &d, &p));
	CHECK(d == 0 && p == vport);
	CHECK_RC(xensim_evq_unmask(q, 0, vport));
	/* Nobody mapped its page: the domain is gone at once. */
	CHECK(xensim_domain_info(sim, dom[2], &di) == -ESRCH);
	printf("ok: VIRQ_DOM_EXC on shutdown and destroy\n");

	/* The dead domain's channel closed: our end is unbound, sends are
	 * dropped, unbinding works. */
	CHECK(xensim_evq_notify(q, 0, lport[2]) == 0);
	CHECK_RC(xensim_evq_unbind(q, 0, lport[2]));
	CHECK(xensim_evq_unbind(q, 0, lport[2]) == -ENOTCONN);
	CHECK(xensim_evq_unbind(q, 0, vport) == 0);
	CHECK_RC(xensim_evq_bind_virq(q, 0, XENSIM_VIRQ_DOM_EXC));

	/* A mapped dying domain lingers until unmapped (tested through the
	 * gnttab ABI in xensim_abi); here: force. */
	CHECK_RC(xensim_domain_destroy(sim, dom[3], true));
	CHECK(xensim_domain_info(sim, dom[3], &di) == -ESRCH);

	/* The guest process dies holding its attachments; the next handle
	 * open reclaims them, so another guest can attach. */
	say(to_child[1], 'x');
	CHECK(tu_wait(pid, 60) == 0);
	CHECK_RC(xensim_evq_open(sim, &q2));
	CHECK_RC(xensim_guest_attach(q2, dom[4], &gg));
	xensim_guest_detach(gg);
	xensim_evq_close(q2);
	printf("ok: a dead process's handle is reclaimed\n");

	xensim_evq_close(q);
	xensim_close(sim);
	printf("PASS\n");
	return 0;
}
