/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: arbitrary bytes from two unprivileged guests (domains
 * 1 and 2) through the path a guest's bytes take in the daemon: each
 * guest writes into the request ring of its page (the guest role of
 * rings/ring.c), the daemon reads it as a ring connection
 * (core/ringconn.c: mxs_ringconn_new, mxs_ringconn_serve) and frames and
 * dispatches it as that domain (core/conn.c, core/ops.c), with the
 * quotas and the write rate limit of unprivileged domains; the guest
 * reads the replies from the response ring, which is what lets the
 * daemon go on (outstanding quota, output limit).  The page is anonymous
 * memory and no port is bound: without Xen, the harness does what the
 * event channel would (serve the ring when bytes are there).
 *
 * The daemon must never crash or leak, and after every input:
 *   - the store's consistency check passes;
 *   - every node the guests may not write keeps its value, permissions
 *     and children: / (dom0 only), /tool, /tool/xenstored, /local,
 *     /guard (dom0 only), /guard/ro (readable by both guests),
 *     /guard/hidden (dom0 only); and /local/domain/1/dom0 (dom0's,
 *     readable by domain 1, in domain 1's home) keeps them as long as
 *     it exists (domain 1 may remove its own home with it, as in the C
 *     daemon: RM needs write permission on the node removed only).
 *
 * No guest reads /guard/hidden (a READ reply with its value), and no
 * message to a guest is longer than the payload limit.
 * A guest that corrupts its ring's index must get RINGIDX in the page's
 * error field and not be served any more, until it reconnects.
 *
 * Input: [1 byte: flags; once domain 1's part is answered, bit 1:
 * domain 1 stores a corrupt request index, then bit 0: domain 1 asks
 * for a ring reconnection] [2 bytes: length of domain 1's part,
 * little-endian, at most what follows] then domain 1's request stream,
 * then domain 2's.  The two streams go into the rings interleaved, 97
 * bytes of each per batch, as the daemon consumes them; so requests of
 * the two guests interleave (transactions conflict, watches fire on the
 * other's changes).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/daemon.h"
#include "tests/inproc.h"
#include "core/domain.h"
#include "store/rcu.h"
#include "tests/fuzz/fuzz.h"

#define NGUESTS 2

struct fuzz_guest {
	struct mxs_domain *dom;  /* daemon side; dom->conn holds a ref */
	struct mxs_ring ring;    /* the guest's view of the page */
	bool notified;           /* moved an index since the last batch */
	/* Replies and events read, parsed from the front. */
	size_t in_len;
	char in[sizeof(struct mxs_msg_hdr) + MXS_PAYLOAD_MAX];
};

static struct mxs_daemon d;
static struct mxs_worker w;
static struct fuzz_guest guests[NGUESTS];

static const struct mxs_caller dom0 = { 0, MXS_NO_TARGET, true, false };

/* Nodes the guests can never write: always there, never changed. */
static const char *const guarded[] = {
	"/", "/tool", "/tool/xenstored", "/local", "/guard", "/guard/ro",
	"/guard/hidden",
};
/* In domain 1's home: unchanged while it exists. */
static const char dom1_node[] = "/local/domain/1/dom0";

#define NGUARDED (sizeof(guarded) / sizeof(guarded[0]))
static struct mxs_buf snap[NGUARDED + 1];

/*
 * /guard/hidden's value: random at start, so no input can hold it, and
 * compared only through its hash, so that libFuzzer's comparison hooks
 * (memcmp, strcmp) never see it and cannot put it into an input: a
 * guest that reads it has read a node it may not read.
 */
static char secret[33];
static uint64_t secret_hash;

static uint64_t hash(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */

	while (n--)
		h = (h ^ *b++) * 0x100000001b3u;
	return h;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char dir[] = "/tmp/mxs-fuzz-guest-XXXXXX";

	const char *trace = getenv("MXS_FUZZ_TRACE");

	signal(SIGPIPE, SIG_IGN);
	rcu_register_thread();
	/* The daemon's defaults: the guests' quotas are the real ones. */
	if (mxs_inproc_init(&d, &w, 1))
		abort();
	/* To read what an input does: the daemon's trace (-T) of every
	 * request and reply, to the file named (before the chdir). */
	if (trace && mxs_trace_open(&d, trace))
		abort();
	if (!mkdtemp(dir) || chdir(dir))
		abort();
	{
		unsigned char r[16];
		unsigned int i;

		if (getrandom(r, sizeof(r), 0) != sizeof(r))
			abort();
		for (i = 0; i < sizeof(r); i++)
			snprintf(secret + 2 * i, 3, "%02x", r[i]);
		secret_hash = hash(secret, strlen(secret));
	}
	return 0;
}

static void perms(const char *path, const char *spec)
{
	struct mxs_perm p[4];
	struct mxs_changes ch = { 0 };
	unsigned int n = 0;

	for (; *spec; spec += strlen(spec) + 1, n++) {
		p[n].mode = spec[0] == 'n'   ? MXS_PERM_NONE
			    : spec[0] == 'r' ? MXS_PERM_READ
			    : spec[0] == 'w' ? MXS_PERM_WRITE
					     : MXS_PERM_READ | MXS_PERM_WRITE;
		p[n].domid = (uint32_t)atoi(spec + 1);
	}
	CHECK(mxs_store_set_perms(d.store, NULL, &dom0, path, p, n, &ch) ==
	      0);
	mxs_changes_clear(&ch);
	free(ch.v);
}

static void node(const char *path, const char *val, const char *spec)
{
	struct mxs_changes ch = { 0 };

	CHECK(mxs_store_write(d.store, NULL, &dom0, path, val, strlen(val),
			      &ch) == 0);
	mxs_changes_clear(&ch);
	free(ch.v);
	perms(path, spec);
}

/* Removes every node, then builds the tree a toolstack would have made
 * for two guests, and the guarded nodes. */
static void reset_store(void)
{
	static const struct mxs_perm n0 = { 0, MXS_PERM_NONE };
	struct mxs_buf kids = { 0 };
	struct mxs_changes ch = { 0 };
	size_t off;
	char path[4200];

	CHECK(mxs_store_directory(d.store, NULL, &dom0, "/", &kids) == 0);
	for (off = 0; off < kids.len; off += strlen(kids.p + off) + 1) {
		snprintf(path, sizeof(path), "/%s", kids.p + off);
		mxs_store_rm(d.store, NULL, &dom0, path, &ch);
	}
	mxs_changes_clear(&ch);
	free(ch.v);
	mxs_buf_free(&kids);
	perms("/", "n0\0");
	node("/tool/xenstored", "", "n0\0");
	perms("/tool", "n0\0");
	node("/local/domain/1", "", "n1\0");
	node("/local/domain/2", "", "n2\0");
	perms("/local/domain", "n0\0");
	perms("/local", "n0\0");
	node("/local/domain/1/dom0", "set by dom0", "n0\0r1\0");
	node("/local/domain/2/private", "domain 2's", "n2\0");
	node("/local/domain/1/shared", "both write", "n1\0b2\0");
	node("/guard/ro", "read-only for guests", "n0\0r1\0r2\0");
	node("/guard/hidden", secret, "n0\0");
	perms("/guard", "n0\0");
	CHECK(mxs_store_set_special_perms(d.store, &dom0, "@introduceDomain",
					  &n0, 1) == 0);
	CHECK(mxs_store_set_special_perms(d.store, &dom0, "@releaseDomain",
					  &n0, 1) == 0);
}

/* Value, permissions and children of path as dom0 sees them; -errno of
 * the read when it does not exist. */
static int describe(const char *path, struct mxs_buf *out)
{
	int rc = mxs_store_read(d.store, NULL, &dom0, path, out);

	if (rc)
		return rc;
	CHECK(mxs_buf_add(out, "\0|", 2) == 0);
	CHECK(mxs_store_get_perms(d.store, NULL, &dom0, path, out) == 0);
	CHECK(mxs_buf_add(out, "\0|", 2) == 0);
	CHECK(mxs_store_directory(d.store, NULL, &dom0, path, out) == 0);
	return 0;
}

static void snapshot(void)
{
	size_t i;

	for (i = 0; i < NGUARDED; i++)
		CHECK(describe(guarded[i], &snap[i]) == 0);
	CHECK(describe(dom1_node, &snap[NGUARDED]) == 0);
}

/* By hash, not memcmp: the descriptions hold the secret. */
static bool same(const struct mxs_buf *a, const struct mxs_buf *b)
{
	return a->len == b->len && hash(a->p, a->len) == hash(b->p, b->len);
}

static void check_guarded(void)
{
	struct mxs_buf now = { 0 };
	size_t i;

	for (i = 0; i < NGUARDED; i++) {
		now.len = 0;
		if (describe(guarded[i], &now) || !same(&now, &snap[i])) {
			fprintf(stderr, "guarded node %s changed\n",
				guarded[i]);
			abort();
		}
	}
	now.len = 0;
	if (describe(dom1_node, &now) == 0 && !same(&now, &snap[NGUARDED])) {
		fprintf(stderr, "guarded node %s changed\n", dom1_node);
		abort();
	}
	for (i = 0; i <= NGUARDED; i++)
		mxs_buf_free(&snap[i]);
	mxs_buf_free(&now);
}

/* A domain as INTRODUCE would leave it (core/domain.c), on anonymous
 * memory (kva: the close unmaps it) with no port bound. */
static void guest_new(struct fuzz_guest *g, uint32_t domid)
{
	struct mxs_domain *dom = calloc(1, sizeof(*dom));
	struct mxs_ring_page *page;

	CHECK(dom);
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(page != MAP_FAILED);
	dom->domid = domid;
	dom->w = &w;
	dom->page = page;
	dom->kva = true;
	dom->features = MXS_RING_DAEMON_FEATURES;
	mxs_ring_init(&dom->ring, page, MXS_RING_DAEMON);
	mxs_ring_set_features(&dom->ring, dom->features);
	dom->conn = mxs_ringconn_new(&w, dom);
	CHECK(dom->conn);
	mxs_conn_get(dom->conn); /* dom's, as in domain.c */
	__atomic_store_n(&dom->ready, 1, __ATOMIC_RELAXED);
	d.domtab[domid] = dom;
	g->dom = dom;
	g->notified = false;
	g->in_len = 0;
	mxs_ring_init(&g->ring, page, MXS_RING_GUEST);
}

static void guest_free(struct fuzz_guest *g)
{
	struct mxs_domain *dom = g->dom;

	d.domtab[dom->domid] = NULL;
	mxs_quota_reset_domain(&d.cfg.quota, dom->domid);
	mxs_conn_put(dom->conn); /* after the burial below */
	free(dom);
	g->dom = NULL;
}

static bool guest_open(const struct fuzz_guest *g)
{
	return !g->dom->conn->closed;
}

/* Checks every whole message in g->in: never longer than the payload
 * limit, and no READ answers the secret. */
static void guest_parse(struct fuzz_guest *g)
{
	const size_t hl = sizeof(struct mxs_msg_hdr);
	struct mxs_msg_hdr hdr;
	size_t off = 0;

	while (g->in_len - off >= hl) {
		memcpy(&hdr, g->in + off, hl);
		CHECK(hdr.len <= MXS_PAYLOAD_MAX);
		if (g->in_len - off < hl + hdr.len)
			break;
		if (hdr.type == MXS_OP_READ &&
		    hash(g->in + off + hl, hdr.len) == secret_hash) {
			fprintf(stderr, "domain %u read /guard/hidden\n",
				g->dom->domid);
			abort();
		}
		off += hl + hdr.len;
	}
	memmove(g->in, g->in + off, g->in_len - off);
	g->in_len -= off;
}

/* The guest reads every reply and event there is.  Bytes read. */
static size_t guest_drain(struct fuzz_guest *g)
{
	size_t total = 0;
	ssize_t n;

	if (!guest_open(g))
		return 0; /* closed: the page is unmapped */
	while ((n = mxs_ring_read(&g->ring, g->in + g->in_len,
				  sizeof(g->in) - g->in_len)) > 0) {
		total += (size_t)n;
		g->in_len += (size_t)n;
		guest_parse(g);
	}
	g->notified |= total > 0;
	return total;
}

/*
 * One batch of the worker loop (core/worker.c) without the event
 * channel: every ring whose guest notified is served (as on a pending
 * port, core/ringconn.c), and every ring the re-check after the unmask
 * would serve (mxs_ringconn_has_work), then the connections the
 * budget left over, replies flushed, notifications dropped (the guests
 * here look at their rings without them), connections held back by the
 * write rate limit let go.  Their bucket is refilled first: the limit
 * runs on the clock, and an input must have the same outcome however
 * fast it runs (whether a write waits for the next batch or not).
 */
static void batch(void)
{
	struct mxs_conn *c;
	int i;

	for (i = 0; i < NGUESTS; i++) {
		c = guests[i].dom->conn;
		c->wrl_stamp = 0; /* full burst at the next write */
		if (guests[i].notified || mxs_ringconn_has_work(c))
			mxs_ringconn_serve(c);
		guests[i].notified = false;
	}
	mxs_worker_run_delayed(&w, UINT64_MAX);
	while ((c = w.again)) {
		w.again = c->next_again;
		c->again = false;
		if (!c->closed)
			mxs_ringconn_serve(c);
		mxs_conn_put(c);
	}
	mxs_worker_service_dirty(&w);
	while ((c = w.notify)) {
		w.notify = c->next_notify;
		c->moved = false;
		mxs_conn_put(c);
	}
	mxs_worker_bury(&w);
	mxs_rcu_quiescent();
}

/* A hostile guest: a request producer index 2000 bytes ahead of the
 * daemon's consumer index.  The daemon must report RINGIDX in the
 * page's error field and serve the ring no more (until a
 * reconnection). */
static void corrupt(struct fuzz_guest *g)
{
	struct mxs_ring_page *page;

	/* Only a ring the daemon reads now (not held back) can be seen to
	 * be corrupt at once. */
	if (!guest_open(g) || !mxs_conn_can_serve(g->dom->conn))
		return;
	page = g->dom->page;
	__atomic_store_n(&page->req_prod,
			 __atomic_load_n(&page->req_cons, __ATOMIC_RELAXED) +
				 2000,
			 __ATOMIC_RELEASE);
	g->notified = true;
	batch();
	if (guest_open(g)) {
		CHECK(mxs_ring_error(&g->ring) == MXS_RING_ERR_RINGIDX);
		CHECK(g->dom->conn->stopped);
	}
}

/* The reconnection handshake from the guest's side
 * (xenstore-ring.txt). */
static void reconnect(struct fuzz_guest *g)
{
	if (!guest_open(g))
		return;
	mxs_ring_request_reconnect(&g->ring);
	g->notified = true;
	batch();
	if (guest_open(g) && mxs_ring_connected(&g->ring)) {
		mxs_ring_reset(&g->ring);
		g->in_len = 0; /* a partial reply is gone with the rest */
	}
}

/* One guest's request stream and how much of it is in its ring. */
struct fuzz_stream {
	const uint8_t *p;
	size_t n, off;
};

/* Bytes each guest writes per batch: the two streams interleave, and
 * messages straddle batches. */
#define CHUNK 97

/*
 * Writes both streams into the guests' request rings, CHUNK bytes each
 * per batch as the daemon makes room, until nothing moves any more
 * (all taken and answered, or stopped, held back or closed).  Once
 * domain 1 has written all of its stream and a batch moved nothing on
 * its ring (its requests are all answered), it may turn hostile
 * (flags bit 1: corrupt) and/or reconnect (bit 0), once.
 */
static void feed(struct fuzz_stream *st, uint8_t flags)
{
	unsigned int idle = 0, i;
	bool ended = false;

	while (idle < 2) {
		bool moved = false, moved1;
		uint32_t cons1 = guest_open(&guests[0])
					 ? __atomic_load_n(
						   &guests[0].dom->page->req_cons,
						   __ATOMIC_RELAXED)
					 : 0;

		for (i = 0; i < NGUESTS; i++) {
			struct fuzz_guest *g = &guests[i];
			size_t n = st[i].n - st[i].off;
			ssize_t k;

			if (!guest_open(g) || !n)
				continue;
			k = mxs_ring_write(&g->ring, st[i].p + st[i].off,
					   n < CHUNK ? n : CHUNK);
			if (k > 0) {
				st[i].off += (size_t)k;
				g->notified = true;
				moved = true;
			}
		}
		batch();
		moved1 = guest_drain(&guests[0]) > 0;
		moved |= moved1 | (guest_drain(&guests[1]) > 0);
		moved1 |= guest_open(&guests[0]) &&
			  __atomic_load_n(&guests[0].dom->page->req_cons,
					  __ATOMIC_RELAXED) != cons1;
		if (!ended && st[0].off == st[0].n && !moved1) {
			ended = true;
			if (flags & 2)
				corrupt(&guests[0]);
			if (flags & 1)
				reconnect(&guests[0]);
			moved = true;
		}
		idle = moved ? 0 : idle + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mxs_buf report = { 0 };
	struct fuzz_stream st[NGUESTS];
	size_t split;
	int i;

	if (size < 3 || size > 65536)
		return 0;
	reset_store();
	snapshot();
	guest_new(&guests[0], 1);
	guest_new(&guests[1], 2);
	split = (size_t)data[1] | (size_t)data[2] << 8;
	if (split > size - 3)
		split = size - 3;
	split += 3;
	st[0] = (struct fuzz_stream){ data + 3, split - 3, 0 };
	st[1] = (struct fuzz_stream){ data + split, size - split, 0 };
	feed(st, data[0]);
	if (mxs_store_check(d.store, &report)) {
		fprintf(stderr, "store check: %.*s\n", (int)report.len,
			report.p);
		abort();
	}
	mxs_buf_free(&report);
	check_guarded();
	for (i = 0; i < NGUESTS; i++)
		if (guest_open(&guests[i]))
			mxs_conn_close(guests[i].dom->conn);
	mxs_worker_run_delayed(&w, UINT64_MAX);
	mxs_worker_service_dirty(&w);
	while (w.again) {
		struct mxs_conn *c = w.again;

		w.again = c->next_again;
		c->again = false;
		mxs_conn_put(c);
	}
	while (w.notify) {
		struct mxs_conn *c = w.notify;

		w.notify = c->next_notify;
		c->moved = false;
		mxs_conn_put(c);
	}
	mxs_worker_bury(&w);
	for (i = 0; i < NGUESTS; i++)
		guest_free(&guests[i]);
	mxs_rcu_quiescent();
	return 0;
}
