"""Helpers for the hardening and fuzz tests (tests/test_hardening.py, tests/test_fuzz.py).

/proc readers (descriptors, RSS, CPU time, LISTEN sockets), a raw line client for rendezvous
sockets, and running commands as another user.
"""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from attachd_harness import wait_for  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
NOBODY = ("nobody", "nogroup")


# ----------------------------------------------------------------------------- /proc

def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def fd_targets(pid):
    """What each descriptor points at (for failure messages)."""
    out = {}
    base = "/proc/%d/fd" % pid
    for name in os.listdir(base):
        try:
            out[int(name)] = os.readlink(os.path.join(base, name))
        except OSError:
            pass
    return out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / float(CLK_TCK)


def wait_dispatch_timerfd(pid, timeout=10.0):
    """Wait (polling /proc) until Dispatch has opened its timerfd. It does so on its own thread
    when the daemon first arms a timer (say, a Wait's deadline), a moment after the call: a
    descriptor count taken before then would count it as a leak."""
    return wait_for(lambda: "anon_inode:[timerfd]" in fd_targets(pid).values(), timeout,
                    message="attachd has no timerfd: %r" % fd_targets(pid))


def wait_fds_back(pid, baseline, timeout=10.0):
    """Wait (polling /proc: no event exists for it) until the fd count is <= baseline."""
    try:
        return wait_for(lambda: fd_count(pid) <= baseline, timeout)
    except TimeoutError:
        raise AssertionError("descriptors did not come back to %d within %.0fs: now %d: %r"
                             % (baseline, timeout, fd_count(pid), fd_targets(pid)))


def tcp_listeners(port):
    """Local addresses ("127.0.0.1", "0.0.0.0", "::"...) LISTENing on `port` (/proc/net/tcp*)."""
    found = []
    for path, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            with open(path) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, state = parts[1], parts[3]
            addr_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:
                continue
            if v6:
                raw = bytes.fromhex(addr_hex)
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                found.append(socket.inet_ntop(socket.AF_INET6, raw))
            else:
                found.append(socket.inet_ntoa(bytes.fromhex(addr_hex)[::-1]))
    return found


# ----------------------------------------------------------------------------- rendezvous

class LineClient(object):
    """A raw connection to a rendezvous socket (Unix path or TCP port on 127.0.0.1)."""

    def __init__(self, target, timeout=10.0, quickack=True):
        self.quickack = quickack and isinstance(target, int)
        if isinstance(target, int):
            self.sock = socket.create_connection(("127.0.0.1", target), timeout=timeout)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(target)
        self.buffer = b""
        self.eof = False

    def _quickack(self):
        # ACK at once (TCP): the daemon's replies are small writes subject to Nagle; without
        # this, each second reply waits for our delayed ACK (~40 ms). Reset after every recv.
        if self.quickack:
            try:
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            except OSError:
                pass

    def send(self, data):
        self.sock.sendall(data)

    def line(self, timeout=10.0):
        """The next reply line (bytes, without \\n); None at end of file."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            if self.eof:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no rendezvous reply within %.1fs (buffer %r)" % (timeout, self.buffer[:200]))
            self.sock.settimeout(remaining)
            self._quickack()
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
                continue
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def wait_eof(self, timeout=10.0):
        """Read (and return) everything until the daemon closes; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        data = self.buffer
        self.buffer = b""
        while not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("connection not closed within %.1fs (got %r)" % (timeout, data[:200]))
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
            data += chunk
        return data

    def close(self):
        self.sock.close()


# ----------------------------------------------------------------------------- other users

def as_nobody(cmd):
    """`cmd` prefixed to run as nobody:nogroup with no supplementary groups."""
    return ["setpriv", "--reuid=" + NOBODY[0], "--regid=" + NOBODY[1], "--clear-groups"] + list(cmd)


def open_path_for_others(path, stop):
    """chmod every directory from `stop` down to dirname(path) to 0755 (test only!)."""
    directory = os.path.dirname(path)
    chain = []
    while True:
        chain.append(directory)
        if directory == stop or directory == "/":
            break
        directory = os.path.dirname(directory)
    for d in chain:
        os.chmod(d, 0o755)


def run(cmd, env=None, timeout=30, input=None):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL)


# ----------------------------------------------------------------------------- control

from varlink_raw import RawVarlink  # noqa: E402


class BlockingConnectVarlink(RawVarlink):
    """RawVarlink whose connect blocks while the listener's backlog is full (a Unix socket
    with a timeout set fails the connect at once with EAGAIN instead)."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.settimeout(timeout)
        self.buffer = b""
