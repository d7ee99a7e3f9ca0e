/* SPDX-License-Identifier: MIT */
#include "store/path.h"
#include "store/hash.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mxs/protocol.h"

static bool valid_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '/' || c == '_' ||
	       c == '@';
}

size_t mxs_path_domain_prefix(const char *path)
{
	static const char pfx[] = "/local/domain/";
	const char *p;

	if (strncmp(path, pfx, sizeof(pfx) - 1) != 0)
		return 0;
	p = path + sizeof(pfx) - 1;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p != '/')
		return 0;
	return (size_t)(p + 1 - path);
}

bool mxs_path_valid(const char *path, bool allow_special, size_t rel_max)
{
	size_t len = strlen(path), i;

	if (len == 0)
		return false;
	if (path[0] != '/' && !(allow_special && path[0] == '@'))
		return false;
	if (len > MXS_ABS_PATH_MAX)
		return false;
	if (len > 1 && path[len - 1] == '/')
		return false;
	for (i = 0; i < len; i++) {
		if (!valid_char((unsigned char)path[i]))
			return false;
		if (path[i] == '/' && path[i + 1] == '/')
			return false;
	}
	if (rel_max && len - mxs_path_domain_prefix(path) > rel_max)
		return false;
	return true;
}

/* Decimal digits of v at the end of buf[0..sz), returned as a pointer. */
static char *utoa_end(uint32_t v, char *buf, size_t sz)
{
	char *p = buf + sz;

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) && p > buf);
	return p;
}

/* Runs on every request that names a node: plain copies, no snprintf
 * (which was a fifth of the daemon's user-space instructions). */
int mxs_path_canonical(const char *name, uint32_t domid, char *out,
		       size_t outsz)
{
	static const char home[] = "/local/domain/";
	size_t len = strlen(name), dlen;
	char digits[10], *d;

	if (name[0] == '/' || name[0] == '@') {
		if (len >= outsz)
			return -EINVAL;
		memcpy(out, name, len + 1);
		return 0;
	}
	d = utoa_end(domid, digits, sizeof(digits));
	dlen = (size_t)(digits + sizeof(digits) - d);
	if (sizeof(home) - 1 + dlen + 1 + len >= outsz)
		return -EINVAL;
	memcpy(out, home, sizeof(home) - 1);
	out += sizeof(home) - 1;
	memcpy(out, d, dlen);
	out += dlen;
	*out++ = '/';
	memcpy(out, name, len + 1);
	return 0;
}

bool mxs_path_is_child(const char *child, const char *parent)
{
	size_t len = strlen(parent);

	if (strcmp(parent, "/") == 0)
		return true;
	if (strncmp(child, parent, len) != 0)
		return false;
	return child[len] == '/' || child[len] == '\0';
}

unsigned long mxs_path_hash(const char *p, size_t len)
{
	return (unsigned long)mxs_hash(p, len);
}

size_t mxs_path_parent_len(const char *path, size_t len)
{
	while (len > 1 && path[len - 1] != '/')
		len--;
	return len > 1 ? len - 1 : 1;
}

size_t mxs_path_depth(const char *path)
{
	size_t d = 0;

	for (; *path; path++)
		d += *path == '/';
	return d;
}
