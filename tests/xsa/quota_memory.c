/*
 * The memory quota (XSA-326's byte limit; `-Q memory=`, XS_CONTROL
 * "quota set memory"): a guest filling its memory quota over its ring.
 *
 * With a quota of 16 KiB, a guest writes 200-byte nodes until refused:
 * the refusal is ENOMEM (not ENOSPC: the nodes quota is far away; the C
 * daemon 4.17 answers EIO, docs/compat.md), the
 * domain's memory ("xenstore-control quota <domid>") stays within the
 * quota, and nothing of the refused write is left.  Meanwhile dom0 and
 * another guest are served as before, and the full guest can still read
 * and remove.  A transaction that would go past fails as a whole (we
 * refuse its commit; the C daemon refuses the write inside it).  A
 * watch is charged its path and token.  Passing the soft quota is
 * logged.  The domain released, its
 * domid reused, the new domain starts from its home node alone.
 *
 * Against a daemon lacking the quota the guest writes all 400 nodes
 * (80 KiB) and the first check fails.  Also run against Debian's C
 * xenstored 4.17 (guests_quota_memory_cxenstored), whose counts differ
 * by what it also charges (reply buffers), hence the ranges.
 */
#include "tests/xsa/quota.h"

#define MEM 16384
#define VAL 200
#define TRIES 400

/* The refusal: ENOMEM.  The C daemon 4.17 turns it into EIO on the way
 * out of its node write (and logs a database corruption). */
static int quota_err(void)
{
	return xh.mxs ? -ENOMEM : -EIO;
}

static int fill(struct xensim_guest *g, const char *prefix, const char *val)
{
	char path[64];
	int i, rc = 0;

	for (i = 0; i < TRIES; i++) {
		snprintf(path, sizeof(path), "%s%03d", prefix, i);
		rc = xensim_guest_write(g, path, val);
		if (rc)
			break;
	}
	if (rc != quota_err())
		fprintf(stderr, "%s: write %d: %d\n", prefix, i, rc);
	CHECK(rc == quota_err());
	return i;
}

