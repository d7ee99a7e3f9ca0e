# SPDX-License-Identifier: MIT
"""Concurrency: many clients increment shared counters with read-modify-
write transactions, retrying on EAGAIN; the final counter values must equal
the successful commits, a watcher must see one event per changed node of
every commit, and the daemon must exit cleanly on SIGTERM.

With --tsan the daemon is a -DMXS_SANITIZE=thread build: its path comes
from $MXS_TSAN_DAEMON or --daemon, the test is skipped (77) when that
binary does not exist, and any "WARNING: ThreadSanitizer" on the daemon's
stderr fails it."""
import argparse
import os
import random
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxsfixture as fx  # noqa: E402
from mxsfixture import DIRECTORY, XsError  # noqa: E402

COUNTERS = 6
PER_TX = 2


def worker(d, idx, commits, results, errors, barrier):
    rnd = random.Random(idx)
    done = [0] * COUNTERS
    retries = 0
    try:
        with d.connect() as c:
            barrier.wait()
            while sum(done) < commits * PER_TX:
                picks = rnd.sample(range(COUNTERS), PER_TX)
                tx = None
                try:
                    tx = c.tx_start()
                    for k in picks:
                        v = int(c.read('/conc/c%d' % k, tx))
                        c.write('/conc/c%d' % k, str(v + 1), tx)
                    if rnd.random() < 0.2:  # readers outside the tx, too
                        c.request(DIRECTORY, b'/conc\0')
                    c.tx_end(tx, True)
                except XsError as e:
                    if e.name != 'EAGAIN':
                        raise
                    retries += 1
                    continue
                for k in picks:
                    done[k] += 1
        results[idx] = (done, retries)
    except BaseException as e:  # reported by the main thread
        errors.append('client %d: %r' % (idx, e))
        barrier.abort()


def watcher(d, ready, counts, errors):
    """Counts events for /conc/cN on its own connection (never writes)
    until every committed change has been seen."""
    try:
        with d.connect() as w:
            w.watch('/conc', 'conc')
            assert w.wait_event() == (b'/conc', b'conc')
            ready.set()
            while counts['n'] < counts['want']:
                path, tok = w.wait_event()
                if tok != b'conc' or not path.startswith(b'/conc/c'):
                    raise AssertionError('stray event %r %r' % (path, tok))
                counts['n'] += 1
    except BaseException as e:
        errors.append('watcher: %r' % (e,))
        ready.set()


def main():
    ap = argparse.ArgumentParser()
    fx.add_standalone_args(ap)
    ap.add_argument('--clients', type=int, default=32)
    ap.add_argument('--commits', type=int, default=20,
                    help='successful commits per client')
    ap.add_argument('--workers', type=int, default=4)
    args = ap.parse_args()

    d = fx.standalone_daemon(args, 'mxs-conc', workers=args.workers)
    if d is None:
        return fx.SKIP

    def body(d, failures):
        with d.connect() as c:
            for k in range(COUNTERS):
                c.write('/conc/c%d' % k, '0')

        errors = []
        # Every commit changes PER_TX nodes: one event each.
        counts = {'n': 0, 'want': args.clients * args.commits * PER_TX}
        ready = threading.Event()
        wt = threading.Thread(target=watcher, args=(d, ready, counts, errors))
        wt.start()
        ready.wait(fx.IO_TIMEOUT)

        results = [None] * args.clients
        barrier = threading.Barrier(args.clients)
        threads = [threading.Thread(target=worker,
                                    args=(d, i, args.commits, results,
                                          errors, barrier))
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        committed = [0] * COUNTERS
        retries = 0
        for r in results:
            if r:
                for k in range(COUNTERS):
                    committed[k] += r[0][k]
                retries += r[1]
        wt.join()

        with d.connect() as c:
            final = [int(c.read('/conc/c%d' % k)) for k in range(COUNTERS)]
        print('clients %d, commits %d, EAGAIN retries %d, counters %s, '
              'events %d' % (args.clients, sum(committed) // PER_TX, retries,
                             final, counts['n']))
        failures += errors
        if not errors:
            if sum(committed) != args.clients * args.commits * PER_TX:
                failures.append('commit count %d' % sum(committed))
            if final != committed:
                failures.append('counters %s != successful increments %s'
                                % (final, committed))
            if counts['n'] != counts['want']:
                failures.append('watcher saw %d events, want %d'
                                % (counts['n'], counts['want']))
    return fx.run_checked(d, body)


if __name__ == '__main__':
    sys.exit(main())
