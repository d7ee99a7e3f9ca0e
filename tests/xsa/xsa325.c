/*
 * XSA-325 (CVE-2020-29483): a guest disturbed domain cleanup.  When a
 * guest broke the ring protocol, the C daemon dropped it as if it had
 * died and fired @releaseDomain while it was still running; the
 * toolstack found nobody dead, and when the guest really died later the
 * daemon no longer knew it, so no @releaseDomain came: a zombie domain
 * whose memory stayed mapped.  The fix: a broken connection is only
 * stopped; the domain is released (and @releaseDomain fired) when it is
 * really gone.
 *
 * The attack here: three guests break the protocol (corrupt indices,
 * garbage, an oversized header).  Against a daemon without the fix dom0
 * receives @releaseDomain at once, the domains stop being introduced,
 * and at their death no event comes and their rings stay mapped (the
 * simulator never forgets them): the checks below fail.
 */
#include "tests/xsa/xsa.h"

#define NB 3

int main(int argc, char **argv)
{
	struct xensim_guest *bad[NB], *ok;
	struct xensim_dominfo di;
	uint32_t d[NB], dok;
	char *val;

	xsa_start("xsa325", argc, argv);
	ok = xsa_guest(XENSIM_ANY_DOMID, &dok);
	for (int i = 0; i < NB; i++)
		bad[i] = xsa_guest(XENSIM_ANY_DOMID, &d[i]);
	CHECK_RC(xensim_sock_watch(xh.ts, "@releaseDomain", "rel"));
	xsa_dom0_events(NULL, 200);

	CHECK_RC(xensim_guest_corrupt_indices(bad[0], XENSIM_CORRUPT_REQ_PROD, 0));
	CHECK(xensim_guest_send_garbage(bad[1], 512, 325) > 0);
	CHECK(xensim_guest_send_oversized(bad[2], 1u << 16) > 0);
	/* Served meanwhile, so the daemon has read the bad rings. */
	for (int r = 0; r < 10; r++)
		CHECK_RC(xensim_guest_write(ok, "data/x", "1"));
	for (int i = 0; i < NB; i++) {
		double end = tu_now() + 30;

		while (xensim_guest_ring_error(bad[i]) == XENSTORE_ERROR_NONE) {
			CHECK(tu_now() < end);
			CHECK_RC(xensim_evq_run(xh.q, 10));
		}
	}
	CHECK(xsa_dom0_events("@releaseDomain", 300) == 0);
	for (int i = 0; i < NB; i++) {
		CHECK(xsa_introduced(d[i]));
		CHECK_RC(xensim_domain_info(xh.sim, d[i], &di));
		CHECK(di.maps > 0);
	}
	printf("ok: broken rings stopped, domains still known, no @releaseDomain\n");

	/* Their real death: one @releaseDomain each, rings unmapped. */
	for (int i = 0; i < NB; i++) {
		xensim_guest_detach(bad[i]);
		xsa_destroy(d[i]);
		CHECK(xsa_dom0_expect("@releaseDomain", 1, 300) == 1);
		CHECK(xensim_sock_read(xh.ts, xsa_home(d[i], NULL), &val, NULL) == -ENOENT);
	}
	CHECK_RC(xensim_guest_read(ok, "data/x", &val, NULL));
	free(val);
	printf("ok: each death released once, its ring unmapped\n");

	xensim_guest_detach(ok);
	return xsa_finish("xsa_325");
}
