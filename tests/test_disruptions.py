"""Nothing a user does loses a host (issue 18): attachd killed (-9), stopped (SIGTERM) outside
systemd, the project removed and added again; a host whose helper cannot import debugpy.

Real binaries, real debugpy hosts (tests/fake_host.py, attach_ready.start()), a real DAP client
on the attach port. Each restart case checks what a user sees: within a second of the new attachd
serving, `attachctl sessions` shows the live host ready again, and an IDE on the attach port
reaches that very process. (Socket activation: tests/test_disruptions_activation.py.)
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from attachd_harness import AttachRun, HostProcess, TESTS_DIR, free_port, wait_for
from dap_client import DapClient

FAKE_HOST = os.path.join(TESTS_DIR, "fake_host.py")
# A host is back within a second of the new attachd serving (the helper's and the keeper's
# back-off stops at 0.5 s); the tests allow 3 s, for a machine under load.
BACK_WITHIN = 3.0


def live_session(daemon, project, pid):
    for s in daemon.sessions(project):
        if s.get("pid") == pid and s["state"] != "ended":
            return s
    return None


def session_by_id(daemon, project, sid):
    for s in daemon.sessions(project):
        if s["id"] == sid and s["state"] != "ended":
            return s
    return None


def ready_session(daemon, project, pid=None, sid=None, timeout=20.0):
    """The live session of `pid` (or with id `sid`), once `attachctl sessions` shows it ready
    (or attached)."""
    def find():
        s = live_session(daemon, project, pid) if sid is None else session_by_id(daemon, project, sid)
        return s if s and s["state"] in ("ready", "attached") else None
    try:
        return wait_for(find, timeout, interval=0.02)
    except TimeoutError:
        raise AssertionError("no ready session of %s in %r" % (sid or pid, daemon.sessions(project)))


def ide_reaches(attach, pid, timeout=30.0):
    """An IDE on the attach port (initialize and attach together, as VS Code sends them)
    reaches process `pid`."""
    with DapClient.connect("127.0.0.1", attach, timeout=timeout) as dap:
        dap.attach(timeout=timeout)
        assert dap.evaluate("__import__('os').getpid()", timeout=timeout) == str(pid)
        dap.disconnect(timeout=timeout)


def add_attach_project(daemon, name):
    attach = free_port()
    daemon.ctl("add", name, "--attach-port", attach, "--timeout", "30", check=True)
    return attach


def come_back(daemon, project, pid, attach, how, sid=None):
    """attachd goes away (`how`: "kill" or "term") and a new one starts: the host is ready again
    within BACK_WITHIN of the new one serving, and an IDE reaches it. Returns its session."""
    if how == "kill":
        daemon.kill()
    else:
        assert daemon.stop() == 0
    daemon.start()
    served_at = time.time()  # READY=1 was seen: the new attachd serves
    session = ready_session(daemon, project, pid, sid)
    assert session["readyAt"] - served_at < BACK_WITHIN, (session, served_at)
    ide_reaches(attach, pid)
    return session


@pytest.mark.parametrize("how", ["kill", "term"])
def test_helper_host_comes_back_to_a_new_attachd(daemon, how):
    attach = add_attach_project(daemon, "blend")
    with HostProcess("blend", env=daemon.env) as host:
        host.command("status scene loaded")
        first = ready_session(daemon, "blend", host.pid)
        session = come_back(daemon, "blend", host.pid, attach, how)
        assert session["debugPort"] == host.port and session["status"] == "scene loaded"
        assert session["id"] != first["id"]
        assert [s["id"] for s in daemon.sessions("blend") if s["state"] != "ended"] == [session["id"]]
        # Twice: the helper keeps coming back, and knows its new session.
        again = come_back(daemon, "blend", host.pid, attach, how)
        assert host.command("session") == "SESSION %s" % again["id"]
        # Quiet: nothing above DEBUG about any of it.
        assert [l for l in host.log_lines("WARNING") if "attach_ready" in l] == [], host.stderr_text()
        assert host.close() == 0
    wait_for(lambda: live_session(daemon, "blend", host.pid) is None, 15, interval=0.05)


# fake_host.py under `attachctl run`, its stdin a pipe that stays open (fake_host exits at EOF).
RUN_FAKE_HOST = r"""
import os, runpy, sys
r, w = os.pipe()
os.dup2(r, 0)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_attachctl_run_host_comes_back_with_its_session_id(daemon):
    attach = add_attach_project(daemon, "runproj")
    command = [sys.executable, "-c", RUN_FAKE_HOST, FAKE_HOST, "--project", "runproj"]
    with AttachRun(daemon, "runproj", command) as run:
        first = ready_session(daemon, "runproj", sid=run.session)
        # The helper inside joined the session: its pid is the Python host's.
        assert first["pid"] == run.child_pid
        session = come_back(daemon, "runproj", run.child_pid, attach, "kill", sid=run.session)
        # The same id, one session (the helper inside joined it again, not a second one).
        assert session["id"] == first["id"] == run.session
        live = [s for s in daemon.sessions("runproj") if s["state"] != "ended"]
        assert [s["id"] for s in live] == [run.session]
        assert run.stop() in (0, -signal.SIGTERM, 128 + signal.SIGTERM)


