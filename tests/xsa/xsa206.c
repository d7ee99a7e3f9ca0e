/*
 * XSA-206 (CVE-2017-2615..): a guest flooding writes.  Every write
 * costs the daemon a commit, watch matching and events for everyone
 * watching; a guest writing as fast as its ring allows took the daemon
 * from every other domain.  The C daemon's fix is a per-domain write
 * rate limit (200 writes/s, bursts of 10): when a domain has used its
 * credit, its requests wait (the daemon stops reading its ring) until
 * the credit comes back; nothing is dropped.
 *
 * The attack here: a guest pipelines 400 writes (and commits) at once,
 * far more than a burst, while another guest and dom0 work.  Checked
 * without timing: every one of the 400 is answered OK, in order, the
 * values all land, and the daemon reports (xenstore-control quota
 * <domid>, "write-delays") that it held the flooding guest back; dom0,
 * flooding too, is never held.  Against a daemon lacking the limit the
 * delay count stays 0: the check below fails.
 */
#include "tests/xsa/quota.h"

#define N 400

int main(int argc, char **argv)
{
	struct xensim_guest *g, *other;
	struct xensim_msg *m;
	uint32_t d, dother, ids[N];
	char body[64], *val;
	double end;
	int n = 0;

	xsa_start("xsa206", argc, argv);
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

	xensim_guest_detach(g);
	xensim_guest_detach(other);
	return xsa_finish("xsa_206");
}
