/*
 * xensim: the simulated hypervisor state shared by every process of one
 * simulation (daemon under LD_PRELOAD, guest drivers, the CLI).
 *
 * Private to tests/xensim/. Users include "tests/xensim/xensim.h".
 *
 * Everything lives in two files under $XENSIM_DIR, mapped MAP_SHARED:
 *
 *   state   one header page, then the domain table, the handle table and
 *           the event-channel port table (fixed-size arrays, sparse file)
 *   rings   one 4 KiB xenstore ring page per domid, page index == domid;
 *           dom0's page (offset 0) is also what /proc/xen/xsd_kva maps
 *   xsd_port  dom0's xenstore event channel, as text (/proc/xen/xsd_port)
 *   ev/h<slot>.<gen>  one FIFO per event-channel handle (the wake fd)
 *
 *   state file
 *   +-------------+---------------------+----------------+-----------------+
 *   | hdr (4 KiB) | doms[DOMID_MAX]     | handles[4096]  | ports[]         |
 *   |             | 64 B each           | 32 B each      | 16 B each       |
 *   +-------------+---------------------+----------------+-----------------+
 *   ports: dom0 owns the first XENSIM_DOM0_PORTS entries, every other domid
 *   d owns XENSIM_DOMU_PORTS entries from XENSIM_DOM0_PORTS+(d-1)*DOMU_PORTS.
 *   A "global port index" (gidx) names one entry of that array; it is what
 *   travels through the FIFOs, so one handle can serve ports of many domains.
 *
 * Concurrency contract:
 *   - Control-plane changes (domain create/destroy/shutdown, port bind and
 *     unbind, handle open/close) take hdr->lock, a robust process-shared
 *     mutex. They are rare and cheap (microseconds).
 *   - The data plane (notify, pending, unmask, VIRQ delivery) is lock-free:
 *     per-port atomic event bits plus one write() to the receiver's FIFO.
 *     Any number of threads of any number of processes may call it at once.
 *   - Readers of the domain table (getinfo) read flags with acquire loads
 *     and never take the lock.
 */
#ifndef XENSIM_SIM_H
#define XENSIM_SIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define XENSIM_MAGIC "XENSIM01"
#define XENSIM_VERSION 1

/* Same limit as Xen: DOMID_FIRST_RESERVED (0x7FF0). */
#define XENSIM_DOMID_MAX 0x7FF0u
#define XENSIM_DOM0_PORTS 65536u
#define XENSIM_DOMU_PORTS 16u
#define XENSIM_NPORTS (XENSIM_DOM0_PORTS + (XENSIM_DOMID_MAX - 1) * XENSIM_DOMU_PORTS)
#define XENSIM_HANDLES 4096u
#define XENSIM_VIRQ_SLOTS 16u
#define XENSIM_PAGE 4096u

/* Domain flags (dom->flags). Shutdown reason lives in bits 8..15. */
#define XENSIM_DF_EXISTS 0x1u
#define XENSIM_DF_DYING 0x2u
#define XENSIM_DF_SHUTDOWN 0x4u
#define XENSIM_DF_REASON_SHIFT 8
#define XENSIM_DF_REASON_MASK 0xff00u

struct xensim_dom {
	/* EXISTS/DYING/SHUTDOWN|reason; written under lock with release,
	 * read lock-free with acquire (getinfo). */
	_Atomic uint32_t flags;
	/* Guest-side xenstore port (unbound, remote dom0) made at creation. */
	uint32_t xs_port;
	/* Grant mappings of the ring page held by other processes; a dying
	 * domain is reaped (disappears) when this drops to zero, as Xen keeps
	 * a dying domain while foreign mappings of its pages exist. */
	_Atomic uint32_t maps;
	/* Lowest port that may be free (under lock). */
	uint32_t port_hint;
	/* Per-boot unique id: never reused within one XENSIM_DIR. */
	uint64_t uid;
	uint8_t pad[40];
};
_Static_assert(sizeof(struct xensim_dom) == 64, "domain entry is one line");

/* Handle slot: one xenevtchn handle (or guest event queue) of a process. */
struct xensim_handle {
	/* 0 = free; otherwise the token (gen << 12 | slot) of the user. */
	_Atomic uint32_t token;
	int32_t pid;
	uint32_t domid; /* local domain for the libxenevtchn ABI */
	uint32_t gen;	/* generation counter of the slot (under lock) */
	uint8_t pad[16];
};
_Static_assert(sizeof(struct xensim_handle) == 32, "handle slot size");

