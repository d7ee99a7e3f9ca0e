/* SPDX-License-Identifier: MIT */
/*
 * The quota table: names, defaults, command-line parsing and the
 * XS_CONTROL quota / quota-soft commands, in the C xenstored's forms.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/quota.h"
#include "mxs/protocol.h"

struct quota_desc {
	const char *name;     /* XS_CONTROL quota (4.17) */
	const char *name422;  /* GET_QUOTA (4.22) */
	unsigned int def;
	bool control;         /* listed by the 4.17 "quota" command */
	const char *descr;
};

static const struct quota_desc quota_desc[MXS_QUOTA_COUNT] = {
	[MXS_QUOTA_NODES] = { "nodes", "nodes", 1000, true,
			      "Nodes per domain" },
	[MXS_QUOTA_WATCHES] = { "watches", "watches", 128, true,
				"Watches per domain" },
	[MXS_QUOTA_TRANSACTIONS] = { "transactions", "transactions", 10, true,
				     "Transactions per domain" },
	[MXS_QUOTA_OUTSTANDING] = { "outstanding", "outstanding", 20, true,
				    "Outstanding requests per domain" },
	[MXS_QUOTA_TXN_NODES] = { "transaction-nodes", "transaction-nodes",
				  1024, true,
				  "Max. number of accessed nodes per "
				  "transaction" },
	[MXS_QUOTA_MEMORY] = { "memory", "memory", 2 * 1024 * 1024 + 512 * 1024,
			       true,
			       "Total Xenstore memory per domain (error "
			       "level)" },
	[MXS_QUOTA_NODE_SIZE] = { "node-size", "node-size", 2048, true,
				  "Max. size of a node" },
	[MXS_QUOTA_PERMS] = { "permissions", "node-permissions", 5, true,
			      "Max. number of permissions per node" },
	[MXS_QUOTA_PATH_MAX] = { "path-max", "path-max", MXS_REL_PATH_MAX,
				 false, "Max. length of a node path" },
};

#define SOFT_MEMORY_DEFAULT (2u * 1024 * 1024)

void mxs_quota_defaults(struct mxs_quotas *q)
{
	unsigned int i;

	for (i = 0; i < MXS_QUOTA_COUNT; i++)
		q->hard[i] = quota_desc[i].def;
	q->soft_memory = SOFT_MEMORY_DEFAULT;
	q->watch_event_ms = 20000;
}

const char *mxs_quota_name(enum mxs_quota_id id)
{
	return quota_desc[id].name;
}

const char *mxs_quota_name_422(enum mxs_quota_id id)
{
	return quota_desc[id].name422;
}

int mxs_quota_lookup(const char *name)
{
	unsigned int i;

	for (i = 0; i < MXS_QUOTA_COUNT; i++)
		if (!strcmp(name, quota_desc[i].name) ||
		    !strcmp(name, quota_desc[i].name422))
			return (int)i;
	return -EINVAL;
}

static void quota_set(unsigned int *slot, unsigned int v)
{
	__atomic_store_n(slot, v, __ATOMIC_RELAXED);
}

void mxs_quota_set_global(struct mxs_quotas *q, enum mxs_quota_id id,
			  unsigned int v)
{
	quota_set(&q->hard[id], v);
}

int mxs_quota_init_domains(struct mxs_quotas *q)
{
	q->dom = calloc(MXS_DOMID_FIRST_RESERVED, sizeof(*q->dom));
	return q->dom ? 0 : -ENOMEM;
}

void mxs_quota_fini_domains(struct mxs_quotas *q)
{
	unsigned int i;

	if (!q->dom)
		return;
	for (i = 0; i < MXS_DOMID_FIRST_RESERVED; i++)
		free(q->dom[i]);
	free(q->dom);
	q->dom = NULL;
}

