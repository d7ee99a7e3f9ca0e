/* SPDX-License-Identifier: MIT */
/*
 * The xenstore ring protocol (docs/misc/xenstore-ring.txt) between one
 * guest and the daemon, for spin.  Run by tests/model/run-spin.sh; what
 * is checked and how to run it by hand: docs/security.md "Ring model".
 *
 * What is modelled
 *   - The shared page: req[] / rsp[] byte rings and their four
 *     free-running indices, the connection and error fields.  The ring
 *     has N = 4 bytes and the indices run modulo 8 (IM = 7): the u32
 *     arithmetic of rings/ring.c, (prod - cons) mod 2^32 compared with
 *     1024, is the same arithmetic modulo any power of two >= 2 * size,
 *     so wrap-around of the indices (and of the array) happens within a
 *     few bytes instead of 2^32.  The start indices are arbitrary
 *     ("guests must not assume that producer or consumer pointers start
 *     at zero").
 *   - Both event channels.  The daemon's port follows libxenevtchn as
 *     the Linux driver and tests/xensim implement it: a notification sets
 *     PENDING and, unless the port is QUEUED (masked), queues the port
 *     on the daemon's descriptor; xenevtchn_pending takes it and clears
 *     PENDING, the port stays masked until xenevtchn_unmask, which
 *     queues it again if PENDING was set meanwhile.  The guest's side is
 *     a latched flag (Linux's wait_event re-checks after being woken).
 *   - The guest follows Linux's xenbus_comms.c: one byte per write, a
 *     notification after a write only if the daemon had consumed every
 *     byte before (prod <= req_cons), and after a read only if the
 *     response ring had been full; so the daemon may not rely on a
 *     notification for data that arrived while it was serving.
 *   - The daemon follows mxs_worker_rings_run (core/ringconn.c): per
 *     wake, take the event (the port stays masked), look at the
 *     connection field, serve the ring with a budget of BUDGET request
 *     bytes per batch and at most Q queued reply bytes (the bounded
 *     queue of XSA-326), unmask, re-check the ring and serve again
 *     without waiting if work is left (mxs_conn_again), and notify the
 *     guest once per batch if an index moved.  Every request byte is answered
 *     by one reply byte (the echo), which stands for a request and its
 *     reply.
 *   - Reconnection: the guest stops using the ring, stores connection =
 *     RECONNECT and notifies; the daemon drops its queued bytes, zeroes
 *     the indices and the error field, stores connection = CONNECTED and
 *     notifies; the guest then restarts from index 0.
 *   - Spin explores interleavings of a sequentially consistent memory.
 *     The C code gets the same order of effects from the acquire/release
 *     pairs RING_A1..A5 / RING_R1..R5 of rings/ring.c, which
 *     this model's steps name; ring.c:NN line numbers are those of
 *     rings/ring.c at commit 4d09142.
 *
 * Properties (each an assert or spin's invalid-end-state check)
 *   P1 no lost, duplicated or reordered byte: a byte carries its session
 *      and sequence number; the daemon checks each request byte, the
 *      guest each reply byte, against what it expects next.
 *   P2 no deadlock or lost wake-up: the guest waits only at its wait
 *      point; if it can be stuck there (daemon idle, data unserved or
 *      replies unread) spin reports an invalid end state.  The guest's
 *      valid end is "all requests of its last session answered".
 *   P3 reconnection: nothing of a session reaches either side after the
 *      reset (covered by P1's session tag); the guest always gets
 *      CONNECTED back (P2).
 *   P4 hostile guest (-DHOSTILE): the guest stores any value into its
 *      indices and the connection field at any moment.  The daemon's
 *      every array access is inside req[] / rsp[] and every copy fits
 *      the caller's buffer; a corrupt index sets error = RINGIDX and the
 *      daemon moves no index and touches no byte until a reconnection.
 *
 * Variants that must FAIL (tests/model/CMakeLists.txt expects it):
 *   -DNO_RECHECK   the daemon sleeps after unmask without re-checking:
 *                  P2 fails (bytes left over by the budget wait forever).
 *   -DHOSTILE -DNO_IDX_CHECK  the daemon omits ring.c's prod - cons >
 *                  1024 check: with a read buffer larger than the ring
 *                  (a packet), the copy runs past the ring: P4 fails.
 */

