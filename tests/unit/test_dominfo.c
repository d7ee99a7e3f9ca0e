/* SPDX-License-Identifier: MIT */
/*
 * The domain-info plugin and its loader (core/dominfo.c), against the Xen
 * simulator: run with LD_PRELOAD=libxensim.so (the plugin's libxenctrl
 * calls land in the simulator) and XENSIM_DIR set by the test itself.
 *
 *   unit_test_dominfo PLUGIN NON_PLUGIN_LIBRARY
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/dominfo.h"
#include "tests/xensim/xensim.h"

static const char *plugin_path, *other_lib;
static struct xensim_sim *sim;

static const struct mxs_dominfo_v1 *find(const struct mxs_dominfo_v1 *v,
					 int n, uint32_t domid)
{
	int i;

	for (i = 0; i < n; i++)
		if (v[i].domid == domid)
			return &v[i];
	return NULL;
}

static void test_load_errors(void **state)
{
	(void)state;
	errno = 0;
	assert_null(mxs_dominfo_load("/nonexistent/plugin.so"));
	assert_int_equal(errno, ENOENT);
	/* A real shared library that is not a plugin. */
	errno = 0;
	assert_null(mxs_dominfo_load(other_lib));
	assert_int_equal(errno, ENOSYS);
}

static void test_sweep_and_states(void **state)
{
	const struct mxs_dominfo_v1 *v, *d;
	struct mxs_dominfo_v1 one, before;
	struct mxs_dominfo *di;
	uint32_t id;
	int n, i;

	(void)state;
	di = mxs_dominfo_load(plugin_path);
	assert_non_null(di);
	assert_string_equal(mxs_dominfo_name(di), "xenctrl 4.17");

	/* dom0 only at first. */
	n = mxs_dominfo_sweep(di, &v);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].domid, 0);
	assert_false(v[0].dying);
	assert_false(v[0].shutdown);

	for (i = 1; i <= 5; i++) {
		assert_int_equal(xensim_domain_create(sim, (uint32_t)i, &id), 0);
		assert_int_equal(id, (uint32_t)i);
	}
	assert_int_equal(xensim_domain_shutdown(sim, 2, 3 /* crash */), 0);
	assert_int_equal(mxs_dominfo_get(di, 3, &before), 0);
	assert_int_equal(xensim_domain_destroy(sim, 3, true), 0);

	/* One sweep sees every state at once, ascending. */
	n = mxs_dominfo_sweep(di, &v);
	assert_in_range(n, 5, 6);
	for (i = 1; i < n; i++)
		assert_true(v[i - 1].domid < v[i].domid);
	d = find(v, n, 1);
	assert_non_null(d);
	assert_false(d->dying || d->shutdown);
	d = find(v, n, 2);
	assert_non_null(d);
	assert_true(d->shutdown);
	assert_int_equal(d->shutdown_code, 3);
	assert_false(d->dying);
	d = find(v, n, 3); /* destroyed: gone, or dying until unmapped */
	assert_true(!d || d->dying);

	/* Single queries. */
	assert_int_equal(mxs_dominfo_get(di, 5, &one), 0);
	assert_int_equal(one.domid, 5);
	assert_int_equal(mxs_dominfo_get(di, 99, &one), -ESRCH);

	/* A domid reused by a new domain has another handle (XSA-322). */
	if (!find(v, n, 3)) {
		assert_int_equal(xensim_domain_create(sim, 3, &id), 0);
		assert_int_equal(mxs_dominfo_get(di, 3, &one), 0);
		assert_memory_not_equal(one.handle, before.handle,
					sizeof(one.handle));
	}
	mxs_dominfo_unload(di);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_sweep_and_states),
	};
	char dir[] = "/tmp/mxs-dominfo-XXXXXX";

	if (argc != 3) {
		fprintf(stderr, "usage: %s PLUGIN NON_PLUGIN_LIBRARY\n",
			argv[0]);
		return 2;
	}
	plugin_path = argv[1];
	other_lib = argv[2];
	if (!mkdtemp(dir) || xensim_init(dir) || xensim_open(dir, &sim)) {
		fprintf(stderr, "cannot set up the simulator in %s\n", dir);
		return 1;
	}
	setenv("XENSIM_DIR", dir, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
