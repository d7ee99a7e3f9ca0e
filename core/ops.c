/* SPDX-License-Identifier: MIT */
/*
 * Request dispatch: the handler table is generated from MXS_OPS
 * (include/mxs/protocol.h).  Each handler parses its arguments, answers
 * with a reply payload in w->reply (return 0) or a negative errno that is
 * sent as the protocol's error string.  Runs on the connection's owner
 * worker, online for RCU.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "core/domain.h"
#include "mxs/protocol-names.h"
#include "store/path.h"

struct req {
	struct mxs_conn *c;
	const struct mxs_caller *caller; /* c's, for this request */
	struct mxs_daemon *d;
	const struct mxs_msg_hdr *hdr;
	char *p;      /* payload, NUL at p[len] */
	size_t len;
	struct mxs_txn *tx;
	struct mxs_buf *reply;
	uint32_t reply_type;
};

typedef int (*op_fn)(struct req *r);

static const unsigned int op_flags[MXS_OP_COUNT] = {
#define X(NAME, name, num, args, flags, doc) [num] = (flags),
	MXS_OPS(X)
#undef X
};

/* ------------------------------------------------------------------ */
/* Argument parsing, with the C daemon's rules.                        */

/* Number of NUL-terminated strings in the payload (trailing bytes after
 * the last NUL do not count). */
static unsigned int count_strings(const struct req *r)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < r->len; i++)
		n += r->p[i] == '\0';
	return n;
}

/* The payload is exactly one string with its NUL, or NULL. */
static const char *onearg(const struct req *r)
{
	if (!r->len || strlen(r->p) + 1 != r->len)
		return NULL;
	return r->p;
}

/* Splits into up to max strings; returns how many there are. */
static unsigned int get_strings(const struct req *r, char **v,
				unsigned int max)
{
	unsigned int n = 0;
	size_t off = 0;

	for (n = 0; n < max; n++)
		v[n] = NULL; /* absent arguments read as NULL */
	n = 0;
	while (off < r->len) {
		size_t l = strnlen(r->p + off, r->len - off);

		if (off + l >= r->len)
			break; /* no NUL: not a string */
		if (n < max)
			v[n] = r->p + off;
		n++;
		off += l + 1;
	}
	return n;
}

/* The caller's domain's value of quota id. */
static unsigned int quota(const struct req *r, enum mxs_quota_id id)
{
	return mxs_quota_for(&r->d->cfg.quota, r->caller->domid, id);
}

/* Canonical, valid node name for the caller, in buf.  0 or -EINVAL. */
static int node_name(const struct req *r, const char *name, char *buf,
		     size_t sz, bool allow_special)
{
	/* The C daemon applies the 2048-byte limit below a domain's home
	 * (or to the whole name elsewhere) to every caller, dom0 too. */
	size_t rel_max = MXS_REL_PATH_MAX;
	unsigned int pmax = quota(r, MXS_QUOTA_PATH_MAX);

	/* The path-max quota (-M) shortens it for unprivileged callers. */
	if (!r->caller->privileged && pmax && pmax < rel_max)
		rel_max = pmax;
	if (!name)
		return -EINVAL;
	if (mxs_path_canonical(name, r->caller->domid, buf, sz))
		return -EINVAL;
	if (!mxs_path_valid(buf, allow_special, rel_max))
		return -EINVAL;
	return 0;
}

#define PATH_BUF (MXS_PAYLOAD_MAX + 64)


/* ------------------------------------------------------------------ */
/* Handlers                                                             */

static int reply_ok(struct req *r)
{
	return mxs_buf_add(r->reply, "OK", 3);
}

typedef int (*store_query_fn)(struct mxs_store *, struct mxs_txn *,
			      const struct mxs_caller *, const char *,
			      struct mxs_buf *);

/* READ, GET_PERMS, DIRECTORY: one path in, the store's answer out. */
static int path_query(struct req *r, store_query_fn fn)
{
	char path[PATH_BUF];
	int rc = node_name(r, onearg(r), path, sizeof(path), false);

	return rc ? rc : fn(r->d->store, r->tx, r->caller, path,
			    r->reply);
}

static int mxs_op_read(struct req *r)
{
	return path_query(r, mxs_store_read);
}

static int mxs_op_get_perms(struct req *r)
{
	return path_query(r, mxs_store_get_perms);
}

static int mxs_op_directory(struct req *r)
{
	return path_query(r, mxs_store_directory);
}

