/*
 * XSA-440 (CVE-2023-34323): a transaction conflict crashed the C
 * daemon.  At commit, it applied the transaction's per-domain node-count
 * changes before checking them; when nodes the transaction removed had
 * been removed outside it meanwhile, the count went (temporarily)
 * negative, and an assert() killed the daemon.  The fix: a conflicting
 * commit fails with EAGAIN before anything is applied, and counts are
 * never assumed non-negative along the way.
 *
 * The attack here: a guest's transactions remove, create and
 * re-permission nodes while, outside, the same guest (or dom0) removes
 * or re-creates the same nodes, then commit; in one round a second
 * guest's transaction races the same way on nodes it was given.
 * Against a daemon without the fix the daemon dies at a commit, or the
 * per-domain node counts (recounted by XS_CONTROL check) are off: the
 * checks below fail.
 */
#include "tests/xsa/xsa.h"

static void tree(struct xensim_guest *g, const char *top)
{
	char p[64];

	for (int i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "%s/%d/leaf", top, i);
		CHECK_RC(xensim_guest_write(g, p, "v"));
	}
}

static int tx_req(struct xensim_guest *g, uint32_t tx, uint32_t type, const char *a,
		  const char *b)
{
	char req[128];
	int l = snprintf(req, sizeof(req), "%s", a) + 1;

	if (b)
		l += snprintf(req + l, sizeof(req) - (size_t)l, "%s", b) + (type == XS_SET_PERMS);
	return xsa_call(g, type, tx, req, (uint32_t)l, NULL);
}

int main(int argc, char **argv)
{
	struct xensim_guest *g, *h;
	char perms[32], own[16];
	uint32_t d, e, tx;
	int rc, ok = 0, again = 0;

	xsa_start("xsa440", argc, argv);
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	h = xsa_guest(XENSIM_ANY_DOMID, &e);
	snprintf(own, sizeof(own), "n%u", d);
	for (int round = 0; round < 60; round++) {
		int kind = round % 6;

		tree(g, "acc");
		tx = xsa_tx_start(g);
		switch (kind) {
		case 0: /* both remove the subtree */
			CHECK_RC(tx_req(g, tx, XS_RM, "acc", NULL));
			CHECK_RC(xensim_guest_rm(g, "acc"));
			break;
		case 1: /* the transaction removes, outside removes and re-creates */
			CHECK_RC(tx_req(g, tx, XS_RM, "acc/1", NULL));
			CHECK_RC(xensim_guest_rm(g, "acc"));
			CHECK_RC(xensim_guest_write(g, "acc/1/leaf", "new"));
			break;
		case 2: /* both create the same new nodes */
			CHECK_RC(tx_req(g, tx, XS_WRITE, "acc/new/a/b", "tx"));
			CHECK_RC(xensim_guest_write(g, "acc/new/a/b", "out"));
			break;
		case 3: /* the transaction creates below what dom0 removes */
			CHECK_RC(tx_req(g, tx, XS_WRITE, "acc/2/leaf/more", "tx"));
			CHECK_RC(xensim_sock_rm(xh.ts, xsa_home(d, "acc")));
			break;
		case 4: /* re-permission in the transaction, removal outside */
			CHECK_RC(tx_req(g, tx, XS_SET_PERMS, "acc/3", own));
			CHECK_RC(tx_req(g, tx, XS_RM, "acc/4", NULL));
			CHECK_RC(xensim_guest_rm(g, "acc/3"));
			CHECK_RC(xensim_guest_rm(g, "acc/4"));
			break;
		case 5: /* dom0 hands the tree to h, whose transaction races */
			snprintf(perms, sizeof(perms), "n%u", e);
			CHECK_RC(xsa_dom0_set_perms(xsa_home(d, "acc/0"), perms));
			CHECK_RC(xsa_dom0_set_perms(xsa_home(d, "acc/0/leaf"), perms));
			CHECK_RC(xsa_call(g, XS_TRANSACTION_END, tx, "F", 2, NULL));
			tx = xsa_tx_start(h);
			CHECK_RC(tx_req(h, tx, XS_RM, xsa_home(d, "acc/0"), NULL));
			CHECK_RC(xensim_sock_rm(xh.ts, xsa_home(d, "acc/0")));
			rc = xsa_call(h, XS_TRANSACTION_END, tx, "T", 2, NULL);
			goto judged;
		}
		rc = xsa_call(g, XS_TRANSACTION_END, tx, "T", 2, NULL);
judged:
		CHECK(rc == 0 || rc == -EAGAIN);
		ok += rc == 0;
		again += rc == -EAGAIN;
		xsa_check_store();
		CHECK_RC(xensim_sock_rm(xh.ts, xsa_home(d, "acc")));
	}
	CHECK(again > 0);
	printf("ok: 60 racing commits (%d committed, %d EAGAIN), counts exact after each\n",
	       ok, again);

	/* The counts come out right at the end: both domains die, nothing of
	 * theirs is left. */
	xensim_guest_detach(g);
	xensim_guest_detach(h);
	xsa_destroy(d);
	xsa_destroy(e);
	return xsa_finish("xsa_440");
}
