/*
 * libxensim.so: the subset of libxenevtchn, libxengnttab and libxenctrl a
 * xenstore daemon uses, with the same symbols and signatures (the Debian
 * headers below make the compiler check them), implemented on the
 * simulator state in $XENSIM_DIR. Meant for LD_PRELOAD under an unmodified
 * binary; it also redirects /proc/xen/xsd_kva and /proc/xen/xsd_port.
 *
 * Only the ABI symbols are exported (the library is built with
 * -fvisibility=hidden), so a process that also links the static guest
 * library keeps two independent copies of the simulator code and no
 * symbol of one captures calls of the other.
 *
 * Our symbols carry no version; the dynamic linker accepts an unversioned
 * definition for a versioned reference (xc_domain_getinfo@VERS_4.17.0), so
 * the preloaded definitions win over the real libraries.
 */
#include "tests/xensim/sim.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <xenctrl.h>
#include <xenctrl_compat.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xen/grant_table.h>

#define XENSIM_API __attribute__((visibility("default")))

/* ---- /proc/xen redirection ------------------------------------------ */

/* Returns the simulator file for a /proc/xen path, or NULL. */
static const char *redirect(const char *path, char *buf, size_t len)
{
	const char *dir, *name;

	if (!path || strncmp(path, "/proc/xen/", 10))
		return NULL;
	if (!strcmp(path + 10, "xsd_kva"))
		name = "rings"; /* dom0's page is page 0 */
	else if (!strcmp(path + 10, "xsd_port"))
		name = "xsd_port";
	else
		return NULL;
	dir = getenv("XENSIM_DIR");
	if (!dir || snprintf(buf, len, "%s/%s", dir, name) >= (int)len)
		return NULL;
	return buf;
}

/* The next definition of sym (libc's), looked up once. Relaxed atomics:
 * racing threads store the same value. */
