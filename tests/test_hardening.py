"""Hardening (issue 5): peer credentials, private directories, stale and live sockets, corrupt
projects.json, kill -9 in the middle of work, descriptor exhaustion, ports in use, loopback-only
binds, limits, and 1,000 sessions without a leak.

Figures are printed (run with -s to see them as they come, they are also in the summary of a
failure).
"""

import json
import os
import resource
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from attachd_harness import DaemonError, free_port, wait_for  # noqa: E402
from hardening_support import (BlockingConnectVarlink, LineClient, as_nobody, cpu_seconds, fd_count,  # noqa: E402
                               open_path_for_others, run, tcp_listeners, wait_fds_back)
from varlink_raw import RawVarlink  # noqa: E402

MiB = 1 << 20
EX_TEMPFAIL = 75


def figure(capsys, text):
    with capsys.disabled():
        print("\n" + text)


def status(daemon):
    conn = RawVarlink(daemon.socket)
    try:
        return conn.call("io.attachd.Broker.GetStatus")["parameters"]
    finally:
        conn.close()


def project(daemon, name):
    return next(p for p in daemon.ctl_json("list") if p["name"] == name)


# ----------------------------------------------------------------------------- peer credentials

NOBODY_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
# No call sent: the refusal comes on accept (writing first races with the daemon's close).
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:  # the daemon closed with our call unread
        chunk = b""
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
"""


def test_another_uid_is_refused(daemon, capsys):
    if os.geteuid() != 0:
        pytest.skip("needs root to run as nobody")
    # Loosen the socket and its directories on purpose, so only SO_PEERCRED stands in the way.
    os.chmod(daemon.socket, 0o666)
    open_path_for_others(daemon.socket, daemon.tmp_dir)
    result = run(as_nobody([daemon.binary("attachctl"), "status"]), env=daemon.env)
    assert result.returncode != 0 and "pid" not in result.stdout, result.stdout
    # The daemon reads (and drops) the refused client's call before closing, so the refusal is
    # what every run prints, never a broken pipe.
    for _ in range(10):
        r = run(as_nobody([daemon.binary("attachctl"), "status"]), env=daemon.env)
        assert r.returncode == 1 and "refused this user" in r.stderr, (r.returncode, r.stderr)

    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    raw = run(as_nobody([python, "-c", NOBODY_CLIENT, daemon.socket]))
    assert raw.returncode == 0, raw.stderr
    messages = [m for m in raw.stdout.split("\0") if m]
    assert len(messages) == 1, raw.stdout  # the error, then end of file: nothing else
    reply = json.loads(messages[0])
    assert reply["error"] == "io.attachd.Broker.PermissionDenied"
    assert reply["parameters"]["uid"] == 65534
    assert "refused a control connection from another user" in daemon.stderr_text()

    # The owner is still served.
    assert daemon.ctl("status").returncode == 0
    assert status(daemon)["pid"] == daemon.pid
    figure(capsys, "uid: attachctl status as nobody, 10 runs: all refused with the permission message; "
           "raw connection as nobody: PermissionDenied uid 65534, then EOF")


NOBODY_LATE_WRITER = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
data = b""
while True:  # the refusal, then end of file (the daemon stopped writing)
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
try:  # a client that wrote its call only now (as attachctl sometimes does)
    s.sendall(b'{"method":"io.attachd.Broker.GetStatus"}\0')
    print("sent")
except (BrokenPipeError, ConnectionResetError) as exc:
    print(type(exc).__name__)
"""


def test_a_refused_client_can_still_write_its_call(daemon):
    if os.geteuid() != 0:
        pytest.skip("needs root to run as nobody")
    os.chmod(daemon.socket, 0o666)
    open_path_for_others(daemon.socket, daemon.tmp_dir)
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    result = run(as_nobody([python, "-c", NOBODY_LATE_WRITER, daemon.socket]))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sent", result.stdout


# ----------------------------------------------------------------------------- directories and sockets

