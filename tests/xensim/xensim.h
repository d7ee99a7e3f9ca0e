/*
 * xensim guest-side library: drive simulated Xen domains from tests and
 * benchmarks. Static library target "xensim_guest"; see docs/xensim.md.
 *
 * Three layers:
 *   - the simulation: create, shut down and destroy domains;
 *   - event queues and guests: one event queue (one pollable fd) serves
 *     any number of guest xenstore clients, each speaking the ring protocol
 *     on its domain's page, so one thread drives thousands of domains;
 *   - a socket client, the toolstack's side: INTRODUCE, RELEASE, and plain
 *     requests on the daemon's Unix socket.
 *
 * Threading: a struct xensim_evq and its guests belong to one thread at a
 * time. Different evqs (and different processes) may run concurrently. The
 * simulation handle may be shared by threads.
 *
 * All functions returning int return 0 (or a documented positive value)
 * on success and a negative errno on failure. Error replies of the daemon
 * become -errno of the wire error name ("ENOENT" -> -ENOENT).
 */
#ifndef XENSIM_H
#define XENSIM_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xensim_sim;
struct xensim_evq;
struct xensim_guest;
struct xensim_sock;

#define XENSIM_ANY_DOMID UINT32_MAX
#define XENSIM_VIRQ_DOM_EXC 3u

/* One wire message (header fields in host order, then len body bytes and
 * a NUL after them for convenience). Free with free(). */
struct xensim_msg {
	uint32_t type, req_id, tx_id, len;
	char body[];
};

/* ---- the simulation ------------------------------------------------ */

/* Create a fresh simulation in dir (state, rings, xsd_port), with dom0 and
 * its xenstore event channel. Replaces any previous one in dir. */
int xensim_init(const char *dir);
/* Map an existing simulation; dir NULL means $XENSIM_DIR. */
int xensim_open(const char *dir, struct xensim_sim **out);
void xensim_close(struct xensim_sim *sim);

/* Create domain domid (or the next free one with XENSIM_ANY_DOMID): a
 * zeroed ring page and an unbound event channel for dom0. O(1). */
int xensim_domain_create(struct xensim_sim *sim, uint32_t domid, uint32_t *out);
/* Kill a domain: it turns dying, its event channels close, VIRQ_DOM_EXC
 * fires; it disappears once nobody maps its ring page (force: at once). */
int xensim_domain_destroy(struct xensim_sim *sim, uint32_t domid, bool force);
/* Shut down with a reason (SHUTDOWN_poweroff 0, reboot 1, suspend 2,
 * crash 3, watchdog 4, soft_reset 5); VIRQ_DOM_EXC fires. */
int xensim_domain_shutdown(struct xensim_sim *sim, uint32_t domid, unsigned reason);

struct xensim_dominfo {
	uint32_t domid;
	bool exists, dying, shutdown;
	unsigned shutdown_reason;
	uint64_t uid;	  /* unique within one simulation boot */
	uint32_t xs_port; /* the domain's xenstore event channel */
	uint32_t maps;	  /* foreign mappings of its ring page */
};
int xensim_domain_info(struct xensim_sim *sim, uint32_t domid,
		       struct xensim_dominfo *info);
/* The domain's ring page (struct xenstore_domain_interface). */
void *xensim_domain_ring(struct xensim_sim *sim, uint32_t domid);
/* The frame number a toolstack would pass in XS_INTRODUCE (the daemon
 * ignores it; the grant reference is what it maps). */
uint64_t xensim_domain_mfn(uint32_t domid);

struct xensim_stats {
	uint64_t notify, deliver, lost, virq;
};
void xensim_stats(struct xensim_sim *sim, struct xensim_stats *st);

/* ---- event queues: raw event channels ---------------------------------- */

int xensim_evq_open(struct xensim_sim *sim, struct xensim_evq **out);
void xensim_evq_close(struct xensim_evq *evq);
/* Pollable (POLLIN) while some port is pending; O_NONBLOCK. */
int xensim_evq_fd(struct xensim_evq *evq);

