/* SPDX-License-Identifier: MIT */
/*
 * The xenstore wire protocol, specified once.
 *
 * MXS_OPS() is the single table of operations.  The daemon's dispatcher,
 * the trace and log names, the fuzzers' argument generators and the table
 * in docs/protocol.md (tools/gen-protocol-doc) are all derived from it.
 * include/mxs/wire-check.c checks the numbers against Xen's own xs_wire.h
 * at build time, so nothing can drift.
 *
 * Types only; no functions.  Usable from C and C++.
 */
#ifndef MXS_PROTOCOL_H
#define MXS_PROTOCOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Argument shapes of a request payload.  Strings are NUL-terminated. */
enum mxs_args {
	MXS_ARGS_NONE,        /* server-to-client only; never a request     */
	MXS_ARGS_EMPTY,       /* anything, ignored ("" by convention)        */
	MXS_ARGS_PATH,        /* <path>\0                                    */
	MXS_ARGS_PATH_VALUE,  /* <path>\0<value bytes, no NUL needed>        */
	MXS_ARGS_PATH_TOKEN,  /* <path>\0<token>\0                           */
	MXS_ARGS_PATH_PERMS,  /* <path>\0<perm>\0<perm>\0...                 */
	MXS_ARGS_PATH_OFFSET, /* <path>\0<decimal byte offset>\0             */
	MXS_ARGS_COMMIT,      /* T\0 or F\0                                  */
	MXS_ARGS_DOMID,       /* <domid>\0                                   */
	MXS_ARGS_INTRODUCE,   /* <domid>\0<mfn>\0<port>\0                    */
	MXS_ARGS_TWO_DOMIDS,  /* <domid>\0<target domid>\0                   */
	MXS_ARGS_STRINGS,     /* <word>\0<word>\0...                         */
};

/* Operation flags. */
#define MXS_OPF_PRIV    0x1u /* only privileged connections (dom0)       */
#define MXS_OPF_TX      0x2u /* tx_id is looked up; may run in a tx      */
#define MXS_OPF_REPLY   0x4u /* server-to-client message type            */
#define MXS_OPF_INVALID 0x8u /* not a valid request type (ENOSYS)        */

/*
 * X(NAME, name, number, args, flags, summary)
 *
 * NAME/name: upper case for wire names, lower case for handler names
 * (the dispatcher calls mxs_op_<name>).  Ops 23..26 come from Xen 4.22
 * (the C xenstored 4.17 answers ENOSYS for them); we implement them as
 * 4.22 does (docs/compat.md).
 */
