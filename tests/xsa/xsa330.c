/*
 * XSA-330 (CVE-2020-29485): RESET_WATCHES leaked watches in oxenstored.
 * The guest's watches were dropped from its connection but not from the
 * daemon's registry: they kept firing (into nothing) and their memory
 * stayed, so a guest setting and resetting watches in a loop drove the
 * daemon out of memory.
 *
 * The attack here: a guest sets 100 watches, RESET_WATCHES, 20 times
 * over (2,000 watches, far past the 128-watch quota if they still
 * counted), with a transaction open each time.  Against a daemon without
 * the fix, writes under the old watches still produce events, the
 * watch quota refuses new watches, or the old transaction survives: the
 * checks below fail.
 */
#include "tests/xsa/xsa.h"

int main(int argc, char **argv)
{
	struct xensim_guest *g;
	char path[64], token[32];
	uint32_t d, tx;

	xsa_start("xsa330", argc, argv);
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 100; i++) {
			snprintf(path, sizeof(path), "w/%d", i);
			snprintf(token, sizeof(token), "r%d-%d", round, i);
			CHECK_RC(xensim_guest_watch(g, path, token));
		}
		tx = xsa_tx_start(g);
		xsa_guest_events(g, NULL, 50);
		CHECK_RC(xsa_call(g, XS_RESET_WATCHES, 0, "", 1, NULL));
		xsa_guest_events(g, NULL, 50); /* those queued before the reset */
		CHECK_RC(xensim_guest_write(g, "w/7", "x"));
		xsa_sync(g);
		CHECK(xsa_guest_events(g, NULL, 100) == 0);
		CHECK(xsa_call(g, XS_TRANSACTION_END, tx, "T", 2, NULL) == -ENOENT);
	}
	printf("ok: 2,000 watches set and reset, none fires after its reset\n");

	/* All of the quota is free again, and a new watch works. */
	for (int i = 0; i < 128; i++) {
		snprintf(path, sizeof(path), "w/%d", i);
		CHECK_RC(xensim_guest_watch(g, path, "last"));
	}
	xsa_guest_events(g, NULL, 100);
	CHECK_RC(xensim_guest_write(g, "w/3", "y"));
	CHECK(xsa_guest_expect(g, "w/3", 1, 300) == 1);

	xensim_guest_detach(g);
	return xsa_finish("xsa_330");
}
