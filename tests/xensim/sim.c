/*
 * xensim: shared simulated-hypervisor state (see sim.h for the layout and
 * the concurrency contract).
 */
#include "tests/xensim/sim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xen/xen.h> /* VIRQ_DOM_EXC */

/* Room for one event per port a handle may hold, so a FIFO write of a
 * QUEUED port never finds the pipe full (each port is queued at most once). */
#define XENSIM_FIFO_BYTES (XENSIM_DOM0_PORTS * 4)

static int mkdir_p(const char *path)
{
	char buf[512];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int path_in(const struct xensim_sim *sim, char *buf, size_t len,
		   const char *fmt, unsigned a, unsigned b)
{
	int n = snprintf(buf, len, "%s/", sim->dir);
	int m;

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	m = snprintf(buf + n, len - n, fmt, a, b);
	if (m < 0 || (size_t)(n + m) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static void fifo_path(const struct xensim_sim *sim, uint32_t token, char *buf,
		      size_t len)
{
	path_in(sim, buf, len, "ev/h%u.%u", XENSIM_TOKEN_SLOT(token), token >> 12);
}

int xensim_sim_create(const char *dir)
{
	char path[600], tmp[1024];
	struct xensim_hdr *hdr;
	struct xensim_sim *sim;
	pthread_mutexattr_t ma;
	DIR *d;
	struct dirent *de;
	int fd = -1, rc;
	FILE *f;

	if (strlen(dir) > 400)
		return -ENAMETOOLONG;
	rc = mkdir_p(dir);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/ev", dir);
	rc = mkdir_p(path);
	if (rc)
		return rc;
	/* Stale FIFOs of an earlier run would confuse fdopen() lookups. */
	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] != 'h')
				continue;
			snprintf(tmp, sizeof(tmp), "%s/%s", path, de->d_name);
			unlink(tmp);
		}
		closedir(d);
	}

	/* Rings: sparse, pages become real when a domain is created. */
	snprintf(path, sizeof(path), "%s/rings", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, XENSIM_RINGS_SIZE) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	close(fd);

	/* State: built under a temporary name, then renamed, so that an
	 * opener never sees a half-initialised header. */
	snprintf(tmp, sizeof(tmp), "%s/state.tmp", dir);
	snprintf(path, sizeof(path), "%s/state", dir);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, XENSIM_STATE_SIZE) < 0)
		goto fail_errno;
	hdr = mmap(NULL, XENSIM_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (hdr == MAP_FAILED)
		goto fail_errno;
	memcpy(hdr->magic, XENSIM_MAGIC, 8);
	hdr->version = XENSIM_VERSION;
	hdr->hdr_size = sizeof(*hdr);
	hdr->state_size = XENSIM_STATE_SIZE;
	if (getrandom(&hdr->boot_id, sizeof(hdr->boot_id), 0) != sizeof(hdr->boot_id))
		hdr->boot_id = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	hdr->next_uid = 1;
	hdr->domid_rover = 0;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	rc = pthread_mutex_init(&hdr->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	munmap(hdr, XENSIM_PAGE);
	if (rc) {
		close(fd);
		return -rc;
	}
	close(fd);
	if (rename(tmp, path) < 0)
		return -errno;

	rc = xensim_sim_open(dir, &sim);
	if (rc)
		return rc;
	rc = xensim_dom_create(sim, 0, NULL);
	if (!rc) {
		/* /proc/xen/xsd_port: dom0's xenstore port, as the kernel
		 * shows it: decimal, no newline (oxenstored's int_of_string
		 * rejects one). */
		snprintf(path, sizeof(path), "%s/xsd_port", dir);
		f = fopen(path, "we");
		if (!f) {
			rc = -errno;
		} else {
			fprintf(f, "%u", sim->doms[0].xs_port);
			if (fclose(f))
				rc = -errno;
		}
	}
	xensim_sim_close(sim);
	return rc;

fail_errno:
	rc = -errno;
	close(fd);
	return rc;
}

int xensim_sim_open(const char *dir, struct xensim_sim **out)
{
	struct xensim_sim *sim;
	char path[600];
	struct stat st;
	uint8_t *base;
	int fd, rc;

	if (!dir)
		dir = getenv("XENSIM_DIR");
	if (!dir || !*dir)
		return -ENOENT;
	if (strlen(dir) >= sizeof(sim->dir) - 64)
		return -ENAMETOOLONG;
	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return -ENOMEM;
	strcpy(sim->dir, dir);
	sim->rings_fd = -1;
	for (unsigned i = 0; i < XENSIM_HANDLES; i++)
		sim->wcache[i].fd = -1;
	pthread_rwlock_init(&sim->wcache_lock, NULL);

	snprintf(path, sizeof(path), "%s/state", dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (fstat(fd, &st) < 0 || (size_t)st.st_size != XENSIM_STATE_SIZE) {
		close(fd);
		rc = -EPROTO;
		goto fail;
	}
	base = mmap(NULL, XENSIM_STATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	sim->hdr = (struct xensim_hdr *)base;
	if (memcmp(sim->hdr->magic, XENSIM_MAGIC, 8) ||
	    sim->hdr->version != XENSIM_VERSION) {
		munmap(base, XENSIM_STATE_SIZE);
		sim->hdr = NULL;
		rc = -EPROTO;
		goto fail;
	}
	sim->doms = (struct xensim_dom *)(base + XENSIM_OFF_DOMS);
	sim->handles = (struct xensim_handle *)(base + XENSIM_OFF_HANDLES);
	sim->ports = (struct xensim_port *)(base + XENSIM_OFF_PORTS);

	snprintf(path, sizeof(path), "%s/rings", dir);
	sim->rings_fd = open(path, O_RDWR | O_CLOEXEC);
	if (sim->rings_fd < 0) {
		rc = -errno;
		goto fail;
	}
	sim->rings = mmap(NULL, XENSIM_RINGS_SIZE, PROT_READ | PROT_WRITE,
			  MAP_SHARED, sim->rings_fd, 0);
	if (sim->rings == MAP_FAILED) {
		sim->rings = NULL;
		rc = -errno;
		goto fail;
	}
	*out = sim;
	return 0;
fail:
	xensim_sim_close(sim);
	return rc;
}

void xensim_sim_close(struct xensim_sim *sim)
{
	if (!sim)
		return;
	for (unsigned i = 0; i < XENSIM_HANDLES; i++)
		if (sim->wcache[i].fd >= 0)
			close(sim->wcache[i].fd);
	if (sim->rings)
		munmap(sim->rings, XENSIM_RINGS_SIZE);
	if (sim->rings_fd >= 0)
		close(sim->rings_fd);
	if (sim->hdr)
		munmap(sim->hdr, XENSIM_STATE_SIZE);
	pthread_rwlock_destroy(&sim->wcache_lock);
	free(sim);
}

int xensim_lock(struct xensim_sim *sim)
{
	int rc = pthread_mutex_lock(&sim->hdr->lock);

	/* A process died inside a control-plane operation. Each operation
	 * publishes its final store last, so the table is usable. */
	if (rc == EOWNERDEAD)
		rc = pthread_mutex_consistent(&sim->hdr->lock);
	return -rc;
}

void xensim_unlock(struct xensim_sim *sim)
{
	pthread_mutex_unlock(&sim->hdr->lock);
}

/* ---- event channels: data plane ----------------------------------------- */

/* Write gidx into the FIFO of handle token. Returns 0 or -errno. */
static int fifo_post(struct xensim_sim *sim, uint32_t token, uint32_t gidx)
{
	unsigned slot = XENSIM_TOKEN_SLOT(token);
	char path[600];
	ssize_t n;
	int fd, rc = 0;

	pthread_rwlock_rdlock(&sim->wcache_lock);
	if (sim->wcache[slot].token == token) {
		n = write(sim->wcache[slot].fd, &gidx, sizeof(gidx));
		rc = n == sizeof(gidx) ? 0 : -errno;
		pthread_rwlock_unlock(&sim->wcache_lock);
		return rc;
	}
	pthread_rwlock_unlock(&sim->wcache_lock);

	/* Slow path: first event to that handle, or the slot was reused.
	 * Replacing the fd under the write lock keeps a concurrent writer
	 * from writing into a closed (and maybe reused) descriptor. */
	pthread_rwlock_wrlock(&sim->wcache_lock);
	if (sim->wcache[slot].token != token) {
		if (sim->wcache[slot].fd >= 0)
			close(sim->wcache[slot].fd);
		sim->wcache[slot].fd = -1;
		sim->wcache[slot].token = 0;
		fifo_path(sim, token, path, sizeof(path));
		/* O_RDWR: we count as a reader, so a writer never gets
		 * SIGPIPE when the owner died without closing. */
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			goto out;
		}
		sim->wcache[slot].fd = fd;
		sim->wcache[slot].token = token;
	}
	n = write(sim->wcache[slot].fd, &gidx, sizeof(gidx));
	rc = n == sizeof(gidx) ? 0 : -errno;
out:
	pthread_rwlock_unlock(&sim->wcache_lock);
	return rc;
}

/*
 * Queue gidx to its receiver if it is pending and not already queued.
 * Whoever sets QUEUED owns the single FIFO entry of the port; this is what
 * makes "one entry per port until unmask" hold with any number of
 * concurrent notifiers.
 */
static void deliver(struct xensim_sim *sim, uint32_t gidx)
{
	struct xensim_port *p = &sim->ports[gidx];
	uint32_t s, tok;

again:
	/* XSIM_A1: acquire pairs with XSIM_R1 (the fetch_or of PENDING in raise). */
	s = atomic_load_explicit(&p->ev, memory_order_acquire);
	do {
		if (!(s & XENSIM_EV_PENDING) || (s & XENSIM_EV_QUEUED))
			return;
	} while (!atomic_compare_exchange_weak_explicit(
		&p->ev, &s, s | XENSIM_EV_QUEUED, memory_order_acq_rel,
		memory_order_acquire));

	/* XSIM_A3: acquire pairs with XSIM_R3 (attach/bind publishing the handle). */
	tok = atomic_load_explicit(&p->handle, memory_order_acquire);
	if (!tok) {
		/* Nobody listens: leave it pending, unqueued. If a handle
		 * attached meanwhile, its own deliver() may have seen QUEUED
		 * and given up, so retry. */
		atomic_fetch_and_explicit(&p->ev, ~XENSIM_EV_QUEUED,
					  memory_order_acq_rel);
		if (atomic_load_explicit(&p->handle, memory_order_acquire))
			goto again;
		return;
	}
	if (fifo_post(sim, tok, gidx) < 0) {
		/* Receiver gone (or, impossibly, its FIFO full): unqueue so
		 * a later unmask or attach can retry. */
		atomic_fetch_add_explicit(&sim->hdr->st_lost, 1, memory_order_relaxed);
		atomic_fetch_and_explicit(&p->ev, ~XENSIM_EV_QUEUED,
					  memory_order_acq_rel);
		return;
	}
	atomic_fetch_add_explicit(&sim->hdr->st_deliver, 1, memory_order_relaxed);
}

void xensim_ev_raise(struct xensim_sim *sim, uint32_t gidx)
{
	if (gidx >= XENSIM_NPORTS)
		return;
	/* XSIM_R1: release the producer's earlier writes (ring data, indices)
	 * to whoever observes PENDING (XSIM_A1, and pending()'s XSIM_A4). */
	atomic_fetch_or_explicit(&sim->ports[gidx].ev, XENSIM_EV_PENDING,
				 memory_order_acq_rel);
	atomic_fetch_add_explicit(&sim->hdr->st_notify, 1, memory_order_relaxed);
	deliver(sim, gidx);
}

int xensim_ev_notify(struct xensim_sim *sim, uint32_t token, uint32_t ldom,
		     uint32_t port)
{
	uint32_t g = xensim_gidx(ldom, port);
	uint64_t b;

	if (g == UINT32_MAX)
		return -EINVAL;
	if (token &&
	    atomic_load_explicit(&sim->ports[g].handle, memory_order_relaxed) != token)
		return -ENOTCONN;
	/* XSIM_A2: acquire pairs with XSIM_R2 (bind operations publishing bind). */
	b = atomic_load_explicit(&sim->ports[g].bind, memory_order_acquire);
	switch (XENSIM_BIND_TYPE(b)) {
	case XENSIM_B_INTERDOMAIN:
		xensim_ev_raise(sim, xensim_gidx(XENSIM_BIND_RDOM(b), XENSIM_BIND_RPORT(b)));
		return 0;
	case XENSIM_B_UNBOUND:
		/* Xen drops a send on an unbound port silently. */
		return 0;
	default:
		return -EINVAL;
	}
}

int xensim_ev_pending(struct xensim_sim *sim, int fd, uint32_t *gidx)
{
	uint32_t g;
	ssize_t n = read(fd, &g, sizeof(g));

	if (n < 0)
		return -errno;
	if (n != sizeof(g) || g >= XENSIM_NPORTS)
		return -EIO;
	/* XSIM_A4: acq_rel; the caller reads ring state after taking the event,
	 * ordered after the producer's XSIM_R1. Clearing PENDING (but not QUEUED)
	 * mirrors the kernel driver: the port stays masked until unmask(). */
	atomic_fetch_and_explicit(&sim->ports[g].ev, ~XENSIM_EV_PENDING,
				  memory_order_acq_rel);
	*gidx = g;
	return 0;
}

int xensim_ev_unmask(struct xensim_sim *sim, uint32_t gidx)
{
	if (gidx >= XENSIM_NPORTS)
		return -EINVAL;
	atomic_fetch_and_explicit(&sim->ports[gidx].ev, ~XENSIM_EV_QUEUED,
				  memory_order_acq_rel);
	/* An event that arrived while masked is delivered now. */
	deliver(sim, gidx);
	return 0;
}

void xensim_fire_dom_exc(struct xensim_sim *sim)
{
	for (unsigned i = 0; i < XENSIM_VIRQ_SLOTS; i++) {
		/* XSIM_A5: acquire pairs with XSIM_R5 in bind_virq. */
		uint64_t v = atomic_load_explicit(&sim->hdr->virq_dom_exc[i],
						  memory_order_acquire);
		if (v)
			xensim_ev_raise(sim, (uint32_t)v);
	}
	atomic_fetch_add_explicit(&sim->hdr->st_virq, 1, memory_order_relaxed);
}

/* ---- event channels: control plane (under hdr->lock) ------------------- */

static bool dom_alive(struct xensim_sim *sim, uint32_t domid)
{
	uint32_t f;

	if (domid >= XENSIM_DOMID_MAX)
		return false;
	f = atomic_load_explicit(&sim->doms[domid].flags, memory_order_acquire);
	return (f & XENSIM_DF_EXISTS) && !(f & XENSIM_DF_DYING);
}

static int __port_alloc(struct xensim_sim *sim, uint32_t domid)
{
	struct xensim_dom *d = &sim->doms[domid];
	uint32_t base = xensim_port_base(domid), n = xensim_port_count(domid);

	for (uint32_t p = d->port_hint ? d->port_hint : 1; p < n; p++) {
		uint64_t b = atomic_load_explicit(&sim->ports[base + p].bind,
						  memory_order_relaxed);
		if (XENSIM_BIND_TYPE(b) == XENSIM_B_FREE) {
			d->port_hint = p + 1;
			return (int)p;
		}
	}
	return -ENOSPC;
}

/* Set up an allocated port; bind published last (XSIM_R2). */
static void __port_set(struct xensim_sim *sim, uint32_t g, uint32_t token,
		       uint64_t bind)
{
	struct xensim_port *p = &sim->ports[g];

	atomic_store_explicit(&p->ev, 0, memory_order_relaxed);
	/* XSIM_R3: pairs with XSIM_A3 in deliver(). */
	atomic_store_explicit(&p->handle, token, memory_order_release);
	/* XSIM_R2: pairs with XSIM_A2 in notify(). */
	atomic_store_explicit(&p->bind, bind, memory_order_release);
}

static void __port_free(struct xensim_sim *sim, uint32_t g)
{
	struct xensim_port *p = &sim->ports[g];
	uint64_t b = atomic_load_explicit(&p->bind, memory_order_relaxed);
	uint32_t domid, port;

	switch (XENSIM_BIND_TYPE(b)) {
	case XENSIM_B_INTERDOMAIN: {
		/* Xen: the peer's end falls back to unbound, waiting for
		 * this domain again. */
		uint32_t rg = xensim_gidx(XENSIM_BIND_RDOM(b), XENSIM_BIND_RPORT(b));
		if (rg != UINT32_MAX) {
			uint64_t rb = atomic_load_explicit(&sim->ports[rg].bind,
							   memory_order_relaxed);
			xensim_gidx_split(g, &domid, &port);
			atomic_store_explicit(&sim->ports[rg].bind,
					      XENSIM_BIND(XENSIM_B_UNBOUND, domid, 0) |
						      (rb & XENSIM_BF_ATTACHED),
					      memory_order_release);
		}
		break;
	}
	case XENSIM_B_VIRQ:
		for (unsigned i = 0; i < XENSIM_VIRQ_SLOTS; i++) {
			uint64_t v = atomic_load_explicit(&sim->hdr->virq_dom_exc[i],
							  memory_order_relaxed);
			if (v && (uint32_t)v == g)
				atomic_store_explicit(&sim->hdr->virq_dom_exc[i], 0,
						      memory_order_release);
		}
		break;
	default:
		break;
	}
	atomic_store_explicit(&p->bind, 0, memory_order_release);
	atomic_store_explicit(&p->handle, 0, memory_order_release);
	atomic_store_explicit(&p->ev, 0, memory_order_relaxed);
	xensim_gidx_split(g, &domid, &port);
	if (port < sim->doms[domid].port_hint || !sim->doms[domid].port_hint)
		sim->doms[domid].port_hint = port;
}

int xensim_ev_alloc_unbound(struct xensim_sim *sim, uint32_t token, uint32_t ldom,
			    uint32_t rdom)
{
	int rc = xensim_lock(sim);

	if (rc)
		return rc;
	if (!dom_alive(sim, ldom) || rdom >= XENSIM_DOMID_MAX) {
		rc = -ESRCH;
		goto out;
	}
	rc = __port_alloc(sim, ldom);
	if (rc > 0)
		__port_set(sim, xensim_gidx(ldom, rc), token,
			   XENSIM_BIND(XENSIM_B_UNBOUND, rdom, 0));
out:
	xensim_unlock(sim);
	return rc;
}

int xensim_ev_bind_interdomain(struct xensim_sim *sim, uint32_t token,
			       uint32_t ldom, uint32_t rdom, uint32_t rport)
{
	uint32_t rg = xensim_gidx(rdom, rport), lg;
	uint64_t rb;
	int rc = xensim_lock(sim), lport;

	if (rc)
		return rc;
	if (!dom_alive(sim, ldom) || !dom_alive(sim, rdom)) {
		rc = -ESRCH;
		goto out;
	}
	if (rg == UINT32_MAX) {
		rc = -EINVAL;
		goto out;
	}
	rb = atomic_load_explicit(&sim->ports[rg].bind, memory_order_relaxed);
	if (XENSIM_BIND_TYPE(rb) != XENSIM_B_UNBOUND || XENSIM_BIND_RDOM(rb) != ldom) {
		rc = -EINVAL;
		goto out;
	}
	lport = __port_alloc(sim, ldom);
	if (lport < 0) {
		rc = lport;
		goto out;
	}
	lg = xensim_gidx(ldom, (uint32_t)lport);
	__port_set(sim, lg, token, XENSIM_BIND(XENSIM_B_INTERDOMAIN, rdom, rport));
	atomic_store_explicit(&sim->ports[rg].bind,
			      XENSIM_BIND(XENSIM_B_INTERDOMAIN, ldom, (uint32_t)lport) |
				      (rb & XENSIM_BF_ATTACHED),
			      memory_order_release);
	rc = lport;
	/* Xen marks the new local port pending: notifications sent to the
	 * unbound remote end before the bind would otherwise be lost. */
	xensim_ev_raise(sim, lg);
out:
	xensim_unlock(sim);
	return rc;
}

int xensim_ev_bind_virq(struct xensim_sim *sim, uint32_t token, uint32_t ldom,
			unsigned virq)
{
	int rc = xensim_lock(sim), port;
	int free_slot = -1;

	if (rc)
		return rc;
	if (!dom_alive(sim, ldom)) {
		rc = -ESRCH;
		goto out;
	}
	if (virq == VIRQ_DOM_EXC) {
		/* A global VIRQ has one binding per domain (Xen: EEXIST). */
		for (unsigned i = 0; i < XENSIM_VIRQ_SLOTS; i++) {
			uint64_t v = atomic_load_explicit(&sim->hdr->virq_dom_exc[i],
							  memory_order_relaxed);
			uint32_t d, p;

			if (!v) {
				if (free_slot < 0)
					free_slot = (int)i;
				continue;
			}
			xensim_gidx_split((uint32_t)v, &d, &p);
			if (d == ldom) {
				rc = -EEXIST;
				goto out;
			}
		}
		if (free_slot < 0) {
			rc = -ENOSPC;
			goto out;
		}
	}
	port = __port_alloc(sim, ldom);
	if (port < 0) {
		rc = port;
		goto out;
	}
	__port_set(sim, xensim_gidx(ldom, (uint32_t)port), token,
		   XENSIM_BIND(XENSIM_B_VIRQ, 0, virq));
	if (virq == VIRQ_DOM_EXC)
		/* XSIM_R5: pairs with XSIM_A5 in fire_dom_exc(). */
		atomic_store_explicit(&sim->hdr->virq_dom_exc[free_slot],
				      (1ull << 63) | xensim_gidx(ldom, (uint32_t)port),
				      memory_order_release);
	rc = port;
out:
	xensim_unlock(sim);
	return rc;
}

int xensim_ev_unbind(struct xensim_sim *sim, uint32_t token, uint32_t ldom,
		     uint32_t port)
{
	uint32_t g = xensim_gidx(ldom, port);
	struct xensim_port *p;
	int rc;

	if (g == UINT32_MAX)
		return -EINVAL;
	p = &sim->ports[g];
	rc = xensim_lock(sim);
	if (rc)
		return rc;
	if (XENSIM_BIND_TYPE(atomic_load_explicit(&p->bind, memory_order_relaxed)) ==
		    XENSIM_B_FREE ||
	    atomic_load_explicit(&p->handle, memory_order_relaxed) != token) {
		/* The evtchn driver only unbinds its own ports. */
		rc = -ENOTCONN;
		goto out;
	}
	if (atomic_load_explicit(&p->bind, memory_order_relaxed) & XENSIM_BF_ATTACHED) {
		rc = -EPERM; /* the domain's own port: detach, don't close */
		goto out;
	}
	__port_free(sim, g);
out:
	xensim_unlock(sim);
	return rc;
}

int xensim_ev_attach(struct xensim_sim *sim, uint32_t token, uint32_t domid,
		     uint32_t port)
{
	uint32_t g = xensim_gidx(domid, port), cur;
	struct xensim_port *p;
	uint64_t b;
	int rc;

	if (g == UINT32_MAX)
		return -EINVAL;
	p = &sim->ports[g];
	rc = xensim_lock(sim);
	if (rc)
		return rc;
	b = atomic_load_explicit(&p->bind, memory_order_relaxed);
	cur = atomic_load_explicit(&p->handle, memory_order_relaxed);
	if (XENSIM_BIND_TYPE(b) == XENSIM_B_FREE) {
		rc = -ENOENT;
	} else if (cur && cur != token) {
		rc = -EBUSY;
	} else {
		atomic_store_explicit(&p->bind, b | XENSIM_BF_ATTACHED,
				      memory_order_release);
		/* XSIM_R3: pairs with XSIM_A3 in deliver(). */
		atomic_store_explicit(&p->handle, token, memory_order_release);
	}
	xensim_unlock(sim);
	/* Events that arrived while nobody listened. */
	if (!rc)
		deliver(sim, g);
	return rc;
}

int xensim_ev_detach(struct xensim_sim *sim, uint32_t token, uint32_t domid,
		     uint32_t port)
{
	uint32_t g = xensim_gidx(domid, port);
	struct xensim_port *p;
	int rc;

	if (g == UINT32_MAX)
		return -EINVAL;
	p = &sim->ports[g];
	rc = xensim_lock(sim);
	if (rc)
		return rc;
	if (atomic_load_explicit(&p->handle, memory_order_relaxed) != token) {
		rc = -ENOTCONN;
	} else {
		uint64_t b = atomic_load_explicit(&p->bind, memory_order_relaxed);
		atomic_store_explicit(&p->handle, 0, memory_order_release);
		atomic_store_explicit(&p->bind, b & ~(uint64_t)XENSIM_BF_ATTACHED,
				      memory_order_release);
		/* Unqueue: a stale FIFO entry may remain; pending() of the
		 * old handle then sees a port it no longer owns, which its
		 * user ignores, as with the real driver after unbind. */
		atomic_fetch_and_explicit(&p->ev, ~XENSIM_EV_QUEUED,
					  memory_order_acq_rel);
	}
	xensim_unlock(sim);
	return rc;
}

/* ---- handles ---------------------------------------------------------- */

/* Drop everything a handle holds; lock held. */
static void __handle_release(struct xensim_sim *sim, uint32_t token)
{
	struct xensim_handle *h = &sim->handles[XENSIM_TOKEN_SLOT(token)];
	uint32_t lo = 0, hi = XENSIM_NPORTS;
	char path[600];

	if (h->domid < XENSIM_DOMID_MAX) {
		/* A libxenevtchn handle only has ports of its own domain. */
		lo = xensim_port_base(h->domid);
		hi = lo + xensim_port_count(h->domid);
	}
	for (uint32_t g = lo; g < hi; g++) {
		struct xensim_port *p = &sim->ports[g];
		uint64_t b;

		if (atomic_load_explicit(&p->handle, memory_order_relaxed) != token)
			continue;
		b = atomic_load_explicit(&p->bind, memory_order_relaxed);
		if (b & XENSIM_BF_ATTACHED) {
			atomic_store_explicit(&p->handle, 0, memory_order_release);
			atomic_store_explicit(&p->bind, b & ~(uint64_t)XENSIM_BF_ATTACHED,
					      memory_order_release);
			atomic_fetch_and_explicit(&p->ev, ~XENSIM_EV_QUEUED,
						  memory_order_acq_rel);
		} else {
			__port_free(sim, g);
		}
	}
	fifo_path(sim, token, path, sizeof(path));
	unlink(path);
	atomic_store_explicit(&h->token, 0, memory_order_release);
}

/* A handle is alive while some process holds its FIFO's owner fd, which
 * carries a shared flock (inherited across fork and exec, dropped when the
 * last holder closes or dies). */
static bool handle_dead(struct xensim_sim *sim, uint32_t token)
{
	char path[600];
	bool dead = false;
	int fd;

	fifo_path(sim, token, path, sizeof(path));
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		dead = true;
	close(fd);
	return dead;
}

int xensim_handle_open(struct xensim_sim *sim, uint32_t domid, uint32_t *token,
		       int *fdp, bool cloexec)
{
	struct xensim_handle *h = NULL;
	char path[600];
	uint32_t tok;
	int rc, fd;

	rc = xensim_lock(sim);
	if (rc)
		return rc;
	for (unsigned i = 0; i < XENSIM_HANDLES; i++) {
		uint32_t t = atomic_load_explicit(&sim->handles[i].token,
						  memory_order_relaxed);
		if (t && handle_dead(sim, t))
			__handle_release(sim, t);
		if (!atomic_load_explicit(&sim->handles[i].token, memory_order_relaxed) &&
		    !h)
			h = &sim->handles[i];
	}
	if (!h) {
		rc = -EMFILE;
		goto out;
	}
	h->gen = (h->gen + 1) & 0xfffff;
	if (!h->gen)
		h->gen = 1;
	tok = h->gen << 12 | (uint32_t)(h - sim->handles);
	fifo_path(sim, tok, path, sizeof(path));
	unlink(path);
	if (mkfifo(path, 0600) < 0) {
		rc = -errno;
		goto out;
	}
	/* O_RDWR keeps a writer on the FIFO forever, so poll() never
	 * reports POLLHUP and read() never returns EOF. */
	fd = open(path, O_RDWR | O_NONBLOCK | (cloexec ? O_CLOEXEC : 0));
	if (fd < 0) {
		rc = -errno;
		unlink(path);
		goto out;
	}
	(void)fcntl(fd, F_SETPIPE_SZ, XENSIM_FIFO_BYTES);
	if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
		rc = -errno;
		close(fd);
		unlink(path);
		goto out;
	}
	h->pid = getpid();
	h->domid = domid;
	atomic_store_explicit(&h->token, tok, memory_order_release);
	*token = tok;
	*fdp = fd;
out:
	xensim_unlock(sim);
	return rc;
}

int xensim_handle_from_fd(struct xensim_sim *sim, int fd, uint32_t *token)
{
	char link[64], target[700];
	unsigned slot, gen;
	const char *base;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	if (!base || sscanf(base, "/h%u.%u", &slot, &gen) != 2 || slot >= XENSIM_HANDLES)
		return -EBADF;
	if (atomic_load_explicit(&sim->handles[slot].token, memory_order_acquire) !=
	    (gen << 12 | slot))
		return -EBADF;
	sim->handles[slot].pid = getpid();
	*token = gen << 12 | slot;
	return 0;
}

void xensim_handle_close(struct xensim_sim *sim, uint32_t token, int fd)
{
	if (xensim_lock(sim) == 0) {
		if (atomic_load_explicit(&sim->handles[XENSIM_TOKEN_SLOT(token)].token,
					 memory_order_relaxed) == token)
			__handle_release(sim, token);
		xensim_unlock(sim);
	}
	if (fd >= 0)
		close(fd);
}

/* ---- domains --------------------------------------------------------------- */

static void __dom_close_ports(struct xensim_sim *sim, uint32_t domid)
{
	uint32_t base = xensim_port_base(domid), n = xensim_port_count(domid);

	for (uint32_t p = 1; p < n; p++) {
		uint64_t b = atomic_load_explicit(&sim->ports[base + p].bind,
						  memory_order_relaxed);
		if (XENSIM_BIND_TYPE(b) != XENSIM_B_FREE)
			__port_free(sim, base + p);
	}
	sim->doms[domid].port_hint = 1;
}

int xensim_dom_create(struct xensim_sim *sim, uint32_t domid, uint32_t *out)
{
	struct xensim_dom *d;
	uint32_t g;
	int rc = xensim_lock(sim), port;

	if (rc)
		return rc;
	if (domid == XENSIM_DOMID_ANY) {
		uint32_t id = sim->hdr->domid_rover;

		domid = UINT32_MAX;
		for (uint32_t n = 0; n < XENSIM_DOMID_MAX - 1; n++) {
			id = id + 1 >= XENSIM_DOMID_MAX ? 1 : id + 1;
			if (!(atomic_load_explicit(&sim->doms[id].flags,
						   memory_order_relaxed) &
			      XENSIM_DF_EXISTS)) {
				domid = id;
				break;
			}
		}
		if (domid == UINT32_MAX) {
			rc = -ENOSPC;
			goto out;
		}
		sim->hdr->domid_rover = domid;
	} else if (domid >= XENSIM_DOMID_MAX) {
		rc = -EINVAL;
		goto out;
	} else if (atomic_load_explicit(&sim->doms[domid].flags, memory_order_relaxed) &
		   XENSIM_DF_EXISTS) {
		rc = -EEXIST;
		goto out;
	}
	d = &sim->doms[domid];
	/* A fresh, zeroed ring page, as the domain builder provides. */
	memset(xensim_ring_page(sim, domid), 0, XENSIM_PAGE);
	__dom_close_ports(sim, domid);
	d->uid = sim->hdr->next_uid++;
	atomic_store_explicit(&d->maps, 0, memory_order_relaxed);
	/* The domain's xenstore channel: unbound, waiting for dom0's daemon
	 * (what the toolstack passes in XS_INTRODUCE). */
	port = __port_alloc(sim, domid);
	if (port < 0) {
		rc = port;
		goto out;
	}
	g = xensim_gidx(domid, (uint32_t)port);
	__port_set(sim, g, 0, XENSIM_BIND(XENSIM_B_UNBOUND, 0, 0));
	d->xs_port = (uint32_t)port;
	/* XSIM_R6: the domain becomes visible to getinfo (acquire) last. */
	atomic_store_explicit(&d->flags, XENSIM_DF_EXISTS, memory_order_release);
	if (out)
		*out = domid;
out:
	xensim_unlock(sim);
	return rc;
}

void __xensim_dom_try_reap(struct xensim_sim *sim, uint32_t domid)
{
	struct xensim_dom *d = &sim->doms[domid];
	uint32_t f = atomic_load_explicit(&d->flags, memory_order_relaxed);

	if ((f & XENSIM_DF_DYING) && !atomic_load_explicit(&d->maps, memory_order_acquire))
		atomic_store_explicit(&d->flags, 0, memory_order_release);
}

int xensim_dom_destroy(struct xensim_sim *sim, uint32_t domid, bool force)
{
	struct xensim_dom *d;
	uint32_t f;
	int rc;

	if (domid == 0 || domid >= XENSIM_DOMID_MAX)
		return -EPERM;
	d = &sim->doms[domid];
	rc = xensim_lock(sim);
	if (rc)
		return rc;
	f = atomic_load_explicit(&d->flags, memory_order_relaxed);
	if (!(f & XENSIM_DF_EXISTS)) {
		rc = -ESRCH;
		goto out;
	}
	if (!(f & XENSIM_DF_DYING)) {
		/* Xen's domain_kill(): the domain is dying, its event
		 * channels are closed (peers see them unbound), and
		 * VIRQ_DOM_EXC tells dom0. It stays visible as dying while
		 * someone still maps its pages. */
		atomic_store_explicit(&d->flags, f | XENSIM_DF_DYING, memory_order_release);
		__dom_close_ports(sim, domid);
	}
	if (force)
		atomic_store_explicit(&d->maps, 0, memory_order_release);
	__xensim_dom_try_reap(sim, domid);
	xensim_fire_dom_exc(sim);
out:
	xensim_unlock(sim);
	return rc;
}

int xensim_dom_shutdown(struct xensim_sim *sim, uint32_t domid, unsigned reason)
{
	struct xensim_dom *d;
	uint32_t f;
	int rc;

	if (domid >= XENSIM_DOMID_MAX || reason > 255)
		return -EINVAL;
	d = &sim->doms[domid];
	rc = xensim_lock(sim);
	if (rc)
		return rc;
	f = atomic_load_explicit(&d->flags, memory_order_relaxed);
	if (!(f & XENSIM_DF_EXISTS) || (f & XENSIM_DF_DYING)) {
		rc = -ESRCH;
		goto out;
	}
	f = (f & ~XENSIM_DF_REASON_MASK) | XENSIM_DF_SHUTDOWN |
	    (reason << XENSIM_DF_REASON_SHIFT);
	atomic_store_explicit(&d->flags, f, memory_order_release);
	xensim_fire_dom_exc(sim);
out:
	xensim_unlock(sim);
	return rc;
}

int xensim_dom_map(struct xensim_sim *sim, uint32_t domid, void **addr, int prot)
{
	void *p;
	int rc = xensim_lock(sim);

	if (rc)
		return rc;
	if (!dom_alive(sim, domid)) {
		xensim_unlock(sim);
		return -ESRCH;
	}
	atomic_fetch_add_explicit(&sim->doms[domid].maps, 1, memory_order_acq_rel);
	xensim_unlock(sim);
	p = mmap(NULL, XENSIM_PAGE, prot, MAP_SHARED, sim->rings_fd,
		 (off_t)domid * XENSIM_PAGE);
	if (p == MAP_FAILED) {
		rc = -errno;
		xensim_dom_unmap(sim, domid, NULL);
		return rc;
	}
	*addr = p;
	return 0;
}

void xensim_dom_unmap(struct xensim_sim *sim, uint32_t domid, void *addr)
{
	if (addr)
		munmap(addr, XENSIM_PAGE);
	if (xensim_lock(sim))
		return;
	if (atomic_load_explicit(&sim->doms[domid].maps, memory_order_relaxed))
		atomic_fetch_sub_explicit(&sim->doms[domid].maps, 1, memory_order_acq_rel);
	__xensim_dom_try_reap(sim, domid);
	xensim_unlock(sim);
}

/* ---- process-wide instance for the ABI shims ------------------------------ */

static struct xensim_sim *g_sim;
static int g_sim_err;
static pthread_once_t g_sim_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	g_sim_err = xensim_sim_open(NULL, &g_sim);
}

struct xensim_sim *xensim_global(void)
{
	pthread_once(&g_sim_once, global_init);
	if (!g_sim)
		errno = -g_sim_err;
	return g_sim;
}
