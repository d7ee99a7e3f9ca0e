/*
 * Guests of mxenstored under the Xen simulator, beyond the scenarios it
 * shares with the reference daemons (test_cxenstored, test_hostile,
 * test_scale):
 *   - traffic: N guests (CTest: 50 and 1,000) pipeline writes of
 *     4096-byte payloads (values of 4000 bytes, so every message spans
 *     ring fills and wraps), reads, directories, then each sets a watch
 *     and commits a transaction, all in flight at once; every reply
 *     correct and in order, every commit heard once by its own watch;
 *   - permission isolation: a guest cannot read, write or watch another
 *     guest's nodes nor use privileged ops; relative paths resolve under
 *     its home; what it creates it owns; SET_TARGET gives access;
 *   - domain ops: INTRODUCE/RELEASE/RESUME/SET_TARGET argument checks
 *     and errors as the C daemon 4.17; RELEASE fires @releaseDomain and
 *     unmaps the ring;
 *   - hostile: a guest that never reads its replies is bounded (the
 *     daemon stops reading it) while the others carry on, and a
 *     reconnection mid-stream (half a request sent) recovers it; a guest
 *     notifying in a tight loop; a guest destroyed mid-transaction;
 *   - death storm: all domains destroyed at once, one @releaseDomain per
 *     domain, every domain released and unmapped, dom0's nodes
 *     untouched, CONTROL check clean.
 *
 * usage: test_guests PRELOAD MXENSTORED [N]
 */
#include "tests/xensim/xensim.h"
#include "tests/xensim/testutil.h"

#include <xen/io/xs_wire.h>

#define TMO 30000
#define BIG 4000 /* value bytes: with the path, a payload near 4096 */

static struct xensim_sock *ts;

static char *domain_path(uint32_t domid, const char *rel)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "/local/domain/%u%s%s", domid, rel ? "/" : "",
		 rel ? rel : "");
	return buf;
}

/* Socket request with a NUL-separated argument list; -errno or 0. */
static int sock_req(uint32_t type, const char *args, uint32_t len, struct xensim_msg **m)
{
	return xensim_sock_call(ts, type, 0, args, len, m, TMO);
}

static int guest_req(struct xensim_guest *g, uint32_t type, uint32_t tx, const char *args,
		     uint32_t len, struct xensim_msg **m)
{
	return xensim_guest_call(g, type, tx, args, len, m, TMO);
}

static bool introduced(uint32_t domid)
{
	struct xensim_msg *m;
	char buf[16];
	bool yes;

	snprintf(buf, sizeof(buf), "%u", domid);
	CHECK_RC(sock_req(XS_IS_DOMAIN_INTRODUCED, buf, (uint32_t)strlen(buf) + 1, &m));
	yes = m->body[0] == 'T';
	free(m);
	return yes;
}

static void big_value(char *v, uint32_t domid, int round)
{
	for (int i = 0; i < BIG; i++)
		v[i] = (char)('a' + (i * 7 + (int)domid + round) % 26);
	v[BIG] = '\0';
}

/* Each guest pipelines: 3 x (write big, read big), directory, then waits
 * for all its replies in order. */
