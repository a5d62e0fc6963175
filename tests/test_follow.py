"""One F5 a day: an IDE's DAP session on an attach port follows the project's hosts.

Real debugpy hosts, the real daemon; the IDE is tests/dap_client.py doing what VS Code does on
`terminated` with `restart` set (restart_like_vscode). When a host ends on its own, the IDE gets
attachd's output event and terminated{restart: true}, connects again, is held until the next
host is ready, sets its breakpoint again and stops there in the new host.
"""
import json
import os
import signal
import subprocess
import sys

import pytest

from attachd_harness import _LineReader, free_port, wait_for
from remote_support import SshServer, add_remote, local_daemon, wait_remote_state
from dap_client import DapClient, DapError, finish_restart, restart_like_vscode

# A host: debugpy.listen on port 0, announced on the rendezvous socket with its pid; tick() runs
# every 10 ms (the breakpoint line is marked). stdin "exit" ends it normally.
HOST = r"""
import os, sys, threading, time
sys.path.insert(0, sys.argv[2])
import attach_ready
host, port = attach_ready.start(project=sys.argv[1])
print("READY %d %s" % (port, attach_ready.session_id()), flush=True)
stop = []
threading.Thread(target=lambda: (sys.stdin.readline(), stop.append(1)), daemon=True).start()

def tick(n):
    return n + 1  # BREAK

n = 0
while not stop:
    n = tick(n)
    time.sleep(0.01)
print("EXITING", flush=True)
"""
HELPER_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integrations", "python")
BREAK_LINE = HOST.splitlines().index("    return n + 1  # BREAK")  # 1-based after the leading newline