#define REAL(sym)                                                              \
	({                                                                     \
		static __typeof__(&sym) real_;                                 \
		__typeof__(&sym) r_ = __atomic_load_n(&real_, __ATOMIC_RELAXED); \
		if (!r_) {                                                     \
			r_ = (__typeof__(&sym))dlsym(RTLD_NEXT, #sym);         \
			__atomic_store_n(&real_, r_, __ATOMIC_RELAXED);        \
		}                                                              \
		r_;                                                            \
	})

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | __O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

XENSIM_API int open(const char *path, int flags, ...)
{
	char buf[600];
	const char *r = redirect(path, buf, sizeof(buf));
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = open_mode(flags, ap);
	va_end(ap);
	return REAL(open)(r ? r : path, flags, m);
}

XENSIM_API int open64(const char *path, int flags, ...)
{
	char buf[600];
	const char *r = redirect(path, buf, sizeof(buf));
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = open_mode(flags, ap);
	va_end(ap);
	return REAL(open64)(r ? r : path, flags, m);
}

XENSIM_API int openat(int dirfd, const char *path, int flags, ...)
{
	char buf[600];
	const char *r = redirect(path, buf, sizeof(buf));
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = open_mode(flags, ap);
	va_end(ap);
	return REAL(openat)(dirfd, r ? r : path, flags, m);
}

XENSIM_API int openat64(int dirfd, const char *path, int flags, ...)
{
	char buf[600];
	const char *r = redirect(path, buf, sizeof(buf));
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = open_mode(flags, ap);
	va_end(ap);
	return REAL(openat64)(dirfd, r ? r : path, flags, m);
}

/* Fortified variants (-D_FORTIFY_SOURCE builds call these). */
XENSIM_API int __open_2(const char *path, int flags)
{
	char buf[600];
	const char *r = redirect(path, buf, sizeof(buf));
	int (*real)(const char *, int) = dlsym(RTLD_NEXT, "__open_2");

	return real(r ? r : path, flags);
}

XENSIM_API int __open64_2(const char *path, int flags)
{
	char buf[600];
	const char *r = redirect(path, buf, sizeof(buf));
	int (*real)(const char *, int) = dlsym(RTLD_NEXT, "__open64_2");

	return real(r ? r : path, flags);
}

XENSIM_API FILE *fopen(const char *path, const char *mode)
{
	char buf[600];
	const char *r = redirect(path, buf, sizeof(buf));

	return REAL(fopen)(r ? r : path, mode);
}

XENSIM_API FILE *fopen64(const char *path, const char *mode)
{
	char buf[600];
	const char *r = redirect(path, buf, sizeof(buf));

	return REAL(fopen64)(r ? r : path, mode);
}

/*
 * oxenstored support: it always binds /var/run/xenstored/socket (moved to
 * $XENSTORED_RUNDIR when set) and raises RLIMIT_NOFILE to 1M, which an
 * unprivileged container refuses (clamped to the hard limit instead).
 * The C xenstored honours XENSTORED_RUNDIR itself and is not affected.
 */
static const char *redirect_sock(const char *path, char *buf, size_t len)
{
	static const char *const dirs[] = { "/var/run/xenstored/", "/run/xenstored/" };
	const char *rundir = getenv("XENSTORED_RUNDIR");

	if (!rundir || !getenv("XENSIM_DIR"))
		return NULL;
	for (unsigned i = 0; i < 2; i++) {
		size_t l = strlen(dirs[i]);

		if (!strncmp(path, dirs[i], l) &&
		    snprintf(buf, len, "%s/%s", rundir, path + l) < (int)len)
			return buf;
	}
	return NULL;
}

XENSIM_API int bind(int fd, const struct sockaddr *sa, socklen_t salen)
{
	const struct sockaddr_un *su = (const struct sockaddr_un *)sa;
	struct sockaddr_un moved;
	char buf[sizeof(moved.sun_path)];
	const char *r;

	if (sa && sa->sa_family == AF_UNIX && salen > offsetof(struct sockaddr_un, sun_path) &&
	    su->sun_path[0] && (r = redirect_sock(su->sun_path, buf, sizeof(buf)))) {
		memset(&moved, 0, sizeof(moved));
		moved.sun_family = AF_UNIX;
		strcpy(moved.sun_path, r);
		return REAL(bind)(fd, (struct sockaddr *)&moved, sizeof(moved));
	}
	return REAL(bind)(fd, sa, salen);
}

XENSIM_API int unlink(const char *path)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *r = redirect_sock(path, buf, sizeof(buf));

	return REAL(unlink)(r ? r : path);
}

XENSIM_API int setrlimit(__rlimit_resource_t res, const struct rlimit *rl)
{
	int rc = REAL(setrlimit)(res, rl);

	if (rc < 0 && errno == EPERM && res == RLIMIT_NOFILE && getenv("XENSIM_DIR")) {
		struct rlimit cur, want = *rl;

		if (getrlimit(RLIMIT_NOFILE, &cur) == 0) {
			if (want.rlim_max > cur.rlim_max)
				want.rlim_max = cur.rlim_max;
			if (want.rlim_cur > want.rlim_max)
				want.rlim_cur = want.rlim_max;
			rc = REAL(setrlimit)(res, &want);
		}
	}
	return rc;
}

/* ---- libxenevtchn ------------------------------------------------------ */

struct xenevtchn_handle {
	struct xensim_sim *sim;
	uint32_t token;
	uint32_t domid; /* the local domain: $XENSIM_DOMID, default 0 */
	int fd;
};

static int ret_err(int rc)
{
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return rc;
}

static uint32_t local_domid(void)
{
	const char *s = getenv("XENSIM_DOMID");

	return s ? (uint32_t)strtoul(s, NULL, 0) : 0;
}

XENSIM_API xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
					    unsigned int flags)
{
	struct xensim_sim *sim = xensim_global();
	xenevtchn_handle *xce;
	int rc;

	(void)logger;
	if (!sim)
		return NULL;
	xce = calloc(1, sizeof(*xce));
	if (!xce)
		return NULL;
	xce->sim = sim;
	xce->domid = local_domid();
	rc = xensim_handle_open(sim, xce->domid, &xce->token, &xce->fd,
				!(flags & XENEVTCHN_NO_CLOEXEC));
	if (rc) {
		free(xce);
		errno = -rc;
		return NULL;
	}
	return xce;
}

