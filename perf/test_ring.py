#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The ring transport and scenarios work (CTest perf_ring, label xensim):
mxs-perf ring against mxenstored under the Xen simulator, N guests over
their rings.  Asserted, never timing: every phase ran without an error;
every reply matched its request (errors 0, the traffic phase answered
exactly N x requests); every xenbus handshake reached state 4 on both
ends; the open-loop steps (--rate, far below what the daemon serves)
answered every request they scheduled, each reply matched and its READ
checked, with their latency, send-lag and CPU fields; the fan-out
delivered watchers x writes events; the death storm saw @releaseDomain
and the daemon reports every domain released.  With --rounds 3 (a fresh
daemon) the handshake, traffic and fan-out each run three times: every
round's handshakes reach state 4 (the second and third after the reset
between rounds), three times the traffic replies and fan-out events,
boot and death once.  A wrong run must fail: a daemon that is gone in
the middle makes mxs-perf fail.

    test_ring.py --build BUILD_DIR [--domains N]
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print('FAIL: ' + what, flush=True)


def start(b, tmp):
    sim = os.path.join(tmp, 'sim')
    run = os.path.join(tmp, 'run')
    os.mkdir(run)
    subprocess.run([os.path.join(b, 'xensim'), '--dir', sim, 'init'],
                   check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, XENSIM_DIR=sim, XENSTORED_RUNDIR=run,
               LD_PRELOAD=os.path.join(b, 'libxensim.so'))
    log = open(os.path.join(tmp, 'daemon.log'), 'w')
    p = subprocess.Popen([os.path.join(b, 'mxenstored'), '-N'], env=env,
                         stdout=log, stderr=log)
    sock = os.path.join(run, 'socket')
    # The path exists from bind(); a connection is refused until
    # listen(): wait until one is accepted.
    for _ in range(400):
        if p.poll() is not None:
            break
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(sock)
            break
        except OSError:
            time.sleep(0.05)
        finally:
            s.close()
    return p, sim, sock


