/* SPDX-License-Identifier: MIT */
/* Node names: validation and canonicalisation. Pure functions. */
#ifndef MXS_STORE_PATH_H
#define MXS_STORE_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Is `path` a valid absolute node name?  Characters [A-Za-z0-9-/_@], starts
 * with '/', no "//", no trailing '/' (except "/" itself), at most
 * MXS_ABS_PATH_MAX bytes, and the part below /local/domain/<id>/ at most
 * `rel_max` bytes.  With allow_special, "@name" watch-only names are valid.
 */
bool mxs_path_valid(const char *path, bool allow_special, size_t rel_max);

/*
 * Resolves a client's name: absolute and @special names are returned as
 * they are; relative ones get "/local/domain/<domid>/" prepended.  Writes
 * into out (size outsz).  Returns 0, -EINVAL when it does not fit, or
 * -EINVAL for an empty name.  Does not validate: see mxs_path_valid.
 */
int mxs_path_canonical(const char *name, uint32_t domid, char *out,
		       size_t outsz);

/* Length of the "/local/domain/<domid>/" prefix of path, or 0. */
size_t mxs_path_domain_prefix(const char *path);

/* Is child equal to parent or below it?  "/" is the parent of every name. */
bool mxs_path_is_child(const char *child, const char *parent);

/* Hash of the first len bytes of a path (keyed: store/hash.h): the key of
 * the node index, the transaction maps and the watch registry. */
unsigned long mxs_path_hash(const char *p, size_t len);

/* Length of the parent's name ("/a/b" -> 2 for "/a"; "/a" -> 1 for "/"). */
size_t mxs_path_parent_len(const char *path, size_t len);

/* Depth of a path: its number of slashes ("/" and "/a" are 1). */
size_t mxs_path_depth(const char *path);

#ifdef __cplusplus
}
#endif

#endif
