/* SPDX-License-Identifier: MIT */
/*
 * mxenstored: start-up, the accept loop and shutdown.
 *
 * The main thread owns the listening socket and the signals; it hands each
 * accepted connection to a worker (round robin) and never touches the
 * store while the workers run.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "store/rcu.h"

#include "core/daemon.h"
#include "core/domain.h"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: mxenstored [options]\n"
"\n"
"  -N, --no-fork           stay in the foreground,\n"
"  -D, --no-domain-init    do not initialise dom0's ring (socket only),\n"
"  -F, --pid-file <file>   write the daemon's pid to <file>,\n"
"  -P, --output-pid        print the daemon's pid on stdout,\n"
"  -T, --trace-file <file> trace every message in and out to <file>,\n"
"  -V, --verbose           log connections and protocol errors,\n"
"  -H, --help              print this message,\n"
"      --socket <path>     listen on <path> (default\n"
"                          $XENSTORED_RUNDIR/socket, XENSTORED_RUNDIR\n"
"                          defaulting to /var/run/xenstored),\n"
"      --workers <n>       worker threads (default: online CPUs),\n"
"      --io <auto|uring|epoll>  how workers wait and move socket bytes:\n"
"                          io_uring, or epoll with read/write; auto\n"
"                          (default): io_uring when it can be set up,\n"
"                          else epoll with a log line,\n"
"  -E, --entry-nb <nb>     nodes a domain may own (default 1000),\n"
"  -S, --entry-size <size> size of a node (default 2048),\n"
"  -W, --watch-nb <nb>     watches of a domain (default 128),\n"
"  -t, --transaction <nb>  open transactions of a domain (default 10),\n"
"  -A, --perm-nb <nb>      permission entries of a node (default 5),\n"
"  -M, --path-max <chars>  relative path length (default and cap 2048),\n"
"  -Q, --quota <what>=<nb> any quota: nodes, watches, transactions,\n"
"                          outstanding (20), transaction-nodes (1024),\n"
"                          memory (2621440), node-size, permissions,\n"
"                          path-max; 0 disables one,\n"
"  -q, --quota-soft <what>=<nb>  memory (2097152): warning level,\n"
"  -w, --timeout <what>=<seconds>  watch-event (default 20),\n"
"      --strict-conflicts  a commit fails when anything it touched changed,\n"
"                          including children added to a node whose child\n"
"                          list it never read (the C xenstored's rule),\n"
"  -m, --master-domid <d>  the domain whose ring xsd_kva maps (default 0),\n"
"  -p, --priv-domid <d>    a domain privileged like dom0,\n"
"      --dominfo-plugin <file>  the domain-info plugin (default: next to\n"
"                          this program, else the installed one).\n");
}

static int parse_args(int argc, char **argv, struct mxs_config *cfg)
{
	static const struct option opts[] = {
		{ "no-fork", no_argument, NULL, 'N' },
		{ "no-domain-init", no_argument, NULL, 'D' },
		{ "pid-file", required_argument, NULL, 'F' },
		{ "output-pid", no_argument, NULL, 'P' },
		{ "trace-file", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'H' },
		{ "socket", required_argument, NULL, 's' },
		{ "workers", required_argument, NULL, 'w' + 256 },
		{ "io", required_argument, NULL, 'i' + 256 },
		{ "entry-nb", required_argument, NULL, 'E' },
		{ "entry-size", required_argument, NULL, 'S' },
		{ "watch-nb", required_argument, NULL, 'W' },
		{ "transaction", required_argument, NULL, 't' },
		{ "perm-nb", required_argument, NULL, 'A' },
		{ "path-max", required_argument, NULL, 'M' },
		{ "quota", required_argument, NULL, 'Q' },
		{ "quota-soft", required_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 'w' },
		{ "strict-conflicts", no_argument, NULL, 'S' + 256 },
		{ "master-domid", required_argument, NULL, 'm' },
		{ "priv-domid", required_argument, NULL, 'p' },
		{ "dominfo-plugin", required_argument, NULL, 'd' + 256 },
		{ NULL, 0, NULL, 0 },
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char *end;
	int o;

	cfg->workers = ncpu > 0 ? (unsigned int)ncpu : 1;
	cfg->priv_domid = 0;
	mxs_quota_defaults(&cfg->quota);
	while ((o = getopt_long(argc, argv, "NDF:PT:VHm:p:E:S:W:t:A:M:Q:q:w:",
				opts, NULL)) != -1) {
		switch (o) {
		case 'E': case 'S': case 'W': case 't': case 'A': case 'M':
		case 'Q': case 'q': case 'w':
			if (mxs_quota_option(&cfg->quota, o, optarg))
				return -EINVAL;
			break;
		case 'N': cfg->no_fork = true; break;
		case 'D': cfg->no_domain_init = true; break;
		case 'F': cfg->pid_file = optarg; break;
		case 'P': cfg->output_pid = true; break;
		case 'T': cfg->trace_file = optarg; break;
		case 'V': cfg->verbose = true; break;
		case 'H': usage(stdout); exit(0);
		case 's': cfg->socket_path = optarg; break;
		case 'S' + 256: cfg->strict_conflicts = true; break;
		case 'd' + 256: cfg->dominfo_plugin = optarg; break;
		case 'i' + 256:
			if (!strcmp(optarg, "auto"))
				cfg->io = MXS_IO_AUTO;
			else if (!strcmp(optarg, "uring"))
				cfg->io = MXS_IO_URING;
			else if (!strcmp(optarg, "epoll"))
				cfg->io = MXS_IO_EPOLL;
			else {
				fprintf(stderr, "bad --io %s\n", optarg);
				return -EINVAL;
			}
			break;
		case 'm':
		case 'p': {
			/* As the C daemon: a number below the reserved ids. */
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || v >= MXS_DOMID_FIRST_RESERVED) {
				fprintf(stderr, "bad domid %s\n", optarg);
				return -EINVAL;
			}
			if (o == 'm')
				cfg->master_domid = (uint32_t)v;
			else
				cfg->priv_domid = (uint32_t)v;
			break;
		}
		case 'w' + 256:
			cfg->workers = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || cfg->workers < 1 || cfg->workers > 1024) {
				fprintf(stderr, "bad --workers %s\n", optarg);
				return -EINVAL;
			}
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static char *default_socket(void)
{
	const char *dir = getenv("XENSTORED_RUNDIR");
	char *p;

	if (!dir || !*dir)
		dir = "/var/run/xenstored";
	mkdir(dir, 0755); /* EEXIST is fine; bind() reports the rest */
	if (asprintf(&p, "%s/socket", dir) < 0)
		return NULL;
	return p;
}

