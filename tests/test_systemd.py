"""attachd under systemd, without a systemd PID 1.

What systemd would do is done by the test, for real:
- socket activation through the real `systemd-socket-activate` binary;
- a test-owned NOTIFY_SOCKET (AF_UNIX datagram, SO_PASSCRED, SCM_RIGHTS received with
  socket.recvmsg) that sees READY=1, STATUS=, WATCHDOG=1, STOPPING=1 and FDSTORE=1 with the
  listener fds themselves;
- a restart that hands the stored fds back through LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID, with a
  host connecting while no attachd runs;
- `systemd-analyze --user verify` on the units as scripts/install writes them;
- JOURNAL_STREAM detection for the log format.

No sleeps: every step blocks on an event (a datagram, a line, a process exit) with a deadline.
Set ATTACHD_TRANSCRIPT=FILE to keep the restart transcript (it is also printed; see it with -s).
"""

import array
import json
import os
import queue
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from attachd_harness import REPO_ROOT, _SCRUB, binary, free_port

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate") or "/usr/bin/systemd-socket-activate"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
INSTALL = os.path.join(REPO_ROOT, "scripts", "install")

MAX_FDS = 253  # SCM_MAX_FD
# Sanitizer builds (scripts/test-sanitizers): their options must reach attachd through
# systemd-socket-activate too.
SANITIZER_ENV = [arg for name in ("ASAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS", "SWIFT_BACKTRACE")
                 if name in os.environ for arg in ("-E", name)]

# Puts the given fds at 3, 4, 5, ... and execs, with LISTEN_PID set to its own pid (which
# exec keeps): what systemd does between fork and exec. LISTEN_FDS/LISTEN_FDNAMES come from
# the environment the test sets.
LAUNCHER = r"""
import fcntl, os, sys
n = int(sys.argv[1])
fds = [int(x) for x in sys.argv[2:2 + n]]
argv = sys.argv[2 + n:]
base = max(fds + [3 + n]) + 1
high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base) for fd in fds]
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i)  # inheritable
for fd in high:
    os.close(fd)
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(argv[0], argv)
"""

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d) ")
PRIORITY = re.compile(r"^<[0-7]>")


# ----------------------------------------------------------------------------- plumbing

class Notification(object):
    def __init__(self, text, fds, pid, at):
        self.text = text
        self.fds = fds
        self.pid = pid
        self.at = at
        self.fields = {}
        for line in text.split("\n"):
            if "=" in line:
                key, value = line.split("=", 1)
                self.fields[key] = value

    def __repr__(self):
        return "<pid %s %r fds=%r>" % (self.pid, self.text, self.fds)


class NotifySocket(object):
    """Stands in for systemd's notification socket: every datagram, its sender's pid
    (SCM_CREDENTIALS) and the descriptors it carries (SCM_RIGHTS)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.items = []
        self.cond = threading.Condition()
        self._stop_r, self._stop_w = os.pipe()
        self.thread = threading.Thread(target=self._run, daemon=True, name="notify")
        self.thread.start()

    def _run(self):
        import select
        ancillary = socket.CMSG_SPACE(MAX_FDS * 4) + socket.CMSG_SPACE(12)
        while True:
            ready, _, _ = select.select([self.sock, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                data, ancdata, flags, _ = self.sock.recvmsg(65536, ancillary)
            except OSError:
                return
            fds, pid = [], None
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    arr = array.array("i")
                    arr.frombytes(payload[:len(payload) - len(payload) % arr.itemsize])
                    fds.extend(arr)
                elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = int.from_bytes(payload[0:4], sys.byteorder)
            assert not flags & socket.MSG_CTRUNC, "ancillary data truncated"
            item = Notification(data.decode("utf-8", "replace"), fds, pid, time.monotonic())
            with self.cond:
                self.items.append(item)
                self.cond.notify_all()

    def poke(self):
        with self.cond:
            self.cond.notify_all()

    def wait(self, predicate, timeout, pid=None, since=0, give_up=None):
        """The first notification (from `pid`, at index >= since) satisfying predicate.
        `give_up()` (checked on every wake-up, e.g. "the process exited") ends the wait early."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for item in self.items[since:]:
                    if (pid is None or item.pid == pid) and predicate(item):
                        return item
                if give_up is not None and give_up():
                    raise AssertionError("gave up waiting; notifications: %r" % (self.items,))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching notification within %.1fs; got %r" % (timeout, self.items))
                self.cond.wait(left)

    def wait_field(self, key, value=None, timeout=20.0, pid=None, since=0, give_up=None):
        return self.wait(lambda n: key in n.fields and (value is None or n.fields[key] == value),
                         timeout, pid=pid, since=since, give_up=give_up)

    def wait_many(self, predicate, count, timeout, pid=None):
        """The first `count` notifications (from `pid`) satisfying predicate."""
        found = []

        def enough(_):
            found[:] = [n for n in self.items if (pid is None or n.pid == pid) and predicate(n)]
            return len(found) >= count
        self.wait(enough, timeout)
        return found[:count]

    def of(self, pid):
        with self.cond:
            return [n for n in self.items if n.pid == pid]

    def close(self):
        os.write(self._stop_w, b"x")
        self.thread.join(5)
        self.sock.close()
        os.close(self._stop_r)
        os.close(self._stop_w)
        with self.cond:
            for item in self.items:
                for fd in item.fds:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                item.fds = []


