/* SPDX-License-Identifier: MIT */
/*
 * Domains: the global table domid -> domain, introduction, release,
 * SET_TARGET, RESUME, dom0 from xsd_kva/xsd_port, and VIRQ_DOM_EXC.
 *
 * A domain op arrives on the requester's connection (dom0's socket or
 * ring, on any worker) but a domain is served by one worker, which binds
 * its port on its own event-channel handle.  So INTRODUCE and RELEASE
 * are handed to the owning worker through its inbox; the requester's
 * connection is blocked (it reads no further request) until the owner's
 * answer comes back through the requester's inbox, which keeps that
 * connection's replies in order.  Events the owner fires on the way
 * (@introduceDomain, @releaseDomain) are posted before the answer, so a
 * requester watching them sees the event first, as with the C daemon.
 *
 * Table (DOMTAB_R1/A1): d->domtab[domid] is published with a release
 * store by the owner once the domain is served and cleared by it on
 * release, both under d->dom_lock; readers on any worker load it with
 * an acquire load and may use the domain until their next quiescent
 * state (it is freed with call_rcu).  d->dom_lock also guards the
 * reservation of a domid being introduced and d->domlist.
 *
 * VIRQ_DOM_EXC is bound on worker 0.  Each signal costs one getinfolist
 * sweep of all domains (core/dominfo.c) merged with the table: a domain
 * reported dying, or introduced before the sweep began and missing from
 * it, is released on its owner; one @releaseDomain fires for domains
 * newly shut down.  Nothing is queried per domain.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xen/grant_table.h>

#include "core/domain.h"
#include "core/dominfo.h"
#include "mxs/protocol-names.h"
#include "store/rcu.h"

#define XSD_PORT "/proc/xen/xsd_port"
#define XSD_KVA "/proc/xen/xsd_kva"
#define PAGE 4096

int mxs_domains_init(struct mxs_daemon *d)
{
	d->domtab = calloc(MXS_DOMID_FIRST_RESERVED, sizeof(*d->domtab));
	d->domresv = calloc(MXS_DOMID_FIRST_RESERVED, 1);
	d->domseen = calloc(MXS_DOMID_FIRST_RESERVED, sizeof(*d->domseen));
	d->domfeat = calloc(MXS_DOMID_FIRST_RESERVED, sizeof(*d->domfeat));
	if (!d->domtab || !d->domresv || !d->domseen || !d->domfeat ||
	    mxs_quota_init_domains(&d->cfg.quota))
		return -ENOMEM;
	pthread_mutex_init(&d->dom_lock, NULL);
	CDS_INIT_LIST_HEAD(&d->domlist);
	return 0;
}

/* The plugin's path: the option, else next to us, else installed. */
static char *plugin_path(struct mxs_daemon *d)
{
	char exe[4096], *slash, *path = NULL;
	ssize_t n;

	if (d->cfg.dominfo_plugin)
		return strdup(d->cfg.dominfo_plugin);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (asprintf(&path, "%s/mxs-dominfo-xenctrl.so", exe) < 0)
				path = NULL;
		}
	}
	if (path && access(path, R_OK) == 0)
		return path;
	free(path);
	return strdup(MXS_DOMINFO_INSTALLED);
}

/* The store's domain oracle (store.h); any thread, no lock. */
static bool domain_oracle(void *arg, uint32_t domid, uint64_t *introduced)
{
	struct mxs_daemon *d = arg;
	uint64_t v;

	if (domid >= MXS_DOMID_FIRST_RESERVED)
		return false;
	/* DOMSEEN_A1: pairs with DOMSEEN_R1 in seen_set(). */
	v = __atomic_load_n(&d->domseen[domid], __ATOMIC_ACQUIRE);
	if (!v)
		return false;
	*introduced = v - 1;
	return true;
}

