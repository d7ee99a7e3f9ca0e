#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The perf tools work (CTest perf_tools, label integration): every
mxs-perf scenario against a real mxenstored finishes with checked replies
and the numbers its JSON promises; the reply checks catch a daemon that
answers wrongly (the floor, run without --no-check, must fail them); the
floor answers every scenario that needs no store; perf/compare writes its
table, raw results and both plots, and its ring table (with the
open-loop rows and, with --repeat 2, the medians of two runs of each
point) and plots.  No timing is asserted.

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
        procs = [mx, fl]
        check(wait_socket(mx_sock, mx), 'mxenstored did not come up')
        check(wait_socket(fl_sock, fl), 'mxs-floor did not come up')
        if failures:
            return 1
        mxa = ['--socket', mx_sock, '--pid', str(mx.pid)]

        r = perf(b, ['mix', '--conns', '4', '--depth', '4', '--seconds',
                     '0.3'] + mxa)
        check(r.get('errors') == 0 and r.get('ops', 0) > 0,
              'mix: %r' % r)
        check(r.get('depth') == 4 and r.get('conns') == 4 and
              r.get('mix') == '80/15/5', 'mix parameters: %r' % r)
        check(r.get('daemon_cpu_s', -1) >= 0 and
              r.get('p50_us', 0) <= r.get('p99_us', -1) <=
              r.get('p999_us', -1), 'mix numbers: %r' % r)
        r = perf(b, ['mix', '--conns', '3', '--count', '500'] + mxa)
        check(r.get('ops') == 500, 'mix --count 500: %r' % r)
        r = perf(b, ['writes', '--conns', '2', '--seconds', '0.2'] + mxa)
        check(r.get('errors') == 0 and r.get('mix') == '0/100/0',
              'writes: %r' % r)
        r = perf(b, ['fanout', '--watchers', '5', '--writes', '4'] + mxa)
        check(r.get('ops') == 20 and r.get('errors') == 0,
              'fanout: 5 watchers x 4 writes: %r' % r)
        r = perf(b, ['memory', '--count', '3000'] + mxa)
        check(r.get('ops') == 3000 and 'bytes_per_node' in r,
              'memory: %r' % r)
        r = perf(b, ['boot', '--domains', '20'] + mxa)
        check(r.get('errors') == 0 and r.get('ops', 0) >= 20 * 26 and
              r.get('build_s', 0) > 0, 'boot: %r' % r)

        fla = ['--socket', fl_sock, '--pid', str(fl.pid)]
        r = perf(b, ['mix', '--conns', '4', '--depth', '2', '--seconds',
                     '0.2', '--no-check'] + fla)
        check(r.get('errors') == 0 and r.get('ops', 0) > 0,
              'floor mix: %r' % r)
        # The floor's READs return no value: the checks must notice.
        r = perf(b, ['mix', '--conns', '1', '--count', '200'] + fla,
                 expect_rc=1)
        check(r.get('errors', 0) > 0, 'checks passed the floor: %r' % r)

        out = os.path.join(tmp, 'results')
        c = subprocess.run([args.compare, '--build', b, '--out', out,
                            '--seconds', '0.3', '--conns', '1,2',
                            '--depths', '1,2', '--domains', '10',
                            '--watchers', '3', '--writes', '2',
                            '--peers', 'mxenstored,floor',
                            '--ring-domains', '20', '--ring-watchers', '5',
                            '--ring-writes', '2', '--repeat', '2',
                            '--ring-rates', '500,1000',
                            '--ring-rate-seconds', '0.2'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=300)
        check(c.returncode == 0, 'compare rc %d: %s' % (
            c.returncode, c.stdout.decode()[-500:]))
        for f in ('table.md', 'results.jsonl', 'throughput.png', 'p99.png',
                  'rings.md', 'rings.jsonl', 'ring-time.png',
                  'ring-rate.png'):
            p = os.path.join(out, f)
            check(os.path.exists(p) and os.path.getsize(p) > 0,
                  'compare wrote no %s' % f)
        if os.path.exists(os.path.join(out, 'results.jsonl')):
            recs = [json.loads(l) for l in open(
                os.path.join(out, 'results.jsonl'))]
            check(len(recs) == 2 * (2 * 2 * 2 + 2) + 3, 'compare ran %d runs'
                  % len(recs))
            check(all(not r.get('failed') for r in recs),
                  'compare runs failed: %r' % [r for r in recs
                                               if r.get('failed')])
        if os.path.exists(os.path.join(out, 'rings.jsonl')):
            recs = [json.loads(l) for l in open(
                os.path.join(out, 'rings.jsonl'))]
            # The floor serves no ring: mxenstored's runs, two rounds.
            check(len(recs) == 2 and
                  all(r.get('peer') == 'mxenstored' and not r.get('failed')
                      and r.get('handshakes') == 20 for r in recs) and
                  [r.get('round') for r in recs] == [0, 1],
                  'compare ring runs: %r' % recs)
            # Open loop at 500 and 1,000 req/s, 0.2 s: 5 and 10 requests
            # per guest, every one answered.
            for r in recs:
                steps = [(s.get('rate'), s.get('ops'), s.get('unanswered'),
                          s.get('errors')) for s in r.get('open', [])]
                check(steps == [(500, 100, 0, 0), (1000, 200, 0, 0)],
                      'compare open-loop steps: %r' % steps)
        rings_md = os.path.join(out, 'rings.md')
        if os.path.exists(rings_md):
            md = open(rings_md).read()
            for want in ('traffic at 500 req/s open loop',
                         'traffic at 1,000 req/s open loop',
                         'median of 2 runs'):
                check(want in md, 'rings.md has no "%s"' % want)
        check(mx.poll() is None and fl.poll() is None, 'a server died')
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    print('%d failed' % len(failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
