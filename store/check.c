/* SPDX-License-Identifier: MIT */
/*
 * Whole-tree walks for CONTROL: the consistency check and the dump.
 *
 * mxs_store_check verifies the invariants the rest of the store relies
 * on: every live node is indexed and sits in its parent's child list;
 * nothing is alive under a removed node; versions and nodes carry their
 * commit sequences and generations in order; the node count, each
 * domain's count of owned nodes and its bytes of node records
 * (store/account.c) equal a recount; the owner index holds exactly the
 * nodes each domain owns.
 *
 * Contract.  mxs_store_check takes the writer lock, so it sees the live
 * tree between two commits; mxs_store_dump takes no lock and reads the
 * tree at one snapshot (STORE_SEQ_A1, STORE_VAL_A1, STORE_KIDS_A1), so it
 * shows all of a concurrent commit or none of it.  Both are iterative:
 * no recursion on a depth a client controls (XSA-418).
 */
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/node.h"
#include "store/path.h"
#include "store/txn.h"

static int report_line(struct mxs_buf *report, const char *what,
		       const struct mxs_node *n)
{
	char line[256];
	int len = snprintf(line, sizeof(line), "node %.200s: %s\n", n->path,
			   what);

	mxs_buf_add(report, line, (size_t)len);
	return 1;
}

/*
 * The ordering a live node's stamps must keep: its newest two versions
 * (the only ones sure to be allocated) in commit order with generations
 * that never go back, none newer than the store's counters, the node
 * born no later than its newest version and than any child.  Caller
 * holds the writer lock.  Returns the number of problems reported.
 */
static int check_stamps(struct mxs_store *st, const struct mxs_node *n)
{
	const struct mxs_nodeval *v = n->val, *o = v->older;
	const struct mxs_node *p;
	/* Relaxed: only the writer moves either, and we hold its lock. */
	uint64_t seq = __atomic_load_n(&st->seq, __ATOMIC_RELAXED);
	uint64_t gen = __atomic_load_n(&st->gen, __ATOMIC_RELAXED);
	int bad = 0;

	bad |= v->seq > seq || seq > gen || n->born > v->seq;
	/* A lean version never stamped has perms_gen MXS_GEN_NONE: caught
	 * here with the full ones' stored generations. */
	bad |= mxs_nodeval_meta_gen(v) > v->seq ||
	       mxs_nodeval_perms_gen(v) > v->seq;
	if (o)
		bad |= o->seq >= v->seq || mxs_nodeval_perms_gen(o) > o->seq ||
		       mxs_nodeval_meta_gen(o) > mxs_nodeval_meta_gen(v) ||
		       mxs_nodeval_perms_gen(o) > mxs_nodeval_perms_gen(v);
	if ((p = mxs_node_parent(st, n)))
		bad |= p->born > n->born;
	return bad;
}

