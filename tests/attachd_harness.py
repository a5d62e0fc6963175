"""End-to-end test harness: run the real `attachd` and `attachctl` in a private sandbox.

Quick reference (fixtures live in tests/conftest.py)::

    def test_something(daemon):                      # a started Daemon, stopped afterwards
        daemon.ctl("add", "proj", "--debug-port", str(free_port()), check=True)
        host = daemon.spawn_host("proj")             # tests/fake_host.py using attach_ready
        r = daemon.ctl("wait", "proj", "--timeout", "30")
        assert r.returncode == 0
        sessions = daemon.ctl_json("sessions", "proj")
        host.close()

Binaries
    ``bin_dir()``: $ATTACHD_BIN_DIR, else ``swift build --show-bin-path`` run in the repo
    root (cached).  The harness never builds: run ``swift build`` first.
    ``binary("attachd")`` / ``binary("attachctl")``: full paths.

Daemon(extra_args=(), env=None, bin_dir=None)
    ``start(timeout=20)`` runs ``attachd --socket RUNTIME/attachd/control.sock --log-level debug``
    with a fresh XDG_RUNTIME_DIR (0700) and XDG_CONFIG_HOME in a short temp dir, and
    NOTIFY_SOCKET pointing at a datagram socket the harness binds; returns once a
    datagram containing READY=1 arrives (raises DaemonError with the daemon's stderr if
    it exits first or the deadline passes).  No sleeps: a reader thread drains the
    notify socket (so sd_notify never blocks the daemon) and signals a condition.
    Attributes: .tmp_dir .runtime_dir .config_dir .socket .proc .pid .env .notifications
    Methods:    wait_notification(predicate, timeout) -> datagram str
                ctl(*args, timeout=30, check=False, input=None) -> CompletedProcess (text)
                ctl_json(*args, timeout=30) -> parsed JSON of ``attachctl ... --json``
                rendezvous_path(project) -> str
                sessions(project=None) -> list of session dicts (ctl_json("sessions"))
                spawn_host(project, **kw) -> HostProcess (see below)
                varlink_address -> "unix:/.../control.sock"; broker() -> varlink interface ctx
                stop(timeout=10) -> exit code (SIGTERM); kill(); restart()
                stderr_text(); open_fds(); running; cleanup() (stop + remove temp dir)
    It is a context manager (start on enter, cleanup on exit).

HostProcess(project, env, python=sys.executable, port=0, timeout=5.0, args=(), wait=True)
    Runs tests/fake_host.py (a pretend host app with embedded Python calling
    attach_ready.start()).  ``.report`` is the dict it prints (host, port, session,
    elapsed, backend, sys_executable, pid, python); ``.port``, ``.host``, ``.pid``
    (with wait=False, call ``.wait_ready(timeout)`` later, e.g. for --wait-for-client);
    ``.command("session")`` sends a stdin command and returns its reply line;
    ``.log_lines()`` its LOG lines so far; ``.close(timeout)`` closes stdin and waits
    (returns exit code); ``.kill()``.

FakeRendezvous(path=None, mode="ok"|"silent"|"close")
    A throwaway rendezvous server on a Unix socket (path=None: TCP on 127.0.0.1, with
    ``.env_value`` = "tcp:127.0.0.1:PORT" for ATTACHD_RENDEZVOUS).  One ``OK session=N``
    per line in "ok" mode; never answers in "silent"; closes at once in "close".
    ``.lines`` received, ``.wait_lines(n, timeout)``, ``.wait_disconnect(timeout)``.

Helpers
    ``free_port(host="127.0.0.1")``: bind port 0, read it, close.
    ``wait_for(predicate, timeout, interval=0.005)``: poll ONLY for state that has no
    event to wait on (e.g. /proc tables, another process's session list); everything
    else should block on a real event (a line, a datagram, a socket) with a deadline.
    ``read_line(stream_queue, timeout)`` etc. are internal.
"""

