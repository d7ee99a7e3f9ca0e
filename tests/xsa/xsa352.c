/*
 * XSA-352 (CVE-2020-29486, oxenstored): an unprivileged guest could
 * change the owner of a node it owned.  Giving a node away lets a guest
 * escape its node quota (the nodes count against the new owner), make
 * another domain look responsible for them, or, giving it to dom0, keep
 * it alive past its own death.  The fix: only a privileged domain
 * changes the owner (the first entry of SET_PERMS); a guest may change
 * the other entries.
 *
 * The attack here: a guest sets the owner of its nodes to another guest
 * and to dom0, directly and inside a transaction.  Against a daemon
 * without the fix the SET_PERMS succeed and GET_PERMS shows the new
 * owner: the checks below fail.
 */
#include "tests/xsa/xsa.h"

static void want_perms(const char *path, const char *spaced)
{
	struct xensim_msg *m;
	char want[64];
	uint32_t l = xsa_perms(want, sizeof(want), spaced);

	CHECK_RC(xsa_dom0_call(XS_GET_PERMS, 0, path, (uint32_t)strlen(path) + 1, &m));
	CHECK(m->len == l && !memcmp(m->body, want, l));
	free(m);
}

static int set_perms(struct xensim_guest *g, uint32_t tx, const char *path,
		     const char *spaced)
{
	char req[128];
	size_t n = strlen(path) + 1;
	uint32_t l = xsa_perms(req + n, sizeof(req) - n, spaced);

	memcpy(req, path, n);
	return xsa_call(g, XS_SET_PERMS, tx, req, (uint32_t)n + l, NULL);
}

int main(int argc, char **argv)
{
	struct xensim_guest *a, *b;
	char spaced[64], own[16], path[64];
	uint32_t da, db, tx;

	xsa_start("xsa352", argc, argv);
	a = xsa_guest(XENSIM_ANY_DOMID, &da);
	b = xsa_guest(XENSIM_ANY_DOMID, &db);
	snprintf(path, sizeof(path), "%s", xsa_home(da, "data/mine"));
	snprintf(own, sizeof(own), "n%u", da);
	CHECK_RC(xensim_guest_write(a, "data/mine", "v"));
	want_perms(path, own);

	snprintf(spaced, sizeof(spaced), "n%u", db);
	CHECK(set_perms(a, 0, "data/mine", spaced) == -EPERM);
	CHECK(set_perms(a, 0, "data/mine", "n0") == -EPERM);
	snprintf(spaced, sizeof(spaced), "b%u r%u", db, da);
	CHECK(set_perms(a, 0, "data/mine", spaced) == -EPERM);
	want_perms(path, own);
	/* The same inside a transaction: refused there, nothing at commit. */
	tx = xsa_tx_start(a);
	snprintf(spaced, sizeof(spaced), "n%u", db);
	CHECK(set_perms(a, tx, "data/mine", spaced) == -EPERM);
	CHECK_RC(xsa_call(a, XS_TRANSACTION_END, tx, "T", 2, NULL));
	want_perms(path, own);
	/* B was never given the node. */
	CHECK(xensim_guest_write(b, path, "stolen") == -EACCES);
	printf("ok: a guest cannot change the owner of its node\n");

	/* What a guest may do: other entries, owner unchanged. */
	snprintf(spaced, sizeof(spaced), "n%u r%u", da, db);
	CHECK_RC(set_perms(a, 0, "data/mine", spaced));
	want_perms(path, spaced);
	/* And dom0 may change the owner. */
	snprintf(spaced, sizeof(spaced), "n%u", db);
	CHECK_RC(xsa_dom0_set_perms(path, spaced));
	want_perms(path, spaced);

	xensim_guest_detach(a);
	xensim_guest_detach(b);
	return xsa_finish("xsa_352");
}
