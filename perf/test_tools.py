#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The perf tools work (CTest perf_tools, label integration): every
mxs-perf scenario against a real mxenstored finishes with checked replies
and the numbers its JSON promises; the reply checks catch a daemon that
answers wrongly (the floor, run without --no-check, must fail them); the
floor answers every scenario that needs no store, on epoll and on
io_uring; perf/compare runs both floors as peers (floor, flooru) and
writes its table with mxenstored's ratios to each (and ratios.jsonl),
raw results and both plots with every peer, and its ring table (with the
open-loop rows and, with --repeat 2, the medians of two runs of each
point) and plots; the linear-scale check at 10 against 20 domains runs
the base N's work twice per round (one run with --rounds 2, one of boot
and death) and writes its row for every phase.  No timing is asserted.  Where io_uring is blocked the
io_uring floor is left out (in CI, CI=true, that fails).

    test_tools.py --build BUILD_DIR --compare perf/compare
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


def perf(build, args, expect_rc=0):
    r = subprocess.run([os.path.join(build, 'mxs-perf')] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    out = r.stdout.decode().strip()
    check(r.returncode == expect_rc, 'mxs-perf %s: rc %d, want %d: %s' % (
        ' '.join(args), r.returncode, expect_rc, r.stderr.decode()[-300:]))
    try:
        return json.loads(out.splitlines()[-1])
    except (ValueError, IndexError):
        check(expect_rc != 0, 'mxs-perf %s: no JSON: %r' % (args, out))
        return {}


def wait_socket(path, proc):
    """Until the server accepts a connection: its path exists from bind(),
    a connection is refused until listen()."""
    for _ in range(200):
        if proc.poll() is not None:
            return False
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return True
        except OSError:
            time.sleep(0.05)
        finally:
            s.close()
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--compare', required=True)
    args = ap.parse_args()
    b = os.path.abspath(args.build)
    tmp = tempfile.mkdtemp(prefix='mxs-perf-test-')
    procs = []
    try:
        mx_sock = os.path.join(tmp, 'mx.sock')
        fl_sock = os.path.join(tmp, 'floor.sock')
        mx = subprocess.Popen([os.path.join(b, 'mxenstored'), '-N', '-D',
                               '--socket', mx_sock],
                              stderr=subprocess.DEVNULL)
        fl = subprocess.Popen([os.path.join(b, 'mxs-floor'), '--socket',
                               fl_sock, '--threads', '2'])
        flu_sock = os.path.join(tmp, 'flooru.sock')
        flu_err = os.path.join(tmp, 'flooru.err')
        with open(flu_err, 'w') as e:
            flu = subprocess.Popen([os.path.join(b, 'mxs-floor'), '--socket',
                                    flu_sock, '--threads', '2', '--io',
                                    'uring'], stderr=e)
        procs = [mx, fl, flu]
        check(wait_socket(mx_sock, mx), 'mxenstored did not come up')
        check(wait_socket(fl_sock, fl), 'mxs-floor did not come up')
        uring = wait_socket(flu_sock, flu)
        if not uring:
            msg = open(flu_err).read().strip()
            blocked = flu.poll() is not None and 'io_uring' in msg
            check(blocked and os.environ.get('CI') != 'true',
                  'mxs-floor --io uring did not come up: %s' % msg)
            if blocked:
                print('NOTE: io_uring unavailable here, the io_uring floor '
                      'left out: ' + msg, flush=True)
        if failures:
            return 1
        mxa = ['--socket', mx_sock, '--pid', str(mx.pid)]

        r = perf(b, ['mix', '--conns', '4', '--depth', '4', '--seconds',
                     '0.3'] + mxa)
        check(r.get('errors') == 0 and r.get('ops', 0) > 0,
              'mix: %r' % r)
        check(r.get('depth') == 4 and r.get('conns') == 4 and
              r.get('mix') == '80/15/5', 'mix parameters: %r' % r)
        # The daemon's CPU clock (ns), not 10 ms ticks: a 0.3 s mix at
        # 16 requests in flight costs it more than nothing, and no more
        # than every CPU for the whole run.
        check(0 < r.get('daemon_cpu_s', -1) <=
              (r.get('seconds', 0) + 0.5) * (os.cpu_count() or 1) and
              r.get('p50_us', 0) <= r.get('p99_us', -1) <=
              r.get('p999_us', -1), 'mix numbers: %r' % r)
        cpus = [r['daemon_cpu_s']]
        r = perf(b, ['mix', '--conns', '3', '--count', '500'] + mxa)
        check(r.get('ops') == 500, 'mix --count 500: %r' % r)
        cpus.append(r.get('daemon_cpu_s', 0))
        r = perf(b, ['writes', '--conns', '2', '--seconds', '0.2'] + mxa)
        check(r.get('errors') == 0 and r.get('mix') == '0/100/0',
              'writes: %r' % r)
        cpus.append(r.get('daemon_cpu_s', 0))
        r = perf(b, ['fanout', '--watchers', '5', '--writes', '4'] + mxa)
        check(r.get('ops') == 20 and r.get('errors') == 0,
              'fanout: 5 watchers x 4 writes: %r' % r)
        cpus.append(r.get('daemon_cpu_s', 0))
        r = perf(b, ['memory', '--count', '3000'] + mxa)
        check(r.get('ops') == 3000 and 'bytes_per_node' in r,
              'memory: %r' % r)
        cpus.append(r.get('daemon_cpu_s', 0))
        r = perf(b, ['boot', '--domains', '20'] + mxa)
        check(r.get('errors') == 0 and r.get('ops', 0) >= 20 * 26 and
              r.get('build_s', 0) > 0, 'boot: %r' % r)
        cpus.append(r.get('cpu_s', r.get('daemon_cpu_s', 0)))
        # Finer than /proc/PID/stat's 10 ms ticks: six multiples of
        # 0.01 s in a row would be a one-in-a-million coincidence.
        check(any(abs(c * 100 - round(c * 100)) > 1e-6 for c in cpus),
              'daemon CPU seconds in 10 ms ticks: %r' % cpus)

        fla = ['--socket', fl_sock, '--pid', str(fl.pid)]
        r = perf(b, ['mix', '--conns', '4', '--depth', '2', '--seconds',
                     '0.2', '--no-check'] + fla)
        check(r.get('errors') == 0 and r.get('ops', 0) > 0,
              'floor mix: %r' % r)
        if uring:
            r = perf(b, ['mix', '--conns', '4', '--depth', '2', '--seconds',
                         '0.2', '--no-check', '--socket', flu_sock, '--pid',
                         str(flu.pid)])
            check(r.get('errors') == 0 and r.get('ops', 0) > 0,
                  'io_uring floor mix: %r' % r)
        # The floor's READs return no value: the checks must notice.
        r = perf(b, ['mix', '--conns', '1', '--count', '200'] + fla,
                 expect_rc=1)
        check(r.get('errors', 0) > 0, 'checks passed the floor: %r' % r)

        out = os.path.join(tmp, 'results')
        peers = ['mxenstored', 'floor'] + (['flooru'] if uring else [])
        c = subprocess.run([args.compare, '--build', b, '--out', out,
                            '--seconds', '0.3', '--conns', '1,2',
                            '--depths', '1,2', '--domains', '10',
                            '--watchers', '3', '--writes', '2',
                            '--peers', ','.join(peers),
                            '--ring-domains', '10,20', '--ring-watchers', '5',
                            '--ring-writes', '2', '--repeat', '2',
                            '--ring-rates', '500,1000',
                            '--ring-rate-seconds', '0.2'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=300)
        check(c.returncode == 0, 'compare rc %d: %s' % (
            c.returncode, c.stdout.decode()[-500:]))
        for f in ('table.md', 'results.jsonl', 'throughput.png', 'p99.png',
                  'rings.md', 'rings.jsonl', 'ring-time.png',
                  'ring-rate.png', 'ring-p99.png'):
            p = os.path.join(out, f)
            check(os.path.exists(p) and os.path.getsize(p) > 0,
                  'compare wrote no %s' % f)
        if os.path.exists(os.path.join(out, 'results.jsonl')):
            recs = [json.loads(l) for l in open(
                os.path.join(out, 'results.jsonl'))]
            # Two rounds of 2 x 2 mix points and the writes point on
            # every peer; fan-out, memory and boot on mxenstored alone.
            np = len(peers)
            check(len(recs) == 2 * (2 * 2 * np + np) + 3,
                  'compare ran %d runs' % len(recs))
            check(all(not r.get('failed') for r in recs),
                  'compare runs failed: %r' % [r for r in recs
                                               if r.get('failed')])
            for p in peers:
                n = sum(1 for r in recs if r.get('peer') == p and
                        r.get('scenario') in ('mix', 'writes') and
                        r.get('ops', 0) > 0)
                check(n == 2 * (2 * 2 + 1),
                      'compare: %d socket runs of %s' % (n, p))
        table = os.path.join(out, 'table.md')
        if os.path.exists(table):
            md = open(table).read()
            want = ['floor ops/s']
            for p in peers[1:]:
                want += ['mx/%s ops' % p, 'mx/%s p99' % p, 'mx/%s cpu' % p]
            if uring:
                want.append('floor (io_uring) ops/s')
            for w in want:
                check(w in md, 'table.md has no "%s"' % w)
        ratios = os.path.join(out, 'ratios.jsonl')
        check(os.path.exists(ratios), 'compare wrote no ratios.jsonl')
        if os.path.exists(ratios):
            rat = [json.loads(l) for l in open(ratios)]
            mixes = [r for r in rat if r['scenario'] in ('mix', 'writes')]
            check(len(mixes) == 2 * 2 + 1, 'ratios.jsonl: %r' % rat)
            # Every socket point has all three ratios to every floor.
            for r in mixes:
                for p in peers[1:]:
                    v = r['mx_over'].get(p, {})
                    check(all(isinstance(v.get(k), float) and v[k] > 0
                              for k in ('ops', 'p99', 'cpu')),
                          'ratios.jsonl %s vs %s: %r' % (r['args'], p, v))
        gp = os.path.join(out, 'plots.gp')
        if os.path.exists(gp):
            script = open(gp).read()
            for p in peers:
                for d in (1, 2):
                    check('mix-%s-d%d.dat' % (p, d) in script and
                          os.path.getsize(os.path.join(
                              out, 'mix-%s-d%d.dat' % (p, d))) > 0,
                          'the plots have no %s at depth %d' % (p, d))
        if os.path.exists(os.path.join(out, 'rings.jsonl')):
            recs = [json.loads(l) for l in open(
                os.path.join(out, 'rings.jsonl'))]
            plain = [r for r in recs if 'scale' not in r]
            scale = [r for r in recs if 'scale' in r]
            # The floors serve no ring: mxenstored's runs, two rounds of
            # 10 and 20 domains.
            check(len(plain) == 4 and
                  all(r.get('peer') == 'mxenstored' and not r.get('failed')
                      and r.get('handshakes') == r.get('domains') and
                      r.get('rounds') == 1 for r in plain) and
                  [(r.get('domains'), r.get('round')) for r in plain] ==
                  [(10, 0), (10, 1), (20, 0), (20, 1)],
                  'compare ring runs: %r' % plain)
            # Open loop at 500 and 1,000 req/s, 0.2 s: 100 and 200
            # requests over the guests, every one answered.
            for r in plain:
                steps = [(s.get('rate'), s.get('ops'), s.get('unanswered'),
                          s.get('errors')) for s in r.get('open', [])]
                check(steps == [(500, 100, 0, 0), (1000, 200, 0, 0)],
                      'compare open-loop steps: %r' % steps)
            # The linear-scale runs at 10 domains, k = 20 / 10 per round:
            # every phase with --rounds 2 (warm), then two cold runs of
            # every phase once.
            every = sorted(['boot', 'handshake', 'traffic', 'fanout',
                            'death'])
            want = [(rnd, part, 10, 2 if part == 0 else 1, every)
                    for rnd in (0, 1) for part in (0, 1, 2)]
            got = [(r.get('round'), r.get('scale'), r.get('domains'),
                    r.get('rounds'), sorted(r.get('phases', {})))
                   for r in scale]
            check(got == want, 'compare scale runs: %r' % got)
            for r in scale:
                ph = r.get('phases', {})
                check(not r.get('failed') and r.get('errors') == 0 and
                      not r.get('open'), 'compare scale run: %r' % r)
                if r.get('scale') == 0:
                    check(r.get('handshakes') == 10 and
                          ph.get('traffic', {}).get('ops') == 2 * 10 * 50 and
                          ph.get('fanout', {}).get('ops') == 2 * 5 * 2,
                          'compare scale run, two rounds: %r' % r)
        rings_md = os.path.join(out, 'rings.md')
        if os.path.exists(rings_md):
            md = open(rings_md).read()
            for want in ('traffic at 500 req/s open loop',
                         'traffic at 1,000 req/s open loop',
                         'median of 2 runs',
                         'time per domain at 20 / at 10',
                         '`mxs-perf ring --rounds 2`', 'Medians of 2 rounds'):
                check(want in md, 'rings.md has no "%s"' % want)
            lin = md[md.find('### linear scale'):]
            for phase in ('boot', 'handshake', 'traffic', 'fanout',
                          'death'):
                row = [l for l in lin.splitlines()
                       if l.startswith('| %s |' % phase)]
                cols = row[0].split(' | ') if row else []
                # The warm column: the phases --rounds repeats.
                warm = cols[8].strip(' |') if len(cols) == 9 else ''
                check(len(cols) == 9 and cols[3].endswith('x') and
                      cols[7] in ('yes', 'no') and
                      (len(warm.split(', ')) == 4 and
                       warm.split(', ')[1].endswith('x') if phase in
                       ('handshake', 'traffic', 'fanout') else warm == '–'),
                      'rings.md linear scale, %s: %r' % (phase, row))
        check(mx.poll() is None and fl.poll() is None and
              (not uring or flu.poll() is None), 'a server died')
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    print('%d failed' % len(failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