XENSIM_API xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger,
					      int fd, unsigned int flags)
{
	struct xensim_sim *sim = xensim_global();
	xenevtchn_handle *xce;
	int rc;

	(void)logger;
	if (!sim)
		return NULL;
	if (flags & XENEVTCHN_NO_CLOEXEC) {
		errno = EINVAL;
		return NULL;
	}
	xce = calloc(1, sizeof(*xce));
	if (!xce)
		return NULL;
	xce->sim = sim;
	xce->domid = local_domid();
	xce->fd = fd;
	rc = xensim_handle_from_fd(sim, fd, &xce->token);
	if (rc) {
		free(xce);
		errno = -rc;
		return NULL;
	}
	return xce;
}

XENSIM_API int xenevtchn_close(xenevtchn_handle *xce)
{
	if (!xce)
		return 0;
	xensim_handle_close(xce->sim, xce->token, xce->fd);
	free(xce);
	return 0;
}

XENSIM_API int xenevtchn_fd(xenevtchn_handle *xce)
{
	return xce->fd;
}

XENSIM_API int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	return ret_err(xensim_ev_notify(xce->sim, xce->token, xce->domid, port));
}

XENSIM_API xenevtchn_port_or_error_t
xenevtchn_bind_unbound_port(xenevtchn_handle *xce, uint32_t domid)
{
	return ret_err(xensim_ev_alloc_unbound(xce->sim, xce->token, xce->domid, domid));
}

XENSIM_API xenevtchn_port_or_error_t
xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
			   evtchn_port_t remote_port)
{
	return ret_err(xensim_ev_bind_interdomain(xce->sim, xce->token, xce->domid,
						  domid, remote_port));
}

XENSIM_API xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce,
							  unsigned int virq)
{
	return ret_err(xensim_ev_bind_virq(xce->sim, xce->token, xce->domid, virq));
}

XENSIM_API int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	return ret_err(xensim_ev_unbind(xce->sim, xce->token, xce->domid, port));
}

XENSIM_API xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	uint32_t g, d, p;
	int rc = xensim_ev_pending(xce->sim, xce->fd, &g);

	if (rc)
		return ret_err(rc);
	xensim_gidx_split(g, &d, &p);
	return (xenevtchn_port_or_error_t)p;
}

XENSIM_API int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	uint32_t g = xensim_gidx(xce->domid, port);

	if (g == UINT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	return ret_err(xensim_ev_unmask(xce->sim, g));
}

XENSIM_API int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
	(void)xce;
	(void)domid;
	return 0;
}

/* ---- libxengnttab ------------------------------------------------------- */

struct xengntdev_handle {
	struct xensim_sim *sim;
	pthread_mutex_t lock;
	/* Live mappings of this handle, to find the domain on unmap. */
	struct gmap {
		void *addr;
		uint32_t domid;
	} *maps;
	size_t n, cap;
};

XENSIM_API xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
					    unsigned int open_flags)
{
	struct xensim_sim *sim = xensim_global();
	xengnttab_handle *xgt;

	(void)logger;
	(void)open_flags;
	if (!sim)
		return NULL;
	xgt = calloc(1, sizeof(*xgt));
	if (!xgt)
		return NULL;
	xgt->sim = sim;
	pthread_mutex_init(&xgt->lock, NULL);
	return xgt;
}

XENSIM_API int xengnttab_close(xengnttab_handle *xgt)
{
	if (!xgt)
		return 0;
	/* Like the real driver, mappings outlive the handle. */
	pthread_mutex_destroy(&xgt->lock);
	free(xgt->maps);
	free(xgt);
	return 0;
}

XENSIM_API int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
	(void)xgt;
	(void)nr_grants;
	return 0;
}

