/* SPDX-License-Identifier: MIT */
/* Allocation-failure injection (tests only): see store/faults.h. */
#include "store/faults.h"

static __thread long countdown = -1;
static __thread bool fired;

void mxs_store_fail_after(long n)
{
	countdown = n;
	fired = false;
}

bool mxs_store_fault_fired(void)
{
	return fired;
}

bool mxs_store_fault(void)
{
	if (countdown < 0)
		return false;
	if (countdown-- > 0)
		return false;
	fired = true;
	return true;
}