#define N 4        /* ring size (1024 in Xen) */
#define IM 7       /* index mask: indices modulo 2 * N */
#define RMASK 3    /* MXS_RING_MASK: byte i lives at [i & (N - 1)] */
#define M 5        /* request bytes per session (more than N: wraps) */
#define BUDGET 2   /* request bytes per batch */
#define Q 2        /* reply bytes the daemon may hold (bounded queue) */
#define SEQ 8      /* byte value = session * SEQ + sequence number */
#define HLEN 6     /* hostile runs: the daemon's read buffer, > N */

#define CONNECTED 0
#define RECONNECT 1
#define ERR_NONE 0
#define ERR_RINGIDX 2

/* The page (include/mxs/ring.h). */
byte req[N];
byte rsp[N];
byte req_cons, req_prod, rsp_cons, rsp_prod;
byte connection = CONNECTED;
byte error = ERR_NONE;

/* The daemon's event-channel port: PENDING, QUEUED (masked), and
 * "queued on the daemon's descriptor" (what poll() sees). */
bool d_pending, d_queued, d_fd;
/* The guest's event channel: a latched wake-up. */
bool g_woken;

/* Guest -> daemon: xenevtchn_notify / notify_remote_via_evtchn on the
 * daemon's port (tests/xensim/sim.c xensim_ev_raise + deliver). */
inline notify_daemon()
{
	atomic {
		d_pending = 1;
		if
		:: !d_queued -> d_queued = 1; d_fd = 1
		:: else -> skip
		fi
	}
}

inline notify_guest()
{
	g_woken = 1
}

/* ------------------------------------------------------------------ */
/* Guest                                                               */
/* ------------------------------------------------------------------ */

#ifndef HOSTILE
active proctype guest()
{
	byte prod, cons;       /* the guest's shadows of req_prod, rsp_cons */
	byte c, p, old;
	byte sent, rcvd, sess;
	bool reconnected;

	/* Arbitrary starting indices, the same on both sides. */
	atomic {
		select(prod : 0 .. IM);
		select(cons : 0 .. IM);
		req_prod = prod; req_cons = prod;
		rsp_prod = cons; rsp_cons = cons;
		run daemon();
	}
	do
	:: sent == M && rcvd == M -> break
	:: !reconnected ->
		/* Reconnection (mxs_ring_request_reconnect, RING_R3), at any
		 * point of the session: the guest stops using the ring. */
		reconnected = 1;
		connection = RECONNECT;
		notify_daemon();
		do
		:: connection == CONNECTED -> break /* RING_A4 */
		:: else -> atomic { g_woken -> g_woken = 0 }
		od;
		/* mxs_ring_reset (guest role): restart at index 0. */
		prod = 0; cons = 0;
		sess++; sent = 0; rcvd = 0
	:: else ->
		c = req_cons; /* RING_A2 (mxs_ring_write, ring.c:149) */
		p = rsp_prod; /* RING_A1 (mxs_ring_read, ring.c:100) */
		/* A correct daemon never shows the guest a corrupt index. */
		assert(((prod - c) & IM) <= N && ((p - cons) & IM) <= N);
		if
		:: sent < M && ((prod - c) & IM) < N ->
			/* xb_write: copy, publish (RING_R1), notify only if the
			 * daemon had consumed everything before. */
			req[prod & RMASK] = sess * SEQ + sent;
			old = prod;
			prod = (prod + 1) & IM;
			req_prod = prod;
			sent++;
			if
			:: req_cons == old -> notify_daemon()
			:: else -> skip
			fi
		:: ((p - cons) & IM) > 0 ->
			/* xb_read: copy, check (P1), publish (RING_R2), notify
			 * only if the ring had been full. */
			assert(rsp[cons & RMASK] == sess * SEQ + rcvd);
			rcvd++;
			old = cons;
			cons = (cons + 1) & IM;
			rsp_cons = cons;
			if
			:: ((rsp_prod - old) & IM) >= N -> notify_daemon()
			:: else -> skip
			fi
		:: else ->
			/* Nothing to do: wait for a notification (latched, so
			 * one sent after the loads above is not lost). */
			atomic { g_woken -> g_woken = 0 }
		fi
	od
}
#else
/* P4: a guest that stores anything into its indices and the connection
 * field, HSTORES times in all, at any moment, and notifies at will.  Its
 * stores into req_cons / rsp_prod are left out: after mxs_ring_init the
 * daemon never loads them (it keeps shadows), as the model's daemon
 * shows by construction, so they could only add states. */
