/*
 * The watch-event timeout (`-w watch-event=<seconds>`, the C daemon
 * 4.17's rule): watch events queued for an unprivileged domain that it
 * leaves unread longer than the timeout are dropped, so a guest that
 * does not read its ring cannot make the daemon hold its events for
 * ever (XSA-326's class); privileged connections are never subject to
 * it.
 *
 * Run with a 1 s timeout: a guest watches a directory and stops reading
 * its ring while dom0 writes 200 nodes under it.  What fits in the
 * ring's response half stays there (it is the guest's memory); the rest
 * waits in the daemon and, unread after 1 s, is dropped: "quota
 * <domid>" counts the drops, the daemon logs a line, and the events the
 * guest then reads plus those dropped are exactly the 200.  A later
 * event reaches it; dom0, watching the same directory, gets all 200;
 * another guest watching it that reads each event loses none.  Only "eventually",
 * with generous bounds: no timing is asserted.  Against a daemon lacking
 * the timeout the drop count never moves and the wait below fails.
 */
#include "tests/xsa/quota.h"

#define EVENTS 200

/* xsa_guest on an event queue of its own: the guest's ring is pumped
 * only by its own calls, never while others wait on xh.q. */
static struct xensim_guest *lone_guest(struct xensim_evq *q, uint32_t *out)
{
	struct xensim_guest *g;
	char perms[16];
	uint32_t d;

	CHECK_RC(xensim_domain_create(xh.sim, XENSIM_ANY_DOMID, &d));
	CHECK_RC(xensim_sock_mkdir(xh.ts, xsa_home(d, NULL)));
	snprintf(perms, sizeof(perms), "n%u", d);
	CHECK_RC(xensim_sock_set_perms(xh.ts, xsa_home(d, NULL), perms,
				       (uint32_t)strlen(perms) + 1));
	CHECK_RC(xensim_guest_attach(q, d, &g));
	CHECK_RC(xensim_sock_introduce(xh.ts, d, xensim_domain_mfn(d),
				       xensim_guest_port(g)));
	*out = d;
	return g;
}

int main(int argc, char **argv)
{
	struct xensim_guest *g, *other;
	uint32_t d, dother;
	char path[96], perms[64], logpath[400], line[512];
	struct xensim_msg *ev;
	struct xensim_evq *gq;
	long dropped = 0;
	int got, dom0_got;
	bool logged = false;
	FILE *f;

	/* One option more for mxenstored (tests/xensim/testutil.h). */
	setenv("MXS_DAEMON_ARG", "-wwatch-event=1", 1);
	xsa_start("watch_event_timeout", argc, argv);
	CHECK_RC(xensim_evq_open(xh.sim, &gq));
	g = lone_guest(gq, &d);
	other = xsa_guest(XENSIM_ANY_DOMID, &dother);
	CHECK_RC(xensim_guest_mkdir(g, "ev"));
	/* The other guest may read g's directory, and watches it. */
	snprintf(perms, sizeof(perms), "n%u r%u", d, dother);
	CHECK_RC(xsa_dom0_set_perms(xsa_home(d, "ev"), perms));
	CHECK_RC(xensim_guest_watch(g, "ev", "t"));
	CHECK(xsa_guest_expect(g, "ev", 1, 200) == 1);
	CHECK_RC(xensim_guest_watch(other, xsa_home(d, "ev"), "o"));
	CHECK(xsa_guest_expect(other, NULL, 1, 200) == 1);
	CHECK_RC(xensim_sock_watch(xh.ts, xsa_home(d, "ev"), "dom0"));
	CHECK(xsa_dom0_expect(NULL, 1, 200) == 1);

	/* The guest reads nothing from here on. */
	for (int i = 0; i < EVENTS; i++) {
		snprintf(path, sizeof(path), "%s/%03d", xsa_home(d, "ev"), i);
		CHECK_RC(xensim_sock_write(xh.ts, path, "x"));
		/* The other guest reads each of its events. */
		CHECK_RC(xensim_guest_wait_watch(other, &ev, XSA_TMO));
		free(ev);
	}
	for (double end = tu_now() + 60; dropped == 0; usleep(100000)) {
		CHECK(tu_now() < end);
		dropped = xq_usage(d, "events-dropped");
	}
	/* Settled: every event still queued had the same second to wait. */
	usleep(1500000);
	dropped = xq_usage(d, "events-dropped");
	CHECK(dropped > 0 && dropped < EVENTS);
	CHECK(xq_usage(dother, "events-dropped") == 0);

	got = xsa_guest_expect(g, NULL, EVENTS - (int)dropped, 500);
	CHECK(got + dropped == EVENTS);
	printf("ok: a guest not reading its ring: %ld of %d events dropped after "
	       "the timeout, %d kept in its ring\n", dropped, EVENTS, got);

	/* Later events arrive; the drops were logged. */
	CHECK_RC(xensim_sock_write(xh.ts, xsa_home(d, "ev/late"), "x"));
	CHECK(xsa_guest_expect(g, "ev/late", 1, 500) == 1);
	snprintf(logpath, sizeof(logpath), "%s/daemon.log", xh.tmp);
	f = fopen(logpath, "r");
	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f))
		logged |= strstr(line, "watch events left unread") != NULL;
	fclose(f);
	CHECK(logged);
	printf("ok: its later events arrive; the drops are logged\n");

	/* dom0 is never subject to it; nor is a guest that reads. */
	dom0_got = xsa_dom0_expect(NULL, EVENTS + 1, 500);
	CHECK(dom0_got == EVENTS + 1);
	CHECK(xsa_guest_expect(other, NULL, 1, 500) == 1); /* ev/late */
	CHECK(xq_usage(dother, "events-dropped") == 0);
	printf("ok: dom0 got all %d events\n", EVENTS + 1);

	xensim_guest_detach(g);
	xensim_guest_detach(other);
	xensim_evq_close(gq);
	return xsa_finish("watch_event_timeout");
}
