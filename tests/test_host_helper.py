"""Tests of integrations/python/attach_ready.py, the host-side helper.

Run: python3 -m pytest tests/test_host_helper.py

Part 1 needs no daemon (fake rendezvous servers, absent daemon, old interpreters).
Part 2 runs the real attachd/attachctl through the `daemon` fixture.

Old interpreters: every Python found under ~/.pyenv/versions (or listed in
$ATTACHD_TEST_PYTHONS, os.pathsep-separated) is compile-checked; those that can import
debugpy or ptvsd also run the helper for real.
"""

import ast
import glob
import json
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from attachd_harness import (FakeRendezvous, HostProcess, HELPER_DIR, free_port,  # noqa: E402
                             wait_for)
from dap_client import DapClient  # noqa: E402
from hardening_support import tcp_listeners  # noqa: E402

HELPER = os.path.join(HELPER_DIR, "attach_ready.py")
sys.path.insert(0, HELPER_DIR)
import attach_ready  # noqa: E402


# ----------------------------------------------------------------------------- utilities

def _discover_pythons():
    env = os.environ.get("ATTACHD_TEST_PYTHONS")
    if env:
        paths = [p for p in env.split(os.pathsep) if p]
    else:
        paths = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/*/bin/python")))
        paths += [p for p in (glob.glob("/usr/bin/python2*") + glob.glob("/usr/bin/python3.[0-9]*"))
                  if os.path.basename(p).replace("python", "").replace(".", "").isdigit()]
    found = {}
    for path in paths:
        try:
            out = subprocess.run(
                [path, "-c",
                 "import sys\n"
                 "def has(m):\n"
                 "    try:\n"
                 "        __import__(m); return True\n"
                 "    except Exception:\n"
                 "        return False\n"
                 "sys.stdout.write('%d.%d %d %d' % (sys.version_info[0], sys.version_info[1],"
                 " has('debugpy'), has('ptvsd')))"],
                capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode != 0 or not out.stdout:
            continue
        version, debugpy_ok, ptvsd_ok = out.stdout.split()
        found.setdefault(version, (path, debugpy_ok == "1", ptvsd_ok == "1"))
    return [(v,) + found[v] for v in sorted(found, key=lambda s: tuple(int(x) for x in s.split(".")))]


PYTHONS = _discover_pythons()
PYTHONS_WITH_SERVER = [p for p in PYTHONS if p[2] or p[3]]


def attach_and_evaluate(host, port, expression="MAGIC", timeout=20.0):
    """Attach a DAP client to the host's debug server, evaluate, detach; return the result."""
    with DapClient.connect(host, port, timeout=timeout) as dap:
        dap.attach()
        value = dap.evaluate(expression)
        dap.disconnect()
    return value


def helper_warnings(host):
    return [l for l in host.log_lines("WARNING") if l.split(" ", 3)[2] == "attach_ready"]


def no_daemon_env(tmp):
    env = dict(os.environ)
    for name in ("ATTACHD_RENDEZVOUS", "ATTACHD_PYTHON", "ATTACHD_SOCKET", "NOTIFY_SOCKET"):
        env.pop(name, None)
    env["XDG_RUNTIME_DIR"] = tmp
    return env


# ============================================================================= part 1: no daemon

# ----------------------------------------------------------------------------- syntax / stdlib

FORBIDDEN_NODES = {
    "JoinedStr": "f-string", "FormattedValue": "f-string", "Nonlocal": "nonlocal",
    "AsyncFunctionDef": "async def", "Await": "await", "AsyncFor": "async for",
    "AsyncWith": "async with", "YieldFrom": "yield from", "AnnAssign": "annotated assignment",
    "NamedExpr": "walrus", "MatMult": "@ operator", "Match": "match statement",
}


def test_helper_syntax_is_python27_compatible():
    tree = ast.parse(open(HELPER).read(), HELPER)
    problems = []
    for node in ast.walk(tree):
        name = type(node).__name__
        line = getattr(node, "lineno", "?")
        if name in FORBIDDEN_NODES:
            problems.append("line %s: %s" % (line, FORBIDDEN_NODES[name]))
        if isinstance(node, ast.arguments):
            if node.kwonlyargs:
                problems.append("line %s: keyword-only arguments" % line)
            if getattr(node, "posonlyargs", None):
                problems.append("line %s: positional-only arguments" % line)
            for a in node.args + node.kwonlyargs + [node.vararg, node.kwarg]:
                if a is not None and a.annotation is not None:
                    problems.append("line %s: annotation" % getattr(a, "lineno", line))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            problems.append("line %s: return annotation" % line)
        if isinstance(node, ast.Raise) and node.cause is not None:
            problems.append("line %s: raise ... from" % line)
        if isinstance(node, ast.Starred) and not isinstance(getattr(node, "ctx", None), ast.Load):
            problems.append("line %s: starred assignment" % line)
        if isinstance(node, ast.Call) and sum(isinstance(a, ast.Starred) for a in node.args) > 1:
            problems.append("line %s: several * unpackings in one call" % line)
        if isinstance(node, (ast.Dict,)) and None in node.keys:
            problems.append("line %s: ** in dict display" % line)
    assert problems == [], "Python 2.7-incompatible syntax:\n" + "\n".join(problems)


STDLIB_OK = {"errno", "logging", "os", "re", "socket", "sys", "threading", "time", "fcntl",
             "debugpy", "ptvsd", "debugpy.server"}


def test_helper_imports_only_stdlib_and_debug_servers():
    tree = ast.parse(open(HELPER).read(), HELPER)
    imported = set()
    top_level = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_level.update(a.name for a in node.names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported <= STDLIB_OK, imported - STDLIB_OK
    # debugpy/ptvsd are imported lazily (inside start()), never at module level.
    assert not (top_level & {"debugpy", "ptvsd"})


def test_helper_py_compile_default_python(short_tmp):
    subprocess.run([sys.executable, "-c",
                    "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)",
                    HELPER, os.path.join(short_tmp, "a.pyc")], check=True, timeout=60)


@pytest.mark.parametrize("version,python,has_debugpy,has_ptvsd", PYTHONS,
                         ids=[p[0] for p in PYTHONS])
def test_helper_compiles_and_imports_under(version, python, has_debugpy, has_ptvsd, short_tmp):
    """Byte-compile and import the helper (and fake_host) under every interpreter found."""
    for source in (HELPER, os.path.join(HERE, "fake_host.py")):
        r = subprocess.run([python, "-c",
                            "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)",
                            source, os.path.join(short_tmp, "x.pyc")],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([python, "-c",
                        "import sys; sys.path.insert(0, sys.argv[1]); import attach_ready as a;"
                        "sys.stdout.write(repr(a.rendezvous_address('p')))", HELPER_DIR],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert "p.sock" in r.stdout


LINE_TEXT_CHECK = r"""
import socket, sys
sys.path.insert(0, sys.argv[1])
import attach_ready as a
# A path in the file system's bytes (Python 2's str), not valid UTF-8, with a line break.
raw = b"/opt/app\xe9/bin\nx"
assert a._line_text(raw) == u"/opt/app\ufffd/bin x", repr(a._line_text(raw))
assert a._line_text(None) == ""
assert a._line_text(u"/h\u00e9/python3") == u"/h\u00e9/python3"
assert len(a._line_text(u"x" * 5000)) == 1024
sys.executable = raw
lines = a._adapter_lines(None)
assert [l.split("=", 1)[0] for l in lines] == ["EXECUTABLE", "PYTHON"], lines
data = ("\n".join(lines) + "\n").encode("utf-8", "replace")
assert data == b"EXECUTABLE=/opt/app\xef\xbf\xbd/bin x\nPYTHON=\n", repr(data)
sys.executable = None
assert a._adapter_lines(u"/usr/bin/python3") == ["EXECUTABLE=", "PYTHON=/usr/bin/python3"]
# A failed start: STATUS= is sent, then the end of file, and the peer's answers are read.
ours, theirs = socket.socketpair()
theirs.sendall(b"OK session=s-1\n")
a._abandon((ours, [], 0, "", None), RuntimeError("no adapter"))
got = b""
while True:
    chunk = theirs.recv(4096)
    if not chunk:
        break
    got += chunk
assert got == b"STATUS=debug server did not start: RuntimeError: no adapter\n", repr(got)
sys.stdout.write("ok")
"""


@pytest.mark.parametrize("version,python,has_debugpy,has_ptvsd", PYTHONS,
                         ids=[p[0] for p in PYTHONS])
def test_rendezvous_text_under(version, python, has_debugpy, has_ptvsd):
    """EXECUTABLE=/PYTHON= values and the failed-start STATUS= under every interpreter found:
    bytes paths (Python 2's str) and undecodable ones make valid one-line UTF-8."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([python, "-c", LINE_TEXT_CHECK, HELPER_DIR], capture_output=True, text=True,
                       timeout=60, env=env)
    assert (r.returncode, r.stdout) == (0, "ok"), r.stderr


# ----------------------------------------------------------------------------- in-process units

def test_rendezvous_address_defaults_and_overrides(monkeypatch):
    monkeypatch.delenv("ATTACHD_RENDEZVOUS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1234")
    assert attach_ready.rendezvous_address("maxtools") == (
        "unix", "/run/user/1234/attachd/projects/maxtools.sock")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert attach_ready.rendezvous_address("maxtools") == (
        "unix", "/tmp/attachd-%d/projects/maxtools.sock" % os.getuid())
    monkeypatch.setenv("ATTACHD_RENDEZVOUS", "/x/y.sock")
    assert attach_ready.rendezvous_address("maxtools") == ("unix", "/x/y.sock")
    monkeypatch.setenv("ATTACHD_RENDEZVOUS", "unix:/x/z.sock")
    assert attach_ready.rendezvous_address("maxtools") == ("unix", "/x/z.sock")
    monkeypatch.setenv("ATTACHD_RENDEZVOUS", "tcp:127.0.0.1:7001")
    assert attach_ready.rendezvous_address("maxtools") == ("tcp", ("127.0.0.1", 7001))
    monkeypatch.setenv("ATTACHD_RENDEZVOUS", "tcp:[::1]:7002")
    assert attach_ready.rendezvous_address("maxtools") == ("tcp", ("::1", 7002))


def test_find_python_rules(monkeypatch, short_tmp):
    monkeypatch.delenv("ATTACHD_PYTHON", raising=False)
    real = os.path.realpath(sys.executable)
    # A usable sys.executable: nothing to configure.
    monkeypatch.setattr(sys, "executable", real)
    assert attach_ready.find_python() is None
    # Explicit argument and ATTACHD_PYTHON always win.
    assert attach_ready.find_python("/opt/py/bin/python3") == "/opt/py/bin/python3"
    monkeypatch.setenv("ATTACHD_PYTHON", "/opt/other/python")
    assert attach_ready.find_python() == "/opt/other/python"
    monkeypatch.delenv("ATTACHD_PYTHON")
    # Not a Python: the application binary, None, empty, a directory.
    wanted = "python%d.%d" % sys.version_info[:2]
    for exe in ("/bin/sh", None, "", "/usr"):
        monkeypatch.setattr(sys, "executable", exe)
        found = attach_ready.find_python()
        assert found and os.path.isfile(found), exe
        assert os.path.basename(found).startswith("python")
    # A python3.X of another minor version (some hosts pick the first one on PATH).
    other = os.path.join(short_tmp, "python%d.%d" % (sys.version_info[0], sys.version_info[1] + 7))
    with open(other, "w") as f:
        f.write("#!/bin/sh\nexit 1\n")
    os.chmod(other, 0o755)
    monkeypatch.setattr(sys, "executable", other)
    found = attach_ready.find_python()
    assert found is not None and found != other
    # The interpreter next to sys.prefix matching this version is preferred.
    monkeypatch.setattr(sys, "executable", "/bin/sh")
    expected = os.path.join(sys.prefix, "bin", wanted)
    if os.path.isfile(expected):
        assert attach_ready.find_python() == expected


def test_invalid_project_name_is_refused_before_anything_starts():
    for bad in ("", "a/b", "../x", "x" * 65, "sp ace"):
        with pytest.raises(ValueError):
            attach_ready.start(project=bad)
    assert attach_ready.address() is None


# ----------------------------------------------------------------------------- child hosts, no daemon

def test_daemon_absent_start_returns_promptly_and_server_listens(short_tmp):
    with HostProcess("nodaemon", env=no_daemon_env(short_tmp), timeout=5.0) as host:
        assert host.report["elapsed"] < 4.0, host.report
        assert host.report["session"] is None
        assert host.report["backend"] == "debugpy"
        warnings = helper_warnings(host)
        assert len(warnings) == 1, host.stderr_text()
        assert "nodaemon" in warnings[0] and "attachd" in warnings[0]
        assert attach_and_evaluate(host.host, host.port) == "42"
        assert host.command("magic") == "MAGIC 42"
        assert len(helper_warnings(host)) == 1
        assert host.close() == 0


def test_daemon_refusing_connections_logs_one_warning(short_tmp):
    # A socket file nobody listens on: ECONNREFUSED.
    import socket
    path = os.path.join(short_tmp, "attachd", "projects", "refused.sock")
    os.makedirs(os.path.dirname(path))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    with HostProcess("refused", env=no_daemon_env(short_tmp), timeout=5.0) as host:
        assert host.report["elapsed"] < 4.0
        warnings = helper_warnings(host)
        assert len(warnings) == 1 and "refused" in warnings[0], host.stderr_text()
        assert host.close() == 0


def test_daemon_accepting_but_silent_start_returns_within_timeout(short_tmp):
    path = os.path.join(short_tmp, "attachd", "projects", "silent.sock")
    with FakeRendezvous(path, mode="silent") as fake:
        with HostProcess("silent", env=no_daemon_env(short_tmp), timeout=1.0) as host:
            # It waited for the answers, but not longer than timeout (+ debugpy start-up).
            assert 1.0 <= host.report["elapsed"] < 1.0 + 3.0, host.report
            assert host.report["session"] is None
            assert fake.wait_lines(3, 5) == [
                "DEBUG_PORT=%d" % host.port, "MAINPID=%d" % host.pid, "READY=1"]
            assert len(helper_warnings(host)) == 1, host.stderr_text()
            assert attach_and_evaluate(host.host, host.port) == "42"
            assert fake.disconnects == 0  # the connection is kept while the host lives
            assert host.close() == 0
            fake.wait_disconnect(10)


def test_fake_rendezvous_protocol_and_connection_held_until_exit(short_tmp):
    path = os.path.join(short_tmp, "attachd", "projects", "proto.sock")
    with FakeRendezvous(path, mode="ok", session="s-77") as fake:
        with HostProcess("proto", env=no_daemon_env(short_tmp), port=0) as host:
            assert host.report["session"] == "s-77"
            assert fake.wait_lines(3, 5) == [
                "DEBUG_PORT=%d" % host.port, "MAINPID=%d" % host.pid, "READY=1"]
            assert helper_warnings(host) == []
            assert host.command("status loading scene") == "STATUS True"
            assert fake.wait_lines(4, 5)[3] == "STATUS=loading scene"
            assert host.command("session") == "SESSION s-77"
            assert fake.disconnects == 0
            assert host.close() == 0
            fake.wait_disconnect(10)


def test_rendezvous_over_tcp(short_tmp):
    with FakeRendezvous(None, mode="ok", session="tcp-1") as fake:
        env = no_daemon_env(short_tmp)
        env["ATTACHD_RENDEZVOUS"] = fake.env_value
        with HostProcess("tcpproj", env=env) as host:
            assert host.report["session"] == "tcp-1"
            assert fake.wait_lines(3, 5)[0] == "DEBUG_PORT=%d" % host.port
            assert host.close() == 0
            fake.wait_disconnect(10)


def test_rendezvous_error_reply_is_one_warning(short_tmp):
    path = os.path.join(short_tmp, "attachd", "projects", "err.sock")
    with FakeRendezvous(path, mode="error"):
        with HostProcess("err", env=no_daemon_env(short_tmp)) as host:
            assert host.report["session"] is None
            warnings = helper_warnings(host)
            assert len(warnings) == 1 and "refused" in warnings[0], host.stderr_text()
            assert attach_and_evaluate(host.host, host.port) == "42"


def test_rendezvous_closed_by_daemon_is_quiet_afterwards(short_tmp):
    path = os.path.join(short_tmp, "attachd", "projects", "closer.sock")
    with FakeRendezvous(path, mode="ok") as fake:
        with HostProcess("closer", env=no_daemon_env(short_tmp)) as host:
            fake.wait_lines(3, 5)
            n = len(helper_warnings(host))
            fake.close()  # the "daemon" goes away
            assert host.command("session") == "SESSION fake-1"  # host unaffected
            assert host.command("status still here") in ("STATUS True", "STATUS False")
            assert len(helper_warnings(host)) == n
            assert attach_and_evaluate(host.host, host.port) == "42"


def test_start_twice_returns_same_address(short_tmp):
    with HostProcess("twice", env=no_daemon_env(short_tmp), args=["--start-twice"]) as host:
        assert host.report["second"] == [host.host, host.port]
        assert len(helper_warnings(host)) == 1


def test_given_port_is_used(short_tmp):
    port = free_port()
    with HostProcess("given", env=no_daemon_env(short_tmp), port=port) as host:
        assert host.port == port
        assert attach_and_evaluate("127.0.0.1", port) == "42"


def test_wait_for_client_blocks_until_the_ide_attaches(short_tmp):
    path = os.path.join(short_tmp, "attachd", "projects", "blocking.sock")
    port = free_port()
    with FakeRendezvous(path, mode="ok") as fake:
        with HostProcess("blocking", env=no_daemon_env(short_tmp), port=port,
                         args=["--wait-for-client"], wait=False) as host:
            # Announced first (attachd then waits for the host's own listener), then the server
            # listens while start() is still blocked.
            fake.wait_lines(3, 20)
            wait_for(lambda: tcp_listeners(port), timeout=20)
            assert host.report is None and host.proc.poll() is None
            with DapClient.connect("127.0.0.1", port, timeout=20) as dap:
                dap.attach()
                report = host.wait_ready(20)  # start() returned once the client attached
                assert report["port"] == port
                assert dap.evaluate("MAGIC") == "42"
                dap.disconnect()


def _recording_python(directory):
    """A wrapper interpreter that records each use, then runs the real one."""
    marker = os.path.join(directory, "used")
    wrapper = os.path.join(directory, "python-wrapper")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\necho \"$@\" >> '%s'\nexec '%s' \"$@\"\n"
                % (marker, os.path.realpath(sys.executable)))
    os.chmod(wrapper, 0o755)
    return wrapper, marker


@pytest.mark.parametrize("fake_executable", ["/bin/sh", "APP", "none"])
def test_embedded_interpreter_configures_debugpy_python(fake_executable, short_tmp):
    """sys.executable is the host app (or None): the adapter must run under a real Python."""
    if fake_executable == "APP":
        fake_executable = os.path.join(short_tmp, "3dsmax.exe")
        with open(fake_executable, "w") as f:
            f.write("#!/bin/sh\necho 'I am the application, not Python' >&2\nexit 3\n")
        os.chmod(fake_executable, 0o755)
    with HostProcess("embedded", env=no_daemon_env(short_tmp),
                     args=["--sys-executable", fake_executable, "--debug-log"]) as host:
        expected_exe = None if fake_executable == "none" else fake_executable
        assert host.report["sys_executable"] == expected_exe  # restored after listen()
        chosen = [l for l in host.log_lines("DEBUG") if "adapter will run with" in l]
        assert len(chosen) == 1, host.stderr_text()
        assert "python" in chosen[0].split("adapter will run with", 1)[1]
        assert attach_and_evaluate(host.host, host.port) == "42"


def _fake_application(directory):
    path = os.path.join(directory, "3dsmax.exe")
    with open(path, "w") as f:
        f.write("#!/bin/sh\necho 'I am the application, not Python' >&2\nexit 3\n")
    os.chmod(path, 0o755)
    return path


@pytest.mark.parametrize("fake_executable", ["APP", "none"])
def test_embedded_interpreter_is_told_to_attachd(fake_executable, short_tmp):
    """EXECUTABLE= and PYTHON= go before READY=1, only when sys.executable will not do."""
    exe = _fake_application(short_tmp) if fake_executable == "APP" else "none"
    path = os.path.join(short_tmp, "attachd", "projects", "told.sock")
    with FakeRendezvous(path, mode="ok", session="told-1") as fake:
        with HostProcess("told", env=no_daemon_env(short_tmp), args=["--sys-executable", exe]) as host:
            lines = fake.wait_lines(5, 5)
            assert lines[:2] == ["DEBUG_PORT=%d" % host.port, "MAINPID=%d" % host.pid]
            assert lines[2] == "EXECUTABLE=" + ("" if exe == "none" else exe)
            assert lines[3].startswith("PYTHON=")
            chosen = lines[3][len("PYTHON="):]
            assert os.path.basename(chosen).startswith("python") and os.access(chosen, os.X_OK), lines
            assert lines[4:] == ["READY=1"]
            assert helper_warnings(host) == [], host.stderr_text()
            assert attach_and_evaluate(host.host, host.port) == "42"


def test_older_attachd_refusing_the_new_keys_is_no_warning(short_tmp):
    """An attachd that answers EXECUTABLE=/PYTHON= with ERROR unknown key: the host is not bothered."""
    path = os.path.join(short_tmp, "attachd", "projects", "older.sock")
    with FakeRendezvous(path, mode="old", session="older-1") as fake:
        with HostProcess("older", env=no_daemon_env(short_tmp), args=["--sys-executable", "none"]) as host:
            assert [l.split("=", 1)[0] for l in fake.wait_lines(5, 5)] == [
                "DEBUG_PORT", "MAINPID", "EXECUTABLE", "PYTHON", "READY"]
            assert host.report["session"] == "older-1"
            assert helper_warnings(host) == [], host.stderr_text()
            assert attach_and_evaluate(host.host, host.port) == "42"
            assert fake.disconnects == 0
    # A refusal of a line it has always sent still is a warning.
    with FakeRendezvous(path, mode="error") as fake:
        with HostProcess("older", env=no_daemon_env(short_tmp), args=["--sys-executable", "none"]) as host:
            warnings = helper_warnings(host)
            assert len(warnings) == 1 and "refused" in warnings[0], host.stderr_text()


def test_no_interpreter_found_ends_the_announcement_saying_why(short_tmp):
    """sys.executable is None and no Python is near or on PATH: debugpy cannot start its
    adapter; the helper says so (PYTHON= empty, then STATUS=) and closes the rendezvous."""
    empty = os.path.join(short_tmp, "empty")
    os.mkdir(empty)
    env = no_daemon_env(short_tmp)
    env["PATH"] = empty
    path = os.path.join(short_tmp, "attachd", "projects", "nopy.sock")
    with FakeRendezvous(path, mode="ok", session="nopy-1") as fake:
        with HostProcess("nopy", env=env, args=["--sys-executable", "none", "--prefix", empty,
                                                "--keep-running-on-error"]) as host:
            assert "RuntimeError" in host.report["error"], host.report
            fake.wait_disconnect(10)
            lines = fake.wait_lines(6, 1)
            assert lines[2:5] == ["EXECUTABLE=", "PYTHON=", "READY=1"]
            assert lines[5].startswith("STATUS=debug server did not start: RuntimeError: ")
            assert host.command("magic") == "MAGIC 42"  # the application runs on


def test_attachd_python_env_is_used_for_the_adapter(short_tmp):
    wrapper, marker = _recording_python(short_tmp)
    env = no_daemon_env(short_tmp)
    env["ATTACHD_PYTHON"] = wrapper
    with HostProcess("envpy", env=env, args=["--sys-executable", "none"]) as host:
        with open(marker) as f:
            used = f.read()
        assert "--for-server" in used  # debugpy's adapter ran under the wrapper
        assert attach_and_evaluate(host.host, host.port) == "42"


def test_python_argument_is_used_even_with_a_good_sys_executable(short_tmp):
    wrapper, marker = _recording_python(short_tmp)
    with HostProcess("argpy", env=no_daemon_env(short_tmp), args=["--python", wrapper]) as host:
        with open(marker) as f:
            assert "--for-server" in f.read()
        assert attach_and_evaluate(host.host, host.port) == "42"


@pytest.mark.parametrize("version,python,has_debugpy,has_ptvsd", PYTHONS_WITH_SERVER,
                         ids=[p[0] for p in PYTHONS_WITH_SERVER])
def test_helper_runs_under_interpreter(version, python, has_debugpy, has_ptvsd, short_tmp):
    """The whole helper under each interpreter that has debugpy or ptvsd (2.7 / 3.6: ptvsd)."""
    path = os.path.join(short_tmp, "attachd", "projects", "old.sock")
    with FakeRendezvous(path, mode="ok", session="old-1") as fake:
        with HostProcess("old", env=no_daemon_env(short_tmp), python=python) as host:
            assert host.report["python"][:2] == [int(x) for x in version.split(".")]
            assert host.report["backend"] == ("debugpy" if has_debugpy else "ptvsd")
            assert host.report["session"] == "old-1"
            assert fake.wait_lines(3, 5) == [
                "DEBUG_PORT=%d" % host.port, "MAINPID=%d" % host.pid, "READY=1"]
            assert attach_and_evaluate(host.host, host.port) == "42"
            assert host.close() == 0
            fake.wait_disconnect(10)


@pytest.mark.parametrize("version,python,has_debugpy,has_ptvsd", PYTHONS_WITH_SERVER,
                         ids=[p[0] for p in PYTHONS_WITH_SERVER])
def test_helper_daemon_absent_under_interpreter(version, python, has_debugpy, has_ptvsd, short_tmp):
    with HostProcess("oldabsent", env=no_daemon_env(short_tmp), python=python, timeout=2.0) as host:
        assert host.report["elapsed"] < 4.0
        assert len(helper_warnings(host)) == 1, host.stderr_text()
        assert attach_and_evaluate(host.host, host.port) == "42"


# ============================================================================= part 2: real daemon

def _session_of(daemon, project, pid):
    for s in daemon.sessions(project):
        if s.get("pid") == pid:
            return s
    return None


E2E_CASES = [("default", None, None), ("sys.executable=/bin/sh", None, "/bin/sh"),
             ("sys.executable=None", None, "none")]
E2E_CASES += [("python" + p[0], p[1], None) for p in PYTHONS_WITH_SERVER
              if p[1] != sys.executable and not p[2]][:1]   # the oldest ptvsd-only one


@pytest.mark.parametrize("label,python,fake_executable", E2E_CASES, ids=[c[0] for c in E2E_CASES])
def test_end_to_end_with_real_daemon(daemon, label, python, fake_executable):
    port = daemon.add_project("e2e")
    args = ["--sys-executable", fake_executable] if fake_executable else []
    with daemon.spawn_host("e2e", port=port, python=python, args=args) as host:
        assert host.port == port
        assert host.report["session"], host.stderr_text()
        assert helper_warnings(host) == [], host.stderr_text()

        r = daemon.ctl("wait", "e2e", "--timeout", "30", timeout=40)
        assert r.returncode == 0, (r.stdout, r.stderr, daemon.stderr_text()[-3000:])
        assert str(port) in r.stdout
        assert "127.0.0.1" in r.stdout or "localhost" in r.stdout

        session = _session_of(daemon, "e2e", host.pid)
        assert session is not None, daemon.sessions("e2e")
        assert session["id"] == host.report["session"]
        assert session["state"] == "ready"
        assert session["debugPort"] == port
        assert session["project"] == "e2e"

        assert attach_and_evaluate(host.host, host.port) == "42"
        assert host.close() == 0

    ended = wait_for(lambda: (_session_of(daemon, "e2e", host.pid) or {}).get("state") == "ended"
                     and _session_of(daemon, "e2e", host.pid), 15, interval=0.05,
                     message="session did not end after the host exited")
    assert ended["id"] == host.report["session"]


def test_end_to_end_port_zero_reports_actual_port(daemon):
    daemon.add_project("zero")
    with daemon.spawn_host("zero", port=0) as host:
        r = daemon.ctl("wait", "zero", "--timeout", "30", timeout=40)
        # Issue 20: the project's --debug-port is what the IDE is told, and this host listens
        # elsewhere: wait prints where, and fails saying so (it exited 0 before).
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert "listens on %d, but the IDE is told" % host.port in r.stderr
        assert str(host.port) in r.stdout
        session = _session_of(daemon, "zero", host.pid)
        assert session["debugPort"] == host.port
        assert attach_and_evaluate(host.host, host.port) == "42"


def test_wait_started_before_the_host(daemon):
    port = daemon.add_project("early")
    waiter = subprocess.Popen([daemon.binary("attachctl"), "wait", "early", "--timeout", "30"],
                              env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True)
    try:
        with daemon.spawn_host("early", port=port) as host:
            out, err = waiter.communicate(timeout=40)
            assert waiter.returncode == 0, (out, err)
            assert str(port) in out
            assert attach_and_evaluate(host.host, host.port) == "42"
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()


def test_host_survives_daemon_stop(daemon):
    port = daemon.add_project("survivor")
    with daemon.spawn_host("survivor", port=port) as host:
        assert daemon.ctl("wait", "survivor", "--timeout", "30").returncode == 0
        daemon.stop()
        assert host.command("session") == "SESSION %s" % host.report["session"]
        assert helper_warnings(host) == []
        assert attach_and_evaluate(host.host, host.port) == "42"
        assert host.close() == 0


def test_host_with_daemon_running_but_project_unknown(daemon):
    with daemon.spawn_host("unknownproj", timeout=3.0) as host:
        assert host.report["elapsed"] < 5.0
        assert host.report["session"] is None
        assert len(helper_warnings(host)) == 1, host.stderr_text()
        assert attach_and_evaluate(host.host, host.port) == "42"


def test_two_hosts_of_two_projects(daemon):
    pa = daemon.add_project("alpha")
    pb = daemon.add_project("beta")
    with daemon.spawn_host("alpha", port=pa, args=["--magic", "1"]) as a, \
            daemon.spawn_host("beta", port=pb, args=["--magic", "2"]) as b:
        assert daemon.ctl("wait", "alpha", "--timeout", "30").returncode == 0
        assert daemon.ctl("wait", "beta", "--timeout", "30").returncode == 0
        assert a.report["session"] != b.report["session"]
        assert attach_and_evaluate(a.host, a.port) == "1"
        assert attach_and_evaluate(b.host, b.port) == "2"
        assert a.close() == 0
        wait_for(lambda: (_session_of(daemon, "alpha", a.pid) or {}).get("state") == "ended",
                 15, interval=0.05)
        # Attached if the last look (once a second) fell while the DAP client was connected.
        assert _session_of(daemon, "beta", b.pid)["state"] in ("ready", "attached")
