# SPDX-License-Identifier: MIT
"""Debian's test-xenstore (all tests, -i 20) against mxenstored."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxsfixture as fx  # noqa: E402

TEST_XENSTORE = os.environ.get('MXS_TEST_XENSTORE',
                               '/usr/lib/xen-4.17/bin/test-xenstore')


def main():
    daemon = fx.daemon_path()
    if not daemon or not os.path.exists(daemon):
        print('SKIP: daemon binary %r does not exist' % daemon)
        return fx.SKIP
    if not os.access(TEST_XENSTORE, os.X_OK):
        print('SKIP: %s not installed (xen-utils-4.17)' % TEST_XENSTORE)
        return fx.SKIP
    listed = subprocess.run([TEST_XENSTORE, '-l'], capture_output=True,
                            timeout=60).stdout.decode()
    names = [l.split(':')[0].strip() for l in listed.splitlines() if ':' in l]
    with fx.Daemon(daemon, name='mxs-xstest') as d:
        p = subprocess.run([TEST_XENSTORE, '-i', '20'], env=d.client_env(),
                           capture_output=True, timeout=1200)
        sys.stdout.write(p.stdout.decode(errors='replace'))
        sys.stdout.write(p.stderr.decode(errors='replace'))
        if p.returncode != 0:
            print('FAIL: test-xenstore exited %d' % p.returncode)
            print('daemon log:\n' + d.log())
            return 1
        out = p.stdout.decode(errors='replace')
        ran = [l.split(':')[0].strip() for l in out.splitlines() if 'avg:' in l]
        if not names or sorted(ran) != sorted(names):
            print('FAIL: tests listed %r but ran %r' % (names, ran))
            return 1
        if not d.alive():
            print('FAIL: daemon died during test-xenstore:\n' + d.log())
            return 1
        d.stop()
        if d.problems():
            print('FAIL: daemon: %s\n%s' % ('; '.join(d.problems()), d.log()))
            return 1
    print('PASS: test-xenstore -i 20')
    return 0


if __name__ == '__main__':
    sys.exit(main())