XENSIM_API void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
					 uint32_t ref, int prot)
{
	void *addr;
	int rc;

	/* Only the xenstore page exists in the simulator. */
	if (ref != GNTTAB_RESERVED_XENSTORE) {
		errno = EINVAL;
		return NULL;
	}
	rc = xensim_dom_map(xgt->sim, domid, &addr, prot);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	pthread_mutex_lock(&xgt->lock);
	if (xgt->n == xgt->cap) {
		size_t cap = xgt->cap ? xgt->cap * 2 : 64;
		struct gmap *m = realloc(xgt->maps, cap * sizeof(*m));

		if (!m) {
			pthread_mutex_unlock(&xgt->lock);
			xensim_dom_unmap(xgt->sim, domid, addr);
			errno = ENOMEM;
			return NULL;
		}
		xgt->maps = m;
		xgt->cap = cap;
	}
	xgt->maps[xgt->n].addr = addr;
	xgt->maps[xgt->n].domid = domid;
	xgt->n++;
	pthread_mutex_unlock(&xgt->lock);
	return addr;
}

XENSIM_API int xengnttab_unmap(xengnttab_handle *xgt, void *start_address,
			       uint32_t count)
{
	uint32_t domid = UINT32_MAX;

	if (count != 1) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&xgt->lock);
	for (size_t i = xgt->n; i-- > 0;) {
		if (xgt->maps[i].addr == start_address) {
			domid = xgt->maps[i].domid;
			xgt->maps[i] = xgt->maps[--xgt->n];
			break;
		}
	}
	pthread_mutex_unlock(&xgt->lock);
	if (domid == UINT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	xensim_dom_unmap(xgt->sim, domid, start_address);
	return 0;
}

/* ---- libxenctrl ---------------------------------------------------------- */

struct xc_interface_core {
	struct xensim_sim *sim;
};

XENSIM_API xc_interface *xc_interface_open(xentoollog_logger *logger,
					   xentoollog_logger *dombuild_logger,
					   unsigned open_flags)
{
	struct xensim_sim *sim = xensim_global();
	xc_interface *xch;

	(void)logger;
	(void)dombuild_logger;
	(void)open_flags;
	if (!sim)
		return NULL;
	xch = calloc(1, sizeof(*xch));
	if (xch)
		xch->sim = sim;
	return xch;
}

XENSIM_API int xc_interface_close(xc_interface *xch)
{
	free(xch);
	return 0;
}

/*
 * oxenstored maps guest rings by frame number (here: the domain's page)
 * and releases them with plain munmap(). Those mappings are counted like
 * grant mappings, so a dead domain lingers until oxenstored lets go; the
 * munmap() shim below finds them in this per-process table.
 */
static pthread_mutex_t fmap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gmap *fmaps;
static size_t fmaps_n, fmaps_cap;
static _Atomic size_t fmaps_live; /* fast path: munmap skips the table */

XENSIM_API void *xc_map_foreign_range(xc_interface *xch, uint32_t dom, int size,
				      int prot, unsigned long mfn)
{
	void *p;
	int rc;

	(void)mfn;
	if (size <= 0 || size > (int)XENSIM_PAGE) {
		errno = EINVAL;
		return NULL;
	}
	rc = xensim_dom_map(xch->sim, dom, &p, prot);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	pthread_mutex_lock(&fmap_lock);
	if (fmaps_n == fmaps_cap) {
		size_t cap = fmaps_cap ? fmaps_cap * 2 : 64;
		struct gmap *m = realloc(fmaps, cap * sizeof(*m));

		if (!m) {
			pthread_mutex_unlock(&fmap_lock);
			xensim_dom_unmap(xch->sim, dom, p);
			errno = ENOMEM;
			return NULL;
		}
		fmaps = m;
		fmaps_cap = cap;
	}
	fmaps[fmaps_n].addr = p;
	fmaps[fmaps_n].domid = dom;
	fmaps_n++;
	atomic_store_explicit(&fmaps_live, fmaps_n, memory_order_relaxed);
	pthread_mutex_unlock(&fmap_lock);
	return p;
}

