/* SPDX-License-Identifier: MIT */
/*
 * Prints docs/protocol.md's op table from MXS_OPS, so the documentation
 * cannot drift from the code: a test compares the committed file with
 * this program's output (regenerate: build/gen-protocol-doc > docs/protocol.md).
 */
#include <stdio.h>

#include "mxs/protocol.h"

static const char *args_name(enum mxs_args a)
{
	switch (a) {
	case MXS_ARGS_NONE: return "(server only)";
	case MXS_ARGS_EMPTY: return "ignored";
	case MXS_ARGS_PATH: return "`path\\0`";
	case MXS_ARGS_PATH_VALUE: return "`path\\0value`";
	case MXS_ARGS_PATH_TOKEN: return "`path\\0token\\0`";
	case MXS_ARGS_PATH_PERMS: return "`path\\0perm\\0...`";
	case MXS_ARGS_PATH_OFFSET: return "`path\\0offset\\0`";
	case MXS_ARGS_COMMIT: return "`T\\0` or `F\\0`";
	case MXS_ARGS_DOMID: return "`domid\\0`";
	case MXS_ARGS_INTRODUCE: return "`domid\\0mfn\\0port\\0`";
	case MXS_ARGS_TWO_DOMIDS: return "`domid\\0target\\0`";
	case MXS_ARGS_STRINGS: return "`word\\0...`";
	}
	return "?";
}

static void flags(unsigned int f)
{
	const char *sep = "";

	if (f & MXS_OPF_PRIV)
		printf("%spriv", sep), sep = ", ";
	if (f & MXS_OPF_TX)
		printf("%stx", sep), sep = ", ";
	if (f & MXS_OPF_REPLY)
		printf("%sreply", sep), sep = ", ";
	if (f & MXS_OPF_INVALID)
		printf("%sENOSYS", sep), sep = ", ";
	if (!*sep)
		printf("-");
}

int main(void)
{
	printf("# Wire protocol\n\n"
	       "Generated from `MXS_OPS` in include/mxs/protocol.h by\n"
	       "core/gen-protocol-doc.c; the test `protocol_doc` fails when this\n"
	       "file and the table differ.\n\n"
	       "Every message is a header `{u32 type, req_id, tx_id, len}` and\n"
	       "`len` (at most %u) payload bytes. Replies echo `req_id` and\n"
	       "`tx_id`; errors are type ERROR with the errno name.\n\n"
	       "Flags: `priv` only for privileged connections (EACCES\n"
	       "otherwise); `tx` the op looks up `tx_id` (ENOENT when unknown)\n"
	       "and runs inside that transaction; `reply` sent by the server\n"
	       "only; `ENOSYS` not a valid request (the C daemon's answer).\n\n"
	       "| # | op | arguments | flags | meaning |\n"
	       "|---|----|-----------|-------|---------|\n",
	       MXS_PAYLOAD_MAX);
#define X(NAME, name, num, args, fl, doc)                                     \
	printf("| %d | %s | %s | ", num, #NAME, args_name(args));           \
	flags(fl);                                                            \
	printf(" | %s |\n", doc);
	MXS_OPS(X)
#undef X
	printf("\nError names, in Xen's order:");
#define E(e) printf(" %s", #e);
	MXS_ERRORS(E)
#undef E
	printf(".\n\nLimits: payload %u bytes, absolute path %u, path below "
	       "a domain's home %u.\n",
	       MXS_PAYLOAD_MAX, MXS_ABS_PATH_MAX, MXS_REL_PATH_MAX);
	return 0;
}
