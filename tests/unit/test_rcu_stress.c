/* SPDX-License-Identifier: MIT */
/*
 * RCU stress: reader threads read, list and get the permissions of
 * random nodes while writer threads write, remove, change permissions
 * and commit transactions.  Values follow a pattern derived from their
 * path and a sequence number, so a torn or freed value is detected by
 * the reader that sees it; counters incremented through read-modify-write
 * transactions (retried on EAGAIN) and a per-writer model of its own
 * subtree are reconciled with the store at the end.
 *
 * Threads: every thread is registered with urcu-qsbr, online, and
 * announces a quiescent state once per loop.  The main thread goes
 * offline while it waits for the others.
 *
 * MXS_STRESS_ITERS (environment) sets the operations per writer.
 */
#include "unit.h"

#include <pthread.h>

#define NREADERS 3
#define NWRITERS 2
#define NA 6 /* a<i> per writer */
#define NB 6 /* b<j> per a<i> */
#define NCOUNTERS 3
#define OWNER_BASE 100

static struct mxs_store *st;
static int stop_readers; /* set by main (release), polled by readers */
static unsigned long iters = 30000; /* per writer */

static uint32_t path_hash(const char *p)
{
	uint32_t h = 2166136261u;

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

/* "<seq>:" then (seq*31 + hash) % 200 bytes of a path-dependent
 * pattern.  Returns the length. */
static size_t make_value(const char *path, unsigned int seq, char *buf)
{
	uint32_t h = path_hash(path);
	size_t len = (size_t)sprintf(buf, "%u:", seq);
	size_t n = (seq * 31u + h) % 200u, i;

	for (i = 0; i < n; i++)
		buf[len + i] = (char)('a' + (h + seq + i) % 26u);
	return len + n;
}

/* A value is empty (an intermediate node) or follows make_value. */
static bool value_ok(const char *path, const char *v, size_t len)
{
	char want[256];
	unsigned int seq = 0;
	size_t i;

	if (len == 0)
		return true;
	for (i = 0; i < len && v[i] >= '0' && v[i] <= '9'; i++)
		seq = seq * 10 + (unsigned int)(v[i] - '0');
	if (i == 0 || i >= len || v[i] != ':')
		return false;
	return make_value(path, seq, want) == len &&
	       memcmp(want, v, len) == 0;
}

static void node_path(char *buf, size_t sz, int w, int a, int b)
{
	if (b < 0)
		snprintf(buf, sz, "/s/w%d/a%d", w, a);
	else
		snprintf(buf, sz, "/s/w%d/a%d/b%d", w, a, b);
}

/* ---------------------------------------------------------------- */

struct reader_stats {
	unsigned long reads, found, lists, perms, bad;
};

static bool name_ok(const char *s)
{
	if (s[0] != 'a' && s[0] != 'b')
		return false;
	if (s[1] < '0' || s[1] > '9' || s[2] != '\0')
		return false;
	return true;
}

static void *reader(void *arg)
{
	struct reader_stats *rs = arg;
	unsigned int seed = (unsigned int)(uintptr_t)arg;
	struct mxs_buf b = { 0 };
	char path[64];

	rcu_register_thread();
	while (!__atomic_load_n(&stop_readers, __ATOMIC_ACQUIRE)) {
		int w = rand_r(&seed) % NWRITERS, a = rand_r(&seed) % NA;
		int bj = rand_r(&seed) % (NB + 1) - 1, op = rand_r(&seed) % 8;
		int rc;

		if (op == 0) {
			/* Shared counters: decimal. */
			size_t i;

			snprintf(path, sizeof(path), "/shared/c%d",
				 rand_r(&seed) % NCOUNTERS);
			mxs_buf_reset(&b);
			rc = mxs_store_read(st, NULL, &dom0, path, &b);
			if (rc || b.len == 0)
				rs->bad++;
			for (i = 0; !rc && i < b.len; i++)
				if (b.p[i] < '0' || b.p[i] > '9')
					rs->bad++;
		} else if (op <= 4) {
			node_path(path, sizeof(path), w, a, bj);
			mxs_buf_reset(&b);
			rc = mxs_store_read(st, NULL, &dom0, path, &b);
			rs->reads++;
			if (rc == 0) {
				rs->found++;
				if (!value_ok(path, b.p, b.len))
					rs->bad++;
			} else if (rc != -ENOENT) {
				rs->bad++;
			}
		} else if (op <= 6) {
			size_t off;

			node_path(path, sizeof(path), w, a, -1);
			if (op == 6)
				snprintf(path, sizeof(path), "/s/w%d", w);
			mxs_buf_reset(&b);
			rc = mxs_store_directory(st, NULL, &dom0, path, &b);
			rs->lists++;
			if (rc && rc != -ENOENT)
				rs->bad++;
			for (off = 0; !rc && off < b.len;
			     off += strlen(b.p + off) + 1)
				if (!name_ok(b.p + off))
					rs->bad++;
			if (!rc && b.len && b.p[b.len - 1] != '\0')
				rs->bad++;
		} else {
			node_path(path, sizeof(path), w, a, bj);
			mxs_buf_reset(&b);
			rc = mxs_store_get_perms(st, NULL, &dom0, path, &b);
			rs->perms++;
			if (rc == 0) {
				/* "n0\0" or "r<owner>\0": one entry. */
				if (b.len < 3 || b.p[b.len - 1] != '\0' ||
				    strlen(b.p) + 1 != b.len ||
				    !strchr("nr", b.p[0]))
					rs->bad++;
			} else if (rc != -ENOENT) {
				rs->bad++;
			}
		}
		mxs_rcu_quiescent();
	}
	mxs_buf_free(&b);
	rcu_unregister_thread();
	return NULL;
}

/* ---------------------------------------------------------------- */

/* A writer's model of its subtree: index NB is a<i> itself. */
struct model {
	bool exists[NA][NB + 1];
	unsigned int seq[NA][NB + 1]; /* 0: empty value */
	uint32_t owner[NA][NB + 1];
};

struct writer {
	int id;
	unsigned int seed;
	unsigned int seq;
	struct model m;
	unsigned long incr[NCOUNTERS];
	unsigned long conflicts, commits, ops;
	int failed;
};

#define SLOT(b) ((b) < 0 ? NB : (b))

/* Model: node (a, b) written with seq (created with parents if needed). */
static void model_write(struct model *m, int a, int b, unsigned int seq)
{
	if (b >= 0 && !m->exists[a][NB]) {
		m->exists[a][NB] = true;
		m->seq[a][NB] = 0;
		m->owner[a][NB] = 0;
	}
	if (!m->exists[a][SLOT(b)]) {
		m->exists[a][SLOT(b)] = true;
		/* privileged creator: the parent's owner is inherited */
		m->owner[a][SLOT(b)] = b >= 0 ? m->owner[a][NB] : 0;
	}
	m->seq[a][SLOT(b)] = seq;
}

static void model_rm(struct model *m, int a, int b)
{
	int j;

	if (b >= 0) {
		m->exists[a][b] = false;
		return;
	}
	for (j = 0; j <= NB; j++)
		m->exists[a][j] = false;
}

/* Expected result of rm: 0, or -ENOENT when the parent is missing. */
static int model_rm_rc(const struct model *m, int a, int b)
{
	return b >= 0 && !m->exists[a][NB] ? -ENOENT : 0;
}

#define CHECK(w, cond)                                                        \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "writer %d: %s:%d: %s\n", (w)->id,    \
				__FILE__, __LINE__, #cond);                   \
			(w)->failed++;                                        \
		}                                                             \
	} while (0)

