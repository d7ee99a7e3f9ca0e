/*
 * XSA-414 (CVE-2022-42309): a guest crashed xenstored in the undo of a
 * failed node creation.  A WRITE or MKDIR creates every missing parent;
 * when a later step failed (a quota, an allocation, a transaction
 * record), the C daemon's undo of the nodes it had made used a wrong
 * pointer (a bug in the XSA-115 fix): use-after-free, crash, corrupt
 * store.  The fix: creation is all or nothing, and its failure frees
 * exactly what it made.
 *
 * The attack here: a guest makes creations of a chain of missing parents
 * fail at every step a guest reaches: permission refused below a node it
 * may only read, an invalid last component, a path one byte too long,
 * inside transactions that then abort or lose a conflict, and near its
 * node quota (failing there if a quota is in force).  Against a daemon
 * without the fix the daemon dies, or some parent of a failed creation
 * stays behind (or the per-domain node count is off, which the final
 * XS_CONTROL check recounts): the checks below fail.
 */
#include "tests/xsa/xsa.h"

static char *val;

static bool exists(const char *path)
{
	int rc = xensim_sock_read(xh.ts, path, &val, NULL);

	if (rc == 0)
		free(val);
	CHECK(rc == 0 || rc == -ENOENT);
	return rc == 0;
}

int main(int argc, char **argv)
{
	static char path[4200];
	struct xensim_guest *g;
	char req[300], perms[32];
	uint32_t d, tx, l;
	int n, made = 0, rc;

	xsa_start("xsa414", argc, argv);
	g = xsa_guest(XENSIM_ANY_DOMID, &d);

	/* Below a node it may only read. */
	CHECK_RC(xensim_sock_write(xh.ts, xsa_home(d, "ro"), ""));
	snprintf(perms, sizeof(perms), "n0 r%u", d);
	CHECK_RC(xsa_dom0_set_perms(xsa_home(d, "ro"), perms));
	CHECK(xensim_guest_write(g, "ro/a/b/c/d", "v") == -EACCES);
	CHECK(xensim_guest_mkdir(g, "ro/a/b/c/d") == -EACCES);
	CHECK(!exists(xsa_home(d, "ro/a")));
	/* An invalid last component, and a path one byte too long. */
	CHECK(xensim_guest_write(g, "p/a/b/c/bad*name", "v") == -EINVAL);
	CHECK(!exists(xsa_home(d, "p")));
	n = snprintf(path, sizeof(path), "q");
	while (n < XENSTORE_REL_PATH_MAX + 1)
		n += snprintf(path + n, sizeof(path) - (size_t)n, "/q");
	path[XENSTORE_REL_PATH_MAX + 1] = '\0';
	CHECK(xensim_guest_write(g, path, "v") == -EINVAL);
	CHECK(!exists(xsa_home(d, "q")));
	printf("ok: refused creations leave no parent behind\n");

	/* In transactions: created parents undone on abort and on a lost
	 * conflict; the same chain made outside meanwhile stays whole. */
	for (int round = 0; round < 50; round++) {
		tx = xsa_tx_start(g);
		l = (uint32_t)snprintf(req, sizeof(req), "t%d/a/b/c%cv", round, 0) + 2;
		CHECK_RC(xsa_call(g, XS_WRITE, tx, req, l, NULL));
		CHECK_RC(xsa_call(g, XS_READ, tx, "ro", 3, NULL));
		if (round % 2) {
			CHECK_RC(xsa_call(g, XS_TRANSACTION_END, tx, "F", 2, NULL));
		} else {
			/* dom0 changes what the transaction read: EAGAIN. */
			CHECK_RC(xensim_sock_write(xh.ts, xsa_home(d, "ro"), "changed"));
			if (round % 4 == 0) {
				snprintf(req, sizeof(req), "t%d/a", round);
				CHECK_RC(xensim_guest_write(g, req, "outside"));
			}
			CHECK(xsa_call(g, XS_TRANSACTION_END, tx, "T", 2, NULL) == -EAGAIN);
		}
		snprintf(req, sizeof(req), "t%d/a/b", round);
		CHECK(!exists(xsa_home(d, req)));
		snprintf(req, sizeof(req), "t%d/a", round);
		CHECK(exists(xsa_home(d, req)) == (round % 4 == 0));
		if (round % 8 == 0)
			xsa_check_store();
	}
	printf("ok: transactions' created parents undone on abort and EAGAIN\n");

	/* Up to the node quota (1,000 in the C daemon): a chain of five
	 * missing parents either all appears or none of it does. */
	for (int i = 0; i < 1100; i++) {
		snprintf(req, sizeof(req), "fill/%d", i);
		rc = xensim_guest_write(g, req, "");
		if (rc == -ENOSPC)
			break;
		CHECK_RC(rc);
		made++;
	}
	for (int i = 0; i < 3; i++) {
		snprintf(req, sizeof(req), "chain%d/a/b/c/d", i);
		rc = xensim_guest_write(g, req, "v");
		CHECK(rc == 0 || rc == -ENOSPC);
		snprintf(req, sizeof(req), "chain%d", i);
		CHECK(exists(xsa_home(d, req)) == (rc == 0));
		snprintf(req, sizeof(req), "chain%d/a/b/c/d", i);
		CHECK(exists(xsa_home(d, req)) == (rc == 0));
	}
	printf("ok: %d nodes made, chains near the quota all or nothing\n", made);

	xensim_guest_detach(g);
	xsa_destroy(d);
	return xsa_finish("xsa_414");
}
