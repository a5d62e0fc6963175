"""`attachctl doctor NAME` on hosts with an embedded interpreter (sys.executable is the
application, or None), run for real: tests/fake_host.py with the helper and real debugpy,
over the real daemon. The helper reports what it found (EXECUTABLE=, PYTHON=) on the
rendezvous; `sessions --json` carries it, and doctor explains it: a note (exit 0) when the
helper ran debugpy's adapter with another Python, a problem with its fix (exit 1) when it
found none, a warning when the interpreter it was given does not run."""
import json
import os

import pytest

from attachd_harness import HostProcess, wait_for
from test_host_helper import _fake_application, attach_and_evaluate, helper_warnings


def host_env(daemon, **extra):
    env = dict(daemon.env)
    env.pop("ATTACHD_PYTHON", None)
    env.update(extra)
    return env


def session_of(daemon, project, pid):
    return next((s for s in daemon.sessions(project) if s.get("pid") == pid), None)


def doctor(daemon, name, *args):
    return daemon.ctl("doctor", name, *args, timeout=30)


@pytest.mark.parametrize("fake_executable", ["APP", "none"])
def test_doctor_notes_the_interpreter_the_adapter_ran_with(daemon, fake_executable, short_tmp):
    exe = _fake_application(short_tmp) if fake_executable == "APP" else "none"
    port = daemon.add_project("blend")
    with HostProcess("blend", env=host_env(daemon), port=port, args=["--sys-executable", exe]) as host:
        assert helper_warnings(host) == [], host.stderr_text()
        r = daemon.ctl("wait", "blend", "--timeout", "30", timeout=40)
        assert r.returncode == 0, (r.stdout, r.stderr)

        session = session_of(daemon, "blend", host.pid)
        shown = "None" if exe == "none" else exe + " (the application, not Python)"
        assert session["executable"] == ("" if exe == "none" else exe)
        chosen = session["python"]
        assert os.path.basename(chosen).startswith("python") and os.access(chosen, os.X_OK), session

        r = doctor(daemon, "blend")
        assert r.returncode == 0, r.stdout  # a note is no problem
        lines = r.stdout.splitlines()
        assert lines[0] == ("note: blend: host session %s: the host's sys.executable is %s; attach_ready "
                            "ran debugpy's adapter with %s" % (session["id"], shown, chosen)), r.stdout
        assert lines[-1].startswith("all well"), r.stdout
        assert "fix:" not in r.stdout

        r = doctor(daemon, "blend", "--json")
        assert r.returncode == 0
        assert [(f["check"], f["severity"]) for f in json.loads(r.stdout)] == [("embedded-python", "note")]
        assert attach_and_evaluate(host.host, host.port) == "42"


def test_doctor_says_how_to_give_an_interpreter_when_none_was_found(daemon, short_tmp):
    """sys.executable None, no Python next to the embedded one (sys.prefix), none on PATH,
    no ATTACHD_PYTHON: debugpy cannot start its adapter, and doctor says what to set."""
    empty = os.path.join(short_tmp, "empty")
    os.mkdir(empty)
    port = daemon.add_project("nopy")
    with HostProcess("nopy", env=host_env(daemon, PATH=empty), port=port,
                     args=["--sys-executable", "none", "--prefix", empty, "--keep-running-on-error"]) as host:
        assert "RuntimeError" in host.report["error"], host.report
        ended = wait_for(lambda: (session_of(daemon, "nopy", host.pid) or {}).get("state") == "ended"
                         and session_of(daemon, "nopy", host.pid), 15, interval=0.05,
                         message="the session did not end when the debug server failed to start")
        assert ended["executable"] == "" and ended["python"] == ""
        assert ended["status"].startswith("debug server did not start: RuntimeError: ")

        r = doctor(daemon, "nopy")
        assert r.returncode == 1, r.stdout
        assert ("problem: nopy: host session %s: the host's sys.executable is None, and attach_ready found "
                "no Python for debugpy's adapter" % ended["id"]) in r.stdout, r.stdout
        assert "the host's last STATUS: debug server did not start: RuntimeError: " in r.stdout
        assert "fix: the host's debug server did not start" in r.stdout
        assert ("  fix: set ATTACHD_PYTHON=/path/to/python3.X (Python 3.8 or newer, best the host's own "
                "version) in the host's environment, or pass python=\"/path/to/python3.X\" to "
                "attach_ready.start()") in r.stdout, r.stdout
        found = json.loads(doctor(daemon, "nopy", "--json").stdout)
        assert [f["check"] for f in found] == ["session-ended", "no-adapter-python"]
        assert found[1]["severity"] == "problem"

        table = daemon.ctl("sessions", "nopy", check=True).stdout
        assert "no Python for debugpy's adapter (sys.executable None)" in table, table
        assert host.command("magic") == "MAGIC 42"  # the application runs on


def test_doctor_warns_when_the_given_interpreter_does_not_run(daemon, short_tmp):
    missing = os.path.join(short_tmp, "no-such-python3")
    port = daemon.add_project("badpy")
    with HostProcess("badpy", env=host_env(daemon, ATTACHD_PYTHON=missing), port=port,
                     args=["--sys-executable", "none", "--keep-running-on-error"]) as host:
        assert host.report["error"], host.report
        wait_for(lambda: (session_of(daemon, "badpy", host.pid) or {}).get("state") == "ended", 15,
                 interval=0.05)
        assert session_of(daemon, "badpy", host.pid)["python"] == missing
        r = doctor(daemon, "badpy")
        assert r.returncode == 1, r.stdout
        assert "warning: badpy: host session" in r.stdout
        assert "attach_ready ran debugpy's adapter with %s, and the debug server is not listening" % missing in r.stdout
        assert "`%s -c 'import sys; print(sys.version)'`" % missing in r.stdout


def test_an_ordinary_host_reports_nothing(daemon):
    port = daemon.add_project("plain")
    with HostProcess("plain", env=host_env(daemon), port=port) as host:
        assert daemon.ctl("wait", "plain", "--timeout", "30", timeout=40).returncode == 0
        session = session_of(daemon, "plain", host.pid)
        assert "executable" not in session and "python" not in session, session
        r = doctor(daemon, "plain")
        assert r.returncode == 0 and r.stdout.startswith("all well"), r.stdout