class Sandbox(object):
    """Private XDG_RUNTIME_DIR (0700) and XDG_CONFIG_HOME, a notify socket, and the daemons run
    in them (stopped and removed afterwards)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="attachd-sd-", dir="/tmp")
        self.runtime_dir = os.path.join(self.dir, "run")
        self.config_dir = os.path.join(self.dir, "config")
        os.mkdir(self.runtime_dir, 0o700)
        os.mkdir(self.config_dir, 0o700)
        self.control = os.path.join(self.runtime_dir, "attachd", "control.sock")
        self.notify = NotifySocket(os.path.join(self.dir, "notify.sock"))
        self.procs = []
        self.count = 0
        env = dict(os.environ)
        for name in _SCRUB + ("JOURNAL_STREAM",):
            env.pop(name, None)
        env["XDG_RUNTIME_DIR"] = self.runtime_dir
        env["XDG_CONFIG_HOME"] = self.config_dir
        self.env = env

    def daemon_env(self, **extra):
        env = dict(self.env)
        env["NOTIFY_SOCKET"] = self.notify.path
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def bind_control(self):
        """What attachd.socket does: %t/attachd/ (0700) with control.sock (0600) listening."""
        os.makedirs(os.path.dirname(self.control), mode=0o700, exist_ok=True)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.control)
        os.chmod(self.control, 0o600)
        s.listen(128)
        return s

    def spawn(self, fds=(), names=(), env=None, args=("--log-level", "debug"), stderr_path=None):
        """Start attachd with `fds` passed as LISTEN_FDS (named `names`), as systemd would."""
        self.count += 1
        stderr_path = stderr_path or os.path.join(self.dir, "attachd-%d.stderr" % self.count)
        env = dict(env if env is not None else self.daemon_env())
        cmd = [binary("attachd")] + list(args)
        fds = [f if isinstance(f, int) else f.fileno() for f in fds]
        if fds:
            env["LISTEN_FDS"] = str(len(fds))
            env["LISTEN_FDNAMES"] = ":".join(names)
            cmd = [sys.executable, "-c", LAUNCHER, str(len(fds))] + [str(f) for f in fds] + cmd
        with open(stderr_path, "ab") as err:
            proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err, pass_fds=fds, cwd=self.dir)
        return self.track(proc, stderr_path)

    def track(self, proc, stderr_path=None):
        proc.stderr_path = stderr_path
        proc.exit_code = None

        def reap():
            code = proc.wait()
            proc.exit_code = code
            self.notify.poke()
        threading.Thread(target=reap, daemon=True, name="reap-%d" % proc.pid).start()
        self.procs.append(proc)
        return proc

    def wait_ready(self, proc, timeout=20.0):
        try:
            return self.notify.wait_field("READY", "1", timeout, pid=proc.pid,
                                          give_up=lambda: proc.exit_code is not None)
        except (AssertionError, TimeoutError) as exc:
            raise AssertionError("attachd (pid %d) sent no READY=1 (%s); stderr:\n%s"
                                 % (proc.pid, exc, stderr_of(proc)))

    def terminate(self, proc, timeout=10.0):
        """SIGTERM; returns (STOPPING=1 notification, exit code)."""
        proc.send_signal(signal.SIGTERM)
        try:
            stopping = self.notify.wait_field("STOPPING", "1", timeout, pid=proc.pid)
            return stopping, proc.wait(timeout)
        except (TimeoutError, subprocess.TimeoutExpired) as exc:
            raise AssertionError("attachd (pid %d) did not stop on SIGTERM (%s); stderr:\n%s"
                                 % (proc.pid, exc, stderr_of(proc)))

    def ctl(self, *args, timeout=30):
        return subprocess.run([binary("attachctl")] + [str(a) for a in args] + ["--socket", self.control],
                              env=self.env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def cleanup(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        self.notify.close()
        if os.environ.get("ATTACHD_KEEP_TMP"):
            sys.stderr.write("kept %s\n" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def stderr_of(proc):
    try:
        with open(proc.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except (OSError, TypeError):
        return ""


class LineReader(object):
    def __init__(self, stream):
        self.queue = queue.Queue()
        self.lines = []
        threading.Thread(target=self._run, args=(stream,), daemon=True).start()

    def _run(self, stream):
        for line in iter(stream.readline, ""):
            self.lines.append(line.rstrip("\n"))
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def wait(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while True:
            line = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                raise EOFError("stream ended; lines: %r" % self.lines)
            if predicate(line):
                return line


def recv_line(sock, timeout):
    """One '\n'-terminated line from a blocking socket, with a deadline."""
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("connection closed after %r" % data)
        data += chunk
    return data.decode().split("\n")[0]


@pytest.fixture
def sandbox(attachd_bin_dir):
    box = Sandbox()
    yield box
    box.cleanup()


# ----------------------------------------------------------------------------- 1. activation

@pytest.mark.skipif(not os.access(SOCKET_ACTIVATE, os.X_OK), reason="systemd-socket-activate not installed")
def test_socket_activation_starts_attachd_on_first_status(sandbox):
    os.makedirs(os.path.dirname(sandbox.control), mode=0o700)
    # systemd-socket-activate passes only LISTEN_* and the -E variables.
    cmd = [SOCKET_ACTIVATE, "-l", sandbox.control, "--fdname=control",
           "-E", "XDG_RUNTIME_DIR", "-E", "XDG_CONFIG_HOME", "-E", "NOTIFY_SOCKET"] + SANITIZER_ENV + [
           binary("attachd"), "--log-level", "debug"]
    proc = subprocess.Popen(cmd, env=sandbox.daemon_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sandbox.track(proc)
    err = LineReader(proc.stderr)
    err.wait(lambda l: l.startswith("Listening on"), 20)
    # Listening, but attachd has not run yet: the process is still systemd-socket-activate.
    assert os.path.basename(os.readlink("/proc/%d/exe" % proc.pid)) == "systemd-socket-activate"
    assert sandbox.notify.of(proc.pid) == []

    result = sandbox.ctl("status", "--json")
    assert result.returncode == 0, result.stderr + "\n".join(err.lines)
    status = json.loads(result.stdout)
    assert status["pid"] == proc.pid  # systemd-socket-activate exec'd attachd
    assert os.readlink("/proc/%d/exe" % proc.pid) == os.path.realpath(binary("attachd"))
    sandbox.wait_ready(proc)
    assert any("socket-activated" in l for l in err.lines), err.lines
    # systemd-socket-activate has no SocketMode=: attachd makes the socket 0600 itself (issue 20).
    assert stat.S_IMODE(os.stat(sandbox.control).st_mode) == 0o600

    _, code = sandbox.terminate(proc)
    assert code == 0, "\n".join(err.lines)
    # The socket belongs to whoever activated attachd: it is left in place.
    assert stat.S_ISSOCK(os.lstat(sandbox.control).st_mode)


# ----------------------------------------------------------------------------- 2. notify, watchdog

def test_ready_status_stopping(sandbox):
    proc = sandbox.spawn(args=("--socket", sandbox.control, "--log-level", "debug"))
    ready = sandbox.wait_ready(proc)
    status = sandbox.notify.wait_field("STATUS", timeout=5, pid=proc.pid)
    assert status.fields["STATUS"] == "0 projects, 0 pending, 0 ready, 0 waiting"
    # STATUS= follows the counts.
    result = sandbox.ctl("add", "alpha", "--debug-port", free_port())
    assert result.returncode == 0, result.stderr
    sandbox.notify.wait_field("STATUS", "1 project, 0 pending, 0 ready, 0 waiting", timeout=10, pid=proc.pid)
    stopping, code = sandbox.terminate(proc)
    assert code == 0, stderr_of(proc)
    assert stopping.at > ready.at
    # Without WATCHDOG_USEC there is no watchdog timer at all.
    assert not any("WATCHDOG" in n.fields for n in sandbox.notify.of(proc.pid))
    assert "watchdog enabled" not in stderr_of(proc)


def test_watchdog_pings_at_half_the_interval(sandbox):
    proc = sandbox.spawn(env=sandbox.daemon_env(WATCHDOG_USEC=400000),
                         args=("--socket", sandbox.control, "--log-level", "debug"))
    ready = sandbox.wait_ready(proc)
    pings = sandbox.notify.wait_many(lambda n: n.fields.get("WATCHDOG") == "1", 8, timeout=10, pid=proc.pid)
    times = [ready.at] + [p.at for p in pings]
    gaps = [b - a for a, b in zip(times[1:], times[2:])]
    mean = sum(gaps) / len(gaps)
    median = sorted(gaps)[len(gaps) // 2]
    # Asked for 0.4 s: a ping every 0.2 s, never near the 0.4 s limit systemd would act on. The
    # timer keeps its schedule, so one ping delayed by a busy machine makes the next gap short:
    # the median says the period, the mean that no ping was skipped.
    assert 0.15 <= mean <= 0.3, gaps
    assert 0.15 <= median <= 0.25, gaps
    assert "watchdog enabled" in stderr_of(proc)
    _, code = sandbox.terminate(proc)
    assert code == 0


def test_watchdog_for_another_pid_is_ignored(sandbox):
    # sd_watchdog_enabled(): WATCHDOG_PID names the process systemd watches; not this one.
    proc = sandbox.spawn(env=sandbox.daemon_env(WATCHDOG_USEC=400000, WATCHDOG_PID=os.getpid()),
                         args=("--socket", sandbox.control, "--log-level", "debug"))
    sandbox.wait_ready(proc)
    # The timer would be set up before READY=1: its log line would be there already.
    assert "watchdog enabled" not in stderr_of(proc)
    _, code = sandbox.terminate(proc)
    assert code == 0
    assert not any("WATCHDOG" in n.fields for n in sandbox.notify.of(proc.pid))


# ----------------------------------------------------------------------------- 2b. fd store

def _stored(sandbox, pid, name):
    item = sandbox.notify.wait(lambda n: n.fields.get("FDSTORE") == "1" and n.fields.get("FDNAME") == name,
                               20, pid=pid)
    assert len(item.fds) == 1, item
    fd, item.fds = item.fds[0], []  # the caller owns it now
    return fd


def test_fd_store_restart_serves_a_host_that_connected_while_down(sandbox):
    transcript = []

    def note(text):
        transcript.append("[%6.3f] %s" % (time.monotonic() - t0, text))

    t0 = time.monotonic()
    control = sandbox.bind_control()  # held by "systemd" (the test) all along
    debug_port, rendezvous_port = free_port(), free_port()
    while rendezvous_port == debug_port:
        rendezvous_port = free_port()

    # --- first run: socket-activated, the project's listeners go into the store.
    first = sandbox.spawn(fds=[control], names=["control"])
    sandbox.wait_ready(first)
    note("attachd #1 (pid %d) READY=1" % first.pid)
    result = sandbox.ctl("add", "proj", "--debug-port", debug_port, "--rendezvous-port", rendezvous_port)
    assert result.returncode == 0, result.stderr + stderr_of(first)
    note("$ attachctl add proj --debug-port %d --rendezvous-port %d" % (debug_port, rendezvous_port))
    tcp_fd = _stored(sandbox, first.pid, "tcp.proj")
    unix_fd = _stored(sandbox, first.pid, "unix.proj")
    note("systemd's fd store got FDSTORE=1 FDNAME=tcp.proj (fd %d) and FDNAME=unix.proj (fd %d)" % (tcp_fd, unix_fd))
    tcp = socket.socket(fileno=tcp_fd)
    unix = socket.socket(fileno=unix_fd)
    assert tcp.family == socket.AF_INET and tcp.getsockname() == ("127.0.0.1", rendezvous_port)
    assert tcp.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
    rendezvous_path = os.path.join(sandbox.runtime_dir, "attachd", "projects", "proj.sock")
    assert unix.family == socket.AF_UNIX and unix.getsockname() == rendezvous_path
    assert unix.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
    before = sandbox.ctl("status")
    assert before.returncode == 0
    note("$ attachctl status\n" + before.stdout.rstrip())

    stopping, code = sandbox.terminate(first)
    assert code == 0, stderr_of(first)
    note("SIGTERM -> STOPPING=1, attachd #1 exited %d" % code)

    # --- nobody runs: a host connects to the rendezvous port and announces itself ...
    host = socket.create_connection(("127.0.0.1", rendezvous_port), timeout=5)  # not refused
    host.sendall(("DEBUG_PORT=%d\nREADY=1\n" % debug_port).encode())
    note("host: connected to 127.0.0.1:%d (no attachd running), sent DEBUG_PORT=%d READY=1"
         % (rendezvous_port, debug_port))
    unix_host = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix_host.connect(rendezvous_path)
    unix_host.sendall(b"READY=1\n")
    note("host 2: connected to %s, sent READY=1" % rendezvous_path)
    # ... its debug server listens, and the IDE's preLaunchTask starts waiting.
    debug_server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    debug_server.bind(("127.0.0.1", debug_port))
    debug_server.listen(1)
    note("host: debug server listening on 127.0.0.1:%d" % debug_port)
    wait = subprocess.Popen([binary("attachctl"), "wait", "proj", "--timeout", "30", "--socket", sandbox.control],
                            env=sandbox.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    note("IDE: $ attachctl wait proj --timeout 30   (queued on the control socket)")
    assert first.poll() is not None and wait.poll() is None

    # --- second run: the stored listeners come back with the control socket.
    second = sandbox.spawn(fds=[control, tcp, unix], names=["control", "tcp.proj", "unix.proj"])
    sandbox.wait_ready(second)
    note("attachd #2 (pid %d) READY=1 with LISTEN_FDNAMES=control:tcp.proj:unix.proj" % second.pid)
    out, err = wait.communicate(timeout=30)
    assert wait.returncode == 0, (out, err, stderr_of(second))
    assert out.strip() == "127.0.0.1:%d" % debug_port
    note("IDE: attachctl wait exited 0 and printed %s" % out.strip())
    reply = recv_line(host, 10)
    assert reply.startswith("OK session="), reply
    note("host: got %r" % reply)
    reply2 = recv_line(unix_host, 10)
    assert reply2.startswith("OK session="), reply2
    note("host 2: got %r" % reply2)
    assert "socket-activated adopted=2" in stderr_of(second), stderr_of(second)
    # Adopted, not bound anew: nothing new for the store.
    assert not any("FDSTORE" in n.fields for n in sandbox.notify.of(second.pid))
    after = sandbox.ctl("status")
    note("$ attachctl status\n" + after.stdout.rstrip())
    sessions = sandbox.ctl("sessions", "proj")
    note("$ attachctl sessions proj\n" + sessions.stdout.rstrip())
    assert sessions.returncode == 0 and sessions.stdout.count("ready") >= 2, sessions.stdout

    host.close()
    unix_host.close()
    debug_server.close()
    _, code = sandbox.terminate(second)
    assert code == 0, stderr_of(second)

    # --- `systemctl stop` empties the store: the next run binds anew and stores again.
    tcp.close()
    unix.close()
    third = sandbox.spawn(fds=[control], names=["control"])
    sandbox.wait_ready(third)
    fresh = _stored(sandbox, third.pid, "tcp.proj")
    os.close(fresh)
    os.close(_stored(sandbox, third.pid, "unix.proj"))
    note("after a stop (store emptied): attachd #3 bound the listeners anew and stored them again")
    _, code = sandbox.terminate(third)
    assert code == 0
    control.close()

    text = "\n".join(transcript)
    print("\n--- fd store restart transcript ---\n" + text)
    if os.environ.get("ATTACHD_TRANSCRIPT"):
        with open(os.environ["ATTACHD_TRANSCRIPT"], "w") as f:
            f.write(text + "\n")


def test_stored_listener_of_a_removed_project_is_dropped(sandbox):
    control = sandbox.bind_control()
    stale = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stale.bind(("127.0.0.1", 0))
    stale.listen(1)
    proc = sandbox.spawn(fds=[control, stale], names=["control", "tcp.gone"])
    removed = sandbox.notify.wait(lambda n: n.fields.get("FDSTOREREMOVE") == "1", 20, pid=proc.pid,
                                  give_up=lambda: proc.exit_code is not None)
    assert removed.fields["FDNAME"] == "tcp.gone"
    sandbox.wait_ready(proc)
    _, code = sandbox.terminate(proc)
    assert code == 0
    stale.close()
    control.close()


# ----------------------------------------------------------------------------- 4. bad fds

def _bad_control(kind, sandbox):
    if kind == "tcp-listener":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        return s, "a listening TCP socket"
    if kind == "regular-file":
        return open(os.path.join(sandbox.dir, "not-a-socket"), "w+"), "not a listening socket"
    if kind == "unix-not-listening":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(os.path.join(sandbox.dir, "idle.sock"))
        return s, "not a listening socket"
    if kind == "unix-datagram":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(os.path.join(sandbox.dir, "dgram.sock"))
        return s, "not a listening socket"
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["tcp-listener", "regular-file", "unix-not-listening", "unix-datagram"])
def test_refuses_a_control_fd_that_is_not_a_listening_unix_socket(sandbox, kind):
    bad, what = _bad_control(kind, sandbox)
    proc = sandbox.spawn(fds=[bad], names=["control"])
    code = proc.wait(20)
    bad.close()
    err = stderr_of(proc)
    assert code == 1, err
    assert "is not a listening Unix stream socket" in err and what in err, err
    assert "FileDescriptorName=control" in err
    assert not any("READY" in n.fields for n in sandbox.notify.of(proc.pid))


# ----------------------------------------------------------------------------- 5. journal

@pytest.mark.parametrize("journal", ["matching", "absent", "other-file"])
def test_log_format_follows_journal_stream(sandbox, journal):
    stderr_path = os.path.join(sandbox.dir, "stderr-%s" % journal)
    open(stderr_path, "w").close()
    extra = {}
    if journal == "matching":
        st = os.stat(stderr_path)
        extra["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
    elif journal == "other-file":
        st = os.stat(sandbox.dir)
        extra["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
    proc = sandbox.spawn(env=sandbox.daemon_env(**extra), stderr_path=stderr_path,
                         args=("--socket", sandbox.control, "--log-level", "debug"))
    sandbox.wait_ready(proc)
    _, code = sandbox.terminate(proc)
    assert code == 0
    lines = [l for l in stderr_of(proc).splitlines() if l]
    assert len(lines) >= 2, lines
    if journal == "matching":
        assert all(PRIORITY.match(l) for l in lines), lines
        assert any(l.startswith("<6>ready ") for l in lines), lines
        assert not any(TIMESTAMP.match(l[3:]) for l in lines), lines  # journald stamps lines itself
    else:
        assert all(TIMESTAMP.match(l) for l in lines), lines
        assert any(" info attachd: ready " in l for l in lines), lines


# ----------------------------------------------------------------------------- 3. units

def _unit_settings(path):
    settings = {}
    section = None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, value = line.split("=", 1)
            settings.setdefault((section, key.strip()), []).append(value.strip())
    return settings


def test_unit_files_say_what_the_issue_asks():
    sock = _unit_settings(os.path.join(REPO_ROOT, "systemd", "attachd.socket"))
    assert sock[("Socket", "ListenStream")] == ["%t/attachd/control.sock"]
    assert sock[("Socket", "SocketMode")] == ["0600"]
    assert sock[("Socket", "DirectoryMode")] == ["0700"]
    assert sock[("Socket", "FileDescriptorName")] == ["control"]
    svc = _unit_settings(os.path.join(REPO_ROOT, "systemd", "attachd.service"))
    assert svc[("Service", "Type")] == ["notify"]
    assert svc[("Service", "ExecStart")] == ["@ATTACHD@"]
    assert svc[("Service", "Restart")] == ["on-failure"]
    assert svc[("Service", "WatchdogSec")]
    assert int(svc[("Service", "FileDescriptorStoreMax")][0]) >= 2 * 1024
    families = svc[("Service", "RestrictAddressFamilies")][0].split()
    assert set(families) == {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}  # sock_diag: AF_NETLINK
    assert svc[("Service", "NoNewPrivileges")] == ["yes"]


@pytest.mark.skipif(not os.access(SYSTEMD_ANALYZE, os.X_OK), reason="systemd-analyze not installed")
def test_installed_units_pass_systemd_analyze_verify(attachd_bin_dir):
    tmp = tempfile.mkdtemp(prefix="attachd-verify-", dir="/tmp")
    try:
        runtime = os.path.join(tmp, "run")
        home = os.path.join(tmp, "home")
        os.mkdir(runtime, 0o700)
        os.mkdir(home, 0o700)
        env = dict(os.environ, HOME=home, XDG_RUNTIME_DIR=runtime)
        env.pop("XDG_CONFIG_HOME", None)
        prefix = os.path.join(tmp, "prefix with space")
        unit_dir = os.path.join(home, ".config", "systemd", "user")
        # scripts/install with prebuilt binaries: the units get the real binary path.
        result = subprocess.run([INSTALL, "--from", attachd_bin_dir, "--prefix", prefix, "--no-systemctl"],
                                env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "systemctl --user enable --now attachd.socket" in result.stdout
        attachd = os.path.join(prefix, "bin", "attachd")
        assert os.access(attachd, os.X_OK) and os.access(os.path.join(prefix, "bin", "attachctl"), os.X_OK)
        units = [os.path.join(unit_dir, u) for u in ("attachd.socket", "attachd.service")]
        svc = _unit_settings(units[1])
        assert svc[("Service", "ExecStart")] == ['"%s"' % attachd]

        verify = subprocess.run([SYSTEMD_ANALYZE, "--user", "verify"] + units,
                                env=env, capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        # Warnings (an unknown or unparsable setting) exit 0 too: there must be none.
        assert verify.stderr.strip() == "" and verify.stdout.strip() == "", verify.stdout + verify.stderr

        # A missing binary is an error, so the path substitution above is what made it pass.
        os.unlink(attachd)
        broken = subprocess.run([SYSTEMD_ANALYZE, "--user", "verify"] + units,
                                env=env, capture_output=True, text=True, timeout=120)
        assert broken.returncode != 0

        result = subprocess.run([INSTALL, "--uninstall", "--prefix", prefix, "--no-systemctl"],
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert not any(os.path.exists(u) for u in units)
        assert not os.path.exists(os.path.join(prefix, "bin", "attachctl"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
