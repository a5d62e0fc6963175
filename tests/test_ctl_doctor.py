"""`attachctl doctor [NAME]` over the real daemon: each finding it explains, with its fix,
and the all-well case. Exit 0 when all is well (notes included), 1 with problems or warnings.
Findings about embedded Python interpreters: tests/test_doctor_embedded.py."""
import json
import os
import socket

from attachd_harness import free_port, wait_for


def doctor(daemon, *args):
    return daemon.ctl("doctor", *args, timeout=30)


def findings(daemon, *args):
    r = doctor(daemon, *args, "--json")
    assert r.returncode in (0, 1), r.stderr
    found = json.loads(r.stdout)
    # Exit 1 for a problem or a warning; notes alone leave it 0.
    assert (r.returncode == 1) == any(f["severity"] != "note" for f in found)
    return found


def checks(daemon, *args):
    return [f["check"] for f in findings(daemon, *args)]


class Listening(object):
    """A socket in LISTEN state on 127.0.0.1:port (a debug server, or a port thief)."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(4)

    def close(self):
        self.sock.close()


class LinesHost(object):
    """A host speaking rendezvous lines on the project's Unix socket, kept open."""

    def __init__(self, daemon, project, lines):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(daemon.rendezvous_path(project))
        self.file = self.sock.makefile("rwb", buffering=0)
        self.replies = []
        for line in lines:
            self.file.write((line + "\n").encode())
            self.replies.append(self.file.readline().decode().strip())

    def close(self):
        self.file.close()
        self.sock.close()


def add(daemon, name, *extra):
    port = free_port()
    daemon.ctl("add", name, "--debug-port", port, *extra, check=True)
    return port


def session_state(daemon, project):
    sessions = daemon.sessions(project)
    return sessions[-1]["state"] if sessions else None


def test_all_well_with_a_ready_host(daemon):
    port = add(daemon, "good")
    server = Listening(port)
    try:
        daemon.ctl("announce", "good", "--debug-port", port, check=True)
        r = daemon.ctl("wait", "good", "--timeout", "10")
        assert r.returncode == 0, r.stderr
        r = doctor(daemon, "good")
        assert r.returncode == 0, r.stdout
        assert r.stdout.startswith("all well")
        assert findings(daemon, "good") == []
        assert doctor(daemon).returncode == 0
    finally:
        server.close()


def test_daemon_not_running_says_how_to_start_it(daemon, short_tmp):
    missing = os.path.join(short_tmp, "none.sock")
    r = doctor(daemon, "--socket", missing, "good")
    assert r.returncode == 1
    assert "attachd is not running" in r.stdout and missing in r.stdout
    assert "systemctl --user start attachd.socket" in r.stdout
    assert "attachd &" in r.stdout
    assert checks(daemon, "--socket", missing) == ["daemon-unreachable"]


def test_missing_project_and_no_projects(daemon):
    assert checks(daemon) == ["no-projects"]
    add(daemon, "present")
    r = doctor(daemon, "ghost")
    assert r.returncode == 1
    assert "ghost: no such project (known: present)" in r.stdout
    assert "attachctl add ghost --debug-port" in r.stdout


def test_no_host_announced(daemon):
    add(daemon, "lonely")
    found = findings(daemon, "lonely")
    assert [f["check"] for f in found] == ["no-host"]
    assert "no host has announced itself" in found[0]["summary"]
    assert "attach_ready.start(project=\"lonely\"" in found[0]["fix"]
    assert checks(daemon) == []  # without NAME, an idle project is no problem


def test_rendezvous_port_in_use(daemon):
    thief_port = free_port()
    thief = Listening(thief_port)
    try:
        add(daemon, "blocked", "--rendezvous-port", thief_port)
        found = findings(daemon, "blocked")
        assert found[0]["check"] == "listener-error"
        assert str(thief_port) in found[0]["summary"]
        assert "sport = :%d" % thief_port in found[0]["fix"]
        assert "listener-error" in checks(daemon)
    finally:
        thief.close()


def test_host_announced_but_debug_server_never_listened(daemon):
    port = add(daemon, "slow")
    host = LinesHost(daemon, "slow", ["DEBUG_PORT=%d" % port, "STATUS=loading scene", "READY=1"])
    try:
        assert all(reply.startswith("OK") for reply in host.replies), host.replies
        found = findings(daemon, "slow")
        assert [f["check"] for f in found] == ["not-listening"]
        assert "nothing listens on its debug port 127.0.0.1:%d" % port in found[0]["summary"]
        assert "the host's last STATUS: loading scene" in found[0]["summary"]
        assert str(port) in found[0]["fix"]
    finally:
        host.close()


def test_last_session_ended_gives_its_reason(daemon):
    port = add(daemon, "gone")
    host = LinesHost(daemon, "gone", ["DEBUG_PORT=%d" % port])
    host.close()
    wait_for(lambda: session_state(daemon, "gone") == "ended", 10)
    found = findings(daemon, "gone")
    assert [f["check"] for f in found] == ["session-ended"]
    assert "host closed the rendezvous connection" in found[0]["summary"]
    assert "start it again" in found[0]["fix"]


def test_debug_host_not_loopback_is_a_warning(daemon):
    port = free_port()
    daemon.ctl("add", "far", "--debug-port", port, "--debug-host", "192.0.2.10", "--allow-remote", check=True)
    r = doctor(daemon)
    assert r.returncode == 1
    assert "warning: far: the debug host 192.0.2.10 is not a loopback address" in r.stdout
    assert "  fix: " in r.stdout
