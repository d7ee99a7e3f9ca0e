/*
 * XSA-115 (CVE-2020-29480): watch events leaked what a guest may not
 * read.  A guest may set a watch on any path; the daemon sent it an event
 * for every change below, so a guest watching another domain's home (or
 * "/") learnt the names of nodes it cannot read, and a watch on
 * @introduceDomain / @releaseDomain told it about other guests' lives.
 * The fix: an event goes to a watcher only if it may read the node (for
 * a removed node, with the permissions it had), and the special watches
 * fire for privileged callers only.
 *
 * The attack here: guest A watches "/", B's home and @releaseDomain; B
 * and dom0 create, change, re-permission and remove nodes A cannot read
 * under B's home, and a third domain dies.  Against a daemon without the
 * fix A receives events for those paths (and an @releaseDomain), and the
 * checks on the event counts below fail.  The nodes dom0 grants A read
 * access to do reach it, so the watch itself works.
 */
#include "tests/xsa/xsa.h"

int main(int argc, char **argv)
{
	struct xensim_guest *a, *b, *c;
	uint32_t da, db, dc;
	char path[256];

	xsa_start("xsa115", argc, argv);
	a = xsa_guest(XENSIM_ANY_DOMID, &da);
	b = xsa_guest(XENSIM_ANY_DOMID, &db);
	c = xsa_guest(XENSIM_ANY_DOMID, &dc);
	CHECK_RC(xensim_sock_watch(xh.ts, "@releaseDomain", "dom0-rel"));
	xsa_dom0_events(NULL, 200);

	CHECK_RC(xensim_guest_watch(a, "/", "root"));
	CHECK_RC(xensim_guest_watch(a, xsa_home(db, NULL), "b-home"));
	CHECK_RC(xensim_guest_watch(a, "@releaseDomain", "rel"));
	xsa_guest_events(a, NULL, 300); /* the first firing of each watch */

	/* B's own private nodes: created, changed, re-permissioned (still
	 * private), removed. */
	CHECK_RC(xensim_guest_write(b, "data/secret", "1"));
	CHECK_RC(xensim_guest_write(b, "data/secret", "2"));
	{
		char req[64];
		int l = snprintf(req, sizeof(req), "data/secret%cn%u", 0, db) + 1;

		CHECK_RC(xsa_call(b, XS_SET_PERMS, 0, req, (uint32_t)l, NULL));
	}
	CHECK_RC(xensim_guest_rm(b, "data/secret"));
	/* dom0's node under B's home that only dom0 may read. */
	snprintf(path, sizeof(path), "%s", xsa_home(db, "hidden"));
	CHECK_RC(xensim_sock_write(xh.ts, path, "x"));
	CHECK_RC(xsa_dom0_set_perms(path, "n0"));
	CHECK_RC(xensim_sock_write(xh.ts, path, "y"));
	CHECK_RC(xensim_sock_rm(xh.ts, path));
	/* A third domain dies: dom0 hears it, A must not. */
	xensim_guest_detach(c);
	xsa_destroy(dc);
	CHECK(xsa_dom0_expect("@releaseDomain", 1, 300) == 1);
	xsa_sync(a);
	CHECK(xsa_guest_events(a, NULL, 300) == 0);
	printf("ok: no event for unreadable nodes nor @releaseDomain\n");

	/* A node dom0 lets A read: its creation and its removal reach A (the
	 * removal judged by the permissions it had). */
	snprintf(path, sizeof(path), "%s", xsa_home(db, "shared"));
	CHECK_RC(xensim_sock_write(xh.ts, path, "v"));
	{
		char perms[32];

		snprintf(perms, sizeof(perms), "n0 r%u", da);
		CHECK_RC(xsa_dom0_set_perms(path, perms));
	}
	xsa_sync(a);
	xsa_guest_events(a, NULL, 200); /* the write before the grant */
	CHECK_RC(xensim_sock_write(xh.ts, path, "w"));
	xsa_sync(a);
	/* Heard by both of its watches ("/" and B's home). */
	CHECK(xsa_guest_expect(a, path, 2, 300) == 2);
	CHECK_RC(xensim_sock_rm(xh.ts, path));
	xsa_sync(a);
	CHECK(xsa_guest_expect(a, path, 2, 300) == 2);
	printf("ok: readable nodes' changes and removal reach the watcher\n");

	xensim_guest_detach(a);
	xensim_guest_detach(b);
	return xsa_finish("xsa_115");
}
