#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Pipelined requests on many connections at once, while other clients
vanish with replies unsent and one client reads nothing for a while.

- Pipelining clients: each sends windows of requests (writes and reads of
  its own keys, some values near the payload limit) in one send each and
  checks every reply: its req_id is the next one sent (order per
  connection, none lost or doubled), its type the request's, a read's
  value the last one this connection wrote.  A last request with a fresh
  id must be the next message: nothing left over.
- Vanishing clients: each asks for about 1.2 MB of replies (more than the
  daemon queues before it holds input back) and closes without reading,
  half of them with a reset (SO_LINGER 0): sends in flight, output queued
  and input held when the peer disappears.
- A client that does not read: it sends 2,000 reads of a 4,000-byte value
  (8 MB of replies) and reads nothing for a second; then every reply
  must arrive, in order (input is held back, never dropped).
- Many clients that do not read, more than a worker's receive buffers
  can hold (each one's input is held back with a few buffers' worth
  queued): a new client must be answered while they stay connected
  (their held input must not take every worker's buffers).
- Connections that reset with replies being sent, each followed at once
  by a new connection (which the kernel gives the closed one's descriptor
  number): every reply on the new connection must be its own (a send
  queued for the old connection but issued after its descriptor was
  closed went to the new one).
- Afterwards the daemon answers on a new connection, CONTROL check passes
  and it stops cleanly (no sanitizer report).

Run by CTest on both paths (MXS_IO=epoll, MXS_IO=uring).
"""
import argparse
import socket
import struct
import sys
import threading
import time

import mxsfixture as fx

BIG = 4000  # a value near the payload limit


def value(i, j):
    v = ('c%d-r%d-' % (i, j)).encode()
    if j % 7 == 3:
        v += b'x' * (BIG - len(v))  # some replies fill a buffer
    return v


def pipeliner(d, i, rounds, window, errors):
    try:
        with d.connect() as c:
            keys = 16
            last = {}
            rid = 0
            j = 0
            while j < rounds:
                batch, want = [], []
                for _ in range(min(window, rounds - j)):
                    k = j % keys
                    path = ('/pipe/c%d/k%d' % (i, k)).encode() + b'\0'
                    rid += 1
                    if j < keys or j % 3 == 0:
                        v = value(i, j)
                        batch.append(c.pack(fx.WRITE, path + v, rid))
                        last[k] = v
                        want.append((rid, fx.WRITE, None))
                    else:
                        batch.append(c.pack(fx.READ, path, rid))
                        want.append((rid, fx.READ, last[k]))
                    j += 1
                c.send_raw(b''.join(batch))
                for wrid, op, v in want:
                    t, r, _, p = c.recv_msg()
                    if r != wrid:
                        raise AssertionError('conn %d: reply id %d, want %d'
                                             % (i, r, wrid))
                    if t != op:
                        raise AssertionError('conn %d: reply %d type %d (%r)'
                                             % (i, r, t, p[:40]))
                    if v is not None and p != v:
                        raise AssertionError('conn %d: read %d gave %r'
                                             % (i, r, p[:40]))
            rid += 1
            c.send_raw(c.pack(fx.READ, b'/pipe\0', rid))
            t, r, _, _ = c.recv_msg()
            if r != rid:
                raise AssertionError('conn %d: after the last reply came '
                                     'id %d, want %d' % (i, r, rid))
    except BaseException as e:
        errors.append('pipeliner %d: %r' % (i, e))


def vanisher(d, i, errors):
    try:
        c = d.connect()
        path = ('/pipe/v%d' % i).encode() + b'\0'
        c.request(fx.WRITE, path + b'v' * BIG)
        c.send_raw(b''.join(c.pack(fx.READ, path, 1000 + n)
                            for n in range(300)))
        time.sleep(0.05 * (i % 4))
        if i % 2:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack('ii', 1, 0))
        c.close()
    except BaseException as e:
        errors.append('vanisher %d: %r' % (i, e))


def non_reader(d, count, errors):
    try:
        with d.connect() as c:
            path = b'/pipe/slow\0'
            v = b's' * BIG
            c.request(fx.WRITE, path + v)
            reqs = b''.join(c.pack(fx.READ, path, 10 + n)
                            for n in range(count))
            # The daemon holds our input back: sending blocks until we
            # read, so from another thread.
            sender = threading.Thread(target=c.send_raw, args=(reqs,))
            sender.start()
            time.sleep(1.0)
            for n in range(count):
                t, r, _, p = c.recv_msg()
                if r != 10 + n or t != fx.READ or p != v:
                    raise AssertionError('slow reader: reply %d: id %d '
                                         'type %d len %d' % (n, r, t, len(p)))
            sender.join()
    except BaseException as e:
        errors.append('non-reader: %r' % (e,))


def stalled_many(d, n, failures):
    """n clients each send reads of the big value and read nothing:
    their output stalls at the daemon's limit, their input is held; then
    a new client must be answered while they are still connected (a
    worker whose receive buffers are all held never answers it: no
    shorter wait than any reply's, fx.IO_TIMEOUT, is needed to tell;
    a 10 s one was a timing assumption on a loaded TSan run)."""
    path = b'/pipe/slow\0'
    reqs = b''.join(fx.RawClient.pack(fx.READ, path, 10 + k) for k in range(2000))
    conns, senders = [], []
    try:
        for _ in range(n):
            c = d.connect()
            conns.append(c)
            t = threading.Thread(target=lambda c=c: _send_quiet(c, reqs),
                                 daemon=True)
            t.start()
            senders.append(t)
        time.sleep(1.0)
        with fx.RawClient(d.socket) as c:
            try:
                if c.read('/pipe/slow') != b's' * BIG:
                    failures.append('stalled clients: wrong value')
            except socket.timeout:
                failures.append('%d stalled clients: a new client got no '
                                'reply in %d s' % (n, fx.IO_TIMEOUT))
    finally:
        for c in conns:
            c.close()
        for t in senders:
            t.join()


def fd_reuse(d, rounds, errors):
    """rounds times: a client asks for ~1.2 MB of replies and resets;
    a new client at once sends two requests and must get exactly their
    two replies (ids 7 and 8), nothing of the old connection's."""
    reqs = b''.join(fx.RawClient.pack(fx.READ, b'/pipe/slow\0', 5000 + k)
                    for k in range(300))
    linger = struct.pack('ii', 1, 0)
    try:
        for n in range(rounds):
            a = d.connect()
            a.send_raw(reqs)
            if n % 2:
                a.sock.recv(1)  # the daemon is sending: reset then
            a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            a.close()
            with d.connect() as b:
                b.send_raw(b.pack(fx.READ, b'/pipe/c0/k0\0', 7) +
                           b.pack(fx.DIRECTORY, b'/pipe\0', 8))
                for want, op in ((7, fx.READ), (8, fx.DIRECTORY)):
                    t, r, _, p = b.recv_msg()
                    if r != want or t != op:
                        raise AssertionError(
                            'round %d: got id %d type %d (%d bytes), want '
                            'id %d type %d' % (n, r, t, len(p), want, op))
    except BaseException as e:
        errors.append('fd reuse: %r' % (e,))


def _send_quiet(c, data):
    try:
        c.send_raw(data)
    except OSError:
        pass  # closed by the test while the daemon held its input


def main():
    ap = argparse.ArgumentParser()
    fx.add_standalone_args(ap)
    ap.add_argument('--conns', type=int, default=24)
    ap.add_argument('--rounds', type=int, default=600)
    ap.add_argument('--window', type=int, default=48)
    ap.add_argument('--vanishers', type=int, default=16)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--stalled', type=int, default=80)
    ap.add_argument('--reuse-threads', type=int, default=4)
    ap.add_argument('--reuse-rounds', type=int, default=100)
    args = ap.parse_args()

    d = fx.standalone_daemon(args, 'mxs-pipe', workers=args.workers)
    if d is None:
        return fx.SKIP

    def body(d, failures):
        errors = []
        threads = [threading.Thread(target=pipeliner,
                                    args=(d, i, args.rounds, args.window,
                                          errors))
                   for i in range(args.conns)]
        threads += [threading.Thread(target=vanisher, args=(d, i, errors))
                    for i in range(args.vanishers)]
        threads.append(threading.Thread(target=non_reader,
                                        args=(d, 2000, errors)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        failures += errors
        with d.connect() as c:
            if c.read('/pipe/slow') != b's' * BIG:
                failures.append('read after the run: wrong value')
        stalled_many(d, args.stalled, failures)
        reusers = [threading.Thread(target=fd_reuse,
                                    args=(d, args.reuse_rounds, failures))
                   for _ in range(args.reuse_threads)]
        for t in reusers:
            t.start()
        for t in reusers:
            t.join()
        fx.control_check(d, failures)
        print('%d pipelining connections x %d requests, %d vanished, '
              'one non-reader: %d errors'
              % (args.conns, args.rounds, args.vanishers, len(errors)))
    return fx.run_checked(d, body, log_tail=4000)


if __name__ == '__main__':
    sys.exit(main())
