"""Readiness that is the host's own: a session with a pid is ready only when a LISTEN socket on
its port belongs to its process tree, in its own network namespace.

The host here is a small script that announces itself on the Unix rendezvous (DEBUG_PORT=,
MAINPID= unless told not to, READY=1) and opens its debug listener only when the test writes
"listen" to its stdin, so every step is an event the test causes.
"""
import os
import shutil
import socket
import subprocess
import sys

import pytest

from attachd_harness import _LineReader, free_port

PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

HOST = r"""
import os, socket, sys
path, port, with_pid = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "pid"
r = socket.socket(socket.AF_UNIX)
r.connect(path)
lines = ["DEBUG_PORT=%d" % port] + (["MAINPID=%d" % os.getpid()] if with_pid else []) + ["READY=1"]
r.sendall(("\n".join(lines) + "\n").encode())
f = r.makefile()
replies = [f.readline().strip() for _ in lines]
print("ANNOUNCED %d %s" % (os.getpid(), replies[-1]), flush=True)
assert sys.stdin.readline().strip() == "listen"
s = socket.socket()
s.bind(("127.0.0.1", port))
s.listen(1)
print("LISTENING", flush=True)
sys.stdin.read()
"""


class Host(object):
    def __init__(self, daemon, project, port, with_pid=True, prefix=()):
        cmd = list(prefix) + [PYTHON, "-c", HOST, daemon.rendezvous_path(project), str(port),
                              "pid" if with_pid else "nopid"]
        self.proc = subprocess.Popen(cmd, env=daemon.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.out = _LineReader(self.proc.stdout, "owner-host")
        self.err = _LineReader(self.proc.stderr, "owner-host-err")
        line = self.expect("ANNOUNCED ")
        pid, reply = line.split(" ", 1)
        self.pid = int(pid)
        assert reply.startswith("OK session=%s-" % project), reply
        self.session = reply.split("session=")[1]

    def expect(self, prefix, timeout=20):
        try:
            return self.out.wait_line(lambda l: l.startswith(prefix), timeout)[len(prefix):]
        except (EOFError, TimeoutError):
            raise AssertionError("host said no %r; stderr:\n%s" % (prefix, "\n".join(self.err.lines())))

    def listen(self):
        self.proc.stdin.write("listen\n")
        self.proc.stdin.flush()
        self.expect("LISTENING")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def listener(port):
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen(1)
    return s


def session_of(daemon, project, session_id):
    return next(s for s in daemon.sessions(project) if s["id"] == session_id)


def test_port_held_by_another_process_is_not_the_hosts(daemon):
    port = daemon.add_project("owned")
    other = listener(port)  # someone else's server, on the host's port
    host = Host(daemon, "owned", port)
    try:
        timed_out = daemon.ctl("wait", "owned", "--timeout", "1")
        assert timed_out.returncode == 124, timed_out.stdout + timed_out.stderr
        session = session_of(daemon, "owned", host.session)
        assert session["state"] == "pending"
        assert session["pid"] == host.pid
        me = os.getpid()
        assert session["problem"].startswith("port %d is held by pid %d (" % (port, me)), session
        assert session["problem"].endswith("), not by the host"), session
        text = daemon.ctl("sessions", "owned", check=True).stdout
        assert "held by pid %d" % me in text

        other.close()
        wait = subprocess.Popen([daemon.binary("attachctl"), "wait", "owned", "--timeout", "30"],
                                env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        host.listen()
        out, err = wait.communicate(timeout=40)
        assert wait.returncode == 0, err
        assert out.strip() == "127.0.0.1:%d" % port
        session = session_of(daemon, "owned", host.session)
        assert session["state"] in ("ready", "attached") and "problem" not in session, session
    finally:
        other.close()
        host.close()


def test_a_host_without_a_pid_is_ready_with_any_listener(daemon):
    # The contrast: without MAINPID, attachd cannot tell whose the listener is.
    port = daemon.add_project("anyone")
    other = listener(port)
    host = Host(daemon, "anyone", port, with_pid=False)
    try:
        wait = daemon.ctl("wait", "anyone", "--timeout", "30")
        assert wait.returncode == 0, wait.stderr
        session = session_of(daemon, "anyone", host.session)
        assert "pid" not in session and "problem" not in session, session
    finally:
        other.close()
        host.close()


def _can_unshare():
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return False
    probe = subprocess.run(["unshare", "--net", "--", "ip", "link", "set", "lo", "up"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="needs root and a working `unshare --net` with `ip`")
def test_host_in_its_own_network_namespace_is_judged_there(daemon):
    port = daemon.add_project("netns")
    other = listener(port)  # same port number, the daemon's namespace
    prefix = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    host = Host(daemon, "netns", port, prefix=prefix)
    try:
        assert os.readlink("/proc/%d/ns/net" % host.pid) != os.readlink("/proc/self/ns/net")
        timed_out = daemon.ctl("wait", "netns", "--timeout", "1")
        assert timed_out.returncode == 124, timed_out.stdout + timed_out.stderr
        session = session_of(daemon, "netns", host.session)
        # In the host's namespace nothing listens yet: not ready, and nobody to blame.
        assert session["state"] == "pending" and "problem" not in session, session

        wait = subprocess.Popen([daemon.binary("attachctl"), "wait", "netns", "--timeout", "30"],
                                env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        host.listen()  # our listener on the same number stays open all along
        out, err = wait.communicate(timeout=40)
        assert wait.returncode == 0, err
        assert out.strip() == "127.0.0.1:%d" % port
        assert session_of(daemon, "netns", host.session)["state"] in ("ready", "attached")

    finally:
        other.close()
        host.close()
