/* SPDX-License-Identifier: MIT */
/* A growable byte buffer: replies are assembled into one. Not thread-safe. */
#ifndef MXS_STORE_BUF_H
#define MXS_STORE_BUF_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mxs_buf {
	char *p;
	size_t len;
	size_t cap;
};

static inline int mxs_buf_reserve(struct mxs_buf *b, size_t extra)
{
	size_t need = b->len + extra, cap = b->cap ? b->cap : 256;
	char *np;

	if (need <= b->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	np = (char *)realloc(b->p, cap);
	if (!np)
		return -ENOMEM;
	b->p = np;
	b->cap = cap;
	return 0;
}

static inline int mxs_buf_add(struct mxs_buf *b, const void *data, size_t n)
{
	int rc = mxs_buf_reserve(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

/* Appends s with its terminating NUL. */
static inline int mxs_buf_add_str(struct mxs_buf *b, const char *s)
{
	return mxs_buf_add(b, s, strlen(s) + 1);
}

static inline void mxs_buf_reset(struct mxs_buf *b)
{
	b->len = 0;
}

static inline void mxs_buf_free(struct mxs_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

#ifdef __cplusplus
}
#endif

#endif
