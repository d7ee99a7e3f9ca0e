/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: arbitrary bytes from two socket clients into the
 * daemon's connection parser and dispatcher (every op, transactions,
 * watches, bad input).  The daemon must never crash, leak or corrupt the
 * store: after every input the store's consistency check must pass.  The
 * store lives across inputs (creating one per input costs a grace period)
 * and is emptied after each, except the initial /tool/xenstored.  The
 * daemon is set up as core/main.c does (default quotas, the domain
 * tables), without event channels; what an input may change beyond the
 * store (quotas, SET_FEATURE's bits) is reset after it too, so that
 * every input runs against the same daemon.
 *
 * Input: [1 byte: split point / 256 of the input] then bytes; the first
 * part goes to connection A, the rest to connection B, in chunks.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/daemon.h"
#include "tests/inproc.h"
#include "store/rcu.h"

static struct mxs_daemon d;
static struct mxs_worker w;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char dir[] = "/tmp/mxs-fuzz-XXXXXX";

	signal(SIGPIPE, SIG_IGN); /* as the daemon: closed peers are EPIPE */
	/* CONTROL logfile/memreport write files named by the input. */
	if (!mkdtemp(dir) || chdir(dir))
		abort();
	rcu_register_thread();
	if (mxs_inproc_init(&d, &w, 1))
		abort();
	return 0;
}

/* Removes every node but /tool/xenstored and resets / and /tool. */
static void reset_store(void)
{
	static const struct mxs_perm n0 = { 0, MXS_PERM_NONE };
	const struct mxs_caller dom0 = { 0, MXS_NO_TARGET, true, false };
	struct mxs_buf kids = { 0 };
	struct mxs_changes ch = { 0 };
	size_t off;
	char path[4200];

	if (mxs_store_directory(d.store, NULL, &dom0, "/", &kids))
		abort();
	for (off = 0; off < kids.len; off += strlen(kids.p + off) + 1) {
		snprintf(path, sizeof(path), "/%s", kids.p + off);
		if (strcmp(path, "/tool"))
			mxs_store_rm(d.store, NULL, &dom0, path, &ch);
	}
	mxs_store_rm(d.store, NULL, &dom0, "/tool", &ch);
	mxs_store_write(d.store, NULL, &dom0, "/tool/xenstored", "", 0, &ch);
	mxs_store_set_perms(d.store, NULL, &dom0, "/", &n0, 1, &ch);
	mxs_store_set_perms(d.store, NULL, &dom0, "/tool", &n0, 1, &ch);
	mxs_store_set_perms(d.store, NULL, &dom0, "/tool/xenstored", &n0, 1,
			    &ch);
	mxs_store_set_special_perms(d.store, &dom0, "@introduceDomain", &n0, 1);
	mxs_store_set_special_perms(d.store, &dom0, "@releaseDomain", &n0, 1);
	mxs_changes_clear(&ch);
	free(ch.v);
	mxs_buf_free(&kids);
}

/* Quotas (SET_QUOTA, CONTROL quota) and feature bits (SET_FEATURE)
 * back to the daemon's defaults. */
static void reset_daemon(void)
{
	uint32_t domid;

	mxs_quota_defaults(&d.cfg.quota);
	for (domid = 0; domid < MXS_DOMID_FIRST_RESERVED; domid++)
		mxs_quota_reset_domain(&d.cfg.quota, domid);
	memset(d.domfeat, 0, MXS_DOMID_FIRST_RESERVED * sizeof(*d.domfeat));
}

static void drain(int fd)
{
	char buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int a[2], b[2];
	struct mxs_conn *ca, *cb;
	struct mxs_buf report = { 0 };
	size_t split, i;

	if (size < 1 || size > 65536)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b))
		abort();
	ca = mxs_conn_new(&w, a[0], 1);
	cb = mxs_conn_new(&w, b[0], 2);
	if (!ca || !cb)
		abort();
	split = 1 + (size - 1) * data[0] / 256;
	/* Feed in chunks, alternating, so messages straddle reads. */
	for (i = 1; i < size; i += 97) {
		size_t end = i + 97 < size ? i + 97 : size;
		int fd = i < split ? a[1] : b[1];
		struct mxs_conn *c = i < split ? ca : cb;

		if (write(fd, data + i, end - i) < 0)
			break;
		if (!c->closed)
			mxs_conn_readable(c);
		mxs_worker_service_dirty(&w);
		drain(a[1]);
		drain(b[1]);
	}
	if (mxs_store_check(d.store, &report))
		abort(); /* the store must stay consistent */
	mxs_buf_free(&report);
	while (!cds_list_empty(&w.conns))
		mxs_conn_close(cds_list_first_entry(&w.conns, struct mxs_conn,
						    link));
	mxs_worker_bury(&w);
	close(a[1]);
	close(b[1]);
	reset_store();
	reset_daemon();
	mxs_rcu_quiescent();
	return 0;
}
