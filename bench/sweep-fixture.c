/* SPDX-License-Identifier: MIT */
#include "bench/sweep-fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/dominfo.h"
#include "store/rcu.h"
#include "tests/inproc.h"

static struct mxs_daemon d;
static struct mxs_worker w;
static bool made;
static uint32_t known;

/* A domain record as INTRODUCE publishes it, minus the ring and the
 * connection (a sweep that finds the domain alive touches neither). */
static int know(uint32_t domid)
{
	struct mxs_domain *dom = calloc(1, sizeof(*dom));

	if (!dom)
		return -1;
	dom->domid = domid;
	dom->w = &w;
	dom->master = domid == d.cfg.master_domid;
	dom->features = mxs_domain_features_for(&d, domid);
	__atomic_store_n(&dom->ready, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&d.dom_lock);
	mxs_domain_publish(&d, dom);
	pthread_mutex_unlock(&d.dom_lock);
	w.ndomains++;
	return 0;
}

/* Hand-overs a failed run's sweep posted (releases) go first: they
 * point at the domains freed below.  Requester-less: no references. */
static void drain_inbox(void)
{
	struct mxs_mpsc_node *node;

	while ((node = mxs_mpsc_pop(&w.inbox)))
		free(caa_container_of(node, struct mxs_inbox_msg, node));
}

static void forget_all(void)
{
	struct mxs_domain *dom, *tmp;

	drain_inbox();

	cds_list_for_each_entry_safe(dom, tmp, &d.domlist, link) {
		cds_list_del(&dom->link);
		__atomic_store_n(&d.domtab[dom->domid], NULL, __ATOMIC_RELEASE);
		__atomic_store_n(&d.domseen[dom->domid], 0, __ATOMIC_RELAXED);
		/* This thread is the only reader and between sweeps. */
		free(dom);
	}
	w.ndomains = 0;
	known = 0;
}

int bench_sweep_setup(const char *plugin, uint32_t ndomains,
		      uint32_t nknown)
{
	char n[16];

	if (!made) {
		rcu_register_thread();
		if (mxs_inproc_init(&d, &w, 1)) {
			fprintf(stderr, "bench_sweep: no in-process daemon\n");
			return -1;
		}
		made = true;
	}
	forget_all();
	if (w.dominfo)
		mxs_dominfo_unload(w.dominfo);
	snprintf(n, sizeof(n), "%u", ndomains);
	setenv("MXS_BENCH_DOMAINS", n, 1);
	w.dominfo = mxs_dominfo_load(plugin);
	if (!w.dominfo) {
		fprintf(stderr, "bench_sweep: cannot load %s\n", plugin);
		return -1;
	}
	for (uint32_t domid = 0; domid < nknown; domid++)
		if (know(domid))
			return -1;
	known = nknown;
	return 0;
}

int bench_sweep_dominfo(void)
{
	const struct mxs_dominfo_v1 *info;

	return mxs_dominfo_sweep(w.dominfo, &info);
}

void bench_sweep_domains(void)
{
	mxs_domains_sweep(&w);
}

int bench_sweep_check(const char **why)
{
	uint64_t id = __atomic_load_n(&d.sweeps, __ATOMIC_RELAXED);
	struct mxs_domain *dom;
	uint32_t n = 0;

	cds_list_for_each_entry(dom, &d.domlist, link) {
		if (__atomic_load_n(&dom->releasing, __ATOMIC_RELAXED) ||
		    __atomic_load_n(&dom->shutdown, __ATOMIC_RELAXED)) {
			*why = "a known domain was released or shut down";
			return -1;
		}
		if (dom->sweep != id) {
			*why = "a known domain was not seen by the last sweep";
			return -1;
		}
		n++;
	}
	if (n != known) {
		*why = "the daemon lost domains";
		return -1;
	}
	if (mxs_mpsc_pop(&w.inbox)) {
		*why = "the sweep posted a hand-over (a release)";
		return -1;
	}
	return 0;
}
