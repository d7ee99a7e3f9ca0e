/* SPDX-License-Identifier: MIT */
/*
 * The domain-info plugin for libxenctrl (include/mxs/dominfo.h, ABI v1):
 * build/mxs-dominfo-xenctrl.so.  The only code of the project that links
 * libxenctrl; rebuilt (or replaced) for another Xen release.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <xenctrl.h>

#include "mxs/dominfo.h"

struct handle {
	xc_interface *xch;
	mxs_dominfo_log_v1 *log;
	void *log_ctx;
	xc_domaininfo_t *buf; /* getinfolist scratch */
	uint32_t cap;
};

static void say(struct handle *h, int level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!h->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->log(h->log_ctx, level, msg);
}

static void convert(const xc_domaininfo_t *in, struct mxs_dominfo_v1 *out)
{
	memset(out, 0, sizeof(*out));
	out->domid = in->domain;
	out->dying = !!(in->flags & XEN_DOMINF_dying);
	out->shutdown = !!(in->flags & XEN_DOMINF_shutdown);
	out->shutdown_code = (uint8_t)((in->flags >> XEN_DOMINF_shutdownshift) &
				       XEN_DOMINF_shutdownmask);
	memcpy(out->handle, in->handle, sizeof(out->handle));
}

static void *plugin_open(mxs_dominfo_log_v1 *log, void *log_ctx)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->log = log;
	h->log_ctx = log_ctx;
	h->xch = xc_interface_open(NULL, NULL, 0);
	if (!h->xch) {
		int e = errno ? errno : EIO;

		say(h, LOG_ERR, "xc_interface_open: %s", strerror(e));
		free(h);
		errno = e;
		return NULL;
	}
	return h;
}

static void plugin_close(void *hv)
{
	struct handle *h = hv;

	if (!h)
		return;
	xc_interface_close(h->xch);
	free(h->buf);
	free(h);
}

static int plugin_getinfolist(void *hv, uint32_t first, uint32_t max,
			      struct mxs_dominfo_v1 *out)
{
	struct handle *h = hv;
	int n, i;

	if (max > h->cap) {
		xc_domaininfo_t *b = realloc(h->buf, max * sizeof(*b));

		if (!b)
			return -ENOMEM;
		h->buf = b;
		h->cap = max;
	}
	n = xc_domain_getinfolist(h->xch, first, max, h->buf);
	if (n < 0) {
		int e = errno ? errno : EIO;

		say(h, LOG_ERR, "xc_domain_getinfolist: %s", strerror(e));
		return -e;
	}
	for (i = 0; i < n; i++)
		convert(&h->buf[i], &out[i]);
	return n;
}

static int plugin_getinfo(void *hv, uint32_t domid,
			  struct mxs_dominfo_v1 *out)
{
	struct handle *h = hv;
	xc_domaininfo_t info;
	int n = xc_domain_getinfolist(h->xch, domid, 1, &info);

	if (n < 0)
		return errno ? -errno : -EIO;
	if (n == 0 || info.domain != domid)
		return -ESRCH;
	convert(&info, out);
	return 0;
}

__attribute__((visibility("default")))
const struct mxs_dominfo_plugin_v1 mxs_dominfo_v1 = {
	.abi = MXS_DOMINFO_ABI_V1,
	.size = sizeof(struct mxs_dominfo_plugin_v1),
	.name = "xenctrl 4.17",
	.open = plugin_open,
	.close = plugin_close,
	.getinfolist = plugin_getinfolist,
	.getinfo = plugin_getinfo,
};
