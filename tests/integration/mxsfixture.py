# SPDX-License-Identifier: MIT
"""Shared fixture of the integration tests.

Daemon starts the real mxenstored (-N -D) on a socket in a fresh temporary
directory, waits until the socket accepts connections and always stops it:
on normal exit (SIGTERM, then SIGKILL after a grace period), when the test
process dies (PR_SET_PDEATHSIG) and when CTest's timeout kills the test.

RawClient speaks the wire protocol directly: header '<IIII' (type, req_id,
tx_id, len) followed by len payload bytes.

The daemon binary comes from --daemon PATH or the MXS_DAEMON environment
variable (CTest passes $<TARGET_FILE:mxenstored>).  MXS_IO, when set,
is passed as --io (CTest runs the socket tests with epoll and with
io_uring); a daemon that cannot have the io_uring it was asked for makes
the test exit SKIP (a failure in CI) with its own line.  Timeouts are generous
on purpose: the tests run on noisy 2-core CI machines and under TSan; no
test asserts a timing.
"""
import atexit
import ctypes
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

# Exit status of a test whose dependency (a client, pyxs, the TSan daemon)
# is missing: 77, CTest's SKIP_RETURN_CODE of every integration test; in CI
# (CI=true) 1, a failure, so a machine without the dependency is not green
# with the test not run.  The test's "SKIP: ..." line names what is missing.
SKIP = 1 if os.environ.get('CI') == 'true' else 77

HDR = struct.Struct('<IIII')
PAYLOAD_MAX = 4096

# Op numbers (xs_wire.h).
CONTROL, DIRECTORY, READ, GET_PERMS, WATCH, UNWATCH = 0, 1, 2, 3, 4, 5
TRANSACTION_START, TRANSACTION_END, INTRODUCE, RELEASE = 6, 7, 8, 9
GET_DOMAIN_PATH, WRITE, MKDIR, RM, SET_PERMS, WATCH_EVENT = 10, 11, 12, 13, 14, 15
ERROR, IS_DOMAIN_INTRODUCED, RESUME, SET_TARGET, RESTRICT = 16, 17, 18, 19, 20
RESET_WATCHES, DIRECTORY_PART = 21, 22

SANITIZER_MARKERS = ('WARNING: ThreadSanitizer', 'ERROR: AddressSanitizer',
                     'ERROR: LeakSanitizer', 'runtime error:')

START_TIMEOUT = 60.0   # daemon start-up (TSan builds are slow)
STOP_TIMEOUT = 60.0    # clean exit after SIGTERM
IO_TIMEOUT = 60.0      # any single reply

_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: the daemon gets SIGKILL when the test process dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def daemon_path(argv=None, env='MXS_DAEMON'):
    """The daemon binary from --daemon PATH or $MXS_DAEMON, or None."""
    argv = sys.argv if argv is None else argv
    for i, a in enumerate(argv):
        if a == '--daemon' and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith('--daemon='):
            return a.split('=', 1)[1]
    return os.environ.get(env) or None


