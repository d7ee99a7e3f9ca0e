/* SPDX-License-Identifier: MIT */
#include "store/perms.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MXS_PERM_ALL (MXS_PERM_READ | MXS_PERM_WRITE | MXS_PERM_OWNER)

static bool is_me(const struct mxs_caller *c, uint32_t domid)
{
	return domid == c->domid ||
	       (c->target != MXS_NO_TARGET && domid == c->target);
}

uint32_t mxs_perm_for_current(const struct mxs_caller *caller,
			      const struct mxs_perm *perms, unsigned int n,
			      mxs_perm_stale_fn stale, const void *arg)
{
	uint32_t mask = MXS_PERM_ALL, owner;
	unsigned int i;

	if (caller->readonly)
		mask &= ~MXS_PERM_WRITE;
	if (caller->privileged)
		return MXS_PERM_ALL & mask;
	if (!n)
		return 0;
	owner = stale && stale(arg, perms[0].domid) ? 0 : perms[0].domid;
	if (is_me(caller, owner))
		return MXS_PERM_ALL & mask;
	for (i = 1; i < n; i++)
		if (!(perms[i].mode & MXS_PERM_IGNORE) &&
		    is_me(caller, perms[i].domid) &&
		    !(stale && stale(arg, perms[i].domid)))
			return perms[i].mode & mask;
	return perms[0].mode & mask;
}

uint32_t mxs_perm_for(const struct mxs_caller *caller,
		      const struct mxs_perm *perms, unsigned int n)
{
	return mxs_perm_for_current(caller, perms, n, NULL, NULL);
}

int mxs_perms_parse(const char *s, unsigned int n, struct mxs_perm *perms)
{
	unsigned int i;
	char *end;

	for (i = 0; i < n; i++) {
		switch (*s) {
		case 'n': perms[i].mode = MXS_PERM_NONE; break;
		case 'r': perms[i].mode = MXS_PERM_READ; break;
		case 'w': perms[i].mode = MXS_PERM_WRITE; break;
		case 'b': perms[i].mode = MXS_PERM_READ | MXS_PERM_WRITE; break;
		default: return -EINVAL;
		}
		s++;
		if (!*s)
			return -EINVAL;
		errno = 0;
		perms[i].domid = (uint32_t)strtol(s, &end, 0);
		if (*end)
			return -EINVAL;
		s = end + 1;
	}
	return 0;
}

int mxs_perms_format(struct mxs_buf *out, const struct mxs_perm *perms,
		     unsigned int n)
{
	char tmp[16];
	unsigned int i;
	int rc, len;

	for (i = 0; i < n; i++) {
		static const char letter[] = { 'n', 'r', 'w', 'b' };

		if (perms[i].mode & MXS_PERM_IGNORE)
			continue;
		/* Signed, as the C daemon prints them ("r-1"). */
		len = snprintf(tmp, sizeof(tmp), "%c%d",
			       letter[perms[i].mode & 3],
			       (int32_t)perms[i].domid);
		rc = mxs_buf_add(out, tmp, (size_t)len + 1);
		if (rc)
			return rc;
	}
	return 0;
}