class Host(object):
    def __init__(self, daemon, project, script):
        self.proc = subprocess.Popen([sys.executable, script, project, HELPER_DIR], env=daemon.env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        self.project = project
        self.out = _LineReader(self.proc.stdout, "host")
        self.err = _LineReader(self.proc.stderr, "host-stderr")

    def ready(self, timeout=30):
        line = self.out.wait_line(lambda l: l.startswith("READY "), timeout)
        self.port = int(line.split()[1])
        self.session = line.split()[2]
        assert self.session.startswith(self.project + "-"), line
        return self

    def exit(self):
        self.proc.stdin.write("exit\n")
        self.proc.stdin.flush()
        return self.proc.wait(30)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def host_script(tmp_path):
    path = tmp_path / "host_app.py"
    path.write_text(HOST.lstrip("\n"))
    return str(path)


def add_project(daemon, name, *extra):
    port = free_port()
    daemon.ctl("add", name, "--attach-port", port, "--timeout", "60", *extra, check=True)
    return port


def stopped_at_breakpoint(dap, script, host, timeout=30):
    """Wait for the stop at BREAK_LINE; return the pid evaluated in the stopped frame."""
    stopped = dap.wait_event("stopped", lambda e: e["body"].get("reason") == "breakpoint", timeout=timeout)
    frames = dap.stack_trace(stopped["body"]["threadId"], timeout=timeout)
    assert frames[0]["line"] == BREAK_LINE and frames[0]["source"]["path"] == script, frames[0]
    resp = dap.request("evaluate", {"expression": "__import__('os').getpid()", "frameId": frames[0]["id"],
                                    "context": "repl"}, timeout=timeout)
    return int(resp["body"]["result"])


def attachd_notice(dap):
    return [e for e in dap.events if e.get("event") == "output" and "attachd:" in e["body"].get("output", "")]


def wait_restart(dap, timeout=30):
    """The output event, then terminated{restart: true}, then the end of the connection."""
    terminated = dap.wait_event("terminated", timeout=timeout)
    (notice,) = attachd_notice(dap)
    assert dap.events.index(notice) < dap.events.index(terminated)
    assert terminated["body"]["restart"] is True, terminated
    assert terminated["seq"] > max(e["seq"] for e in dap.events if e is not terminated)
    with pytest.raises(DapError, match="closed the connection"):
        dap.wait_event("never", timeout=timeout)
    return notice, terminated


def follow_into_next_host(daemon, dap, attach, script, project, old, timeout=30, old_ends=True, hosts_daemon=None):
    """The IDE restarts as VS Code does and is held; a new host starts (announced to
    `hosts_daemon`, by default `daemon`); its breakpoint is hit."""
    notice, terminated = wait_restart(dap, timeout)
    assert notice["body"]["output"] == "attachd: the host ended; waiting for the next host of %s\n" % project
    new_dap = restart_like_vscode(dap, "127.0.0.1", attach, terminated, timeout=timeout,
                                  breakpoints={script: [BREAK_LINE]}, justMyCode=False)
    with new_dap:
        if old_ends:
            wait_for(lambda: old.session not in [s["id"] for s in daemon.sessions(project) if s["state"] != "ended"],
                     timeout, message="the old session did not end")
        new = Host(hosts_daemon or daemon, project, script)
        try:
            new.ready(timeout)
            finish_restart(new_dap, timeout)
            assert stopped_at_breakpoint(new_dap, script, new, timeout) == new.pid
            new_dap.disconnect()
        finally:
            new.close()


def test_host_killed_at_a_breakpoint_the_ide_follows_to_the_next_host(daemon, host_script):
    attach = add_project(daemon, "blend")
    old = Host(daemon, "blend", host_script).ready()
    try:
        dap = DapClient.connect("127.0.0.1", attach, timeout=30)
        dap.attach(timeout=30, breakpoints={host_script: [BREAK_LINE]})
        assert stopped_at_breakpoint(dap, host_script, old) == old.pid
        old.proc.send_signal(signal.SIGKILL)
        follow_into_next_host(daemon, dap, attach, host_script, "blend", old)
    finally:
        old.close()


def attach_at_breakpoint(attach, script, host):
    dap = DapClient.connect("127.0.0.1", attach, timeout=30)
    dap.attach(timeout=30, breakpoints={script: [BREAK_LINE]})
    assert stopped_at_breakpoint(dap, script, host) == host.pid
    return dap


def debugpy_adapter_of(host):
    """The pid of debugpy's adapter process for `host` (it inherits ATTACHD_HOST_PID)."""
    mark = ("ATTACHD_HOST_PID=%d" % host.pid).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == host.pid:
            continue
        try:
            with open("/proc/%s/environ" % entry, "rb") as f:
                environ = f.read().split(b"\0")
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if mark in environ and b"adapter" in cmdline:
            return int(entry)
    return None


def test_host_exits_normally_the_ide_follows(daemon, host_script):
    attach = add_project(daemon, "blend")
    old = Host(daemon, "blend", host_script).ready()
    try:
        dap = attach_at_breakpoint(attach, host_script, old)
        dap.request("setBreakpoints", {"source": {"path": host_script}, "breakpoints": []})
        dap.continue_all(0)
        assert old.exit() == 0
        follow_into_next_host(daemon, dap, attach, host_script, "blend", old)
    finally:
        old.close()


def test_only_debugpys_adapter_dies_the_ide_follows(daemon, host_script):
    attach = add_project(daemon, "blend")
    old = Host(daemon, "blend", host_script).ready()
    try:
        dap = attach_at_breakpoint(attach, host_script, old)
        adapter = wait_for(lambda: debugpy_adapter_of(old), 10, message="no debugpy adapter found")
        os.kill(adapter, signal.SIGKILL)
        assert old.proc.poll() is None  # the host itself lives on, its session with no debug server
        follow_into_next_host(daemon, dap, attach, host_script, "blend", old, old_ends=False)
    finally:
        old.close()


def test_session_ended_by_the_control_api_the_ide_follows(daemon, host_script):
    attach = add_project(daemon, "blend")
    old = Host(daemon, "blend", host_script).ready()
    try:
        dap = attach_at_breakpoint(attach, host_script, old)
        with daemon.broker() as broker:
            broker.EndSession(old.session)
        follow_into_next_host(daemon, dap, attach, host_script, "blend", old)
    finally:
        old.close()


def test_ide_disconnects_nothing_is_rewritten(daemon, host_script):
    attach = add_project(daemon, "blend")
    old = Host(daemon, "blend", host_script).ready()
    try:
        dap = attach_at_breakpoint(attach, host_script, old)
        seq = dap.send("disconnect", {"restart": False, "terminateDebuggee": True})
        dap.wait_response(seq, timeout=30, check=False)
        with pytest.raises(DapError, match="closed the connection"):
            dap.wait_event("never", timeout=30)
        assert old.proc.wait(30) is not None
        assert attachd_notice(dap) == []
        assert not [e for e in dap.events if e.get("event") == "terminated" and (e.get("body") or {}).get("restart")]
        dap.close()
    finally:
        old.close()


def test_no_follow_passes_debugpys_terminated_unchanged(daemon, host_script):
    attach = add_project(daemon, "blend", "--no-follow")
    (project,) = daemon.ctl_json("list")
    assert project["follow"] is False
    old = Host(daemon, "blend", host_script).ready()
    try:
        dap = attach_at_breakpoint(attach, host_script, old)
        old.proc.send_signal(signal.SIGKILL)
        try:
            dap.wait_event("never", timeout=30)
        except DapError as exc:
            assert "closed the connection" in str(exc)
        assert attachd_notice(dap) == []
        for event in dap.events:
            if event.get("event") == "terminated":
                assert "restart" not in (event.get("body") or {}), event
        dap.close()
    finally:
        old.close()


@pytest.fixture
def sshd(short_tmp, attachd_bin_dir):
    server = SshServer(short_tmp, attachd_bin_dir).start()
    yield server
    server.stop()


def test_follow_through_an_openssh_remote(daemon_factory, sshd, host_script):
    remote = daemon_factory()
    remote.ctl("add", "farm", "--attach-port", free_port(), "--timeout", "60", check=True)
    local = local_daemon(daemon_factory, sshd)
    attach = add_remote(local, remote)
    assert local.ctl_json("list")[0]["follow"] is True
    wait_remote_state(local, "farm", "connected")
    old = Host(remote, "farm", host_script).ready()
    try:
        assert local.ctl("wait", "farm", "--timeout", "60").returncode == 0
        dap = attach_at_breakpoint(attach, host_script, old)
        old.proc.send_signal(signal.SIGKILL)
        follow_into_next_host(local, dap, attach, host_script, "farm", old, old_ends=False, hosts_daemon=remote)
    finally:
        old.close()


def test_follow_setting_in_attachctl_list_json_and_projects_json(daemon):
    add_project(daemon, "blend")
    add_project(daemon, "quiet", "--no-follow")
    daemon.ctl("add", "plain", "--debug-port", free_port(), check=True)
    projects = {p["name"]: p for p in daemon.ctl_json("list")}
    assert projects["blend"]["follow"] is True and projects["quiet"]["follow"] is False
    assert projects["plain"].get("follow") is None
    rows = {line.split()[0]: line for line in daemon.ctl("list", check=True).stdout.splitlines()[1:]}
    assert "follows hosts" in rows["blend"] and "follow off" in rows["quiet"]
    assert "follow" not in rows["plain"]
    off = daemon.ctl("follow", "blend", "off", check=True)
    assert off.stdout.strip() == "IDE sessions of 'blend' end with their host"
    assert daemon.ctl_json("follow", "quiet", "on")["follow"] is True
    refused = daemon.ctl("follow", "plain", "on")
    assert refused.returncode != 0 and refused.stderr
    bad = daemon.ctl("follow", "blend", "maybe")
    assert bad.returncode == 64 and "on or off" in bad.stderr
    assert daemon.ctl("add", "x", "--debug-port", free_port(), "--no-follow").returncode == 64
    daemon.restart()
    projects = {p["name"]: p for p in daemon.ctl_json("list")}
    assert projects["blend"]["follow"] is False and projects["quiet"]["follow"] is True