def strip_args(argv):
    """argv without --daemon PATH (leaves the rest to unittest)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == '--daemon':
            skip = True
            continue
        if a.startswith('--daemon='):
            continue
        out.append(a)
    return out


class Daemon:
    """One mxenstored on a temporary socket.  Use as a context manager or
    call start()/stop(); stop() is also registered with atexit and SIGTERM
    so the daemon never outlives the test."""

    _live = []

    def __init__(self, binary=None, workers=2, extra_args=(), env=None,
                 name='mxs', nofile=None):
        self.binary = binary or daemon_path()
        if not self.binary:
            raise RuntimeError('no daemon: pass --daemon PATH or set MXS_DAEMON')
        self.workers = workers
        self.extra_args = list(extra_args)
        self.env = env
        self.nofile = nofile  # RLIMIT_NOFILE of the daemon, if set
        self.dir = tempfile.mkdtemp(prefix=name + '-')
        self.socket = os.path.join(self.dir, 'socket')
        self.log_path = os.path.join(self.dir, 'stderr.log')
        self.proc = None
        self.returncode = None

    # -- lifecycle -----------------------------------------------------
    def start(self):
        cmd = [self.binary, '-N', '-D', '--socket', self.socket]
        if self.workers:
            cmd += ['--workers', str(self.workers)]
        if os.environ.get('MXS_IO'):
            cmd += ['--io', os.environ['MXS_IO']]
        cmd += self.extra_args
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self._log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log,
                                     env=env, preexec_fn=self._preexec)
        Daemon._live.append(self)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                log = self.log()
                self.stop()
                if 'io_uring unavailable' in log:
                    # Not a daemon bug: this machine (container) has no
                    # io_uring for the --io uring variant.
                    print('SKIP: io_uring unavailable for --io uring:\n'
                          + log, flush=True)
                    os._exit(SKIP)
                raise RuntimeError('daemon exited with %s during start-up:\n%s'
                                   % (self.proc.returncode, log))
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.socket)
                s.close()
                break
            except OSError:
                s.close()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError('daemon socket %s never came up' % self.socket)
            time.sleep(0.05)
        return self

    def _preexec(self):
        _die_with_parent()
        if self.nofile:
            import resource
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (self.nofile, self.nofile))

    def cpu_seconds(self):
        """User + system CPU time the running daemon has used."""
        with open('/proc/%d/stat' % self.proc.pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')

    def stop(self, sig=signal.SIGTERM):
        """Stops the daemon; returns its exit status (negative: signal).
        SIGKILL follows if it does not exit within STOP_TIMEOUT."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = 'killed after SIGTERM timeout'
        if self.returncode is None:
            self.returncode = self.proc.returncode
        self.proc = None
        self._log.close()
        if self in Daemon._live:
            Daemon._live.remove(self)
        return self.returncode

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def problems(self):
        """What went wrong with a stopped daemon: a non-zero exit status
        after SIGTERM, sanitizer reports on its stderr."""
        out = []
        if self.returncode not in (0, None):
            out.append('exit status %s after SIGTERM (want 0)'
                       % self.returncode)
        log = self.log()
        for marker in SANITIZER_MARKERS:
            if marker in log:
                out.append('%r in the daemon stderr' % marker)
        return out

    def cleanup(self, check=False):
        """Stops the daemon and removes its directory.  With check, raises
        AssertionError (with the daemon's stderr) if problems() finds any."""
        self.stop()
        bad = self.problems() if check else []
        log = self.log() if bad else ''
        if not os.environ.get('MXS_KEEP_TMP'):
            shutil.rmtree(self.dir, ignore_errors=True)
        if bad:
            raise AssertionError('daemon: %s\n--- daemon stderr ---\n%s'
                                 % ('; '.join(bad), log))

    def log(self):
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode(errors='replace')
        except OSError:
            return ''

    def client_env(self):
        env = dict(os.environ)
        env['XENSTORED_PATH'] = self.socket
        return env

    def connect(self):
        return RawClient(self.socket)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    @classmethod
    def stop_all(cls):
        for d in list(cls._live):
            try:
                d.cleanup()
            except Exception:
                pass


atexit.register(Daemon.stop_all)


def _on_term(signum, frame):
    Daemon.stop_all()
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, _on_term)
signal.signal(signal.SIGHUP, _on_term)


# ----------------------------------------------------------------------
class XsError(Exception):
    """An XS_ERROR reply; .name is the errno string ("ENOENT")."""

    def __init__(self, name, op=None):
        super().__init__('%s (op %s)' % (name, op))
        self.name = name


class RawClient:
    """A socket client speaking the wire protocol byte for byte."""

    def __init__(self, path, timeout=IO_TIMEOUT):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b''
        self.next_id = 1
        self.events = []  # WATCH_EVENTs received while waiting for replies

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def pack(op, payload=b'', req_id=0, tx_id=0, length=None):
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload) if length is None else length
        return HDR.pack(op, req_id, tx_id, n) + payload

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, op, payload=b'', tx_id=0, req_id=None):
        if req_id is None:
            req_id = self.next_id
            self.next_id += 1
        self.send_raw(self.pack(op, payload, req_id, tx_id))
        return req_id

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionResetError('daemon closed the connection')
            self.buf += chunk

    def recv_msg(self):
        """Next message of any type: (type, req_id, tx_id, payload)."""
        self._fill(HDR.size)
        t, rid, tid, n = HDR.unpack_from(self.buf)
        self._fill(HDR.size + n)
        payload = self.buf[HDR.size:HDR.size + n]
        self.buf = self.buf[HDR.size + n:]
        return t, rid, tid, payload

    def recv_reply(self):
        """Next non-event message; events are queued in self.events."""
        while True:
            m = self.recv_msg()
            if m[0] == WATCH_EVENT:
                self.events.append(m)
                continue
            return m

    def request(self, op, payload=b'', tx_id=0):
        """Sends one request; returns the reply payload or raises XsError."""
        rid = self.send(op, payload, tx_id)
        t, r, _, p = self.recv_reply()
        if r != rid:
            raise AssertionError('reply req_id %d != %d' % (r, rid))
        if t == ERROR:
            raise XsError(p.rstrip(b'\0').decode(errors='replace'), op)
        if t != op:
            raise AssertionError('reply type %d to op %d' % (t, op))
        return p

    def wait_event(self):
        """Next WATCH_EVENT as (path, token) bytes (from the queue first)."""
        if self.events:
            m = self.events.pop(0)
        else:
            m = self.recv_msg()
            if m[0] != WATCH_EVENT:
                raise AssertionError('expected WATCH_EVENT, got %r' % (m,))
        parts = m[3].split(b'\0')
        return parts[0], parts[1]

    # -- conveniences --------------------------------------------------
    def read(self, path, tx=0):
        return self.request(READ, path.encode() + b'\0', tx)

    def write(self, path, value, tx=0):
        if isinstance(value, str):
            value = value.encode()
        return self.request(WRITE, path.encode() + b'\0' + value, tx)

    def mkdir(self, path, tx=0):
        return self.request(MKDIR, path.encode() + b'\0', tx)

    def rm(self, path, tx=0):
        return self.request(RM, path.encode() + b'\0', tx)

    def directory(self, path, tx=0):
        p = self.request(DIRECTORY, path.encode() + b'\0', tx)
        return [x.decode() for x in p.split(b'\0') if x]

    def get_perms(self, path, tx=0):
        p = self.request(GET_PERMS, path.encode() + b'\0', tx)
        return [x.decode() for x in p.split(b'\0') if x]

    def set_perms(self, path, perms, tx=0):
        payload = path.encode() + b'\0' + b''.join(
            x.encode() + b'\0' for x in perms)
        return self.request(SET_PERMS, payload, tx)

    def watch(self, path, token):
        return self.request(WATCH, path.encode() + b'\0' + token.encode() + b'\0')

    def unwatch(self, path, token):
        return self.request(UNWATCH, path.encode() + b'\0' + token.encode() + b'\0')

    def tx_start(self):
        return int(self.request(TRANSACTION_START, b'\0').rstrip(b'\0'))

    def tx_end(self, tx, commit=True):
        return self.request(TRANSACTION_END, b'T\0' if commit else b'F\0', tx)


