"""The host helper as a pip package, and its `python -m attach_ready --check`.

A fresh venv (`python -m venv`) gets `pip install ./integrations/python` (no dependencies; pip
fetches setuptools for the isolated build from the package index, as any pip install of a
source tree does). The venv has no debug server of its own: the tests that need debugpy put
the test interpreter's debugpy on PYTHONPATH (same Python version, so its compiled parts load).
The rendezvous checks run against the real attachd (`daemon` fixture) or a fake rendezvous.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

from attachd_harness import _SCRUB, HELPER_DIR, FakeRendezvous, free_port, wait_for

with open(os.path.join(HELPER_DIR, "attach_ready.py")) as _f:
    HELPER_VERSION = re.search(r'^__version__ = "([^"]+)"$', _f.read(), re.M).group(1)


def _run(cmd, env=None, timeout=120):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def venv():
    path = tempfile.mkdtemp(prefix="attachd-venv-")
    try:
        r = _run([sys.executable, "-m", "venv", path])
        assert r.returncode == 0, r.stderr
        python = os.path.join(path, "bin", "python")
        r = _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", HELPER_DIR],
                 timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        yield python
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _debugpy_path():
    try:
        import debugpy
    except ImportError:
        pytest.skip("debugpy is not installed for %s (scripts/setup-deps --test)" % sys.executable)
    return os.path.dirname(os.path.dirname(os.path.abspath(debugpy.__file__))), debugpy.__version__


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB and k != "PYTHONPATH"}
    env.update(extra)
    return env


def _lines(output):
    """{label: text} of the check's `label:  text` lines."""
    found = {}
    for line in output.splitlines():
        label, _, text = line.partition(":")
        found[label.strip()] = text.strip()
    return found


def _site_module(python):
    r = _run([python, "-c", "import attach_ready; print(attach_ready.__file__)"], env=_env())
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_installs_the_one_module_and_a_script(venv):
    installed = _site_module(venv)
    assert "site-packages" in installed and installed.endswith("attach_ready.py")
    with open(installed, "rb") as a, open(os.path.join(HELPER_DIR, "attach_ready.py"), "rb") as b:
        assert a.read() == b.read()
    show = _lines(_run([venv, "-m", "pip", "show", "attach-ready"], env=_env()).stdout)
    assert show["Version"] == HELPER_VERSION
    assert show["Requires"] == ""
    script = os.path.join(os.path.dirname(venv), "attach-ready")
    r = _run([script, "--help"], env=_env())
    assert r.returncode == 0 and "--check" in r.stdout, r.stdout + r.stderr


def test_check_without_a_debug_server_fails(venv):
    r = _run([venv, "-m", "attach_ready", "--check"], env=_env())
    assert r.returncode == 1, r.stdout + r.stderr
    lines = _lines(r.stdout)
    assert lines["attach_ready"].startswith(HELPER_VERSION + " (" + os.path.dirname(os.path.dirname(venv)))
    assert lines["debug server"] == "none: neither debugpy nor ptvsd can be imported"
    assert lines["rendezvous"].startswith("unknown: give --project NAME")
    assert lines["result"] == "not ready: no debug server to start"


def test_usage_errors(venv):
    assert _run([venv, "-m", "attach_ready"], env=_env()).returncode == 2
    r = _run([venv, "-m", "attach_ready", "--check", "--bogus"], env=_env())
    assert r.returncode == 2 and "unknown argument '--bogus'" in r.stderr


def test_check_with_debugpy_and_a_running_daemon(venv, daemon):
    path, version = _debugpy_path()
    port = daemon.add_project("pkgcheck")
    env = _env(PYTHONPATH=path, XDG_RUNTIME_DIR=daemon.runtime_dir)
    r = _run([venv, "-m", "attach_ready", "--check", "--project", "pkgcheck"], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = _lines(r.stdout)
    assert lines["debug server"].startswith("debugpy %s (" % version)
    assert re.match(r".*/bin/python\S* is a Python %d\.%d: debugpy's adapter runs with it \(no fix needed\)$"
                    % sys.version_info[:2], lines["sys.executable"]), lines
    assert lines["project"] == "pkgcheck"
    assert lines["rendezvous"] == "unix %s (from $XDG_RUNTIME_DIR)" % daemon.rendezvous_path("pkgcheck")
    assert lines["reachable"] == "yes, attachd answered"
    assert lines["result"] == "start() would start debugpy and announce it to attachd"
    # The check asked a question attachd refuses: it opened no session. A bare connect would
    # have (the article's bootstrap), as the second half shows.
    assert daemon.sessions("pkgcheck") == []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(daemon.rendezvous_path("pkgcheck"))
    wait_for(lambda: daemon.sessions("pkgcheck"), 10, message="bare connect opened no session")
    assert port == daemon.sessions("pkgcheck")[0]["debugPort"]


def test_check_project_not_added(venv, daemon):
    env = _env(PYTHONPATH=_debugpy_path()[0], XDG_RUNTIME_DIR=daemon.runtime_dir)
    r = _run([venv, "-m", "attach_ready", "--check", "--project", "nosuch"], env=env)
    assert r.returncode == 1
    lines = _lines(r.stdout)
    assert lines["reachable"] == "no: no rendezvous socket (is attachd running and the project added?)"
    assert lines["result"] == "not ready: attachd not reached: the debug server would start unannounced"


def test_check_tcp_rendezvous_from_the_environment(venv, daemon):
    path = _debugpy_path()[0]
    rport = free_port()
    daemon.add_project("pkgtcp", None, "--rendezvous-port", str(rport))
    env = _env(PYTHONPATH=path, ATTACHD_RENDEZVOUS="tcp:127.0.0.1:%d" % rport)
    r = _run([venv, "-m", "attach_ready", "--check"], env=env)
    assert r.returncode == 0, r.stdout
    lines = _lines(r.stdout)
    assert lines["rendezvous"] == "tcp 127.0.0.1:%d (from $ATTACHD_RENDEZVOUS)" % rport
    assert lines["reachable"] == "yes, attachd answered"
    assert daemon.sessions("pkgtcp") == []


def test_check_a_rendezvous_that_never_answers(venv):
    fake = FakeRendezvous(mode="silent")
    try:
        env = _env(PYTHONPATH=_debugpy_path()[0], ATTACHD_RENDEZVOUS=fake.env_value)
        r = _run([venv, "-m", "attach_ready", "--check", "--project", "p", "--timeout", "0.5"], env=env)
        assert r.returncode == 1
        assert _lines(r.stdout)["reachable"] == "no: connected, but no answer (timed out)"
    finally:
        fake.close()


def test_check_in_an_embedded_interpreter(venv):
    path = _debugpy_path()[0]
    code = ("import sys; sys.executable = '/opt/hostapp/bin/hostapp'; import attach_ready; "
            "sys.exit(attach_ready.check())")
    r = _run([venv, "-c", code], env=_env(PYTHONPATH=path))
    assert r.returncode == 0, r.stdout + r.stderr
    text = _lines(r.stdout)["sys.executable"]
    venv_bin = os.path.dirname(venv)
    assert text.startswith("'/opt/hostapp/bin/hostapp' is not a matching Python (embedded interpreter): "
                           "fix needed, debugpy's adapter would run with %s/python" % venv_bin), text
    r = _run([venv, "-c", code], env=_env(PYTHONPATH=path, ATTACHD_PYTHON="/usr/bin/python3"))
    assert "debugpy's adapter runs with $ATTACHD_PYTHON=/usr/bin/python3" in r.stdout
