/* SPDX-License-Identifier: MIT */
/*
 * An in-process daemon for harnesses (the fuzz targets, unit tests): n
 * workers with no threads of their own, driven by hand from the calling
 * thread (mxs_conn_readable, mxs_worker_take_events,
 * mxs_worker_service_dirty, mxs_worker_bury), set up as core/main.c sets
 * up the daemon: default quotas, the store's nodes and memory quotas, the
 * domain tables.  The caller has registered with RCU; worker 0 is
 * adopted by it.  Returns 0, or -1 when something could not be made.
 */
#ifndef MXS_TESTS_INPROC_H
#define MXS_TESTS_INPROC_H

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "core/daemon.h"
#include "core/domain.h"

static inline int mxs_inproc_init(struct mxs_daemon *d, struct mxs_worker *w,
				  unsigned int n)
{
	d->trace_fd = -1;
	pthread_mutex_init(&d->trace_lock, NULL);
	if (mxs_commit_lock_init(d))
		return -1;
	mxs_quota_defaults(&d->cfg.quota);
	d->nworkers = n;
	d->workers = w;
	d->store = mxs_store_new();
	d->watches = mxs_watches_new();
	if (!d->store || !d->watches)
		return -1;
	mxs_domain_store_quotas(d);
	if (mxs_domains_init(d))
		return -1;
	d->dispatch = mxs_dispatch;
	for (unsigned int k = 0; k < n; k++) {
		w[k].d = d;
		w[k].id = k;
		CDS_INIT_LIST_HEAD(&w[k].conns);
		mxs_mpsc_init(&w[k].inbox);
		mxs_mpsc_init(&w[k].events);
		w[k].epfd = epoll_create1(0);
		w[k].evfd = eventfd(0, EFD_NONBLOCK);
		if (w[k].epfd < 0 || w[k].evfd < 0)
			return -1;
	}
	mxs_worker_adopt(&w[0]);
	return 0;
}

#endif
