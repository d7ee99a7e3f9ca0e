/* SPDX-License-Identifier: MIT */
/*
 * Build-time proof that include/mxs/ matches Xen's own xs_wire.h (Debian's
 * libxen-dev).  Compiled into the core library; it has no code.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

#include "mxs/protocol.h"
#include "mxs/ring.h"

#define MXS_CHECK_OP(NAME, name, num, args, flags, doc)                       \
	_Static_assert((num) == MXS_OP_##NAME, "op table out of order");
MXS_OPS(MXS_CHECK_OP)

/* Every op that Xen 4.17's header knows has Xen's number. */
#define MXS_CHECK_XEN(NAME)                                                   \
	_Static_assert(MXS_OP_##NAME == (int)XS_##NAME, "op " #NAME " differs");
MXS_CHECK_XEN(CONTROL)
MXS_CHECK_XEN(DIRECTORY)
MXS_CHECK_XEN(READ)
MXS_CHECK_XEN(GET_PERMS)
MXS_CHECK_XEN(WATCH)
MXS_CHECK_XEN(UNWATCH)
MXS_CHECK_XEN(TRANSACTION_START)
MXS_CHECK_XEN(TRANSACTION_END)
MXS_CHECK_XEN(INTRODUCE)
MXS_CHECK_XEN(RELEASE)
MXS_CHECK_XEN(GET_DOMAIN_PATH)
MXS_CHECK_XEN(WRITE)
MXS_CHECK_XEN(MKDIR)
MXS_CHECK_XEN(RM)
MXS_CHECK_XEN(SET_PERMS)
MXS_CHECK_XEN(WATCH_EVENT)
MXS_CHECK_XEN(ERROR)
MXS_CHECK_XEN(IS_DOMAIN_INTRODUCED)
MXS_CHECK_XEN(RESUME)
MXS_CHECK_XEN(SET_TARGET)
MXS_CHECK_XEN(RESET_WATCHES)
MXS_CHECK_XEN(DIRECTORY_PART)
_Static_assert(MXS_OP_RESTRICT == XS_SET_TARGET + 1, "RESTRICT slot");
_Static_assert(XS_TYPE_COUNT == MXS_OP_DIRECTORY_PART + 1,
	       "xs_wire.h has ops this table does not know");
_Static_assert(XS_DEBUG == XS_CONTROL, "DEBUG alias");

/* Header and limits. */
_Static_assert(sizeof(struct mxs_msg_hdr) == sizeof(struct xsd_sockmsg), "hdr");
_Static_assert(offsetof(struct mxs_msg_hdr, type) ==
		       offsetof(struct xsd_sockmsg, type), "hdr.type");
_Static_assert(offsetof(struct mxs_msg_hdr, req_id) ==
		       offsetof(struct xsd_sockmsg, req_id), "hdr.req_id");
_Static_assert(offsetof(struct mxs_msg_hdr, tx_id) ==
		       offsetof(struct xsd_sockmsg, tx_id), "hdr.tx_id");
_Static_assert(offsetof(struct mxs_msg_hdr, len) ==
		       offsetof(struct xsd_sockmsg, len), "hdr.len");
_Static_assert(MXS_PAYLOAD_MAX == XENSTORE_PAYLOAD_MAX, "payload max");
_Static_assert(MXS_ABS_PATH_MAX == XENSTORE_ABS_PATH_MAX, "abs path max");
_Static_assert(MXS_REL_PATH_MAX == XENSTORE_REL_PATH_MAX, "rel path max");

/* Error strings: same order as Xen's xsd_errors[] (index = wire order). */
#define MXS_ERR_COUNT_ONE(e) +1
_Static_assert(0 MXS_ERRORS(MXS_ERR_COUNT_ONE) ==
		       sizeof(xsd_errors) / sizeof(xsd_errors[0]),
	       "error list length differs from xs_wire.h");

/* Ring page. */
#define MXS_CHECK_RING(field)                                                 \
	_Static_assert(offsetof(struct mxs_ring_page, field) ==                  \
			       offsetof(struct xenstore_domain_interface, field), \
		       "ring field " #field);
MXS_CHECK_RING(req)
MXS_CHECK_RING(rsp)
MXS_CHECK_RING(req_cons)
MXS_CHECK_RING(req_prod)
MXS_CHECK_RING(rsp_cons)
MXS_CHECK_RING(rsp_prod)
MXS_CHECK_RING(server_features)
MXS_CHECK_RING(connection)
MXS_CHECK_RING(error)
_Static_assert(offsetof(struct mxs_ring_page, server_features) == 2064, "");
_Static_assert(offsetof(struct mxs_ring_page, connection) == 2068, "");
_Static_assert(offsetof(struct mxs_ring_page, error) == 2072, "");
_Static_assert(MXS_RING_SIZE == XENSTORE_RING_SIZE, "ring size");
_Static_assert(MXS_RING_F_RECONNECTION == XENSTORE_SERVER_FEATURE_RECONNECTION, "");
_Static_assert(MXS_RING_F_ERROR == XENSTORE_SERVER_FEATURE_ERROR, "");
_Static_assert(MXS_RING_CONNECTED == XENSTORE_CONNECTED, "");
_Static_assert(MXS_RING_RECONNECT == XENSTORE_RECONNECT, "");
_Static_assert(MXS_RING_ERR_NONE == XENSTORE_ERROR_NONE, "");
_Static_assert(MXS_RING_ERR_COMM == XENSTORE_ERROR_COMM, "");
_Static_assert(MXS_RING_ERR_RINGIDX == XENSTORE_ERROR_RINGIDX, "");
_Static_assert(MXS_RING_ERR_PROTO == XENSTORE_ERROR_PROTO, "");

/* ISO C forbids an empty translation unit. */
extern int mxs_wire_check_unused;
