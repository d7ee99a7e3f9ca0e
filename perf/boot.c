/* SPDX-License-Identifier: MIT */
/*
 * The toolstack's boot storm and death storm (mxs-perf boot, xsboot).
 *
 * Client threads (toolstack workers) build domains' xenstore trees the way
 * libxl does, each in one transaction retried on EAGAIN: the domain's home
 * /local/domain/<id> (owner handed to the domain, dom0 may read), ~20
 * nodes of name, memory, console, vif and vbd frontends, and the matching
 * backend directories under /local/domain/0/backend (readable by the
 * frontend, state 1): about 30 requests, as libxl makes.  Every domain's tree
 * is then read back and checked, and every domain torn down (one
 * transaction each: rm the home and the backends).
 *
 * Threads share only the next-domain counter and the error counters
 * (relaxed atomics: nothing else is published through them); each keeps
 * its own latency samples, merged after the phase's join.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf/perf.h"

enum boot_phase { BOOT_BUILD, BOOT_CHECK, BOOT_TEARDOWN };

struct boot_run {
	struct mxs_perf_boot *b;
	enum boot_phase phase;
	int next; /* next domain index (relaxed atomic) */
};

struct boot_client {
	pthread_t thr;
	struct boot_run *run;
	struct mxs_perf_conn *c;
	struct mxs_perf_lat lat;
	uint64_t requests;
	struct mxs_msg_hdr h;
	char *body;
};

static const char *const boot_leaves[][2] = {
	{ "name", "guest" },
	{ "memory/target", "1048576" },
	{ "memory/static-max", "1048576" },
	{ "cpu/0/availability", "online" },
	{ "cpu/1/availability", "online" },
	{ "console/port", "2" },
	{ "console/ring-ref", "1234" },
	{ "console/type", "xenconsoled" },
	{ "device/vif/0/state", "1" },
	{ "device/vif/0/mac", "00:16:3e:00:00:01" },
	{ "device/vbd/51712/state", "1" },
	{ "device/vbd/51712/virtual-device", "51712" },
	{ "control/shutdown", "" },
	{ "control/platform-feature-multiprocessor-suspend", "1" },
	{ "data", "" },
	{ "drivers", "" },
	{ "attr", "" },
	{ "error", "" },
};

/* One timed request: 0 or -errno (of an error reply or the transport). */
static int boot_call(struct boot_client *k, uint32_t type, uint32_t tx,
		     const char *path, const void *val, size_t vlen)
{
	uint64_t t0 = mxs_perf_now_ns();
	int rc = mxs_perf_call(k->c, type, tx, path, val, vlen, &k->h,
			       &k->body, NULL);

	mxs_perf_lat_add(&k->lat, mxs_perf_now_ns() - t0);
	k->requests++;
	return rc;
}

/* Ends transaction tx: commits when rc is 0, else aborts and returns rc. */
static int boot_end(struct boot_client *k, uint32_t tx, int rc)
{
	if (rc) {
		boot_call(k, MXS_OP_TRANSACTION_END, tx, "F", NULL, 0);
		return rc;
	}
	return boot_call(k, MXS_OP_TRANSACTION_END, tx, "T", NULL, 0);
}

/* Builds domain d in one transaction.  0, -EAGAIN (retry), or -errno. */
static int boot_build(struct boot_client *k, int d)
{
	char path[160], perms[40], val[32];
	uint32_t tx;
	size_t i;
	int rc, n;

	if ((rc = boot_call(k, MXS_OP_TRANSACTION_START, 0, "", NULL, 0)))
		return rc;
	tx = (uint32_t)strtoul(k->body, NULL, 10);
	snprintf(path, sizeof(path), "/local/domain/%d", d);
	rc = boot_call(k, MXS_OP_MKDIR, tx, path, NULL, 0);
	/* Hand the home to the domain, readable by dom0 (libxl's rule). */
	n = snprintf(perms, sizeof(perms), "n%d", d) + 1;
	n += snprintf(perms + n, sizeof(perms) - (size_t)n, "r0") + 1;
	if (!rc)
		rc = boot_call(k, MXS_OP_SET_PERMS, tx, path, perms, (size_t)n);
	for (i = 0; !rc && i < sizeof(boot_leaves) / sizeof(boot_leaves[0]);
	     i++) {
		snprintf(path, sizeof(path), "/local/domain/%d/%s", d,
			 boot_leaves[i][0]);
		rc = boot_call(k, MXS_OP_WRITE, tx, path, boot_leaves[i][1],
			       strlen(boot_leaves[i][1]));
	}
	/* Each backend directory: owned by dom0, readable by its frontend
	 * (whose driver watches the backend's state), state Initialising. */
	for (i = 0; !rc && i < 2; i++) {
		const char *dev = i ? "vbd" : "vif", *id = i ? "51712" : "0";
		char be[96];

		snprintf(be, sizeof(be), "/local/domain/0/backend/%s/%d/%s", dev,
			 d, id);
		snprintf(path, sizeof(path), "%s/frontend-id", be);
		n = snprintf(val, sizeof(val), "%d", d);
		rc = boot_call(k, MXS_OP_WRITE, tx, path, val, (size_t)n);
		n = snprintf(perms, sizeof(perms), "n0") + 1;
		n += snprintf(perms + n, sizeof(perms) - (size_t)n, "r%d", d) + 1;
		if (!rc)
			rc = boot_call(k, MXS_OP_SET_PERMS, tx, be, perms,
				       (size_t)n);
		snprintf(path, sizeof(path), "%s/state", be);
		if (!rc)
			rc = boot_call(k, MXS_OP_WRITE, tx, path, "1", 1);
		snprintf(path, sizeof(path), "/local/domain/%d/device/%s/%s/backend",
			 d, dev, id);
		if (!rc)
			rc = boot_call(k, MXS_OP_WRITE, tx, path, be, strlen(be));
	}
	return boot_end(k, tx, rc);
}

