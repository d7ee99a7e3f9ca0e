/* SPDX-License-Identifier: MIT */
/*
 * The RCU conventions of this project (liburcu, QSBR flavour).
 *
 * Pointers read by lock-free readers are published and read with C11
 * atomics (release store / acquire load) rather than liburcu's
 * rcu_assign_pointer/rcu_dereference: same machine code on x86 and ARMv8,
 * and ThreadSanitizer understands them.  liburcu 0.13 (Debian 12) uses
 * volatile accesses that TSan cannot see.
 *
 * Grace periods are invisible to TSan as well, so in TSan builds every
 * quiescent state is a release on one token and every call_rcu callback
 * acquires it before freeing: exactly the happens-before that QSBR
 * guarantees (each reader passed a quiescent state after the unlink).
 */
#ifndef MXS_STORE_RCU_H
#define MXS_STORE_RCU_H

#include <urcu-qsbr.h>

#define mxs_rcu_publish(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#define mxs_rcu_deref(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)

#if defined(__SANITIZE_THREAD__)
#define MXS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MXS_TSAN 1
#endif
#endif

#ifdef MXS_TSAN
#ifdef __cplusplus
extern "C" {
#endif
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char mxs_rcu_gp_token;
#ifdef __cplusplus
}
#endif
#define mxs_rcu_tsan_release() __tsan_release(&mxs_rcu_gp_token)
#define mxs_rcu_tsan_acquire() __tsan_acquire(&mxs_rcu_gp_token)
#else
#define mxs_rcu_tsan_release() do { } while (0)
#define mxs_rcu_tsan_acquire() do { } while (0)
#endif

/* A registered reader thread announces it holds no RCU pointer. */
static inline void mxs_rcu_quiescent(void)
{
	mxs_rcu_tsan_release();
	rcu_quiescent_state();
}

/* Before blocking: the thread holds no RCU pointer until online again. */
static inline void mxs_rcu_offline(void)
{
	mxs_rcu_tsan_release();
	rcu_thread_offline();
}

static inline void mxs_rcu_online(void)
{
	rcu_thread_online();
}

/* First thing in every call_rcu callback. */
static inline void mxs_rcu_reclaim_begin(void)
{
	mxs_rcu_tsan_acquire();
}

#endif
