/* SPDX-License-Identifier: MIT */
/*
 * Logging (stderr in the foreground, syslog otherwise) and the trace file
 * (-T, CONTROL log/logfile): one line per message in and out, written
 * with a single write() under trace_lock so lines never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/daemon.h"
#include "mxs/protocol-names.h"

bool mxs_verbose;
static bool to_stderr = true;

void mxs_log_init(bool foreground, bool verbose)
{
	mxs_verbose = verbose;
	to_stderr = foreground;
	if (!foreground)
		openlog("mxenstored", LOG_PID, LOG_DAEMON);
}

void mxs_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (to_stderr) {
		fprintf(stderr, "mxenstored: ");
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(LOG_ERR, fmt, ap);
	}
	va_end(ap);
}

int mxs_trace_open(struct mxs_daemon *d, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	char *copy;

	if (fd < 0)
		return -errno;
	copy = strdup(path);
	if (!copy) {
		close(fd);
		return -ENOMEM;
	}
	pthread_mutex_lock(&d->trace_lock);
	if (d->trace_fd >= 0)
		close(d->trace_fd);
	free(d->trace_path);
	d->trace_fd = fd;
	d->trace_path = copy;
	__atomic_store_n(&d->trace_on, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&d->trace_lock);
	return 0;
}

static void trace_write(struct mxs_daemon *d, const char *s, size_t len)
{
	pthread_mutex_lock(&d->trace_lock);
	if (d->trace_fd >= 0 && d->trace_on &&
	    write(d->trace_fd, s, len) < 0 && mxs_verbose)
		mxs_log("trace write: %s", strerror(errno));
	pthread_mutex_unlock(&d->trace_lock);
}

void mxs_trace(struct mxs_daemon *d, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (!__atomic_load_n(&d->trace_on, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	trace_write(d, line, (size_t)n);
}

void mxs_trace_io(struct mxs_daemon *d, const struct mxs_conn *c, bool out,
		  const struct mxs_msg_hdr *hdr, const char *payload)
{
	char *line;
	size_t cap, n, i;
	struct tm tm;
	time_t now;

	if (!__atomic_load_n(&d->trace_on, __ATOMIC_RELAXED))
		return;
	cap = 128 + hdr->len;
	line = malloc(cap);
	if (!line)
		return;
	now = time(NULL);
	localtime_r(&now, &tm);
	n = (size_t)snprintf(line, cap,
			     "%s %llu %04d%02d%02d %02d:%02d:%02d %s (",
			     out ? "OUT" : "IN", (unsigned long long)c->seq,
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			     tm.tm_hour, tm.tm_min, tm.tm_sec,
			     mxs_op_name(hdr->type));
	for (i = 0; i < hdr->len && n < cap - 3; i++)
		line[n++] = payload[i] ? payload[i] : ' ';
	line[n++] = ')';
	line[n++] = '\n';
	trace_write(d, line, n);
	free(line);
}