def ring(b, p, sim, sock, n, extra):
    cmd = [os.path.join(b, 'mxs-perf'), 'ring', '--socket', sock, '--simdir',
           sim, '--pid', str(p.pid), '--domains', str(n)] + extra
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    try:
        rec = json.loads(r.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        rec = {}
    return r.returncode, rec, r.stderr.decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--domains', type=int, default=200)
    args = ap.parse_args()
    b = os.path.abspath(args.build)
    n = args.domains
    tmp = tempfile.mkdtemp(prefix='mxs-perf-ring-')
    procs = []
    try:
        p, sim, sock = start(b, tmp)
        procs.append(p)
        check(p.poll() is None and os.path.exists(sock),
              'mxenstored did not come up under the simulator')
        if failures:
            return 1
        rc, rec, err = ring(b, p, sim, sock, n, [
            '--requests', '50', '--depth', '8', '--watchers', str(n // 2),
            '--writes', '5', '--threads', '2', '--clients', '3',
            '--rate', '1000,4000', '--rate-seconds', '0.5'])
        check(rc == 0, 'mxs-perf ring rc %d: %s' % (rc, err[-500:]))
        ph = rec.get('phases', {})
        check(sorted(ph) == sorted(['boot', 'handshake', 'traffic',
                                    'fanout', 'death']),
              'phases: %r' % sorted(ph))
        for name, v in ph.items():
            check(v.get('errors') == 0, '%s: %r' % (name, v))
            for f in ('seconds', 'p50_us', 'p99_us', 'p999_us',
                      'daemon_cpu_s'):
                check(f in v, '%s has no %s' % (name, f))
        check(rec.get('errors') == 0, 'errors: %r' % rec.get('errors'))
        check(rec.get('handshakes') == n,
              'handshakes at state 4: %r of %d' % (rec.get('handshakes'), n))
        check(ph.get('traffic', {}).get('ops') == n * 50,
              'traffic replies: %r of %d' % (ph.get('traffic', {}).get('ops'),
                                             n * 50))
        check(ph.get('fanout', {}).get('ops') == (n // 2) * 5,
              'fan-out events: %r of %d' % (ph.get('fanout', {}).get('ops'),
                                            (n // 2) * 5))
        # Open loop: 1,000 and 4,000 req/s for 0.5 s over n guests.
        steps = rec.get('open', [])
        check([s.get('rate') for s in steps] == [1000, 4000],
              'open-loop steps: %r' % steps)
        for s in steps:
            k = max(1, int(s.get('rate', 0) * 0.5 / n + 0.5))
            check(s.get('requests_per_guest') == k and
                  s.get('ops') == n * k and s.get('unanswered') == 0 and
                  s.get('errors') == 0,
                  'open loop at %r: %r (want %d replies)' % (
                      s.get('rate'), s, n * k))
            for f in ('seconds', 'ops_per_s', 'p50_us', 'p99_us', 'p999_us',
                      'lag_p50_us', 'lag_p99_us', 'daemon_cpu_s',
                      'generator_cpu_s'):
                check(f in s, 'open loop has no %s' % f)
            check(s.get('daemon_cpu_s', 0) > 0,
                  'open loop: no daemon CPU measured: %r' % s)
        check(rec.get('release_events', 0) >= 1, 'no @releaseDomain seen')
        check(rec.get('released') == n,
              'released: %r of %d' % (rec.get('released'), n))
        # Every INTRODUCE, transaction and request of the boot storm.
        check(ph.get('boot', {}).get('ops', 0) >= n * 30,
              'boot requests: %r' % ph.get('boot', {}).get('ops'))
        check(p.poll() is None, 'mxenstored died')

        # --rounds 3 on a fresh daemon: three handshakes per domain (each
        # after a reset), three times the traffic and the fan-out.
        m = n // 4
        os.mkdir(os.path.join(tmp, 'k'))
        p3, sim3, sock3 = start(b, os.path.join(tmp, 'k'))
        procs.append(p3)
        rc, rec, err = ring(b, p3, sim3, sock3, m, [
            '--requests', '20', '--depth', '4', '--watchers', str(m // 2),
            '--writes', '3', '--rounds', '3'])
        check(rc == 0, 'mxs-perf ring --rounds 3 rc %d: %s' % (rc, err[-500:]))
        ph = rec.get('phases', {})
        check(rec.get('rounds') == 3 and rec.get('errors') == 0 and
              all(v.get('errors') == 0 for v in ph.values()),
              '--rounds 3: %r' % rec)
        check(rec.get('handshakes') == m,
              '--rounds 3: handshakes in every round: %r of %d' % (
                  rec.get('handshakes'), m))
        # Each round: per frontend at least WATCH, WRITE 1, 3 and 4, and
        # per backend WRITE 2, WATCH, WRITE 4.
        check(ph.get('handshake', {}).get('ops', 0) >= 3 * m * 7,
              '--rounds 3: handshake requests %r' % ph.get('handshake'))
        check(ph.get('traffic', {}).get('ops') == 3 * m * 20,
              '--rounds 3: traffic replies %r of %d' % (
                  ph.get('traffic', {}).get('ops'), 3 * m * 20))
        check(ph.get('fanout', {}).get('ops') == 3 * (m // 2) * 3,
              '--rounds 3: fan-out events %r of %d' % (
                  ph.get('fanout', {}).get('ops'), 3 * (m // 2) * 3))
        check(ph.get('death', {}).get('ops') == m and
              rec.get('released') == m, '--rounds 3: death %r' % rec)
        check(p3.poll() is None, 'mxenstored (--rounds 3) died')

        # A daemon that dies in the middle: mxs-perf must fail, not hang.
        p2, sim2, sock2 = start(b, os.path.join(tmp, 'x') if os.mkdir(
            os.path.join(tmp, 'x')) is None else tmp)
        procs.append(p2)
        kill = subprocess.Popen(['sh', '-c', 'sleep 1; kill -9 %d' % p2.pid])
        rc, rec, err = ring(b, p2, sim2, sock2, n, [
            '--requests', '100000', '--depth', '1', '--phases', 'traffic'])
        kill.wait()
        check(rc != 0, 'mxs-perf ring passed against a killed daemon: %r'
              % rec)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
            p.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)
    print('%d failed' % len(failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
