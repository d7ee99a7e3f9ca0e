/* SPDX-License-Identifier: MIT */
/*
 * xsboot: a toolstack's boot storm and death storm over the Unix socket.
 *
 *   xsboot --socket PATH [--domains N] [--clients C] [--label NAME]
 *
 * C client threads (toolstack workers) build N domains' xenstore trees
 * the way libxl does, each in one transaction retried on EAGAIN: the
 * domain's home /local/domain/<id> (owner handed to the domain), ~20
 * nodes of name, memory, console, vif and vbd frontends, and the matching
 * backend directories under /local/domain/0/backend.  Then they tear every
 * domain down (one transaction each: rm the home and the backends).  Every
 * domain's tree is read back and checked between the phases.  Prints:
 *
 *   xsboot label=NAME domains=N clients=C build_s=... build_dom_per_s=...
 *          teardown_s=... eagain=... errors=0
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mxs/protocol.h"

struct run {
	const char *socket;
	int domains, clients;
	int next;          /* next domain to handle (atomic) */
	uint64_t eagain;   /* atomic */
	uint64_t errors;   /* atomic */
};

struct cl {
	int fd;
	uint32_t req;
	char buf[MXS_PAYLOAD_MAX + 1];
	struct mxs_msg_hdr h;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int io(int fd, void *p, size_t n, int wr)
{
	while (n) {
		ssize_t r = wr ? write(fd, p, n) : read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p = (char *)p + r;
		n -= (size_t)r;
	}
	return 0;
}

/* One request; returns 0 with the reply in c->buf, or the error name's
 * errno (EAGAIN...), or -1 on a broken connection. */
static int call(struct cl *c, uint32_t type, uint32_t tx, const void *p,
		size_t len)
{
	struct mxs_msg_hdr h = { type, ++c->req, tx, (uint32_t)len };

	if (io(c->fd, &h, sizeof(h), 1) || io(c->fd, (void *)p, len, 1))
		return -1;
	do {
		if (io(c->fd, &c->h, sizeof(c->h), 0) ||
		    c->h.len > MXS_PAYLOAD_MAX ||
		    io(c->fd, c->buf, c->h.len, 0))
			return -1;
	} while (c->h.type == MXS_OP_WATCH_EVENT);
	c->buf[c->h.len] = '\0';
	if (c->h.type == MXS_OP_ERROR)
		return strcmp(c->buf, "EAGAIN") == 0 ? EAGAIN : EIO;
	return 0;
}

static int callf(struct cl *c, uint32_t type, uint32_t tx, const char *a,
		 const char *b, size_t blen)
{
	char p[512];
	size_t n = strlen(a) + 1;

	memcpy(p, a, n);
	if (b) {
		memcpy(p + n, b, blen);
		n += blen;
	}
	return call(c, type, tx, p, n);
}

static const char *const leaves[][2] = {
	{ "name", "guest" },
	{ "memory/target", "1048576" },
	{ "memory/static-max", "1048576" },
	{ "cpu/0/availability", "online" },
	{ "cpu/1/availability", "online" },
	{ "console/port", "2" },
	{ "console/ring-ref", "1234" },
	{ "console/type", "xenconsoled" },
	{ "device/vif/0/backend", "" },
	{ "device/vif/0/state", "1" },
	{ "device/vif/0/mac", "00:16:3e:00:00:01" },
	{ "device/vbd/51712/backend", "" },
	{ "device/vbd/51712/state", "1" },
	{ "device/vbd/51712/virtual-device", "51712" },
	{ "control/shutdown", "" },
	{ "control/platform-feature-multiprocessor-suspend", "1" },
	{ "data", "" },
	{ "drivers", "" },
	{ "attr", "" },
	{ "error", "" },
};

/* Builds domain d in one transaction.  0, EAGAIN (retry), or error. */
static int build(struct cl *c, int d)
{
	char path[160], perms[40], val[32];
	uint32_t tx;
	size_t i;
	int rc, n;

	if ((rc = call(c, MXS_OP_TRANSACTION_START, 0, "", 1)))
		return rc;
	tx = (uint32_t)strtoul(c->buf, NULL, 10);
	snprintf(path, sizeof(path), "/local/domain/%d", d);
	rc = callf(c, MXS_OP_MKDIR, tx, path, NULL, 0);
	/* Hand the home to the domain, readable by dom0 (libxl's rule). */
	n = snprintf(perms, sizeof(perms), "n%d", d) + 1;
	n += snprintf(perms + n, sizeof(perms) - (size_t)n, "r0") + 1;
	if (!rc) {
		char p[200];
		size_t pl = strlen(path) + 1;

		memcpy(p, path, pl);
		memcpy(p + pl, perms, (size_t)n);
		rc = call(c, MXS_OP_SET_PERMS, tx, p, pl + (size_t)n);
	}
	for (i = 0; !rc && i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		snprintf(path, sizeof(path), "/local/domain/%d/%s", d,
			 leaves[i][0]);
		rc = callf(c, MXS_OP_WRITE, tx, path, leaves[i][1],
			   strlen(leaves[i][1]));
	}
	for (i = 0; !rc && i < 2; i++) {
		snprintf(path, sizeof(path),
			 "/local/domain/0/backend/%s/%d/%s/frontend-id",
			 i ? "vbd" : "vif", d, i ? "51712" : "0");
		n = snprintf(val, sizeof(val), "%d", d);
		rc = callf(c, MXS_OP_WRITE, tx, path, val, (size_t)n);
	}
	if (rc) {
		call(c, MXS_OP_TRANSACTION_END, tx, "F", 2);
		return rc < 0 ? EIO : rc;
	}
	return call(c, MXS_OP_TRANSACTION_END, tx, "T", 2);
}

static int check(struct cl *c, int d)
{
	char path[160];
	int rc;

	snprintf(path, sizeof(path), "/local/domain/%d/device/vif/0/mac", d);
	rc = callf(c, MXS_OP_READ, 0, path, NULL, 0);
	if (rc || strcmp(c->buf, "00:16:3e:00:00:01"))
		return EIO;
	snprintf(path, sizeof(path), "/local/domain/%d", d);
	rc = callf(c, MXS_OP_GET_PERMS, 0, path, NULL, 0);
	snprintf(path, sizeof(path), "n%d", d); /* the domain owns it */
	return rc || strcmp(c->buf, path) ? EIO : 0;
}

static int teardown(struct cl *c, int d)
{
	char path[160];
	uint32_t tx;
	int rc, i;

	if ((rc = call(c, MXS_OP_TRANSACTION_START, 0, "", 1)))
		return rc;
	tx = (uint32_t)strtoul(c->buf, NULL, 10);
	snprintf(path, sizeof(path), "/local/domain/%d", d);
	rc = callf(c, MXS_OP_RM, tx, path, NULL, 0);
	for (i = 0; !rc && i < 2; i++) {
		snprintf(path, sizeof(path), "/local/domain/0/backend/%s/%d",
			 i ? "vbd" : "vif", d);
		rc = callf(c, MXS_OP_RM, tx, path, NULL, 0);
	}
	if (rc) {
		call(c, MXS_OP_TRANSACTION_END, tx, "F", 2);
		return rc < 0 ? EIO : rc;
	}
	return call(c, MXS_OP_TRANSACTION_END, tx, "T", 2);
}

enum phase { BUILD, CHECK, TEARDOWN };
static enum phase phase;

static void *client_main(void *arg)
{
	struct run *r = arg;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct cl c = { 0 };
	int d, rc;

	c.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", r->socket);
	if (c.fd < 0 || connect(c.fd, (struct sockaddr *)&a, sizeof(a))) {
		__atomic_fetch_add(&r->errors, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	while ((d = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED)) <
	       r->domains) {
		d += 1; /* domids from 1 */
		do {
			rc = phase == BUILD ? build(&c, d)
			     : phase == CHECK ? check(&c, d)
					      : teardown(&c, d);
			if (rc == EAGAIN)
				__atomic_fetch_add(&r->eagain, 1,
						   __ATOMIC_RELAXED);
		} while (rc == EAGAIN);
		if (rc) {
			__atomic_fetch_add(&r->errors, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	close(c.fd);
	return NULL;
}

static double run_phase(struct run *r, enum phase p)
{
	pthread_t *t = calloc((size_t)r->clients, sizeof(*t));
	double t0 = now_s();
	int i;

	phase = p;
	r->next = 0;
	for (i = 0; i < r->clients; i++)
		pthread_create(&t[i], NULL, client_main, r);
	for (i = 0; i < r->clients; i++)
		pthread_join(t[i], NULL);
	free(t);
	return now_s() - t0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "domains", required_argument, NULL, 'd' },
		{ "clients", required_argument, NULL, 'c' },
		{ "label", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct run r = { .domains = 1000, .clients = 4 };
	const char *label = "daemon";
	double tb, tc, tt;
	int o;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 's': r.socket = optarg; break;
		case 'd': r.domains = atoi(optarg); break;
		case 'c': r.clients = atoi(optarg); break;
		case 'l': label = optarg; break;
		default: return 2;
		}
	}
	if (!r.socket || r.domains < 1 || r.domains >= 0x7ff0 ||
	    r.clients < 1) {
		fprintf(stderr, "usage: xsboot --socket PATH [--domains N] "
				"[--clients C] [--label NAME]\n");
		return 2;
	}
	tb = run_phase(&r, BUILD);
	tc = run_phase(&r, CHECK);
	tt = run_phase(&r, TEARDOWN);
	printf("xsboot label=%s domains=%d clients=%d build_s=%.2f "
	       "build_dom_per_s=%.0f check_s=%.2f teardown_s=%.2f "
	       "teardown_dom_per_s=%.0f eagain=%llu errors=%llu\n",
	       label, r.domains, r.clients, tb, r.domains / tb, tc, tt,
	       r.domains / tt, (unsigned long long)r.eagain,
	       (unsigned long long)r.errors);
	return r.errors ? 1 : 0;
}
