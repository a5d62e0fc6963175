"""Hosts start the daemon, and come back to it, under socket activation (issue 18, points 1
and 2): attachd run by the real `systemd-socket-activate` as the README shows it, no systemd
--user manager (tests/test_systemd.py's Sandbox stands in for the rest).

- A host that starts first, while only the control socket listens (no rendezvous socket yet,
  or a stale one): its helper knocks on the control socket, which starts attachd, and announces
  itself: `start()` returns with a session, and `attachctl wait` finds it ready.
- attachd killed (-9) and socket activation set up again: the live host's helper knocks again,
  attachd starts, and the host is ready again; an IDE on the attach port reaches it.
- An orderly restart with the fd store (systemd's, played as tests/test_attach_restart.py
  does): the host is announced again to the new process.
"""
import json
import os
import signal
import subprocess

import pytest

from attachd_harness import HostProcess, binary, free_port, wait_for
from dap_client import DapClient
from test_systemd import SANITIZER_ENV, SOCKET_ACTIVATE, LineReader, sandbox, stderr_of  # noqa: F401

pytestmark = pytest.mark.skipif(not os.access(SOCKET_ACTIVATE, os.X_OK),
                                reason="systemd-socket-activate not installed")


def activate(box):
    """`systemd-socket-activate -l CONTROL --fdname=control … attachd`, as the README has it
    (no NOTIFY_SOCKET: nothing keeps attachd's listeners while it is down); returns the process
    (attachd's pid once activated) once it listens."""
    os.makedirs(os.path.dirname(box.control), mode=0o700, exist_ok=True)
    cmd = [SOCKET_ACTIVATE, "-l", box.control, "--fdname=control",
           "-E", "XDG_RUNTIME_DIR", "-E", "XDG_CONFIG_HOME"] + SANITIZER_ENV + [
           binary("attachd"), "--log-level", "debug"]
    proc = subprocess.Popen(cmd, env=box.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    box.track(proc)
    proc.err = LineReader(proc.stderr)
    proc.err.wait(lambda l: l.startswith("Listening on"), 20)
    return proc


def is_attachd(pid):
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid)) == "attachd"
    except OSError:
        return False


def ready_session(box, project, pid, timeout=20.0):
    def find():
        r = box.ctl("sessions", project, "--json")
        for s in json.loads(r.stdout or "[]"):
            if s.get("pid") == pid and s["state"] in ("ready", "attached"):
                return s
        return None
    return wait_for(find, timeout, interval=0.05, message="host %d not ready again" % pid)


def ide_reaches(attach, pid, timeout=30.0):
    with DapClient.connect("127.0.0.1", attach, timeout=timeout) as dap:
        dap.attach(timeout=timeout)
        assert dap.evaluate("__import__('os').getpid()", timeout=timeout) == str(pid)
        dap.disconnect(timeout=timeout)


def test_host_starts_attachd_and_comes_back_after_kill_9(sandbox):  # noqa: F811
    first = activate(sandbox)
    attach = free_port()
    added = sandbox.ctl("add", "blend", "--attach-port", attach, "--timeout", "30")
    assert added.returncode == 0, added.stderr + "\n".join(first.err.lines)
    first.send_signal(signal.SIGTERM)
    assert first.wait(10) == 0, "\n".join(first.err.lines)

    # Only the control socket listens now; nothing runs attachd until someone knocks.
    second = activate(sandbox)
    assert not is_attachd(second.pid)
    with HostProcess("blend", env=sandbox.env) as host:
        # The helper knocked: attachd started and took the announcement before start() returned.
        assert is_attachd(second.pid), "\n".join(second.err.lines)
        assert host.report["session"], host.stderr_text()
        assert [l for l in host.log_lines("WARNING") if "attach_ready" in l] == [], host.stderr_text()
        wait = sandbox.ctl("wait", "blend", "--timeout", "20")
        assert wait.returncode == 0, wait.stderr + "\n".join(second.err.lines)
        assert ready_session(sandbox, "blend", host.pid)["id"] == host.report["session"]

        # attachd killed; socket activation set up again: the live host knocks, and is back.
        second.send_signal(signal.SIGKILL)
        second.wait(10)
        third = activate(sandbox)
        wait_for(lambda: is_attachd(third.pid), 20, interval=0.02,
                 message="the host did not start attachd again")
        ready_session(sandbox, "blend", host.pid)
        ide_reaches(attach, host.pid)
        assert host.close() == 0
    third.send_signal(signal.SIGTERM)
    assert third.wait(10) == 0


def test_host_comes_back_after_an_orderly_restart_with_the_fd_store(sandbox):  # noqa: F811
    """`systemctl --user restart attachd` as tests/test_attach_restart.py plays it: SIGTERM, the
    listeners to the fd store, a new attachd given them back. The host's connection ends with
    the old process; the helper announces it again to the new one."""
    from test_attach_restart import spawn, stored
    control = sandbox.bind_control()
    first = spawn(sandbox, [control], ["control"])
    sandbox.wait_ready(first)
    attach = free_port()
    added = sandbox.ctl("add", "blend", "--attach-port", attach, "--timeout", "30")
    assert added.returncode == 0, added.stderr + stderr_of(first)
    with HostProcess("blend", env=sandbox.env) as host:
        before = ready_session(sandbox, "blend", host.pid)
        _, code = sandbox.terminate(first)
        assert code == 0, stderr_of(first)
        fds = stored(sandbox, first.pid)
        second = spawn(sandbox, [control] + [fds[n] for n in sorted(fds)], ["control"] + sorted(fds))
        sandbox.wait_ready(second)
        for fd in fds.values():
            os.close(fd)
        after = ready_session(sandbox, "blend", host.pid)
        assert after["id"] != before["id"] and after["debugPort"] == host.port
        ide_reaches(attach, host.pid)
        assert host.close() == 0
    sandbox.terminate(second)
    control.close()
