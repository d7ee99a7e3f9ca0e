/*
 * Debian's C xenstored 4.17, unmodified, under LD_PRELOAD=libxensim.so with
 * dom0 initialisation (no -D):
 *   - its socket works for xenstore-ls and test-xenstore;
 *   - dom0's ring (xsd_kva/xsd_port) is served;
 *   - N simulated domains are introduced as a toolstack does; each guest
 *     writes, reads, lists and watches its own /local/domain/<id> subtree
 *     over its ring, all guests concurrently from one event queue;
 *   - shutdown and destruction fire @releaseDomain; the daemon forgets
 *     destroyed domains, drops the nodes they owned, and unmaps their
 *     rings so the simulator can reap them; the survivors keep working.
 *
 * With XENSTORED naming oxenstored (Debian's 4.17) the same scenario
 * runs against it, plus the reconnection handshake, which it advertises.
 *
 * usage: test_cxenstored PRELOAD XENSTORED TEST_XENSTORE XENSTORE_LS [N]
 */
#include "tests/xensim/xensim.h"
#include "tests/xensim/testutil.h"

#include <xen/io/xs_wire.h>
#include <xen/sched.h>

#define TMO 30000 /* ms: generous, CI machines are noisy */

static const char *preload, *xenstored, *test_xenstore, *xenstore_ls;
static char simdir[300], rundir[300], sockpath[320];

static int run_client(const char *prog, const char *outfile)
{
	char env_path[400];
	char *argv[] = { (char *)prog, NULL };
	char *env[] = { env_path, NULL };

	snprintf(env_path, sizeof(env_path), "XENSTORED_PATH=%s", sockpath);
	return tu_wait(tu_spawn(argv, env, outfile), 120);
}