/*
 * The socket appears under its name only once it listens (bound and
 * listening under "<path>.new", then renamed): a client that sees the
 * name never gets ECONNREFUSED.
 */
static int open_socket(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, n;

	n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s.new", path);
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path)) {
		fprintf(stderr, "socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(addr.sun_path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    chmod(addr.sun_path, 0600) < 0 || listen(fd, 1024) < 0 ||
	    rename(addr.sun_path, path) < 0) {
		int e = errno;

		fprintf(stderr, "cannot listen on %s: %s\n", path, strerror(e));
		unlink(addr.sun_path);
		close(fd);
		return -e;
	}
	return fd;
}

static void write_pid(const char *file)
{
	FILE *f = fopen(file, "w");

	if (!f) {
		mxs_log("cannot write pid file %s: %s", file, strerror(errno));
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

/* Forks into the background; stdio stays open until finish_daemonize(),
 * so that -P can print the daemon's pid (as the C daemon). */
static void daemonize(void)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid > 0)
		exit(0);
	setsid();
	pid = fork();
	if (pid < 0)
		exit(1);
	if (pid > 0)
		exit(0);
	if (chdir("/") < 0)
		exit(1);
}

static void finish_daemonize(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

/*
 * accept() failures that only time can cure (descriptor limits, kernel
 * memory): the listening socket is left alone for a while, longer each
 * time in a row it fails, so the daemon never spins on a connection it
 * cannot take; existing connections are served by the workers meanwhile.
 * Logged once per interval, with how many attempts failed.
 */
#define ACCEPT_BACKOFF_MIN_MS 10
#define ACCEPT_BACKOFF_MAX_MS 1000
#define ACCEPT_LOG_INTERVAL_S 10

struct accept_backoff {
	int delay_ms;         /* 0: not backing off */
	unsigned long failed; /* since the last log line */
	time_t logged;        /* when that line was written */
	int last_errno;
};

static bool accept_transient(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

static void accept_failed(struct accept_backoff *b, int e)
{
	time_t now = time(NULL);

	b->delay_ms = b->delay_ms ? b->delay_ms * 2 : ACCEPT_BACKOFF_MIN_MS;
	if (b->delay_ms > ACCEPT_BACKOFF_MAX_MS)
		b->delay_ms = ACCEPT_BACKOFF_MAX_MS;
	b->failed++;
	b->last_errno = e;
	if (now - b->logged >= ACCEPT_LOG_INTERVAL_S) {
		mxs_log("accept: %s (%lu failed attempts); new connections "
			"wait, retrying every %d ms at most", strerror(e),
			b->failed, ACCEPT_BACKOFF_MAX_MS);
		b->failed = 0;
		b->logged = now;
	}
}

static void accept_succeeded(struct accept_backoff *b)
{
	if (b->failed || b->logged)
		mxs_log("accept: connections are accepted again (%lu more "
			"failed attempts: %s)", b->failed,
			strerror(b->last_errno));
	*b = (struct accept_backoff){ 0 };
}

static void accept_loop(struct mxs_daemon *d, int sigfd)
{
	struct pollfd pfd[2] = { { .fd = d->listen_fd, .events = POLLIN },
				 { .fd = sigfd, .events = POLLIN } };
	struct accept_backoff backoff = { 0 };
	unsigned int next = 0;
	int n;

	for (;;) {
		/* While backing off the listening socket is not polled. */
		pfd[0].fd = backoff.delay_ms ? -1 : d->listen_fd;
		pfd[0].revents = 0;
		n = poll(pfd, 2, backoff.delay_ms ? backoff.delay_ms : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			mxs_log("poll: %s", strerror(errno));
			return;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					if (d->trace_path)
						mxs_trace_open(d,
							       d->trace_path);
				} else {
					return;
				}
			}
		}
		if (n == 0 || pfd[0].revents) {
			/* Readable, or the back-off interval is over. */
			for (;;) {
				int fd = accept4(d->listen_fd, NULL, NULL,
						 SOCK_CLOEXEC | SOCK_NONBLOCK);
				struct mxs_inbox_msg *m;

				if (fd < 0) {
					if (accept_transient(errno)) {
						accept_failed(&backoff, errno);
						break;
					}
					if (errno != EAGAIN && errno != EINTR &&
					    errno != ECONNABORTED)
						mxs_log("accept: %s",
							strerror(errno));
					if (errno != EINTR &&
					    errno != ECONNABORTED)
						break;
					continue;
				}
				if (backoff.delay_ms)
					accept_succeeded(&backoff);
				m = calloc(1, sizeof(*m));
				if (!m) {
					close(fd);
					accept_failed(&backoff, ENOMEM);
					break;
				}
				m->kind = MXS_INBOX_CONN;
				m->fd = fd;
				/* Relaxed: a unique, increasing number. */
				m->seq = __atomic_add_fetch(&d->conn_seq, 1,
							    __ATOMIC_RELAXED);
				mxs_worker_post(&d->workers[next], m);
				next = (next + 1) % d->nworkers;
			}
		}
	}
}

