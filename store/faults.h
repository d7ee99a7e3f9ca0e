/* SPDX-License-Identifier: MIT */
/*
 * Allocation-failure injection of the mxs_store_faults library (tests
 * only; see store/alloc.h).  Per thread: the store's allocations on the
 * calling thread are counted from the call of mxs_store_fail_after(n);
 * the one numbered n (0: the next one) fails, the others succeed.
 */
#ifndef MXS_STORE_FAULTS_H
#define MXS_STORE_FAULTS_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* n < 0: no failure. */
void mxs_store_fail_after(long n);
/* Whether the failure was injected since the last mxs_store_fail_after. */
bool mxs_store_fault_fired(void);
/* Called by each allocation: true if this one must fail. */
bool mxs_store_fault(void);

#ifdef __cplusplus
}
#endif

#endif