static int mxs_op_directory_part(struct req *r)
{
	char path[PATH_BUF], *v[2];
	int rc;

	if (count_strings(r) != 2 || get_strings(r, v, 2) != 2)
		return -EINVAL;
	rc = node_name(r, v[0], path, sizeof(path), false);
	if (rc)
		return rc;
	return mxs_store_directory_part(r->d->store, r->tx, r->caller,
					path, (unsigned int)atoi(v[1]),
					MXS_PAYLOAD_MAX, r->reply);
}

/*
 * A mutation outside a transaction changes the live store: it runs between
 * commit_begin() and mutated(), which fires its watches and ends the
 * commit.  Inside a transaction the change stays private until the
 * commit; nothing is locked and nothing fires.
 */
static void mutation_begin(struct req *r)
{
	if (!r->tx)
		mxs_commit_begin(r->d);
}

static int mutated(struct req *r, int rc)
{
	struct mxs_worker *w = r->c->w;

	if (rc)
		mxs_changes_clear(&w->changes);
	else if (!r->tx)
		mxs_fire_changes(r->d, &w->changes);
	if (!r->tx)
		mxs_commit_end(r->d);
	if (!r->tx && !r->caller->privileged)
		mxs_domain_memory_note(r->c, rc);
	return rc ? rc : reply_ok(r);
}

#define NODE_RECORD_MIN (24 + 8)

static int mxs_op_write(struct req *r)
{
	char path[PATH_BUF], *v[1];
	size_t off;
	int rc;

	if (get_strings(r, v, 1) < 1)
		return -EINVAL;
	rc = node_name(r, v[0], path, sizeof(path), false);
	if (rc)
		return rc;
	off = strlen(v[0]) + 1;
	/* node-size: the C daemon's record of the node (a 24-byte header,
	 * 8 bytes per permission entry: one at least, the value) must stay
	 * below the quota (docs/compat.md). */
	if (mxs_quota_over(r->caller, quota(r, MXS_QUOTA_NODE_SIZE),
			   NODE_RECORD_MIN + (r->len - off) + 1))
		return -ENOSPC;
	mutation_begin(r);
	rc = mxs_store_write(r->d->store, r->tx, r->caller, path,
			     r->p + off, r->len - off, &r->c->w->changes);
	return mutated(r, rc);
}

typedef int (*store_path_fn)(struct mxs_store *, struct mxs_txn *,
			     const struct mxs_caller *, const char *,
			     struct mxs_changes *);

/* MKDIR, RM: one path in, a mutation. */
static int path_mutation(struct req *r, store_path_fn fn)
{
	char path[PATH_BUF];
	int rc = node_name(r, onearg(r), path, sizeof(path), false);

	if (rc)
		return rc;
	mutation_begin(r);
	rc = fn(r->d->store, r->tx, r->caller, path, &r->c->w->changes);
	return mutated(r, rc);
}

static int mxs_op_mkdir(struct req *r)
{
	return path_mutation(r, mxs_store_mkdir);
}

static int mxs_op_rm(struct req *r)
{
	return path_mutation(r, mxs_store_rm);
}

static int mxs_op_set_perms(struct req *r)
{
	unsigned int n = count_strings(r);
	struct mxs_perm *perms;
	char path[PATH_BUF];
	int rc;

	if (n < 2)
		return -EINVAL;
	n--;
	if (mxs_quota_over(r->caller, quota(r, MXS_QUOTA_PERMS), n))
		return -ENOSPC;
	perms = malloc(n * sizeof(*perms));
	if (!perms)
		return -ENOMEM;
	rc = mxs_perms_parse(r->p + strlen(r->p) + 1, n, perms);
	if (!rc)
		rc = mxs_domains_note_perms(r->c->w, perms, n);
	if (rc)
		goto out;
	if (r->p[0] == '@') {
		rc = mxs_store_set_special_perms(r->d->store, r->caller,
						 r->p, perms, n);
		if (!rc)
			rc = reply_ok(r);
		goto out;
	}
	rc = node_name(r, r->p, path, sizeof(path), false);
	if (rc)
		goto out;
	mutation_begin(r);
	rc = mxs_store_set_perms(r->d->store, r->tx, r->caller, path,
				 perms, n, &r->c->w->changes);
	rc = mutated(r, rc);
out:
	free(perms);
	return rc;
}

