/*
 * XSA-416 (CVE-2022-42319): memory held until the guest reads.  The
 * daemon kept what it built for a request (the reply, and in the C
 * daemon the request's temporary memory) until the guest took the
 * reply from its ring; a guest that sends large reads and never
 * consumes the answers made the daemon hold ever more of it.
 *
 * The attack here: a guest writes a 4,000-byte node, then pushes READs
 * of it into its ring without ever reading the response ring.  Checked
 * without timing, once the daemon has stopped taking requests:
 * "xenstore-control quota <domid>" shows at most the outstanding quota
 * (20) of replies held, ~80 KB, where a daemon lacking the bound holds
 * a megabyte or more of replies (hundreds); and a reconnection frees
 * them all (outstanding 0) and the guest is served again.
 */
#include "tests/xsa/quota.h"

#define VAL 4000

int main(int argc, char **argv)
{
	static char big[VAL + 1];
	struct xensim_guest *g;
	uint32_t d, pushed = 0;
	char req[64], *val;
	long held;

	xsa_start("xsa416", argc, argv);
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	memset(big, 'q', VAL);
	/* node-size stops 4,000 bytes from a guest: dom0 writes it for it. */
	CHECK(xensim_guest_write(g, "big", big) == -ENOSPC);
	CHECK_RC(xensim_sock_write(xh.ts, xsa_home(d, "v"), big));
	pushed = tu_flood_reads(g, 8u << 20, req);
	held = xq_usage(d, "outstanding");
	CHECK(held >= 1 && held <= 20);
	printf("ok: a guest not reading 4,000-byte replies: %ld held (%u request "
	       "bytes taken)\n", held, pushed);

	/* What was held goes when the guest resets its ring. */
	CHECK_RC(xensim_guest_reconnect(g, XSA_TMO));
	CHECK(xq_usage(d, "outstanding") == 0);
	CHECK_RC(xensim_guest_read(g, "v", &val, NULL));
	CHECK(strlen(val) == VAL);
	free(val);
	printf("ok: reconnection frees them; the guest is served again\n");

	xensim_guest_detach(g);
	return xsa_finish("xsa_416");
}
