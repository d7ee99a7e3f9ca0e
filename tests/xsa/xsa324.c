/*
 * XSA-324 (CVE-2020-29484): a guest crashed xenstored through a watch.
 * A WATCH request is limited to 4096 bytes of path and token, but the
 * event for a node below the watched path carries that longer path: the
 * event exceeded the payload limit, the C daemon answered with an error
 * message in its place and hit an assertion (or corrupted the ring).
 * The fix: an event that does not fit is not sent (here: dropped and
 * logged), nothing else changes.
 *
 * The attack here: a guest watches a 1,000-byte path with a 3,000-byte
 * token, then writes a node 1,040 bytes below it: the event would be
 * about 5,000 bytes.  Against a daemon without the fix the daemon dies,
 * or the guest receives an oversized message or an error reply with no
 * request (its next reply is not the one it asked for), and the checks
 * below fail.  A second watch with a short token on the same path gets
 * its event, so the firing did happen.
 */
#include "tests/xsa/xsa.h"

int main(int argc, char **argv)
{
	static char wpath[1100], token[3100], node[2100], req[4200];
	struct xensim_guest *g;
	struct xensim_msg *ev;
	uint32_t d, l;
	char *val;
	int n;

	xsa_start("xsa324", argc, argv);
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	n = snprintf(wpath, sizeof(wpath), "%s/", xsa_home(d, NULL));
	memset(wpath + n, 'w', 1000 - (size_t)n);
	wpath[1000] = '\0';
	memset(token, 't', 3000);
	token[3000] = '\0';
	snprintf(node, sizeof(node), "%s/", wpath);
	memset(node + 1001, 'n', 1039);
	node[2040] = '\0';
	l = (uint32_t)snprintf(req, sizeof(req), "%s%c%s", wpath, 0, token) + 1;
	CHECK(l <= XENSTORE_PAYLOAD_MAX);
	CHECK_RC(xsa_call(g, XS_WATCH, 0, req, l, NULL));
	CHECK_RC(xensim_guest_watch(g, wpath, "short"));
	xsa_guest_events(g, NULL, 300); /* the first firings */

	CHECK_RC(xensim_guest_write(g, node, "boom"));
	CHECK_RC(xensim_guest_wait_watch(g, &ev, XSA_TMO));
	CHECK(!strcmp(ev->body, node)); /* the short-token watch */
	CHECK(!strcmp(ev->body + strlen(ev->body) + 1, "short"));
	CHECK(ev->len <= XENSTORE_PAYLOAD_MAX);
	free(ev);
	/* The ring is still in order: the next reply is the one asked. */
	CHECK_RC(xensim_guest_read(g, node, &val, NULL));
	CHECK(!strcmp(val, "boom"));
	free(val);
	CHECK(xsa_guest_events(g, NULL, 300) == 0);
	CHECK(xensim_guest_ring_error(g) == XENSTORE_ERROR_NONE);
	printf("ok: an oversized event is dropped, the guest served on\n");

	/* Removal of the node: the same, and a path the event fits fires. */
	CHECK_RC(xensim_guest_rm(g, node));
	CHECK(xsa_guest_expect(g, node, 1, 300) == 1);
	CHECK_RC(xensim_guest_write(g, wpath, "fits"));
	CHECK(xsa_guest_expect(g, wpath, 2, 300) == 2); /* both watches */

	xensim_guest_detach(g);
	return xsa_finish("xsa_324");
}