static int mxs_op_watch(struct req *r)
{
	char path[PATH_BUF], *v[2];
	size_t rel_off = 0;
	int rc;

	if (get_strings(r, v, 2) != 2)
		return -EINVAL;
	if (v[0][0] == '@') {
		if (strlen(v[0]) > MXS_REL_PATH_MAX)
			return -EINVAL;
		strcpy(path, v[0]);
	} else {
		rc = node_name(r, v[0], path, sizeof(path), false);
		if (rc)
			return rc;
		if (v[0][0] != '/')
			rel_off = strlen(path) - strlen(v[0]) - 1;
	}
	/* As the C daemon: E2BIG once the domain has more watches than the
	 * quota (so quota + 1 may exist). */
	if (!r->caller->privileged &&
	    mxs_quota_over(r->caller, quota(r, MXS_QUOTA_WATCHES),
			   mxs_watches_owner_count(r->d->watches, &r->c->wo)))
		return -E2BIG;
	/* The memory quota counts path and token, as the C daemon. */
	if (!r->caller->privileged) {
		unsigned int hard = quota(r, MXS_QUOTA_MEMORY);

		if (hard && mxs_domain_memory(r->d, r->caller->domid) +
					strlen(path) + strlen(v[1]) >
				    hard) {
			mxs_domain_memory_note(r->c, -ENOMEM);
			return -ENOMEM;
		}
	}
	rc = mxs_watch_add(r->d->watches, &r->c->wo, path, v[1], rel_off);
	if (rc)
		return rc;
	if (!r->caller->privileged)
		mxs_domain_memory_note(r->c, 0);
	rc = reply_ok(r);
	if (rc)
		return rc;
	/* The ack, then one event at once: simplifies clients. */
	mxs_conn_queue(r->c, r->reply_type, r->hdr->req_id, r->hdr->tx_id,
		       r->reply->p, r->reply->len);
	mxs_buf_reset(r->reply);
	r->reply_type = UINT32_MAX; /* sent already */
	mxs_conn_queue_event(r->c, v[0], v[1]);
	return 0;
}

static int mxs_op_unwatch(struct req *r)
{
	char path[PATH_BUF], *v[2];
	int rc;

	if (get_strings(r, v, 2) != 2)
		return -EINVAL;
	if (v[0][0] == '@') {
		if (strlen(v[0]) >= sizeof(path))
			return -EINVAL;
		strcpy(path, v[0]);
	} else if (mxs_path_canonical(v[0], r->caller->domid, path,
				      sizeof(path))) {
		return -EINVAL;
	}
	rc = mxs_watch_remove(r->d->watches, &r->c->wo, path, v[1]);
	if (rc)
		return rc;
	/* Before the reply, as mxs_conn_reset_state: none can follow it. */
	mxs_worker_take_events(r->c->w);
	return reply_ok(r);
}

static struct mxs_conn_tx **find_tx(struct mxs_conn *c, uint32_t id)
{
	struct mxs_conn_tx **pp;

	for (pp = &c->txs; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id)
			return pp;
	return NULL;
}

static int mxs_op_transaction_start(struct req *r)
{
	struct mxs_conn *c = r->c;
	struct mxs_conn_tx *t;
	char id[16];

	/* No nesting (an unknown tx_id was already ENOENT). */
	if (r->tx)
		return -EBUSY;
	/* As the C daemon: ENOSPC once more than the quota are open. */
	if (mxs_quota_over(r->caller, quota(r, MXS_QUOTA_TRANSACTIONS),
			   c->ntxs))
		return -ENOSPC;
	t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->tx = mxs_txn_new(r->d->store);
	if (!t->tx) {
		free(t);
		return -ENOMEM;
	}
	/* Per-connection ids from 1, skipping 0 and ids in use. */
	do {
		t->id = c->next_txid++;
	} while (t->id == 0 || find_tx(c, t->id));
	t->over = false;
	t->next = c->txs;
	c->txs = t;
	__atomic_fetch_add(&c->ntxs, 1, __ATOMIC_RELAXED);
	/* Relaxed: a count the rate limit reads (conn.c). */
	__atomic_fetch_add(&r->d->wrl_ntransactions, 1, __ATOMIC_RELAXED);
	snprintf(id, sizeof(id), "%u", t->id);
	return mxs_buf_add_str(r->reply, id);
}