static void traffic(struct xensim_evq *q, struct xensim_guest **g, uint32_t *dom, int n)
{
	enum { PER = 8 };
	static char body[BIG + 64], val[BIG + 1];
	uint32_t (*ids)[PER] = calloc((size_t)n, sizeof(*ids));
	uint32_t *types = calloc((size_t)n * PER, sizeof(*types));
	int *got = calloc((size_t)n, sizeof(*got)), done = 0;
	double end = tu_now() + 120;

	CHECK(ids && types && got);
	for (int i = 0; i < n; i++) {
		int k = 0;

		for (int round = 0; round < 3; round++) {
			int l = snprintf(body, sizeof(body), "big%d", round) + 1;

			big_value(val, dom[i], round);
			memcpy(body + l, val, BIG);
			CHECK_RC(xensim_guest_send(g[i], XS_WRITE, 0, body, (uint32_t)(l + BIG),
						   &ids[i][k]));
			types[i * PER + k++] = XS_WRITE;
			l = snprintf(body, sizeof(body), "big%d", round) + 1;
			CHECK_RC(xensim_guest_send(g[i], XS_READ, 0, body, (uint32_t)l,
						   &ids[i][k]));
			types[i * PER + k++] = XS_READ;
		}
		snprintf(body, sizeof(body), "%s", domain_path(dom[i], NULL));
		CHECK_RC(xensim_guest_send(g[i], XS_DIRECTORY, 0, body,
					   (uint32_t)strlen(body) + 1, &ids[i][k]));
		types[i * PER + k++] = XS_DIRECTORY;
		CHECK_RC(xensim_guest_send(g[i], XS_GET_DOMAIN_PATH, 0, "7", 2, &ids[i][k]));
		types[i * PER + k++] = XS_GET_DOMAIN_PATH;
		CHECK(k == PER);
	}
	while (done < n * PER) {
		CHECK(tu_now() < end);
		CHECK_RC(xensim_evq_run(q, 100));
		for (int i = 0; i < n; i++) {
			struct xensim_msg *m;

			while ((m = xensim_guest_reply(g[i]))) {
				int k = got[i]++;

				CHECK(k < PER);
				/* In order: replies carry the ids in sequence. */
				CHECK(m->req_id == ids[i][k]);
				if (m->type != types[i * PER + k])
					fprintf(stderr, "reply %d: type %u (%s), want %u\n", k, m->type, m->body, types[i * PER + k]);
				CHECK(m->type == types[i * PER + k]);
				if (m->type == XS_READ) {
					big_value(val, dom[i], k / 2);
					CHECK(m->len == BIG && !memcmp(m->body, val, BIG));
				} else if (m->type == XS_WRITE) {
					CHECK(!strcmp(m->body, "OK"));
				} else if (m->type == XS_DIRECTORY) {
					CHECK(strstr(m->body, "big") != NULL);
				} else {
					CHECK(!strcmp(m->body, "/local/domain/7"));
				}
				free(m);
				done++;
			}
		}
	}
	free(ids);
	free(types);
	free(got);
}

/* Runs the event queue until every guest has one reply; returns them
 * (each checked against the request id). */
static struct xensim_msg **collect(struct xensim_evq *q, struct xensim_guest **g, int n,
				   const uint32_t *ids)
{
	struct xensim_msg **m = calloc((size_t)n, sizeof(*m));
	double end = tu_now() + 120;
	int done = 0;

	CHECK(m);
	while (done < n) {
		CHECK(tu_now() < end);
		CHECK_RC(xensim_evq_run(q, 100));
		for (int i = 0; i < n; i++) {
			if (m[i] || !(m[i] = xensim_guest_reply(g[i])))
				continue;
			CHECK(m[i]->req_id == ids[i]);
			done++;
		}
	}
	return m;
}

static void free_all(struct xensim_msg **m, int n)
{
	for (int i = 0; i < n; i++)
		free(m[i]);
	free(m);
}

/* Every event queued so far on g, counted; those for path only. */
static int events_for(struct xensim_guest *g, const char *path)
{
	struct xensim_msg *ev;
	int k = 0;

	while ((ev = xensim_guest_watch_event(g))) {
		k += !strcmp(ev->body, path);
		free(ev);
	}
	return k;
}

/* All guests at once: a relative watch on their subtree, a transaction
 * each (start; write + commit pipelined), and the watch event of the
 * commit. */
