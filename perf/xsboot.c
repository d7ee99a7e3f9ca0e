/* SPDX-License-Identifier: MIT */
/*
 * xsboot: a toolstack's boot storm and death storm over the Unix socket,
 * one parseable line (the integration test's form of `mxs-perf boot`,
 * perf/boot.c).
 *
 *   xsboot --socket PATH [--domains N] [--clients C] [--label NAME]
 *
 *   xsboot label=NAME domains=N clients=C build_s=... build_dom_per_s=...
 *          check_s=... teardown_s=... teardown_dom_per_s=... eagain=...
 *          errors=0
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf/perf.h"

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "domains", required_argument, NULL, 'd' },
		{ "clients", required_argument, NULL, 'c' },
		{ "label", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct mxs_perf_boot b = { .t = &mxs_perf_socket, .domains = 1000,
				   .clients = 4 };
	const char *label = "daemon";
	int o, rc;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 's': b.target = optarg; break;
		case 'd': b.domains = atoi(optarg); break;
		case 'c': b.clients = atoi(optarg); break;
		case 'l': label = optarg; break;
		default: return 2;
		}
	}
	if (!b.target || b.domains < 1 || b.domains >= 0x7ff0 ||
	    b.clients < 1 || b.clients > 1024) {
		fprintf(stderr, "usage: xsboot --socket PATH [--domains N] "
				"[--clients C] [--label NAME]\n");
		return 2;
	}
	if ((rc = mxs_perf_boot_run(&b))) {
		fprintf(stderr, "xsboot: %s\n", strerror(-rc));
		return 1;
	}
	printf("xsboot label=%s domains=%d clients=%d build_s=%.2f "
	       "build_dom_per_s=%.0f check_s=%.2f teardown_s=%.2f "
	       "teardown_dom_per_s=%.0f eagain=%llu errors=%llu\n",
	       label, b.domains, b.clients, b.build_s, b.domains / b.build_s,
	       b.check_s, b.teardown_s,
	       b.teardown_s > 0 ? b.domains / b.teardown_s : 0,
	       (unsigned long long)b.eagain, (unsigned long long)b.errors);
	mxs_perf_lat_free(&b.lat);
	return b.errors ? 1 : 0;
}
