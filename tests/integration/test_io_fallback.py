#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""--io where io_uring is blocked (LD_PRELOAD of nouring.so: io_uring_setup
fails with EPERM, as under a container's seccomp profile):

- --io auto starts, says once that the sockets go through epoll, and
  serves (a write read back on a new connection);
- --io uring refuses to start, with its reason;
- without the shim, --io auto says it uses io_uring (on a machine that has
  it; where it has not, that check is a SKIP, a failure in CI).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import mxsfixture as fx


def main():
    ap = argparse.ArgumentParser()
    fx.add_standalone_args(ap)
    ap.add_argument('--shim', required=True)
    args = ap.parse_args()
    failures = []
    env = {'LD_PRELOAD': args.shim,
           # An ASan daemon: its runtime need not come first here.
           'ASAN_OPTIONS': 'verify_asan_link_order=0:'
                           + os.environ.get('ASAN_OPTIONS', '')}
    os.environ.pop('MXS_IO', None)  # this test chooses --io itself

    d = fx.standalone_daemon(args, 'mxs-nouring', workers=2)
    if d is None:
        return fx.SKIP
    d.extra_args = ['--io', 'auto']
    d.env = env

    def body(d, failures):
        with d.connect() as c:
            c.write('/fallback', 'yes')
        with d.connect() as c:
            if c.read('/fallback') != b'yes':
                failures.append('auto under the shim: read back wrong')
        log = d.log()
        if log.count('io_uring unavailable') != 1 or \
                'sockets through epoll' not in log:
            failures.append('auto under the shim: want one "io_uring '
                            'unavailable ... sockets through epoll" line')
        if '(epoll)' not in log:
            failures.append('auto under the shim: not listening on epoll')
    rc = fx.run_checked(d, body)

    tmp = tempfile.mkdtemp(prefix='mxs-nouring-')
    cmd = [d.binary, '-N', '-D', '--socket', os.path.join(tmp, 'socket'),
           '--io', 'uring']
    try:
        p = subprocess.run(cmd, env=dict(os.environ, **env), timeout=60,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = p.stdout.decode(errors='replace')
        if p.returncode == 0 or 'io_uring unavailable' not in out:
            failures.append('--io uring under the shim: exit %d, output %r'
                            % (p.returncode, out))
    except subprocess.TimeoutExpired:
        failures.append('--io uring under the shim: started anyway')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    plain = fx.Daemon(d.binary, workers=2, extra_args=['--io', 'auto'],
                      name='mxs-auto')
    try:
        plain.start()
        with plain.connect() as c:
            c.write('/auto', '1')
        log = plain.log()
    finally:
        plain.cleanup()
    if '(io_uring)' not in log:
        if 'io_uring unavailable' in log:
            print('SKIP: this machine has no io_uring:\n' + log)
            return fx.SKIP if not failures else 1
        failures.append('auto without the shim: not on io_uring:\n' + log)

    for f in failures:
        print('FAIL: ' + f)
    if rc or failures:
        return 1
    print('PASS (fallback, refusal and auto)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
