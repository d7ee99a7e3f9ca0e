/* SPDX-License-Identifier: MIT */
/* DIRECTORY_PART: generation string, byte offsets, chunks (store.h). */
#include "unit.h"

#include "store/node.h"

struct part {
	char gen[32];
	/* The children after the generation, as "a,b," with a trailing
	 * "$" when the reply ended with the extra empty string. */
	char list[256];
	bool complete;
};

static int dpart(struct mxs_store *st, struct mxs_txn *tx,
		 const struct mxs_caller *c, const char *path, size_t off,
		 size_t max, struct part *p)
{
	struct mxs_buf b = { 0 };
	size_t glen, i, o = 0;
	int rc = mxs_store_directory_part(st, tx, c, path, off, max, &b);

	memset(p, 0, sizeof(*p));
	if (rc) {
		mxs_buf_free(&b);
		return rc;
	}
	/* "<generation>\0" first: decimal digits. */
	glen = strnlen(b.p, b.len);
	assert_true(glen > 0 && glen < b.len && glen < sizeof(p->gen));
	for (i = 0; i < glen; i++)
		assert_true(b.p[i] >= '0' && b.p[i] <= '9');
	memcpy(p->gen, b.p, glen);
	/* The reply never exceeds max (when max leaves room at all). */
	if (max >= glen + 2)
		assert_true(b.len <= max);
	for (i = glen + 1; i < b.len;) {
		size_t l = strnlen(b.p + i, b.len - i);

		assert_true(i + l < b.len); /* every name NUL-terminated */
		if (l == 0) {
			/* the extra empty string ends the reply */
			assert_int_equal(i + 1, b.len);
			p->complete = true;
			p->list[o++] = '$';
			break;
		}
		assert_true(o + l + 1 < sizeof(p->list));
		memcpy(p->list + o, b.p + i, l);
		o += l;
		p->list[o++] = ',';
		i += l + 1;
	}
	p->list[o] = '\0';
	mxs_buf_free(&b);
	return 0;
}

static void test_whole_and_offsets(void **state)
{
	struct mxs_store *st = *state;
	struct part p, q;

	unit_write(st, "/dp/aa", "");
	unit_write(st, "/dp/bbb", "");
	unit_write(st, "/dp/c", "");
	/* Concatenated list: "aa\0bbb\0c\0", 9 bytes. */
	assert_int_equal(dpart(st, NULL, &dom0, "/dp", 0, 4096, &p), 0);
	assert_string_equal(p.list, "aa,bbb,c,$");
	assert_true(p.complete);

	/* Byte offsets into the concatenated list. */
	assert_int_equal(dpart(st, NULL, &dom0, "/dp", 3, 4096, &q), 0);
	assert_string_equal(q.list, "bbb,c,$");
	assert_string_equal(q.gen, p.gen);
	assert_int_equal(dpart(st, NULL, &dom0, "/dp", 7, 4096, &q), 0);
	assert_string_equal(q.list, "c,$");
	assert_int_equal(dpart(st, NULL, &dom0, "/dp", 1, 4096, &q), 0);
	assert_string_equal(q.list, "a,bbb,c,$");
	/* At or past the end: generation and the empty string. */
	assert_int_equal(dpart(st, NULL, &dom0, "/dp", 9, 4096, &q), 0);
	assert_string_equal(q.list, "$");
	assert_string_equal(q.gen, p.gen);
	assert_int_equal(dpart(st, NULL, &dom0, "/dp", 1000, 4096, &q), 0);
	assert_string_equal(q.list, "$");

	/* No children at all. */
	assert_int_equal(dpart(st, NULL, &dom0, "/dp/aa", 0, 4096, &q), 0);
	assert_string_equal(q.list, "$");
	/* Missing node. */
	assert_int_equal(dpart(st, NULL, &dom0, "/dp/none", 0, 4096, &q),
			 -ENOENT);
}