def add_standalone_args(ap):
    """Options of the threaded tests that run as plain scripts."""
    ap.add_argument('--daemon')
    ap.add_argument('--tsan', action='store_true')
    ap.add_argument('--tsan-suppressions')


def standalone_daemon(args, name, workers=4, extra_args=()):
    """The Daemon for a plain-script test, or None (print SKIP) when its
    binary is missing.  With --tsan the binary is $MXS_TSAN_DAEMON (or
    --daemon) and TSan reports are collected, not fatal."""
    daemon = args.daemon
    if args.tsan and os.environ.get('MXS_TSAN_DAEMON'):
        daemon = os.environ['MXS_TSAN_DAEMON']
    elif not daemon:
        daemon = os.environ.get('MXS_DAEMON')
    if not daemon or not os.path.exists(daemon):
        print('SKIP: daemon binary %r does not exist%s' % (
            daemon, ' (build with -DMXS_SANITIZE=thread and set '
            'MXS_TSAN_DAEMON)' if args.tsan else ''))
        return None
    env = {}
    if args.tsan:
        opts = ['halt_on_error=0', 'second_deadlock_stack=1']
        if args.tsan_suppressions and os.path.exists(args.tsan_suppressions):
            opts.append('suppressions=' + args.tsan_suppressions)
        env['TSAN_OPTIONS'] = ' '.join(
            opts + [os.environ.get('TSAN_OPTIONS', '')]).strip()
    return Daemon(daemon, workers=workers, env=env, extra_args=extra_args,
                  name=name + ('-tsan' if args.tsan else ''))


def control_check(d, failures):
    """CONTROL check on a new connection; a failure is appended."""
    with d.connect() as c:
        try:
            c.request(CONTROL, b'check\0')
        except XsError as e:
            failures.append('CONTROL check: %s' % e)


def run_checked(d, body, log_tail=None):
    """Runs a plain-script test: starts d, calls body(d, failures), which
    appends what went wrong, then stops d and adds what problems() finds
    (exit status, sanitizer reports) and whether it died.  Prints each
    failure, with the daemon's stderr (its last log_tail bytes if given),
    or PASS.  Returns the exit code: 0 or 1."""
    failures = []
    try:
        d.start()
        body(d, failures)
        if not d.alive():
            failures.append('daemon died')
    except Exception as e:
        failures.append('%r' % (e,))
    finally:
        d.stop()
        log = d.log()
        failures += d.problems()
        d.cleanup()
    if not failures:
        print('PASS')
        return 0
    print('daemon stderr:\n' + (log[-log_tail:] if log_tail else log))
    for f in failures:
        print('FAIL: ' + f)
    return 1


def run_unittest(module_doc=''):
    """unittest.main without --daemon; exits SKIP when no daemon exists."""
    import unittest
    path = daemon_path()
    if not path or not os.path.exists(path):
        print('SKIP: daemon binary %r does not exist' % path)
        sys.exit(SKIP)
    os.environ['MXS_DAEMON'] = path
    unittest.main(argv=strip_args(sys.argv), verbosity=2)