import functools
import json
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS_DIR = os.path.join(REPO_ROOT, "tests")
HELPER_DIR = os.path.join(REPO_ROOT, "integrations", "python")
FAKE_HOST = os.path.join(TESTS_DIR, "fake_host.py")

# Variables of the caller's environment that must not leak into the sandbox.
_SCRUB = ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC",
          "WATCHDOG_PID", "ATTACHD_SOCKET", "ATTACHD_RENDEZVOUS", "ATTACHD_PYTHON")


class DaemonError(RuntimeError):
    """attachd did not start, or exited unexpectedly."""


# Sanitizer builds (scripts/test-sanitizers): a report from attachd fails the test that ran it.
# The report is in the daemon's stderr, or, when the script sets log_path, in
# $ATTACHD_SANITIZER_LOG_DIR/<name>.<pid>; both are checked when the daemon is stopped.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                     "ERROR: ThreadSanitizer")


def sanitizer_reports(stderr_text, pids):
    """Sanitizer reports of these processes: in `stderr_text`, or in the log directory."""
    found = []
    if any(m in stderr_text for m in SANITIZER_MARKERS):
        found.append(stderr_text)
    directory = os.environ.get("ATTACHD_SANITIZER_LOG_DIR")
    if directory and os.path.isdir(directory):
        for name in sorted(os.listdir(directory)):
            if name.rsplit(".", 1)[-1] in {str(p) for p in pids}:
                with open(os.path.join(directory, name), "rb") as f:
                    text = f.read().decode("utf-8", "replace")
                if any(m in text for m in SANITIZER_MARKERS):
                    found.append("%s:\n%s" % (name, text))
    return found


# ----------------------------------------------------------------------------- helpers

