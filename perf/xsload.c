/* SPDX-License-Identifier: MIT */
/*
 * xsload: whole-daemon load over the Unix socket.
 *
 *   xsload --socket PATH [--clients N] [--seconds S] [--write-pct P]
 *          [--nodes K] [--pipeline D] [--label NAME]
 *
 * N client threads, each with its own connection, issue READs and WRITEs
 * (P percent writes) on K nodes under /perf/<client>/, keeping D requests
 * in flight per connection, for S seconds.  Every reply is checked (a READ
 * must return what that client last wrote there).  Prints one parseable
 * line:
 *
 *   xsload label=NAME clients=N ops=... ops_per_s=... p50_us=... p99_us=...
 *          errors=0
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

struct opts {
	const char *socket;
	const char *label;
	int clients, seconds, write_pct, nodes, pipeline;
};

struct client {
	pthread_t thr;
	const struct opts *o;
	int id, fd;
	unsigned rnd;
	uint64_t ops, errors;
	uint32_t *lat_us; /* one sample per completed op, capped */
	size_t nlat, caplat;
	uint32_t *version; /* last value written per node */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int xconnect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int full_write(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

static int full_read(int fd, void *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p = (char *)p + r;
		n -= (size_t)r;
	}
	return 0;
}

struct inflight {
	uint32_t type, node, version;
	double t0;
};

