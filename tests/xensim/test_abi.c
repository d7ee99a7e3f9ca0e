/*
 * The Xen library ABI as a daemon sees it: this program links the real
 * libxenevtchn, libxengnttab and libxenctrl and runs under
 * LD_PRELOAD=libxensim.so (set by CTest), like mxenstored will.
 *   - /proc/xen/xsd_port and xsd_kva lead to dom0's simulated channel/page;
 *   - xc_domain_getinfo / getinfolist report created, shut down (crash
 *     code), dying and vanished domains;
 *   - xengnttab_map_grant_ref(GNTTAB_RESERVED_XENSTORE) maps the guest's
 *     page (shared memory); a dying domain lingers until unmapped;
 *   - xenevtchn: bind_interdomain to a guest's port, notify both ways,
 *     pending/unmask, VIRQ_DOM_EXC, fdopen of an inherited fd.
 */
#include "tests/xensim/xensim.h"
#include "tests/xensim/testutil.h"

#include <poll.h>
#include <sys/mman.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xen/grant_table.h>

static bool fd_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1;
}

static int find_info(xc_interface *xch, uint32_t domid, xc_domaininfo_t *out)
{
	static xc_domaininfo_t info[64];
	int n = xc_domain_getinfolist(xch, 0, 64, info);

	CHECK(n >= 1);
	for (int i = 0; i < n; i++) {
		if (info[i].domain == domid) {
			*out = info[i];
			return 1;
		}
	}
	return 0;
}