static void test_chunks(void **state)
{
	struct mxs_store *st = *state;
	struct part p;
	char all[256] = "", path[32];
	size_t off = 0, glen, max;
	int i, rounds = 0;

	for (i = 0; i < 12; i++) {
		snprintf(path, sizeof(path), "/ck/name%d", i * 37);
		unit_write(st, path, "");
	}
	assert_int_equal(dpart(st, NULL, &dom0, "/ck", 0, 4096, &p), 0);
	glen = strlen(p.gen) + 1;
	/* Room for the generation, the final "" and ~2 names. */
	max = glen + 1 + 16;
	for (;;) {
		size_t got = 0;
		const char *s;

		assert_int_equal(dpart(st, NULL, &dom0, "/ck", off, max, &p), 0);
		rounds++;
		assert_true(rounds < 20);
		/* Whole names only: each one is a child we created. */
		for (s = p.list; *s && *s != '$';) {
			const char *e = strchr(s, ',');

			assert_non_null(e);
			assert_true(strncmp(s, "name", 4) == 0);
			got += (size_t)(e - s) + 1;
			s = e + 1;
		}
		strncat(all, p.list, sizeof(all) - strlen(all) - 1);
		if (p.complete)
			break;
		assert_true(got > 0);
		off += got;
	}
	assert_true(rounds > 3);
	assert_string_equal(all, "name0,name37,name74,name111,name148,"
				 "name185,name222,name259,name296,name333,"
				 "name370,name407,$");
}

static void test_generation(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct part p0, p1, p2, p3;

	unit_write(st, "/g/a", "");
	assert_int_equal(dpart(st, NULL, &dom0, "/g", 0, 4096, &p0), 0);
	/* Unchanged: same generation. */
	assert_int_equal(dpart(st, NULL, &dom0, "/g", 0, 4096, &p1), 0);
	assert_string_equal(p0.gen, p1.gen);
	/* A child added: new generation. */
	unit_write(st, "/g/b", "");
	assert_int_equal(dpart(st, NULL, &dom0, "/g", 0, 4096, &p1), 0);
	assert_string_not_equal(p0.gen, p1.gen);
	assert_string_equal(p1.list, "a,b,$");
	/* A child removed: new generation again. */
	assert_int_equal(mxs_store_rm(st, NULL, &dom0, "/g/a", &ch), 0);
	unit_changes_free(&ch);
	assert_int_equal(dpart(st, NULL, &dom0, "/g", 0, 4096, &p2), 0);
	assert_string_not_equal(p2.gen, p1.gen);
	assert_string_not_equal(p2.gen, p0.gen);
	assert_string_equal(p2.list, "b,$");
	/* A grandchild created under a new child changes it too. */
	unit_write(st, "/g/c/d", "");
	assert_int_equal(dpart(st, NULL, &dom0, "/g", 0, 4096, &p3), 0);
	assert_string_not_equal(p3.gen, p2.gen);
	assert_string_equal(p3.list, "b,c,$");
}

static void test_in_txn(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_changes ch = { 0 };
	struct mxs_txn *tx = mxs_txn_new(st);
	struct part p;

	unit_write(st, "/tp/a", "");
	assert_int_equal(mxs_store_write(st, tx, &dom0, "/tp/b", "", 0, &ch),
			 0);
	assert_int_equal(dpart(st, tx, &dom0, "/tp", 0, 4096, &p), 0);
	assert_string_equal(p.list, "a,b,$");
	assert_int_equal(dpart(st, NULL, &dom0, "/tp", 0, 4096, &p), 0);
	assert_string_equal(p.list, "a,$");
	mxs_txn_free(tx);
	unit_changes_free(&ch);
}

static struct mxs_nodeval *val_of(struct mxs_store *st, const char *path)
{
	struct mxs_node *n = mxs_node_lookup(st, path, strlen(path));

	assert_non_null(n);
	return n->val;
}

/*
 * The child-list cache is a slot only directories' versions carry
 * (mxs_nodeval_kidslot): a leaf has none; an ancestor created with its
 * child has one, which DIRECTORY_PART fills, and a write of its value
 * keeps one; a version without one (a leaf given a value and its first
 * child in one commit) still lists its children.
 */
