/* SPDX-License-Identifier: MIT */
/*
 * The in-process daemon of bench_dispatch (bench/dispatch_harness.c),
 * behind a C interface: core/daemon.h is C only (_Static_assert,
 * flexible array members), the benchmark is C++.  One thread, one
 * worker driven by hand (tests/inproc.h), one socket connection at a
 * time.
 */
#ifndef MXS_BENCH_DISPATCH_HARNESS_H
#define MXS_BENCH_DISPATCH_HARNESS_H

#ifdef __cplusplus
extern "C" {
#endif

/* The node every request names and the value it holds (32 bytes). */
#define MXS_BD_PATH "/local/domain/1/name"
#define MXS_BD_VALUE "guest-0001-abcdefghijklmnopqrst"

/* On the benchmark's thread (registers it with RCU), made on the first
 * call: the daemon and the store holding MXS_BD_PATH.  0, or -1. */
int mxs_bd_init(void);
/* A socket connection, and a batch of n requests of type op
 * (MXS_OP_READ of MXS_BD_PATH, or MXS_OP_WRITE of MXS_BD_VALUE to it),
 * request ids 0 .. n-1.  0, or -1. */
int mxs_bd_open(unsigned int op, unsigned int n);
/*
 * One round: the batch written to the socket at once; the connection
 * served as the worker loop serves it (mxs_conn_readable, then the
 * dirty list, then the connections the request budget left over, until
 * none is); a quiescent state; the replies read back, up to the bytes
 * expected, and checked (type, id, payload).  NULL, or what was wrong.
 */
const char *mxs_bd_round(void);
/* Closes the connection (and frees it: mxs_worker_bury).  NULL, or
 * what was wrong: a reply left unread after the last round. */
const char *mxs_bd_close(void);

#ifdef __cplusplus
}
#endif

#endif
