#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Clients that connect while the daemon is still starting its workers.

Each round starts a daemon with many workers while client threads
connect as soon as its socket exists: half of the connections close at
once (the daemon closes its side on end of file), the other half ask
for a node and must get its reply.  Then the daemon must answer a new
connection, CONTROL check passes and it stops cleanly: no sanitizer
report (with --tsan the daemon is a ThreadSanitizer build).

The failure this catches: with --io uring each worker made its ring in
its own thread while the main thread was already accepting, and a
worker that had its ring closed an early connection through it; the
next worker to make its ring was given that descriptor number.  A
worker that makes its ring after the main thread accepted is not a
reply sent astray, but ThreadSanitizer sees the number used by two
threads with nothing ordering them (the close through the ring is
invisible to it) and reports a race on the descriptor; the daemon
under the guest tests' halt_on_error=1 then died, and the guests and
advisory tests failed on dom0's reset socket (CI: xsa_325, xsa_440,
xsa_483, guests_quota_ops, guests_mxenstored_100dom, one of them in
most TSan runs).

Run by CTest on both paths (MXS_IO=epoll, MXS_IO=uring).
"""
import argparse
import socket
import sys
import threading

import mxsfixture as fx


def early_client(d, k, count, failures):
    """count connections to d's socket, the first ones while d starts."""
    done = 0
    while done < count:
        try:
            c = fx.RawClient(d.socket)
        except OSError:
            if d.proc is not None and not d.alive():
                failures.append('client %d: daemon died' % k)
                return
            continue  # not listening yet: at once again
        done += 1
        if (k + done) % 2:
            c.close()  # end of file for the daemon at once
            continue
        try:
            if c.read('/startup') != b'v':
                failures.append('client %d: wrong value' % k)
        except fx.XsError as e:
            # Before the first client wrote it: the node may be missing.
            if e.name != 'ENOENT':
                failures.append('client %d: %s' % (k, e))
        except OSError as e:
            failures.append('client %d: %r' % (k, e))
        c.close()


def round_(args, n, failures):
    d = fx.standalone_daemon(args, 'mxs-startup', workers=args.workers)
    if d is None:
        return False
    clients = [threading.Thread(target=early_client,
                                args=(d, k, args.conns, failures))
               for k in range(args.clients)]
    for t in clients:
        t.start()
    try:
        d.start()
        with d.connect() as c:
            c.write('/startup', b'v')
        for t in clients:
            t.join()
        fx.control_check(d, failures)
        if not d.alive():
            failures.append('round %d: daemon died' % n)
    except Exception as e:
        failures.append('round %d: %r' % (n, e))
    finally:
        d.stop()
        for t in clients:
            t.join()
        bad = d.problems()
        if bad:
            failures.append('round %d: %s\n--- daemon stderr ---\n%s'
                            % (n, '; '.join(bad), d.log()[-6000:]))
        d.cleanup()
    return True


def main():
    ap = argparse.ArgumentParser()
    fx.add_standalone_args(ap)
    ap.add_argument('--rounds', type=int, default=6)
    ap.add_argument('--workers', type=int, default=48)
    ap.add_argument('--clients', type=int, default=4)
    ap.add_argument('--conns', type=int, default=60)
    args = ap.parse_args()
    failures = []
    for n in range(args.rounds):
        if not round_(args, n, failures):
            return fx.SKIP
    for f in failures:
        print('FAIL: ' + f)
    if failures:
        return 1
    print('PASS: %d rounds of %d workers, %d early connections each'
          % (args.rounds, args.workers, args.clients * args.conns))
    return 0


if __name__ == '__main__':
    sys.exit(main())