def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago (bind port 0, read it, close)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.005, message=None):
    """Poll `predicate` until it returns a truthy value; return that value.

    Only for state that offers no event to block on (/proc tables, LISTEN state, a
    daemon's session list seen from outside).  Raises TimeoutError after `timeout`.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(message or "condition not met within %.1fs" % timeout)
        time.sleep(interval)


@functools.lru_cache(maxsize=None)
def bin_dir():
    """Directory holding attachd and attachctl ($ATTACHD_BIN_DIR or swift's bin path)."""
    env = os.environ.get("ATTACHD_BIN_DIR")
    if env:
        return env
    try:
        out = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DaemonError("cannot run `swift build --show-bin-path`: %s" % exc)
    if out.returncode != 0:
        raise DaemonError("`swift build --show-bin-path` failed: %s" % out.stderr.strip())
    return out.stdout.strip().splitlines()[-1].strip()


def binary(name):
    """Full path of a built binary (attachd / attachctl); may not exist yet."""
    return os.path.join(bin_dir(), name)


def binaries_missing():
    """Names of the binaries that are not built, [] when both are there."""
    try:
        d = bin_dir()
    except DaemonError:
        return ["attachd", "attachctl"]
    return [n for n in ("attachd", "attachctl") if not os.access(os.path.join(d, n), os.X_OK)]


class _LineReader(object):
    """Reads a text stream on a thread; lines are taken with a deadline (no polling)."""

    def __init__(self, stream, name):
        self.queue = queue.Queue()
        self.all = []
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(stream,), name=name, daemon=True)
        self.thread.start()

    def _run(self, stream):
        try:
            for line in iter(stream.readline, ""):
                line = line.rstrip("\n")
                with self._lock:
                    self.all.append(line)
                self.queue.put(line)
        except (ValueError, OSError):
            pass
        self.queue.put(None)  # EOF

    def next_line(self, timeout):
        """The next line, or None at EOF; raises TimeoutError."""
        try:
            return self.queue.get(timeout=max(timeout, 0))
        except queue.Empty:
            raise TimeoutError("no line within %.1fs" % timeout)

    def wait_line(self, predicate, timeout):
        """Skip lines until one satisfies predicate; return it (EOFError at EOF)."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(deadline - time.monotonic())
            if line is None:
                self.queue.put(None)
                raise EOFError("stream ended")
            if predicate(line):
                return line

    def lines(self):
        with self._lock:
            return list(self.all)


# ----------------------------------------------------------------------------- hosts

class HostProcess(object):
    """tests/fake_host.py: a pretend host application calling attach_ready.start()."""

    def __init__(self, project, env=None, python=None, port=0, timeout=5.0, args=(),
                 start_timeout=30.0, cwd=None, wait=True):
        env = dict(os.environ if env is None else env)
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")  # no .pyc next to the helper
        cmd = [python or sys.executable, FAKE_HOST, "--project", project, "--port", str(port),
               "--timeout", str(timeout)] + [str(a) for a in args]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1,
                                     env=env, cwd=cwd or TESTS_DIR)
        self.pid = self.proc.pid
        self.stdout = _LineReader(self.proc.stdout, "host-stdout")
        self.stderr = _LineReader(self.proc.stderr, "host-stderr")
        self.report = self.host = self.port = None
        if wait:
            self.wait_ready(start_timeout)

    def wait_ready(self, timeout=30.0):
        """Wait for start() to return in the host (its ATTACH_READY line); return the report."""
        try:
            line = self.stdout.wait_line(lambda l: l.startswith("ATTACH_READY "), timeout)
        except (TimeoutError, EOFError) as exc:
            self.kill()
            raise RuntimeError("fake host did not start (%s); stderr:\n%s"
                               % (exc, "\n".join(self.stderr.lines())))
        self._sync_stderr(timeout)
        self.report = json.loads(line[len("ATTACH_READY "):])
        self.host = self.report["host"]
        self.port = self.report["port"]
        return self.report

    def _sync_stderr(self, timeout):
        # fake_host writes "FAKE_HOST mark" to stderr after each stdout reply: once read,
        # every log line the host wrote before that reply is in self.stderr.
        self.stderr.wait_line(lambda l: l == "FAKE_HOST mark", timeout)

    def command(self, text, timeout=10.0):
        """Send one stdin command (session, status TEXT, magic); return its reply line.

        When it returns, log lines the host wrote before replying are in log_lines().
        """
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        reply = self.stdout.next_line(timeout)
        if reply is not None:
            self._sync_stderr(timeout)
        return reply

    def log_lines(self, level=None):
        """stderr lines written by the logging module ("LOG LEVEL logger message")."""
        out = [l for l in self.stderr.lines() if l.startswith("LOG ")]
        if level:
            out = [l for l in out if l.split(" ", 2)[1] == level]
        return out

    def stderr_text(self):
        return "\n".join(self.stderr.lines())

    def close(self, timeout=10.0):
        """Close stdin (the host exits) and wait; return the exit code."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            try:
                self.close(5)
            except Exception:
                self.kill()


# ----------------------------------------------------------------------------- fake rendezvous

