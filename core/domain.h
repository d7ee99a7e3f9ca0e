/* SPDX-License-Identifier: MIT */
/*
 * One introduced domain: its ring page, its event channel on the owning
 * worker and its connection.
 *
 * Lifetime and sharing
 * --------------------
 * - Published in d->domtab[domid] (DOMTAB_R1, release) by the worker
 *   that serves it once it is served (ready), unpublished (NULL) by that
 *   worker when it is released, and freed after a grace period: any
 *   worker online for RCU may look it up (DOMTAB_A1, acquire) and read
 *   the fields marked "any" until its next quiescent state.
 * - The owner worker alone touches the ring, the port and the
 *   connection's I/O.
 * - d->dom_lock serialises introduction and release (slot reservation,
 *   d->domlist); it is never held across I/O to a client.
 */
#ifndef MXS_CORE_DOMAIN_H
#define MXS_CORE_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>

#include <urcu/list.h>
#include <urcu-qsbr.h>

#include "core/daemon.h"
#include "rings/ring.h"

struct mxs_domain {
	/*
	 * First, in one cache line: what a domain sweep reads of every
	 * known domain (mxs_domains_sweep: sweep through the lookup, then
	 * link and sweep on the walk of d->domlist; born and master only
	 * for the few the sweep did not see).  At 32k domains the records
	 * are 7 MB, no cache holds them, and each line a sweep touches per
	 * domain is a miss (bench_sweep).
	 */
	struct cds_list_head link; /* d->domlist, under d->dom_lock */
	uint64_t sweep;         /* worker 0: last sweep that saw it alive */
	uint64_t born;          /* d->sweeps when published; dom_lock */
	uint32_t domid;         /* any */
	uint32_t remote_port;   /* the guest's xenstore port; owner */
	uint32_t port;          /* ours, on w->xce; owner */
	uint32_t rebind_port;   /* a repeated INTRODUCE's port; set before
				   the hand-over, read by the owner */
	struct mxs_worker *w;   /* owner; any */
	struct mxs_ring_page *page; /* owner */
	bool kva;               /* page from xsd_kva (munmap, not grant) */
	bool master;            /* the master domain: no @introduceDomain */
	uint32_t features;      /* ring feature bits; fixed at INTRODUCE */
	int ready;              /* atomic (DOM_R1/A1): served by its owner */
	int shutdown;           /* atomic, relaxed: @releaseDomain fired */
	int releasing;          /* atomic xchg: first releaser wins */
	bool masked;            /* owner: its port was taken this batch */
	struct mxs_conn *next_masked; /* owner: ports to unmask */
	struct mxs_ring ring;   /* owner */
	struct mxs_conn *conn;  /* holds a reference; any (read-only) */
	/* Memory quota messages (mxs_domain_memory_note); owner. */
	bool mem_soft_logged, mem_hard_logged;
	uint64_t mem_logged_at; /* ns, CLOCK_MONOTONIC */
	struct rcu_head rcu;
};

/*
 * Makes dom, fully built, known: in the domain list (born at this sweep
 * count), in the table mxs_domain_lookup reads, and as seen for the
 * store's oracle (XSA-322) unless it was already.  Caller holds
 * d->dom_lock.
 */
void mxs_domain_publish(struct mxs_daemon *d, struct mxs_domain *dom);

/* The domain of domid, or NULL; caller online for RCU. */
struct mxs_domain *mxs_domain_lookup(struct mxs_daemon *d, uint32_t domid);

/*
 * What the memory quota counts for domid (the C daemon 4.17's logical
 * sizes): the bytes of the node records it owns (the store's count) and
 * the path and token bytes of its connection's watches.  Caller: online
 * for RCU.  Relaxed reads: exact on the domain's own worker for its own
 * requests (its watches and commits change there), some recent value
 * elsewhere.
 */
uint64_t mxs_domain_watch_bytes(struct mxs_daemon *d, uint32_t domid);
/* Gives d's store its nodes and memory quotas, read from d->cfg.quota at
 * every check.  Before the workers run. */
void mxs_domain_store_quotas(struct mxs_daemon *d);
uint64_t mxs_domain_memory(struct mxs_daemon *d, uint32_t domid);
/*
 * After a request of c's (an unprivileged domain) that may have changed
 * its memory, rc its result: logs, as the C daemon 4.17 does, when the
 * domain goes above its soft memory quota and when it is below again (at
 * most one such message per 10 s), and once when the hard quota refused
 * a request (-ENOMEM), again only after it was below.  Caller: c's owner
 * worker, online for RCU.
 */
void mxs_domain_memory_note(struct mxs_conn *c, int rc);

#endif
