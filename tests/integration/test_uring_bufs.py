#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The io_uring workers' receive buffers, provided on demand
(core/uringconn.c): CONTROL memreport's "io_uring buffers" line is how
many the workers have handed to the kernel.

--check first: a fresh daemon's workers have provided only their first
  set (16 each); one connection's sequential traffic (reads and writes,
  some of a 4,000-byte value) keeps it there, since the set is not what
  it lacks; then many connections that each send a burst of large writes
  at once make it grow.
--check growth: one worker, many connections each sending windows of
  large writes and reads in one send, so that more buffers than the first
  set are held at once and receives find none (the starved path): every
  reply must arrive, in order, with the value written; the set must have
  grown (else this ran nothing it is for), and not past 256.

Run by CTest with --io uring only (the epoll path has no buffers to
provide).
"""
import argparse
import re
import sys
import threading

import mxsfixture as fx

FIRST, MAX = 16, 256  # URING_NBUFS_FIRST, URING_NBUFS per worker
BIG = 4000            # a value near the payload limit: two buffers' worth


def provided(d):
    with d.connect() as c:
        text = c.request(fx.CONTROL, b'memreport\0').decode()
    m = re.search(r'^io_uring buffers: (\d+)$', text, re.M)
    if not m:
        raise AssertionError('memreport has no io_uring buffers line:\n'
                             + text)
    return int(m.group(1))


def value(i, j):
    v = ('c%d-v%d-' % (i, j)).encode()
    return v + bytes([0x61 + (i + j) % 26]) * (BIG - len(v))


def burster(d, i, rounds, window, start, errors):
    """rounds times: window writes of large values and window reads of
    them, in one send, the connections' sends of a round at once (start,
    a barrier); then every reply is checked."""
    try:
        with d.connect() as c:
            rid = 0
            for r in range(rounds):
                start.wait(timeout=fx.IO_TIMEOUT)
                batch, want = [], []
                for k in range(window):
                    path = ('/ubuf/c%d/k%d' % (i, k)).encode() + b'\0'
                    v = value(i, r * window + k)
                    rid += 1
                    batch.append(c.pack(fx.WRITE, path + v, rid))
                    want.append((rid, fx.WRITE, b'OK\0'))
                    rid += 1
                    batch.append(c.pack(fx.READ, path, rid))
                    want.append((rid, fx.READ, v))
                c.send_raw(b''.join(batch))
                for wrid, op, v in want:
                    t, got, _, p = c.recv_msg()
                    if got != wrid or t != op or p != v:
                        raise AssertionError(
                            'conn %d round %d: reply id %d type %d (%d '
                            'bytes %r), want id %d type %d (%d bytes)'
                            % (i, r, got, t, len(p), p[:24], wrid, op,
                               len(v)))
    except threading.BrokenBarrierError:
        pass  # another one failed: its error is the one to report
    except BaseException as e:
        start.abort()
        errors.append('burster %d: %r' % (i, e))


def bursts(d, conns, rounds, window, failures):
    errors = []
    start = threading.Barrier(conns)
    threads = [threading.Thread(target=burster,
                                args=(d, i, rounds, window, start, errors))
               for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failures += errors
    return len(errors)


def check_first(d, args, failures):
    fresh = n = provided(d)
    if n != FIRST * args.workers:
        failures.append('fresh daemon: %d buffers provided, want %d (%d '
                        'workers x %d)' % (n, FIRST * args.workers,
                                           args.workers, FIRST))
    with d.connect() as c:
        big = b'q' * BIG
        for k in range(1000):
            path = '/ubuf/seq/k%d' % (k % 10)
            v = big if k % 2 else b'small'
            c.write(path, v)
            if c.read(path) != v:
                failures.append('sequential read %d: wrong value' % k)
                break
    n = provided(d)
    if n != FIRST * args.workers:
        failures.append('after one sequential connection: %d buffers '
                        'provided, want still %d' % (n, FIRST * args.workers))
    bursts(d, args.conns, args.rounds, args.window, failures)
    grown = provided(d)
    if grown <= FIRST * args.workers:
        failures.append('after %d connections of bursts: %d buffers '
                        'provided, want more than %d'
                        % (args.conns, grown, FIRST * args.workers))
    print('provided: %d fresh, %d after one connection, %d after bursts'
          % (fresh, n, grown))


def check_growth(d, args, failures):
    errors = bursts(d, args.conns, args.rounds, args.window, failures)
    n = provided(d)
    if n <= FIRST * args.workers or n > MAX * args.workers:
        failures.append('after the bursts: %d buffers provided, want more '
                        'than %d and at most %d' % (n, FIRST * args.workers,
                                                   MAX * args.workers))
    fx.control_check(d, failures)
    print('%d connections x %d rounds of %d large writes and reads: %d '
          'errors, %d buffers provided'
          % (args.conns, args.rounds, args.window, errors, n))


def main():
    ap = argparse.ArgumentParser()
    fx.add_standalone_args(ap)
    ap.add_argument('--check', choices=('first', 'growth'), required=True)
    ap.add_argument('--workers', type=int, default=None)
    ap.add_argument('--conns', type=int, default=48)
    ap.add_argument('--rounds', type=int, default=20)
    ap.add_argument('--window', type=int, default=8)
    args = ap.parse_args()
    if args.workers is None:
        args.workers = 2 if args.check == 'first' else 1

    d = fx.standalone_daemon(args, 'mxs-ubuf', workers=args.workers,
                             extra_args=('--io', 'uring'))
    if d is None:
        return fx.SKIP

    def body(d, failures):
        if args.check == 'first':
            check_first(d, args, failures)
        else:
            check_growth(d, args, failures)
    return fx.run_checked(d, body, log_tail=4000)


if __name__ == '__main__':
    sys.exit(main())
