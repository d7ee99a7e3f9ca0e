/*
 * Helpers shared by the xensim tests: checks, temporary directories, and
 * daemons started under LD_PRELOAD that die with the test.
 */
#ifndef XENSIM_TESTUTIL_H
#define XENSIM_TESTUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/xensim/xensim.h"

static pid_t tu_children[16];
static int tu_nchildren;
static char tu_tmpdir[256];
static bool tu_keep;
static bool tu_failed; /* a CHECK failed: show the daemon's log */
static pid_t tu_owner; /* forked children must not clean up */

/* The end of the daemon's log (tu_start_xenstored's daemon.log) on
 * stderr: what a failure in CI leaves to read, the directory being
 * removed. */
static inline void tu_print_log_tail(void)
{
	char path[300], buf[4001];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/daemon.log", tu_tmpdir);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fseek(f, -(long)(sizeof(buf) - 1), SEEK_END))
		rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	fprintf(stderr, "--- end of %s ---\n%s\n---\n", path, buf);
}

static inline void tu_cleanup(void)
{
	if (getpid() != tu_owner)
		return;
	for (int i = 0; i < tu_nchildren; i++) {
		if (tu_children[i] > 0) {
			kill(tu_children[i], SIGKILL);
			waitpid(tu_children[i], NULL, 0);
			tu_children[i] = 0;
		}
	}
	if (tu_failed && tu_tmpdir[0])
		tu_print_log_tail();
	if (tu_tmpdir[0] && !tu_keep) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tu_tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cleanup of %s failed\n", tu_tmpdir);
		tu_tmpdir[0] = '\0';
	}
}

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			tu_keep = getenv("XENSIM_KEEP") != NULL;               \
			tu_failed = true;                                      \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define CHECK_RC(expr)                                                         \
	do {                                                                   \
		int rc_ = (expr);                                              \
		if (rc_ < 0) {                                                 \
			fprintf(stderr, "%s:%d: %s = %d (%s)\n", __FILE__,     \
				__LINE__, #expr, rc_, strerror(-rc_));         \
			tu_keep = getenv("XENSIM_KEEP") != NULL;               \
			tu_failed = true;                                      \
			exit(1);                                               \
		}                                                              \
	} while (0)

static inline double tu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A guest that never reads its replies: pipelines READs of the relative
 * node "v" into its request ring until the ring stays full for a second
 * (the daemon stopped reading it) or max bytes went in.  Returns the
 * bytes pushed; *req gets one whole request (for a half-request resend).
 */
static inline uint32_t tu_flood_reads(struct xensim_guest *g, uint32_t max,
				      char req[16 + 2])
{
	const uint32_t hdr[4] = { 2 /* XS_READ */, 0, 0, 2 };
	const uint32_t rl = (uint32_t)sizeof(hdr) + 2;
	uint32_t pushed = 0;
	double quiet = tu_now() + 1.0;

	memcpy(req, hdr, sizeof(hdr));
	memcpy(req + sizeof(hdr), "v", 2);
	while (tu_now() < quiet && pushed < max) {
		uint32_t off = pushed % rl;
		int w = xensim_guest_write_raw(g, req + off, rl - off);

		CHECK(w >= 0);
		if (w == 0) {
			usleep(1000);
			continue;
		}
		pushed += (uint32_t)w;
		quiet = tu_now() + 1.0;
	}
	return pushed;
}

static void tu_on_signal(int sig)
{
	(void)sig;
	exit(1); /* runs tu_cleanup */
}

/* mkdtemp under $TMPDIR or /tmp; removed at exit (and on SIGTERM/SIGINT,
 * e.g. a CTest timeout). */
static inline const char *tu_mktemp(const char *name)
{
	const char *base = getenv("TMPDIR");

	snprintf(tu_tmpdir, sizeof(tu_tmpdir), "%s/%s.XXXXXX", base ? base : "/tmp", name);
	if (!mkdtemp(tu_tmpdir)) {
		perror("mkdtemp");
		exit(1);
	}
	tu_owner = getpid();
	atexit(tu_cleanup);
	signal(SIGTERM, tu_on_signal);
	signal(SIGINT, tu_on_signal);
	return tu_tmpdir;
}

/* Fork a child that dies with us (PDEATHSIG) and exec argv with extra
 * environment (NAME=VALUE strings, NULL-terminated); output to log. */
static inline pid_t tu_spawn(char *const argv[], char *const env[], const char *log)
{
	pid_t ppid = getpid();
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != ppid)
			_exit(127);
		for (int i = 0; env && env[i]; i++)
			putenv(env[i]);
		if (log) {
			int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
		}
		execv(argv[0], argv);
		perror(argv[0]);
		_exit(127);
	}
	if (tu_nchildren < 16)
		tu_children[tu_nchildren++] = pid;
	return pid;
}

/* Wait for a spawned child; returns its exit status or -1 on timeout
 * (then it is killed). */
static inline int tu_wait(pid_t pid, double timeout_s)
{
	double end = tu_now() + timeout_s;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			for (int i = 0; i < tu_nchildren; i++)
				if (tu_children[i] == pid)
					tu_children[i] = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		if (tu_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			for (int i = 0; i < tu_nchildren; i++)
				if (tu_children[i] == pid)
					tu_children[i] = 0;
			return -1;
		}
		usleep(2000);
	}
}

