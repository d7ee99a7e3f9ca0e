/*
 * xensim: command-line front end of the simulator (build/xensim).
 * The simulation directory comes from --dir or $XENSIM_DIR.
 */
#include "tests/xensim/xensim.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/sched.h> /* SHUTDOWN_* */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xensim [--dir DIR] COMMAND [ARGS]\n"
		"  init                         create a fresh simulation (dom0 included)\n"
		"  create [DOMID|-n COUNT]      create domain(s); prints the domids\n"
		"  destroy [--force] DOMID...   kill domains (VIRQ_DOM_EXC fires)\n"
		"  shutdown --reason R DOMID... R: poweroff reboot suspend crash watchdog\n"
		"                               soft_reset or a number\n"
		"  list                         domid, state, uid, xenstore port, maps\n"
		"  info DOMID                   one domain (exit 1 if it does not exist)\n"
		"  port DOMID                   the domain's xenstore event channel\n"
		"  introduce [--socket P] DOMID...  XS_INTRODUCE as a toolstack does\n"
		"  release [--socket P] DOMID...    XS_RELEASE\n"
		"  stats                        event-channel counters\n"
		"DIR defaults to $XENSIM_DIR; the socket to $XENSTORED_PATH,\n"
		"$XENSTORED_RUNDIR/socket or /run/xenstored/socket.\n");
}

static int parse_reason(const char *s)
{
	static const char *names[] = { "poweroff", "reboot", "suspend", "crash",
				       "watchdog", "soft_reset" };
	char *end;
	long v;

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	v = strtol(s, &end, 0);
	return (*s && !*end && v >= 0 && v <= 255) ? (int)v : -1;
}

static int parse_domid(const char *s, uint32_t *d)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (!*s || *end || v >= 0x7FF0) {
		fprintf(stderr, "xensim: bad domid '%s'\n", s);
		return -1;
	}
	*d = (uint32_t)v;
	return 0;
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "xensim: %s: %s\n", what, strerror(-rc));
	return 1;
}

static int cmd_list(struct xensim_sim *sim, int argc, char **argv, bool one)
{
	struct xensim_dominfo di;
	uint32_t lo = 0, hi = 0x7FF0;

	if (one) {
		if (argc < 1 || parse_domid(argv[0], &lo))
			return 2;
		hi = lo + 1;
	} else {
		printf("%-6s %-22s %-10s %-5s %s\n", "domid", "state", "uid", "port", "maps");
	}
	for (uint32_t d = lo; d < hi; d++) {
		char state[32];

		if (xensim_domain_info(sim, d, &di))
			continue;
		if (di.dying)
			snprintf(state, sizeof(state), "dying");
		else if (di.shutdown)
			snprintf(state, sizeof(state), "shutdown(%u)", di.shutdown_reason);
		else
			snprintf(state, sizeof(state), "running");
		printf("%-6u %-22s %-10llu %-5u %u\n", d, state, (unsigned long long)di.uid,
		       di.xs_port, di.maps);
	}
	if (one && xensim_domain_info(sim, lo, &di))
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("XENSIM_DIR"), *sockpath = NULL;
	struct xensim_sim *sim = NULL;
	const char *cmd;
	int rc, ret = 0;

	while (argc > 1 && !strncmp(argv[1], "--", 2)) {
		if (!strcmp(argv[1], "--dir") && argc > 2) {
			dir = argv[2];
			argv += 2;
			argc -= 2;
		} else if (!strcmp(argv[1], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	argc -= 2;
	argv += 2;
	if (!dir) {
		fprintf(stderr, "xensim: set XENSIM_DIR or pass --dir\n");
		return 2;
	}
	if (!strcmp(cmd, "init")) {
		rc = xensim_init(dir);
		return rc ? fail("init", rc) : 0;
	}
	rc = xensim_open(dir, &sim);
	if (rc)
		return fail(dir, rc);

	if (!strcmp(cmd, "create")) {
		uint32_t d, want = XENSIM_ANY_DOMID;
		long count = 1;

		if (argc >= 2 && !strcmp(argv[0], "-n"))
			count = strtol(argv[1], NULL, 0);
		else if (argc >= 1 && parse_domid(argv[0], &want))
			ret = 2;
		for (long i = 0; !ret && i < count; i++) {
			rc = xensim_domain_create(sim, want, &d);
			if (rc) {
				ret = fail("create", rc);
				break;
			}
			printf("%u\n", d);
		}
	} else if (!strcmp(cmd, "destroy")) {
		bool force = false;

		for (int i = 0; i < argc; i++) {
			uint32_t d;

			if (!strcmp(argv[i], "--force")) {
				force = true;
				continue;
			}
			if (parse_domid(argv[i], &d)) {
				ret = 2;
				break;
			}
			rc = xensim_domain_destroy(sim, d, force);
			if (rc)
				ret = fail("destroy", rc);
		}
	} else if (!strcmp(cmd, "shutdown")) {
		int reason = -1;

		for (int i = 0; i < argc; i++) {
			uint32_t d;

			if (!strcmp(argv[i], "--reason") && i + 1 < argc) {
				reason = parse_reason(argv[++i]);
				if (reason < 0) {
					fprintf(stderr, "xensim: bad reason '%s'\n", argv[i]);
					ret = 2;
					break;
				}
				continue;
			}
			if (parse_domid(argv[i], &d)) {
				ret = 2;
				break;
			}
			rc = xensim_domain_shutdown(sim, d, reason < 0 ? SHUTDOWN_poweroff
								       : (unsigned)reason);
			if (rc)
				ret = fail("shutdown", rc);
		}
	} else if (!strcmp(cmd, "list")) {
		ret = cmd_list(sim, argc, argv, false);
	} else if (!strcmp(cmd, "info")) {
		ret = cmd_list(sim, argc, argv, true);
	} else if (!strcmp(cmd, "port")) {
		struct xensim_dominfo di;
		uint32_t d;

		if (argc < 1 || parse_domid(argv[0], &d))
			ret = 2;
		else if ((rc = xensim_domain_info(sim, d, &di)))
			ret = fail("port", rc);
		else
			printf("%u\n", di.xs_port);
	} else if (!strcmp(cmd, "introduce") || !strcmp(cmd, "release")) {
		bool intro = !strcmp(cmd, "introduce");
		struct xensim_sock *s = NULL;

		if (argc >= 2 && !strcmp(argv[0], "--socket")) {
			sockpath = argv[1];
			argc -= 2;
			argv += 2;
		}
		rc = xensim_sock_open(sockpath, &s);
		if (rc) {
			ret = fail("connect", rc);
			goto out;
		}
		for (int i = 0; i < argc; i++) {
			struct xensim_dominfo di;
			uint32_t d;

			if (parse_domid(argv[i], &d)) {
				ret = 2;
				break;
			}
			if (intro) {
				rc = xensim_domain_info(sim, d, &di);
				if (!rc)
					rc = xensim_sock_introduce(s, d, xensim_domain_mfn(d),
								   di.xs_port);
			} else {
				rc = xensim_sock_release(s, d);
			}
			if (rc)
				ret = fail(cmd, rc);
		}
		xensim_sock_close(s);
	} else if (!strcmp(cmd, "stats")) {
		struct xensim_stats st;

		xensim_stats(sim, &st);
		printf("notify %llu\ndeliver %llu\nlost %llu\nvirq %llu\n",
		       (unsigned long long)st.notify, (unsigned long long)st.deliver,
		       (unsigned long long)st.lost, (unsigned long long)st.virq);
	} else {
		usage(stderr);
		ret = 2;
	}
out:
	xensim_close(sim);
	return ret;
}