static int send_req(struct client *c, struct inflight *f, uint32_t req_id)
{
	char buf[sizeof(struct mxs_msg_hdr) + 128];
	struct mxs_msg_hdr *h = (struct mxs_msg_hdr *)buf;
	char *p = buf + sizeof(*h);
	int n;

	f->node = (uint32_t)rand_r(&c->rnd) % (uint32_t)c->o->nodes;
	f->type = rand_r(&c->rnd) % 100 < c->o->write_pct
			  ? MXS_OP_WRITE
			  : MXS_OP_READ;
	n = snprintf(p, 100, "/perf/%d/n%u", c->id, f->node) + 1;
	if (f->type == MXS_OP_WRITE) {
		f->version = ++c->version[f->node];
		n += snprintf(p + n, 20, "%u", f->version);
	} else {
		/* Replies come in order: a READ sees every earlier WRITE. */
		f->version = c->version[f->node];
	}
	h->type = f->type;
	h->req_id = req_id;
	h->tx_id = 0;
	h->len = (uint32_t)n;
	f->t0 = now_s();
	return full_write(c->fd, buf, sizeof(*h) + (size_t)n);
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	const struct opts *o = c->o;
	struct inflight *fl = calloc((size_t)o->pipeline, sizeof(*fl));
	char payload[MXS_PAYLOAD_MAX + 1];
	struct mxs_msg_hdr h;
	double end;
	uint32_t i, next = 0, outstanding;
	int k;

	c->version = calloc((size_t)o->nodes, sizeof(*c->version));
	c->fd = xconnect(o->socket);
	if (c->fd < 0 || !fl || !c->version) {
		c->errors++;
		return NULL;
	}
	/* Create the nodes with version 0. */
	for (k = 0; k < o->nodes; k++) {
		char buf[160];
		struct mxs_msg_hdr *q = (struct mxs_msg_hdr *)buf;
		int n = snprintf(buf + sizeof(*q), 100, "/perf/%d/n%d", c->id,
				 k) + 1;

		n += snprintf(buf + sizeof(*q) + n, 8, "0");
		*q = (struct mxs_msg_hdr){ MXS_OP_WRITE, 0, 0, (uint32_t)n };
		if (full_write(c->fd, buf, sizeof(*q) + (size_t)n) ||
		    full_read(c->fd, &h, sizeof(h)) ||
		    full_read(c->fd, payload, h.len)) {
			c->errors++;
			return NULL;
		}
	}
	end = now_s() + o->seconds;
	for (i = 0; i < (uint32_t)o->pipeline; i++)
		if (send_req(c, &fl[i], next++)) {
			c->errors++;
			return NULL;
		}
	outstanding = (uint32_t)o->pipeline;
	while (outstanding) {
		struct inflight *f;
		double t1;

		if (full_read(c->fd, &h, sizeof(h)) ||
		    h.len > MXS_PAYLOAD_MAX || full_read(c->fd, payload, h.len)) {
			c->errors++;
			break;
		}
		t1 = now_s();
		f = &fl[h.req_id % (uint32_t)o->pipeline];
		payload[h.len] = '\0';
		if (h.type != f->type)
			c->errors++;
		else if (f->type == MXS_OP_READ &&
			 strtoul(payload, NULL, 10) != f->version)
			c->errors++;
		if (c->nlat < c->caplat)
			c->lat_us[c->nlat++] = (uint32_t)((t1 - f->t0) * 1e6);
		c->ops++;
		outstanding--;
		if (t1 < end) {
			if (send_req(c, f, h.req_id + (uint32_t)o->pipeline)) {
				c->errors++;
				break;
			}
			outstanding++;
		}
	}
	close(c->fd);
	free(fl);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "clients", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 't' },
		{ "write-pct", required_argument, NULL, 'w' },
		{ "nodes", required_argument, NULL, 'n' },
		{ "pipeline", required_argument, NULL, 'p' },
		{ "label", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { NULL, "daemon", 8, 5, 10, 16, 1 };
	struct client *cl;
	uint32_t *all;
	size_t nall = 0;
	uint64_t ops = 0, errors = 0;
	double t0, t1;
	int i, opt;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 's': o.socket = optarg; break;
		case 'c': o.clients = atoi(optarg); break;
		case 't': o.seconds = atoi(optarg); break;
		case 'w': o.write_pct = atoi(optarg); break;
		case 'n': o.nodes = atoi(optarg); break;
		case 'p': o.pipeline = atoi(optarg); break;
		case 'l': o.label = optarg; break;
		default: return 2;
		}
	}
	if (!o.socket || o.clients < 1 || o.seconds < 1 || o.nodes < 1 ||
	    o.pipeline < 1 || o.pipeline > 64) {
		fprintf(stderr, "usage: xsload --socket PATH [--clients N] "
				"[--seconds S] [--write-pct P] [--nodes K] "
				"[--pipeline D] [--label NAME]\n");
		return 2;
	}
	cl = calloc((size_t)o.clients, sizeof(*cl));
	t0 = now_s();
	for (i = 0; i < o.clients; i++) {
		cl[i].o = &o;
		cl[i].id = i;
		cl[i].rnd = (unsigned)i * 2654435761u + 1;
		cl[i].caplat = 1u << 20;
		cl[i].lat_us = malloc(cl[i].caplat * sizeof(uint32_t));
		pthread_create(&cl[i].thr, NULL, client_main, &cl[i]);
	}
	for (i = 0; i < o.clients; i++) {
		pthread_join(cl[i].thr, NULL);
		ops += cl[i].ops;
		errors += cl[i].errors;
		nall += cl[i].nlat;
	}
	t1 = now_s();
	all = malloc((nall + 1) * sizeof(*all));
	nall = 0;
	for (i = 0; i < o.clients; i++) {
		memcpy(all + nall, cl[i].lat_us, cl[i].nlat * sizeof(*all));
		nall += cl[i].nlat;
		free(cl[i].lat_us);
		free(cl[i].version);
	}
	qsort(all, nall, sizeof(*all), cmp_u32);
	printf("xsload label=%s clients=%d pipeline=%d write_pct=%d ops=%llu "
	       "ops_per_s=%.0f p50_us=%u p99_us=%u errors=%llu\n",
	       o.label, o.clients, o.pipeline, o.write_pct,
	       (unsigned long long)ops, (double)ops / (t1 - t0),
	       nall ? all[nall / 2] : 0, nall ? all[nall * 99 / 100] : 0,
	       (unsigned long long)errors);
	free(all);
	free(cl);
	return errors ? 1 : 0;
}
