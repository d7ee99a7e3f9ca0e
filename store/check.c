/* SPDX-License-Identifier: MIT */
/*
 * Whole-tree walks for CONTROL: the consistency check and the dump.
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

int mxs_store_check(struct mxs_store *st, struct mxs_buf *report)
{
	struct mxs_nodevec stack = { 0 };
	uint64_t count = 0;
	struct mxs_node *n, *c;
	char line[256];
	int problems = 0, len;
	uint32_t *owned = calloc(MXS_DOMID_FIRST_RESERVED + 1, sizeof(*owned));
	size_t i;

	if (!owned)
		return -ENOMEM;
	pthread_mutex_lock(&st->wlock);
	if (mxs_nodevec_push(&stack, st->root))
		goto nomem;
	while (stack.n) {
		n = stack.v[--stack.n];
		count++;
		owned[mxs_owner_slot(mxs_nodeval_owner(n->val))]++;
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
			if (c->parent != n ||
			    mxs_path_parent_len(c->path, c->pathlen) !=
				    n->pathlen ||
			    memcmp(c->path, n->path, n->pathlen) != 0) {
				len = snprintf(line, sizeof(line),
					       "node %.200s misplaced\n",
					       c->path);
				mxs_buf_add(report, line, (size_t)len);
				problems++;
			}
			/* Removed nodes wait for older snapshots to end. */
			if (c->died == MXS_SEQ_ALIVE &&
			    mxs_nodevec_push(&stack, c))
				goto nomem;
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
	return problems ? -EIO : 0;
nomem:
	pthread_mutex_unlock(&st->wlock);
	free(stack.v);
	free(owned);
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
		rc = mxs_perms_format(&perms, v->perms, v->nperms);
		for (i = 0; !rc && i < perms.len; i++)
			if (!perms.p[i])
				perms.p[i] = i + 1 == perms.len ? '\0' : ',';
		if (rc)
			break;
		rc = mxs_buf_add(out, n->path, n->pathlen);
		rc = rc ?: mxs_buf_add(out, " = \"", 4);
		rc = rc ?: mxs_buf_add(out, v->value, v->vlen);
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

