/*
 * XSA-353 (CVE-2020-29479, oxenstored): no permission check on the root
 * node.  The check walked from the node to check up to, but not
 * including, "/": an unprivileged guest could write, re-permission and
 * create children of the root, i.e. change anything at the top of the
 * tree (and fill it).
 *
 * The attack here: a guest writes "/", sets its permissions, creates
 * "/evil" by WRITE and MKDIR, removes "/local", and does the same inside
 * a transaction.  Against a daemon without the fix these succeed and the
 * checks on the root's value, permissions and children below fail.
 */
#include "tests/xsa/xsa.h"

static void root_intact(void)
{
	struct xensim_msg *m;
	char *val;

	CHECK_RC(xsa_dom0_call(XS_GET_PERMS, 0, "/", 2, &m));
	CHECK(m->len == 3 && !strcmp(m->body, "n0"));
	free(m);
	CHECK_RC(xensim_sock_read(xh.ts, "/", &val, NULL));
	CHECK(val[0] == '\0');
	free(val);
	CHECK(xensim_sock_read(xh.ts, "/evil", &val, NULL) == -ENOENT);
	CHECK_RC(xensim_sock_read(xh.ts, "/local", &val, NULL));
	free(val);
}

int main(int argc, char **argv)
{
	struct xensim_guest *g;
	char req[64];
	uint32_t d, tx, l;

	xsa_start("xsa353", argc, argv);
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	root_intact();
	for (int intx = 0; intx < 2; intx++) {
		tx = 0;
		if (intx) {
			tx = xsa_tx_start(g);
		}
		CHECK(xsa_call(g, XS_WRITE, tx, "/\0owned", 7, NULL) == -EACCES);
		l = (uint32_t)snprintf(req, sizeof(req), "/%cn%u", 0, d) + 1;
		CHECK(xsa_call(g, XS_SET_PERMS, tx, req, l, NULL) == -EACCES);
		l = (uint32_t)snprintf(req, sizeof(req), "/%cr%u", 0, d) + 1;
		CHECK(xsa_call(g, XS_SET_PERMS, tx, req, l, NULL) == -EACCES);
		CHECK(xsa_call(g, XS_WRITE, tx, "/evil\0x", 7, NULL) == -EACCES);
		CHECK(xsa_call(g, XS_MKDIR, tx, "/evil", 6, NULL) == -EACCES);
		CHECK(xsa_call(g, XS_RM, tx, "/local", 7, NULL) == -EACCES);
		CHECK(xsa_call(g, XS_RM, tx, "/", 2, NULL) < 0);
		if (intx)
			CHECK_RC(xsa_call(g, XS_TRANSACTION_END, tx, "T", 2, NULL));
		root_intact();
	}
	printf("ok: the root is checked like any node\n");

	xensim_guest_detach(g);
	return xsa_finish("xsa_353");
}