static int mxs_op_transaction_end(struct req *r)
{
	const char *arg = onearg(r);
	struct mxs_conn *c = r->c;
	struct mxs_conn_tx **pp, *t;
	int rc = 0;

	if (!arg || (strcmp(arg, "T") && strcmp(arg, "F")))
		return -EINVAL;
	if (!r->tx)
		return -ENOENT;
	pp = find_tx(c, r->hdr->tx_id);
	t = *pp;
	*pp = t->next;
	__atomic_fetch_sub(&c->ntxs, 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&r->d->wrl_ntransactions, 1, __ATOMIC_RELAXED);
	if (arg[0] == 'T' && t->over) {
		rc = -ENOSPC; /* it went past transaction-nodes */
	} else if (arg[0] == 'T') {
		mxs_commit_begin(r->d);
		rc = mxs_txn_commit(t->tx, &c->w->changes);
		if (!rc)
			mxs_fire_changes(r->d, &c->w->changes);
		mxs_commit_end(r->d);
		if (!r->caller->privileged)
			mxs_domain_memory_note(c, rc);
	}
	mxs_txn_free(t->tx);
	free(t);
	return rc ? rc : reply_ok(r);
}

/* A domid argument as the C daemon 4.17 reads it (atoi). */
static int parse_domid(const char *s, uint32_t *domid)
{
	if (!s)
		return -EINVAL;
	*domid = (uint32_t)atoi(s);
	return 0;
}

static int mxs_op_get_domain_path(struct req *r)
{
	char path[32];
	uint32_t domid;
	int rc = parse_domid(onearg(r), &domid);

	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	return mxs_buf_add_str(r->reply, path);
}

static int mxs_op_is_domain_introduced(struct req *r)
{
	uint32_t domid;
	int rc = parse_domid(onearg(r), &domid);
	bool yes;

	if (rc)
		return rc;
	/* DOMID_SELF is always introduced, as in the C daemon; so is
	 * dom0 when we serve no rings (socket-only host). */
	yes = domid == MXS_DOMID_SELF ||
	      mxs_domain_introduced(r->d, domid) ||
	      (domid == 0 && !r->d->domains);
	return mxs_buf_add(r->reply, yes ? "T" : "F", 2);
}

/* The reply comes from the owning worker (core/domain.c). */
static int deferred(struct req *r, int rc)
{
	if (!rc)
		r->reply_type = UINT32_MAX;
	return rc;
}

/* domid, gfn (ignored: the grant is what we map), port. */
static int mxs_op_introduce(struct req *r)
{
	char *v[3];
	uint32_t port;

	if (get_strings(r, v, 3) < 3)
		return -EINVAL;
	port = (uint32_t)atoi(v[2]);
	if (port == 0)
		return -EINVAL;
	return deferred(r, mxs_domain_introduce(r->c, r->hdr,
						(uint32_t)atoi(v[0]), port));
}

static int mxs_op_release(struct req *r)
{
	uint32_t domid;
	int rc = parse_domid(onearg(r), &domid);

	return rc ? rc : deferred(r, mxs_domain_release(r->c, r->hdr, domid));
}

static int mxs_op_resume(struct req *r)
{
	uint32_t domid;
	int rc = parse_domid(onearg(r), &domid);

	if (!rc)
		rc = mxs_domain_resume(r->d, domid);
	return rc ? rc : reply_ok(r);
}

static int mxs_op_set_target(struct req *r)
{
	char *v[2];
	int rc;

	if (get_strings(r, v, 2) < 2)
		return -EINVAL;
	rc = mxs_domain_set_target(r->d, (uint32_t)atoi(v[0]),
				   (uint32_t)atoi(v[1]));
	return rc ? rc : reply_ok(r);
}

/* ------------------------------------------------------------------ */
/* Xen 4.22's quota and feature ops: strict number parsing (junk is    */
/* EINVAL, not atoi's 0), for these ops only.                          */