/* Port operations in an explicit local domain; return the port (> 0). */
int xensim_evq_alloc_unbound(struct xensim_evq *evq, uint32_t ldom, uint32_t rdom);
int xensim_evq_bind_interdomain(struct xensim_evq *evq, uint32_t ldom,
				uint32_t rdom, uint32_t rport);
int xensim_evq_bind_virq(struct xensim_evq *evq, uint32_t ldom, unsigned virq);
int xensim_evq_unbind(struct xensim_evq *evq, uint32_t ldom, uint32_t port);
int xensim_evq_notify(struct xensim_evq *evq, uint32_t ldom, uint32_t port);
/* Next pending port: one per call, -EAGAIN when none is left. The port
 * stays masked until xensim_evq_unmask. */
int xensim_evq_pending(struct xensim_evq *evq, uint32_t *domid, uint32_t *port);
int xensim_evq_unmask(struct xensim_evq *evq, uint32_t domid, uint32_t port);
/* poll() the fd: 1 readable, 0 timeout (timeout_ms < 0: forever). */
int xensim_evq_wait(struct xensim_evq *evq, int timeout_ms);

/* ---- guests: xenstore clients on the ring ------------------------------ */

/* Become the guest side of domain domid: receive its xenstore event
 * channel on evq and use its ring page. */
int xensim_guest_attach(struct xensim_evq *evq, uint32_t domid,
			struct xensim_guest **out);
/* Stop listening (the domain and its ring stay as they are). */
void xensim_guest_detach(struct xensim_guest *g);
uint32_t xensim_guest_domid(const struct xensim_guest *g);
uint32_t xensim_guest_port(const struct xensim_guest *g);

/* Wait up to timeout_ms for events on evq, then take every pending port
 * (one wake drains all), unmask it and pump its guest. Returns the number
 * of guests pumped (0 on timeout). */
int xensim_evq_run(struct xensim_evq *evq, int timeout_ms);

/* Queue a request (payload of len bytes, sent as is: include the NULs the
 * operation needs) and push what fits; req_id gets the id used. */
int xensim_guest_send(struct xensim_guest *g, uint32_t type, uint32_t tx_id,
		      const void *payload, uint32_t len, uint32_t *req_id);
/* Move bytes both ways and notify the daemon if anything moved. Returns
 * 1 if progress was made, 0 if not, -EIO if the ring indices are corrupt
 * or the daemon set the error field. */
int xensim_guest_pump(struct xensim_guest *g);
/* Next complete reply / watch event, or NULL. Caller frees. Watch events
 * never appear among replies. */
struct xensim_msg *xensim_guest_reply(struct xensim_guest *g);
struct xensim_msg *xensim_guest_watch_event(struct xensim_guest *g);
/* Requests queued but not answered, bytes not yet in the ring. */
unsigned xensim_guest_outstanding(const struct xensim_guest *g);

/* Synchronous request/reply, running evq meanwhile (other guests on the
 * same evq make progress too). *reply may be NULL to drop it. Returns
 * -errno of an XS_ERROR reply, -ETIMEDOUT. */
int xensim_guest_call(struct xensim_guest *g, uint32_t type, uint32_t tx_id,
		      const void *payload, uint32_t len, struct xensim_msg **reply,
		      int timeout_ms);
int xensim_guest_write(struct xensim_guest *g, const char *path, const char *value);
/* *value is malloc()ed, NUL-terminated; len may be NULL. */
int xensim_guest_read(struct xensim_guest *g, const char *path, char **value,
		      uint32_t *len);
/* *list is malloc()ed: NUL-separated names, *len bytes in all. */
int xensim_guest_directory(struct xensim_guest *g, const char *path, char **list,
			   uint32_t *len);