static inline bool tu_alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

static inline bool tu_wait_path(const char *path, double timeout_s)
{
	double end = tu_now() + timeout_s;
	struct stat st;

	while (stat(path, &st) < 0) {
		if (tu_now() > end)
			return false;
		usleep(5000);
	}
	return true;
}

/* Until a daemon accepts connections on the Unix socket path: a daemon
 * that binds before it listens (the reference ones) refuses connections
 * for a moment after the path appears. */
static inline bool tu_wait_listening(const char *path, double timeout_s)
{
	double end = tu_now() + timeout_s;
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(a.sun_path))
		return false;
	strcpy(a.sun_path, path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return false;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			close(fd);
			return true;
		}
		close(fd);
		if (tu_now() > end)
			return false;
		usleep(5000);
	}
}

static inline bool tu_is_ocaml(const char *bin)
{
	const char *base = strrchr(bin, '/');

	return strstr(base ? base : bin, "oxenstored") != NULL;
}

/* mxenstored: it advertises reconnection and reports ring errors. */
static inline bool tu_is_mxenstored(const char *bin)
{
	const char *base = strrchr(bin, '/');

	return strstr(base ? base : bin, "mxenstored") != NULL;
}

/*
 * Start a xenstore daemon under the simulator: the C xenstored
 * ("-N", XENSTORED_RUNDIR) or, if the binary is named oxenstored, the OCaml
 * one (config file in tmp; the preload moves its fixed socket path into
 * XENSTORED_RUNDIR); mxenstored is started as the C daemon is (it finds
 * its domain-info plugin next to itself; -V logs each domain's life).
 * Returns its pid; the socket is rundir/socket.
 */
static inline pid_t tu_start_xenstored(const char *bin, const char *preload,
				       const char *simdir, const char *rundir,
				       const char *tmp)
{
	static char env[3][400], cfg[400], log[400];
	char *denv[] = { env[0], env[1], env[2], NULL };
	snprintf(env[0], sizeof(env[0]), "XENSIM_DIR=%s", simdir);
	snprintf(env[1], sizeof(env[1]), "XENSTORED_RUNDIR=%s", rundir);
	snprintf(env[2], sizeof(env[2]), "LD_PRELOAD=%s", preload);
	snprintf(log, sizeof(log), "%s/daemon.log", tmp);
	if (tu_is_ocaml(bin)) {
		char *dargv[] = { (char *)bin, "--no-fork", "--config-file", cfg,
				  "--no-access-log", NULL };
		FILE *f;

		snprintf(cfg, sizeof(cfg), "%s/oxenstored.conf", tmp);
		f = fopen(cfg, "w");
		if (!f)
			return -1;
		fprintf(f, "pid-file = %s/oxenstored.pid\npersistent = false\n"
			   "xenstored-kva = /proc/xen/xsd_kva\n"
			   "xenstored-port = /proc/xen/xsd_port\n",
			tmp);
		fclose(f);
		return tu_spawn(dargv, denv, log);
	} else if (tu_is_mxenstored(bin)) {
		/* $MXS_DAEMON_TSAN_OPTIONS: the sanitizer options of the
		 * daemon alone (e.g. halt_on_error), not of the test. */
		static char tsan[400];
		const char *o = getenv("MXS_DAEMON_TSAN_OPTIONS");
		/* $MXS_DAEMON_ARG: one more option (--strict-conflicts). */
		char *extra = getenv("MXS_DAEMON_ARG");
		char *dargv[] = { (char *)bin, "-N", "-V", extra, NULL };
		char *menv[] = { env[0], env[1], env[2], tsan, NULL };

		snprintf(tsan, sizeof(tsan), "TSAN_OPTIONS=%s", o ? o : "");
		return tu_spawn(dargv, o ? menv : denv, log);
	} else {
		char *dargv[] = { (char *)bin, "-N", NULL };

		return tu_spawn(dargv, denv, log);
	}
}

/*
 * The tests' common set-up: a temporary directory named after the test
 * (*tmp), a fresh simulation in simdir (opened in *sim), the daemon bin
 * started on it with the preload, and its socket (sockpath) up.  Exits
 * through CHECK on any failure.  Returns the daemon's pid.
 */
static inline pid_t tu_host_start(const char *name, const char *bin,
				  const char *preload, char simdir[300],
				  char rundir[300], char sockpath[320],
				  struct xensim_sim **sim, const char **tmp)
{
	pid_t daemon;

	*tmp = tu_mktemp(name);
	snprintf(simdir, 300, "%s/sim", *tmp);
	snprintf(rundir, 300, "%s/run", *tmp);
	snprintf(sockpath, 320, "%s/socket", rundir);
	CHECK(mkdir(rundir, 0700) == 0);
	CHECK_RC(xensim_init(simdir));
	CHECK_RC(xensim_open(simdir, sim));
	daemon = tu_start_xenstored(bin, preload, simdir, rundir, *tmp);
	CHECK(daemon > 0);
	CHECK(tu_wait_listening(sockpath, 30));
	return daemon;
}

#endif
