/* SPDX-License-Identifier: MIT */
/* Permission strings and the access rule (store/perms.h). */
#include "unit.h"

/* Parses a ","-separated list; returns mxs_perms_parse's result. */
static int parse(const char *spec, struct mxs_perm *perms, unsigned int *n)
{
	char buf[128];
	size_t i;

	assert_true(strlen(spec) < sizeof(buf));
	strcpy(buf, spec);
	*n = 1;
	for (i = 0; buf[i]; i++)
		if (buf[i] == ',') {
			buf[i] = '\0';
			(*n)++;
		}
	return mxs_perms_parse(buf, *n, perms);
}

static char *format(const struct mxs_perm *perms, unsigned int n)
{
	struct mxs_buf b = { 0 };
	char *s;

	assert_int_equal(mxs_perms_format(&b, perms, n), 0);
	s = unit_join(&b, ',');
	mxs_buf_free(&b);
	return s;
}

static void test_parse_format(void **state)
{
	struct mxs_perm p[8];
	unsigned int n;
	char *s;

	(void)state;
	assert_int_equal(parse("n0,r5,w3,b7", p, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(p[0].domid, 0);
	assert_int_equal(p[0].mode, MXS_PERM_NONE);
	assert_int_equal(p[1].domid, 5);
	assert_int_equal(p[1].mode, MXS_PERM_READ);
	assert_int_equal(p[2].domid, 3);
	assert_int_equal(p[2].mode, MXS_PERM_WRITE);
	assert_int_equal(p[3].domid, 7);
	assert_int_equal(p[3].mode, MXS_PERM_READ | MXS_PERM_WRITE);
	s = format(p, n);
	assert_string_equal(s, "n0,r5,w3,b7");
	free(s);

	/* strtol base 0, as the C daemon: hex and octal. */
	assert_int_equal(parse("r0x10,b010", p, &n), 0);
	assert_int_equal(p[0].domid, 16);
	assert_int_equal(p[1].domid, 8);
	s = format(p, n);
	assert_string_equal(s, "r16,b8");
	free(s);

	/* Ignored entries are not formatted. */
	assert_int_equal(parse("n1,r2,b3", p, &n), 0);
	p[1].mode |= MXS_PERM_IGNORE;
	s = format(p, n);
	assert_string_equal(s, "n1,b3");
	free(s);
}

static void test_parse_errors(void **state)
{
	struct mxs_perm p[8];
	unsigned int n;

	(void)state;
	assert_int_equal(parse("x0", p, &n), -EINVAL);   /* bad letter */
	assert_int_equal(parse("R0", p, &n), -EINVAL);
	assert_int_equal(parse("r", p, &n), -EINVAL);    /* empty domid */
	assert_int_equal(parse("n0,r", p, &n), -EINVAL);
	assert_int_equal(parse("r5x", p, &n), -EINVAL);  /* trailing junk */
	assert_int_equal(parse("r0x", p, &n), -EINVAL);
	assert_int_equal(parse("n0,b7 ", p, &n), -EINVAL);
	assert_int_equal(parse("", p, &n), -EINVAL);
}

static void test_perm_for(void **state)
{
	struct mxs_perm p[8];
	unsigned int n;
	struct mxs_caller c;
	const uint32_t all = MXS_PERM_READ | MXS_PERM_WRITE | MXS_PERM_OWNER;

	(void)state;
	assert_int_equal(parse("n3,r5,w5,b6", p, &n), 0);

	/* Owner: everything. */
	c = domu(3);
	assert_int_equal(mxs_perm_for(&c, p, n), all);
	/* Privileged: everything, even if not named. */
	assert_int_equal(mxs_perm_for(&dom0, p, n), all);
	/* First matching entry wins (r5, not w5). */
	c = domu(5);
	assert_int_equal(mxs_perm_for(&c, p, n), MXS_PERM_READ);
	c = domu(6);
	assert_int_equal(mxs_perm_for(&c, p, n),
			 MXS_PERM_READ | MXS_PERM_WRITE);
	/* Not named: the default (owner entry's mode). */
	c = domu(9);
	assert_int_equal(mxs_perm_for(&c, p, n), MXS_PERM_NONE);
	assert_int_equal(parse("r3,w5", p, &n), 0);
	assert_int_equal(mxs_perm_for(&c, p, n), MXS_PERM_READ);

	/* Ignored entries are skipped: the next match applies. */
	assert_int_equal(parse("n3,r5,w5", p, &n), 0);
	p[1].mode |= MXS_PERM_IGNORE;
	c = domu(5);
	assert_int_equal(mxs_perm_for(&c, p, n), MXS_PERM_WRITE);
	p[2].mode |= MXS_PERM_IGNORE;
	assert_int_equal(mxs_perm_for(&c, p, n), MXS_PERM_NONE);

	/* A target of the owner gets everything; a target named in an
	 * entry gets that entry. */
	assert_int_equal(parse("n3,r7", p, &n), 0);
	c = domu(8);
	c.target = 3;
	assert_int_equal(mxs_perm_for(&c, p, n), all);
	c.target = 7;
	assert_int_equal(mxs_perm_for(&c, p, n), MXS_PERM_READ);
	c.target = 4;
	assert_int_equal(mxs_perm_for(&c, p, n), MXS_PERM_NONE);

	/* Read-only callers never get write. */
	assert_int_equal(parse("b3,b5", p, &n), 0);
	assert_int_equal(mxs_perm_for(&dom0_ro, p, n),
			 MXS_PERM_READ | MXS_PERM_OWNER);
	c = domu(5);
	c.readonly = true;
	assert_int_equal(mxs_perm_for(&c, p, n), MXS_PERM_READ);
	c = domu(3);
	c.readonly = true;
	assert_int_equal(mxs_perm_for(&c, p, n),
			 MXS_PERM_READ | MXS_PERM_OWNER);

	/* An empty list grants nothing to the unprivileged. */
	c = domu(5);
	assert_int_equal(mxs_perm_for(&c, p, 0), MXS_PERM_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_perm_for),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