@pytest.mark.parametrize("problem", ["world-writable", "other-owner"])
def test_refuses_an_unsafe_runtime_directory(daemon_factory, problem):
    d = daemon_factory(start=False)
    directory = os.path.dirname(d.socket)
    os.makedirs(directory)
    if problem == "world-writable":
        os.chmod(directory, 0o777)
        expected = "writable by group or others"
    else:
        if os.geteuid() != 0:
            pytest.skip("needs root to chown")
        os.chmod(directory, 0o700)
        os.chown(directory, 65534, 65534)
        expected = "owned by uid 65534"
    with pytest.raises(DaemonError) as info:
        d.start(timeout=10)
    assert d.proc.returncode not in (0, None)
    text = d.stderr_text()
    assert "refusing to use " + directory in text and expected in text, text
    assert not os.path.exists(d.socket)
    assert "exited with" in str(info.value)


def test_stale_control_socket_is_replaced(daemon_factory):
    d = daemon_factory(start=False)
    os.makedirs(os.path.dirname(d.socket), mode=0o700)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(d.socket)
    stale.close()  # the file stays, nobody listens
    assert os.path.exists(d.socket)
    d.start(timeout=10)
    assert "replacing a stale control socket" in d.stderr_text()
    assert d.ctl("status").returncode == 0
    assert os.stat(d.socket).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(d.socket)).st_mode & 0o777 == 0o700


