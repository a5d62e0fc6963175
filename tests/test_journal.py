"""attachd logs structured entries to the journal when stderr is the journal.

What journald would do is done by the test, for real:
- attachd runs with stderr a pipe whose DEVICE:INODE is in JOURNAL_STREAM (what systemd sets
  for StandardOutput=journal);
- libsystemd always sends to /run/systemd/journal/socket, so attachd runs in a private mount
  namespace (`unshare --mount`, needs root) where a test-owned directory is bind-mounted on
  /run/systemd/journal; the test listens there on an AF_UNIX datagram socket named `socket`
  and parses every datagram by the native protocol (systemd's JOURNAL_NATIVE_PROTOCOL):
  `KEY=VALUE\\n`, or `KEY\\n` + 64-bit little-endian length + bytes + `\\n` for a value with a
  newline; an entry too big for a datagram comes as a memfd (SCM_RIGHTS).

No sleeps: every step blocks on a datagram, a stderr line or a process exit, with a deadline.
"""

import array
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from attachd_harness import _SCRUB, _LineReader, binary, free_port

UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
JOURNAL_DIR = "/run/systemd/journal"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d) ")
# Runs the rest of argv with JOURNAL_DIR replaced by $0 for this process only.
BIND_AND_EXEC = 'mount --bind "$0" %s && exec "$@"' % JOURNAL_DIR


def parse_native(data):
    """The fields of one native-protocol entry: a list of (name, value bytes, binary form)."""
    fields = []
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        eq = data.find(b"=", i, nl)
        if eq != -1:
            fields.append((data[i:eq].decode(), data[eq + 1:nl], False))
            i = nl + 1
        else:
            (size,) = struct.unpack_from("<Q", data, nl + 1)
            start = nl + 9
            assert data[start + size:start + size + 1] == b"\n", "binary field not ended by a newline"
            fields.append((data[i:nl].decode(), data[start:start + size], True))
            i = start + size + 1
    return fields


class Entry(object):
    def __init__(self, raw):
        self.raw = raw
        self.list = parse_native(raw)
        self.fields = {}
        self.binary = set()
        for name, value, is_binary in self.list:
            self.fields.setdefault(name, value.decode())
            if is_binary:
                self.binary.add(name)

    def get(self, name, default=None):
        return self.fields.get(name, default)

    def __repr__(self):
        return "<entry %r>" % self.fields


class StandInJournal(object):
    """An AF_UNIX datagram socket DIR/socket, read on the test's own thread."""

    def __init__(self, directory, listen=True):
        self.dir = directory
        self.path = os.path.join(directory, "socket")
        self.entries = []
        self.sock = None
        if listen:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(self.path)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)

    def _receive(self):
        fds = array.array("i")
        data, ancdata, _, _ = self.sock.recvmsg(1 << 20, socket.CMSG_SPACE(4 * fds.itemsize))
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
        for fd in fds:  # an entry too big for one datagram: its bytes are in a memfd
            with os.fdopen(fd, "rb") as f:
                f.seek(0)
                data = f.read()
        entry = Entry(data)
        self.entries.append(entry)
        return entry

    def wait_entry(self, predicate, timeout=20.0):
        """The first entry (already received or arriving before the deadline) matching."""
        for entry in self.entries:
            if predicate(entry):
                return entry
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.sock], [], [], remaining)[0]:
                raise TimeoutError("no matching journal entry within %.0fs; got %r" % (timeout, self.entries))
            entry = self._receive()
            if predicate(entry):
                return entry

    def drain(self):
        """Everything received so far, including what is still queued on the socket."""
        while select.select([self.sock], [], [], 0)[0]:
            self._receive()
        return list(self.entries)

    def close(self):
        if self.sock is not None:
            self.sock.close()