static void txn_watch_all(struct xensim_evq *q, struct xensim_guest **g, int n)
{
	uint32_t *ids = calloc((size_t)n, sizeof(*ids)), *ids2 = calloc((size_t)n, sizeof(*ids2));
	uint32_t *tx = calloc((size_t)n, sizeof(*tx));
	struct xensim_msg **m;
	double end;
	int seen;

	CHECK(ids && ids2 && tx);
	for (int i = 0; i < n; i++)
		CHECK_RC(xensim_guest_send(g[i], XS_WATCH, 0, "data\0all", 9, &ids[i]));
	m = collect(q, g, n, ids);
	for (int i = 0; i < n; i++)
		CHECK(m[i]->type == XS_WATCH && !strcmp(m[i]->body, "OK"));
	free_all(m, n);
	for (int i = 0; i < n; i++)
		CHECK_RC(xensim_guest_send(g[i], XS_TRANSACTION_START, 0, "", 1, &ids[i]));
	m = collect(q, g, n, ids);
	for (int i = 0; i < n; i++) {
		CHECK(m[i]->type == XS_TRANSACTION_START);
		tx[i] = (uint32_t)atoi(m[i]->body);
		CHECK(tx[i] != 0);
	}
	free_all(m, n);
	for (int i = 0; i < n; i++) {
		CHECK_RC(xensim_guest_send(g[i], XS_WRITE, tx[i], "data/all\0v", 10, &ids[i]));
		CHECK_RC(xensim_guest_send(g[i], XS_TRANSACTION_END, tx[i], "T", 2, &ids2[i]));
	}
	m = collect(q, g, n, ids);
	for (int i = 0; i < n; i++)
		CHECK(m[i]->type == XS_WRITE && m[i]->tx_id == tx[i]);
	free_all(m, n);
	m = collect(q, g, n, ids2);
	for (int i = 0; i < n; i++)
		CHECK(m[i]->type == XS_TRANSACTION_END && !strcmp(m[i]->body, "OK"));
	free_all(m, n);
	/* Each guest hears of its own commit (relative path), once. */
	end = tu_now() + 60;
	seen = 0;
	for (int i = 0; i < n; i++) {
		int k = events_for(g[i], "data/all");

		while (!k) {
			CHECK(tu_now() < end);
			CHECK_RC(xensim_evq_run(q, 100));
			k = events_for(g[i], "data/all");
		}
		CHECK(k == 1);
		seen++;
	}
	CHECK(seen == n);
	for (int i = 0; i < n; i++)
		CHECK_RC(xensim_guest_send(g[i], XS_UNWATCH, 0, "data\0all", 9, &ids[i]));
	m = collect(q, g, n, ids);
	free_all(m, n);
	free(ids);
	free(ids2);
	free(tx);
}

/* A transaction and a watch of its own subtree, over the ring. */
static void txn_and_watch(struct xensim_guest *g)
{
	struct xensim_msg *m, *ev;
	char tx[16], *val;
	uint32_t txid;

	CHECK_RC(xensim_guest_watch(g, "data", "tw"));
	CHECK_RC(xensim_guest_wait_watch(g, &ev, TMO));
	CHECK(!strcmp(ev->body, "data"));
	free(ev);
	CHECK_RC(guest_req(g, XS_TRANSACTION_START, 0, "", 1, &m));
	snprintf(tx, sizeof(tx), "%s", m->body);
	free(m);
	txid = (uint32_t)atoi(tx);
	CHECK(txid != 0);
	CHECK_RC(guest_req(g, XS_WRITE, txid, "data/t\0in-tx", 12, NULL));
	/* Not visible outside before the commit, no event yet. */
	CHECK(xensim_guest_read(g, "data/t", &val, NULL) == -ENOENT);
	CHECK(xensim_guest_wait_watch(g, &ev, 200) == -ETIMEDOUT);
	CHECK_RC(guest_req(g, XS_TRANSACTION_END, txid, "T", 2, NULL));
	CHECK_RC(xensim_guest_wait_watch(g, &ev, TMO));
	CHECK(!strcmp(ev->body, "data/t")); /* relative watch, relative event */
	free(ev);
	CHECK_RC(xensim_guest_read(g, "data/t", &val, NULL));
	CHECK(!strcmp(val, "in-tx"));
	free(val);
	CHECK_RC(xensim_guest_unwatch(g, "data", "tw"));
}

