/* SPDX-License-Identifier: MIT */
/*
 * SipHash (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012), written from the paper's description: four 64-bit words of
 * state, c compression rounds per 8-byte block, the length in the top
 * byte of the last block, d finalisation rounds.
 */
#include "store/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint8_t process_key[16];

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

#define SIPROUND(v0, v1, v2, v3)                                           \
	do {                                                               \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);  \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                     \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                     \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);  \
	} while (0)

/* SipHash-c-d: c compression rounds per block, d finalisation rounds. */
static inline __attribute__((always_inline)) uint64_t
siphash(const uint8_t key[16], const void *data, size_t len, int c, int d)
{
	const uint8_t *p = data, *end = p + (len & ~(size_t)7);
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
	uint64_t v3 = k1 ^ 0x7465646279746573ull;
	uint64_t m, last = (uint64_t)len << 56;
	size_t i;
	int r;

	for (; p != end; p += 8) {
		m = load_le64(p);
		v3 ^= m;
		for (r = 0; r < c; r++)
			SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (i = 0; i < (len & 7); i++)
		last |= (uint64_t)p[i] << (8 * i);
	v3 ^= last;
	for (r = 0; r < c; r++)
		SIPROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	for (r = 0; r < d; r++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t mxs_siphash24(const uint8_t key[16], const void *p, size_t len)
{
	return siphash(key, p, len, 2, 4);
}

/*
 * The tables use SipHash-1-3, the reduced-round variant that Rust's and
 * CPython's hash tables use for the same purpose (flooding resistance,
 * not a MAC): about half the cost of 2-4 on short paths.  Same code as
 * mxs_siphash24, which the unit test checks against the reference.
 */
uint64_t mxs_hash(const void *p, size_t len)
{
	return siphash(process_key, p, len, 1, 3);
}

void mxs_hash_set_key(const uint8_t key[16])
{
	memcpy(process_key, key, sizeof(process_key));
}

/* Before main(): the key of this process. */
__attribute__((constructor)) static void hash_key_init(void)
{
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(process_key)) {
		n = getrandom(process_key + got, sizeof(process_key) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof(process_key)) {
		/* No getrandom (old kernel, seccomp): still a per-start key,
		 * if a weaker one. */
		struct timespec ts;
		uint64_t mix[2];

		clock_gettime(CLOCK_REALTIME, &ts);
		mix[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30);
		mix[1] = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^
			 (uint64_t)(uintptr_t)&ts;
		memcpy(process_key, mix, sizeof(process_key));
	}
}
