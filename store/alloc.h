/* SPDX-License-Identifier: MIT */
/*
 * Private to store/: the allocation calls of the tree, transactions and
 * operations (node.c, txn.c, store.c), so that a test build can make any
 * one of them fail.  In the library the daemon links they are the libc
 * calls; the mxs_store_faults library (tests only) is compiled with
 * MXS_STORE_FAULTS and fails the allocation mxs_store_fail_after() names.
 */
#ifndef MXS_STORE_ALLOC_H
#define MXS_STORE_ALLOC_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#ifdef MXS_STORE_FAULTS
#include "store/faults.h"
#define MXS_ALLOC_FAILS() mxs_store_fault()
#else
#define MXS_ALLOC_FAILS() false
#endif

static inline void *mxs_malloc(size_t n)
{
	return MXS_ALLOC_FAILS() ? NULL : malloc(n);
}

static inline void *mxs_calloc(size_t n, size_t size)
{
	return MXS_ALLOC_FAILS() ? NULL : calloc(n, size);
}

static inline void *mxs_realloc(void *p, size_t n)
{
	return MXS_ALLOC_FAILS() ? NULL : realloc(p, n);
}

static inline char *mxs_strndup(const char *s, size_t n)
{
	return MXS_ALLOC_FAILS() ? NULL : strndup(s, n);
}

#endif