static void isolation(struct xensim_guest *a, uint32_t da, struct xensim_guest *b, uint32_t db)
{
	struct xensim_msg *m, *ev;
	char path[256], *val;
	static const uint32_t priv_ops[] = { XS_INTRODUCE, XS_RELEASE, XS_IS_DOMAIN_INTRODUCED,
					     XS_RESUME, XS_SET_TARGET, XS_CONTROL };
	char args[64];
	int l;

	snprintf(path, sizeof(path), "%s", domain_path(db, "data/secret"));
	CHECK_RC(xensim_guest_write(b, "data/secret", "s"));
	CHECK(xensim_guest_read(a, path, &val, NULL) == -EACCES);
	CHECK(xensim_guest_write(a, path, "x") == -EACCES);
	CHECK(xensim_guest_rm(a, path) == -EACCES);
	CHECK(xensim_guest_directory(a, domain_path(db, NULL), &val, NULL) == -EACCES);
	CHECK(xensim_guest_write(a, "/outside", "x") == -EACCES);
	/* A watch is allowed, but no event about a node it may not read. */
	CHECK_RC(xensim_guest_watch(a, path, "spy"));
	while (xensim_guest_wait_watch(a, &ev, 200) == 0)
		free(ev); /* the initial firing */
	CHECK_RC(xensim_guest_write(b, "data/secret", "t"));
	CHECK(xensim_guest_wait_watch(a, &ev, 300) == -ETIMEDOUT);
	CHECK_RC(xensim_guest_unwatch(a, path, "spy"));
	/* Privileged ops. */
	l = snprintf(args, sizeof(args), "%u%c0%c1", db, 0, 0) + 1;
	for (unsigned i = 0; i < sizeof(priv_ops) / sizeof(priv_ops[0]); i++)
		CHECK(guest_req(a, priv_ops[i], 0, args, (uint32_t)l, NULL) == -EACCES);
	/* Relative paths resolve under its home; it owns what it creates. */
	CHECK_RC(xensim_guest_write(a, "mine/x", "1"));
	CHECK_RC(xensim_sock_read(ts, domain_path(da, "mine/x"), &val, NULL));
	CHECK(!strcmp(val, "1"));
	free(val);
	CHECK_RC(sock_req(XS_GET_PERMS, domain_path(da, "mine/x"),
			  (uint32_t)strlen(domain_path(da, "mine/x")) + 1, &m));
	snprintf(args, sizeof(args), "n%u", da);
	CHECK(!strcmp(m->body, args));
	free(m);
	/* SET_TARGET: a acts for b (a device model), then may read b's. */
	l = snprintf(args, sizeof(args), "%u%c%u", da, 0, db) + 1;
	CHECK_RC(sock_req(XS_SET_TARGET, args, (uint32_t)l, NULL));
	CHECK_RC(xensim_guest_read(a, path, &val, NULL));
	CHECK(!strcmp(val, "t"));
	free(val);
	printf("ok: isolation, relative paths, ownership, SET_TARGET\n");
}

static void domain_op_errors(uint32_t live)
{
	char args[64];
	int l;

	/* INTRODUCE: three arguments, port not 0. */
	CHECK(sock_req(XS_INTRODUCE, "1\0002", 4, NULL) == -EINVAL);
	CHECK(sock_req(XS_INTRODUCE, "1\0002\0000", 6, NULL) == -EINVAL);
	/* RELEASE / RESUME: domid 0 EINVAL, unknown ENOENT. */
	CHECK(sock_req(XS_RELEASE, "0", 2, NULL) == -EINVAL);
	CHECK(sock_req(XS_RELEASE, "4000", 5, NULL) == -ENOENT);
	CHECK(sock_req(XS_RESUME, "0", 2, NULL) == -EINVAL);
	CHECK(sock_req(XS_RESUME, "4000", 5, NULL) == -ENOENT);
	l = snprintf(args, sizeof(args), "%u", live) + 1;
	CHECK_RC(sock_req(XS_RESUME, args, (uint32_t)l, NULL));
	/* SET_TARGET: both must be introduced. */
	l = snprintf(args, sizeof(args), "%u%c4000", live, 0) + 1;
	CHECK(sock_req(XS_SET_TARGET, args, (uint32_t)l, NULL) == -ENOENT);
	CHECK(sock_req(XS_SET_TARGET, "1", 2, NULL) == -EINVAL);
	CHECK(!introduced(4000));
	CHECK(introduced(0x7ff0)); /* DOMID_SELF */
	printf("ok: domain op argument checks\n");
}

/* Count events for path on the socket until quiet. */
static int drain(const char *path, int quiet_ms)
{
	struct xensim_msg *ev;
	int n = 0;

	while (xensim_sock_wait_watch(ts, &ev, quiet_ms) == 0) {
		n += !strcmp(ev->body, path);
		free(ev);
	}
	return n;
}

static void wait_gone(struct xensim_sim *sim, uint32_t domid)
{
	struct xensim_dominfo di;
	double end = tu_now() + 30;

	while (xensim_domain_info(sim, domid, &di) == 0) {
		CHECK(tu_now() < end);
		usleep(5000);
	}
}

