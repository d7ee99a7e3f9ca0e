/*
 * XSA-415 (CVE-2022-42310): guests created orphaned nodes.  A node
 * created inside a transaction was committed even when its parent had
 * been removed outside the transaction meanwhile: the node existed with
 * no parent, unreachable by any walk, never removed, never counted
 * right (memory held for good).  The same release ended (4.17) the other
 * way a guest left nodes behind: at its death, nodes it had created
 * outside its home stayed.  The fixes: such a commit fails with EAGAIN
 * (or recreates the parents, as mxenstored does where its conflict rule
 * lets the commit through), and a dead domain's nodes are removed.
 *
 * The attack here: a guest creates nodes in transactions while, outside,
 * it removes their parents (and, in another round, dom0 removes them);
 * then it creates nodes under a dom0 directory it may write and dies.
 * Against a daemon without the fix an orphan survives the commit (read
 * by path while its parent is missing, or found by XS_CONTROL check as a
 * node the walk cannot reach) and the dead domain's nodes stay: the
 * checks below fail.
 */
#include "tests/xsa/xsa.h"

static int readp(const char *path)
{
	char *val;
	int rc = xensim_sock_read(xh.ts, path, &val, NULL);

	if (rc == 0)
		free(val);
	CHECK(rc == 0 || rc == -ENOENT);
	return rc;
}

int main(int argc, char **argv)
{
	struct xensim_guest *g;
	char req[128], perms[32];
	uint32_t d, tx, l;
	int rc, eagain = 0;

	xsa_start("xsa415", argc, argv);
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	for (int round = 0; round < 40; round++) {
		snprintf(req, sizeof(req), "par%d/x", round);
		CHECK_RC(xensim_guest_write(g, req, "1"));
		tx = xsa_tx_start(g);
		/* Half the rounds read the parent first, as a client would. */
		if (round % 2) {
			snprintf(req, sizeof(req), "par%d", round);
			CHECK_RC(xsa_call(g, XS_READ, tx, req, (uint32_t)strlen(req) + 1, NULL));
		}
		l = (uint32_t)snprintf(req, sizeof(req), "par%d/x/child%cv", round, 0) + 2;
		CHECK_RC(xsa_call(g, XS_WRITE, tx, req, l, NULL));
		snprintf(req, sizeof(req), "par%d", round);
		if (round % 4 < 2)
			CHECK_RC(xensim_guest_rm(g, req));
		else
			CHECK_RC(xensim_sock_rm(xh.ts, xsa_home(d, req)));
		rc = xsa_call(g, XS_TRANSACTION_END, tx, "T", 2, NULL);
		CHECK(rc == 0 || rc == -EAGAIN);
		eagain += rc == -EAGAIN;
		snprintf(req, sizeof(req), "par%d/x/child", round);
		if (rc == 0) {
			/* Committed: the whole chain exists again. */
			CHECK(readp(xsa_home(d, req)) == 0);
			snprintf(req, sizeof(req), "par%d/x", round);
			CHECK(readp(xsa_home(d, req)) == 0);
			snprintf(req, sizeof(req), "par%d", round);
			CHECK(readp(xsa_home(d, req)) == 0);
		} else {
			CHECK(readp(xsa_home(d, req)) == -ENOENT);
			snprintf(req, sizeof(req), "par%d", round);
			CHECK(readp(xsa_home(d, req)) == -ENOENT);
		}
		if (round % 8 == 7)
			xsa_check_store(); /* no node the walk cannot reach */
	}
	CHECK(eagain > 0); /* those that read the parent conflict */
	printf("ok: no orphan from a commit whose parent went (%d EAGAIN)\n", eagain);

	/* Nodes outside its home go with the domain. */
	CHECK_RC(xensim_sock_mkdir(xh.ts, "/dom0/drop"));
	snprintf(perms, sizeof(perms), "n0 b%u", d);
	CHECK_RC(xsa_dom0_set_perms("/dom0/drop", perms));
	for (int i = 0; i < 20; i++) {
		snprintf(req, sizeof(req), "/dom0/drop/n%d/leaf", i);
		CHECK_RC(xensim_guest_write(g, req, "left"));
	}
	xensim_guest_detach(g);
	xsa_destroy(d);
	for (int i = 0; i < 20; i++) {
		snprintf(req, sizeof(req), "/dom0/drop/n%d", i);
		CHECK(readp(req) == -ENOENT);
	}
	CHECK(readp("/dom0/drop") == 0); /* dom0's own node stays */
	CHECK(readp(xsa_home(d, NULL)) == -ENOENT);
	printf("ok: a dead domain's nodes outside its home are gone\n");
	return xsa_finish("xsa_415");
}
