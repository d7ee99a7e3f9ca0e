# SPDX-License-Identifier: MIT
"""Debian's xenstore-utils against mxenstored: output and exit codes of
xenstore-write/read/ls/list/exists/rm/chmod/watch."""
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxsfixture as fx  # noqa: E402

# Debian's xenstore-control of xen-utils-4.17 (the /usr/bin one is a
# wrapper that needs a hypervisor to pick the version).
CONTROL = '/usr/lib/xen-4.17/bin/xenstore-control'
TOOLS = [CONTROL, 'xenstore-write', 'xenstore-read', 'xenstore-ls', 'xenstore-list',
         'xenstore-exists', 'xenstore-rm', 'xenstore-chmod', 'xenstore-watch']
TIMEOUT = 60


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = fx.Daemon(name='mxs-cli').start()
        cls.env = cls.d.client_env()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup(check=True)

    def run_tool(self, *args, rc=0):
        p = subprocess.run(list(args), env=self.env, capture_output=True,
                           timeout=TIMEOUT)
        self.assertEqual(p.returncode, rc,
                         '%s: rc %d, stdout %r stderr %r'
                         % (' '.join(args), p.returncode, p.stdout, p.stderr))
        return p.stdout.decode()

    def test_write_read(self):
        self.run_tool('xenstore-write', '/cli/rw/a', 'hello', '/cli/rw/b',
                      'two words')
        self.assertEqual(self.run_tool('xenstore-read', '/cli/rw/a'), 'hello\n')
        self.assertEqual(self.run_tool('xenstore-read', '/cli/rw/a',
                                       '/cli/rw/b'), 'hello\ntwo words\n')
        self.assertEqual(self.run_tool('xenstore-read', '-p', '/cli/rw/a',
                                       '/cli/rw/b'),
                         '/cli/rw/a: hello\n/cli/rw/b: two words\n')
        # Parents are created with empty values.
        self.assertEqual(self.run_tool('xenstore-read', '/cli/rw'), '\n')
        # Overwrite, then an empty value.
        self.run_tool('xenstore-write', '/cli/rw/a', 'again')
        self.assertEqual(self.run_tool('xenstore-read', '/cli/rw/a'), 'again\n')
        self.run_tool('xenstore-write', '/cli/rw/a', '')
        self.assertEqual(self.run_tool('xenstore-read', '/cli/rw/a'), '\n')

    def test_read_missing(self):
        self.run_tool('xenstore-read', '/cli/missing/node', rc=1)

    def test_ls(self):
        self.run_tool('xenstore-write', '/cli/ls/x', '1', '/cli/ls/y/z', 'deep')
        self.assertEqual(self.run_tool('xenstore-ls', '/cli/ls'),
                         'x = "1"\ny = ""\n z = "deep"\n')
        self.assertEqual(self.run_tool('xenstore-ls', '-f', '/cli/ls'),
                         '/cli/ls/x = "1"\n/cli/ls/y = ""\n'
                         '/cli/ls/y/z = "deep"\n')
        out = self.run_tool('xenstore-ls', '-p', '/cli/ls')
        lines = out.splitlines()
        self.assertEqual(len(lines), 3, out)
        self.assertTrue(lines[0].startswith('x = "1"'), out)
        self.assertTrue(lines[0].endswith('(n0)'), out)
        self.assertTrue(lines[2].startswith(' z = "deep"'), out)
        self.assertTrue(lines[2].endswith('(n0)'), out)
        # The whole tree is listable from the root.
        out = self.run_tool('xenstore-ls', '/')
        self.assertIn('cli = ""\n', out)
        self.assertIn('  z = "deep"\n', out)
        self.run_tool('xenstore-ls', '/cli/ls/nope', rc=1)

    def test_list(self):
        self.run_tool('xenstore-write', '/cli/list/b', '1', '/cli/list/a', '2',
                      '/cli/list/c/d', '3')
        out = self.run_tool('xenstore-list', '/cli/list')
        self.assertEqual(sorted(out.split()), ['a', 'b', 'c'])
        out = self.run_tool('xenstore-list', '-p', '/cli/list')
        self.assertEqual(sorted(out.split()),
                         ['/cli/list/a', '/cli/list/b', '/cli/list/c'])
        self.assertEqual(self.run_tool('xenstore-list', '/cli/list/a'), '')
        self.run_tool('xenstore-list', '/cli/list/missing', rc=1)

    def test_exists_rm(self):
        self.run_tool('xenstore-write', '/cli/rm/sub/leaf', 'v', '/cli/rm/keep',
                      'k')
        self.run_tool('xenstore-exists', '/cli/rm/sub/leaf')
        self.run_tool('xenstore-exists', '/cli/rm/sub/nope', rc=1)
        # rm removes the whole subtree.
        self.run_tool('xenstore-rm', '/cli/rm/sub')
        self.run_tool('xenstore-exists', '/cli/rm/sub', rc=1)
        self.run_tool('xenstore-exists', '/cli/rm/sub/leaf', rc=1)
        self.run_tool('xenstore-exists', '/cli/rm/keep')
        # Removing a missing node whose parent exists succeeds.
        self.run_tool('xenstore-rm', '/cli/rm/sub')
        # -t also removes parents left empty.
        self.run_tool('xenstore-write', '/cli/rm/t1/t2/t3', '')
        self.run_tool('xenstore-rm', '-t', '/cli/rm/t1/t2/t3')
        self.run_tool('xenstore-exists', '/cli/rm/t1', rc=1)
        self.run_tool('xenstore-exists', '/cli/rm/keep')

    def test_chmod(self):
        self.run_tool('xenstore-write', '/cli/perm/a/b', 'v')
        self.run_tool('xenstore-chmod', '/cli/perm/a', 'n1', 'r2', 'w3', 'b4')
        out = self.run_tool('xenstore-ls', '-p', '/cli/perm')
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith('a = ""'), out)
        self.assertTrue(lines[0].endswith('(n1,r2,w3,b4)'), out)
        # Not recursive without -r: the existing child keeps its perms.
        self.assertTrue(lines[1].endswith('(n0)'), out)
        self.run_tool('xenstore-chmod', '-r', '/cli/perm/a', 'b5')
        out = self.run_tool('xenstore-ls', '-p', '/cli/perm')
        for line in out.splitlines():
            self.assertTrue(line.endswith('(b5)'), out)
        # A new node inherits its parent's permissions.
        self.run_tool('xenstore-write', '/cli/perm/a/new', 'x')
        out = self.run_tool('xenstore-ls', '-p', '/cli/perm/a')
        self.assertIn('new = "x"', out)
        for line in out.splitlines():
            self.assertTrue(line.endswith('(b5)'), out)
        # Bad permission strings and missing nodes fail.
        self.run_tool('xenstore-chmod', '/cli/perm/a', 'q7', rc=1)
        self.run_tool('xenstore-chmod', '/cli/perm/missing/x', 'n0', rc=1)

    def test_watch(self):
        self.run_tool('xenstore-write', '/cli/watch/w', 'init')
        # -n 2: the initial event, then one for our write.
        p = subprocess.Popen(['xenstore-watch', '-n', '2', '/cli/watch'],
                             env=self.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            first = p.stdout.readline().decode()
            self.assertEqual(first, '/cli/watch\n')
            # The watch is registered (we saw its initial event): write.
            self.run_tool('xenstore-write', '/cli/watch/w/child', 'x')
            out, err = p.communicate(timeout=TIMEOUT)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out.decode(), '/cli/watch/w/child\n')

    def test_control_quota(self):
        # The table, as the C daemon 4.17 prints it.
        out = self.run_tool(CONTROL, 'quota')
        self.assertTrue(out.startswith('Quota settings:\n'), out)
        self.assertIn('nodes            :     1000 Nodes per domain\n', out)
        self.assertIn('watches          :      128 Watches per domain\n', out)
        self.assertIn('transaction-nodes:     1024 Max. number of accessed '
                      'nodes per transaction\n', out)
        self.assertIn('permissions      :        5 ', out)
        # set, then the new value listed; bad names and values refused.
        self.assertEqual(self.run_tool(CONTROL, 'quota', 'set', 'watches',
                                       '77'), 'OK\n')
        self.assertIn('watches          :       77 ',
                      self.run_tool(CONTROL, 'quota'))
        self.run_tool(CONTROL, 'quota', 'set', 'watches', '128')
        self.run_tool(CONTROL, 'quota', 'set', 'bogus', '1', rc=3)
        self.run_tool(CONTROL, 'quota', 'set', 'nodes', '0', rc=3)
        # A domain the daemon does not know (socket-only daemon).
        self.run_tool(CONTROL, 'quota', '5', rc=3)
        out = self.run_tool(CONTROL, 'quota-soft')
        self.assertIn('memory           :  2097152 ', out)
        self.assertEqual(self.run_tool(CONTROL, 'quota-soft', 'set',
                                       'memory', '3000000'), 'OK\n')
        self.assertIn('memory           :  3000000 ',
                      self.run_tool(CONTROL, 'quota-soft'))
        self.run_tool(CONTROL, 'quota-soft', 'set', 'nodes', '1', rc=3)
        self.run_tool(CONTROL, 'quota-soft', 'set', 'memory', '2097152')

    def test_invalid_path(self):
        self.run_tool('xenstore-write', '/cli/bad//path', 'x', rc=1)
        self.run_tool('xenstore-read', '/cli/bad path', rc=1)


def main():
    missing = [t for t in TOOLS if not shutil.which(t)
               and not os.access(t, os.X_OK)]
    if missing:
        print('SKIP: xenstore-utils missing: %s' % ' '.join(missing))
        sys.exit(fx.SKIP)
    fx.run_unittest()


if __name__ == '__main__':
    main()
