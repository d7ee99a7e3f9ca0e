/*
 * XSA-326 (CVE-2022-42311..42318): a guest driving the daemon out of
 * memory.  Without limits a guest makes the daemon hold ever more state
 * for it: requests whose replies it never reads, watches, open
 * transactions, permission lists, large nodes.  The C daemon's fix is a
 * quota for each (outstanding requests 20, watches 128, transactions
 * 10, permissions 5 per node, node size 2048), applied to unprivileged
 * domains only.
 *
 * The attack here, one guest doing each in turn while another guest and
 * dom0 keep working:
 *   - it pushes READs of a 100-byte node without ever reading a reply:
 *     the daemon must stop reading its ring after ~20 unread replies
 *     (a daemon lacking the fix takes ~1 MiB of replies, thousands of
 *     requests: the byte bound below fails);
 *   - pipelined requests beyond the quota are delayed, never dropped:
 *     60 in flight all get their replies, in order;
 *   - watches until refused (E2BIG after the C daemon's 129th),
 *     transactions until refused (ENOSPC after the 11th), 6 permission
 *     entries (ENOSPC), a 2,100-byte value (ENOSPC): a daemon lacking
 *     the quotas accepts them all;
 *   - none of it applies to dom0.
 */
#include "tests/xsa/quota.h"

#define VAL 100

int main(int argc, char **argv)
{
	static char big[2200];
	struct xensim_guest *g, *other;
	struct xensim_msg *m;
	uint32_t d, dother, ids[60];
	char path[64], req[64], perms[128];
	uint32_t pushed = 0, l;
	int n;

	xsa_start("xsa326", argc, argv);
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	other = xsa_guest(XENSIM_ANY_DOMID, &dother);

	/* Outstanding replies: a guest that never reads. */
	memset(big, 'v', VAL);
	big[VAL] = '\0';
	CHECK_RC(xensim_guest_write(g, "v", big));
	pushed = tu_flood_reads(g, 4u << 20, req);
	/* What the request ring and the daemon's input buffer (two whole
	 * messages) hold, plus ~30 requests: under 12 KiB.  Without the
	 * quota the daemon answers until 1 MiB of replies are queued,
	 * ~8,000 requests of 18 bytes (over 140 KiB). */
	CHECK(pushed < 12 * 1024);
	CHECK_RC(xensim_guest_write(other, "still", "served"));
	CHECK_RC(xensim_sock_write(xh.ts, "/dom0/still", "served"));
	printf("ok: a guest not reading its replies: %u bytes taken, then held\n",
	       pushed);
	CHECK_RC(xensim_guest_reconnect(g, XSA_TMO));

	/* Held back, never dropped: 60 pipelined reads all answered. */
	for (int i = 0; i < 60; i++)
		CHECK_RC(xensim_guest_send(g, XS_READ, 0, "v", 2, &ids[i]));
	n = 0;
	for (double end = tu_now() + 30; n < 60;) {
		CHECK(tu_now() < end);
		CHECK(xensim_evq_run(xh.q, 100) >= 0);
		while ((m = xensim_guest_reply(g))) {
			CHECK(m->req_id == ids[n]);
			CHECK(m->type == XS_READ && m->len == VAL);
			free(m);
			n++;
		}
	}
	printf("ok: 60 pipelined requests past the outstanding quota all answered\n");

	/* Watches: the C daemon refuses once more than 128 exist. */
	for (n = 0; n < 1000; n++) {
		snprintf(path, sizeof(path), "w/%d", n);
		if (xensim_guest_watch(g, path, "t"))
			break;
	}
	CHECK(n == 129);
	CHECK(xensim_guest_watch(g, "w/x", "t") == -E2BIG);
	CHECK(xq_usage(d, "watches") == 129);
	xsa_guest_events(g, NULL, 50);
	CHECK_RC(xsa_call(g, XS_RESET_WATCHES, 0, "", 1, NULL));
	CHECK_RC(xensim_guest_watch(g, "w/x", "t"));
	xsa_guest_events(g, NULL, 50);

	/* Transactions: ENOSPC once more than 10 are open. */
	for (n = 0; n < 100; n++) {
		int rc = xsa_call(g, XS_TRANSACTION_START, 0, "", 1, &m);

		if (rc) {
			CHECK(rc == -ENOSPC);
			break;
		}
		free(m);
	}
	CHECK(n == 11);
	CHECK(xq_usage(d, "transactions") == 11);

	/* Permissions: 5 entries fit, 6 do not. */
	l = (uint32_t)snprintf(perms, sizeof(perms), "v%cn%u%cr1%cr2%cr3%cr4", 0, d, 0, 0, 0, 0) + 1;
	CHECK_RC(xsa_call(g, XS_SET_PERMS, 0, perms, l, NULL));
	l = (uint32_t)snprintf(perms, sizeof(perms), "v%cn%u%cr1%cr2%cr3%cr4%cr5", 0, d, 0, 0, 0, 0, 0) + 1;
	CHECK(xsa_call(g, XS_SET_PERMS, 0, perms, l, NULL) == -ENOSPC);

	/* Node size. */
	memset(big, 'b', 2100);
	big[2100] = '\0';
	CHECK(xensim_guest_write(g, "huge", big) == -ENOSPC);
	big[1500] = '\0';
	CHECK_RC(xensim_guest_write(g, "large", big));
	printf("ok: watches, transactions, permissions and node size refused "
	       "past their quotas\n");

	/* dom0 is never limited. */
	big[1500] = 'b';
	CHECK_RC(xensim_sock_write(xh.ts, "/dom0/huge", big));
	l = (uint32_t)snprintf(perms, sizeof(perms), "/dom0/huge%cn0%cr1%cr2%cr3%cr4%cr5%cr6",
			       0, 0, 0, 0, 0, 0, 0) + 1;
	CHECK_RC(xsa_dom0_call(XS_SET_PERMS, 0, perms, l, NULL));
	printf("ok: dom0 exempt\n");

	xensim_guest_detach(g);
	xensim_guest_detach(other);
	return xsa_finish("xsa_326");
}