class FakeRendezvous(object):
    """A stand-in rendezvous server (for tests without the daemon).

    A Unix socket at `path`, or with path=None a TCP socket on 127.0.0.1 (``.port``,
    ``.env_value`` = "tcp:127.0.0.1:PORT" for ATTACHD_RENDEZVOUS).
    mode "ok": answers ``OK session=<session>`` to every line; "error": ``ERROR ...``
    to every line; "silent": accepts and never answers; "close": closes at once; "old":
    as an attachd that knows only the keys of ``OLD_KEYS`` (``ERROR unknown key`` for others).
    """

    OLD_KEYS = ("READY", "STOPPING", "DEBUG_PORT", "MAINPID", "STATUS", "SESSION")

    def __init__(self, path=None, mode="ok", session="fake-1"):
        self.path = path
        self.mode = mode
        self.session = session
        self.lines = []
        self.connections = 0
        self.disconnects = 0
        self._cond = threading.Condition()
        self._conns = []
        if path is None:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
            self.env_value = "tcp:127.0.0.1:%d" % self.port
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(path)
            self.port = None
            self.env_value = path
        self.sock.listen(16)
        self._stop_r, self._stop_w = os.pipe()
        self.thread = threading.Thread(target=self._serve, daemon=True, name="fake-rendezvous")
        self.thread.start()

    def _serve(self):
        bufs = {}
        try:
            while True:
                rl = [self.sock, self._stop_r] + list(bufs)
                ready, _, _ = select.select(rl, [], [])
                if self._stop_r in ready:
                    break
                for s in ready:
                    if s is self.sock:
                        c, _ = self.sock.accept()
                        with self._cond:
                            self.connections += 1
                            self._conns.append(c)
                            self._cond.notify_all()
                        if self.mode == "close":
                            c.close()
                            with self._cond:
                                self.disconnects += 1
                                self._cond.notify_all()
                        else:
                            bufs[c] = b""
                        continue
                    try:
                        data = s.recv(4096)
                    except ConnectionResetError:
                        data = b""  # a host that exits with replies unread resets: gone all the same
                    if not data:
                        del bufs[s]
                        s.close()
                        with self._cond:
                            self.disconnects += 1
                            self._cond.notify_all()
                        continue
                    bufs[s] += data
                    while b"\n" in bufs[s]:
                        raw, bufs[s] = bufs[s].split(b"\n", 1)
                        with self._cond:
                            self.lines.append(raw.decode())
                            self._cond.notify_all()
                        if self.mode == "ok":
                            s.sendall(("OK session=%s\n" % self.session).encode())
                        elif self.mode == "error":
                            s.sendall(b"ERROR refused by fake rendezvous\n")
                        elif self.mode == "old":
                            key = raw.decode().split("=", 1)[0]
                            if key in self.OLD_KEYS:
                                s.sendall(("OK session=%s\n" % self.session).encode())
                            else:
                                s.sendall(('ERROR unknown key "%s": expected one of %s\n'
                                           % (key, ", ".join(self.OLD_KEYS))).encode())
        finally:
            for s in list(bufs):
                s.close()

    def wait_lines(self, n, timeout):
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.lines) >= n, timeout):
                raise TimeoutError("got %r, wanted %d lines" % (self.lines, n))
            return list(self.lines)

    def wait_disconnect(self, timeout, count=1):
        with self._cond:
            if not self._cond.wait_for(lambda: self.disconnects >= count, timeout):
                raise TimeoutError("no disconnect within %.1fs" % timeout)

    def close(self):
        """Stop serving, close every connection (clients see EOF) and the socket. Idempotent."""
        if self._stop_w is None:
            return
        os.write(self._stop_w, b"x")
        self.thread.join(5)
        self.sock.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass
        os.close(self._stop_r)
        os.close(self._stop_w)
        self._stop_r = self._stop_w = None
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ----------------------------------------------------------------------------- daemon