def test_second_daemon_on_a_live_socket_exits_3(daemon):
    env = dict(daemon.env)
    result = subprocess.run([daemon.binary("attachd"), "--socket", daemon.socket], env=env,
                            capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert "another attachd is already serving " + daemon.socket in result.stderr
    # The first one keeps serving, on the same socket file.
    assert daemon.running
    assert status(daemon)["pid"] == daemon.pid
    assert daemon.ctl("status").returncode == 0


# ----------------------------------------------------------------------------- persistence

def _saved_projects_file(daemon_factory, names):
    """A daemon that saved `names`, then stopped; returns it (stopped) and the file's JSON."""
    d = daemon_factory()
    for name in names:
        d.ctl("add", name, "--debug-port", free_port(), check=True)
    assert d.stop() == 0
    path = os.path.join(d.config_dir, "attachd", "projects.json")
    with open(path) as f:
        return d, path, json.load(f)


def _corrupt_copies(path):
    directory = os.path.dirname(path)
    return [n for n in os.listdir(directory) if n.startswith("projects.json.corrupt-")]


def test_corrupt_projects_file_keeps_the_valid_entries(daemon_factory):
    d, path, data = _saved_projects_file(daemon_factory, ["good", "bad"])
    bad = next(p for p in data["projects"] if p["name"] == "bad")
    bad["debugPort"] = "not a port"
    text = json.dumps(data)
    with open(path, "w") as f:
        f.write(text)
    d.start()
    names = [p["name"] for p in d.ctl_json("list")]
    assert names == ["good"]
    copies = _corrupt_copies(path)
    assert len(copies) == 1, copies
    assert copies[0][len("projects.json.corrupt-"):].replace("T", "").isdigit()
    with open(os.path.join(os.path.dirname(path), copies[0])) as f:
        assert f.read() == text  # kept aside untouched
    log = d.stderr_text()
    assert "projects file is corrupt; kept aside" in log and "recovered" in log, log
    # The daemon's next save writes a valid file with what it has.
    d.ctl("add", "again", "--debug-port", free_port(), check=True)

    def saved():
        # Polled: the daemon saves just *after* it replies (the ordering reported with
        # test_an_acknowledged_change_survives_kill_9).
        try:
            with open(path) as f:
                return sorted(p["name"] for p in json.load(f)["projects"]) == ["again", "good"]
        except (OSError, ValueError):
            return False
    wait_for(saved, 10)


def test_truncated_projects_file_starts_empty(daemon_factory):
    d, path, data = _saved_projects_file(daemon_factory, ["one", "two"])
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text[:len(text) // 2])
    d.start()
    assert d.ctl_json("list") == []
    assert len(_corrupt_copies(path)) == 1
    assert "projects file is corrupt; kept aside" in d.stderr_text()


def test_kill_9_in_the_middle_of_sessions_and_waits_20_times(daemon, capsys):
    base = ["k0", "k1", "k2"]
    for name in base:
        daemon.ctl("add", name, "--debug-port", free_port(), check=True)
    expected = set(base)
    path = os.path.join(daemon.config_dir, "attachd", "projects.json")
    codes = []
    started = time.monotonic()
    for round_ in range(20):
        name = "r%d" % round_
        daemon.ctl("add", name, "--debug-port", free_port(), check=True)
        expected.add(name)
        if round_ % 2:  # and one removed (both saved well before the kill: see the next test)
            daemon.ctl("add", "tmp", "--debug-port", free_port(), check=True)
            daemon.ctl("remove", "tmp", check=True)
        # A host in the middle of its session (its debug port never listens: pending) ...
        target = base[round_ % 3]
        host = LineClient(daemon.rendezvous_path(target))
        host.send(b"DEBUG_PORT=%d\nREADY=1\n" % project(daemon, target)["debugPort"])
        assert host.line().startswith(b"OK session=")
        # ... and two IDEs waiting for it.
        waiters = [subprocess.Popen([daemon.binary("attachctl"), "wait", target, "--timeout", "60"],
                                    env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True) for _ in range(2)]
        wait_for(lambda: status(daemon)["waiters"] == 2, 10)
        daemon.kill()
        for w in waiters:
            try:
                out, err = w.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                w.kill()
                raise AssertionError("attachctl wait hung after kill -9 (round %d)" % round_)
            codes.append(w.returncode)
            assert w.returncode == EX_TEMPFAIL, (round_, w.returncode, err)
            assert "went away" in err, err
        host.close()
        with open(path) as f:
            saved = {p["name"] for p in json.load(f)["projects"]}  # always valid JSON
        assert saved == expected, (round_, saved ^ expected)
        daemon.start()
        assert {p["name"] for p in daemon.ctl_json("list")} == expected
    elapsed = time.monotonic() - started
    assert not _corrupt_copies(path)
    figure(capsys, "kill -9: 20 restarts in %.1fs, %d projects kept, %d waiters all exited %d"
           % (elapsed, len(expected), len(codes), EX_TEMPFAIL))


def test_a_change_that_cannot_be_saved_fails_the_call(daemon):
    """projects.json cannot be written (here: a directory stands in its place): the change is
    in effect, but the call fails and says it was not saved, instead of promising it was."""
    path = os.path.join(daemon.config_dir, "attachd", "projects.json")
    if os.path.exists(path):
        os.unlink(path)
    os.makedirs(os.path.join(path, "in-the-way"))
    try:
        added = daemon.ctl("add", "unsaved", "--debug-port", free_port())
        assert added.returncode != 0, added.stdout
        assert "could not save it to %s" % path in added.stderr, added.stderr
        assert "lost when attachd stops" in added.stderr, added.stderr
        assert project(daemon, "unsaved")["name"] == "unsaved"  # in effect all the same
        assert "cannot save projects" in daemon.stderr_text()
    finally:
        os.rmdir(os.path.join(path, "in-the-way"))
        os.rmdir(path)
    # Writable again: the next change saves everything, the unsaved one too.
    daemon.ctl("add", "saved", "--debug-port", free_port(), check=True)
    with open(path) as f:
        assert {p["name"] for p in json.load(f)["projects"]} == {"unsaved", "saved"}


def test_an_acknowledged_change_survives_kill_9(daemon):
    path = os.path.join(daemon.config_dir, "attachd", "projects.json")
    lost = []
    for i in range(5):
        conn = RawVarlink(daemon.socket)
        reply = conn.call("io.attachd.Broker.AddProject", {"name": "ack%d" % i, "debugPort": free_port()})
        os.kill(daemon.pid, 9)  # the moment the reply is in
        assert "parameters" in reply, reply
        daemon.kill()
        conn.close()
        try:
            with open(path) as f:
                saved = {p["name"] for p in json.load(f)["projects"]}
        except FileNotFoundError:
            saved = set()
        lost += ["ack%d" % i] if "ack%d" % i not in saved else []
        daemon.start()
    assert not lost, "acknowledged but lost after kill -9: %r" % lost


# ----------------------------------------------------------------------------- descriptor exhaustion

def test_descriptor_exhaustion_does_not_spin_and_recovers(daemon, capsys):
    debug_port = free_port()
    daemon.ctl("add", "ex", "--debug-port", debug_port, check=True)
    # A daemon that has timed something out before (libdispatch's timer descriptor exists; for
    # a daemon that has not, see the next test).
    assert daemon.ctl("wait", "ex", "--timeout", "0.05").returncode == 124
    base = fd_count(daemon.pid)
    limit = base + 24
    resource.prlimit(daemon.pid, resource.RLIMIT_NOFILE, (limit, limit))
    conns = []
    try:
        for _ in range(limit + 16):  # more than it can accept: the rest wait in the backlog
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            s.connect(daemon.socket)
            conns.append(s)
        wait_for(lambda: fd_count(daemon.pid) >= limit, 10,
                 message="the daemon never reached its descriptor limit")
        wait_for(lambda: "control accept failed; turning clients away" in daemon.stderr_text(), 10)
        # Exhausted: accept fails with EMFILE. Measure the CPU it burns meanwhile.
        cpu0, t0 = cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(1.0)  # a measuring window, not a synchronisation
        cpu1, t1 = cpu_seconds(daemon.pid), time.monotonic()
        per_second = (cpu1 - cpu0) / (t1 - t0)
        # An accepted connection is still served while the limit holds.
        conns[0].sendall(b'{"method":"io.attachd.Broker.GetStatus"}\0')
        reply = b""
        while not reply.endswith(b"\0"):
            reply += conns[0].recv(65536)
        assert json.loads(reply[:-1])["parameters"]["pid"] == daemon.pid
        at_limit = fd_count(daemon.pid)
    finally:
        for s in conns:
            s.close()
    wait_fds_back(daemon.pid, base, timeout=10)
    # Serves normally: GetStatus, add, a session and a wait.
    assert status(daemon)["pid"] == daemon.pid
    daemon.ctl("add", "ex2", "--debug-port", free_port(), check=True)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", debug_port))
        listener.listen(1)
        host = LineClient(daemon.rendezvous_path("ex"))
        host.send(b"DEBUG_PORT=%d\nREADY=1\n" % debug_port)
        assert host.line().startswith(b"OK session=")
        assert daemon.ctl("wait", "ex", "--timeout", "10").returncode == 0
        host.close()
    figure(capsys, "exhaustion: RLIMIT_NOFILE %d, fds %d at start, %d at the limit, %d after; "
           "CPU while exhausted %.3f s/s (%d client connections)"
           % (limit, base, at_limit, fd_count(daemon.pid), per_second, len(conns)))
    assert per_second < 0.2, "the daemon spins while out of descriptors: %.3f s CPU per second" % per_second


def test_descriptor_exhaustion_recovers_on_a_fresh_daemon(daemon):
    base = fd_count(daemon.pid)
    limit = base + 16
    resource.prlimit(daemon.pid, resource.RLIMIT_NOFILE, (limit, limit))
    conns = []
    try:
        for _ in range(limit + 8):
            s = socket.socket(socket.AF_UNIX)
            s.connect(daemon.socket)
            conns.append(s)
        wait_for(lambda: "control accept failed; turning clients away" in daemon.stderr_text(), 10)
    finally:
        for s in conns:
            s.close()
    wait_fds_back(daemon.pid, base, timeout=10)
    conn = RawVarlink(daemon.socket)
    try:
        assert conn.call("io.attachd.Broker.GetStatus", timeout=3)["parameters"]["pid"] == daemon.pid
    finally:
        conn.close()


# ----------------------------------------------------------------------------- TCP rendezvous

def test_rendezvous_port_in_use_is_reported_and_retried(daemon, capsys):
    port = free_port()
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen(1)
    try:
        added = daemon.ctl("add", "busy", "--debug-port", free_port(), "--rendezvous-port", port)
        assert added.returncode == 0, added.stderr
        assert "not listening" in added.stderr and str(port) in added.stderr
        error = project(daemon, "busy").get("error")
        assert error and "tcp port %d" % port in error, error
        assert "error:" in daemon.ctl("list").stdout
        # The Unix rendezvous is up regardless, and other projects are unaffected.
        daemon.ctl("add", "fine", "--debug-port", free_port(), check=True)
        assert project(daemon, "fine").get("error") is None
        assert os.path.exists(daemon.rendezvous_path("busy"))
    finally:
        holder.close()
    started = time.monotonic()
    wait_for(lambda: project(daemon, "busy").get("error") is None, 40, interval=0.1)
    took = time.monotonic() - started
    assert tcp_listeners(port) == ["127.0.0.1"]
    c = LineClient(port)
    c.send(b"STATUS=hello\n")
    assert c.line().startswith(b"OK session=")
    c.close()
    figure(capsys, "port in use: error %r; bound %.1fs after the port was freed" % (error, took))


def test_attach_port_in_use_at_start_is_reported_and_retried(daemon, capsys):
    """The attach port taken by someone else while attachd starts: `list` shows why, and the
    listener is bound by itself once the port is free (the same backoff as the rendezvous)."""
    attach = free_port()
    daemon.ctl("add", "busy", "--debug-port", free_port(), "--attach-port", attach, check=True)
    daemon.stop()
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", attach))
    holder.listen(1)
    try:
        daemon.start()
        error = project(daemon, "busy").get("error")
        assert error and "attach port %d" % attach in error, error
        assert "error:" in daemon.ctl("list").stdout
        assert os.path.exists(daemon.rendezvous_path("busy")), "the rendezvous is up regardless"
    finally:
        holder.close()
    started = time.monotonic()
    wait_for(lambda: project(daemon, "busy").get("error") is None, 40, interval=0.1)
    took = time.monotonic() - started
    assert "error:" not in daemon.ctl("list").stdout
    assert tcp_listeners(attach) == ["127.0.0.1"]
    ide = socket.create_connection(("127.0.0.1", attach), timeout=10)
    try:
        wait_for(lambda: "IDE connected to the attach port" in daemon.stderr_text(), 10)
    finally:
        ide.close()
    figure(capsys, "attach port in use at start: error %r; bound %.1fs after the port was freed" % (error, took))


def test_rendezvous_port_in_use_is_visible_in_status(daemon):
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        daemon.ctl("add", "busy", "--debug-port", free_port(), "--rendezvous-port", port, check=False)
        out = daemon.ctl("status").stdout
        assert "busy" in out and str(port) in out, out


def test_tcp_rendezvous_binds_loopback_unless_allow_remote(daemon):
    local, remote = free_port(), free_port()
    daemon.ctl("add", "local", "--debug-port", free_port(), "--rendezvous-port", local, check=True)
    daemon.ctl("add", "remote", "--debug-port", free_port(), "--rendezvous-port", remote, "--allow-remote",
               check=True)
    assert tcp_listeners(local) == ["127.0.0.1"]
    assert tcp_listeners(remote) == ["0.0.0.0"]
    ss = run(["ss", "-Hltn", "sport = :%d" % local]).stdout
    assert "127.0.0.1:%d" % local in ss, ss
    assert project(daemon, "remote")["allowRemote"] is True
    assert project(daemon, "local")["allowRemote"] is False


def test_allow_remote_warns_in_list(daemon):
    daemon.ctl("add", "wide", "--debug-port", free_port(), "--rendezvous-port", free_port(), "--allow-remote",
               check=True)
    out = daemon.ctl("list")
    text = (out.stdout + out.stderr).lower()
    assert "remote" in text or "warning" in text or "0.0.0.0" in text, out.stdout + out.stderr


def test_tcp_rendezvous_replies_are_not_delayed(daemon):
    port = free_port()
    daemon.ctl("add", "nagle", "--debug-port", free_port(), "--rendezvous-port", port, check=True)
    c = LineClient(port, quickack=False)  # as a plain client (attach_ready.py) does
    delays = []
    for i in range(5):
        t0 = time.monotonic()
        c.send(b"STATUS=a%d\nSTATUS=b%d\n" % (i, i))  # attach_ready.py sends its lines at once
        assert c.line().startswith(b"OK session=")
        assert c.line().startswith(b"OK session=")
        delays.append(time.monotonic() - t0)
    c.close()
    delays.sort()
    assert delays[2] < 0.02, "median of 5 two-line exchanges took %.1f ms" % (delays[2] * 1000)


# ----------------------------------------------------------------------------- limits

def limits_daemon(daemon_factory, extra_args=()):
    """A daemon with project `lim` (a Unix socket and a TCP rendezvous port); returns both."""
    daemon = daemon_factory(extra_args=list(extra_args))
    debug_port, rendezvous_port = free_port(), free_port()
    daemon.ctl("add", "lim", "--debug-port", debug_port, "--rendezvous-port", rendezvous_port,
               "--timeout", "1", check=True)
    return daemon, rendezvous_port


def test_limit_varlink_message_is_one_mebibyte(daemon_factory, capsys):
    daemon, _ = limits_daemon(daemon_factory)
    # Exactly 1 MiB is fine; one byte more gets MessageTooLarge and the connection closes.
    conn = RawVarlink(daemon.socket)
    body = b'{"method":"io.attachd.Broker.GetStatus","parameters":{}'
    conn.send_raw(body + b" " * (MiB - len(body) - 1) + b"}\0")
    assert conn.receive()["parameters"]["pid"] == daemon.pid
    conn.send_raw(b"x" * (MiB + 1))
    reply = conn.receive()
    assert reply == {"error": "io.attachd.Broker.MessageTooLarge", "parameters": {"limit": MiB}}, reply
    assert conn.receive() is None
    conn.close()
    assert status(daemon)["pid"] == daemon.pid
    figure(capsys, "limits: 1 MiB ok, 1 MiB+1 refused")


def test_limit_rendezvous_line_is_4096_bytes(daemon_factory, capsys):
    daemon, rendezvous_port = limits_daemon(daemon_factory)
    # A 4096-byte line is fine, 4097 gets an ERROR and the connection closes.
    for target in (daemon.rendezvous_path("lim"), rendezvous_port):
        c = LineClient(target)
        c.send(b"STATUS=" + b"x" * (4096 - 7) + b"\n")
        assert c.line().startswith(b"OK session=")
        c.send(b"STATUS=" + b"x" * (4097 - 7) + b"\n")
        assert c.line() == b"ERROR line longer than 4096 bytes"
        assert c.wait_eof() == b""
        c.close()
    # Without a newline at all: the error comes as soon as 4 KiB are buffered.
    c = LineClient(daemon.rendezvous_path("lim"))
    c.send(b"y" * 5000)
    assert c.line() == b"ERROR line longer than 4096 bytes"
    c.close()
    assert status(daemon)["pid"] == daemon.pid
    figure(capsys, "limits: 4096-byte line ok, 4097 refused (Unix and TCP), 5000 bytes without a newline refused")


def test_limit_control_connections(daemon_factory, capsys):
    daemon, _ = limits_daemon(daemon_factory, extra_args=["--max-connections", "256"])
    # 256 at once; more are accepted and closed, not left in the backlog.
    # Dispatch opens its one timer descriptor the first time a timer is armed (a refusal's
    # drain timer would be the first here): a Wait that times out arms one before the baseline.
    first = BlockingConnectVarlink(daemon.socket)
    warm = first.call("io.attachd.Broker.Wait", {"project": "lim", "timeout": 0.05})
    assert warm["error"] == "io.attachd.Broker.Timeout", warm
    base = fd_count(daemon.pid)  # with `first`'s descriptor
    conns = [first] + [BlockingConnectVarlink(daemon.socket) for _ in range(255 + 20)]
    refused = 0
    for c in conns[256:]:
        # Accepted, told why, then closed: not left waiting in the backlog.
        assert c.receive(timeout=10) == {"error": "io.attachd.Broker.TooManyConnections",
                                         "parameters": {"limit": 256}}
        assert c.receive(timeout=10) is None
        refused += 1
    st = conns[0].call("io.attachd.Broker.GetStatus")["parameters"]
    assert st["connections"] == 256, st
    for c in conns:
        c.close()
    wait_fds_back(daemon.pid, base - 1)
    assert status(daemon)["pid"] == daemon.pid
    figure(capsys, "limits: %d of 276 control connections refused" % refused)


def test_limit_rendezvous_connections_per_project(daemon_factory, capsys):
    daemon, _ = limits_daemon(daemon_factory)
    # 64 per project; the 65th gets an ERROR and is closed.
    hosts = [LineClient(daemon.rendezvous_path("lim")) for _ in range(64 + 6)]
    over = []
    for h in hosts[64:]:
        over.append(h.line())
        assert h.wait_eof() == b""
    assert over == [b"ERROR too many connections"] * 6, over
    hosts[0].send(b"STATUS=still here\n")
    assert hosts[0].line().startswith(b"OK session=")
    for h in hosts:
        h.close()
    assert status(daemon)["pid"] == daemon.pid
    figure(capsys, "limits: 6 of 70 rendezvous connections refused")


def test_limit_partial_line_times_out(daemon_factory, capsys):
    daemon, _ = limits_daemon(daemon_factory)
    # A partial line, then silence: closed after the daemon's 10 s timeout.
    partial = LineClient(daemon.rendezvous_path("lim"), timeout=20)
    partial.send(b"DEBUG_PORT=12")
    partial_sent = time.monotonic()
    data = partial.wait_eof(timeout=15)
    waited = time.monotonic() - partial_sent
    assert data == b"ERROR incomplete line: no newline within 10 s\n", data
    assert 9.0 < waited < 13.0, waited
    partial.close()
    assert status(daemon)["pid"] == daemon.pid
    figure(capsys, "limits: partial line closed after %.1fs" % waited)


# ----------------------------------------------------------------------------- 1,000 sessions

def test_a_thousand_sessions_in_a_row(daemon, capsys):
    debug_port = free_port()
    daemon.ctl("add", "thou", "--debug-port", debug_port, check=True)
    path = daemon.rendezvous_path("thou")
    listener = socket.socket()
    listener.bind(("127.0.0.1", debug_port))
    listener.listen(1)
    watch = RawVarlink(daemon.socket)
    watch.send("io.attachd.Broker.Watch", {"project": "thou"}, more=True)
    assert watch.receive()["continues"] is True
    waiter = RawVarlink(daemon.socket)
    # Warm up once (the probe socket, timers), then take the baseline.
    fds_before = None
    released = 0
    started = None
    for i in range(1001):
        if i == 1:
            fds_before = fd_count(daemon.pid)
            started = time.monotonic()
        waiter.send("io.attachd.Broker.Wait", {"project": "thou", "timeout": 10})
        host = LineClient(path)
        host.send(b"DEBUG_PORT=%d\nREADY=1\n" % debug_port)
        first, second = host.line(), host.line()
        assert first.startswith(b"OK session=") and first == second, (first, second)
        session = first.split(b"=", 1)[1].decode()
        reply = waiter.receive()
        assert reply["parameters"]["session"]["id"] == session, (i, reply)
        assert reply["parameters"]["session"]["state"] == "ready"
        if i:
            released += 1
        host.close()
        # The session has ended before the next Wait: its event says so.
        while True:
            event = watch.receive()["parameters"]["event"]
            if event["kind"] == "sessionEnded" and event["session"]["id"] == session:
                break
    elapsed = time.monotonic() - started
    waiter.close()
    watch.close()
    listener.close()
    wait_fds_back(daemon.pid, fds_before - 2)  # without the waiter's and the watch's connections
    st = status(daemon)
    assert st["waiters"] == 0 and st["sessions"] == 0, st
    figure(capsys, "1000 sessions: %d waiters released in %.1fs; fds %d before, %d after (minus 2 closed "
           "control connections)" % (released, elapsed, fds_before, fd_count(daemon.pid)))
    assert released == 1000
    assert elapsed < 30