static void do_write(struct writer *w, struct mxs_txn *tx, int a, int b)
{
	struct mxs_changes ch = { 0 };
	char path[64], val[256];
	size_t len;

	node_path(path, sizeof(path), w->id, a, b);
	len = make_value(path, ++w->seq, val);
	CHECK(w, mxs_store_write(st, tx, &dom0, path, val, len, &ch) == 0);
	CHECK(w, ch.n == (tx ? 0u : 1u));
	unit_changes_free(&ch);
}

static void do_rm(struct writer *w, struct mxs_txn *tx,
		  const struct model *m, int a, int b)
{
	struct mxs_changes ch = { 0 };
	char path[64];

	node_path(path, sizeof(path), w->id, a, b);
	CHECK(w, mxs_store_rm(st, tx, &dom0, path, &ch) ==
			 model_rm_rc(m, a, b));
	unit_changes_free(&ch);
}

static void counter_incr(struct writer *w, int c)
{
	char path[32], buf[32];
	int tries;

	snprintf(path, sizeof(path), "/shared/c%d", c);
	for (tries = 0;; tries++) {
		struct mxs_txn *tx = mxs_txn_new(st);
		struct mxs_changes ch = { 0 };
		struct mxs_buf b = { 0 };
		unsigned long v;
		int rc, n;

		CHECK(w, tx != NULL);
		if (!tx)
			return;
		rc = mxs_store_read(st, tx, &dom0, path, &b);
		CHECK(w, rc == 0);
		mxs_buf_add(&b, "", 1);
		v = strtoul(b.p, NULL, 10);
		mxs_buf_free(&b);
		n = snprintf(buf, sizeof(buf), "%lu", v + 1);
		CHECK(w, mxs_store_write(st, tx, &dom0, path, buf, (size_t)n,
					 &ch) == 0);
		rc = mxs_txn_commit(tx, &ch);
		mxs_txn_free(tx);
		unit_changes_free(&ch);
		mxs_rcu_quiescent();
		if (rc == 0) {
			w->incr[c]++;
			w->commits++;
			return;
		}
		CHECK(w, rc == -EAGAIN);
		if (rc != -EAGAIN)
			return;
		w->conflicts++;
	}
}

