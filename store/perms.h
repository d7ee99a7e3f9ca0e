/* SPDX-License-Identifier: MIT */
/* Node permission lists and the access rule.  Pure functions. */
#ifndef MXS_STORE_PERMS_H
#define MXS_STORE_PERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxs/protocol.h"
#include "store/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MXS_NO_TARGET UINT32_MAX

/* One permission entry: the first entry of a list is the owner's. */
struct mxs_perm {
	uint32_t domid;
	uint32_t mode; /* MXS_PERM_* */
};

/* Who is asking: the identity of a connection. */
struct mxs_caller {
	uint32_t domid;
	uint32_t target;  /* domain this one acts for (SET_TARGET), or none */
	bool privileged;  /* dom0 and the like: full access */
	bool readonly;    /* read-only socket: never write rights */
};

/*
 * Rights of `caller` over a node with permissions perms[0..n): owner,
 * privileged callers and a target of the owner get everything; otherwise
 * the first entry naming the caller (or its target), else the default
 * (the owner entry's mode).  Entries marked MXS_PERM_IGNORE are skipped.
 */
uint32_t mxs_perm_for(const struct mxs_caller *caller,
		      const struct mxs_perm *perms, unsigned int n);

/*
 * The same rule over the current entries only: stale(arg, domid) tells
 * whether an entry names a domain that is gone (store/store.h, domain
 * oracle).  A stale owner counts as dom0; other stale entries are skipped.
 * stale may be NULL (nothing is stale).
 */
typedef bool (*mxs_perm_stale_fn)(const void *arg, uint32_t domid);
uint32_t mxs_perm_for_current(const struct mxs_caller *caller,
			      const struct mxs_perm *perms, unsigned int n,
			      mxs_perm_stale_fn stale, const void *arg);

/*
 * Parses `n` NUL-terminated permission strings ("r5", "b0", "n0x10") from
 * `s` into perms.  Domids follow strtol(base 0), as the C daemon.  Returns
 * 0 or -EINVAL.
 */
int mxs_perms_parse(const char *s, unsigned int n, struct mxs_perm *perms);

/* Appends the wire form ("r5\0b0\0") of the list; ignored entries skipped. */
int mxs_perms_format(struct mxs_buf *out, const struct mxs_perm *perms,
		     unsigned int n);

#ifdef __cplusplus
}
#endif

#endif
