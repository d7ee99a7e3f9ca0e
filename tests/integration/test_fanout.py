# SPDX-License-Identifier: MIT
"""Watch fan-out across workers: several writers on different connections
(so, different worker threads) change nodes that many watchers on other
workers watch.  Every watcher must receive every event exactly once, and
each writer's events in the order that writer made its changes: the
cross-worker path (MPSC inboxes, one wake per batch) loses, duplicates and
reorders nothing.  With --tsan the daemon is a ThreadSanitizer build
(skipped when $MXS_TSAN_DAEMON does not exist)."""
import argparse
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxsfixture as fx  # noqa: E402
from mxsfixture import WRITE  # noqa: E402


def writer(d, k, n, errors, start):
    try:
        with d.connect() as c:
            start.wait(fx.IO_TIMEOUT)
            # Pipelined in bursts: the daemon gets batches to spread.
            for base in range(0, n, 20):
                ids = [c.send(WRITE, b'/fan/w%d/%d\0v' % (k, i))
                       for i in range(base, min(n, base + 20))]
                for rid in ids:
                    t, r, _, p = c.recv_reply()
                    if (t, r, p) != (WRITE, rid, b'OK\0'):
                        raise AssertionError('reply %r' % ((t, r, p),))
    except BaseException as e:
        errors.append('writer %d: %r' % (k, e))
        start.set()


def watcher(d, i, writers, n, ready, errors):
    try:
        with d.connect() as w:
            tok = b'tok%d' % i
            w.watch('/fan', tok.decode())
            if w.wait_event() != (b'/fan', tok):
                raise AssertionError('no initial event')
            ready.release()
            nxt = [0] * writers
            for _ in range(writers * n):
                path, t = w.wait_event()
                parts = path.split(b'/')  # '', fan, wK, seq
                if t != tok or len(parts) != 4 or parts[1] != b'fan':
                    raise AssertionError('stray event %r %r' % (path, t))
                k, seq = int(parts[2][1:]), int(parts[3])
                if seq != nxt[k]:
                    raise AssertionError(
                        'watcher %d: writer %d event %d, expected %d'
                        % (i, k, seq, nxt[k]))
                nxt[k] += 1
            # Nothing more: a sync request's reply comes before any
            # extra (duplicated) event would.
            w.read('/fan/w0/0')
            if w.events:
                raise AssertionError('extra events %r' % (w.events[:3],))
    except BaseException as e:
        errors.append('watcher %d: %r' % (i, e))
        ready.release()


def main():
    ap = argparse.ArgumentParser()
    fx.add_standalone_args(ap)
    ap.add_argument('--writers', type=int, default=4)
    ap.add_argument('--watchers', type=int, default=8)
    ap.add_argument('--writes', type=int, default=300)
    ap.add_argument('--workers', type=int, default=4)
    args = ap.parse_args()

    d = fx.standalone_daemon(args, 'mxs-fanout', workers=args.workers)
    if d is None:
        return fx.SKIP
    errors = []

    def body(d, failures):
        ready = threading.Semaphore(0)
        start = threading.Event()
        ws = [threading.Thread(target=watcher,
                               args=(d, i, args.writers, args.writes, ready,
                                     errors))
              for i in range(args.watchers)]
        for t in ws:
            t.start()
        for _ in ws:
            ready.acquire()
        wr = [threading.Thread(target=writer,
                               args=(d, k, args.writes, errors, start))
              for k in range(args.writers)]
        for t in wr:
            t.start()
        start.set()
        for t in wr + ws:
            t.join()
        failures += errors
        print('%d writers x %d writes, %d watchers, %d events checked' % (
            args.writers, args.writes, args.watchers,
            args.writers * args.writes * args.watchers))
    return fx.run_checked(d, body)


if __name__ == '__main__':
    sys.exit(main())