static void test_cache_slot(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_nodeval *v;
	struct part p;

	unit_write(st, "/k/a", "");
	assert_null(mxs_nodeval_kidslot(val_of(st, "/k/a")));
	v = val_of(st, "/k");
	assert_non_null(mxs_nodeval_kidslot(v));
	assert_null(*mxs_nodeval_kidslot(v));
	assert_int_equal(dpart(st, NULL, &dom0, "/k", 0, 4096, &p), 0);
	assert_string_equal(p.list, "a,$");
	assert_non_null(*mxs_nodeval_kidslot(v)); /* cached */
	assert_int_equal(dpart(st, NULL, &dom0, "/k", 0, 4096, &p), 0);
	assert_string_equal(p.list, "a,$");
	unit_write(st, "/k", "v");
	assert_non_null(mxs_nodeval_kidslot(val_of(st, "/k")));
	unit_tx_write2(st, "/k/a", "w", "/k/a/x", "");
	assert_null(mxs_nodeval_kidslot(val_of(st, "/k/a")));
	assert_int_equal(dpart(st, NULL, &dom0, "/k/a", 0, 4096, &p), 0);
	assert_string_equal(p.list, "x,$");
}

/*
 * Paging through 5,000 children (a big host's /local/domain) in 1 KiB
 * replies returns exactly DIRECTORY's list, one generation throughout;
 * a change between two pages changes the generation, and the pages read
 * after it come from the new list.
 */
static void test_paging_5000(void **state)
{
	struct mxs_store *st = *state;
	struct mxs_buf all = { 0 }, got = { 0 }, b = { 0 };
	char path[64], gen0[32] = "";
	size_t off = 0, pages = 0;
	bool complete = false;
	int i;

	for (i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/local/domain/%d", i + 1);
		unit_write(st, path, "");
	}
	assert_int_equal(mxs_store_directory(st, NULL, &dom0, "/local/domain",
					     &all), 0);
	while (!complete) {
		size_t glen;

		mxs_buf_reset(&b);
		assert_int_equal(mxs_store_directory_part(st, NULL, &dom0,
							  "/local/domain", off,
							  1024, &b), 0);
		assert_true(b.len <= 1024);
		glen = strlen(b.p) + 1;
		if (pages == 0)
			strcpy(gen0, b.p);
		assert_string_equal(b.p, gen0);
		complete = b.len >= glen + 1 && b.p[b.len - 1] == '\0' &&
			   b.p[b.len - 2] == '\0';
		/* The names, without the final extra "" if complete. */
		assert_int_equal(mxs_buf_add(&got, b.p + glen,
					     b.len - glen - complete), 0);
		off += b.len - glen - complete;
		pages++;
		assert_true(pages < 1000);
	}
	assert_int_equal(got.len, all.len);
	assert_memory_equal(got.p, all.p, all.len);
	/* 5,000 names of 2 to 5 bytes: about 28 KiB in 1 KiB pages. */
	assert_true(pages >= all.len / 1024);
	assert_true(pages <= all.len / 900 + 1);

	/* A change between pages: new generation, new list. */
	mxs_buf_reset(&b);
	assert_int_equal(mxs_store_directory_part(st, NULL, &dom0,
						  "/local/domain", 0, 1024, &b),
			 0);
	unit_write(st, "/local/domain/9999", "");
	mxs_buf_reset(&b);
	assert_int_equal(mxs_store_directory_part(st, NULL, &dom0,
						  "/local/domain", all.len,
						  1024, &b), 0);
	assert_string_not_equal(b.p, gen0);
	assert_string_equal(b.p + strlen(b.p) + 1, "9999");
	mxs_buf_free(&all);
	mxs_buf_free(&got);
	mxs_buf_free(&b);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, unit_store_setup, \
					     unit_store_teardown)
	const struct CMUnitTest tests[] = {
		T(test_whole_and_offsets),
		T(test_chunks),
		T(test_generation),
		T(test_in_txn),
		T(test_paging_5000),
		T(test_cache_slot),
	};

	return cmocka_run_group_tests(tests, unit_rcu_register,
				      unit_rcu_unregister);
}
