/* SPDX-License-Identifier: MIT */
/*
 * A domain-info plugin (include/mxs/dominfo.h) for bench_sweep: no
 * hypervisor, N alive domains 0..N-1, N read from MXS_BENCH_DOMAINS when
 * a handle is opened (so one process can load it once per size).  Its
 * getinfolist only fills the caller's array: what a sweep costs the
 * daemon apart from the hypercall (libxenctrl's own copy and
 * conversion, which the xenctrl plugin adds, is not in it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mxs/dominfo.h"
#include "mxs/protocol.h"

struct handle {
	uint32_t n;
};

static void *synth_open(mxs_dominfo_log_v1 *log, void *log_ctx)
{
	const char *s = getenv("MXS_BENCH_DOMAINS");
	struct handle *h;
	unsigned long n;

	(void)log;
	(void)log_ctx;
	n = s ? strtoul(s, NULL, 10) : 1;
	if (n > MXS_DOMID_FIRST_RESERVED) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->n = (uint32_t)n;
	return h;
}

static void synth_close(void *h)
{
	free(h);
}

static void fill(uint32_t domid, struct mxs_dominfo_v1 *out)
{
	memset(out, 0, sizeof(*out));
	out->domid = domid;
	/* Some per-domain handle: the daemon only copies it. */
	for (unsigned int i = 0; i < sizeof(out->handle); i++)
		out->handle[i] = (uint8_t)(domid * 131u + i * 7u + 1u);
}

static int synth_getinfolist(void *hv, uint32_t first, uint32_t max,
			     struct mxs_dominfo_v1 *out)
{
	struct handle *h = hv;
	uint32_t domid;
	int n = 0;

	for (domid = first; domid < h->n && (uint32_t)n < max; domid++)
		fill(domid, &out[n++]);
	return n;
}

static int synth_getinfo(void *hv, uint32_t domid, struct mxs_dominfo_v1 *out)
{
	struct handle *h = hv;

	if (domid >= h->n)
		return -ESRCH;
	fill(domid, out);
	return 0;
}

__attribute__((visibility("default")))
const struct mxs_dominfo_plugin_v1 mxs_dominfo_v1 = {
	.abi = MXS_DOMINFO_ABI_V1,
	.size = sizeof(struct mxs_dominfo_plugin_v1),
	.name = "synthetic (bench)",
	.open = synth_open,
	.close = synth_close,
	.getinfolist = synth_getinfolist,
	.getinfo = synth_getinfo,
};
