/* SPDX-License-Identifier: MIT */
/*
 * Names on the wire, derived from the tables of mxs/protocol.h: an
 * operation's name (trace file, logs) and the error string of an errno
 * (XS_ERROR replies).  Header-only; C and C++.
 */
#ifndef MXS_PROTOCOL_NAMES_H
#define MXS_PROTOCOL_NAMES_H

#include <errno.h>
#include <stdint.h>

#include "mxs/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

static inline const char *mxs_op_name(uint32_t type)
{
	switch (type) {
#define MXS_OP_NAME(NAME, name, num, args, flags, doc) case num: return #NAME;
		MXS_OPS(MXS_OP_NAME)
#undef MXS_OP_NAME
	default:
		return "UNKNOWN";
	}
}

/* The wire name of errno e ("ENOENT"); "EINVAL" for one the protocol
 * does not know, as the C daemon. */
static inline const char *mxs_errno_name(int e)
{
	switch (e) {
#define MXS_ERRNO_NAME(E) case E: return #E;
		MXS_ERRORS(MXS_ERRNO_NAME)
#undef MXS_ERRNO_NAME
	default:
		return "EINVAL";
	}
}

#ifdef __cplusplus
}
#endif

#endif
