/* SPDX-License-Identifier: MIT */
/*
 * mxs-lfht-check: does liburcu's lazily resized hash table grow the way the
 * store uses it?  (docs/performance.md, "The store does not scale with its
 * size".)
 *
 *   mxs-lfht-check NODES [INITIAL_BUCKETS]
 *
 * One QSBR thread builds a cds_lfht with the store's flags
 * (CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, 1,024 initial and minimum
 * buckets unless INITIAL_BUCKETS says otherwise), inserting NODES keys
 * shaped like domain paths with FNV-1a (the store's hash when this was
 * written; it is keyed SipHash now, which spreads keys at least as well),
 * announcing a quiescent state every 100 inserts as a writer between
 * batches does.  It then looks keys up in six rounds 0.3 s apart (offline
 * in between, so that a resize can run) and prints the build time and the
 * cost of a lookup per round.  With a table that grew, a lookup costs a
 * few cache misses whatever NODES is; one that stayed small walks chains
 * of NODES / buckets entries.  Standalone on purpose: nothing of store/
 * is used, so a slow result is liburcu's behaviour, not ours.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

struct check_node {
	struct cds_lfht_node hnode;
	char path[48];
};

/* FNV-1a: a good spread of keys, no dependency on store/. */
static unsigned long check_hash(const char *p)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ull;
	}
	return (unsigned long)(h ^ (h >> 29));
}

static int check_match(struct cds_lfht_node *n, const void *key)
{
	return strcmp(caa_container_of(n, struct check_node, hnode)->path,
		      key) == 0;
}

static double check_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 0, i, found;
	unsigned long buckets = argc > 2 ? strtoul(argv[2], NULL, 10) : 1024;
	struct check_node **nodes;
	struct cds_lfht *ht;
	double t0, t1;
	size_t k;
	int round;

	if (n < 1 || buckets < 1 || (buckets & (buckets - 1))) {
		fprintf(stderr, "usage: mxs-lfht-check NODES "
				"[INITIAL_BUCKETS, a power of two]\n");
		return 2;
	}
	rcu_register_thread();
	ht = cds_lfht_new(buckets, buckets, 0,
			  CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	nodes = calloc((size_t)n, sizeof(*nodes));
	if (!ht || !nodes)
		return 1;
	t0 = check_now();
	for (i = 0; i < n; i++) {
		nodes[i] = malloc(sizeof(*nodes[i]));
		if (!nodes[i])
			return 1;
		snprintf(nodes[i]->path, sizeof(nodes[i]->path),
			 "/local/domain/%ld/leaf%ld", i / 10, i % 10);
		cds_lfht_add(ht, check_hash(nodes[i]->path), &nodes[i]->hnode);
		if (i % 100 == 0)
			rcu_quiescent_state();
	}
	printf("nodes %ld initial buckets %lu build %.2f s\n", n, buckets,
	       check_now() - t0);
	for (round = 0, k = 12345; round < 6; round++) {
		struct timespec pause = { 0, 300000000 };
		const long m = 20000;

		t0 = check_now();
		for (i = 0, found = 0; i < m; i++) {
			struct cds_lfht_iter it;
			const char *key;

			k = (k + 7919 * 13) % (size_t)n;
			key = nodes[k]->path;
			rcu_read_lock();
			cds_lfht_lookup(ht, check_hash(key), check_match, key,
					&it);
			found += cds_lfht_iter_get_node(&it) != NULL;
			rcu_read_unlock();
			if (i % 64 == 0)
				rcu_quiescent_state();
		}
		t1 = check_now();
		printf("round %d: %.0f ns per lookup, %ld of %ld found\n",
		       round, (t1 - t0) / (double)m * 1e9, found, m);
		rcu_thread_offline();
		nanosleep(&pause, NULL);
		rcu_thread_online();
	}
	rcu_unregister_thread();
	return 0;
}
