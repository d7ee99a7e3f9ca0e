/* SPDX-License-Identifier: MIT */
/*
 * XS_CONTROL: daemon control from dom0 (xenstore-control).  Subcommands of
 * the C daemon that this daemon supports; each answers "OK" or text.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "core/domain.h"

struct control_cmd {
	const char *name;
	const char *args;
	unsigned int min, max; /* number of arguments after the name */
	int (*fn)(struct mxs_conn *c, char **argv, unsigned int argc,
		  struct mxs_buf *reply);
};

static int ok(struct mxs_buf *reply)
{
	return mxs_buf_add(reply, "OK", 3);
}

static int cmd_check(struct mxs_conn *c, char **argv, unsigned int argc,
		     struct mxs_buf *reply)
{
	struct mxs_buf report = { 0 };
	int rc;

	(void)argv;
	(void)argc;
	rc = mxs_store_check(c->w->d->store, &report);
	if (rc == -EIO)
		mxs_log("store check failed: %.*s", (int)report.len,
			report.p ? report.p : "");
	mxs_buf_free(&report);
	return rc ? rc : ok(reply);
}

static int cmd_log(struct mxs_conn *c, char **argv, unsigned int argc,
		   struct mxs_buf *reply)
{
	struct mxs_daemon *d = c->w->d;
	bool on;

	(void)argc;
	if (strcmp(argv[0], "on") == 0)
		on = true;
	else if (strcmp(argv[0], "off") == 0)
		on = false;
	else
		return -EINVAL;
	pthread_mutex_lock(&d->trace_lock);
	if (on && d->trace_fd < 0) {
		pthread_mutex_unlock(&d->trace_lock);
		return -EINVAL; /* no trace file: "logfile" first */
	}
	__atomic_store_n(&d->trace_on, on, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&d->trace_lock);
	return ok(reply);
}

static int cmd_logfile(struct mxs_conn *c, char **argv, unsigned int argc,
		       struct mxs_buf *reply)
{
	int rc;

	(void)argc;
	rc = mxs_trace_open(c->w->d, argv[0]);
	return rc ? rc : ok(reply);
}

static int cmd_print(struct mxs_conn *c, char **argv, unsigned int argc,
		     struct mxs_buf *reply)
{
	(void)argc;
	mxs_trace(c->w->d, "control: %s", argv[0]);
	mxs_log("control: %s", argv[0]);
	return ok(reply);
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int cmd_memreport(struct mxs_conn *c, char **argv, unsigned int argc,
			 struct mxs_buf *reply)
{
	struct mxs_daemon *d = c->w->d;
	struct mxs_store_stats st;
	char *text = NULL;
	uint64_t reqs = 0;
	unsigned long doms = 0;
	unsigned int i, ubufs = 0;
	int n, rc = 0;