class Attachd(object):
    """The real attachd with stderr a pipe, optionally under a stand-in journal."""

    def __init__(self, tmp, control, journal_stream, journal=None):
        runtime = os.path.join(tmp, "run")
        config = os.path.join(tmp, "config")
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        os.makedirs(config, mode=0o700, exist_ok=True)
        env = dict(os.environ)
        for name in _SCRUB + ("JOURNAL_STREAM",):
            env.pop(name, None)
        env["XDG_RUNTIME_DIR"] = runtime
        env["XDG_CONFIG_HOME"] = config
        self.ctl_env = dict(env, ATTACHD_SOCKET=control)
        read_end, write_end = os.pipe()
        if journal_stream:
            st = os.fstat(write_end)
            env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        cmd = [binary("attachd"), "--socket", control, "--log-level", "debug"]
        if journal is not None:
            cmd = [UNSHARE, "--mount", "sh", "-c", BIND_AND_EXEC, journal.dir] + cmd
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=write_end, cwd=tmp)
        os.close(write_end)
        self.stderr = _LineReader(os.fdopen(read_end, "r", errors="replace"), "attachd-stderr")

    def ctl(self, *args):
        return subprocess.run([binary("attachctl")] + list(args), env=self.ctl_env,
                              capture_output=True, text=True, timeout=30)

    def stop(self, timeout=20):
        """SIGTERM, then the exit code; stderr has then been read to its end."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.stderr.thread.join(timeout)
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def sandbox(attachd_bin_dir):
    tmp = tempfile.mkdtemp(prefix="attachd-j-", dir="/tmp")
    made = []

    def start(**kw):
        d = Attachd(tmp, **kw)
        made.append(d)
        return d

    start.tmp = tmp
    yield start
    for d in made:
        d.kill()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def stand_in(sandbox):
    """A listening stand-in journal, or a skip when no private mount namespace can be made."""
    probe = subprocess.run([UNSHARE, "--mount", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("needs a private mount namespace (root): %s" % probe.stderr.strip())
    os.makedirs(JOURNAL_DIR, exist_ok=True)
    directory = os.path.join(sandbox.tmp, "journal")
    os.mkdir(directory)
    journal = StandInJournal(directory)
    yield journal
    journal.close()


# ----------------------------------------------------------------------------- tests

def _is_ready(entry):
    return (entry.get("MESSAGE") or "").startswith("ready ")


def test_entries_carry_structured_fields(sandbox, stand_in):
    # A newline in the control socket's name puts one in MESSAGE and ATTACHD_SOCKET of "ready":
    # those must come in the native protocol's binary form.
    control = os.path.join(sandbox.tmp, "control\nsock")
    daemon = sandbox(control=control, journal_stream=True, journal=stand_in)
    ready = stand_in.wait_entry(_is_ready)
    assert ready.get("ATTACHD_SOCKET") == control
    assert ready.get("MESSAGE").startswith("ready ") and ("socket=" + control) in ready.get("MESSAGE")
    assert {"MESSAGE", "ATTACHD_SOCKET"} <= ready.binary
    assert ready.get("PRIORITY") == "6"

    # An occupied rendezvous port makes the daemon log an error about the project.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        added = daemon.ctl("add", "maxtools", "--debug-port", str(free_port()), "--rendezvous-port", str(port))
        entry = stand_in.wait_entry(lambda e: e.get("ATTACHD_PROJECT") == "maxtools")
    assert added.returncode == 0, added.stderr

    assert entry.get("SYSLOG_IDENTIFIER") == "attachd"
    assert entry.get("PRIORITY") == "3"
    assert entry.get("MESSAGE").startswith("rendezvous listener not up; will retry ")
    assert "project=maxtools" in entry.get("MESSAGE")  # metadata stays readable in MESSAGE
    assert str(port) in entry.get("ATTACHD_ERROR")
    assert entry.get("CODE_FILE").endswith(".swift"), entry
    assert re.match(r"^[1-9]\d*$", entry.get("CODE_LINE")), entry
    assert entry.get("CODE_FUNC"), entry
    assert all(re.match(r"^[A-Z0-9][A-Z0-9_]*$", name) for name, _, _ in entry.list), entry.list
    # A value without a newline uses the plain KEY=VALUE form.
    assert not entry.binary, entry.binary

    assert daemon.stop() == 0
    entries = stand_in.drain()
    assert any(e.get("MESSAGE", "").startswith("stopping ") and e.get("ATTACHD_SIGNAL") for e in entries), entries
    # Everything went to the journal; nothing was written to stderr as well.
    assert daemon.stderr.lines() == []


def test_missing_journal_socket_falls_back_to_priority_lines(sandbox, stand_in):
    # The namespace sees an empty directory: no journal socket, as when journald is down.
    empty = os.path.join(sandbox.tmp, "no-journal")
    os.mkdir(empty)
    control = os.path.join(sandbox.tmp, "control.sock")
    daemon = sandbox(control=control, journal_stream=True, journal=StandInJournal(empty, listen=False))
    line = daemon.stderr.wait_line(lambda l: l.startswith("<6>ready "), 20)
    assert ("socket=" + control) in line
    assert daemon.stop() == 0
    lines = [l for l in daemon.stderr.lines() if l]
    assert len(lines) >= 2 and all(re.match(r"^<[0-7]>", l) for l in lines), lines
    assert not any(TIMESTAMP.match(l[3:]) for l in lines), lines  # journald stamps lines itself
    assert stand_in.drain() == []


def test_run_by_hand_keeps_timestamped_lines(sandbox, stand_in):
    # No JOURNAL_STREAM: plain lines on stderr, even though a journal socket is there.
    control = os.path.join(sandbox.tmp, "control.sock")
    daemon = sandbox(control=control, journal_stream=False, journal=stand_in)
    daemon.stderr.wait_line(lambda l: " info attachd: ready " in l, 20)
    assert daemon.stop() == 0
    lines = [l for l in daemon.stderr.lines() if l]
    assert len(lines) >= 2 and all(TIMESTAMP.match(l) for l in lines), lines
    assert stand_in.drain() == []
