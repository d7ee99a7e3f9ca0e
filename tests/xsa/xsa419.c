/*
 * XSA-419: cooperating guests creating unlimited nodes.  Two guests that
 * share a directory (one gives the other write access to part of its
 * home) can create nodes in each other's trees; a daemon that charged a
 * node to the owner of the parent, or to nobody when the creator is not
 * the owner, let the pair create nodes without bound: each fills the
 * other's tree with nodes counted against no quota of its own.
 *
 * The attack here: with a nodes quota of 20, guest A shares A/shared
 * with guest B, and B shares B/shared with A; each writes into the
 * other's shared directory until refused, then into its own.  Against a
 * daemon lacking the fix the two together hold more than 2 x 20 nodes
 * (or a node written by B is charged to A): the counts below, read with
 * xenstore-control, fail.
 */
#include "tests/xsa/quota.h"

#define NODES 20

int main(int argc, char **argv)
{
	struct xensim_guest *a, *b;
	uint32_t da, db;
	char perms[64], path[96];
	uint32_t l;
	int na, nb, total;

	xsa_start("xsa419", argc, argv);
	xq_set("nodes", NODES);
	a = xsa_guest(XENSIM_ANY_DOMID, &da);
	b = xsa_guest(XENSIM_ANY_DOMID, &db);
	/* Each shares a directory with the other (as guests may). */
	CHECK_RC(xensim_guest_mkdir(a, "shared"));
	CHECK_RC(xensim_guest_mkdir(b, "shared"));
	l = (uint32_t)snprintf(perms, sizeof(perms), "%s%cn%u%cb%u", xsa_home(da, "shared"),
			       0, da, 0, db) + 1;
	CHECK_RC(xsa_call(a, XS_SET_PERMS, 0, perms, l, NULL));
	l = (uint32_t)snprintf(perms, sizeof(perms), "%s%cn%u%cb%u", xsa_home(db, "shared"),
			       0, db, 0, da) + 1;
	CHECK_RC(xsa_call(b, XS_SET_PERMS, 0, perms, l, NULL));

	/* B writes into A's tree: the nodes are B's, charged to B. */
	snprintf(path, sizeof(path), "%s/", xsa_home(da, "shared"));
	nb = xq_fill(b, path, 100, -ENOSPC);
	CHECK(xq_usage(db, "nodes") == NODES);
	CHECK(xq_usage(da, "nodes") == 2);
	snprintf(path, sizeof(path), "%s/", xsa_home(db, "shared"));
	na = xq_fill(a, path, 100, -ENOSPC);
	CHECK(xq_usage(da, "nodes") == NODES);
	/* Neither gets more through its own tree now. */
	CHECK(xensim_guest_write(a, "own", "1") == -ENOSPC);
	CHECK(xensim_guest_write(b, "own", "1") == -ENOSPC);
	total = (int)xq_usage(da, "nodes") + (int)xq_usage(db, "nodes");
	CHECK(total == 2 * NODES);
	CHECK(na == NODES - 2 && nb == NODES - 2);
	printf("ok: cooperating guests hold exactly 2 x %d nodes, each charged "
	       "to its creator\n", NODES);

	/* A removes B's nodes from its tree (it may: its directory):
	 * B gets its quota back. */
	CHECK_RC(xensim_guest_rm(a, "shared"));
	CHECK(xq_usage(db, "nodes") == 2);
	CHECK_RC(xensim_guest_write(b, "own", "1"));
	printf("ok: removing them returns them to their creator's quota\n");

	xensim_guest_detach(a);
	xensim_guest_detach(b);
	return xsa_finish("xsa_419");
}