static int parse_u32_strict(const char *s, uint32_t max, uint32_t *out)
{
	unsigned long v;
	char *end;

	if (!s || !*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || errno || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_domid_strict(const char *s, uint32_t *domid)
{
	return parse_u32_strict(s, MXS_DOMID_FIRST_RESERVED - 1, domid);
}

static int reply_u32(struct req *r, uint32_t v)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", v);
	return mxs_buf_add_str(r->reply, buf);
}

/* dom0 (the master) and introduced domains are known. */
static bool domain_known(struct req *r, uint32_t domid)
{
	return domid == r->d->cfg.master_domid ||
	       mxs_domain_introduced(r->d, domid);
}

static int mxs_op_get_feature(struct req *r)
{
	char *v[1];
	uint32_t domid;
	struct mxs_domain *dom;
	unsigned int n = get_strings(r, v, 1);

	if (n == 1 && !v[0][0])
		n = 0; /* one empty string: no argument */
	if (n > 1)
		return -EINVAL;
	if (n == 0) {
		/* The caller's own domain (sockets: dom0's ring, which has
		 * the daemon's features). */
		domid = r->caller->domid;
	} else {
		if (!r->caller->privileged)
			return -EACCES;
		if (parse_domid_strict(v[0], &domid))
			return -EINVAL;
		if (!domain_known(r, domid))
			return -ENOENT;
	}
	dom = mxs_domain_lookup(r->d, domid);
	return reply_u32(r, dom ? dom->features
				: mxs_domain_features_for(r->d, domid));
}

static int mxs_op_set_feature(struct req *r)
{
	char *v[2];
	uint32_t domid, bits;

	if (get_strings(r, v, 2) != 2 || parse_domid_strict(v[0], &domid) ||
	    parse_u32_strict(v[1], UINT32_MAX, &bits))
		return -EINVAL;
	if (bits & ~(uint32_t)MXS_RING_DAEMON_FEATURES)
		return -EINVAL;
	/* Fixed once introduced: the guest has read them from its ring. */
	if (mxs_domain_introduced(r->d, domid))
		return -EBUSY;
	__atomic_store_n(&r->d->domfeat[domid], bits + 1, __ATOMIC_RELAXED);
	return reply_ok(r);
}

/* "<name>" or "soft-<name>" (memory only has a soft value). */
static int quota_name(const char *s, bool *soft)
{
	int id;

	*soft = !strncmp(s, "soft-", 5);
	id = mxs_quota_lookup(*soft ? s + 5 : s);
	if (id < 0 || (*soft && id != MXS_QUOTA_MEMORY))
		return -EINVAL;
	return id;
}

static int mxs_op_get_quota(struct req *r)
{
	struct mxs_quotas *q = &r->d->cfg.quota;
	char *v[2];
	unsigned int n = get_strings(r, v, 2), i;
	uint32_t domid;
	bool soft;
	int id, rc = 0;

	if (n == 1 && !v[0][0])
		n = 0; /* one empty string: no argument */
	if (n == 0) {
		/* The names in force, space separated. */
		for (i = 0; i < MXS_QUOTA_COUNT && !rc; i++) {
			if (!mxs_quota_get(q, i))
				continue;
			if (r->reply->len)
				rc = mxs_buf_add(r->reply, " ", 1);
			rc = rc ?: mxs_buf_add(r->reply, mxs_quota_name_422(i),
					       strlen(mxs_quota_name_422(i)));
		}
		if (!rc && __atomic_load_n(&q->soft_memory, __ATOMIC_RELAXED)) {
			if (r->reply->len)
				rc = mxs_buf_add(r->reply, " ", 1);
			rc = rc ?: mxs_buf_add(r->reply, "soft-memory", 11);
		}
		return rc ?: mxs_buf_add(r->reply, "", 1);
	}
	if (n > 2)
		return -EINVAL;
	id = quota_name(v[n - 1], &soft);
	if (id < 0)
		return -EINVAL;
	if (n == 1)
		return reply_u32(r, soft ? __atomic_load_n(&q->soft_memory,
							   __ATOMIC_RELAXED)
					 : mxs_quota_get(q, (unsigned int)id));
	if (parse_domid_strict(v[0], &domid))
		return -EINVAL;
	if (!domain_known(r, domid))
		return -ENOENT;
	if (soft)
		return reply_u32(r, __atomic_load_n(&q->soft_memory,
						    __ATOMIC_RELAXED));
	return reply_u32(r, mxs_quota_for(q, domid, (unsigned int)id));
}

static int mxs_op_set_quota(struct req *r)
{
	struct mxs_quotas *q = &r->d->cfg.quota;
	char *v[3];
	unsigned int n = get_strings(r, v, 3);
	uint32_t domid = 0, val;
	bool soft;
	int id, rc;

	if (n != 2 && n != 3)
		return -EINVAL;
	id = quota_name(v[n - 2], &soft);
	/* 0 would mean "disabled": not settable at run time. */
	if (id < 0 || parse_u32_strict(v[n - 1], INT32_MAX, &val) || !val)
		return -EINVAL;
	if (n == 3) {
		if (parse_domid_strict(v[0], &domid))
			return -EINVAL;
		if (!domain_known(r, domid))
			return -ENOENT;
		if (soft)
			return -EINVAL; /* soft values are global only */
		rc = mxs_quota_set_domain(q, domid, (unsigned int)id, val);
		return rc ?: reply_ok(r);
	}
	if (soft)
		__atomic_store_n(&q->soft_memory, val, __ATOMIC_RELAXED);
	else
		mxs_quota_set_global(q, (unsigned int)id, val);
	return reply_ok(r);
}

static int mxs_op_reset_watches(struct req *r)
{
	mxs_conn_reset_state(r->c);
	return reply_ok(r);
}

static int mxs_op_control(struct req *r)
{
	unsigned int n = count_strings(r);
	char **v;
	int rc;

	if (r->tx)
		return -EBUSY;
	if (n < 1)
		return -EINVAL;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	get_strings(r, v, n);
	rc = mxs_control(r->c, v, n, r->reply);
	free(v);
	return rc;
}

/* Server-to-client, removed and newer types are never dispatched
 * (MXS_OPF_INVALID); the table still needs an entry for each. */
#define INVALID_OP(name)                                                      \
	static int mxs_op_##name(struct req *r)                               \
	{                                                                     \
		(void)r;                                                      \
		return -ENOSYS;                                               \
	}
INVALID_OP(watch_event)
INVALID_OP(error)
INVALID_OP(restrict)

static const op_fn handlers[MXS_OP_COUNT] = {
#define X(NAME, name, num, args, flags, doc) [num] = mxs_op_##name,
	MXS_OPS(X)
#undef X
};

void mxs_dispatch(struct mxs_conn *c, const struct mxs_msg_hdr *hdr,
		  char *payload)
{
	struct mxs_worker *w = c->w;
	struct req r = { .c = c, .caller = mxs_conn_caller(c), .d = w->d,
			 .hdr = hdr, .p = payload,
			 .len = hdr->len, .reply = &w->reply,
			 .reply_type = hdr->type };
	struct mxs_conn_tx *ctx = NULL;
	unsigned int flags;
	int rc;

	mxs_buf_reset(&w->reply);
	if (hdr->type >= MXS_OP_COUNT ||
	    (op_flags[hdr->type] & MXS_OPF_INVALID)) {
		/* The C daemon 4.17 answers ENOSYS (not the EINVAL that
		 * some documents say): docs/compat.md. */
		if (mxs_verbose)
			mxs_log("client unknown operation %u", hdr->type);
		rc = -ENOSYS;
		goto reply;
	}
	flags = op_flags[hdr->type];
	if ((flags & MXS_OPF_PRIV) && !r.caller->privileged) {
		rc = -EACCES;
		goto reply;
	}
	if ((flags & MXS_OPF_TX) && hdr->tx_id) {
		struct mxs_conn_tx **pp = find_tx(c, hdr->tx_id);

		if (!pp) {
			rc = -ENOENT;
			goto reply;
		}
		ctx = *pp;
		r.tx = ctx->tx;
	}
	rc = handlers[hdr->type](&r);
	/* transaction-nodes: an operation that takes the transaction past
	 * the quota fails, and so will its commit (docs/compat.md). */
	if (!rc && ctx && hdr->type != MXS_OP_TRANSACTION_END &&
	    mxs_quota_over(r.caller, quota(&r, MXS_QUOTA_TXN_NODES),
			   mxs_txn_nodes(ctx->tx))) {
		ctx->over = true;
		mxs_buf_reset(&w->reply);
		rc = -ENOSPC;
	}
reply:
	if (rc) {
		const char *e = mxs_errno_name(-rc);

		mxs_conn_queue(c, MXS_OP_ERROR, hdr->req_id, hdr->tx_id, e,
			       strlen(e) + 1);
		return;
	}
	if (r.reply_type == UINT32_MAX)
		return;
	if (w->reply.len > MXS_PAYLOAD_MAX) {
		mxs_conn_queue(c, MXS_OP_ERROR, hdr->req_id, hdr->tx_id,
			       "E2BIG", 6);
		return;
	}
	mxs_conn_queue(c, r.reply_type, hdr->req_id, hdr->tx_id, w->reply.p,
		       w->reply.len);
}