int main(int argc, char **argv)
{
	char simdir[300], rundir[300], sockpath[320];
	struct xensim_guest **g, *stall = NULL;
	struct xensim_evq *q, *qstall;
	struct xensim_sim *sim;
	struct xensim_msg *m;
	uint32_t *dom, dstall = 0;
	const char *tmp;
	char *val;
	pid_t daemon;
	int n = argc > 3 ? atoi(argv[3]) : 50;

	if (argc < 3) {
		fprintf(stderr, "usage: %s PRELOAD MXENSTORED [N]\n", argv[0]);
		return 2;
	}
	CHECK(n >= 4 && n <= 2000);
	g = calloc((size_t)n, sizeof(*g));
	dom = calloc((size_t)n, sizeof(*dom));
	CHECK(g && dom);
	daemon = tu_host_start("xensim-guests", argv[2], argv[1], simdir, rundir, sockpath,
			       &sim, &tmp);
	CHECK_RC(xensim_sock_open(sockpath, &ts));
	CHECK_RC(xensim_evq_open(sim, &q));
	CHECK_RC(xensim_evq_open(sim, &qstall));
	CHECK_RC(xensim_sock_write(ts, "/dom0/keep", "kept"));
	CHECK_RC(xensim_sock_watch(ts, "@releaseDomain", "rel"));
	CHECK_RC(xensim_sock_watch(ts, "@introduceDomain", "intro"));
	drain("", 200);
	for (int i = 0; i <= n; i++) {
		uint32_t d;
		char perms[16];

		CHECK_RC(xensim_domain_create(sim, XENSIM_ANY_DOMID, &d));
		CHECK_RC(xensim_sock_mkdir(ts, domain_path(d, NULL)));
		snprintf(perms, sizeof(perms), "n%u", d);
		CHECK_RC(xensim_sock_set_perms(ts, domain_path(d, NULL), perms,
					       (uint32_t)strlen(perms)));
		if (i < n) {
			dom[i] = d;
			CHECK_RC(xensim_guest_attach(q, d, &g[i]));
			CHECK_RC(xensim_sock_introduce(ts, d, xensim_domain_mfn(d),
						       xensim_guest_port(g[i])));
		} else {
			dstall = d;
			CHECK_RC(xensim_guest_attach(qstall, d, &stall));
			CHECK_RC(xensim_sock_introduce(ts, d, xensim_domain_mfn(d),
						       xensim_guest_port(stall)));
		}
	}
	/* One @introduceDomain per introduction (as the C daemon). */
	CHECK(drain("@introduceDomain", 300) == n + 1);
	CHECK(xensim_guest_server_features(g[0]) ==
	      (XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR));
	printf("ok: %d domains introduced\n", n + 1);

	traffic(q, g, dom, n);
	printf("ok: %d guests, 4096-byte payloads across the wrap, pipelined, in order\n", n);
	txn_watch_all(q, g, n);
	printf("ok: %d guests: watch, transaction, commit event, all in flight\n", n);
	txn_and_watch(g[0]);
	printf("ok: transaction and relative watch over the ring\n");
	isolation(g[1], dom[1], g[2], dom[2]);
	domain_op_errors(dom[3]);

	/* A guest that never reads its replies: big reads pile up until the
	 * daemon stops reading its ring; what it accepted stays bounded. */
	{
		char req[64];
		uint32_t pushed;

		CHECK_RC(xensim_guest_write(stall, "v", ""));
		{
			static char body[BIG + 8], v[BIG + 1];

			big_value(v, dstall, 0);
			memcpy(body, "v", 2);
			memcpy(body + 2, v, BIG);
			CHECK_RC(guest_req(stall, XS_WRITE, 0, body, BIG + 2, NULL));
		}
		pushed = tu_flood_reads(stall, 8u << 20, req);
		/* 1 MiB of queued 4 KB replies is ~256 requests: far below. */
		CHECK(pushed < (64u << 10));
		/* Everyone else is served meanwhile. */
		traffic(q, g, dom, n);
		/* Reconnection mid-stream: half a request, then the handshake;
		 * afterwards the guest works normally. */
		CHECK(xensim_guest_write_raw(stall, req, 10) >= 0);
		CHECK_RC(xensim_guest_reconnect(stall, TMO));
		CHECK_RC(xensim_guest_read(stall, "v", &val, NULL));
		CHECK(strlen(val) == BIG);
		free(val);
		CHECK_RC(xensim_guest_write(stall, "after", "reconnect"));
		printf("ok: a guest not reading replies is bounded (%u bytes taken), "
		       "others served; reconnection mid-stream recovers it\n", pushed);
	}

	/* A guest notifying in a tight loop does not stop the others. */
	for (int i = 0; i < 20000; i++)
		CHECK_RC(xensim_evq_notify(q, dom[4], xensim_guest_port(g[4])));
	CHECK_RC(xensim_guest_write(g[5], "data/still", "here"));
	CHECK_RC(xensim_guest_write(g[4], "data/alive", "1")); /* and itself */
	printf("ok: notify storm survived\n");

	/* A guest destroyed mid-transaction: its write never lands. */
	{
		char tx[16];

		CHECK_RC(guest_req(g[6], XS_TRANSACTION_START, 0, "", 1, &m));
		snprintf(tx, sizeof(tx), "%s", m->body);
		free(m);
		CHECK(guest_req(g[6], XS_WRITE, (uint32_t)atoi(tx), "/dom0/tx\0no", 11, NULL) ==
		      -EACCES);
		CHECK_RC(guest_req(g[6], XS_WRITE, (uint32_t)atoi(tx), "data/tx\0no", 10, NULL));
		drain("", 100);
		xensim_guest_detach(g[6]);
		CHECK_RC(xensim_domain_destroy(sim, dom[6], false));
		wait_gone(sim, dom[6]);
		CHECK(!introduced(dom[6]));
		CHECK(drain("@releaseDomain", 300) == 1);
		CHECK(xensim_sock_read(ts, domain_path(dom[6], "data/tx"), &val, NULL) == -ENOENT);
		g[6] = NULL;
		printf("ok: guest destroyed mid-transaction released, its write never landed\n");
	}

	/* RELEASE by the toolstack: event, ring unmapped, no longer known. */
	{
		struct xensim_dominfo di;
		char args[16];
		int l = snprintf(args, sizeof(args), "%u", dom[7]) + 1;

		CHECK_RC(sock_req(XS_RELEASE, args, (uint32_t)l, NULL));
		CHECK(!introduced(dom[7]));
		CHECK(drain("@releaseDomain", 300) == 1);
		CHECK_RC(xensim_domain_info(sim, dom[7], &di));
		CHECK(di.maps == 0);
		CHECK(sock_req(XS_RELEASE, args, (uint32_t)l, NULL) == -ENOENT);
		/* The nodes it owned went with it (XSA-415), its home too. */
		CHECK(xensim_sock_read(ts, domain_path(dom[7], NULL), &val, NULL) == -ENOENT);
		/* Given a home and introduced again, it works again. */
		l = snprintf(args, sizeof(args), "n%u", dom[7]);
		CHECK_RC(xensim_sock_mkdir(ts, domain_path(dom[7], NULL)));
		CHECK_RC(xensim_sock_set_perms(ts, domain_path(dom[7], NULL), args, (uint32_t)l));
		CHECK_RC(xensim_sock_introduce(ts, dom[7], xensim_domain_mfn(dom[7]),
					       xensim_guest_port(g[7])));
		CHECK_RC(xensim_guest_write(g[7], "data/again", "1"));
		drain("", 100);
		printf("ok: RELEASE and re-INTRODUCE\n");
	}

	/* INTRODUCE of an introduced domain rebinds its port and resets its
	 * connection, as in the C daemon: its watch is gone, it still works. */
	{
		struct xensim_msg *ev;

		CHECK_RC(xensim_guest_watch(g[9], "data", "before"));
		CHECK_RC(xensim_guest_wait_watch(g[9], &ev, TMO));
		free(ev);
		CHECK_RC(xensim_sock_introduce(ts, dom[9], xensim_domain_mfn(dom[9]),
					       xensim_guest_port(g[9])));
		CHECK(introduced(dom[9]));
		CHECK(drain("@introduceDomain", 200) == 0); /* not a new domain */
		CHECK_RC(xensim_guest_write(g[9], "data/rebound", "1"));
		CHECK(xensim_guest_wait_watch(g[9], &ev, 300) == -ETIMEDOUT);
		CHECK_RC(xensim_guest_read(g[9], "data/rebound", &val, NULL));
		free(val);
		printf("ok: INTRODUCE again rebinds and resets the connection\n");
	}

	/* XSA-322: a domain re-created with a dead one's domid inherits
	 * none of its permissions. */
	{
		struct xensim_guest *again;
		char perms[32];
		uint32_t d = dom[8], got;
		int l = snprintf(perms, sizeof(perms), "n0%cr%u", 0, d) + 1;

		CHECK_RC(xensim_sock_write(ts, "/dom0/shared", "for-8"));
		CHECK_RC(xensim_sock_set_perms(ts, "/dom0/shared", perms, (uint32_t)l));
		CHECK_RC(xensim_guest_read(g[8], "/dom0/shared", &val, NULL));
		free(val);
		xensim_guest_detach(g[8]);
		g[8] = NULL;
		CHECK_RC(xensim_domain_destroy(sim, d, false));
		wait_gone(sim, d);
		CHECK(drain("@releaseDomain", 300) == 1);
		CHECK_RC(xensim_domain_create(sim, d, &got));
		CHECK(got == d);
		l = snprintf(perms, sizeof(perms), "n%u", d);
		CHECK_RC(xensim_sock_mkdir(ts, domain_path(d, NULL)));
		CHECK_RC(xensim_sock_set_perms(ts, domain_path(d, NULL), perms, (uint32_t)l));
		CHECK_RC(xensim_guest_attach(q, d, &again));
		CHECK_RC(xensim_sock_introduce(ts, d, xensim_domain_mfn(d),
					       xensim_guest_port(again)));
		CHECK_RC(xensim_guest_write(again, "data/new", "1")); /* its home */
		CHECK(xensim_guest_read(again, "/dom0/shared", &val, NULL) == -EACCES);
		CHECK_RC(sock_req(XS_GET_PERMS, "/dom0/shared", 13, &m));
		CHECK(m->len == 3 && !strcmp(m->body, "n0"));
		free(m);
		g[8] = again;
		drain("", 100);
		printf("ok: a reused domid inherits no permission (XSA-322)\n");
	}

	/* Death storm: everyone at once. */
	{
		int live = 0, events;
		double t0 = tu_now();

		for (int i = 0; i < n; i++) {
			if (!g[i])
				continue;
			xensim_guest_detach(g[i]);
			CHECK_RC(xensim_domain_destroy(sim, dom[i], false));
			live++;
		}
		xensim_guest_detach(stall);
		CHECK_RC(xensim_domain_destroy(sim, dstall, false));
		live++;
		for (int i = 0; i < n; i++)
			if (g[i])
				wait_gone(sim, dom[i]);
		wait_gone(sim, dstall);
		events = drain("@releaseDomain", 500);
		CHECK(events == live);
		for (int i = 0; i < n; i++) {
			CHECK(!introduced(dom[i]));
			/* Every node it owned is gone (XSA-415). */
			CHECK(xensim_sock_read(ts, domain_path(dom[i], NULL), &val, NULL) ==
			      -ENOENT);
		}
		CHECK_RC(xensim_sock_directory(ts, "/local/domain", &val, NULL));
		CHECK(val[0] == '\0' || !strcmp(val, "0")); /* nothing left of the guests */
		free(val);
		CHECK_RC(xensim_sock_read(ts, "/dom0/keep", &val, NULL));
		CHECK(!strcmp(val, "kept"));
		free(val);
		CHECK_RC(sock_req(XS_CONTROL, "check", 6, NULL));
		/* The daemon counts what it holds and how often it swept. */
		CHECK_RC(sock_req(XS_CONTROL, "memreport", 10, &m));
		{
			const char *dl = strstr(m->body, "domains: ");
			const char *sw = strstr(m->body, "domain sweeps: ");
			struct xensim_stats st;

			CHECK(dl && atoi(dl + 9) == 1); /* dom0 alone */
			CHECK(sw);
			xensim_stats(sim, &st);
			/* One getinfolist sweep per VIRQ_DOM_EXC delivery at
			 * most (deliveries coalesce while the port is masked). */
			CHECK(atoi(sw + 15) >= 1 && (uint64_t)atoi(sw + 15) <= st.virq);
			printf("ok: death storm of %d domains: %d @releaseDomain, all released and "
			       "unmapped, dom0 untouched, store check clean, %d sweeps for %llu "
			       "VIRQs raised (%.2f s)\n",
			       live, events, atoi(sw + 15), (unsigned long long)st.virq,
			       tu_now() - t0);
		}
		free(m);
	}
	CHECK(tu_alive(daemon));
	xensim_evq_close(q);
	xensim_evq_close(qstall);
	xensim_sock_close(ts);
	kill(daemon, SIGTERM);
	CHECK(tu_wait(daemon, 10) == 0);
	xensim_close(sim);
	free(g);
	free(dom);
	printf("PASS\n");
	return 0;
}