int main(int argc, char **argv)
{
	static struct mxs_daemon d = { .listen_fd = -1, .trace_fd = -1 };
	char *sock = NULL;
	sigset_t sigs;
	int sigfd, rc;

	if (parse_args(argc, argv, &d.cfg))
		return 2;
	mxs_log_init(d.cfg.no_fork, d.cfg.verbose);
	pthread_mutex_init(&d.trace_lock, NULL);
	if ((rc = mxs_commit_lock_init(&d))) {
		fprintf(stderr, "commit lock: %s\n", strerror(-rc));
		return 1;
	}
	if (!d.cfg.socket_path) {
		sock = default_socket();
		if (!sock)
			return 1;
		d.cfg.socket_path = sock;
	}
	if (d.cfg.trace_file && (rc = mxs_trace_open(&d, d.cfg.trace_file))) {
		fprintf(stderr, "cannot open trace file %s: %s\n",
			d.cfg.trace_file, strerror(-rc));
		return 1;
	}
	if (d.cfg.io != MXS_IO_EPOLL && (rc = mxs_uring_available())) {
		/* Containers often block io_uring: auto is served by epoll,
		 * an explicit --io uring is refused before the socket
		 * exists. */
		if (d.cfg.io == MXS_IO_URING) {
			mxs_log("io_uring unavailable (%s): not starting "
				"(--io uring)", strerror(-rc));
			return 1;
		}
		mxs_log("io_uring unavailable (%s): sockets through epoll",
			strerror(-rc));
		d.cfg.io = MXS_IO_EPOLL;
	} else if (d.cfg.io == MXS_IO_AUTO) {
		d.cfg.io = MXS_IO_URING;
	}
	d.listen_fd = open_socket(d.cfg.socket_path);
	if (d.listen_fd < 0)
		return 1;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* inherited by workers */

	if (!d.cfg.no_fork)
		daemonize();
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sigfd < 0) {
		mxs_log("signalfd: %s", strerror(errno));
		return 1;
	}
	if (d.cfg.pid_file)
		write_pid(d.cfg.pid_file);
	if (d.cfg.output_pid) {
		printf("%ld\n", (long)getpid());
		fflush(stdout);
	}
	if (!d.cfg.no_fork)
		finish_daemonize();

	rcu_register_thread();
	d.store = mxs_store_new();
	d.watches = mxs_watches_new();
	if (!d.store || !d.watches) {
		mxs_log("out of memory at start-up");
		return 1;
	}
	mxs_store_set_strict_conflicts(d.store, d.cfg.strict_conflicts);
	mxs_domain_store_quotas(&d);
	if (mxs_domains_init(&d)) {
		mxs_log("out of memory at start-up");
		return 1;
	}
	d.nworkers = d.cfg.workers;
	/* The main thread does not read the store while workers run. */
	mxs_rcu_offline();
	rc = mxs_workers_start(&d);
	if (rc) {
		mxs_log("cannot start workers: %s", strerror(-rc));
		return 1;
	}
	if (!d.cfg.no_domain_init) {
		if (!d.domains)
			mxs_log("no event channels: dom0's ring is not served "
				"(socket only, as with -D)");
		else if (mxs_domains_dom0(&d)) {
			mxs_log("cannot initialise dom0's ring");
			mxs_workers_stop(&d);
			return 1;
		}
	}
	if (d.cfg.no_fork)
		mxs_log("listening on %s with %u workers (%s)%s",
			d.cfg.socket_path, d.nworkers,
			d.cfg.io == MXS_IO_URING ? "io_uring" : "epoll",
			d.domains ? " and event channels" : "");

	accept_loop(&d, sigfd);

	mxs_workers_stop(&d);
	mxs_domains_fini(&d);
	close(d.listen_fd);
	unlink(d.cfg.socket_path);
	mxs_rcu_online();
	mxs_watches_free(d.watches);
	mxs_store_free(d.store);
	rcu_unregister_thread();
	if (d.trace_fd >= 0)
		close(d.trace_fd);
	free(d.trace_path);
	free(sock);
	close(sigfd);
	return 0;
}