/* Port binding types (low 8 bits of port->bind). */
enum xensim_bind_type {
	XENSIM_B_FREE = 0,
	XENSIM_B_UNBOUND = 1,
	XENSIM_B_INTERDOMAIN = 2,
	XENSIM_B_VIRQ = 3,
};
/* bind word: type (8) | flags (8) | remote domid (16) | remote port/virq (32) */
#define XENSIM_BF_ATTACHED 0x100u /* handle only receives; closing it detaches */
#define XENSIM_BIND(type, rdom, rport)                                         \
	((uint64_t)(type) | ((uint64_t)(rdom) << 16) | ((uint64_t)(rport) << 32))
#define XENSIM_BIND_TYPE(b) ((unsigned)((b)&0xff))
#define XENSIM_BIND_RDOM(b) ((uint32_t)(((b) >> 16) & 0xffff))
#define XENSIM_BIND_RPORT(b) ((uint32_t)((b) >> 32))

/* Event bits (port->ev). */
#define XENSIM_EV_PENDING 0x1u /* an event arrived and was not yet taken */
#define XENSIM_EV_QUEUED 0x2u  /* in the receiver's FIFO or taken and not
				  yet unmasked: further events only set
				  PENDING, as a masked port does in Xen */

struct xensim_port {
	_Atomic uint32_t ev;
	/* Token of the receiving handle, 0 = nobody listens (events stay
	 * pending until a handle attaches). */
	_Atomic uint32_t handle;
	/* Binding, written under lock (release), read by notify (acquire). */
	_Atomic uint64_t bind;
};
_Static_assert(sizeof(struct xensim_port) == 16, "port entry size");

struct xensim_hdr {
	char magic[8];
	uint32_t version;
	uint32_t hdr_size;
	uint64_t state_size;
	uint64_t boot_id;
	/* Next per-boot unique domain id (under lock). */
	uint64_t next_uid;
	/* Domid rover for XENSIM_DOMID_ANY, like Xen's (under lock): ids are
	 * handed out increasing and wrap, so a fresh id is not reused at once. */
	uint32_t domid_rover;
	uint32_t pad0;
	pthread_mutex_t lock;
	/* VIRQ_DOM_EXC bindings: 0 or (1<<63 | gidx). Written under lock
	 * (release), read by the firing path (acquire). */
	_Atomic uint64_t virq_dom_exc[XENSIM_VIRQ_SLOTS];
	/* Statistics, relaxed counters. */
	_Atomic uint64_t st_notify;
	_Atomic uint64_t st_deliver;
	_Atomic uint64_t st_lost; /* FIFO write failed (should stay 0) */
	_Atomic uint64_t st_virq;
};
_Static_assert(sizeof(struct xensim_hdr) <= XENSIM_PAGE, "header page");

#define XENSIM_OFF_DOMS ((size_t)XENSIM_PAGE)
#define XENSIM_OFF_HANDLES                                                     \
	(XENSIM_OFF_DOMS + (size_t)XENSIM_DOMID_MAX * sizeof(struct xensim_dom))
#define XENSIM_OFF_PORTS                                                       \
	(XENSIM_OFF_HANDLES + (size_t)XENSIM_HANDLES * sizeof(struct xensim_handle))
#define XENSIM_STATE_SIZE                                                      \
	(XENSIM_OFF_PORTS + (size_t)XENSIM_NPORTS * sizeof(struct xensim_port))
#define XENSIM_RINGS_SIZE ((size_t)XENSIM_DOMID_MAX * XENSIM_PAGE)

/* One process's view of a simulation. */
struct xensim_sim {
	char dir[512];
	struct xensim_hdr *hdr;
	struct xensim_dom *doms;
	struct xensim_handle *handles;
	struct xensim_port *ports;
	uint8_t *rings; /* whole rings file, mapped once */
	int rings_fd;
	/* Per-process cache of FIFO write fds, indexed by handle slot. */
	pthread_rwlock_t wcache_lock;
	struct {
		uint32_t token;
		int fd;
	} wcache[XENSIM_HANDLES];
};

static inline uint32_t xensim_port_base(uint32_t domid)
{
	return domid == 0 ? 0 : XENSIM_DOM0_PORTS + (domid - 1) * XENSIM_DOMU_PORTS;
}

static inline uint32_t xensim_port_count(uint32_t domid)
{
	return domid == 0 ? XENSIM_DOM0_PORTS : XENSIM_DOMU_PORTS;
}

/* gidx of (domid, port), or UINT32_MAX if out of range. */
static inline uint32_t xensim_gidx(uint32_t domid, uint32_t port)
{
	if (domid >= XENSIM_DOMID_MAX || port == 0 || port >= xensim_port_count(domid))
		return UINT32_MAX;
	return xensim_port_base(domid) + port;
}