static bool file_contains(const char *path, const char *needle)
{
	char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static bool list_has(const char *list, uint32_t len, const char *name)
{
	for (uint32_t off = 0; off < len; off += (uint32_t)strlen(list + off) + 1)
		if (!strcmp(list + off, name))
			return true;
	return false;
}

/*
 * Count the watch events on s (those of path, or all with NULL) until none
 * arrives for quiet_ms.  With a path, the first one may take up to 30 s: a
 * loaded machine can delay the daemon's sweep by more than the quiet
 * period, and the test is of the event, not of its latency.
 */
static int drain_watches(struct xensim_sock *s, const char *path, int quiet_ms)
{
	struct xensim_msg *ev;
	int n = 0, wait = path ? 30000 : quiet_ms;

	while (xensim_sock_wait_watch(s, &ev, wait) == 0) {
		if (!path || !strcmp(ev->body, path))
			n++;
		free(ev);
		if (n)
			wait = quiet_ms;
	}
	return n;
}

static bool introduced(struct xensim_sock *s, uint32_t domid)
{
	struct xensim_msg *m;
	char buf[16];
	bool yes;

	snprintf(buf, sizeof(buf), "%u", domid);
	CHECK_RC(xensim_sock_call(s, XS_IS_DOMAIN_INTRODUCED, 0, buf,
				  (uint32_t)strlen(buf) + 1, &m, TMO));
	yes = m->body[0] == 'T';
	free(m);
	return yes;
}

int main(int argc, char **argv)
{
	struct xensim_sock *ts;	   /* toolstack */
	struct xensim_sock *watcher; /* @introduceDomain / @releaseDomain */
	struct xensim_guest *g[1024], *dom0;
	struct xensim_evq *evq;
	struct xensim_sim *sim;
	struct xensim_msg *ev;
	uint32_t domid[1024], len, ids[1024];
	char path[256], *val;
	const char *tmp;
	pid_t daemon;
	int n = 100, nrel;
	bool ocaml = false;

	if (argc < 5) {
		fprintf(stderr,
			"usage: %s PRELOAD XENSTORED TEST_XENSTORE XENSTORE_LS [N]\n",
			argv[0]);
		return 2;
	}
	preload = argv[1];
	xenstored = argv[2];
	test_xenstore = argv[3];
	xenstore_ls = argv[4];
	if (argc > 5)
		n = atoi(argv[5]);
	ocaml = tu_is_ocaml(xenstored);
	CHECK(n > 1 && n <= 1024);
	if (access(xenstored, X_OK)) {
		printf("SKIP: %s not installed\n", xenstored);
		return 77;
	}

	daemon = tu_host_start("xensim-cxs", xenstored, preload, simdir, rundir, sockpath,
			       &sim, &tmp);
	CHECK_RC(xensim_sock_open(sockpath, &ts));
	CHECK_RC(xensim_sock_open(sockpath, &watcher));

	/* Real clients on the socket. */
	{
		char out[400];

		snprintf(out, sizeof(out), "%s/xenstore-ls.out", tmp);
		CHECK_RC(xensim_sock_write(ts, "/xensim/probe", "ok"));
		CHECK(run_client(xenstore_ls, out) == 0);
		CHECK(file_contains(out, "probe = \"ok\""));
		snprintf(out, sizeof(out), "%s/test-xenstore.out", tmp);
		CHECK(run_client(test_xenstore, out) == 0);
		printf("ok: xenstore-ls and test-xenstore on the socket\n");
	}

	/* dom0's ring, set up by the daemon from xsd_kva/xsd_port. */
	CHECK_RC(xensim_evq_open(sim, &evq));
	CHECK_RC(xensim_guest_attach(evq, 0, &dom0));
	CHECK_RC(xensim_guest_read(dom0, "/xensim/probe", &val, &len));
	CHECK(len == 2 && !strcmp(val, "ok"));
	free(val);
	CHECK_RC(xensim_guest_write(dom0, "/xensim/from-dom0-ring", "ring0"));
	CHECK_RC(xensim_sock_read(ts, "/xensim/from-dom0-ring", &val, NULL));
	CHECK(!strcmp(val, "ring0"));
	free(val);
	printf("ok: dom0 ring served\n");

	CHECK_RC(xensim_sock_watch(watcher, "@introduceDomain", "intro"));
	CHECK_RC(xensim_sock_watch(watcher, "@releaseDomain", "release"));
	drain_watches(watcher, NULL, 300); /* the initial firings */

	/* Build and introduce n domains, as a toolstack does. */
	for (int i = 0; i < n; i++) {
		char perms[16];

		CHECK_RC(xensim_domain_create(sim, XENSIM_ANY_DOMID, &domid[i]));
		snprintf(path, sizeof(path), "/local/domain/%u", domid[i]);
		CHECK_RC(xensim_sock_mkdir(ts, path));
		snprintf(perms, sizeof(perms), "n%u", domid[i]);
		CHECK_RC(xensim_sock_set_perms(ts, path, perms, (uint32_t)strlen(perms)));
		CHECK_RC(xensim_guest_attach(evq, domid[i], &g[i]));
		CHECK_RC(xensim_sock_introduce(ts, domid[i], xensim_domain_mfn(domid[i]),
					       xensim_guest_port(g[i])));
	}
	CHECK(drain_watches(watcher, "@introduceDomain", 300) >= 1);
	for (int i = 0; i < n; i++)
		CHECK(introduced(ts, domid[i]));
	printf("ok: %d domains introduced\n", n);

	/* All guests write at once (relative paths), one event loop. */
	for (int i = 0; i < n; i++) {
		char body[64];
		int l = snprintf(body, sizeof(body), "data/key%cv%u", 0, domid[i]);

		CHECK_RC(xensim_guest_send(g[i], XS_WRITE, 0, body, (uint32_t)l, &ids[i]));
	}
	{
		int done = 0;
		double end = tu_now() + 60;

		while (done < n) {
			CHECK(tu_now() < end);
			CHECK_RC(xensim_evq_run(evq, 100));
			for (int i = 0; i < n; i++) {
				struct xensim_msg *m = xensim_guest_reply(g[i]);

				if (!m)
					continue;
				CHECK(m->req_id == ids[i]);
				CHECK(m->type == XS_WRITE);
				CHECK(!strcmp(m->body, "OK"));
				free(m);
				done++;
			}
		}
	}

	/* Each guest: read back (absolute), list, watch its subtree. */
	for (int i = 0; i < n; i++) {
		char want[300], tok[32];

		snprintf(path, sizeof(path), "/local/domain/%u/data/key", domid[i]);
		CHECK_RC(xensim_guest_read(g[i], path, &val, &len));
		snprintf(want, sizeof(want), "v%u", domid[i]);
		CHECK(!strcmp(val, want) && len == strlen(want));
		free(val);
		CHECK_RC(xensim_guest_write(g[i], "data/other", "x"));
		CHECK_RC(xensim_guest_directory(g[i], "data", &val, &len));
		CHECK(list_has(val, len, "key") && list_has(val, len, "other"));
		free(val);

		snprintf(path, sizeof(path), "/local/domain/%u/data", domid[i]);
		snprintf(tok, sizeof(tok), "tok%u", domid[i]);
		CHECK_RC(xensim_guest_watch(g[i], path, tok));
		/* A new watch fires once at once. */
		CHECK_RC(xensim_guest_wait_watch(g[i], &ev, TMO));
		CHECK(!strcmp(ev->body, path));
		free(ev);
		CHECK_RC(xensim_guest_write(g[i], "data/key", "changed"));
		CHECK_RC(xensim_guest_wait_watch(g[i], &ev, TMO));
		snprintf(want, sizeof(want), "%s/key", path);
		CHECK(!strcmp(ev->body, want));
		CHECK(!strcmp(ev->body + strlen(ev->body) + 1, tok));
		free(ev);
	}
	/* Guests are confined to their own subtree. */
	snprintf(path, sizeof(path), "/local/domain/%u/data/key", domid[1]);
	CHECK(xensim_guest_read(g[0], path, &val, &len) == -EACCES);
	CHECK(xensim_guest_write(g[0], path, "intruder") == -EACCES);
	printf("ok: %d guests wrote, read, listed and watched over their rings\n", n);

	/* Shutdown fires @releaseDomain; the domain stays introduced. */
	CHECK_RC(xensim_domain_shutdown(sim, domid[n - 1], SHUTDOWN_reboot));
	CHECK(drain_watches(watcher, "@releaseDomain", 500) >= 1);
	CHECK(introduced(ts, domid[n - 1]));
	printf("ok: shutdown fires @releaseDomain\n");

	/* Destroy the first half. */
	for (int i = 0; i < n / 2; i++)
		CHECK_RC(xensim_domain_destroy(sim, domid[i], false));
	nrel = drain_watches(watcher, "@releaseDomain", 500);
	CHECK(nrel >= 1);
	for (int i = 0; i < n / 2; i++) {
		struct xensim_dominfo di;
		double end = tu_now() + 30;

		CHECK(!introduced(ts, domid[i]));
		/* The daemon unmapped the ring: the domain is gone. */
		while (xensim_domain_info(sim, domid[i], &di) == 0) {
			CHECK(tu_now() < end);
			usleep(10000);
		}
		/* Nodes the dead domain owned are removed (4.17 without -K),
		 * including its home directory, which the toolstack handed
		 * over to it. */
		snprintf(path, sizeof(path), "/local/domain/%u/data/key", domid[i]);
		CHECK(xensim_sock_read(ts, path, &val, NULL) == -ENOENT);
		snprintf(path, sizeof(path), "/local/domain/%u", domid[i]);
		CHECK(xensim_sock_read(ts, path, &val, NULL) == -ENOENT);
		xensim_guest_detach(g[i]);
	}
	printf("ok: %d destroyed (%d @releaseDomain events): released, nodes gone, "
	       "rings unmapped\n",
	       n / 2, nrel);

	/* Survivors still work. */
	for (int i = n / 2; i < n; i++) {
		CHECK_RC(xensim_guest_read(g[i], "data/key", &val, &len));
		CHECK(!strcmp(val, "changed"));
		free(val);
		snprintf(path, sizeof(path), "/local/domain/%u/data/key", domid[i]);
		CHECK_RC(xensim_sock_read(ts, path, &val, NULL));
		free(val);
	}
	printf("ok: survivors unaffected\n");

	/* Reconnection handshake: oxenstored advertises it, the C daemon
	 * 4.17 does not. After it the guest starts afresh: its watch is gone,
	 * the store is not. */
	if (xensim_guest_server_features(g[n - 1]) & XENSTORE_SERVER_FEATURE_RECONNECTION) {
		CHECK(ocaml || tu_is_mxenstored(xenstored));
		CHECK_RC(xensim_guest_reconnect(g[n - 1], TMO));
		CHECK_RC(xensim_guest_read(g[n - 1], "data/key", &val, &len));
		CHECK(!strcmp(val, "changed"));
		free(val);
		CHECK_RC(xensim_guest_write(g[n - 1], "data/key", "after-reconnect"));
		CHECK(xensim_guest_wait_watch(g[n - 1], &ev, 300) == -ETIMEDOUT);
		printf("ok: reconnection handshake\n");
	} else {
		CHECK(!ocaml && !tu_is_mxenstored(xenstored));
		CHECK(xensim_guest_reconnect(g[n - 1], TMO) == -EOPNOTSUPP);
	}

	CHECK(tu_alive(daemon));
	{
		struct xensim_stats st;

		xensim_stats(sim, &st);
		printf("stats: notify %llu deliver %llu lost %llu virq %llu\n",
		       (unsigned long long)st.notify, (unsigned long long)st.deliver,
		       (unsigned long long)st.lost, (unsigned long long)st.virq);
	}
	xensim_guest_detach(dom0);
	for (int i = n / 2; i < n; i++)
		xensim_guest_detach(g[i]);
	xensim_evq_close(evq);
	xensim_sock_close(watcher);
	xensim_sock_close(ts);
	kill(daemon, SIGTERM);
	if (tu_is_mxenstored(xenstored))
		CHECK(tu_wait(daemon, 10) == 0); /* clean stop, no leak */
	else
		tu_wait(daemon, 10);
	xensim_close(sim);
	printf("PASS\n");
	return 0;
}
