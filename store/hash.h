/* SPDX-License-Identifier: MIT */
/*
 * Keyed hash of the names that clients choose (node paths, watch paths,
 * transaction entries): SipHash-1-3 with a key drawn from the kernel's
 * random source when the process starts.  Guests pick node and watch
 * names; with an unkeyed hash they could pick names that collide and turn
 * every lookup of the index or the watch registry into a list walk.  The
 * key is never shown to clients.
 *
 * Thread safety: mxs_hash may be called from any thread at any time; the
 * key is set before main() runs and only changed by mxs_hash_set_key.
 */
#ifndef MXS_STORE_HASH_H
#define MXS_STORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SipHash-1-3 of p[0..len) under the process key. */
uint64_t mxs_hash(const void *p, size_t len);

/* SipHash-2-4 of p[0..len) under key (16 bytes, little-endian k0 k1). */
uint64_t mxs_siphash24(const uint8_t key[16], const void *p, size_t len);

/*
 * Replaces the process key (tests, reproducible benchmarks).  Only
 * before any hash table is built: every table hashed under the old key
 * would be lost.
 */
void mxs_hash_set_key(const uint8_t key[16]);

#ifdef __cplusplus
}
#endif

#endif
