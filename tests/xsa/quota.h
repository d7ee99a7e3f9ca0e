/*
 * Helpers of the quota advisories' tests: quotas set at run time as
 * Debian's xenstore-control sends them (XS_CONTROL "quota set <name>
 * <value>"), and a domain's usage read with the real xenstore-control
 * binary ("quota <domid>": "<what>: <n>" lines).
 */
#ifndef MXS_TESTS_XSA_QUOTA_H
#define MXS_TESTS_XSA_QUOTA_H

#include "tests/xsa/xsa.h"

static inline void xq_set(const char *name, unsigned int value)
{
	char args[96];
	int l = snprintf(args, sizeof(args), "quota%cset%c%s%c%u", 0, 0, name,
			 0, value) + 1;

	CHECK_RC(xsa_dom0_call(XS_CONTROL, 0, args, (uint32_t)l, NULL));
}

/* xenstore-control quota <domid>, the value of line `what`; -1 when the
 * daemon knows no such domain (the tool fails). */
static inline long xq_usage(uint32_t domid, const char *what)
{
	char cmd[768], line[256];
	long v = -2;
	FILE *p;

	CHECK(access(MXS_XENSTORE_CONTROL, X_OK) == 0);
	snprintf(cmd, sizeof(cmd), "XENSTORED_PATH=%s %s quota %u 2>/dev/null",
		 xh.sockpath, MXS_XENSTORE_CONTROL, domid);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	while (fgets(line, sizeof(line), p)) {
		size_t n = strlen(what);
		char *colon = strchr(line, ':');

		if (!strncmp(line, what, n) && colon &&
		    (line[n] == ' ' || line[n] == ':'))
			v = strtol(colon + 1, NULL, 10);
	}
	if (pclose(p) != 0)
		return -1;
	CHECK(v >= 0);
	return v;
}

/* Writes until the daemon refuses; returns how many were accepted and
 * checks the refusal is rc. */
static inline int xq_fill(struct xensim_guest *g, const char *prefix, int max,
			  int rc)
{
	char path[96];
	int i, r = 0;

	for (i = 0; i < max; i++) {
		snprintf(path, sizeof(path), "%s%d", prefix, i);
		r = xensim_guest_write(g, path, "x");
		if (r)
			break;
	}
	CHECK(r == rc);
	return i;
}

#endif