#define MXS_OPS(X)                                                            \
	X(CONTROL, control, 0, MXS_ARGS_STRINGS, MXS_OPF_PRIV,                  \
	  "daemon control: <command>\\0<args>...")                              \
	X(DIRECTORY, directory, 1, MXS_ARGS_PATH, MXS_OPF_TX,                  \
	  "list the children of a node")                                        \
	X(READ, read, 2, MXS_ARGS_PATH, MXS_OPF_TX, "read a node's value")      \
	X(GET_PERMS, get_perms, 3, MXS_ARGS_PATH, MXS_OPF_TX,                  \
	  "read a node's permission list")                                      \
	X(WATCH, watch, 4, MXS_ARGS_PATH_TOKEN, 0,                              \
	  "watch a path (or @special) with a token")                            \
	X(UNWATCH, unwatch, 5, MXS_ARGS_PATH_TOKEN, 0, "remove a watch")        \
	X(TRANSACTION_START, transaction_start, 6, MXS_ARGS_EMPTY, MXS_OPF_TX,  \
	  "open a transaction; replies with its id (EBUSY inside one)")         \
	X(TRANSACTION_END, transaction_end, 7, MXS_ARGS_COMMIT, MXS_OPF_TX,    \
	  "commit (T) or abort (F) the transaction in tx_id")                   \
	X(INTRODUCE, introduce, 8, MXS_ARGS_INTRODUCE, MXS_OPF_PRIV,           \
	  "introduce a domain's ring page and event channel")                   \
	X(RELEASE, release, 9, MXS_ARGS_DOMID, MXS_OPF_PRIV,                   \
	  "forget a domain")                                                    \
	X(GET_DOMAIN_PATH, get_domain_path, 10, MXS_ARGS_DOMID, 0,             \
	  "home path of a domain")                                              \
	X(WRITE, write, 11, MXS_ARGS_PATH_VALUE, MXS_OPF_TX,                   \
	  "write a value, creating missing parents")                            \
	X(MKDIR, mkdir, 12, MXS_ARGS_PATH, MXS_OPF_TX,                          \
	  "create a node (and parents) if missing")                             \
	X(RM, rm, 13, MXS_ARGS_PATH, MXS_OPF_TX, "remove a node and its subtree") \
	X(SET_PERMS, set_perms, 14, MXS_ARGS_PATH_PERMS, MXS_OPF_TX,           \
	  "replace a node's permission list")                                   \
	X(WATCH_EVENT, watch_event, 15, MXS_ARGS_NONE,                         \
	  MXS_OPF_REPLY | MXS_OPF_INVALID, "server: <path>\\0<token>\\0")       \
	X(ERROR, error, 16, MXS_ARGS_NONE, MXS_OPF_REPLY | MXS_OPF_INVALID,    \
	  "server: <errno name>\\0")                                            \
	X(IS_DOMAIN_INTRODUCED, is_domain_introduced, 17, MXS_ARGS_DOMID,       \
	  MXS_OPF_PRIV, "T or F")                                               \
	X(RESUME, resume, 18, MXS_ARGS_DOMID, MXS_OPF_PRIV,                    \
	  "clear a domain's shutdown flag")                                     \
	X(SET_TARGET, set_target, 19, MXS_ARGS_TWO_DOMIDS, MXS_OPF_PRIV,       \
	  "give a domain the privileges of another (device model)")             \
	X(RESTRICT, restrict, 20, MXS_ARGS_NONE, MXS_OPF_INVALID,              \
	  "removed from the protocol")                                          \
	X(RESET_WATCHES, reset_watches, 21, MXS_ARGS_EMPTY, 0,                  \
	  "drop all watches and transactions of the caller")                    \
	X(DIRECTORY_PART, directory_part, 22, MXS_ARGS_PATH_OFFSET, MXS_OPF_TX,\
	  "list children from a byte offset, with the node's generation")       \
	X(GET_FEATURE, get_feature, 23, MXS_ARGS_STRINGS, 0,                    \
	  "ring feature bits of the caller's or a domain (Xen 4.22)")           \
	X(SET_FEATURE, set_feature, 24, MXS_ARGS_STRINGS, MXS_OPF_PRIV,         \
	  "feature bits of a domain before its INTRODUCE (Xen 4.22)")           \
	X(GET_QUOTA, get_quota, 25, MXS_ARGS_STRINGS, MXS_OPF_PRIV,             \
	  "quota names, a global or a domain's quota (Xen 4.22)")               \
	X(SET_QUOTA, set_quota, 26, MXS_ARGS_STRINGS, MXS_OPF_PRIV,             \
	  "set a global or a domain's quota (Xen 4.22)")

enum mxs_op {
#define MXS_OP_ENUM(NAME, name, num, args, flags, doc) MXS_OP_##NAME = num,
	MXS_OPS(MXS_OP_ENUM)
#undef MXS_OP_ENUM
	MXS_OP_COUNT,
};

/* Error replies carry the errno name.  Order is Xen's (new ones at end). */
#define MXS_ERRORS(X)                                                         \
	X(EINVAL) X(EACCES) X(EEXIST) X(EISDIR) X(ENOENT) X(ENOMEM)            \
	X(ENOSPC) X(EIO) X(ENOTEMPTY) X(ENOSYS) X(EROFS) X(EBUSY) X(EAGAIN)    \
	X(EISCONN) X(E2BIG) X(EPERM)

struct mxs_msg_hdr {
	uint32_t type;   /* enum mxs_op */
	uint32_t req_id; /* echoed in the reply */
	uint32_t tx_id;  /* transaction id, 0 if none */
	uint32_t len;    /* payload bytes that follow */
};

#define MXS_PAYLOAD_MAX 4096u
#define MXS_ABS_PATH_MAX 3072u
#define MXS_REL_PATH_MAX 2048u

/* Permission bits of a node's permission entry (wire letters n r w b). */
#define MXS_PERM_NONE 0x0u
#define MXS_PERM_READ 0x1u
#define MXS_PERM_WRITE 0x2u
#define MXS_PERM_OWNER 0x4u  /* internal: owner rights */
#define MXS_PERM_IGNORE 0x8u /* internal: entry of a dead domain */

#define MXS_DOMID_FIRST_RESERVED 0x7ff0u
#define MXS_DOMID_SELF 0x7ff0u

#ifdef __cplusplus
}
#endif

#endif /* MXS_PROTOCOL_H */