int xensim_guest_mkdir(struct xensim_guest *g, const char *path);
int xensim_guest_rm(struct xensim_guest *g, const char *path);
int xensim_guest_watch(struct xensim_guest *g, const char *path, const char *token);
int xensim_guest_unwatch(struct xensim_guest *g, const char *path, const char *token);
/* Wait for a watch event; *ev freed by the caller. */
int xensim_guest_wait_watch(struct xensim_guest *g, struct xensim_msg **ev,
			    int timeout_ms);

/* Reconnection handshake (connection field): requires the daemon to
 * advertise XENSTORE_SERVER_FEATURE_RECONNECTION, else -EOPNOTSUPP. Drops
 * everything queued locally. */
int xensim_guest_reconnect(struct xensim_guest *g, int timeout_ms);
/* The ring's server_features / error fields. */
uint32_t xensim_guest_server_features(const struct xensim_guest *g);
uint32_t xensim_guest_ring_error(const struct xensim_guest *g);

/* Hostile guests. Each writes to the ring directly and notifies. */
/* Raw bytes, no framing; returns bytes written (what fits now). */
int xensim_guest_write_raw(struct xensim_guest *g, const void *bytes, uint32_t len);
/* len pseudo-random bytes from seed. */
int xensim_guest_send_garbage(struct xensim_guest *g, uint32_t len, uint32_t seed);
/* A header claiming claimed_len (> XENSTORE_PAYLOAD_MAX) body bytes, and
 * as much body as fits. */
int xensim_guest_send_oversized(struct xensim_guest *g, uint32_t claimed_len);
enum xensim_corrupt {
	XENSIM_CORRUPT_REQ_PROD, /* req_prod - req_cons > ring size */
	XENSIM_CORRUPT_RSP_CONS, /* rsp_cons past rsp_prod */
	XENSIM_CORRUPT_RANDOM,	 /* all four indices random */
};
int xensim_guest_corrupt_indices(struct xensim_guest *g, enum xensim_corrupt how,
				 uint32_t seed);
/* Send the first half of a request, then stop listening: a guest that
 * vanishes mid-request. Destroy the domain afterwards to finish the act. */
int xensim_guest_vanish(struct xensim_guest *g);

/* ---- socket client (the toolstack side) --------------------------------- */

/* path NULL: $XENSTORED_PATH, else $XENSTORED_RUNDIR/socket, else
 * /run/xenstored/socket. */
int xensim_sock_open(const char *path, struct xensim_sock **out);
void xensim_sock_close(struct xensim_sock *s);
int xensim_sock_fd(const struct xensim_sock *s);
int xensim_sock_call(struct xensim_sock *s, uint32_t type, uint32_t tx_id,
		     const void *payload, uint32_t len, struct xensim_msg **reply,
		     int timeout_ms);
int xensim_sock_write(struct xensim_sock *s, const char *path, const char *value);
int xensim_sock_read(struct xensim_sock *s, const char *path, char **value,
		     uint32_t *len);
int xensim_sock_directory(struct xensim_sock *s, const char *path, char **list,
			  uint32_t *len);
int xensim_sock_mkdir(struct xensim_sock *s, const char *path);
int xensim_sock_rm(struct xensim_sock *s, const char *path);
/* perms: e.g. "n5" (owner 5, nobody else) or "n0\0r5" as len bytes. */
int xensim_sock_set_perms(struct xensim_sock *s, const char *path, const char *perms,
			  uint32_t perms_len);
int xensim_sock_watch(struct xensim_sock *s, const char *path, const char *token);
int xensim_sock_wait_watch(struct xensim_sock *s, struct xensim_msg **ev,
			   int timeout_ms);
/* XS_INTRODUCE "domid\0mfn\0port\0" and XS_RELEASE "domid\0". */
int xensim_sock_introduce(struct xensim_sock *s, uint32_t domid, uint64_t mfn,
			  uint32_t port);
int xensim_sock_release(struct xensim_sock *s, uint32_t domid);

/* Helpers. */
/* -errno for an XS_ERROR reply, 0 otherwise. */
int xensim_msg_error(const struct xensim_msg *m);
int xensim_errno_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
