# SPDX-License-Identifier: MIT
"""A toolstack's boot and death storm (perf/xsboot) as a correctness test:
4 clients build N domains' trees in concurrent transactions (retrying on
EAGAIN), every tree is read back and checked, then all are torn down in
concurrent transactions.  xsboot exits non-zero on any wrong reply; the
store must be empty of domains afterwards and pass CONTROL check.  Run
with the default (merging) commit rule and with --strict-conflicts; with
--tsan against the ThreadSanitizer daemon.  No timing is asserted."""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxsfixture as fx  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    fx.add_standalone_args(ap)
    ap.add_argument('--xsboot', required=True)
    ap.add_argument('--domains', type=int, default=300)
    args = ap.parse_args()

    for extra in ([], ['--strict-conflicts']):
        d = fx.standalone_daemon(args, 'mxs-boot', extra_args=extra)
        if d is None:
            return fx.SKIP

        def body(d, failures):
            r = subprocess.run([args.xsboot, '--socket', d.socket,
                                '--domains', str(args.domains),
                                '--clients', '4',
                                '--label', 'mxenstored' + ''.join(extra)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=600)
            out = r.stdout.decode(errors='replace').strip()
            print(out)
            if r.returncode != 0 or 'errors=0' not in out:
                failures.append('xsboot%s: rc %d: %s' % (
                    ''.join(extra), r.returncode, out))
            with d.connect() as c:
                left = [x for x in c.directory('/local/domain') if x != '0']
                if left:
                    failures.append('domains left: %r' % left[:5])
            fx.control_check(d, failures)
        if fx.run_checked(d, body):
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