#ifndef HSTORES
#define HSTORES 3
#endif
active proctype guest()
{
	byte stores;

	/* Start at 0: every later value of the guest's fields is reached by
	 * its stores, and the daemon's indices wrap within two rings. */
	run daemon();
end_hostile:
	do
	:: stores < HSTORES -> select(req_prod : 0 .. IM); stores++
	:: stores < HSTORES -> select(rsp_cons : 0 .. IM); stores++
	:: stores < HSTORES -> connection = RECONNECT; stores++
	:: notify_daemon()
	:: g_woken -> g_woken = 0
	od
}
#endif

/* ------------------------------------------------------------------ */
/* Daemon                                                              */
/* ------------------------------------------------------------------ */

proctype daemon()
{
	byte cons, prod;      /* struct mxs_ring in_cons / out_prod shadows */
	byte p, c, n, off, first, i, want;
	byte q[Q], qhead, qlen; /* reply bytes not yet in rsp[] */
#ifndef HOSTILE
	byte buf[BUDGET];     /* mxs_ring_read's destination buffer */
#else
	byte buf[HLEN];
#endif
	byte expect, sess, served;
	bool broken, moved;

	/* mxs_ring_init (ring.c:80-81): shadows from the page as it is. */
	cons = req_cons;
	prod = rsp_prod;
end_idle:
	/* xenevtchn_pending: take the queued port, clear PENDING; the port
	 * stays masked (QUEUED) until the unmask below. */
	atomic { d_fd -> d_fd = 0; d_pending = 0 }
serve:
	moved = 0;
	if
	:: connection == RECONNECT ->
		/* mxs_ring_reconnect_requested (RING_A3, ring.c:210).  Drop
		 * partial packets and queued replies, then mxs_ring_reset
		 * (ring.c:187-204): shadows and page indices to 0, error to
		 * NONE, broken cleared, then connection = CONNECTED (RING_R4). */
		qlen = 0; qhead = 0;
		cons = 0; prod = 0;
		broken = 0;
		req_cons = 0; req_prod = 0; rsp_cons = 0; rsp_prod = 0;
		error = ERR_NONE;
		connection = CONNECTED;
#ifndef HOSTILE
		sess++; expect = 0;
#endif
		moved = 1
	:: else ->
		served = 0;
		/* Requests: mxs_ring_read (ring.c:92-115) into a buffer of
		 * want bytes while the budget and the reply queue allow. */
		do
#ifndef HOSTILE
		:: broken || served >= BUDGET || qlen >= Q -> break
#else
		:: broken || served >= BUDGET -> break
#endif
		:: else ->
#ifndef HOSTILE
			want = BUDGET - served;
			if
			:: want > Q - qlen -> want = Q - qlen
			:: else -> skip
			fi;
#else
			/* The real daemon reads into a packet buffer larger than
			 * the ring (up to 4096 + 16 bytes): len > N. */
			want = HLEN;
#endif
			p = req_prod; /* RING_A1, loaded once (ring.c:100) */
			if
#ifndef NO_IDX_CHECK
			:: ((p - cons) & IM) > N ->
#else
			:: false ->
#endif
				/* ring_corrupt (ring.c:37-50): RING_R5 error,
				 * broken set. */
				error = ERR_RINGIDX;
				broken = 1;
				p = 0; want = 0;
				break
			:: ((p - cons) & IM) == 0 -> p = 0; want = 0; break
			:: else -> skip
			fi;
			/* n = min(avail, len); off; first (ring.c:104-108). */
			n = (p - cons) & IM;
			if
			:: n > want -> n = want
			:: else -> skip
			fi;
			off = cons & RMASK;
			first = N - off;
			if
			:: first > n -> first = n
			:: else -> skip
			fi;
			/* The two memcpy of ring.c:109-110, bounds checked (P4). */
			d_step {
				assert(!broken);
				assert(n <= want && off + first <= N && n - first <= off);
				i = 0;
				do
				:: i < first -> buf[i] = req[off + i]; i++
				:: else -> break
				od;
				i = 0;
				do
				:: i < n - first -> buf[first + i] = req[i]; i++
				:: else -> break
				od
			}
			/* Publish the consumer index (RING_R2, ring.c:114). */
			cons = (cons + n) & IM;
			req_cons = cons;
			moved = 1;
			served = served + n;
			/* Parse the copy (never the page): check P1 and queue the
			 * replies. */
			d_step {
				i = 0;
				do
				:: i < n ->
#ifndef HOSTILE
					assert(buf[i] == sess * SEQ + expect);
					expect++;
					q[(qhead + qlen) % Q] = buf[i];
					qlen++;
#else
					/* Garbage in: answer what the queue holds. */
					if
					:: qlen < Q -> q[(qhead + qlen) % Q] = 0; qlen++
					:: else -> skip
					fi;
#endif
					i++
				:: else -> break
				od;
				/* Dead locals back to 0: fewer states. */
				p = 0; n = 0; off = 0; first = 0; i = 0; want = 0;
#ifndef HOSTILE
				buf[0] = 0; buf[1] = 0
#endif
			}
		od;
		/* Replies: mxs_ring_write (ring.c:141-164), one byte per
		 * call (the copy is bounds-checked as above). */
		do
		:: broken || qlen == 0 -> break
		:: else ->
			c = rsp_cons; /* RING_A2 (ring.c:149) */
			if
			:: ((prod - c) & IM) > N ->
				error = ERR_RINGIDX; /* ring_corrupt */
				broken = 1;
				c = 0;
				break
			:: ((prod - c) & IM) == N -> c = 0; break /* full */
			:: else -> c = 0
			fi;
			assert(!broken && (prod & RMASK) < N);
			rsp[prod & RMASK] = q[qhead];
			qhead = (qhead + 1) % Q;
			qlen--;
			/* RING_R1 (ring.c:163). */
			prod = (prod + 1) & IM;
			rsp_prod = prod;
			moved = 1
		od
	fi;
	served = 0;
	/* xenevtchn_unmask: queue the port again if PENDING came meanwhile. */
	atomic {
		d_queued = 0;
		if
		:: d_pending -> d_queued = 1; d_fd = 1
		:: else -> skip
		fi
	}
	/* One notification per batch, if an index moved (after the unmask,
	 * as in core/ringconn.c's outline). */
	if
	:: moved -> notify_guest(); moved = 0
	:: else -> skip
	fi;
#ifndef NO_RECHECK
	/* Re-check after unmask: a byte that arrived while the port was
	 * masked, or that the budget left, has no notification of its own
	 * (the guest notifies only when the daemon had caught up). */
	if
	:: connection == RECONNECT -> goto serve
#ifndef HOSTILE
	:: !broken && ((req_prod - cons) & IM) != 0 && qlen < Q -> goto serve
#else
	:: !broken && ((req_prod - cons) & IM) != 0 -> goto serve
#endif
	:: !broken && qlen > 0 && ((prod - rsp_cons) & IM) != N -> goto serve
	:: else -> goto end_idle
	fi
#else
	goto end_idle
#endif
}
