/*
 * XSA-417 (CVE-2022-42320): guests got access to the nodes of a deleted
 * domain.  Permission entries naming a dead domain's domid outlive it;
 * the XSA-322 fix-up ran only on some paths (the node's owner, or at the
 * domain's introduction), so entries that were copied or refreshed after
 * the death (a child inheriting its parent's list, a rewrite of the
 * value, a transaction committed in between) stayed valid, and the next
 * domain given that domid reached the dead one's nodes.  The fix: an
 * entry is judged wherever a list is read, against the introduction of
 * the domain it names.
 *
 * The attack here: dead domain D had read and write rights on dom0
 * nodes; after its death and before a new D is introduced, dom0 rewrites
 * those nodes, creates children under them (inheriting the lists) and
 * commits a transaction on them.  Against a daemon without the fix the
 * new D reads or writes them, or watch events for them reach it: the
 * checks below fail.
 */
#include "tests/xsa/xsa.h"

int main(int argc, char **argv)
{
	struct xensim_guest *g, *again;
	struct xensim_msg *m;
	char perms[64], *val;
	uint32_t d, got, tx;

	xsa_start("xsa417", argc, argv);
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	CHECK_RC(xensim_sock_write(xh.ts, "/dom0/vm/cfg", "a"));
	snprintf(perms, sizeof(perms), "n0 b%u", d);
	CHECK_RC(xsa_dom0_set_perms("/dom0/vm", perms));
	CHECK_RC(xsa_dom0_set_perms("/dom0/vm/cfg", perms));
	CHECK_RC(xensim_guest_write(g, "/dom0/vm/cfg", "by-d"));
	xensim_guest_detach(g);
	xsa_destroy(d);

	/* Between the death and the new domain: the toolstack keeps using
	 * the nodes. */
	CHECK_RC(xensim_sock_write(xh.ts, "/dom0/vm/cfg", "rewritten"));
	CHECK_RC(xensim_sock_write(xh.ts, "/dom0/vm/child", "inherits"));
	CHECK_RC(xensim_sock_write(xh.ts, "/dom0/vm/cfg/deeper", "inherits"));
	CHECK_RC(xsa_dom0_call(XS_TRANSACTION_START, 0, "", 1, &m));
	tx = (uint32_t)strtoul(m->body, NULL, 10);
	free(m);
	CHECK_RC(xsa_dom0_call(XS_WRITE, tx, "/dom0/vm/txnode\0t", 17, NULL));
	CHECK_RC(xsa_dom0_call(XS_WRITE, tx, "/dom0/vm/cfg\0tx", 15, NULL));
	CHECK_RC(xsa_dom0_call(XS_TRANSACTION_END, tx, "T", 2, NULL));

	again = xsa_guest(d, &got); /* the same domid again */
	CHECK(got == d);
	CHECK_RC(xensim_guest_watch(again, "/dom0", "peek"));
	xsa_guest_events(again, NULL, 200);

	static const char *const nodes[] = { "/dom0/vm", "/dom0/vm/cfg", "/dom0/vm/child",
					     "/dom0/vm/cfg/deeper", "/dom0/vm/txnode" };
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		CHECK(xensim_guest_read(again, nodes[i], &val, NULL) == -EACCES);
		CHECK(xensim_guest_write(again, nodes[i], "mine") == -EACCES);
		CHECK(xensim_guest_directory(again, nodes[i], &val, NULL) == -EACCES);
		CHECK(xensim_guest_rm(again, nodes[i]) == -EACCES);
		/* What GET_PERMS shows is what is enforced: no entry for D
		 * (the C daemon shows the dead entry: compat.md). */
		if (!xh.mxs)
			continue;
		CHECK_RC(xsa_dom0_call(XS_GET_PERMS, 0, nodes[i],
				       (uint32_t)strlen(nodes[i]) + 1, &m));
		CHECK(m->len == 3 && !strcmp(m->body, "n0"));
		free(m);
	}
	CHECK(xensim_guest_write(again, "/dom0/vm/new", "x") == -EACCES);
	CHECK_RC(xensim_sock_write(xh.ts, "/dom0/vm/cfg", "after"));
	xsa_sync(again);
	CHECK(xsa_guest_events(again, NULL, 300) == 0);
	printf("ok: the new domain %u reaches none of the dead one's nodes\n", d);

	/* Granted anew by dom0, it may. */
	snprintf(perms, sizeof(perms), "n0 r%u", d);
	CHECK_RC(xsa_dom0_set_perms("/dom0/vm/cfg", perms));
	CHECK_RC(xensim_guest_read(again, "/dom0/vm/cfg", &val, NULL));
	CHECK(!strcmp(val, "after"));
	free(val);

	xensim_guest_detach(again);
	return xsa_finish("xsa_417");
}