	mxs_store_get_stats(d->store, &st);
	for (i = 0; i < d->nworkers; i++) {
		reqs += __atomic_load_n(&d->workers[i].requests,
					__ATOMIC_RELAXED);
		/* Relaxed: a count, for the report only. */
		doms += __atomic_load_n(&d->workers[i].ndomains,
					__ATOMIC_RELAXED);
		ubufs += __atomic_load_n(&d->workers[i].uring_bufs,
					 __ATOMIC_RELAXED);
	}
	n = asprintf(&text,
		     "nodes: %" PRIu64 "\n"
		     "generation: %" PRIu64 "\n"
		     "transaction commits: %" PRIu64 "\n"
		     "transaction conflicts: %" PRIu64 "\n"
		     "watches: %lu\n"
		     "connections: %lu\n"
		     "workers: %u\n"
		     "requests: %" PRIu64 "\n"
		     "domains: %lu\n"
		     "domain sweeps: %" PRIu64 "\n"
		     "io_uring buffers: %u\n"
		     "rss: %ld KiB\n",
		     st.nodes, st.generation, st.commits, st.conflicts,
		     mxs_watches_count(d->watches),
		     __atomic_load_n(&d->nconns, __ATOMIC_RELAXED), d->nworkers,
		     reqs, doms,
		     __atomic_load_n(&d->sweeps, __ATOMIC_RELAXED), ubufs,
		     rss_kib());
	if (n < 0)
		return -ENOMEM;
	if (argc == 1) {
		FILE *f = fopen(argv[0], "a");

		if (!f) {
			rc = -errno;
		} else {
			fputs(text, f);
			fclose(f);
			rc = ok(reply);
		}
	} else {
		rc = mxs_buf_add(reply, text, (size_t)n + 1);
	}
	free(text);
	return rc;
}

/*
 * "quota <domid>": what the domain uses, in the C daemon's layout.
 * Caller: online for RCU (the domain and its connection stay valid until
 * the next quiescent state); the counters are relaxed reads of other
 * workers' values.
 */
static int domain_usage(void *arg, uint32_t domid, struct mxs_buf *out)
{
	struct mxs_daemon *d = arg;
	struct mxs_domain *dom = mxs_domain_lookup(d, domid);
	struct mxs_conn *dc;
	char text[512];
	int n;

	if (!dom)
		return -ENOENT;
	dc = dom->conn;
	n = snprintf(text, sizeof(text),
		     "Domain %u:\n%-16s: %8u\n%-16s: %8u\n%-16s: %8u\n"
		     "%-16s: %8u\n%-16s: %8llu\n%-16s: %8llu\n"
		     "%-16s: %8llu\n",
		     domid, "nodes", mxs_store_domain_nodes(d->store, domid),
		     "watches",
		     dc ? mxs_watches_owner_count(d->watches, &dc->wo) : 0,
		     "transactions",
		     dc ? __atomic_load_n(&dc->ntxs, __ATOMIC_RELAXED) : 0,
		     "outstanding",
		     dc ? __atomic_load_n(&dc->out_replies, __ATOMIC_RELAXED)
			: 0,
		     /* Bytes, as the C daemon's memory quota counts them. */
		     "memory",
		     (unsigned long long)mxs_domain_memory(d, domid),
		     /* Ours, not the C daemon's: writes the rate limit
		      * (XSA-206) held back. */
		     "write-delays",
		     dc ? (unsigned long long)__atomic_load_n(&dc->wrl_delays,
							      __ATOMIC_RELAXED)
			: 0ull,
		     /* Ours: watch events dropped unread past the
		      * watch-event timeout. */
		     "events-dropped",
		     dc ? (unsigned long long)__atomic_load_n(&dc->ev_dropped,
							      __ATOMIC_RELAXED)
			: 0ull);
	return mxs_buf_add(out, text, (size_t)n + 1);
}

static int cmd_quota(struct mxs_conn *c, char **argv, unsigned int argc,
		     struct mxs_buf *reply)
{
	struct mxs_daemon *d = c->w->d;

	return mxs_quota_control(&d->cfg.quota, false, argv, argc, reply,
				 domain_usage, d);
}

static int cmd_quota_soft(struct mxs_conn *c, char **argv,
			  unsigned int argc, struct mxs_buf *reply)
{
	struct mxs_daemon *d = c->w->d;

	return mxs_quota_control(&d->cfg.quota, true, argv, argc, reply,
				 domain_usage, d);
}

static int cmd_help(struct mxs_conn *c, char **argv, unsigned int argc,
		    struct mxs_buf *reply);

static const struct control_cmd cmds[] = {
	{ "check", "", 0, 0, cmd_check },
	{ "log", "on|off", 1, 1, cmd_log },
	{ "logfile", "<file>", 1, 1, cmd_logfile },
	{ "memreport", "[<file>]", 0, 1, cmd_memreport },
	{ "print", "<string>", 1, 1, cmd_print },
	{ "quota", "[set <name> <val>|<domid>]", 0, 3, cmd_quota },
	{ "quota-soft", "[set <name> <val>]", 0, 3, cmd_quota_soft },
	{ "help", "", 0, 0, cmd_help },
};

static int cmd_help(struct mxs_conn *c, char **argv, unsigned int argc,
		    struct mxs_buf *reply)
{
	size_t i;
	int rc = 0;

	(void)c;
	(void)argv;
	(void)argc;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && !rc; i++) {
		rc = mxs_buf_add(reply, cmds[i].name, strlen(cmds[i].name));
		if (!rc && cmds[i].args[0]) {
			rc = mxs_buf_add(reply, " ", 1);
			rc = rc ?: mxs_buf_add(reply, cmds[i].args,
					       strlen(cmds[i].args));
		}
		rc = rc ?: mxs_buf_add(reply, "\n", 1);
	}
	return rc ?: mxs_buf_add(reply, "", 1);
}

int mxs_control(struct mxs_conn *c, char **argv, unsigned int argc,
		struct mxs_buf *reply)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[0], cmds[i].name))
			continue;
		if (argc - 1 < cmds[i].min || argc - 1 > cmds[i].max)
			return -EINVAL;
		return cmds[i].fn(c, argv + 1, argc - 1, reply);
	}
	return -EINVAL;
}
