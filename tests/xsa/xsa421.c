/*
 * XSA-421: unlimited nodes through transactions.  A daemon that checks
 * the nodes quota against the live count while a transaction runs, and
 * not again at commit, lets a guest open several transactions, fill
 * each up to its quota, and commit them all: every commit adds a
 * quota's worth of nodes.
 *
 * The attack here: with a nodes quota of 20, a guest opens the 10
 * transactions it may have, creates 15 nodes in each, and commits them
 * one after the other; then it tries again with writes outside any
 * transaction racing a commit.  Against a daemon lacking the fix more
 * than one commit succeeds and "xenstore-control quota <domid>" shows
 * far more than 20 nodes: the checks below fail.  An aborted
 * transaction must give everything back.
 */
#include "tests/xsa/quota.h"

#define NODES 20
#define TXNS 10
#define PER 15

int main(int argc, char **argv)
{
	struct xensim_guest *g;
	struct xensim_msg *m;
	uint32_t d, tx[TXNS];
	char body[64];
	int ok = 0, nospc = 0;

	xsa_start("xsa421", argc, argv);
	xq_set("nodes", NODES);
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	for (int t = 0; t < TXNS; t++) {
		CHECK_RC(xsa_call(g, XS_TRANSACTION_START, 0, "", 1, &m));
		tx[t] = (uint32_t)strtoul(m->body, NULL, 10);
		free(m);
		for (int i = 0; i < PER; i++) {
			int l = snprintf(body, sizeof(body), "t%d/n%d", t, i) + 1;

			memcpy(body + l, "x", 1);
			CHECK_RC(xsa_call(g, XS_WRITE, tx[t], body, (uint32_t)l + 1, NULL));
		}
	}
	for (int t = 0; t < TXNS; t++) {
		int rc = xsa_call(g, XS_TRANSACTION_END, tx[t], "T", 2, NULL);

		CHECK(rc == 0 || rc == -ENOSPC);
		ok += rc == 0;
		nospc += rc == -ENOSPC;
	}
	/* 1 + 16 fit once; a second batch of 16 never. */
	CHECK(ok == 1 && nospc == TXNS - 1);
	CHECK(xq_usage(d, "nodes") == 1 + PER + 1);
	printf("ok: %d transactions of %d nodes each: one commit fits, %d refused\n",
	       TXNS, PER + 1, nospc);

	/* An abort gives everything back; the room left is still there. */
	CHECK_RC(xsa_call(g, XS_TRANSACTION_START, 0, "", 1, &m));
	tx[0] = (uint32_t)strtoul(m->body, NULL, 10);
	free(m);
	CHECK_RC(xsa_call(g, XS_WRITE, tx[0], "ab/x\0y", 6, NULL));
	CHECK_RC(xsa_call(g, XS_TRANSACTION_END, tx[0], "F", 2, NULL));
	CHECK(xq_usage(d, "nodes") == 1 + PER + 1);
	CHECK(xq_usage(d, "transactions") == 0);
	/* Three left: a transaction of two plus two plain writes: the last
	 * one over. */
	CHECK_RC(xsa_call(g, XS_TRANSACTION_START, 0, "", 1, &m));
	tx[0] = (uint32_t)strtoul(m->body, NULL, 10);
	free(m);
	CHECK_RC(xsa_call(g, XS_WRITE, tx[0], "last/a\0y", 8, NULL));
	CHECK_RC(xensim_guest_write(g, "solo", "1"));
	CHECK_RC(xsa_call(g, XS_TRANSACTION_END, tx[0], "T", 2, NULL));
	CHECK(xensim_guest_write(g, "solo2", "1") == -ENOSPC);
	CHECK(xq_usage(d, "nodes") == NODES);
	printf("ok: abort returns everything; plain writes and commits share "
	       "one count, exactly %d\n", NODES);

	xensim_guest_detach(g);
	return xsa_finish("xsa_421");
}
