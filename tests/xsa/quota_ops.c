/*
 * Xen 4.22's GET/SET_QUOTA and GET/SET_FEATURE over guest rings:
 * per-domain quotas that bind that domain only and go with it at
 * release, feature bits set before INTRODUCE that the ring's
 * server_features shows and that cannot change afterwards, and the
 * privilege rules (a guest may ask for its own features only).
 *
 * usage: quota_ops PRELOAD MXENSTORED
 */
#include "tests/xsa/quota.h"

/* Xen 4.22's op numbers (Debian's 4.17 xs_wire.h has none of them). */
enum { OP_GET_FEATURE = 23, OP_SET_FEATURE, OP_GET_QUOTA, OP_SET_QUOTA };

static void expect_value(uint32_t op, const char *args, uint32_t len,
			 const char *want)
{
	struct xensim_msg *m;

	CHECK_RC(xsa_dom0_call(op, 0, args, len, &m));
	if (strcmp(m->body, want))
		fprintf(stderr, "op %u: %s, want %s\n", op, m->body, want);
	CHECK(!strcmp(m->body, want));
	free(m);
}

int main(int argc, char **argv)
{
	struct xensim_guest *a, *b;
	struct xensim_msg *m;
	uint32_t da, db, got;
	char args[64], perms[16];
	int l;

	xsa_start("quota_ops", argc, argv);

	/* Features chosen before INTRODUCE: reconnection only. */
	CHECK_RC(xensim_domain_create(xh.sim, XENSIM_ANY_DOMID, &da));
	l = snprintf(args, sizeof(args), "%u%c1", da, 0) + 1;
	CHECK_RC(xsa_dom0_call(OP_SET_FEATURE, 0, args, (uint32_t)l, NULL));
	CHECK_RC(xensim_sock_mkdir(xh.ts, xsa_home(da, NULL)));
	snprintf(perms, sizeof(perms), "n%u", da);
	CHECK_RC(xensim_sock_set_perms(xh.ts, xsa_home(da, NULL), perms,
				       (uint32_t)strlen(perms) + 1));
	CHECK_RC(xensim_guest_attach(xh.q, da, &a));
	CHECK_RC(xensim_sock_introduce(xh.ts, da, xensim_domain_mfn(da),
				       xensim_guest_port(a)));
	CHECK(xensim_guest_server_features(a) == XENSTORE_SERVER_FEATURE_RECONNECTION);
	CHECK_RC(xsa_call(a, OP_GET_FEATURE, 0, "", 1, &m));
	CHECK(!strcmp(m->body, "1"));
	free(m);
	/* Fixed now; a guest asks for its own only. */
	CHECK(xsa_dom0_call(OP_SET_FEATURE, 0, args, (uint32_t)l, NULL) == -EBUSY);
	l = snprintf(args, sizeof(args), "%u", da) + 1;
	expect_value(OP_GET_FEATURE, args, (uint32_t)l, "1");
	CHECK(xsa_call(a, OP_GET_FEATURE, 0, args, (uint32_t)l, NULL) == -EACCES);
	b = xsa_guest(XENSIM_ANY_DOMID, &db);
	CHECK(xensim_guest_server_features(b) ==
	      (XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR));
	printf("ok: features set before INTRODUCE shown on the ring, fixed after\n");

	/* A per-domain nodes quota binds that domain only. */
	l = snprintf(args, sizeof(args), "%u%cnodes%c5", da, 0, 0) + 1;
	CHECK_RC(xsa_dom0_call(OP_SET_QUOTA, 0, args, (uint32_t)l, NULL));
	l = snprintf(args, sizeof(args), "%u%cnodes", da, 0) + 1;
	expect_value(OP_GET_QUOTA, args, (uint32_t)l, "5");
	expect_value(OP_GET_QUOTA, "nodes", 6, "1000");
	CHECK(xq_fill(a, "n", 100, -ENOSPC) == 4);
	CHECK(xq_fill(b, "n", 10, 0) == 10);
	CHECK(xsa_call(a, OP_GET_QUOTA, 0, "nodes", 6, NULL) == -EACCES);
	CHECK(xsa_call(a, OP_SET_QUOTA, 0, "nodes\0" "9999", 11, NULL) == -EACCES);
	printf("ok: a domain's own quota binds it alone; guests may not ask\n");

	/* Released and re-created: the globals and defaults apply again. */
	xensim_guest_detach(a);
	xsa_destroy(da);
	xsa_dom0_events(NULL, 100);
	CHECK(xsa_dom0_call(OP_GET_QUOTA, 0, args, (uint32_t)l, NULL) == -ENOENT);
	CHECK_RC(xensim_domain_create(xh.sim, da, &got));
	CHECK(got == da);
	CHECK_RC(xensim_sock_mkdir(xh.ts, xsa_home(da, NULL)));
	CHECK_RC(xensim_sock_set_perms(xh.ts, xsa_home(da, NULL), perms,
				       (uint32_t)strlen(perms) + 1));
	CHECK_RC(xensim_guest_attach(xh.q, da, &a));
	CHECK_RC(xensim_sock_introduce(xh.ts, da, xensim_domain_mfn(da),
				       xensim_guest_port(a)));
	expect_value(OP_GET_QUOTA, args, (uint32_t)l, "1000");
	CHECK(xensim_guest_server_features(a) ==
	      (XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR));
	CHECK(xq_fill(a, "n", 10, 0) == 10);
	printf("ok: a reused domid gets the global quota and default features\n");

	xensim_guest_detach(a);
	xensim_guest_detach(b);
	return xsa_finish("quota_ops");
}
