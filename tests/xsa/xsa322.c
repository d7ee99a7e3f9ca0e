/*
 * XSA-322 (CVE-2020-29481): a new domain inherited the permissions of a
 * dead domain with the same domid.  Permission entries name domids; when
 * a domain died its entries stayed on nodes it did not own, and nodes it
 * had created outside its home stayed owned by its domid, so the next
 * domain given that domid could read and write them.  The fix: entries
 * naming a domain that no longer exists are dead (here: dropped wherever
 * a list is read, and judged against the domain's introduction), and a
 * dead domain's nodes go with it (since 4.17 they are removed, XSA-415).
 *
 * The attack here: domain D is granted read on /dom0/shared and write on
 * /dom0/pub, where it creates a node (which it then owns); D dies; the
 * toolstack re-creates domid D for a new guest.  Against a daemon
 * without the fix, the new D reads /dom0/shared, writes /dom0/pub and
 * finds "its" old node; the checks below fail.
 *
 * Then the toolstack reuses a domid the moment the hypervisor has reaped
 * the domain (once the daemon unmapped its ring), without waiting for
 * @releaseDomain: the dead domain owned 400 nodes, and the new domain's
 * home, made at once, must survive the removal of the old one's nodes
 * (which must all be done before the domid can be reused).
 */
#include "tests/xsa/xsa.h"

int main(int argc, char **argv)
{
	struct xensim_guest *g, *again;
	struct xensim_msg *m;
	char perms[64], *val;
	uint32_t d, got;

	xsa_start("xsa322", argc, argv);
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	CHECK_RC(xensim_sock_write(xh.ts, "/dom0/shared", "for-d"));
	snprintf(perms, sizeof(perms), "n0 r%u", d);
	CHECK_RC(xsa_dom0_set_perms("/dom0/shared", perms));
	CHECK_RC(xensim_sock_mkdir(xh.ts, "/dom0/pub"));
	snprintf(perms, sizeof(perms), "n0 b%u", d);
	CHECK_RC(xsa_dom0_set_perms("/dom0/pub", perms));
	CHECK_RC(xensim_guest_read(g, "/dom0/shared", &val, NULL));
	free(val);
	CHECK_RC(xensim_guest_write(g, "/dom0/pub/mine", "old"));
	CHECK_RC(xsa_dom0_call(XS_GET_PERMS, 0, "/dom0/pub/mine", 15, &m));
	CHECK((uint32_t)atoi(m->body + 1) == d); /* owned by D */
	free(m);

	xensim_guest_detach(g);
	xsa_destroy(d);
	again = xsa_guest(d, &got); /* the same domid again */
	CHECK(got == d);
	CHECK_RC(xensim_guest_write(again, "data/new", "1")); /* its home works */

	CHECK(xensim_guest_read(again, "/dom0/shared", &val, NULL) == -EACCES);
	CHECK(xensim_guest_write(again, "/dom0/pub/x", "1") == -EACCES);
	CHECK(xensim_guest_read(again, "/dom0/pub/mine", &val, NULL) < 0);
	CHECK(xensim_sock_read(xh.ts, "/dom0/pub/mine", &val, NULL) == -ENOENT);
	/* The C daemon still shows the dead entry (not enforced): compat.md. */
	if (xh.mxs) {
		CHECK_RC(xsa_dom0_call(XS_GET_PERMS, 0, "/dom0/shared", 13, &m));
		CHECK(m->len == 3 && !strcmp(m->body, "n0"));
		free(m);
	}
	printf("ok: the new holder of domid %u inherits nothing\n", d);

	/* The domid reused at once. */
	for (int i = 0; i < 400; i++) {
		char p[32];

		snprintf(p, sizeof(p), "many/%d", i);
		CHECK_RC(xensim_guest_write(again, p, "x"));
	}
	xensim_guest_detach(again);
	CHECK_RC(xensim_domain_destroy(xh.sim, d, false));
	{
		struct xensim_dominfo di;
		double end = tu_now() + 30;

		while (xensim_domain_info(xh.sim, d, &di) == 0)
			CHECK(tu_now() < end);
	}
	again = xsa_guest(d, &got); /* the same domid again */
	CHECK(got == d);
	CHECK_RC(xsa_wait_release());
	CHECK_RC(xsa_dom0_call(XS_GET_PERMS, 0, xsa_home(d, NULL),
			       (uint32_t)strlen(xsa_home(d, NULL)) + 1, &m));
	snprintf(perms, sizeof(perms), "n%u", d); /* as xsa_guest made it */
	CHECK(!strcmp(m->body, perms));
	free(m);
	CHECK(xensim_sock_read(xh.ts, xsa_home(d, "many/0"), &val, NULL) == -ENOENT);
	CHECK_RC(xensim_guest_write(again, "data/fresh", "1"));
	printf("ok: a domid reused the moment it is reaped keeps its new home\n");

	xensim_guest_detach(again);
	return xsa_finish("xsa_322");
}
