"""attachctl end to end, against the real attachd (fixtures: tests/conftest.py).

What is checked: each subcommand's text and --json output, its documented exit codes
(0 ok, 3 unknown/removed project, 64 usage, 69 no daemon, 75 daemon went away, 124 timeout),
that error messages say what is wrong and what to do, the progress line of `wait` on a
terminal (and its absence otherwise), `watch` streaming, and `vscode` generation/merging.

No sleeps: every wait is on an event (a process exiting, a line on a pipe or a pty) with a
deadline; the only polling is `wait_for` on the daemon's own counters (status), which has no
event to block on.
"""
import json
import os
import pty
import queue
import select
import signal
import socket
import subprocess
import threading
import time

import pytest

from attachd_harness import free_port, wait_for


# ----------------------------------------------------------------------------- helpers

def ctl_popen(daemon, *args, stderr_pty=False):
    """Start attachctl without waiting. With stderr_pty, its stderr is a terminal and the
    master side is returned as `proc.pty_master` (stdout stays a pipe)."""
    cmd = [daemon.binary("attachctl")] + [str(a) for a in args]
    if not stderr_pty:
        proc = subprocess.Popen(cmd, env=daemon.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc.pty_master = None
        return proc
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(cmd, env=daemon.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=slave, text=True)
    finally:
        os.close(slave)
    proc.pty_master = master
    return proc


def read_pty_until(master, needle, timeout, seen=b""):
    """Read the pty master until `needle` (bytes) has appeared; return everything read so far."""
    deadline = time.monotonic() + timeout
    data = seen
    while needle not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("%r not seen on the terminal within %.1fs; got %r" % (needle, timeout, data))
        ready, _, _ = select.select([master], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other side closed
            raise TimeoutError("terminal closed before %r appeared; got %r" % (needle, data))
        if not chunk:
            raise TimeoutError("terminal closed before %r appeared; got %r" % (needle, data))
        data += chunk
    return data


def drain_pty(master, timeout=5.0):
    """Everything left on the pty master until the child side is closed."""
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def read_line(proc, timeout):
    """The next stdout line of `proc` (without newline), or raise TimeoutError.

    A thread reads stdout into a queue (select() on the pipe would miss lines already
    sitting in the text buffer)."""
    lines = getattr(proc, "stdout_lines", None)
    if lines is None:
        lines = proc.stdout_lines = queue.Queue()

        def pump():
            for line in iter(proc.stdout.readline, ""):
                lines.put(line.rstrip("\n"))
            lines.put(None)
        threading.Thread(target=pump, daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        raise TimeoutError("no output line within %.1fs" % timeout)
    if line is None:
        lines.put(None)
        raise TimeoutError("attachctl closed its output (exit %s)" % proc.poll())
    return line


def waiters(daemon):
    return daemon.ctl_json("status")["waiters"]


class Listener(object):
    """A debug server stand-in: a TCP socket in LISTEN state on (host, port)."""

    def __init__(self, port, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(8)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def add(daemon, name, port=None, *extra):
    port = port or free_port()
    daemon.ctl("add", name, "--debug-port", port, *extra, check=True)
    return port


# ----------------------------------------------------------------------------- projects

def test_add_list_remove_round_trip(daemon):
    port_a, port_b, rdv_b = free_port(), free_port(), free_port()
    r = daemon.ctl("add", "alpha", "--debug-port", port_a, check=True)
    # The add output names the debug endpoint, the Unix rendezvous socket and the next step.
    assert "127.0.0.1:%d" % port_a in r.stdout
    assert daemon.rendezvous_path("alpha") in r.stdout
    assert "attachctl vscode alpha" in r.stdout or "attachctl wait alpha" in r.stdout
    r = daemon.ctl("add", "beta", "--debug-port", port_b, "--rendezvous-port", rdv_b,
                   "--timeout", "30", check=True)
    assert "127.0.0.1:%d" % rdv_b in r.stdout

    # Table: a header row, then one aligned row per project.
    table = daemon.ctl("list", check=True).stdout.splitlines()
    assert table[0].split() == ["NAME", "DEBUG", "RENDEZVOUS", "TIMEOUT", "STATE/ERROR"]
    rows = {line.split()[0]: line for line in table[1:]}
    assert set(rows) == {"alpha", "beta"}
    assert "127.0.0.1:%d" % port_a in rows["alpha"]
    assert daemon.rendezvous_path("alpha") in rows["alpha"]
    assert str(rdv_b) in rows["beta"] and "30 s" in rows["beta"]
    # Columns are aligned: DEBUG starts at the same offset in every line.
    offsets = {line.index("127.0.0.1") for line in table[1:]}
    assert offsets == {table[0].index("DEBUG")}

    # JSON: the API's Project objects.
    projects = {p["name"]: p for p in daemon.ctl_json("list")}
    assert set(projects) == {"alpha", "beta"}
    a, b = projects["alpha"], projects["beta"]
    assert a["debugHost"] == "127.0.0.1" and a["debugPort"] == port_a
    assert a["rendezvousSocket"] == daemon.rendezvous_path("alpha")
    assert a["readyTimeout"] == 120 and a["allowRemote"] is False
    assert a.get("rendezvousPort") is None
    assert b["rendezvousPort"] == rdv_b and b["readyTimeout"] == 30
    assert os.path.exists(daemon.rendezvous_path("alpha"))

    r = daemon.ctl("remove", "alpha")
    assert r.returncode == 0, r.stderr
    assert [p["name"] for p in daemon.ctl_json("list")] == ["beta"]

    # Removing it again: exit 3 with a message saying what to do.
    r = daemon.ctl("remove", "alpha")
    assert r.returncode == 3
    assert "no project named 'alpha'" in r.stderr
    assert "attachctl list" in r.stderr


def test_add_json_prints_the_project(daemon):
    port = free_port()
    project = daemon.ctl_json("add", "gamma", "--debug-port", port, "--debug-host", "127.0.0.1",
                              "--timeout", "2.5")
    assert project["name"] == "gamma"
    assert project["debugPort"] == port
    assert project["readyTimeout"] == 2.5
    assert project["rendezvousSocket"] == daemon.rendezvous_path("gamma")


def test_empty_list(daemon):
    r = daemon.ctl("list", check=True)
    assert r.stdout.strip() == ""
    assert "attachctl add" in r.stderr
    assert daemon.ctl_json("list") == []


@pytest.mark.parametrize("name", ["bad name", "a/b", "..", "x" * 65, "caf\u00e9"])
def test_invalid_project_name_is_refused_clearly(daemon, name):
    r = daemon.ctl("add", name, "--debug-port", free_port())
    assert r.returncode != 0
    assert "invalid project name" in r.stderr
    assert "A-Z a-z 0-9 . _ -" in r.stderr or "may not be" in r.stderr
    assert daemon.ctl_json("list") == []


def test_duplicate_project_is_refused(daemon):
    port = add(daemon, "dup")
    r = daemon.ctl("add", "dup", "--debug-port", port)
    assert r.returncode == 1
    assert "already exists" in r.stderr and "attachctl remove dup" in r.stderr


@pytest.mark.parametrize("args", [
    ["wait"],                                     # missing NAME
    ["add", "p"],                                 # missing --debug-port
    ["add", "p", "--debug-port", "70000"],        # not a port
    ["add", "p", "--debug-port", "0"],
    ["wait", "p", "--timeout", "-1"],
    ["wait", "p", "--timeout", "soon"],
    ["frobnicate"],                               # no such subcommand
])
def test_usage_errors_exit_64(daemon, args):
    r = daemon.ctl(*args)
    assert r.returncode == 64, (args, r.stdout, r.stderr)
    assert r.stderr.strip()


def test_help_documents_examples_and_exit_codes(daemon):
    r = daemon.ctl("wait", "--help", check=True)
    for code in ("0", "3", "64", "69", "75", "124"):
        assert "\n  %s " % code in r.stdout, code
    assert "Example" in r.stdout
    for sub in ("add", "remove", "list", "status", "sessions", "announce", "watch", "vscode"):
        r = daemon.ctl(sub, "--help", check=True)
        assert "Example" in r.stdout, sub
        assert "--socket" in r.stdout, sub


# ----------------------------------------------------------------------------- daemon reachability

def test_daemon_unreachable_exits_69(daemon, short_tmp):
    missing = os.path.join(short_tmp, "nothing-here.sock")
    for args in (["list"], ["status"], ["wait", "p", "--timeout", "1"], ["sessions"]):
        r = daemon.ctl(*(args + ["--socket", missing]))
        assert r.returncode == 69, (args, r.stderr)
        assert missing in r.stderr
        assert "no attachd listening" in r.stderr
        assert "start it with `attachd`" in r.stderr


def test_refused_socket_exits_69(daemon, short_tmp):
    # A socket file nobody listens on any more: ECONNREFUSED.
    path = os.path.join(short_tmp, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    r = daemon.ctl("status", "--socket", path)
    assert r.returncode == 69
    assert "connection refused" in r.stderr and path in r.stderr


def test_status(daemon):
    add(daemon, "one")
    status = daemon.ctl_json("status")
    assert status["pid"] == daemon.pid
    assert status["projects"] == 1
    for key in ("version", "uptime", "sessions", "pending", "ready", "waiters", "connections", "probe"):
        assert key in status
    text = daemon.ctl("status", check=True).stdout
    assert "pid %d" % daemon.pid in text
    assert status["probe"] in text
    assert daemon.socket in text


# ----------------------------------------------------------------------------- wait

def test_wait_unknown_project_exits_3(daemon):
    r = daemon.ctl("wait", "ghost", "--timeout", "5")
    assert r.returncode == 3
    assert "no project named 'ghost'" in r.stderr
    assert "attachctl add ghost --debug-port" in r.stderr
    assert r.stdout == ""


def test_wait_timeout_without_host_exits_124(daemon):
    add(daemon, "lonely")
    started = time.monotonic()
    r = daemon.ctl("wait", "lonely", "--timeout", "0.3")
    elapsed = time.monotonic() - started
    assert r.returncode == 124, r.stderr
    assert elapsed < 10
    assert "lonely" in r.stderr and "--timeout" in r.stderr
    # stderr is not a terminal: no progress line, no carriage returns.
    assert "waiting for" not in r.stderr and "\r" not in r.stderr
    assert r.stdout == ""


def test_wait_without_timeout_uses_project_ready_timeout(daemon):
    add(daemon, "short", None, "--timeout", "0.4")
    started = time.monotonic()
    r = daemon.ctl("wait", "short")
    assert r.returncode == 124, r.stderr
    assert time.monotonic() - started < 10


def test_wait_returns_host_port_when_ready(daemon):
    port = add(daemon, "ready")
    waiter = ctl_popen(daemon, "wait", "ready", "--timeout", "30")
    try:
        wait_for(lambda: waiters(daemon) >= 1, 10, interval=0.02)
        assert waiter.poll() is None
        session_id = daemon.ctl("announce", "ready", "--debug-port", port, check=True).stdout.strip()
        with Listener(port):
            out, err = waiter.communicate(timeout=15)
            assert waiter.returncode == 0, err
            assert out.strip() == "127.0.0.1:%d" % port
            assert "\r" not in err
            # Already ready: returns at once; --json prints the Session object.
            session = daemon.ctl_json("wait", "ready", "--timeout", "5")
            assert session["id"] == session_id
            assert session["state"] == "ready"
            assert session["debugPort"] == port
            assert session["project"] == "ready"
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()


def test_wait_shows_progress_line_on_a_terminal(daemon):
    add(daemon, "tty")
    waiter = ctl_popen(daemon, "wait", "tty", "--timeout", "0.6", stderr_pty=True)
    try:
        seen = read_pty_until(waiter.pty_master, "waiting for tty\u2026".encode(), 10)
        # The line is redrawn in place (carriage return + erase line) with the elapsed time.
        seen = read_pty_until(waiter.pty_master, b" s", 10, seen)
        assert waiter.wait(timeout=15) == 124
        seen += drain_pty(waiter.pty_master)
        text = seen.decode("utf-8", "replace")
        assert text.count("waiting for tty") >= 2, text
        assert "\r\x1b[K" in text
        # Cleared before the error message: the message starts on a clean line.
        assert "\r\x1b[Kattachctl: no session of 'tty'" in text, text
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
        os.close(waiter.pty_master)


def test_wait_interrupted_erases_its_progress_line(daemon):
    add(daemon, "ctrlc")
    waiter = ctl_popen(daemon, "wait", "ctrlc", "--timeout", "60", stderr_pty=True)
    try:
        seen = read_pty_until(waiter.pty_master, "waiting for ctrlc\u2026".encode(), 10)
        waiter.send_signal(signal.SIGINT)
        assert waiter.wait(timeout=10) == -signal.SIGINT
        seen += drain_pty(waiter.pty_master)
        # The last thing on the terminal is the erase sequence: no stale line under the prompt.
        assert seen.endswith(b"\r\x1b[K"), seen[-80:]
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
        os.close(waiter.pty_master)


def test_wait_then_daemon_killed_exits_75(daemon):
    add(daemon, "doomed")
    waiter = ctl_popen(daemon, "wait", "doomed", "--timeout", "60")
    try:
        wait_for(lambda: waiters(daemon) >= 1, 10, interval=0.02)
        daemon.kill()
        out, err = waiter.communicate(timeout=15)
        assert waiter.returncode == 75, err
        assert "attachd went away while waiting" in err
        assert "run the wait again" in err
        assert out == ""
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()


def test_wait_project_removed_while_waiting_exits_3(daemon):
    add(daemon, "fleeting")
    waiter = ctl_popen(daemon, "wait", "fleeting", "--timeout", "60")
    try:
        wait_for(lambda: waiters(daemon) >= 1, 10, interval=0.02)
        daemon.ctl("remove", "fleeting", check=True)
        out, err = waiter.communicate(timeout=15)
        assert waiter.returncode == 3, err
        assert "fleeting" in err and "removed" in err
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()


# ----------------------------------------------------------------------------- announce / sessions

def test_announce_and_sessions(daemon):
    port = add(daemon, "shell")
    other = add(daemon, "other")
    r = daemon.ctl("announce", "shell", "--debug-port", port, "--pid", os.getpid(),
                   "--status", "loading scene", check=True)
    session_id = r.stdout.strip()
    assert session_id and "\n" not in session_id

    sessions = daemon.ctl_json("sessions")
    assert [s["id"] for s in sessions] == [session_id]
    s = sessions[0]
    assert s["project"] == "shell"
    assert s["state"] == "pending"
    assert s["origin"] == "control"
    assert s["debugPort"] == port
    assert s["pid"] == os.getpid()
    assert s["status"] == "loading scene"
    assert isinstance(s["startedAt"], (int, float))

    # Filter by project.
    assert daemon.ctl_json("sessions", "other") == []
    assert [x["id"] for x in daemon.ctl_json("sessions", "shell")] == [session_id]

    table = daemon.ctl("sessions", check=True).stdout.splitlines()
    assert table[0].split()[:4] == ["ID", "PROJECT", "STATE", "ORIGIN"]
    assert "END REASON" in table[0]
    row = table[1]
    assert row.startswith(session_id)
    assert "shell" in row and "pending" in row and "control" in row
    assert "127.0.0.1:%d" % port in row and str(os.getpid()) in row

    # The session becomes ready once the port listens; wait sees it.
    with Listener(port):
        r = daemon.ctl("wait", "shell", "--timeout", "20")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "127.0.0.1:%d" % port
        assert daemon.ctl_json("sessions", "shell")[0]["state"] == "ready"
    assert other  # the other project is untouched
    r = daemon.ctl("wait", "other", "--timeout", "0")
    assert r.returncode == 124


def test_announce_json_and_unknown_project(daemon):
    port = add(daemon, "annj")
    session = daemon.ctl_json("announce", "annj", "--debug-port", port)
    assert session["project"] == "annj" and session["origin"] == "control"
    r = daemon.ctl("announce", "nope", "--debug-port", port)
    assert r.returncode == 3
    assert "no project named 'nope'" in r.stderr


# ----------------------------------------------------------------------------- watch

def start_watch(daemon, *args):
    """`attachctl watch ARGS` with stderr on a terminal; returns once it is subscribed."""
    proc = ctl_popen(daemon, "watch", *args, stderr_pty=True)
    read_pty_until(proc.pty_master, b"watching", 10)
    return proc


def stop_watch(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    os.close(proc.pty_master)


def test_watch_streams_json_lines(daemon):
    watcher = start_watch(daemon, "--json")
    try:
        port = add(daemon, "seen")
        event = json.loads(read_line(watcher, 10))
        assert event["kind"] == "projectAdded"
        assert event["project"]["name"] == "seen"
        assert event["project"]["debugPort"] == port

        sid = daemon.ctl("announce", "seen", "--debug-port", port, check=True).stdout.strip()
        event = json.loads(read_line(watcher, 10))
        assert event["kind"] == "sessionStarted"
        assert event["session"]["id"] == sid and event["session"]["state"] == "pending"
        with Listener(port):
            event = json.loads(read_line(watcher, 10))
            assert event["kind"] == "sessionReady"
            assert event["session"]["id"] == sid and event["session"]["state"] == "ready"
        daemon.ctl("remove", "seen", "--force", check=True)
        kinds = set()
        while "projectRemoved" not in kinds:
            kinds.add(json.loads(read_line(watcher, 10))["kind"])
    finally:
        stop_watch(watcher)


def test_watch_text_lines_and_project_filter(daemon):
    port = add(daemon, "mine")
    watcher = start_watch(daemon, "mine")
    try:
        add(daemon, "theirs")
        sid = daemon.ctl("announce", "theirs", check=True).stdout.strip()
        sid = daemon.ctl("announce", "mine", "--debug-port", port, check=True).stdout.strip()
        line = read_line(watcher, 10)
        # Only "mine": the first line is its session, nothing of "theirs".
        fields = line.split()
        assert fields[1:5] == ["sessionStarted", "mine", sid, "pending"], line
        assert ":" in fields[0]  # a time of day
    finally:
        stop_watch(watcher)


def test_watch_unknown_project_exits_3(daemon):
    r = daemon.ctl("watch", "ghost", timeout=10)
    assert r.returncode == 3
    assert "no project named 'ghost'" in r.stderr


def test_watch_ends_with_75_when_daemon_goes_away(daemon):
    watcher = start_watch(daemon)
    try:
        daemon.kill()
        assert watcher.wait(timeout=15) == 75
        text = drain_pty(watcher.pty_master).decode("utf-8", "replace")
        assert "attachd went away" in text
    finally:
        stop_watch(watcher)


# ----------------------------------------------------------------------------- vscode

def check_task(task, name):
    assert task["label"] == "attachd: wait %s" % name
    assert task["type"] in ("process", "shell")
    assert "attachctl" in task["command"]
    assert task["args"][-2:] == ["wait", name]
    assert task["problemMatcher"] == []
    assert task["presentation"]["reveal"] == "silent"


def check_attach(config, name, host, port):
    assert config["type"] == "debugpy"
    assert config["request"] == "attach"
    assert config["connect"] == {"host": host, "port": port}
    assert config["preLaunchTask"] == "attachd: wait %s" % name
    assert config["pathMappings"] == [{"localRoot": "${workspaceFolder}", "remoteRoot": "${workspaceFolder}"}]
    assert config["justMyCode"] is True


def test_vscode_json_uses_the_projects_real_endpoint(daemon):
    port = free_port()
    daemon.ctl("add", "vs", "--debug-port", port, "--debug-host", "127.0.0.1", check=True)
    doc = daemon.ctl_json("vscode", "vs")
    assert set(doc) == {"tasks.json", "launch.json"}
    tasks, launch = doc["tasks.json"], doc["launch.json"]
    assert tasks["version"] == "2.0.0"
    assert len(tasks["tasks"]) == 1
    check_task(tasks["tasks"][0], "vs")
    assert launch["version"] == "0.2.0"
    assert len(launch["configurations"]) == 1
    check_attach(launch["configurations"][0], "vs", "127.0.0.1", port)
    assert "compounds" not in launch


def test_vscode_text_output_is_two_headed_json_blocks(daemon):
    port = add(daemon, "blocks")
    out = daemon.ctl("vscode", "blocks", check=True).stdout
    blocks = {}
    current = None
    for line in out.splitlines():
        if line.startswith("// .vscode/"):
            current = line[len("// .vscode/"):].strip()
            blocks[current] = []
        elif current is not None:
            blocks[current].append(line)
    assert set(blocks) == {"tasks.json", "launch.json"}
    tasks = json.loads("\n".join(blocks["tasks.json"]))
    launch = json.loads("\n".join(blocks["launch.json"]))
    check_task(tasks["tasks"][0], "blocks")
    check_attach(launch["configurations"][0], "blocks", "127.0.0.1", port)


def test_vscode_host_command_adds_a_run_task_and_an_attach_after_it(daemon):
    # Issue 20: the host is started by a task (`attachctl run`), not a cppdbg launch: the
    # files need only the Python extension, and hold no path of this machine.
    port = add(daemon, "hosted")
    # --host-args takes every remaining argument, so --json must come before it.
    r = daemon.ctl("vscode", "hosted", "--json", "--python-path", "/opt/helpers",
                   "--host-command", "/opt/app/bin/app", "--host-args", "-U", "PythonHost", "boot.py",
                   check=True)
    doc = json.loads(r.stdout)
    launch, tasks = doc["launch.json"], doc["tasks.json"]
    assert {c["type"] for c in launch["configurations"]} == {"debugpy"}
    assert "compounds" not in launch
    assert daemon.runtime_dir not in r.stdout
    attach = {c["name"]: c for c in launch["configurations"]}
    check_attach(attach["attachd: attach hosted"], "hosted", "127.0.0.1", port)
    both = attach["attachd: hosted (host + attach)"]
    assert both["connect"] == {"host": "127.0.0.1", "port": port}
    by_label = {t["label"]: t for t in tasks["tasks"]}
    check_task(by_label["attachd: wait hosted"], "hosted")
    run = by_label["attachd: run hosted host"]
    assert run["args"][-7:] == ["run", "hosted", "--", "/opt/app/bin/app", "-U", "PythonHost", "boot.py"]
    assert run["isBackground"] is True
    env = run["options"]["env"]
    assert env["PROJECT_DEBUG_PORT"] == str(port) and env["PROJECT_DEBUG_HOST"] == "127.0.0.1"
    assert env["PYTHONPATH"].startswith("/opt/helpers")
    assert "ATTACHD_RENDEZVOUS" not in env
    sequence = by_label[both["preLaunchTask"]]
    assert sequence["dependsOn"] == ["attachd: run hosted host", "attachd: wait hosted"]
    assert sequence["dependsOrder"] == "sequence"


def test_vscode_write_says_only_what_it_writes(daemon, tmp_path):
    daemon.ctl("add", "blend", "--attach-port", free_port(), check=True)
    r = daemon.ctl("vscode", "blend", "--write", str(tmp_path), check=True)
    assert "tasks.json" not in r.stdout, r.stdout
    assert not (tmp_path / ".vscode" / "tasks.json").exists()
    assert "wrote %s: configuration 'attachd: attach blend'" % (tmp_path / ".vscode" / "launch.json") in r.stdout
    assert "tasks.json" not in daemon.ctl("vscode", "blend", check=True).stdout
    r = daemon.ctl("vscode", "blend", "--write", str(tmp_path), "--host-command", "/opt/blender/blender", check=True)
    tasks = json.loads((tmp_path / ".vscode" / "tasks.json").read_text())
    assert "wrote %s: task 'attachd: run blend host'" % (tmp_path / ".vscode" / "tasks.json") in r.stdout
    assert [t["label"] for t in tasks["tasks"]] == ["attachd: run blend host"]


def test_vscode_unknown_project_exits_3(daemon):
    r = daemon.ctl("vscode", "ghost")
    assert r.returncode == 3
    assert "no project named 'ghost'" in r.stderr


EXISTING_LAUNCH = """{
    // Use IntelliSense to learn about possible attributes.
    // For more information, visit: https://go.microsoft.com/fwlink/?linkid=830387
    "version": "0.2.0",
    "configurations": [
        {
            "name": "Python: Current File",
            "type": "debugpy",
            "request": "launch",
            "program": "${file}",   // the open file
            "env": {"DOCS": "http://example.com/a//b", "QUOTE": "say \\"hi\\" // not a comment"},
            /* a block
               comment */
            "console": "integratedTerminal",
        },
        {
            "name": "attachd: attach merged",
            "type": "debugpy",
            "request": "attach",
            "connect": {"host": "127.0.0.1", "port": 1},
        },
    ],
}
"""

EXISTING_TASKS = """// tasks of the user
{
    "version": "2.0.0",
    "tasks": [
        {"label": "build", "type": "shell", "command": "make", "args": ["-j4"],},
    ]
}
"""


def test_vscode_write_merges_with_existing_files(daemon, short_tmp):
    port = add(daemon, "merged")
    vscode = os.path.join(short_tmp, ".vscode")
    os.makedirs(vscode)
    with open(os.path.join(vscode, "launch.json"), "w") as f:
        f.write(EXISTING_LAUNCH)
    with open(os.path.join(vscode, "tasks.json"), "w") as f:
        f.write(EXISTING_TASKS)

    r = daemon.ctl("vscode", "merged", "--write", short_tmp)
    assert r.returncode == 0, r.stderr

    with open(os.path.join(vscode, "launch.json")) as f:
        launch = json.load(f)  # plain JSON now
    names = [c["name"] for c in launch["configurations"]]
    assert names == ["Python: Current File", "attachd: attach merged"]  # replaced in place
    user = launch["configurations"][0]
    assert user["program"] == "${file}"
    assert user["console"] == "integratedTerminal"
    assert user["env"] == {"DOCS": "http://example.com/a//b", "QUOTE": 'say "hi" // not a comment'}
    check_attach(launch["configurations"][1], "merged", "127.0.0.1", port)

    with open(os.path.join(vscode, "tasks.json")) as f:
        tasks = json.load(f)
    labels = [t["label"] for t in tasks["tasks"]]
    assert labels == ["build", "attachd: wait merged"]
    assert tasks["tasks"][0] == {"label": "build", "type": "shell", "command": "make", "args": ["-j4"]}
    check_task(tasks["tasks"][1], "merged")

    # The commented originals were kept aside.
    with open(os.path.join(vscode, "launch.json.bak")) as f:
        assert f.read() == EXISTING_LAUNCH

    # Running it again changes nothing (no duplicates).
    r = daemon.ctl("vscode", "merged", "--write", short_tmp)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(vscode, "launch.json")) as f:
        assert json.load(f) == launch
    with open(os.path.join(vscode, "tasks.json")) as f:
        assert json.load(f) == tasks


def test_vscode_write_creates_files(daemon, short_tmp):
    port = add(daemon, "fresh")
    result = daemon.ctl_json("vscode", "fresh", "--write", short_tmp)
    vscode = os.path.join(short_tmp, ".vscode")
    assert result["tasks.json"] == os.path.join(vscode, "tasks.json")
    assert result["launch.json"] == os.path.join(vscode, "launch.json")
    with open(result["launch.json"]) as f:
        check_attach(json.load(f)["configurations"][0], "fresh", "127.0.0.1", port)
    with open(result["tasks.json"]) as f:
        check_task(json.load(f)["tasks"][0], "fresh")
    assert not os.path.exists(os.path.join(vscode, "launch.json.bak"))


def test_vscode_write_refuses_a_broken_file(daemon, short_tmp):
    add(daemon, "broken")
    vscode = os.path.join(short_tmp, ".vscode")
    os.makedirs(vscode)
    broken = '{"version": "0.2.0", "configurations": [ {"name": "x" ]}'
    with open(os.path.join(vscode, "launch.json"), "w") as f:
        f.write(broken)
    r = daemon.ctl("vscode", "broken", "--write", short_tmp)
    assert r.returncode == 1
    assert "launch.json" in r.stderr and "line" in r.stderr
    with open(os.path.join(vscode, "launch.json")) as f:
        assert f.read() == broken
    assert not os.path.exists(os.path.join(vscode, "tasks.json"))