static unsigned int *dom_values(const struct mxs_quotas *q, uint32_t domid)
{
	if (!q->dom || domid >= MXS_DOMID_FIRST_RESERVED)
		return NULL;
	/* QUOTA_A1: pairs with QUOTA_R1 in mxs_quota_set_domain(): the
	 * array's initial values are seen. */
	return __atomic_load_n(&q->dom[domid], __ATOMIC_ACQUIRE);
}

unsigned int mxs_quota_for(const struct mxs_quotas *q, uint32_t domid,
			   enum mxs_quota_id id)
{
	unsigned int *v = dom_values(q, domid);
	unsigned int own = v ? __atomic_load_n(&v[id], __ATOMIC_RELAXED)
			     : MXS_QUOTA_GLOBAL;

	return own == MXS_QUOTA_GLOBAL ? mxs_quota_get(q, id) : own;
}

int mxs_quota_set_domain(struct mxs_quotas *q, uint32_t domid,
			 enum mxs_quota_id id, unsigned int v)
{
	unsigned int *vals = dom_values(q, domid), *expected = NULL, i;

	if (!q->dom || domid >= MXS_DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (!vals) {
		vals = malloc(MXS_QUOTA_COUNT * sizeof(*vals));
		if (!vals)
			return -ENOMEM;
		for (i = 0; i < MXS_QUOTA_COUNT; i++)
			vals[i] = MXS_QUOTA_GLOBAL;
		/* QUOTA_R1: pairs with QUOTA_A1 in dom_values(); the loser
		 * of a race uses the winner's array. */
		if (!__atomic_compare_exchange_n(&q->dom[domid], &expected,
						 vals, false, __ATOMIC_RELEASE,
						 __ATOMIC_ACQUIRE)) {
			free(vals);
			vals = expected;
		}
	}
	quota_set(&vals[id], v);
	return 0;
}

void mxs_quota_reset_domain(struct mxs_quotas *q, uint32_t domid)
{
	unsigned int *vals = dom_values(q, domid), i;

	for (i = 0; vals && i < MXS_QUOTA_COUNT; i++)
		quota_set(&vals[i], MXS_QUOTA_GLOBAL);
}

/* The C daemon's get_optval_uint: all digits, at most INT_MAX. */
static int optval(const char *arg, unsigned int *v)
{
	unsigned long l;
	char *end;

	errno = 0;
	l = strtoul(arg, &end, 10);
	if (!*arg || *end || errno || l > INT_MAX || arg[0] == '-') {
		fprintf(stderr, "invalid parameter value \"%s\"\n", arg);
		return -EINVAL;
	}
	*v = (unsigned int)l;
	return 0;
}

/* "<what>=<n>": what, and the value after '='. */
static int name_value(const char *arg, const char *form, char *name,
		      size_t sz, unsigned int *v)
{
	const char *eq = strchr(arg, '=');

	if (!eq) {
		fprintf(stderr, "quotas must be specified via <what>=<%s>\n",
			form);
		return -EINVAL;
	}
	if ((size_t)(eq - arg) >= sz) {
		fprintf(stderr, "unknown quota \"%s\"\n", arg);
		return -EINVAL;
	}
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	return optval(eq + 1, v);
}

int mxs_quota_option(struct mxs_quotas *q, int opt, const char *arg)
{
	static const struct {
		char opt;
		enum mxs_quota_id id;
	} letters[] = {
		{ 'E', MXS_QUOTA_NODES },     { 'S', MXS_QUOTA_NODE_SIZE },
		{ 'W', MXS_QUOTA_WATCHES },   { 't', MXS_QUOTA_TRANSACTIONS },
		{ 'A', MXS_QUOTA_PERMS },     { 'M', MXS_QUOTA_PATH_MAX },
	};
	char name[32];
	unsigned int i, v;
	int id;

	for (i = 0; i < sizeof(letters) / sizeof(letters[0]); i++) {
		if (letters[i].opt != opt)
			continue;
		if (optval(arg, &v))
			return -EINVAL;
		/* -M is capped at the protocol's relative path limit. */
		if (letters[i].id == MXS_QUOTA_PATH_MAX &&
		    (v == 0 || v > MXS_REL_PATH_MAX))
			v = MXS_REL_PATH_MAX;
		q->hard[letters[i].id] = v;
		return 0;
	}
	if (opt == 'w') {
		if (name_value(arg, "seconds", name, sizeof(name), &v))
			return -EINVAL;
		if (strcmp(name, "watch-event")) {
			fprintf(stderr, "unknown timeout \"%s\"\n", arg);
			return -EINVAL;
		}
		q->watch_event_ms = v > UINT_MAX / 1000 ? UINT_MAX : v * 1000;
		return 0;
	}
	if (opt != 'Q' && opt != 'q')
		return -EINVAL;
	if (name_value(arg, "nb", name, sizeof(name), &v))
		return -EINVAL;
	id = mxs_quota_lookup(name);
	if (opt == 'q') {
		if (id != MXS_QUOTA_MEMORY) {
			fprintf(stderr, "unknown quota \"%s\"\n", arg);
			return -EINVAL;
		}
		q->soft_memory = v;
		return 0;
	}
	if (id < 0) {
		fprintf(stderr, "unknown quota \"%s\"\n", arg);
		return -EINVAL;
	}
	if (id == MXS_QUOTA_PATH_MAX && (v == 0 || v > MXS_REL_PATH_MAX))
		v = MXS_REL_PATH_MAX;
	q->hard[id] = v;
	return 0;
}

static int show_line(struct mxs_buf *b, const char *name, unsigned int v,
		     const char *descr)
{
	char line[160];
	int n = snprintf(line, sizeof(line), "%-17s: %8u %s\n", name, v,
			 descr);

	return mxs_buf_add(b, line, (size_t)n);
}

int mxs_quota_control(struct mxs_quotas *q, bool soft, char **argv,
		      unsigned int argc, struct mxs_buf *reply,
		      int (*usage)(void *arg, uint32_t domid,
				   struct mxs_buf *out),
		      void *usage_arg)
{
	unsigned int i;
	long v;
	int rc = 0;

	if (argc == 0) {
		rc = mxs_buf_add(reply, "Quota settings:\n", 16);
		if (soft)
			rc = rc ?: show_line(reply, "memory",
					     __atomic_load_n(&q->soft_memory,
							     __ATOMIC_RELAXED),
					     "Total Xenstore memory per domain "
					     "(warning level)");
		for (i = 0; !soft && i < MXS_QUOTA_COUNT && !rc; i++)
			if (quota_desc[i].control)
				rc = show_line(reply, quota_desc[i].name,
					       mxs_quota_get(q, i),
					       quota_desc[i].descr);
		return rc ?: mxs_buf_add(reply, "", 1);
	}
	if (!strcmp(argv[0], "set")) {
		/* As the C daemon: atoi, and a value below 1 is EINVAL
		 * (quotas are disabled from the command line only). */
		if (argc != 3)
			return -EINVAL;
		v = atoi(argv[2]);
		if (v < 1)
			return -EINVAL;
		if (soft) {
			if (strcmp(argv[1], "memory"))
				return -EINVAL;
			quota_set(&q->soft_memory, (unsigned int)v);
			return mxs_buf_add(reply, "OK", 3);
		}
		for (i = 0; i < MXS_QUOTA_COUNT; i++)
			if (quota_desc[i].control &&
			    !strcmp(argv[1], quota_desc[i].name))
				break;
		if (i == MXS_QUOTA_COUNT)
			return -EINVAL;
		quota_set(&q->hard[i], (unsigned int)v);
		return mxs_buf_add(reply, "OK", 3);
	}
	if (soft || argc != 1)
		return -EINVAL;
	/* "quota <domid>": atoi, as the C daemon. */
	return usage(usage_arg, (uint32_t)atoi(argv[0]), reply);
}
