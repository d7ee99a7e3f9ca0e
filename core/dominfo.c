/* SPDX-License-Identifier: MIT */
#include "core/dominfo.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "core/daemon.h"

struct mxs_dominfo {
	void *dl;
	const struct mxs_dominfo_plugin_v1 *p;
	void *h;
	struct mxs_dominfo_v1 *list; /* MXS_DOMID_FIRST_RESERVED entries */
};

static void plugin_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= LOG_WARNING || mxs_verbose)
		mxs_log("dominfo: %s", msg);
}

struct mxs_dominfo *mxs_dominfo_load(const char *path)
{
	struct mxs_dominfo *di = calloc(1, sizeof(*di));
	int e;

	if (!di)
		return NULL;
	di->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!di->dl) {
		mxs_log("cannot load domain-info plugin %s: %s", path,
			dlerror());
		e = ENOENT;
		goto fail;
	}
	di->p = dlsym(di->dl, MXS_DOMINFO_SYMBOL_V1);
	if (!di->p) {
		mxs_log("%s: no %s: not a domain-info plugin", path,
			MXS_DOMINFO_SYMBOL_V1);
		e = ENOSYS;
		goto fail;
	}
	if (di->p->abi != MXS_DOMINFO_ABI_V1 ||
	    di->p->size < sizeof(struct mxs_dominfo_plugin_v1) ||
	    !di->p->open || !di->p->getinfolist || !di->p->getinfo) {
		mxs_log("%s: domain-info ABI %u (size %u), want %u", path,
			di->p->abi, di->p->size, MXS_DOMINFO_ABI_V1);
		e = EPROTO;
		goto fail;
	}
	di->list = calloc(MXS_DOMID_FIRST_RESERVED, sizeof(*di->list));
	if (!di->list) {
		e = ENOMEM;
		goto fail;
	}
	di->h = di->p->open(plugin_log, di);
	if (!di->h) {
		e = errno ? errno : EIO;
		goto fail;
	}
	return di;
fail:
	if (di->dl)
		dlclose(di->dl);
	free(di->list);
	free(di);
	errno = e;
	return NULL;
}

void mxs_dominfo_unload(struct mxs_dominfo *di)
{
	if (!di)
		return;
	if (di->p->close)
		di->p->close(di->h);
	dlclose(di->dl);
	free(di->list);
	free(di);
}

const char *mxs_dominfo_name(const struct mxs_dominfo *di)
{
	return di->p->name ? di->p->name : "?";
}

int mxs_dominfo_sweep(struct mxs_dominfo *di,
		      const struct mxs_dominfo_v1 **out)
{
	int n = di->p->getinfolist(di->h, 0, MXS_DOMID_FIRST_RESERVED,
				   di->list);

	if (n < 0)
		return n;
	if (n > (int)MXS_DOMID_FIRST_RESERVED)
		return -EPROTO; /* a plugin that overran our array */
	*out = di->list;
	return n;
}

int mxs_dominfo_get(struct mxs_dominfo *di, uint32_t domid,
		    struct mxs_dominfo_v1 *out)
{
	return di->p->getinfo(di->h, domid, out);
}
