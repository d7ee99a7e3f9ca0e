/* SPDX-License-Identifier: MIT */
/*
 * bench_sweep's in-process daemon (bench/sweep-fixture.c): C, because
 * the daemon's headers are C; bench_sweep.cc sees only these calls.
 */
#ifndef MXS_BENCH_SWEEP_FIXTURE_H
#define MXS_BENCH_SWEEP_FIXTURE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A daemon of one worker (tests/inproc.h, made once) whose plugin is the
 * synthetic one at plugin reporting ndomains alive domains 0..n-1, and
 * that knows domains 0..nknown-1 (domain records as INTRODUCE publishes
 * them, without a ring: a sweep that finds them alive never touches
 * one).  Replaces the previous setup.  0, or -1 and a message.
 */
int bench_sweep_setup(const char *plugin, uint32_t ndomains,
		      uint32_t nknown);
/* mxs_dominfo_sweep on worker 0's handle: its count or -errno. */
int bench_sweep_dominfo(void);
/* mxs_domains_sweep(worker 0). */
void bench_sweep_domains(void);
/*
 * After bench_sweep_domains: 0 when the last sweep saw every known
 * domain alive and released none, else -1 and a message.
 */
int bench_sweep_check(const char **why);

#ifdef __cplusplus
}
#endif

#endif