LISTENER = r"""
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
print("LISTENING", flush=True)
sys.stdin.read()
"""


def keepers(session_id):
    """Pids of background `attachctl announce --keep-session ID` processes."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"--keep-session" in argv and session_id.encode() in argv:
            found.append(int(name))
    return found


def test_announce_pid_comes_back_and_its_keeper_ends_with_the_pid(daemon):
    port = daemon.add_project("shell")
    host = subprocess.Popen([sys.executable, "-c", LISTENER, str(port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout.readline().strip() == "LISTENING"
        # $(attachctl announce …): the background keeper does not hold the output open.
        r = subprocess.run([daemon.binary("attachctl"), "announce", "shell", "--pid", str(host.pid)],
                           env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        sid = r.stdout.strip()
        assert len(wait_for(lambda: keepers(sid), 10)) == 1
        assert ready_session(daemon, "shell", host.pid)["id"] == sid
        daemon.kill()
        daemon.start()
        served_at = time.time()
        session = ready_session(daemon, "shell", host.pid)
        assert session["id"] == sid and session["readyAt"] - served_at < BACK_WITHIN
        host.stdin.close()
        host.wait(10)
        wait_for(lambda: not keepers(sid), 10, message="the keeper outlived its pid")
        wait_for(lambda: live_session(daemon, "shell", host.pid) is None, 10)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait(10)


def test_remove_asks_then_the_host_comes_back_when_added_again(daemon):
    attach = add_attach_project(daemon, "maxtools")
    with HostProcess("maxtools", env=daemon.env) as host:
        session = ready_session(daemon, "maxtools", host.pid)
        refused = daemon.ctl("remove", "maxtools")
        assert refused.returncode == 1
        assert ("project 'maxtools' has 1 live host session (%s); removing it ends them" % session["id"]
                in refused.stderr), refused.stderr
        assert "give --force" in refused.stderr
        assert [p["name"] for p in daemon.ctl_json("list")] == ["maxtools"]
        daemon.ctl("remove", "maxtools", "--force", check=True)
        daemon.ctl("add", "maxtools", "--attach-port", attach, "--timeout", "30", check=True)
        added_at = time.time()
        back = ready_session(daemon, "maxtools", host.pid)
        assert back["readyAt"] - added_at < BACK_WITHIN
        ide_reaches(attach, host.pid)
        assert host.close() == 0


def test_missing_debugpy_is_announced_and_doctor_says_why(daemon, tmp_path):
    # Modules that fail to import, first on the path: neither debugpy nor ptvsd imports.
    for name in ("debugpy", "ptvsd"):
        (tmp_path / (name + ".py")).write_text('raise ImportError("No module named %s")\n' % name)
    daemon.add_project("nodbg")
    env = dict(daemon.env, PYTHONPATH=str(tmp_path))
    with HostProcess("nodbg", env=env, args=["--keep-running-on-error"]) as host:
        assert host.report["error"].startswith("NoDebugServerError: neither debugpy nor ptvsd can be imported ("), host.report
        ended = wait_for(lambda: [s for s in daemon.sessions("nodbg") if s.get("pid") == host.pid
                                  and s["state"] == "ended"], 15, interval=0.05)[0]
        assert ended["status"].startswith(
            "debug server did not start: neither debugpy nor ptvsd can be imported ("), ended
        # The table bounds its STATE column (the full text is in --json and doctor).
        shown = daemon.ctl("sessions", "nodbg", check=True).stdout
        assert "debug server did not start: neither deb" in shown, shown
        r = daemon.ctl("doctor", "nodbg")
        assert r.returncode == 1, r.stdout
        assert "the host's last STATUS: debug server did not start: neither debugpy nor ptvsd can be imported" \
            in r.stdout, r.stdout
        assert host.command("magic") == "MAGIC 42"  # the application runs on
