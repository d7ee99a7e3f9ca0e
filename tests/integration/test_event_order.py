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


def main():
    ap = argparse.ArgumentParser()
    fx.add_standalone_args(ap)
    ap.add_argument('--xsorder', required=True)
    ap.add_argument('--rounds', type=int, default=0,
                    help='rounds per mode (0: the tool\'s default)')
    args = ap.parse_args()

    d = fx.standalone_daemon(args, 'mxs-order', workers=2)
    if d is None:
        return fx.SKIP

    def body(d, failures):
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
            fx.control_check(d, failures)
    return fx.run_checked(d, body, log_tail=4000)


if __name__ == '__main__':
    sys.exit(main())