static void *writer(void *arg)
{
	struct writer *w = arg;
	struct mxs_perm p;
	unsigned long i;

	rcu_register_thread();
	for (i = 0; i < iters && !w->failed; i++) {
		int a = rand_r(&w->seed) % NA, b = rand_r(&w->seed) % (NB + 1) - 1;
		int op = rand_r(&w->seed) % 20;
		struct mxs_changes ch = { 0 };
		char path[64];

		w->ops++;
		if (op < 8) {
			do_write(w, NULL, a, b);
			model_write(&w->m, a, b, w->seq);
		} else if (op < 11) {
			do_rm(w, NULL, &w->m, a, b);
			model_rm(&w->m, a, b);
		} else if (op < 13) {
			/* Owner 0 or OWNER_BASE + id, default read. */
			bool exists = w->m.exists[a][SLOT(b)];
			uint32_t owner = rand_r(&w->seed) % 2
						 ? OWNER_BASE + (uint32_t)w->id
						 : 0;

			p.domid = owner;
			p.mode = owner ? MXS_PERM_READ : MXS_PERM_NONE;
			node_path(path, sizeof(path), w->id, a, b);
			CHECK(w, mxs_store_set_perms(st, NULL, &dom0, path, &p,
						     1, &ch) ==
					 (exists ? 0 : -ENOENT));
			if (exists)
				w->m.owner[a][SLOT(b)] = owner;
			unit_changes_free(&ch);
		} else if (op < 18) {
			/* A transaction on the writer's own subtree: nobody
			 * else touches it, so the commit must succeed. */
			struct mxs_txn *tx = mxs_txn_new(st);
			struct model next = w->m;
			int k, n = 1 + rand_r(&w->seed) % 4;

			CHECK(w, tx != NULL);
			if (!tx)
				break;
			for (k = 0; k < n; k++) {
				a = rand_r(&w->seed) % NA;
				b = rand_r(&w->seed) % (NB + 1) - 1;
				if (rand_r(&w->seed) % 4 == 0) {
					do_rm(w, tx, &next, a, b);
					model_rm(&next, a, b);
				} else {
					do_write(w, tx, a, b);
					model_write(&next, a, b, w->seq);
				}
			}
			if (rand_r(&w->seed) % 8 == 0) {
				mxs_txn_free(tx); /* abort */
			} else {
				int rc = mxs_txn_commit(tx, &ch);

				CHECK(w, rc == 0);
				if (rc == 0) {
					w->m = next;
					w->commits++;
				}
				mxs_txn_free(tx);
				unit_changes_free(&ch);
			}
		} else {
			counter_incr(w, rand_r(&w->seed) % NCOUNTERS);
		}
		mxs_rcu_quiescent();
	}
	rcu_unregister_thread();
	return NULL;
}

