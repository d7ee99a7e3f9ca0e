/*
 * XSA-418 (CVE-2022-42321): a guest exhausted xenstored's stack.  Node
 * removal, transaction handling, domain cleanup and the tree walks of the
 * C daemon recursed once per level of the tree; a guest can make a tree
 * as deep as the path limits allow (1,024 levels: 2,048 bytes below a
 * domain's home), and the recursion with its frames overflowed the stack:
 * the daemon crashed.  The fix: iterative walks, no recursion on a depth
 * a client controls.
 *
 * The attack here: a guest builds a chain 990 levels deep in one WRITE
 * (within the C daemon's node quota), dom0 extends it to the limit of
 * 1,024 (the nodes inherit the guest's ownership), and the
 * guest watches it and removes it inside a transaction and outside,
 * rebuilds it, and dies with it (the daemon's cleanup of its nodes);
 * dom0 runs XS_CONTROL check over it.  Against a daemon without the fix
 * it dies of a stack overflow at one of these steps and the calls below
 * fail: a recursive walk takes 1,024 frames, megabytes with a path
 * buffer per frame as the C daemon had (more under ASan, whose frames
 * are larger; test-all.sh runs this test there too).  A recursion with
 * small frames could survive this depth: the bound on depth, not the
 * test, is what makes that safe, and store/check.c, node.c and store.c
 * say where the walks are iterative.
 */
#include "tests/xsa/xsa.h"

/* The guest's part of the chain stays under the C daemon's node quota
 * (1,000 with its home); dom0 extends it to the path limit. */
#define GUEST_LEVELS 990
#define ALL_LEVELS ((XENSTORE_REL_PATH_MAX + 1) / 2)
#define TX_LEVEL 300 /* a transaction removes the levels below this */

static char rel[XENSTORE_REL_PATH_MAX + 8], full[XENSTORE_REL_PATH_MAX + 8];
static char abspath[XENSTORE_ABS_PATH_MAX + 8], mid[XENSTORE_REL_PATH_MAX + 8];

/* "d/d/.../d" of depth levels. */
static void chain(char *out, int depth)
{
	int n = 0;

	for (int i = 0; i < depth; i++)
		n += sprintf(out + n, i ? "/d" : "d");
}

static void build(struct xensim_guest *g, uint32_t d)
{
	CHECK_RC(xensim_guest_write(g, rel, "bottom"));
	/* dom0 writes below it: the new nodes inherit the guest's list. */
	snprintf(abspath, sizeof(abspath), "%s/d", xsa_home(d, full));
	/* One level more is past the limit, for the guest and for dom0
	 * (the C daemon's 2,048 bytes below a home apply to every caller). */
	CHECK(xensim_sock_write(xh.ts, abspath, "x") == -EINVAL);
	abspath[strlen(abspath) - 2] = '\0';
	CHECK_RC(xensim_sock_write(xh.ts, abspath, "deepest"));
}

int main(int argc, char **argv)
{
	struct xensim_guest *g;
	struct xensim_msg *m;
	uint32_t d, tx, l;
	char *val, req[64];

	xsa_start("xsa418", argc, argv);
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	chain(rel, GUEST_LEVELS);
	chain(full, ALL_LEVELS);
	CHECK(strlen(full) < XENSTORE_REL_PATH_MAX);
	build(g, d);
	CHECK_RC(xensim_guest_read(g, abspath, &val, NULL)); /* inherited: the guest's */
	CHECK(!strcmp(val, "deepest"));
	free(val);
	CHECK_RC(xsa_dom0_call(XS_GET_PERMS, 0, abspath, (uint32_t)strlen(abspath) + 1, &m));
	CHECK((uint32_t)atoi(m->body + 1) == d);
	free(m);
	xsa_check_store();
	printf("ok: a chain of %zu levels built and checked\n",
	       (strlen(abspath) - strlen(xsa_home(d, NULL))) / 2);

	/* Watched, its lower 724 levels removed in a transaction (within
	 * the C daemon's 1,024 transaction nodes), the rest outside. */
	CHECK_RC(xensim_guest_watch(g, "d", "deep"));
	xsa_guest_events(g, NULL, 200);
	tx = xsa_tx_start(g);
	CHECK_RC(xsa_call(g, XS_DIRECTORY, tx, rel, (uint32_t)strlen(rel) + 1, NULL));
	chain(mid, TX_LEVEL);
	CHECK_RC(xsa_call(g, XS_RM, tx, mid, (uint32_t)strlen(mid) + 1, NULL));
	CHECK_RC(xsa_call(g, XS_TRANSACTION_END, tx, "T", 2, NULL));
	CHECK(xensim_sock_read(xh.ts, xsa_home(d, mid), &val, NULL) == -ENOENT);
	CHECK(xsa_guest_expect(g, mid, 1, 300) == 1);
	mid[strlen(mid) - 2] = '\0';
	CHECK_RC(xensim_sock_read(xh.ts, xsa_home(d, mid), &val, NULL));
	free(val);
	CHECK_RC(xensim_guest_rm(g, "d"));
	CHECK(xsa_guest_expect(g, "d", 1, 300) == 1);
	xsa_check_store();
	printf("ok: removed inside a transaction and outside\n");

	/* Rebuilt, a transaction writes near the top and aborts. */
	build(g, d);
	tx = xsa_tx_start(g);
	l = (uint32_t)snprintf(req, sizeof(req), "d/d/d%cx", 0) + 2;
	CHECK_RC(xsa_call(g, XS_WRITE, tx, req, l, NULL));
	CHECK_RC(xsa_call(g, XS_RM, tx, "d/d", 4, NULL));
	CHECK_RC(xsa_call(g, XS_TRANSACTION_END, tx, "F", 2, NULL));
	CHECK_RC(xensim_sock_read(xh.ts, abspath, &val, NULL));
	free(val);
	xsa_guest_events(g, NULL, 100);
	printf("ok: rebuilt, transaction aborted\n");

	/* Dies with it: the daemon removes every node the guest owned. */
	xensim_guest_detach(g);
	xsa_destroy(d);
	CHECK(xensim_sock_read(xh.ts, xsa_home(d, "d"), &val, NULL) == -ENOENT);
	CHECK(xensim_sock_read(xh.ts, xsa_home(d, NULL), &val, NULL) == -ENOENT);
	printf("ok: a dead guest's deep tree removed\n");
	return xsa_finish("xsa_418");
}
