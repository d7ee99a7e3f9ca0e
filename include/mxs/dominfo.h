/* SPDX-License-Identifier: MIT */
/*
 * Domain-info plugin ABI, version 1.
 *
 * The daemon must learn which domains are alive, dying or shut down
 * (VIRQ_DOM_EXC) but libxenctrl's ABI changes between Xen releases.  So
 * the daemon never links libxenctrl: it dlopen()s a plugin that exports
 * one symbol, MXS_DOMINFO_SYMBOL_V1, a struct mxs_dominfo_plugin_v1.  A
 * new Xen needs only a new plugin.  An incompatible change of this ABI
 * means a v2 beside v1 (new structs, new symbol), never an edit of v1.
 *
 * Threading: a handle is used by one thread at a time; the log function
 * may be called from any plugin function.  Types only; C and C++.
 */
#ifndef MXS_DOMINFO_H
#define MXS_DOMINFO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MXS_DOMINFO_ABI_V1 1u
#define MXS_DOMINFO_SYMBOL_V1 "mxs_dominfo_v1"

/* What the daemon needs to know of one domain. */
struct mxs_dominfo_v1 {
	uint32_t domid;
	uint8_t dying;         /* being destroyed: release it */
	uint8_t shutdown;      /* shut down (shutdown_code says why) */
	uint8_t shutdown_code; /* SHUTDOWN_poweroff, _reboot, _suspend... */
	uint8_t reserved;      /* zero */
	uint8_t handle[16];    /* Xen's per-boot domain handle: a domid
				  reused by a new domain has another one */
};

#ifndef __cplusplus
_Static_assert(sizeof(struct mxs_dominfo_v1) == 24, "dominfo v1 layout");
#endif

/* Host logging: level is a syslog level (LOG_ERR...). */
typedef void mxs_dominfo_log_v1(void *ctx, int level, const char *msg);

struct mxs_dominfo_plugin_v1 {
	uint32_t abi;     /* MXS_DOMINFO_ABI_V1 */
	uint32_t size;    /* sizeof(struct mxs_dominfo_plugin_v1) */
	const char *name; /* e.g. "xenctrl 4.17" */
	/* A handle, or NULL with errno set. */
	void *(*open)(mxs_dominfo_log_v1 *log, void *log_ctx);
	void (*close)(void *h);
	/*
	 * One coherent sweep (one hypercall where the hypervisor allows):
	 * the existing domains with domid >= first, ascending, at most max.
	 * Returns how many were written to out, or -errno.
	 */
	int (*getinfolist)(void *h, uint32_t first, uint32_t max,
			   struct mxs_dominfo_v1 *out);
	/* One domain: 0, -ESRCH when it does not exist, or -errno. */
	int (*getinfo)(void *h, uint32_t domid, struct mxs_dominfo_v1 *out);
};

#ifdef __cplusplus
}
#endif

#endif /* MXS_DOMINFO_H */