XENSIM_API int munmap(void *addr, size_t len)
{
	uint32_t domid = UINT32_MAX;

	if (atomic_load_explicit(&fmaps_live, memory_order_relaxed) && len <= XENSIM_PAGE) {
		pthread_mutex_lock(&fmap_lock);
		for (size_t i = fmaps_n; i-- > 0;) {
			if (fmaps[i].addr == addr) {
				domid = fmaps[i].domid;
				fmaps[i] = fmaps[--fmaps_n];
				break;
			}
		}
		atomic_store_explicit(&fmaps_live, fmaps_n, memory_order_relaxed);
		pthread_mutex_unlock(&fmap_lock);
		if (domid != UINT32_MAX) {
			struct xensim_sim *sim = xensim_global();

			if (sim) {
				xensim_dom_unmap(sim, domid, addr); /* munmaps */
				return 0;
			}
		}
	}
	return REAL(munmap)(addr, len);
}

/*
 * Both getinfo calls take the simulator lock for the whole sweep, so the
 * answer is one coherent snapshot, as one hypercall gives with real Xen.
 */
XENSIM_API int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
				 unsigned int max_doms, xc_dominfo_t *info)
{
	struct xensim_sim *sim = xch->sim;
	unsigned n = 0;
	/* One domain's flags are one atomic word, coherent without the lock;
	 * this is the C xenstored's per-domain query, called in loops. */
	bool locked = max_doms > 1;
	int rc = locked ? xensim_lock(sim) : 0;

	if (rc)
		return ret_err(rc);
	for (uint32_t d = first_domid; d < XENSIM_DOMID_MAX && n < max_doms; d++) {
		/* XSIM_A6: acquire pairs with XSIM_R6 (domain published). */
		uint32_t f = atomic_load_explicit(&sim->doms[d].flags,
						  memory_order_acquire);
		xc_dominfo_t *i = &info[n];

		if (!(f & XENSIM_DF_EXISTS))
			continue;
		memset(i, 0, sizeof(*i));
		i->domid = d;
		i->dying = !!(f & XENSIM_DF_DYING);
		i->shutdown = !!(f & XENSIM_DF_SHUTDOWN);
		i->shutdown_reason = (f & XENSIM_DF_REASON_MASK) >> XENSIM_DF_REASON_SHIFT;
		/* libxc derives crashed from the shutdown code. */
		i->crashed = i->shutdown && i->shutdown_reason == SHUTDOWN_crash;
		i->running = !i->shutdown && !i->dying;
		i->nr_online_vcpus = 1;
		i->nr_pages = 1;
		i->max_memkb = 4;
		memcpy(i->handle, &sim->doms[d].uid, sizeof(uint64_t));
		memcpy(i->handle + 8, &sim->hdr->boot_id, sizeof(uint64_t));
		n++;
	}
	if (locked)
		xensim_unlock(sim);
	return (int)n;
}

XENSIM_API int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain,
				     unsigned int max_domains, xc_domaininfo_t *info)
{
	struct xensim_sim *sim = xch->sim;
	unsigned n = 0;
	int rc = xensim_lock(sim);

	if (rc)
		return ret_err(rc);
	for (uint32_t d = first_domain; d < XENSIM_DOMID_MAX && n < max_domains; d++) {
		/* XSIM_A6: acquire pairs with XSIM_R6 (domain published). */
		uint32_t f = atomic_load_explicit(&sim->doms[d].flags,
						  memory_order_acquire);
		xc_domaininfo_t *i = &info[n];

		if (!(f & XENSIM_DF_EXISTS))
			continue;
		memset(i, 0, sizeof(*i));
		i->domain = (domid_t)d;
		if (f & XENSIM_DF_DYING)
			i->flags |= XEN_DOMINF_dying;
		if (f & XENSIM_DF_SHUTDOWN)
			i->flags |= XEN_DOMINF_shutdown |
				    (((f & XENSIM_DF_REASON_MASK) >> XENSIM_DF_REASON_SHIFT)
				     << XEN_DOMINF_shutdownshift);
		else if (!(f & XENSIM_DF_DYING))
			i->flags |= XEN_DOMINF_running;
		i->tot_pages = 1;
		i->max_pages = 1;
		i->nr_online_vcpus = 1;
		memcpy(i->handle, &sim->doms[d].uid, sizeof(uint64_t));
		memcpy(i->handle + 8, &sim->hdr->boot_id, sizeof(uint64_t));
		n++;
	}
	xensim_unlock(sim);
	return (int)n;
}