/* domid exists since now, unless known already. */
static void seen_set(struct mxs_daemon *d, uint32_t domid)
{
	uint64_t none = 0, v = mxs_store_generation(d->store) + 1;

	/* DOMSEEN_R1: pairs with DOMSEEN_A1 in domain_oracle(); the first
	 * sighting wins. */
	__atomic_compare_exchange_n(&d->domseen[domid], &none, v, false,
				    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

static void seen_clear(struct mxs_daemon *d, uint32_t domid)
{
	/* Relaxed: a forgotten domain makes entries stale; nothing is
	 * published with it. */
	__atomic_store_n(&d->domseen[domid], 0, __ATOMIC_RELAXED);
}

void mxs_domains_plugin(struct mxs_daemon *d)
{
	char *path = plugin_path(d);
	unsigned int i;

	for (i = 0; path && i < d->nworkers; i++) {
		d->workers[i].dominfo = mxs_dominfo_load(path);
		if (!d->workers[i].dominfo)
			break;
	}
	free(path);
	if (i < d->nworkers) {
		while (i--) {
			mxs_dominfo_unload(d->workers[i].dominfo);
			d->workers[i].dominfo = NULL;
		}
		mxs_log("no domain-info plugin: dying domains will not be "
			"released until RELEASE, and permissions naming dead "
			"domains are kept");
		return;
	}
	mxs_store_set_domain_oracle(d->store, domain_oracle, d);
}

int mxs_domains_note_perms(struct mxs_worker *w, const struct mxs_perm *p,
			   unsigned int n)
{
	struct mxs_daemon *d = w->d;
	struct mxs_dominfo_v1 info;
	uint64_t gen;
	unsigned int i;

	if (!w->dominfo)
		return 0; /* no hypervisor view: nothing is stale */
	for (i = 0; i < n; i++) {
		uint32_t domid = p[i].domid;

		if (domid == 0 || domid >= MXS_DOMID_FIRST_RESERVED ||
		    domain_oracle(d, domid, &gen))
			continue;
		/* As the C daemon: a domain the hypervisor knows is noted
		 * now, one it does not know makes the entry stale. */
		if (mxs_dominfo_get(w->dominfo, domid, &info) == 0 &&
		    !info.dying)
			seen_set(d, domid);
	}
	/* An owner that does not exist: the C daemon's ENOENT. */
	if (n && p[0].domid != 0 && !domain_oracle(d, p[0].domid, &gen))
		return -ENOENT;
	return 0;
}

static void dom_free(struct mxs_domain *dom)
{
	if (dom->conn)
		mxs_conn_put(dom->conn);
	free(dom);
}

/* Workers have stopped (their connections closed). */
void mxs_domains_fini(struct mxs_daemon *d)
{
	struct mxs_domain *dom, *tmp;

	if (!d->domtab)
		return;
	cds_list_for_each_entry_safe(dom, tmp, &d->domlist, link) {
		cds_list_del(&dom->link);
		d->domtab[dom->domid] = NULL;
		dom_free(dom);
	}
	free(d->domtab);
	free(d->domresv);
	free(d->domseen);
	free(d->domfeat);
	mxs_quota_fini_domains(&d->cfg.quota);
	d->domtab = NULL;
	d->domresv = NULL;
	d->domseen = NULL;
}

struct mxs_domain *mxs_domain_lookup(struct mxs_daemon *d, uint32_t domid)
{
	if (!d->domtab || domid >= MXS_DOMID_FIRST_RESERVED)
		return NULL;
	/* DOMTAB_A1: pairs with DOMTAB_R1 in mxs_domain_publish(): the
	 * domain is fully set up when seen. */
	return __atomic_load_n(&d->domtab[domid], __ATOMIC_ACQUIRE);
}

uint64_t mxs_domain_watch_bytes(struct mxs_daemon *d, uint32_t domid)
{
	struct mxs_domain *dom = mxs_domain_lookup(d, domid);

	return dom && dom->conn ? mxs_watches_owner_bytes(&dom->conn->wo) : 0;
}

uint64_t mxs_domain_memory(struct mxs_daemon *d, uint32_t domid)
{
	return mxs_store_domain_memory(d->store, domid) +
	       mxs_domain_watch_bytes(d, domid);
}

/* The store's nodes quota (store.h): the domain's value, any thread. */
static unsigned int store_node_quota(void *arg, uint32_t domid)
{
	struct mxs_daemon *d = arg;

	return mxs_quota_for(&d->cfg.quota, domid, MXS_QUOTA_NODES);
}

/* The store's memory quota (store.h): the domain's value less what its
 * watches hold; any thread, online for RCU (the store's committers are
 * workers). */
static uint64_t store_memory_quota(void *arg, uint32_t domid)
{
	struct mxs_daemon *d = arg;
	unsigned int hard = mxs_quota_for(&d->cfg.quota, domid,
					  MXS_QUOTA_MEMORY);
	uint64_t watches;

	if (!hard)
		return UINT64_MAX;
	watches = mxs_domain_watch_bytes(d, domid);
	return watches >= hard ? 0 : hard - watches;
}

void mxs_domain_store_quotas(struct mxs_daemon *d)
{
	mxs_store_set_node_quota(d->store, store_node_quota, d);
	mxs_store_set_memory_quota(d->store, store_memory_quota, d);
}

/* The C daemon's MEM_WARN_MINTIME_SEC. */
#define MEM_WARN_INTERVAL_NS (10ull * 1000000000ull)

void mxs_domain_memory_note(struct mxs_conn *c, int rc)
{
	struct mxs_daemon *d = c->w->d;
	struct mxs_domain *dom = c->dom;
	unsigned int hard, soft;
	struct timespec ts;
	uint64_t mem, now;
	bool above;

	if (!dom)
		return;
	hard = mxs_quota_for(&d->cfg.quota, dom->domid, MXS_QUOTA_MEMORY);
	soft = __atomic_load_n(&d->cfg.quota.soft_memory, __ATOMIC_RELAXED);
	mem = mxs_domain_memory(d, dom->domid);
	if (rc == -ENOMEM && hard && !dom->mem_hard_logged) {
		mxs_log("domain %u reached its memory quota (%" PRIu64
			" of %u bytes): requests that need more are refused",
			dom->domid, mem, hard);
		dom->mem_hard_logged = true;
	} else if (dom->mem_hard_logged && mem < hard) {
		dom->mem_hard_logged = false;
	}
	above = soft && mem >= soft;
	if (above == dom->mem_soft_logged)
		return; /* the usual case: nothing to say, no clock read */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (dom->mem_logged_at && now - dom->mem_logged_at < MEM_WARN_INTERVAL_NS)
		return;
	if (above)
		mxs_log("Domain %u exceeds soft memory quota (%" PRIu64
			" of %u bytes)", dom->domid, mem, soft);
	else
		mxs_log("Domain %u below soft memory quota again",
			dom->domid);
	dom->mem_soft_logged = above;
	dom->mem_logged_at = now;
}

uint32_t mxs_domain_features_for(struct mxs_daemon *d, uint32_t domid)
{
	/* Relaxed: one word, set by SET_FEATURE before the INTRODUCE. */
	uint32_t f = domid < MXS_DOMID_FIRST_RESERVED
			     ? __atomic_load_n(&d->domfeat[domid],
					       __ATOMIC_RELAXED)
			     : 0;

	return f ? f - 1 : MXS_RING_DAEMON_FEATURES;
}

bool mxs_domain_introduced(struct mxs_daemon *d, uint32_t domid)
{
	return mxs_domain_lookup(d, domid) != NULL;
}

void mxs_domain_publish(struct mxs_daemon *d, struct mxs_domain *dom)
{
	dom->born = d->sweeps;
	seen_set(d, dom->domid);
	cds_list_add_tail(&dom->link, &d->domlist);
	d->domresv[dom->domid] = 0;
	/* DOMTAB_R1: pairs with DOMTAB_A1 in mxs_domain_lookup(). */
	__atomic_store_n(&d->domtab[dom->domid], dom, __ATOMIC_RELEASE);
}

static struct mxs_worker *least_loaded(struct mxs_daemon *d)
{
	struct mxs_worker *best = &d->workers[0];
	unsigned int i;

	for (i = 1; i < d->nworkers; i++)
		/* Relaxed: a balancing hint. */
		if (__atomic_load_n(&d->workers[i].ndomains, __ATOMIC_RELAXED) <
		    __atomic_load_n(&best->ndomains, __ATOMIC_RELAXED))
			best = &d->workers[i];
	return best;
}

static void post_dom(struct mxs_worker *w, enum mxs_inbox_kind kind,
		     struct mxs_domain *dom, struct mxs_conn *requester,
		     const struct mxs_msg_hdr *hdr)
{
	struct mxs_inbox_msg *m = calloc(1, sizeof(*m));

	if (!m)
		abort(); /* a lost hand-over would hang the requester */
	m->kind = kind;
	m->dom = dom;
	if (requester) {
		mxs_conn_get(requester);
		m->conn = requester;
		requester->blocked = true;
	}
	if (hdr)
		m->hdr = *hdr;
	mxs_worker_post(w, m);
}

/* Sends the answer of a blocked request to its connection's worker
 * (the hand-over's reference goes with it); nothing without one. */
static void answer(struct mxs_conn *requester, const struct mxs_msg_hdr *req,
		   int err)
{
	const char *body = err ? mxs_errno_name(-err) : "OK";
	size_t len = strlen(body) + 1;
	struct mxs_inbox_msg *m;

	if (!requester)
		return;
	m = calloc(1, sizeof(*m) + len);
	if (!m)
		abort(); /* the requester would stay blocked */
	m->kind = MXS_INBOX_REPLY;
	m->conn = requester; /* the reference of the hand-over */
	m->hdr = *req;
	m->hdr.type = err ? MXS_OP_ERROR : req->type;
	m->hdr.len = (uint32_t)len;
	m->len = len;
	memcpy(m->data, body, len);
	mxs_worker_post(requester->w, m);
}

int mxs_domain_introduce(struct mxs_conn *c, const struct mxs_msg_hdr *hdr,
			 uint32_t domid, uint32_t port)
{
	struct mxs_daemon *d = c->w->d;
	struct mxs_domain *dom;

	if (!d->domains)
		return -ENOSYS; /* no event channels on this host */
	if (domid >= MXS_DOMID_FIRST_RESERVED)
		return -EINVAL; /* no ring to map */
	pthread_mutex_lock(&d->dom_lock);
	dom = d->domtab[domid];
	if (!dom && d->domresv[domid]) {
		pthread_mutex_unlock(&d->dom_lock);
		return -EBUSY; /* being introduced by another request */
	}
	if (dom) {
		/* Introduced: rebind the port (the C daemon's way to
		 * recreate the xenbus channel) and reset the connection. */
		pthread_mutex_unlock(&d->dom_lock);
		if (__atomic_load_n(&dom->releasing, __ATOMIC_RELAXED))
			return -ENOENT;
		dom->rebind_port = port;
		post_dom(dom->w, MXS_INBOX_INTRODUCE, dom, c, hdr);
		return 0;
	}
	d->domresv[domid] = 1;
	pthread_mutex_unlock(&d->dom_lock);
	dom = calloc(1, sizeof(*dom));
	if (!dom) {
		pthread_mutex_lock(&d->dom_lock);
		d->domresv[domid] = 0;
		pthread_mutex_unlock(&d->dom_lock);
		return -ENOMEM;
	}
	dom->domid = domid;
	dom->remote_port = port;
	dom->master = domid == d->cfg.master_domid;
	dom->features = mxs_domain_features_for(d, domid);
	dom->w = least_loaded(d);
	__atomic_fetch_add(&dom->w->ndomains, 1, __ATOMIC_RELAXED);
	post_dom(dom->w, MXS_INBOX_INTRODUCE, dom, c, hdr);
	return 0;
}

/* Owner: a second INTRODUCE of a served domain. */
static int rebind(struct mxs_domain *dom, uint32_t port)
{
	struct mxs_conn *c = dom->conn;
	int rc = mxs_ringconn_rebind(c, port);

	if (rc)
		return rc;
	/* As the C daemon: watches, transactions, buffered data and the
	 * ring indices start afresh. */
	c->stopped = false;
	mxs_conn_reset_state(c);
	mxs_conn_reset_io(c);
	mxs_ring_reset(&dom->ring);
	mxs_ring_set_features(&dom->ring, dom->features);
	mxs_conn_want_notify(c);
	mxs_conn_again(c);
	return 0;
}

void mxs_domain_serve_here(struct mxs_worker *w, struct mxs_inbox_msg *m)
{
	struct mxs_daemon *d = w->d;
	struct mxs_domain *dom = m->dom;
	struct mxs_conn *c;
	int rc, err = 0;

	if (dom->conn) {
		err = rebind(dom, dom->rebind_port);
		goto answer;
	}
	if (!dom->page) {
		dom->page = xengnttab_map_grant_ref(w->xgt, dom->domid,
						    GNTTAB_RESERVED_XENSTORE,
						    PROT_READ | PROT_WRITE);
		if (!dom->page) {
			err = -errno;
			goto fail;
		}
	}
	rc = xenevtchn_bind_interdomain(w->xce, dom->domid, dom->remote_port);
	if (rc < 0) {
		err = -errno;
		goto unmap;
	}
	dom->port = (uint32_t)rc;
	/* As the C daemon: a newly introduced ring starts at index 0. */
	mxs_ring_init(&dom->ring, dom->page, MXS_RING_DAEMON);
	mxs_ring_reset(&dom->ring);
	mxs_ring_set_features(&dom->ring, dom->features);
	c = mxs_ringconn_new(w, dom);
	if (!c) {
		err = -ENOMEM;
		xenevtchn_unbind(w->xce, dom->port);
		goto unmap;
	}
	mxs_conn_get(c);
	dom->conn = c;
	pthread_mutex_lock(&d->dom_lock);
	mxs_domain_publish(d, dom);
	pthread_mutex_unlock(&d->dom_lock);
	if (!dom->master)
		mxs_fire_special(w, "@introduceDomain");
	mxs_conn_want_notify(c);
	mxs_conn_again(c); /* the guest may have written already */
	if (mxs_verbose)
		mxs_log("domain %u introduced on worker %u, port %u",
			dom->domid, w->id, dom->port);
	goto answer;
unmap:
	if (dom->kva)
		munmap(dom->page, PAGE);
	else
		xengnttab_unmap(w->xgt, dom->page, 1);
fail:
	mxs_log("domain %u: cannot introduce: %s", dom->domid,
		strerror(-err));
	pthread_mutex_lock(&d->dom_lock);
	d->domresv[dom->domid] = 0;
	pthread_mutex_unlock(&d->dom_lock);
	__atomic_fetch_sub(&w->ndomains, 1, __ATOMIC_RELAXED);
	free(dom);
answer:
	answer(m->conn, &m->hdr, err);
	m->conn = NULL;
}

static void dom_free_rcu(struct rcu_head *h)
{
	mxs_rcu_reclaim_begin();
	dom_free(caa_container_of(h, struct mxs_domain, rcu));
}

void mxs_domain_release_here(struct mxs_worker *w, struct mxs_inbox_msg *m)
{
	struct mxs_daemon *d = w->d;
	struct mxs_domain *dom = m->dom;

	/* Connection closed: watches and transactions dropped, port
	 * unbound, ring unmapped (the hypervisor may now reap it). */
	mxs_conn_close(dom->conn);
	pthread_mutex_lock(&d->dom_lock);
	cds_list_del(&dom->link);
	__atomic_store_n(&d->domtab[dom->domid], NULL, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&d->dom_lock);
	__atomic_fetch_sub(&w->ndomains, 1, __ATOMIC_RELAXED);
	/* XSA-415, as the C daemon 4.17: the nodes it owned go (one
	 * mutation through the store's owner index), then it is forgotten
	 * (XSA-322: a reused domid inherits nothing), then @releaseDomain. */
	if (!dom->master) {
		mxs_commit_begin(d);
		if (mxs_store_domain_gone(d->store, dom->domid, &w->changes))
			mxs_log("domain %u: its nodes could not all be removed",
				dom->domid);
		mxs_fire_changes(d, &w->changes);
		mxs_commit_end(d);
		seen_clear(d, dom->domid);
	}
	/* Its own quotas and features go with it (XSA-483). */
	mxs_quota_reset_domain(&d->cfg.quota, dom->domid);
	__atomic_store_n(&d->domfeat[dom->domid], 0, __ATOMIC_RELAXED);
	mxs_fire_special(w, "@releaseDomain");
	if (mxs_verbose)
		mxs_log("domain %u released", dom->domid);
	call_rcu(&dom->rcu, dom_free_rcu);
	answer(m->conn, &m->hdr, 0);
	m->conn = NULL;
}

/* Starts the release of dom on its owner, once.  False if another
 * release is under way. */
static bool release_start(struct mxs_domain *dom, struct mxs_conn *requester,
			  const struct mxs_msg_hdr *hdr)
{
	/* Relaxed exchange: only one releaser; the inbox orders the rest. */
	if (__atomic_exchange_n(&dom->releasing, 1, __ATOMIC_RELAXED))
		return false;
	post_dom(dom->w, MXS_INBOX_RELEASE, dom, requester, hdr);
	return true;
}

int mxs_domain_release(struct mxs_conn *c, const struct mxs_msg_hdr *hdr,
		       uint32_t domid)
{
	struct mxs_domain *dom;

	if (domid == 0)
		return -EINVAL;
	dom = mxs_domain_lookup(c->w->d, domid);
	if (!dom)
		return -ENOENT;
	return release_start(dom, c, hdr) ? 0 : -ENOENT;
}

int mxs_domain_resume(struct mxs_daemon *d, uint32_t domid)
{
	struct mxs_domain *dom;

	if (domid == 0)
		return -EINVAL;
	dom = mxs_domain_lookup(d, domid);
	if (!dom)
		return -ENOENT;
	/* Relaxed: a flag for the next sweep; it publishes nothing. */
	__atomic_store_n(&dom->shutdown, 0, __ATOMIC_RELAXED);
	return 0;
}

int mxs_domain_set_target(struct mxs_daemon *d, uint32_t domid,
			  uint32_t target)
{
	struct mxs_domain *dom = mxs_domain_lookup(d, domid);
	struct mxs_caller who;

	if (!dom || !mxs_domain_lookup(d, target))
		return -ENOENT;
	who = *mxs_conn_caller(dom->conn);
	who.target = target;
	return mxs_conn_set_caller(dom->conn, &who);
}

/* "<decimal>" from a /proc/xen file; -errno. */
static int read_port(const char *path, uint32_t *port)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	*port = (uint32_t)strtoul(buf, NULL, 10);
	return *port ? 0 : -EINVAL;
}

int mxs_domains_dom0(struct mxs_daemon *d)
{
	struct mxs_domain *dom;
	uint32_t port = 0;
	void *page;
	int fd, rc;

	if (!d->domains)
		return -ENODEV;
	rc = read_port(XSD_PORT, &port);
	if (rc) {
		mxs_log("cannot read %s: %s", XSD_PORT, strerror(-rc));
		return rc;
	}
	fd = open(XSD_KVA, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		mxs_log("cannot open %s: %s", XSD_KVA, strerror(errno));
		return rc;
	}
	page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (page == MAP_FAILED) {
		rc = -errno;
		mxs_log("cannot map %s: %s", XSD_KVA, strerror(errno));
		return rc;
	}
	dom = calloc(1, sizeof(*dom));
	if (!dom) {
		munmap(page, PAGE);
		return -ENOMEM;
	}
	dom->domid = d->cfg.master_domid;
	dom->remote_port = port;
	dom->page = page;
	dom->kva = true;
	dom->master = true;
	pthread_mutex_lock(&d->dom_lock);
	d->domresv[dom->domid] = 1;
	pthread_mutex_unlock(&d->dom_lock);
	dom->w = least_loaded(d);
	__atomic_fetch_add(&dom->w->ndomains, 1, __ATOMIC_RELAXED);
	post_dom(dom->w, MXS_INBOX_INTRODUCE, dom, NULL, NULL);
	return 0;
}

/*
 * Domains noted by SET_PERMS but never introduced, that the sweep (info,
 * ascending) no longer reports or reports dying, are forgotten: a domain
 * created later with the same domid gets none of their permissions.
 * Introduced ones are forgotten when released.  One pass over the domid
 * space per sweep, never per domain.
 */
static void forget_vanished(struct mxs_daemon *d,
			    const struct mxs_dominfo_v1 *info, int n)
{
	uint32_t domid;
	int i = 0;

	for (domid = 1; domid < MXS_DOMID_FIRST_RESERVED; domid++) {
		while (i < n && info[i].domid < domid)
			i++;
		if (i < n && info[i].domid == domid && !info[i].dying)
			continue;
		if (__atomic_load_n(&d->domseen[domid], __ATOMIC_RELAXED) &&
		    !mxs_domain_lookup(d, domid))
			seen_clear(d, domid);
	}
}

void mxs_domains_sweep(struct mxs_worker *w)
{
	struct mxs_daemon *d = w->d;
	const struct mxs_dominfo_v1 *info;
	struct mxs_domain *dom, **doomed = NULL;
	size_t ndoomed = 0, cap = 0;
	bool shut = false;
	uint64_t id;
	int n, i;

	if (!w->dominfo)
		return;
	pthread_mutex_lock(&d->dom_lock);
	/* Relaxed: also read by CONTROL memreport. */
	id = __atomic_add_fetch(&d->sweeps, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&d->dom_lock);
	n = mxs_dominfo_sweep(w->dominfo, &info);
	if (n < 0) {
		mxs_log("domain sweep failed: %s", strerror(-n));
		return;
	}
	forget_vanished(d, info, n);
	for (i = 0; i < n; i++) {
		dom = mxs_domain_lookup(d, info[i].domid);
		if (!dom)
			continue;
		dom->sweep = id;
		if (info[i].dying) {
			dom->sweep = 0; /* released below */
			continue;
		}
		/* Relaxed exchange: one @releaseDomain per shutdown. */
		if (info[i].shutdown &&
		    !__atomic_exchange_n(&dom->shutdown, 1, __ATOMIC_RELAXED))
			shut = true;
	}
	/* Introduced before the sweep began, dying or not reported. */
	pthread_mutex_lock(&d->dom_lock);
	cds_list_for_each_entry(dom, &d->domlist, link) {
		/* sweep first: it is the common case, and on the line the
		 * walk reads anyway. */
		if (dom->sweep == id || dom->born >= id || dom->master)
			continue;
		if (ndoomed == cap) {
			struct mxs_domain **p;

			cap = cap ? 2 * cap : 64;
			p = realloc(doomed, cap * sizeof(*p));
			if (!p)
				break; /* the next sweep gets the rest */
			doomed = p;
		}
		doomed[ndoomed++] = dom;
	}
	/* Posted under the lock: none of them can be freed meanwhile
	 * (their owners unpublish them under it). */
	for (size_t k = 0; k < ndoomed; k++)
		release_start(doomed[k], NULL, NULL);
	pthread_mutex_unlock(&d->dom_lock);
	free(doomed);
	if (shut)
		mxs_fire_special(w, "@releaseDomain");
}