/* ---------------------------------------------------------------- */

static void test_rcu_stress(void **state)
{
	pthread_t rt[NREADERS], wt[NWRITERS];
	struct reader_stats rs[NREADERS];
	struct writer *ws = calloc(NWRITERS, sizeof(*ws));
	uint64_t expect = 3 + 1 + NWRITERS + 1 + NCOUNTERS;
	unsigned long total[NCOUNTERS] = { 0 };
	const char *env = getenv("MXS_STRESS_ITERS");
	char path[64];
	int i, a, b, c;

	(void)state;
	assert_non_null(ws);
	if (env && atol(env) > 0)
		iters = (unsigned long)atol(env);
	st = mxs_store_new();
	assert_non_null(st);
	for (i = 0; i < NWRITERS; i++) {
		snprintf(path, sizeof(path), "/s/w%d", i);
		unit_write(st, path, "");
	}
	for (c = 0; c < NCOUNTERS; c++) {
		snprintf(path, sizeof(path), "/shared/c%d", c);
		unit_write(st, path, "0");
	}

	memset(rs, 0, sizeof(rs));
	for (i = 0; i < NREADERS; i++)
		assert_int_equal(pthread_create(&rt[i], NULL, reader, &rs[i]),
				 0);
	for (i = 0; i < NWRITERS; i++) {
		ws[i].id = i;
		ws[i].seed = 1234u + (unsigned int)i;
		assert_int_equal(pthread_create(&wt[i], NULL, writer, &ws[i]),
				 0);
	}
	/* Offline while waiting: never hold up a grace period. */
	mxs_rcu_offline();
	for (i = 0; i < NWRITERS; i++)
		pthread_join(wt[i], NULL);
	__atomic_store_n(&stop_readers, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NREADERS; i++)
		pthread_join(rt[i], NULL);
	mxs_rcu_online();

	for (i = 0; i < NREADERS; i++) {
		print_message("reader %d: %lu reads (%lu found), %lu lists, "
			      "%lu get_perms\n",
			      i, rs[i].reads, rs[i].found, rs[i].lists,
			      rs[i].perms);
		assert_int_equal(rs[i].bad, 0);
		assert_true(rs[i].reads > 0);
	}
	for (i = 0; i < NWRITERS; i++) {
		struct writer *w = &ws[i];
		unsigned int owned = 0;

		print_message("writer %d: %lu ops, %lu commits, %lu conflicts\n",
			      i, w->ops, w->commits, w->conflicts);
		assert_int_equal(w->failed, 0);
		assert_int_equal(w->ops, iters);
		for (c = 0; c < NCOUNTERS; c++)
			total[c] += w->incr[c];
		/* The store holds exactly the model, values included. */
		for (a = 0; a < NA; a++)
			for (b = -1; b < NB; b++) {
				char val[256];
				int rc;
				char *v;

				node_path(path, sizeof(path), i, a, b);
				v = unit_read(st, NULL, &dom0, path, &rc);
				if (!w->m.exists[a][SLOT(b)]) {
					assert_int_equal(rc, -ENOENT);
					continue;
				}
				expect++;
				owned += w->m.owner[a][SLOT(b)] != 0;
				assert_int_equal(rc, 0);
				if (w->m.seq[a][SLOT(b)] == 0) {
					assert_string_equal(v, "");
				} else {
					size_t l = make_value(
						path, w->m.seq[a][SLOT(b)],
						val);

					val[l] = '\0';
					assert_string_equal(v, val);
				}
				free(v);
			}
		assert_int_equal(mxs_store_domain_nodes(
					 st, OWNER_BASE + (uint32_t)i),
				 owned);
	}
	for (c = 0; c < NCOUNTERS; c++) {
		char want[32];

		snprintf(path, sizeof(path), "/shared/c%d", c);
		snprintf(want, sizeof(want), "%lu", total[c]);
		assert_value(st, NULL, &dom0, path, want);
	}
	assert_int_equal(unit_nodes(st), expect);
	unit_check(st);
	mxs_store_free(st);
	free(ws);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rcu_stress),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