int main(int argc, char **argv)
{
	static char val[VAL + 1];
	struct xensim_guest *g, *other;
	uint32_t d, dother, tx;
	char body[VAL + 64];
	long mem;
	int n, l, rc;

	xsa_start("quota_memory", argc, argv);
	xq_set("memory", MEM);
	l = snprintf(body, sizeof(body), "quota-soft%cset%cmemory%c%d", 0, 0,
		     0, MEM / 2) + 1;
	CHECK_RC(xsa_dom0_call(XS_CONTROL, 0, body, (uint32_t)l, NULL));
	g = xsa_guest(XENSIM_ANY_DOMID, &d);
	other = xsa_guest(XENSIM_ANY_DOMID, &dother);
	memset(val, 'v', VAL);

	/* Each node costs its value, its path, its record header and
	 * permission, and its name in the parent's record: ~250 bytes. */
	n = fill(g, "m", val);
	CHECK(n > MEM / (2 * VAL) && n < MEM / VAL);
	mem = xq_usage(d, "memory");
	CHECK(mem <= MEM && mem > MEM - 2 * (VAL + 64));
	CHECK(xq_usage(d, "nodes") == n + 1);
	snprintf(body, sizeof(body), "m%03d", n);
	CHECK(xensim_guest_read(g, body, NULL, NULL) == -ENOENT);
	printf("ok: %d nodes of %d bytes, then refused at %ld of %d bytes\n",
	       n, VAL, mem, MEM);
	/* mxenstored logs the soft level once (the C daemon: syslog). */
	if (xh.mxs) {
		char logpath[400], line[512], want[64];
		bool soft = false;
		FILE *f;

		snprintf(logpath, sizeof(logpath), "%s/daemon.log", xh.tmp);
		snprintf(want, sizeof(want), "Domain %u exceeds soft memory quota",
			 d);
		f = fopen(logpath, "r");
		CHECK(f != NULL);
		while (fgets(line, sizeof(line), f))
			soft |= strstr(line, want) != NULL;
		fclose(f);
		CHECK(soft);
		printf("ok: the soft quota (%d bytes) logged\n", MEM / 2);
	}

	/* Nobody else is affected; the guest still reads. */
	CHECK_RC(xensim_sock_write(xh.ts, "/dom0/mem", val));
	CHECK_RC(xensim_guest_write(other, "mem", val));
	/* The C daemon also charges a reply of more than 16 bytes, so
	 * there a full guest reads only short values (docs/compat.md). */
	xsa_sync(g);
	if (xh.mxs)
		CHECK_RC(xensim_guest_read(g, "m000", NULL, NULL));
	printf("ok: dom0 and another guest unaffected, the guest still reads\n");

	/* Removing gives the room back, exactly as much. */
	CHECK_RC(xensim_guest_rm(g, "m000"));
	CHECK_RC(xensim_guest_rm(g, "m001"));
	CHECK(fill(g, "r", val) == 2);
	printf("ok: two removed, two fit again\n");

	/* A transaction that would go past: nothing of it stays. */
	CHECK_RC(xensim_guest_rm(g, "r000"));
	tx = xsa_tx_start(g);
	rc = 0;
	for (int i = 0; i < 3 && !rc; i++) {
		l = snprintf(body, sizeof(body), "t%d", i) + 1;
		memcpy(body + l, val, VAL);
		rc = xsa_call(g, XS_WRITE, tx, body, (uint32_t)(l + VAL), NULL);
	}
	if (rc == 0) {
		/* mxenstored: the commit is checked against the live count. */
		CHECK(xsa_call(g, XS_TRANSACTION_END, tx, "T", 2, NULL) ==
		      -ENOMEM);
	} else {
		/* The C daemon: the write inside it is refused. */
		CHECK(rc == quota_err());
		CHECK_RC(xsa_call(g, XS_TRANSACTION_END, tx, "F", 2, NULL));
	}
	CHECK(xensim_guest_read(g, "t0", NULL, NULL) == -ENOENT);
	CHECK(xq_usage(d, "memory") <= MEM);
	printf("ok: a transaction past the quota leaves nothing\n");

	/* A watch is charged its path and token. */
	if (xh.mxs) {
		long room = MEM - xq_usage(d, "memory");
		char *tok = malloc((size_t)room + 2);
		size_t plen = strlen(xsa_home(d, "w"));

		CHECK(tok && room > (long)plen);
		memset(tok, 't', (size_t)room + 1);
		tok[room - (long)plen + 1] = '\0';
		CHECK(xensim_guest_watch(g, "w", tok) == -ENOMEM);
		tok[room - (long)plen] = '\0';
		CHECK_RC(xensim_guest_watch(g, "w", tok));
		CHECK(xq_usage(d, "memory") == MEM);
		CHECK(xensim_guest_write(g, "x", "") == -ENOMEM);
		CHECK_RC(xensim_guest_unwatch(g, "w", tok));
		free(tok);
		/* The event of the new watch. */
		xsa_guest_events(g, NULL, 100);
		printf("ok: a watch's path and token count, to the byte\n");
	}

	/* A released domain's bytes are gone; its domid starts at zero. */
	xensim_guest_detach(g);
	xsa_destroy(d);
	CHECK(xq_usage(d, "memory") == -1);
	g = xsa_guest(d, NULL);
	mem = xq_usage(d, "memory");
	CHECK(mem >= 0 && mem < 200);
	CHECK(fill(g, "m", val) == n);
	printf("ok: domid %u reused: starts at %ld bytes, fills to %d nodes "
	       "again\n", d, mem, n);

	xensim_guest_detach(g);
	xensim_guest_detach(other);
	return xsa_finish("quota_memory");
}