int mxs_perf_boot_domain(struct mxs_perf_conn *c, int domid,
			 struct mxs_perf_lat *lat, uint64_t *requests,
			 uint64_t *eagain)
{
	struct boot_client k = { .c = c, .lat = *lat };
	int rc;

	while ((rc = boot_build(&k, domid)) == -EAGAIN)
		(*eagain)++;
	*lat = k.lat;
	*requests += k.requests;
	return rc;
}

static int boot_check(struct boot_client *k, int d)
{
	char path[160];
	int rc;

	snprintf(path, sizeof(path), "/local/domain/%d/device/vif/0/mac", d);
	rc = boot_call(k, MXS_OP_READ, 0, path, NULL, 0);
	if (rc || strcmp(k->body, "00:16:3e:00:00:01"))
		return rc ? rc : -EIO;
	snprintf(path, sizeof(path), "/local/domain/%d", d);
	rc = boot_call(k, MXS_OP_GET_PERMS, 0, path, NULL, 0);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "n%d", d); /* the domain owns it */
	return strcmp(k->body, path) ? -EIO : 0;
}

static int boot_teardown(struct boot_client *k, int d)
{
	char path[160];
	uint32_t tx;
	int rc, i;

	if ((rc = boot_call(k, MXS_OP_TRANSACTION_START, 0, "", NULL, 0)))
		return rc;
	tx = (uint32_t)strtoul(k->body, NULL, 10);
	snprintf(path, sizeof(path), "/local/domain/%d", d);
	rc = boot_call(k, MXS_OP_RM, tx, path, NULL, 0);
	for (i = 0; !rc && i < 2; i++) {
		snprintf(path, sizeof(path), "/local/domain/0/backend/%s/%d",
			 i ? "vbd" : "vif", d);
		rc = boot_call(k, MXS_OP_RM, tx, path, NULL, 0);
	}
	return boot_end(k, tx, rc);
}

static void *boot_client_main(void *arg)
{
	struct boot_client *k = arg;
	struct boot_run *r = k->run;
	struct mxs_perf_boot *b = r->b;
	int d, rc;

	while ((d = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED)) <
	       b->domains) {
		d += 1; /* domids from 1 */
		do {
			rc = r->phase == BOOT_BUILD   ? boot_build(k, d)
			     : r->phase == BOOT_CHECK ? boot_check(k, d)
						      : boot_teardown(k, d);
			if (rc == -EAGAIN)
				__atomic_fetch_add(&b->eagain, 1,
						   __ATOMIC_RELAXED);
		} while (rc == -EAGAIN);
		if (rc) {
			__atomic_fetch_add(&b->errors, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	return NULL;
}

/* One phase on every client; returns its wall time in seconds. */
static double boot_phase(struct boot_run *r, struct boot_client *k,
			 enum boot_phase p)
{
	uint64_t t0 = mxs_perf_now_ns();
	int i;

	r->phase = p;
	r->next = 0;
	for (i = 0; i < r->b->clients; i++)
		if (pthread_create(&k[i].thr, NULL, boot_client_main, &k[i]))
			abort();
	for (i = 0; i < r->b->clients; i++)
		pthread_join(k[i].thr, NULL);
	return (double)(mxs_perf_now_ns() - t0) / 1e9;
}

int mxs_perf_boot_run(struct mxs_perf_boot *b)
{
	struct boot_run r = { .b = b };
	struct boot_client *k = calloc((size_t)b->clients, sizeof(*k));
	double cpu0;
	int i, rc = 0;

	if (!k)
		return -ENOMEM;
	for (i = 0; i < b->clients; i++) {
		k[i].run = &r;
		k[i].c = mxs_perf_conn_open(b->t, b->target, (uint32_t)i);
		if (!k[i].c) {
			rc = -errno;
			goto out;
		}
	}
	cpu0 = mxs_perf_cpu_s(b->pid);
	b->build_s = boot_phase(&r, k, BOOT_BUILD);
	if (!b->errors)
		b->check_s = boot_phase(&r, k, BOOT_CHECK);
	if (!b->errors)
		b->teardown_s = boot_phase(&r, k, BOOT_TEARDOWN);
	b->cpu_s = cpu0 < 0 ? -1 : mxs_perf_cpu_s(b->pid) - cpu0;
	for (i = 0; i < b->clients; i++) {
		b->requests += k[i].requests;
		if ((rc = mxs_perf_lat_merge(&b->lat, &k[i].lat)))
			goto out;
	}
	mxs_perf_lat_sort(&b->lat);
out:
	for (i = 0; i < b->clients; i++) {
		mxs_perf_lat_free(&k[i].lat);
		mxs_perf_conn_close(k[i].c);
	}
	free(k);
	return rc;
}
