# SPDX-License-Identifier: MIT
"""python3-pyxs against mxenstored: transactions (commit, abort, conflict
-> EAGAIN), watches (initial event, events on write, relative paths) and
permissions.  Run with Debian's /usr/bin/python3 (pyxs is packaged for it)."""
import copy
import errno
import os
import queue
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxsfixture as fx  # noqa: E402

try:
    import pyxs
    from pyxs.exceptions import PyXSError
    from pyxs._internal import Op
except ImportError:  # reported in main()
    pyxs = None

EV_TIMEOUT = 60


class PyxsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = fx.Daemon(name='mxs-pyxs').start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup(check=True)

    def client(self):
        c = pyxs.Client(unix_socket_path=self.d.socket)
        c.connect()
        self.addCleanup(c.close)
        return c

    def event(self, m):
        """Next raw event of a monitor (no filtering), with a timeout."""
        try:
            return m.events.get(timeout=EV_TIMEOUT)
        except queue.Empty:
            self.fail('no watch event within %ds' % EV_TIMEOUT)

    _sentinels = 0

    def no_event(self, m, writer):
        """No event is pending for monitor m.  Events may cross worker
        threads, so a round trip alone proves nothing: watch a sentinel
        node, write it over the writer's connection (outside any
        transaction) and collect events until the sentinel's write event;
        the daemon delivers one writer's events to a watcher in order, so
        any stray event caused earlier by that writer shows up before it."""
        PyxsTest._sentinels += 1
        path = b'/px-sentinel/%d' % PyxsTest._sentinels
        tok = b'sentinel%d' % PyxsTest._sentinels
        m.watch(path, tok)
        plain = copy.copy(writer)  # same connection, tx_id 0
        plain.write(path, b'x')
        seen, stray = 0, []
        while seen < 2:  # the initial event, then the write's
            ev = self.event(m)
            if ev == (path, tok):
                seen += 1
            else:
                stray.append(ev)
        m.unwatch(path, tok)
        self.assertEqual(stray, [])

    # -- basic ops -------------------------------------------------------
    def test_read_write_list_delete(self):
        c = self.client()
        c.write(b'/px/basic/a', b'1')
        c.write(b'/px/basic/b', b'')
        c.mkdir(b'/px/basic/c/d')
        self.assertEqual(c.read(b'/px/basic/a'), b'1')
        self.assertEqual(c.read(b'/px/basic/b'), b'')
        self.assertEqual(c.read(b'/px/basic/c'), b'')
        self.assertEqual(sorted(c.list(b'/px/basic')), [b'a', b'b', b'c'])
        self.assertTrue(c.exists(b'/px/basic/c/d'))
        c.delete(b'/px/basic/c')
        self.assertFalse(c.exists(b'/px/basic/c/d'))
        self.assertFalse(c.exists(b'/px/basic/c'))
        with self.assertRaises(PyXSError) as e:
            c.read(b'/px/basic/c')
        self.assertEqual(e.exception.args[0], errno.ENOENT)
        self.assertEqual(c.read(b'/px/basic/c', b'dflt'), b'dflt')
        self.assertEqual(c.get_domain_path(7), b'/local/domain/7')

    def test_relative_paths(self):
        # A dom0 socket connection resolves relative paths against
        # /local/domain/0, as the C daemon does.
        c = self.client()
        c.write(b'px-rel/x', b'rel')
        self.assertEqual(c.read(b'/local/domain/0/px-rel/x'), b'rel')
        self.assertEqual(c.read(b'px-rel/x'), b'rel')

    # -- transactions ----------------------------------------------------
    def test_tx_commit(self):
        c, other = self.client(), self.client()
        c.write(b'/px/txc/n', b'old')
        c.transaction()
        c.write(b'/px/txc/n', b'new')
        c.write(b'/px/txc/created', b'c')
        self.assertEqual(c.read(b'/px/txc/n'), b'new')  # own writes visible
        # Not visible outside before the commit.
        self.assertEqual(other.read(b'/px/txc/n'), b'old')
        self.assertFalse(other.exists(b'/px/txc/created'))
        self.assertTrue(c.commit())
        self.assertEqual(other.read(b'/px/txc/n'), b'new')
        self.assertEqual(other.read(b'/px/txc/created'), b'c')

    def test_tx_abort(self):
        c = self.client()
        c.write(b'/px/txa/n', b'keep')
        c.transaction()
        c.write(b'/px/txa/n', b'discard')
        c.write(b'/px/txa/new', b'x')
        c.delete(b'/px/txa/n')
        c.rollback()
        self.assertEqual(c.read(b'/px/txa/n'), b'keep')
        self.assertFalse(c.exists(b'/px/txa/new'))

    def test_tx_conflict_eagain(self):
        c, other = self.client(), self.client()
        c.write(b'/px/txx/n', b'0')
        c.transaction()
        v = int(c.read(b'/px/txx/n'))
        other.write(b'/px/txx/n', b'100')   # changes what the tx read
        c.write(b'/px/txx/n', str(v + 1).encode())
        # TRANSACTION_END "T" must fail with EAGAIN.
        with self.assertRaises(PyXSError) as e:
            c.ack(Op.TRANSACTION_END, b'T\0')
        self.assertEqual(e.exception.args[0], errno.EAGAIN)
        c.tx_id = 0
        self.assertEqual(c.read(b'/px/txx/n'), b'100')  # tx discarded
        # pyxs's commit() reports the same conflict as False.
        c.transaction()
        c.read(b'/px/txx/n')
        other.write(b'/px/txx/n', b'200')
        self.assertFalse(c.commit())
        # Without interference the retry commits.
        c.transaction()
        v = int(c.read(b'/px/txx/n'))
        c.write(b'/px/txx/n', str(v + 1).encode())
        self.assertTrue(c.commit())
        self.assertEqual(other.read(b'/px/txx/n'), b'201')

    def test_tx_read_only_conflict(self):
        # A conflict on a node that was only read still fails the commit.
        c, other = self.client(), self.client()
        c.write(b'/px/txr/a', b'a')
        c.transaction()
        c.read(b'/px/txr/a')
        c.write(b'/px/txr/b', b'b')
        other.write(b'/px/txr/a', b'changed')
        self.assertFalse(c.commit())
        self.assertFalse(other.exists(b'/px/txr/b'))

    def test_tx_unrelated_write_commits(self):
        c, other = self.client(), self.client()
        c.write(b'/px/txu/mine', b'0')
        other.write(b'/px/txu/theirs', b'0')
        c.transaction()
        c.read(b'/px/txu/mine')
        other.write(b'/px/txu/theirs', b'1')
        c.write(b'/px/txu/mine', b'1')
        self.assertTrue(c.commit())
        self.assertEqual(other.read(b'/px/txu/mine'), b'1')

    # -- watches ---------------------------------------------------------
    def test_watch(self):
        c, writer = self.client(), self.client()
        c.write(b'/px/w/node', b'0')
        m = c.monitor()
        m.watch(b'/px/w', b'tok')
        self.assertEqual(self.event(m), (b'/px/w', b'tok'))  # initial
        writer.write(b'/px/w/node', b'1')
        self.assertEqual(self.event(m), (b'/px/w/node', b'tok'))
        writer.write(b'/px/w/node/deeper', b'2')
        self.assertEqual(self.event(m), (b'/px/w/node/deeper', b'tok'))
        writer.delete(b'/px/w/node')
        self.assertEqual(self.event(m), (b'/px/w/node', b'tok'))
        writer.set_perms(b'/px/w', [b'n0', b'r3'])
        self.assertEqual(self.event(m), (b'/px/w', b'tok'))
        # Writes elsewhere do not fire.
        writer.write(b'/px/wother', b'x')
        writer.write(b'/px/w-sibling', b'x')
        self.no_event(m, writer)
        m.unwatch(b'/px/w', b'tok')
        writer.write(b'/px/w/node', b'after-unwatch')
        self.no_event(m, writer)

    def test_watch_in_transaction_fires_at_commit(self):
        c, writer = self.client(), self.client()
        m = c.monitor()
        m.watch(b'/px/wtx', b't2')
        self.assertEqual(self.event(m), (b'/px/wtx', b't2'))
        writer.transaction()
        writer.write(b'/px/wtx/a', b'1')
        self.no_event(m, writer)
        self.assertTrue(writer.commit())
        self.assertEqual(self.event(m), (b'/px/wtx/a', b't2'))
        writer.transaction()
        writer.write(b'/px/wtx/b', b'1')
        writer.rollback()
        self.no_event(m, writer)

    def test_watch_relative(self):
        # Relative watch paths give relative event paths.
        c, writer = self.client(), self.client()
        m = c.monitor()
        m.watch(b'px-relw', b'rel')
        self.assertEqual(self.event(m), (b'px-relw', b'rel'))
        writer.write(b'/local/domain/0/px-relw/k', b'v')
        self.assertEqual(self.event(m), (b'px-relw/k', b'rel'))

    def test_watch_special(self):
        c = self.client()
        m = c.monitor()
        m.watch(b'@introduceDomain', b'intro')
        self.assertEqual(self.event(m), (b'@introduceDomain', b'intro'))
        m.watch(b'@releaseDomain', b'rel')
        self.assertEqual(self.event(m), (b'@releaseDomain', b'rel'))

    def test_two_tokens_same_path(self):
        c, writer = self.client(), self.client()
        m = c.monitor()
        m.watch(b'/px/wt', b'one')
        m.watch(b'/px/wt', b'two')
        got = {self.event(m), self.event(m)}
        self.assertEqual(got, {(b'/px/wt', b'one'), (b'/px/wt', b'two')})
        writer.write(b'/px/wt', b'x')
        got = {self.event(m), self.event(m)}
        self.assertEqual(got, {(b'/px/wt', b'one'), (b'/px/wt', b'two')})

    # -- permissions -----------------------------------------------------
    def test_perms_round_trip(self):
        c = self.client()
        c.write(b'/px/perm/a', b'v')
        self.assertEqual(c.get_perms(b'/px/perm/a'), [b'n0'])
        c.set_perms(b'/px/perm/a', [b'n5', b'r6', b'w7', b'b8'])
        self.assertEqual(c.get_perms(b'/px/perm/a'),
                         [b'n5', b'r6', b'w7', b'b8'])
        # Children inherit on creation.
        c.write(b'/px/perm/a/child', b'c')
        self.assertEqual(c.get_perms(b'/px/perm/a/child'),
                         [b'n5', b'r6', b'w7', b'b8'])
        # dom0 keeps full access to a node it no longer owns.
        self.assertEqual(c.read(b'/px/perm/a'), b'v')
        c.write(b'/px/perm/a', b'w')
        c.set_perms(b'/px/perm/a', [b'r0'])
        self.assertEqual(c.get_perms(b'/px/perm/a'), [b'r0'])
        # Inside a transaction, applied at commit.
        c.transaction()
        c.set_perms(b'/px/perm/a', [b'b3'])
        self.assertEqual(c.get_perms(b'/px/perm/a'), [b'b3'])
        self.assertTrue(c.commit())
        self.assertEqual(c.get_perms(b'/px/perm/a'), [b'b3'])
        with self.assertRaises(PyXSError) as e:
            c.get_perms(b'/px/perm/missing')
        self.assertEqual(e.exception.args[0], errno.ENOENT)
        with self.assertRaises(PyXSError) as e:
            c.set_perms(b'/px/perm/missing', [b'n0'])
        self.assertEqual(e.exception.args[0], errno.ENOENT)


def main():
    if pyxs is None:
        print('SKIP: pyxs is not importable by %s (install python3-pyxs and '
              'use /usr/bin/python3)' % sys.executable)
        sys.exit(fx.SKIP)
    fx.run_unittest()


if __name__ == '__main__':
    main()