class Daemon(object):
    """The real attachd in a private sandbox (see the module docstring)."""

    def __init__(self, extra_args=(), env=None, bin_dir_path=None, tmp_dir=None):
        self.extra_args = list(extra_args)
        self._bin_dir = bin_dir_path
        # Short path: Unix socket paths are limited to 107 bytes.
        self.tmp_dir = tmp_dir or tempfile.mkdtemp(prefix="attachd-t-", dir="/tmp")
        self.runtime_dir = os.path.join(self.tmp_dir, "run")
        self.config_dir = os.path.join(self.tmp_dir, "config")
        os.makedirs(self.runtime_dir, mode=0o700, exist_ok=True)
        os.chmod(self.runtime_dir, 0o700)
        os.makedirs(self.config_dir, mode=0o700, exist_ok=True)
        self.socket = os.path.join(self.runtime_dir, "attachd", "control.sock")
        self.notify_path = os.path.join(self.tmp_dir, "notify.sock")
        self.stderr_path = os.path.join(self.tmp_dir, "attachd.stderr")
        self.stdout_path = os.path.join(self.tmp_dir, "attachd.stdout")

        base = dict(os.environ)
        for name in _SCRUB:
            base.pop(name, None)
        base.update(env or {})
        base["XDG_RUNTIME_DIR"] = self.runtime_dir
        base["XDG_CONFIG_HOME"] = self.config_dir
        #: Environment for child processes (attachctl, hosts): talks to this daemon.
        self.env = dict(base)
        self.env["ATTACHD_SOCKET"] = self.socket
        self._daemon_env = dict(base)
        self._daemon_env["NOTIFY_SOCKET"] = self.notify_path

        self.proc = None
        self.pid = None
        self.notifications = []
        self._cond = threading.Condition()
        self._notify_sock = None
        self._notify_thread = None
        self._stop_r = self._stop_w = None
        self._stderr_file = None
        self._stdout_file = None
        self._exit_code = None
        self._pids = []
        self._sanitizer_checked = False
        self._in_cleanup = False

    # ------------------------------------------------------------ binaries
    def binary(self, name):
        return os.path.join(self._bin_dir or bin_dir(), name)

    # ------------------------------------------------------------ life cycle
    def start(self, timeout=20.0):
        """Start attachd and wait for READY=1 on NOTIFY_SOCKET; return self."""
        exe = self.binary("attachd")
        if not os.access(exe, os.X_OK):
            raise DaemonError("attachd is not built: %s (run `swift build`)" % exe)
        if self._notify_sock is None:
            self._open_notify_socket()
        with self._cond:
            self.notifications = []
            self._exit_code = None
        self._stderr_file = open(self.stderr_path, "ab")
        self._stdout_file = open(self.stdout_path, "ab")
        cmd = [exe, "--socket", self.socket, "--log-level", "debug"] + self.extra_args
        self.proc = subprocess.Popen(cmd, env=self._daemon_env, stdin=subprocess.DEVNULL,
                                     stdout=self._stdout_file, stderr=self._stderr_file,
                                     cwd=self.tmp_dir)
        self.pid = self.proc.pid
        self._pids.append(self.pid)
        proc = self.proc
        threading.Thread(target=self._reap, args=(proc,), daemon=True, name="attachd-reaper").start()
        deadline = time.monotonic() + timeout
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._has_ready() or self._exit_code is not None,
                max(deadline - time.monotonic(), 0))
            exited = self._exit_code
        if self._has_ready():
            return self
        if exited is not None:
            raise DaemonError("attachd exited with %s before READY=1; stderr:\n%s"
                              % (exited, self.stderr_text()))
        self.kill()
        raise DaemonError("attachd sent no READY=1 within %.0fs (notifications %r); stderr:\n%s"
                          % (timeout, self.notifications, self.stderr_text()))

    def _has_ready(self):
        return any("READY=1" in n.split("\n") for n in self.notifications)

    def _reap(self, proc):
        code = proc.wait()
        with self._cond:
            if proc is self.proc:
                self._exit_code = code
            self._cond.notify_all()

    def _open_notify_socket(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(self.notify_path)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._notify_sock = s
        self._stop_r, self._stop_w = os.pipe()
        self._notify_thread = threading.Thread(target=self._drain_notify, daemon=True,
                                               name="attachd-notify")
        self._notify_thread.start()

    def _drain_notify(self):
        # Always drain: an unread datagram queue would block the daemon's sd_notify().
        while True:
            ready, _, _ = select.select([self._notify_sock, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                data = self._notify_sock.recv(65536)
            except OSError:
                return
            with self._cond:
                self.notifications.append(data.decode("utf-8", "replace"))
                self._cond.notify_all()

    def wait_notification(self, predicate, timeout=10.0, since=0):
        """Return the first datagram (str, from index `since`) satisfying predicate.

        Predicate gets the datagram text (possibly several KEY=VALUE lines).
        Raises TimeoutError.
        """
        with self._cond:
            found = []

            def check():
                for n in self.notifications[since:]:
                    if predicate(n):
                        found.append(n)
                        return True
                return False

            if not self._cond.wait_for(check, timeout):
                raise TimeoutError("no matching notification within %.1fs; got %r"
                                   % (timeout, self.notifications))
            return found[0]

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM and wait; return the exit code (SIGKILL + DaemonError after timeout)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise DaemonError("attachd did not exit within %.0fs of SIGTERM; stderr:\n%s"
                                  % (timeout, self.stderr_text()))
        self._close_logs()
        if not self._in_cleanup:
            self.check_sanitizers()
        return self.proc.returncode

    def kill(self):
        """SIGKILL and wait; return the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(10)
        self._close_logs()
        return code

    def restart(self, timeout=20.0):
        """stop() then start() with the same directories; return the old exit code."""
        code = self.stop()
        self.start(timeout)
        return code

    def _close_logs(self):
        for f in (self._stderr_file, self._stdout_file):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        self._stderr_file = self._stdout_file = None

    def check_sanitizers(self):
        """Raise DaemonError if a sanitizer reported anything for this daemon (once)."""
        if self._sanitizer_checked:
            return
        reports = sanitizer_reports(self.stderr_text(), self._pids)
        if reports:
            self._sanitizer_checked = True
            raise DaemonError("sanitizer report from attachd (pids %r):\n%s"
                              % (self._pids, "\n".join(r[-12000:] for r in reports)))

    def cleanup(self):
        """Stop the daemon (kill if SIGTERM fails), close sockets, remove the temp dir;
        raises DaemonError afterwards if a sanitizer reported anything."""
        reports = []
        self._in_cleanup = True
        try:
            if self.running:
                try:
                    self.stop()
                except DaemonError:
                    pass
        finally:
            self.kill()
            self._in_cleanup = False
            if not self._sanitizer_checked:
                reports = sanitizer_reports(self.stderr_text(), self._pids)
            if self._stop_w is not None:
                os.write(self._stop_w, b"x")
                self._notify_thread.join(5)
                os.close(self._stop_r)
                os.close(self._stop_w)
                self._stop_r = self._stop_w = None
            if self._notify_sock is not None:
                self._notify_sock.close()
                self._notify_sock = None
            if os.environ.get("ATTACHD_KEEP_TMP"):
                sys.stderr.write("attachd harness: kept %s\n" % self.tmp_dir)
            else:
                shutil.rmtree(self.tmp_dir, ignore_errors=True)
        if reports:
            self._sanitizer_checked = True
            raise DaemonError("sanitizer report from attachd (pids %r):\n%s"
                              % (self._pids, "\n".join(r[-12000:] for r in reports)))

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # ------------------------------------------------------------ introspection
    def stderr_text(self):
        """Everything attachd wrote to stderr so far."""
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def open_fds(self):
        """Number of file descriptors attachd has open (/proc/PID/fd)."""
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def rendezvous_path(self, project):
        """The project's Unix rendezvous socket path."""
        return os.path.join(self.runtime_dir, "attachd", "projects", project + ".sock")

    # ------------------------------------------------------------ attachctl
    def ctl(self, *args, timeout=30, check=False, input=None):
        """Run attachctl with this daemon's environment; CompletedProcess (text mode)."""
        cmd = [self.binary("attachctl")] + [str(a) for a in args]
        result = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                                timeout=timeout, input=input,
                                stdin=None if input is not None else subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s\ndaemon stderr (tail):\n%s"
                                 % (" ".join(cmd), result.returncode, result.stdout,
                                    result.stderr, self.stderr_text()[-4000:]))
        return result

    def ctl_json(self, *args, timeout=30):
        """Run ``attachctl ARGS --json`` (must exit 0) and parse its stdout."""
        result = self.ctl(*(list(args) + ["--json"]), timeout=timeout, check=True)
        try:
            return json.loads(result.stdout)
        except ValueError:
            raise AssertionError("attachctl %s --json printed no JSON:\n%s"
                                 % (" ".join(map(str, args)), result.stdout))

    def sessions(self, project=None):
        """``attachctl sessions [PROJECT] --json`` as a list of dicts."""
        return self.ctl_json(*(["sessions"] + ([project] if project else [])))

    def add_project(self, name, debug_port=None, *extra):
        """``attachctl add NAME --debug-port N`` (a free port by default); returns the port."""
        port = debug_port or free_port()
        self.ctl("add", name, "--debug-port", port, *extra, check=True)
        return port

    # ------------------------------------------------------------ hosts / varlink
    def spawn_host(self, project, **kwargs):
        """Start tests/fake_host.py announcing to this daemon; returns a HostProcess."""
        env = dict(self.env)
        env.update(kwargs.pop("env", None) or {})
        return HostProcess(project, env=env, **kwargs)

    @property
    def varlink_address(self):
        return "unix:" + self.socket

    def broker(self, interface="io.attachd.Broker"):
        """Context manager yielding a PyPI-varlink interface proxy on the control socket.

            with daemon.broker() as broker:
                broker.ListProjects()
        """
        import contextlib
        import varlink

        @contextlib.contextmanager
        def _open():
            client = varlink.Client(address=self.varlink_address)
            try:
                conn = client.open(interface)
                try:
                    yield conn
                finally:
                    conn.close()
            finally:
                client.cleanup()
        return _open()


# ----------------------------------------------------------------------------- attach endpoint
#
# For tests/test_attach_*.py and tests/test_readiness_owner*.py:
#   DEBUG_SERVER      a tiny debug server script (echo / silent), run as a host's child
#   AttachRun         `attachctl run NAME [--debug-port N] -- CMD...` with its output read
#   WatchStream       `attachctl watch --json` with events taken by kind, with a deadline
#   recv_exactly(sock, n, timeout), wait_eof(sock, timeout)

# argv: MODE PORT. Binds 127.0.0.1:PORT (0: any), prints "PORT <n>", then serves every
# connection on its own thread: "echo" sends back what it reads; "hello" first sends
# "HELLO <pid>\n", then echoes; "silent" reads and never answers. Prints "ACCEPT <k>" per
# connection and "CLOSED <k> <bytes read>" at its end.
DEBUG_SERVER = r"""
import os, socket, sys, threading
mode, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.bind(("127.0.0.1", port))
s.listen(128)
lock = threading.Lock()
def say(text):
    with lock:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
say("PORT %d" % s.getsockname()[1])
def serve(c, k):
    total = 0
    if mode == "hello":
        c.sendall(b"HELLO %d\n" % os.getpid())
    while True:
        try:
            data = c.recv(65536)
        except OSError:
            break
        if not data:
            break
        total += len(data)
        if mode in ("echo", "hello"):
            c.sendall(data)
    say("CLOSED %d %d" % (k, total))
    c.close()
k = 0
while True:
    c, _ = s.accept()
    k += 1
    say("ACCEPT %d" % k)
    threading.Thread(target=serve, args=(c, k), daemon=True).start()
"""


def debug_server_command(mode="echo", port=0):
    """argv running DEBUG_SERVER with this Python."""
    return [sys.executable, "-c", DEBUG_SERVER, mode, str(port)]


class AttachRun(object):
    """``attachctl run NAME [--debug-port N] -- CMD...`` under a daemon's environment.

    ``.session`` / ``.child_pid`` come from its "attachctl run: session ..." line on stderr;
    ``.stdout`` is the command's stdout (a _LineReader); ``.stop()`` sends SIGTERM to attachctl
    (which passes it on) and returns its exit code.
    """

    def __init__(self, daemon, project, command, debug_port=None, env=None, timeout=20.0):
        cmd = [daemon.binary("attachctl"), "run", project]
        if debug_port is not None:
            cmd += ["--debug-port", str(debug_port)]
        cmd += ["--"] + [str(c) for c in command]
        full_env = dict(daemon.env)
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.pid = self.proc.pid
        self.stdout = _LineReader(self.proc.stdout, "run-stdout")
        self.stderr = _LineReader(self.proc.stderr, "run-stderr")
        try:
            line = self.stderr.wait_line(lambda l: l.startswith("attachctl run: session "), timeout)
        except (TimeoutError, EOFError) as exc:
            self.kill()
            raise RuntimeError("attachctl run did not start (%s); stderr:\n%s"
                               % (exc, "\n".join(self.stderr.lines())))
        words = line.split()
        self.session = words[3]
        self.child_pid = int(words[5].rstrip(",)"))

    def line(self, prefix, timeout=20.0):
        """The command's next stdout line starting with prefix (its rest, stripped)."""
        return self.stdout.wait_line(lambda l: l.startswith(prefix), timeout)[len(prefix):].strip()

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            try:
                self.stop(5)
            except Exception:
                self.kill()


class WatchStream(object):
    """``attachctl watch [NAME] --json``: one event dict a line, taken in order with a deadline.

    Subscribing takes a moment; ``sync(daemon)`` adds and removes a throwaway project and waits
    for its projectRemoved, so every later event is seen.
    """

    def __init__(self, daemon, project=None):
        cmd = [daemon.binary("attachctl"), "watch", "--json"] + ([project] if project else [])
        self.proc = subprocess.Popen(cmd, env=daemon.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines = _LineReader(self.proc.stdout, "watch-stdout")
        self.seen = []

    def next(self, kind, predicate=None, timeout=20.0):
        """The next event of `kind` (skipping others) satisfying predicate."""
        def match(line):
            event = json.loads(line)
            self.seen.append(event)
            return event.get("kind") == kind and (predicate is None or predicate(event))
        return json.loads(self.lines.wait_line(match, timeout))

    def sync(self, daemon, timeout=20.0):
        """Returns once the stream is subscribed (it saw a throwaway project come and go)."""
        name = "watchsync%d" % (len(self.seen) + 1)
        deadline = time.monotonic() + timeout
        while True:
            daemon.ctl("add", name, "--debug-port", free_port(), check=True)
            daemon.ctl("remove", name, check=True)
            try:
                return self.next("projectRemoved", lambda e: e["project"]["name"] == name, timeout=1.0)
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def recv_exactly(sock, n, timeout=10.0):
    """Exactly n bytes from a socket (EOFError if it closes first)."""
    deadline = time.monotonic() + timeout
    data = b""
    while len(data) < n:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("closed after %d of %d bytes: %r" % (len(data), n, data))
        data += chunk
    return data


def wait_eof(sock, timeout=10.0):
    """Blocks until the peer closes; returns the bytes read before (b"" usually).

    A reset counts as closed too (returns None)."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return None
        if not chunk:
            return data
        data += chunk


def warm_attach(daemon, watch, project, attach):
    """One whole relay on `project`'s attach port (a host, an IDE round trip, both gone), so that
    Dispatch has opened what it opens once; returns attachd's descriptor count after it."""
    with AttachRun(daemon, project, debug_server_command("echo")) as run:
        watch.next("sessionReady", lambda e: e["session"]["id"] == run.session)
        with socket.create_connection(("127.0.0.1", attach), timeout=10) as ide:
            ide.sendall(b"warm")
            assert recv_exactly(ide, 4) == b"warm"
        watch.next("relayEnded", lambda e: e["relay"]["session"] == run.session)
        run.stop()
        watch.next("sessionEnded", lambda e: e["session"]["id"] == run.session)
    return daemon.open_fds()


def assert_fds_back(daemon, baseline, timeout=10.0):
    """attachd's descriptors back to `baseline` (polled: /proc offers no event)."""
    try:
        wait_for(lambda: daemon.open_fds() <= baseline, timeout)
    except TimeoutError:
        fds = {}
        for name in os.listdir("/proc/%d/fd" % daemon.pid):
            try:
                fds[int(name)] = os.readlink("/proc/%d/fd/%s" % (daemon.pid, name))
            except OSError:
                pass
        raise AssertionError("attachd has %d descriptors, %d before: %r" % (len(fds), baseline, fds))
