/*
 * XSA-483: quota counts not reset when a domid is reused.  The daemon
 * keeps per-domain counters (nodes, watches, transactions); when a
 * domain died and another was created under the same domid, a daemon
 * that kept (or never fully returned) the dead domain's counts charged
 * the newcomer for its predecessor's nodes, so the new guest found its
 * quota used up (or, counting down, got more than its share).
 *
 * The attack here: a guest fills its nodes quota (20 here) and opens
 * watches and transactions, then dies without cleaning up; a new domain
 * with the same domid is introduced.  Against a daemon lacking the fix,
 * "xenstore-control quota <domid>" shows the old counts and the new
 * guest's writes fail with ENOSPC before it has 20 nodes: the checks
 * below fail.
 */
#include "tests/xsa/quota.h"

#define NODES 20

int main(int argc, char **argv)
{
	struct xensim_guest *g, *again;
	struct xensim_msg *m;
	uint32_t d, got;
	int n;

	xsa_start("xsa483", argc, argv);
	xq_set("nodes", NODES);
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	/* Its home, data/ and 18 values fit; the next write is refused. */
	n = xq_fill(g, "data/n", 100, -ENOSPC);
	CHECK(n == NODES - 2);
	CHECK(xq_usage(d, "nodes") == NODES);
	CHECK_RC(xensim_guest_watch(g, "data", "w"));
	CHECK_RC(xsa_call(g, XS_TRANSACTION_START, 0, "", 1, &m));
	free(m);
	CHECK(xq_usage(d, "watches") == 1);
	CHECK(xq_usage(d, "transactions") == 1);
	printf("ok: guest %u at its quota: %d nodes, a watch, a transaction\n",
	       d, NODES);

	xensim_guest_detach(g);
	xsa_destroy(d);
	xsa_dom0_events(NULL, 100);
	CHECK(xq_usage(d, "nodes") == -1); /* gone: unknown to the daemon */

	CHECK_RC(xensim_domain_create(xh.sim, d, &got));
	CHECK(got == d);
	{
		char perms[16];

		CHECK_RC(xensim_sock_mkdir(xh.ts, xsa_home(d, NULL)));
		snprintf(perms, sizeof(perms), "n%u", d);
		CHECK_RC(xensim_sock_set_perms(xh.ts, xsa_home(d, NULL), perms,
					       (uint32_t)strlen(perms) + 1));
		CHECK_RC(xensim_guest_attach(xh.q, d, &again));
		CHECK_RC(xensim_sock_introduce(xh.ts, d, xensim_domain_mfn(d),
					       xensim_guest_port(again)));
	}
	CHECK(xq_usage(d, "nodes") == 1);
	CHECK(xq_usage(d, "watches") == 0);
	CHECK(xq_usage(d, "transactions") == 0);
	n = xq_fill(again, "fresh/n", 100, -ENOSPC);
	CHECK(n == NODES - 2); /* its home and fresh/ */
	CHECK(xq_usage(d, "nodes") == NODES);
	printf("ok: the reused domid %u starts at zero: its whole quota free\n", d);

	xensim_guest_detach(again);
	return xsa_finish("xsa_483");
}
