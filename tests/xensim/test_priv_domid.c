/*
 * --priv-domid: a domain privileged like dom0 (a driver or toolstack
 * domain), as the C daemon's option.  The daemon runs with
 * --priv-domid=7 ($MXS_DAEMON_ARG, set by CTest); domain 7 and domain 8
 * are introduced over their rings.  Domain 7 reads and writes what only
 * dom0 may, uses privileged ops and writes outside its home; domain 8,
 * unprivileged, gets EACCES for each.  Fails against a daemon that
 * ignores the option (domain 7 refused) or applies it to everyone
 * (domain 8 allowed).  Ends with XS_CONTROL check.
 *
 * usage: test_priv_domid PRELOAD MXENSTORED
 */
#include "tests/xsa/xsa.h"

#define PRIV 7
#define PLAIN 8

/* What only a privileged caller may do; each returns 0 or -errno. */
static void privileged_acts(struct xensim_guest *g, uint32_t self, int want)
{
	struct xensim_msg *m = NULL;
	char *val = NULL, args[16], path[64];
	int l, rc;

	rc = xensim_guest_read(g, "/dom0only/secret", &val, NULL);
	CHECK(rc == want);
	if (!rc)
		CHECK(!strcmp(val, "s"));
	free(val);
	snprintf(path, sizeof(path), "/outside/by%u", self);
	CHECK(xensim_guest_write(g, path, "x") == want);
	l = snprintf(args, sizeof(args), "%u", PLAIN) + 1;
	rc = xsa_call(g, XS_IS_DOMAIN_INTRODUCED, 0, args, (uint32_t)l, &m);
	CHECK(rc == want);
	if (!rc)
		CHECK(m->body[0] == 'T');
	free(m);
}

int main(int argc, char **argv)
{
	struct xensim_guest *priv, *plain;
	uint32_t d;

	xsa_start("priv-domid", argc, argv);
	CHECK_RC(xensim_sock_write(xh.ts, "/dom0only/secret", "s"));
	CHECK_RC(xsa_dom0_set_perms("/dom0only/secret", "n0"));
	CHECK_RC(xsa_dom0_set_perms("/dom0only", "n0"));
	priv = xsa_guest(PRIV, &d);
	CHECK(d == PRIV);
	plain = xsa_guest(PLAIN, &d);
	CHECK(d == PLAIN);

	privileged_acts(priv, PRIV, 0);
	printf("ok: domain %d (--priv-domid) acts as dom0\n", PRIV);
	privileged_acts(plain, PLAIN, -EACCES);
	printf("ok: domain %d stays unprivileged\n", PLAIN);

	xensim_guest_detach(priv);
	xensim_guest_detach(plain);
	return xsa_finish("priv_domid");
}
