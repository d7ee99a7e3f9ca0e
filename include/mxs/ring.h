/* SPDX-License-Identifier: MIT */
/*
 * Layout of one domain's xenstore ring page (docs/misc/xenstore-ring.txt).
 *
 *   offset 0     req[1024]   guest -> daemon bytes   (guest produces)
 *   offset 1024  rsp[1024]   daemon -> guest bytes   (daemon produces)
 *   offset 2048  req_cons    daemon advances  \
 *          2052  req_prod    guest advances    |  free-running u32 indices,
 *          2056  rsp_cons    guest advances    |  byte i lives at [i & 1023]
 *          2060  rsp_prod    daemon advances  /
 *          2064  server_features  (MXS_RING_F_*)
 *          2068  connection       (MXS_RING_CONNECTED / RECONNECT)
 *          2072  error            (MXS_RING_ERR_*)
 *          2076  evtchn_port      (newer Xen; informational)
 *
 * Invariant of a healthy ring: 0 <= prod - cons <= 1024 (u32 arithmetic).
 * Anything else is a corrupt ring (RINGIDX error).  Types only.
 */
#ifndef MXS_RING_H
#define MXS_RING_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MXS_RING_SIZE 1024u
#define MXS_RING_MASK(idx) ((idx) & (MXS_RING_SIZE - 1))

typedef uint32_t mxs_ring_idx_t;

struct mxs_ring_page {
	char req[MXS_RING_SIZE];
	char rsp[MXS_RING_SIZE];
	mxs_ring_idx_t req_cons, req_prod;
	mxs_ring_idx_t rsp_cons, rsp_prod;
	uint32_t server_features;
	uint32_t connection;
	uint32_t error;
	uint32_t evtchn_port;
};

#define MXS_RING_F_RECONNECTION 1u
#define MXS_RING_F_ERROR 2u
#define MXS_RING_F_WATCHDEPTH 4u
#define MXS_RING_F_DOMID_ANY 8u

#define MXS_RING_CONNECTED 0u
#define MXS_RING_RECONNECT 1u

#define MXS_RING_ERR_NONE 0u
#define MXS_RING_ERR_COMM 1u
#define MXS_RING_ERR_RINGIDX 2u
#define MXS_RING_ERR_PROTO 3u

#ifdef __cplusplus
}
#endif

#endif /* MXS_RING_H */
