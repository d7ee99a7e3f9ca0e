/*
 * XSA-206 (CVE-2017-2615..): a guest flooding writes.  Every write
 * costs the daemon a commit, watch matching and events for everyone
 * watching; a guest writing as fast as its ring allows took the daemon
 * from every other domain.  The C daemon's fix is a per-domain write
 * rate limit (200 writes/s, bursts of 10): when a domain has used its
 * credit, its requests wait (the daemon stops reading its ring) until
 * the credit comes back; nothing is dropped.
 *
 * The C daemon limits writes while some transaction is open anywhere
 * (the writes could starve its commits), so dom0 holds one open during
 * the floods below.
 *
 * The attack here: a guest pipelines 400 writes (and commits) at once,
 * far more than a burst, while another guest and dom0 work.  Checked
 * without timing: every one of the 400 is answered OK, in order, the
 * values all land, and the daemon reports (xenstore-control quota
 * <domid>, "write-delays") that it held the flooding guest back; dom0,
 * flooding too, is never held.  Against a daemon lacking the limit the
 * delay count stays 0: the check below fails.  First, the C daemon's
 * global part: many guests writing at once share one rate and one
 * reserve (many_guests).
 */
#include "tests/xsa/quota.h"

#define N 400
/* The global part: guests writing at once share the C daemon's 200
 * writes/s; new domains borrow their first bursts from one reserve,
 * at most 5 bursts (of 10) into debt. */
#define GUESTS 8
#define PER 100
#define RATE 200
#define BORROW (5 * 10)

/*
 * GUESTS new guests pipeline PER writes each at once.  Every write is
 * paid by credit: the reserve starts empty (nothing was introduced
 * before), new guests borrow at most BORROW from it, and time adds RATE
 * a second to all guests together.  So over the window from before the
 * first introduction to the last reply, the writes admitted are at most
 * RATE x window + BORROW (+ one each for rounding).  A bound only a
 * daemon going faster than its credit breaks, never a slow machine.  A
 * daemon limiting each domain alone (200/s each) admits the 800 in well
 * under a second: the check fails.
 */
static void many_guests(void)
{
	static uint32_t ids[GUESTS][PER];
	struct xensim_guest *gs[GUESTS];
	uint32_t ds[GUESTS];
	int got[GUESTS] = { 0 }, total = 0;
	double t0 = tu_now(), window, end;
	char body[64];

	for (int k = 0; k < GUESTS; k++)
		gs[k] = xsa_guest(XENSIM_ANY_DOMID, &ds[k]);
	for (int i = 0; i < PER; i++)
		for (int k = 0; k < GUESTS; k++) {
			int l = snprintf(body, sizeof(body), "burst/%d", i % 10) + 1;
			int v = snprintf(body + l, sizeof(body) - (size_t)l, "%d", i);

			CHECK_RC(xensim_guest_send(gs[k], XS_WRITE, 0, body,
						   (uint32_t)(l + v), &ids[k][i]));
		}
	end = tu_now() + 120;
	while (total < GUESTS * PER) {
		CHECK(tu_now() < end);
		CHECK(xensim_evq_run(xh.q, 100) >= 0);
		for (int k = 0; k < GUESTS; k++) {
			struct xensim_msg *m;

			while ((m = xensim_guest_reply(gs[k]))) {
				CHECK(m->req_id == ids[k][got[k]]);
				CHECK(m->type == XS_WRITE && !strcmp(m->body, "OK"));
				free(m);
				got[k]++;
				total++;
			}
		}
	}
	window = tu_now() - t0;
	CHECK(total <= RATE * window + BORROW + GUESTS);
	for (int k = 0; k < GUESTS; k++)
		CHECK(xq_usage(ds[k], "write-delays") > 0);
	printf("ok: %d guests wrote %d times at once in %.2f s: at most %d/s "
	       "together plus %d borrowed\n", GUESTS, total, window, RATE,
	       BORROW);
	for (int k = 0; k < GUESTS; k++) {
		xensim_guest_detach(gs[k]);
		xsa_destroy(ds[k]);
	}
}

int main(int argc, char **argv)
{
	struct xensim_guest *g, *other;
	struct xensim_msg *m;
	uint32_t d, dother, ids[N], dom0_tx;
	char body[64], *val;
	double end;
	int n = 0;

	xsa_start("xsa206", argc, argv);
	/* First, while the reserve is empty (nothing introduced yet). */
	CHECK_RC(xsa_dom0_call(XS_TRANSACTION_START, 0, "", 1, &m));
	dom0_tx = (uint32_t)strtoul(m->body, NULL, 10);
	free(m);
	many_guests();
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	other = xsa_guest(XENSIM_ANY_DOMID, &dother);
	for (int i = 0; i < N; i++) {
		int l = snprintf(body, sizeof(body), "flood/%d", i % 50) + 1;
		int v = snprintf(body + l, sizeof(body) - (size_t)l, "%d", i);

		CHECK_RC(xensim_guest_send(g, XS_WRITE, 0, body, (uint32_t)(l + v), &ids[i]));
	}
	/* Others are served meanwhile. */
	CHECK_RC(xensim_guest_write(other, "calm", "1"));
	CHECK_RC(xensim_sock_write(xh.ts, "/dom0/calm", "1"));
	end = tu_now() + 60;
	while (n < N) {
		CHECK(tu_now() < end);
		CHECK(xensim_evq_run(xh.q, 100) >= 0);
		while ((m = xensim_guest_reply(g))) {
			CHECK(m->req_id == ids[n]);
			CHECK(m->type == XS_WRITE && !strcmp(m->body, "OK"));
			free(m);
			n++;
		}
	}
	CHECK_RC(xensim_guest_read(g, "flood/49", &val, NULL));
	CHECK(!strcmp(val, "399"));
	free(val);
	CHECK(xq_usage(d, "write-delays") > 0);
	CHECK(xq_usage(dother, "write-delays") == 0);
	printf("ok: %d pipelined writes all answered in order; the flooding guest "
	       "was held back %ld times, the calm one never\n", N,
	       xq_usage(d, "write-delays"));

	/* dom0 is never limited: 400 writes, no delay to see, all land. */
	for (int i = 0; i < N; i++) {
		snprintf(body, sizeof(body), "%d", i);
		CHECK_RC(xensim_sock_write(xh.ts, "/dom0/flood", body));
	}
	printf("ok: dom0 exempt\n");
	CHECK_RC(xsa_dom0_call(XS_TRANSACTION_END, dom0_tx, "F", 2, NULL));

	/* No transaction open: nothing is limited (the C daemon's rule). */
	for (int i = 0; i < 3 * 10; i++)
		CHECK_RC(xensim_guest_write(other, "free", "1"));
	CHECK(xq_usage(dother, "write-delays") == 0);
	printf("ok: no transaction open: 30 writes in a row, none held\n");

	xensim_guest_detach(g);
	xensim_guest_detach(other);
	return xsa_finish("xsa_206");
}