/* Inverse of xensim_gidx. */
static inline void xensim_gidx_split(uint32_t gidx, uint32_t *domid, uint32_t *port)
{
	if (gidx < XENSIM_DOM0_PORTS) {
		*domid = 0;
		*port = gidx;
	} else {
		*domid = 1 + (gidx - XENSIM_DOM0_PORTS) / XENSIM_DOMU_PORTS;
		*port = (gidx - XENSIM_DOM0_PORTS) % XENSIM_DOMU_PORTS;
	}
}

#define XENSIM_TOKEN_SLOT(t) ((t)&0xfffu)

/* ---- state ------------------------------------------------------------ */

/* Create a fresh simulation in dir (mkdir -p; existing state is replaced)
 * with dom0 and its xenstore port. */
int xensim_sim_create(const char *dir);
/* Map an existing simulation; dir NULL means $XENSIM_DIR. */
int xensim_sim_open(const char *dir, struct xensim_sim **out);
void xensim_sim_close(struct xensim_sim *sim);

int xensim_lock(struct xensim_sim *sim);
void xensim_unlock(struct xensim_sim *sim);

/* ---- domains (take the lock themselves) ------------------------------- */

#define XENSIM_DOMID_ANY UINT32_MAX
int xensim_dom_create(struct xensim_sim *sim, uint32_t domid, uint32_t *out);
int xensim_dom_destroy(struct xensim_sim *sim, uint32_t domid, bool force);
int xensim_dom_shutdown(struct xensim_sim *sim, uint32_t domid, unsigned reason);
/* Domain reaped when dying and unmapped; caller holds the lock. */
void __xensim_dom_try_reap(struct xensim_sim *sim, uint32_t domid);
/* Grant map accounting for the gnttab ABI. */
int xensim_dom_map(struct xensim_sim *sim, uint32_t domid, void **addr, int prot);
void xensim_dom_unmap(struct xensim_sim *sim, uint32_t domid, void *addr);

/* ---- event channels ------------------------------------------------ */

/* Handle tokens: a handle owns a FIFO whose read end (O_NONBLOCK) is the
 * pollable fd. */
int xensim_handle_open(struct xensim_sim *sim, uint32_t domid, uint32_t *token,
		       int *fd, bool cloexec);
/* Find the token of an inherited fd (xenevtchn_fdopen). */
int xensim_handle_from_fd(struct xensim_sim *sim, int fd, uint32_t *token);
/* Unbinds every port the handle owns and detaches attached ones. */
void xensim_handle_close(struct xensim_sim *sim, uint32_t token, int fd);

/* All return the local port (>0) or -errno. */
int xensim_ev_alloc_unbound(struct xensim_sim *sim, uint32_t token, uint32_t ldom,
			    uint32_t rdom);
int xensim_ev_bind_interdomain(struct xensim_sim *sim, uint32_t token,
			       uint32_t ldom, uint32_t rdom, uint32_t rport);
int xensim_ev_bind_virq(struct xensim_sim *sim, uint32_t token, uint32_t ldom,
			unsigned virq);
int xensim_ev_unbind(struct xensim_sim *sim, uint32_t token, uint32_t ldom,
		     uint32_t port);
/* Make token the receiver of an existing port without owning it (guest
 * side of a domain's xenstore channel). */
int xensim_ev_attach(struct xensim_sim *sim, uint32_t token, uint32_t domid,
		     uint32_t port);
int xensim_ev_detach(struct xensim_sim *sim, uint32_t token, uint32_t domid,
		     uint32_t port);

/* Lock-free data plane. token != 0 checks that the port is bound or
 * attached to that handle (-ENOTCONN otherwise), as the evtchn driver does. */
int xensim_ev_notify(struct xensim_sim *sim, uint32_t token, uint32_t ldom,
		     uint32_t port);
/* Next pending gidx from the handle's fd, -EAGAIN when none. */
int xensim_ev_pending(struct xensim_sim *sim, int fd, uint32_t *gidx);
int xensim_ev_unmask(struct xensim_sim *sim, uint32_t gidx);
/* Raise an event on a port as if its peer notified it. */
void xensim_ev_raise(struct xensim_sim *sim, uint32_t gidx);
void xensim_fire_dom_exc(struct xensim_sim *sim);

/* Lookups for tests/CLI. */
static inline struct xensim_dom *xensim_dom(struct xensim_sim *sim, uint32_t domid)
{
	return domid < XENSIM_DOMID_MAX ? &sim->doms[domid] : NULL;
}

static inline void *xensim_ring_page(struct xensim_sim *sim, uint32_t domid)
{
	return sim->rings + (size_t)domid * XENSIM_PAGE;
}

/* Process-wide simulation for the ABI shims: opened on first use from
 * $XENSIM_DIR. NULL with errno set if not configured. */
struct xensim_sim *xensim_global(void);

#endif