int main(void)
{
	struct xensim_guest *guest;
	struct xensim_evq *q;
	struct xensim_sim *sim;
	struct xensim_dominfo di;
	xc_domaininfo_t dinfo;
	xc_dominfo_t info;
	xenevtchn_handle *xce, *xce2;
	xengnttab_handle *xgt;
	xc_interface *xch;
	uint32_t d1, d2, gd, gp;
	char dir[300], buf[32];
	int port, vport, fd;
	uint8_t *page, *kva;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/sim", tu_mktemp("xensim-abi"));
	CHECK_RC(xensim_init(dir));
	setenv("XENSIM_DIR", dir, 1);
	CHECK_RC(xensim_open(dir, &sim));

	xce = xenevtchn_open(NULL, 0);
	if (!xce) {
		printf("SKIP: not running under LD_PRELOAD=libxensim.so (%s)\n",
		       strerror(errno));
		return 77;
	}
	xch = xc_interface_open(NULL, NULL, 0);
	CHECK(xch);
	xgt = xengnttab_open(NULL, 0);
	CHECK(xgt);
	CHECK(xengnttab_set_max_grants(xgt, 0x7ff0) == 0);

	/* dom0's xenstore channel and page through /proc/xen. */
	f = fopen("/proc/xen/xsd_port", "r");
	CHECK(f && fgets(buf, sizeof(buf), f));
	fclose(f);
	CHECK_RC(xensim_domain_info(sim, 0, &di));
	CHECK((uint32_t)strtoul(buf, NULL, 0) == di.xs_port);
	fd = open("/proc/xen/xsd_kva", O_RDWR);
	CHECK(fd >= 0);
	kva = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(kva != MAP_FAILED);
	close(fd);
	kva[100] = 0x5a;
	CHECK(((uint8_t *)xensim_domain_ring(sim, 0))[100] == 0x5a);
	kva[100] = 0;
	munmap(kva, getpagesize());
	printf("ok: /proc/xen/xsd_port and xsd_kva redirected\n");

	/* Domain info. */
	CHECK_RC(xensim_domain_create(sim, 7, &d1));
	CHECK_RC(xensim_domain_create(sim, 9, &d2));
	CHECK(xc_domain_getinfo(xch, 1, 1, &info) == 1 && info.domid == 7);
	CHECK(!info.dying && !info.shutdown && info.running);
	CHECK(xc_domain_getinfo(xch, 8, 1, &info) == 1 && info.domid == 9);
	CHECK(xc_domain_getinfo(xch, 10, 1, &info) == 0);
	CHECK(find_info(xch, 0, &dinfo));
	CHECK(find_info(xch, 7, &dinfo) && (dinfo.flags & XEN_DOMINF_running));
	CHECK_RC(xensim_domain_shutdown(sim, 9, SHUTDOWN_crash));
	CHECK(xc_domain_getinfo(xch, 9, 1, &info) == 1);
	CHECK(info.shutdown && info.crashed && info.shutdown_reason == SHUTDOWN_crash);
	CHECK(find_info(xch, 9, &dinfo));
	CHECK((dinfo.flags & XEN_DOMINF_shutdown) &&
	      ((dinfo.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask) ==
		      SHUTDOWN_crash);
	printf("ok: getinfo and getinfolist\n");

	/* The guest's page through the grant ABI. */
	page = xengnttab_map_grant_ref(xgt, 7, GNTTAB_RESERVED_XENSTORE,
				       PROT_READ | PROT_WRITE);
	CHECK(page);
	CHECK(xengnttab_map_grant_ref(xgt, 7, 5, PROT_READ) == NULL && errno == EINVAL);
	CHECK(xengnttab_map_grant_ref(xgt, 8, GNTTAB_RESERVED_XENSTORE, PROT_READ) ==
	      NULL);
	((uint8_t *)xensim_domain_ring(sim, 7))[7] = 0xa7;
	CHECK(page[7] == 0xa7);
	printf("ok: grant map of the xenstore page\n");

	/* Event channels: daemon side through the ABI, guest side through
	 * the guest library, in this same process. */
	vport = xenevtchn_bind_virq(xce, VIRQ_DOM_EXC);
	CHECK(vport > 0);
	CHECK(xenevtchn_bind_virq(xce, VIRQ_DOM_EXC) == -1 && errno == EEXIST);
	CHECK_RC(xensim_evq_open(sim, &q));
	CHECK_RC(xensim_guest_attach(q, 7, &guest));
	port = xenevtchn_bind_interdomain(xce, 7, xensim_guest_port(guest));
	CHECK(port > 0);
	CHECK(xenevtchn_bind_interdomain(xce, 7, xensim_guest_port(guest)) == -1);
	/* The fresh local port starts pending (as in Xen). */
	CHECK(fd_readable(xenevtchn_fd(xce), 10000));
	CHECK(xenevtchn_pending(xce) == port);
	CHECK(xenevtchn_pending(xce) == -1 && errno == EAGAIN);
	CHECK(xenevtchn_unmask(xce, port) == 0);
	CHECK(xenevtchn_notify(xce, port) == 0);
	CHECK(xensim_evq_wait(q, 10000) == 1);
	CHECK_RC(xensim_evq_pending(q, &gd, &gp));
	CHECK(gd == 7 && gp == xensim_guest_port(guest));
	CHECK_RC(xensim_evq_unmask(q, gd, gp));
	CHECK_RC(xensim_evq_notify(q, 7, xensim_guest_port(guest)));
	CHECK(fd_readable(xenevtchn_fd(xce), 10000));
	CHECK(xenevtchn_pending(xce) == port);
	CHECK(xenevtchn_unmask(xce, port) == 0);
	printf("ok: bind_interdomain, notify both ways, pending, unmask\n");

	/* fdopen: the same handle reconstructed from its fd (live update). */
	xce2 = xenevtchn_fdopen(NULL, xenevtchn_fd(xce), 0);
	CHECK(xce2);
	CHECK_RC(xensim_evq_notify(q, 7, xensim_guest_port(guest)));
	CHECK(fd_readable(xenevtchn_fd(xce2), 10000));
	CHECK(xenevtchn_pending(xce2) == port);
	CHECK(xenevtchn_unmask(xce2, port) == 0);
	free(xce2); /* not xenevtchn_close: that would close the shared fd */
	printf("ok: fdopen\n");

	/* Death: VIRQ, dying while mapped, gone after unmap; our end of the
	 * channel is unbound by Xen, we still unbind our port. */
	CHECK_RC(xensim_domain_destroy(sim, 7, false));
	CHECK(fd_readable(xenevtchn_fd(xce), 10000));
	CHECK(xenevtchn_pending(xce) == vport);
	CHECK(xenevtchn_unmask(xce, vport) == 0);
	CHECK(xc_domain_getinfo(xch, 7, 1, &info) == 1 && info.domid == 7 && info.dying);
	CHECK(xenevtchn_notify(xce, port) == 0); /* dropped */
	CHECK(xenevtchn_unbind(xce, port) == 0);
	CHECK(xengnttab_unmap(xgt, page, 1) == 0);
	CHECK(xc_domain_getinfo(xch, 7, 1, &info) == 1 && info.domid == 9);
	printf("ok: destroyed domain lingers while mapped, vanishes on unmap\n");

	xensim_guest_detach(guest);
	xensim_evq_close(q);
	CHECK(xenevtchn_close(xce) == 0);
	CHECK(xengnttab_close(xgt) == 0);
	CHECK(xc_interface_close(xch) == 0);
	xensim_close(sim);
	printf("PASS\n");
	return 0;
}