int mxs_store_check(struct mxs_store *st, struct mxs_buf *report)
{
	struct mxs_nodevec stack = { 0 };
	uint64_t count = 0;
	struct mxs_node *n, *c;
	char line[256];
	int problems = 0, len;
	uint32_t *owned = calloc(MXS_DOMID_FIRST_RESERVED + 1, sizeof(*owned));
	uint64_t *mem = calloc(MXS_DOMID_FIRST_RESERVED + 1, sizeof(*mem));
	size_t i;

	if (!owned || !mem) {
		free(owned);
		free(mem);
		return -ENOMEM;
	}
	pthread_mutex_lock(&st->wlock);
	if (mxs_nodevec_push(&stack, st->root))
		goto nomem;
	while (stack.n) {
		n = stack.v[--stack.n];
		count++;
		owned[mxs_owner_slot(mxs_nodeval_owner(n->val))]++;
		mem[mxs_owner_slot(mxs_nodeval_owner(n->val))] +=
			mxs_account_node_bytes(n->val, n->pathlen);
		if (check_stamps(st, n))
			problems += report_line(report, "sequence or generation "
					       "out of order", n);
		if (mxs_node_lookup(st, n->path, n->pathlen) != n) {
			len = snprintf(line, sizeof(line),
				       "node %.200s not in index\n", n->path);
			mxs_buf_add(report, line, (size_t)len);
			problems++;
		}
		for (c = n->kids_head; c; c = c->next_sib) {
			if (!c->next_sib && n->kids_head->prev_sib != c) {
				len = snprintf(line, sizeof(line),
					       "node %.200s: last child "
					       "lost\n", n->path);
				mxs_buf_add(report, line, (size_t)len);
				problems++;
			}
			if (mxs_node_parent(st, c) != n ||
			    mxs_path_parent_len(c->path, c->pathlen) !=
				    n->pathlen ||
			    memcmp(c->path, n->path, n->pathlen) != 0) {
				len = snprintf(line, sizeof(line),
					       "node %.200s misplaced\n",
					       c->path);
				mxs_buf_add(report, line, (size_t)len);
				problems++;
			}
			/* Removed nodes wait for older snapshots to end;
			 * their children went with them. */
			if (c->died == MXS_SEQ_ALIVE) {
				mem[mxs_owner_slot(mxs_nodeval_owner(n->val))] +=
					mxs_account_name_bytes(c->path,
							       c->pathlen);
				if (mxs_nodevec_push(&stack, c))
					goto nomem;
				continue;
			}
			if (c->died > __atomic_load_n(&st->seq,
						      __ATOMIC_RELAXED))
				problems += report_line(report, "removed by a "
						       "future commit", c);
			for (struct mxs_node *k = c->kids_head; k;
			     k = k->next_sib)
				if (k->died == MXS_SEQ_ALIVE)
					problems += report_line(
						report, "alive under a removed "
						"parent", k);
		}
	}
	if (count != st->nodes) {
		len = snprintf(line, sizeof(line),
			       "node count %" PRIu64 " != walked %" PRIu64 "\n",
			       st->nodes, count);
		mxs_buf_add(report, line, (size_t)len);
		problems++;
	}
	for (i = 0; i <= MXS_DOMID_FIRST_RESERVED; i++)
		if (owned[i] != st->owned[i]) {
			len = snprintf(line, sizeof(line),
				       "domain %zu owns %u nodes, counted %u\n",
				       i, owned[i], st->owned[i]);
			mxs_buf_add(report, line, (size_t)len);
			problems++;
		}
	for (i = 0; i <= MXS_DOMID_FIRST_RESERVED; i++)
		if (mem[i] != st->mem[i]) {
			len = snprintf(line, sizeof(line),
				       "domain %zu holds %" PRIu64 " bytes, "
				       "counted %" PRIu64 "\n",
				       i, mem[i], st->mem[i]);
			mxs_buf_add(report, line, (size_t)len);
			problems++;
		}
	/* The owner index holds exactly the nodes each slot owns. */
	for (i = 0; i <= MXS_DOMID_FIRST_RESERVED; i++) {
		uint32_t listed = 0;

		for (n = st->own_head[i]; n; n = n->own_next) {
			listed++;
			if (mxs_owner_slot(mxs_nodeval_owner(n->val)) == i &&
			    (!n->own_next || n->own_next->own_prev == n))
				continue;
			len = snprintf(line, sizeof(line),
				       "node %.200s in owner list %zu\n",
				       n->path, i);
			mxs_buf_add(report, line, (size_t)len);
			problems++;
		}
		if (listed != owned[i]) {
			len = snprintf(line, sizeof(line),
				       "owner list %zu has %u nodes, counted "
				       "%u\n", i, listed, owned[i]);
			mxs_buf_add(report, line, (size_t)len);
			problems++;
		}
	}
	pthread_mutex_unlock(&st->wlock);
	free(stack.v);
	free(owned);
	free(mem);
	return problems ? -EIO : 0;
nomem:
	pthread_mutex_unlock(&st->wlock);
	free(stack.v);
	free(owned);
	free(mem);
	return -ENOMEM;
}

int mxs_store_dump(struct mxs_store *st, struct mxs_buf *out)
{
	struct mxs_nodevec stack = { 0 };
	struct mxs_buf perms = { 0 };
	uint64_t snap = mxs_store_snap(st);
	int rc = mxs_nodevec_push(&stack, st->root);

	while (!rc && stack.n) {
		struct mxs_node *n = stack.v[--stack.n], *c;
		const struct mxs_nodeval *v = mxs_node_val_at(n, snap);
		size_t i, mark = stack.n;

		mxs_buf_reset(&perms);
		rc = mxs_perms_format(&perms, mxs_nodeval_perms(v), v->nperms);
		for (i = 0; !rc && i < perms.len; i++)
			if (!perms.p[i])
				perms.p[i] = i + 1 == perms.len ? '\0' : ',';
		if (rc)
			break;
		rc = mxs_buf_add(out, n->path, n->pathlen);
		rc = rc ?: mxs_buf_add(out, " = \"", 4);
		rc = rc ?: mxs_buf_add(out, mxs_nodeval_value(v), v->vlen);
		rc = rc ?: mxs_buf_add(out, "\" (", 3);
		rc = rc ?: mxs_buf_add(out, perms.p, perms.len ? perms.len - 1
								  : 0);
		rc = rc ?: mxs_buf_add(out, ")\n", 2);
		/* Push children reversed so they pop in creation order. */
		for (c = mxs_node_kids(n); c && !rc; c = mxs_node_next(c))
			if (mxs_node_visible(c, snap))
				rc = mxs_nodevec_push(&stack, c);
		for (i = 0; !rc && i < (stack.n - mark) / 2; i++) {
			struct mxs_node *t = stack.v[mark + i];

			stack.v[mark + i] = stack.v[stack.n - 1 - i];
			stack.v[stack.n - 1 - i] = t;
		}
	}
	free(stack.v);
	mxs_buf_free(&perms);
	return rc;
}

