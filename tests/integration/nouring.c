/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for test_io_fallback.py: io_uring_setup fails with
 * EPERM, as in a container whose seccomp profile blocks io_uring.  Every
 * other system call goes through unchanged.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>

long syscall(long nr, ...)
{
	static long (*real)(long, ...);
	long (*fn)(long, ...);
	long a[6];
	va_list ap;
	int i;

	if (nr == __NR_io_uring_setup) {
		errno = EPERM;
		return -1;
	}
	/* Relaxed: workers race to the first call, and each finds the same
	 * pointer (to code: nothing else is published with it). */
	fn = __atomic_load_n(&real, __ATOMIC_RELAXED);
	if (!fn) {
		fn = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
		__atomic_store_n(&real, fn, __ATOMIC_RELAXED);
	}
	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	return fn(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
