/* SPDX-License-Identifier: MIT */
/*
 * Loading the domain-info plugin (include/mxs/dominfo.h) and the one
 * coherent sweep of all domains that VIRQ_DOM_EXC handling is built on.
 * A struct mxs_dominfo is used by one thread at a time.
 */
#ifndef MXS_CORE_DOMINFO_H
#define MXS_CORE_DOMINFO_H

#include <stddef.h>
#include <stdint.h>

#include "mxs/dominfo.h"

struct mxs_dominfo;

/*
 * dlopen()s the plugin at path and opens it.  NULL and errno: ENOENT (no
 * such file or not loadable), ENOSYS (no v1 symbol), EPROTO (wrong ABI
 * version or size), or the plugin's own error (no hypervisor).  The reason
 * is logged.
 */
struct mxs_dominfo *mxs_dominfo_load(const char *path);
void mxs_dominfo_unload(struct mxs_dominfo *di);
const char *mxs_dominfo_name(const struct mxs_dominfo *di);

/*
 * All domains 0..MXS_DOMID_FIRST_RESERVED-1 in one getinfolist call.
 * *out points to an array owned by di, valid until the next call.
 * Returns the number of domains or -errno.
 */
int mxs_dominfo_sweep(struct mxs_dominfo *di,
		      const struct mxs_dominfo_v1 **out);

/* One domain: 0, -ESRCH, or -errno. */
int mxs_dominfo_get(struct mxs_dominfo *di, uint32_t domid,
		    struct mxs_dominfo_v1 *out);

#endif
