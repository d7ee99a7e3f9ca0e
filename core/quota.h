/* SPDX-License-Identifier: MIT */
/*
 * Quotas of unprivileged domains, with the C xenstored's names, flags,
 * defaults and errors (docs/compat.md).  A value of 0 disables a quota.
 *
 * Concurrency: the values are read by every worker with relaxed loads and
 * changed at run time (XS_CONTROL quota set) with relaxed stores: each
 * value is one independent word, a request only needs some recent value,
 * and nothing else is published with it.
 */
#ifndef MXS_CORE_QUOTA_H
#define MXS_CORE_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#include "store/buf.h"
#include "store/perms.h"

enum mxs_quota_id {
	MXS_QUOTA_NODES,        /* nodes owned (-E): ENOSPC */
	MXS_QUOTA_WATCHES,      /* watches (-W): E2BIG */
	MXS_QUOTA_TRANSACTIONS, /* open transactions (-t): ENOSPC */
	MXS_QUOTA_OUTSTANDING,  /* requests with unread replies: delayed */
	MXS_QUOTA_TXN_NODES,    /* nodes one transaction touches: ENOSPC */
	MXS_QUOTA_MEMORY,       /* bytes of nodes owned (hard): ENOMEM */
	MXS_QUOTA_NODE_SIZE,    /* value and permissions of a node (-S) */
	MXS_QUOTA_PERMS,        /* permission entries of a node (-A) */
	MXS_QUOTA_PATH_MAX,     /* relative path length (-M): EINVAL */
	MXS_QUOTA_COUNT
};

/* A per-domain value that follows the global one. */
#define MXS_QUOTA_GLOBAL UINT32_MAX

struct mxs_quotas {
	unsigned int hard[MXS_QUOTA_COUNT];
	unsigned int soft_memory; /* logged once per domain when passed */
	unsigned int watch_event_ms; /* -w watch-event=<s>; 0: none */
	/*
	 * Per-domain values (SET_QUOTA <domid>): dom[domid] is NULL (all
	 * global) or MXS_QUOTA_COUNT values, MXS_QUOTA_GLOBAL where the
	 * global one applies.  An array is published once (QUOTA_R1,
	 * release CAS) and read with QUOTA_A1 (acquire); it lives until the
	 * daemon exits, and a released domain's values are reset to
	 * MXS_QUOTA_GLOBAL, so a reused domid starts from the globals.
	 */
	unsigned int **dom;
};

/* The per-domain table (NULL dom: globals only).  0 or -ENOMEM. */
int mxs_quota_init_domains(struct mxs_quotas *q);
void mxs_quota_fini_domains(struct mxs_quotas *q);
/* Quota id for domain domid: its own value, else the global one.  Any
 * thread, no lock. */
unsigned int mxs_quota_for(const struct mxs_quotas *q, uint32_t domid,
			   enum mxs_quota_id id);
/* Sets domid's own value (MXS_QUOTA_GLOBAL: follow the global).  Any
 * thread.  0 or -ENOMEM. */
int mxs_quota_set_domain(struct mxs_quotas *q, uint32_t domid,
			 enum mxs_quota_id id, unsigned int v);
/* domid is gone: its values follow the globals again. */
void mxs_quota_reset_domain(struct mxs_quotas *q, uint32_t domid);
/* Global value (relaxed store). */
void mxs_quota_set_global(struct mxs_quotas *q, enum mxs_quota_id id,
			  unsigned int v);

/* The C daemon 4.17's defaults. */
void mxs_quota_defaults(struct mxs_quotas *q);
/* Name as the C daemon's "quota" control command lists it; the 4.22
 * name (GET_QUOTA) where they differ. */
const char *mxs_quota_name(enum mxs_quota_id id);
const char *mxs_quota_name_422(enum mxs_quota_id id);
/* The quota called `name` (either spelling), or -EINVAL. */
int mxs_quota_lookup(const char *name);
/* Relaxed read of a hard quota (0: disabled). */
static inline unsigned int mxs_quota_get(const struct mxs_quotas *q,
					 enum mxs_quota_id id)
{
	return __atomic_load_n(&q->hard[id], __ATOMIC_RELAXED);
}
/* Does quota `id` (value `limit`) refuse `n` of it for caller c?  The C
 * daemon's rule: never for privileged callers, never when 0. */
static inline bool mxs_quota_over(const struct mxs_caller *c,
				  unsigned int limit, uint64_t n)
{
	return !c->privileged && limit && n > limit;
}

/*
 * Command-line forms of the C daemon: -E -S -W -t -A -M <n> (opt is the
 * letter), -Q <name>=<n>, -q <name>=<n> (soft: memory only) and
 * -w watch-event=<seconds>.  0 or -EINVAL with a message on stderr in
 * the C daemon's words.
 */
int mxs_quota_option(struct mxs_quotas *q, int opt, const char *arg);

/*
 * XS_CONTROL quota / quota-soft, arguments after the subcommand:
 * none: the table ("Quota settings:" and one line per quota);
 * "set <name> <value>": a new global value (EINVAL for an unknown name
 * or a value below 1, as the C daemon); "<domid>": that domain's usage
 * (usage(arg, domid, out) appends it, -ENOENT when unknown).
 */
int mxs_quota_control(struct mxs_quotas *q, bool soft, char **argv,
		      unsigned int argc, struct mxs_buf *reply,
		      int (*usage)(void *arg, uint32_t domid,
				   struct mxs_buf *out),
		      void *usage_arg);

#endif
