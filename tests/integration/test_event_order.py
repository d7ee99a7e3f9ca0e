# SPDX-License-Identifier: MIT
"""Watch-event guarantees under concurrent writers on several workers
(tests/integration/xsorder.c does the work):
- no event of a removed watch arrives after the UNWATCH reply, nor after
  the RESET_WATCHES reply;
- the events of different commits reach a watcher in the order in which
  the commits were applied, each exactly once.
The daemon runs with 2 workers (round-robin placement puts writers on the
watcher's worker and on the other one); CONTROL check after each mode.
With --tsan against the ThreadSanitizer daemon.  No timing is asserted."""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxsfixture as fx  # noqa: E402
from mxsfixture import CONTROL, XsError  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    fx.add_standalone_args(ap)
    ap.add_argument('--xsorder', required=True)
    ap.add_argument('--rounds', type=int, default=0,
                    help='rounds per mode (0: the tool\'s default)')
    args = ap.parse_args()

    failures = []
    d = fx.standalone_daemon(args, 'mxs-order', workers=2)
    if d is None:
        return fx.SKIP
    try:
        d.start()
        for mode in ('unwatch', 'reset', 'order'):
            cmd = [args.xsorder, '--socket', d.socket, '--mode', mode]
            if args.rounds:
                cmd += ['--rounds', str(args.rounds)]
            r = subprocess.run(cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=900)
            out = r.stdout.decode(errors='replace').strip()
            print(out)
            if r.returncode != 0 or 'violations=0' not in out:
                failures.append('%s: rc %d: %s' % (mode, r.returncode,
                                                   out[-2000:]))
            with d.connect() as c:
                try:
                    c.request(CONTROL, b'check\0')
                except XsError as e:
                    failures.append('CONTROL check: %s' % e)
        if not d.alive():
            failures.append('daemon died')
    except Exception as e:
        failures.append('%r' % (e,))
    finally:
        d.stop()
        log = d.log()
        failures += d.problems()
        d.cleanup()
    if failures:
        print('daemon stderr:\n' + log[-4000:])
    for f in failures:
        print('FAIL: ' + f)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
