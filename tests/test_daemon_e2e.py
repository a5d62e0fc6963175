"""The first slice end to end: the real attachd, attachctl and standard varlink clients."""
import os
import socket
import subprocess
import sys
import time

import pytest

from attachd_harness import free_port
from dap_client import DapClient
from varlink_raw import RawVarlink

HERE = os.path.dirname(os.path.abspath(__file__))


def start_article_host(daemon, port, mode="plain"):
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "article_host.py"), str(port), mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=daemon.env)
    return proc


def read_listening_time(proc):
    line = proc.stdout.readline()
    assert line.startswith("LISTENING"), "host said %r; stderr: %s" % (line, proc.stderr.read())
    return float(line.split()[1])


def stop(proc):
    if proc.poll() is None:
        proc.stdin.close()
        proc.wait(timeout=10)


def test_python_varlink_client_drives_the_daemon(daemon):
    import varlink
    port = free_port()
    with varlink.Client(address=daemon.varlink_address) as client:
        with client.open("org.varlink.service") as service:
            info = service.GetInfo()
            assert "io.attachd.Broker" in info["interfaces"]
            assert info["product"] == "attachd"
        with client.open("io.attachd.Broker") as broker:
            added = broker.AddProject(name="maxtools", debugPort=port)
            assert added["project"]["debugPort"] == port
            assert added["project"]["rendezvousSocket"] == daemon.rendezvous_path("maxtools")
            names = [p["name"] for p in broker.ListProjects()["projects"]]
            assert names == ["maxtools"]
            with pytest.raises(varlink.VarlinkError) as raised:
                broker.Wait(project="maxtools", timeout=0.2)
            assert raised.value.error() == "io.attachd.Broker.Timeout"
            with pytest.raises(varlink.VarlinkError) as raised:
                broker.Wait(project="nope", timeout=1)
            assert raised.value.error() == "io.attachd.Broker.ProjectNotFound"
    # A host announces with lines; Wait through the varlink client returns its session.
    host = daemon.spawn_host("maxtools", port=port)
    try:
        with daemon.broker() as broker:
            session = broker.Wait(project="maxtools", timeout=30)["session"]
        assert session["state"] == "ready"
        assert session["debugPort"] == port
        assert session["origin"] == "lines"
    finally:
        host.close()


def test_wait_before_and_after_readiness_with_two_projects(daemon):
    port_a, port_b = free_port(), free_port()
    daemon.ctl("add", "alpha", "--debug-port", port_a, check=True)
    daemon.ctl("add", "beta", "--debug-port", port_b, check=True)
    waiter = subprocess.Popen([daemon.binary("attachctl"), "wait", "alpha", "--timeout", "30"],
                              env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    host_b = daemon.spawn_host("beta", port=port_b)
    try:
        # beta's host being ready must not release alpha's waiter.
        r = daemon.ctl("wait", "beta", "--timeout", "30")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "127.0.0.1:%d" % port_b
        assert waiter.poll() is None
        host_a = daemon.spawn_host("alpha", port=port_a)
        try:
            out, err = waiter.communicate(timeout=30)
            assert waiter.returncode == 0, err
            assert out.strip() == "127.0.0.1:%d" % port_a
            # After readiness, wait answers at once.
            again = daemon.ctl("wait", "alpha", "--timeout", "5")
            assert again.returncode == 0 and again.stdout.strip() == "127.0.0.1:%d" % port_a
        finally:
            host_a.close()
    finally:
        host_b.close()
        if waiter.poll() is None:
            waiter.kill()


def test_wait_times_out_with_exit_124(daemon):
    daemon.add_project("idle")
    started = time.monotonic()
    r = daemon.ctl("wait", "idle", "--timeout", "0.3")
    assert r.returncode == 124, (r.stdout, r.stderr)
    assert time.monotonic() - started < 10
    assert "idle" in r.stderr


def test_handoff_with_the_articles_bootstrap(daemon):
    port = free_port()
    daemon.ctl("add", "maxtools", "--debug-port", port, "--rendezvous-port", port, check=True)
    waiter = subprocess.Popen([daemon.binary("attachctl"), "wait", "maxtools", "--timeout", "30"],
                              env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    host = start_article_host(daemon, port)
    try:
        listening_at = read_listening_time(host)
        out, err = waiter.communicate(timeout=30)
        released_at = time.time()
        assert waiter.returncode == 0, err
        assert out.strip() == "127.0.0.1:%d" % port
        print("LISTEN -> wait exit: %.1f ms" % ((released_at - listening_at) * 1000))
        sessions = daemon.sessions("maxtools")
        assert [s["state"] for s in sessions] == ["ready"]
        assert sessions[0]["origin"] == "connect"
    finally:
        stop(host)
    # The debug server went away: the session ends and the daemon takes its port back.
    from attachd_harness import wait_for
    wait_for(lambda: daemon.sessions("maxtools")[0]["state"] == "ended", timeout=10)
    # A second launch works the same way, on the re-armed rendezvous.
    waiter = subprocess.Popen([daemon.binary("attachctl"), "wait", "maxtools", "--timeout", "30"],
                              env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    host = start_article_host(daemon, port)
    try:
        read_listening_time(host)
        out, err = waiter.communicate(timeout=30)
        assert waiter.returncode == 0, err
    finally:
        stop(host)


def test_real_debugpy_host_then_dap_attach(daemon):
    port = free_port()
    daemon.ctl("add", "blender", "--debug-port", port, "--rendezvous-port", port, check=True)
    host = start_article_host(daemon, port, mode="debugpy")
    try:
        r = daemon.ctl("wait", "blender", "--timeout", "60")
        assert r.returncode == 0, r.stderr
        read_listening_time(host)
        with DapClient.connect("127.0.0.1", port, timeout=30) as dap:
            response = dap.attach()
            assert response.get("success"), response
    finally:
        stop(host)


def test_pipelined_calls_are_answered_in_order(daemon):
    daemon.add_project("p1")
    raw = RawVarlink(daemon.socket)
    try:
        # A Wait that blocks for a while, then two quick calls, all in one write.
        raw.send_raw(b'{"method":"io.attachd.Broker.Wait","parameters":{"project":"p1","timeout":0.3}}\0'
                     b'{"method":"org.varlink.service.GetInfo"}\0'
                     b'{"method":"io.attachd.Broker.GetStatus"}\0'
                     b'{"method":"io.attachd.Broker.Nope"}\0')
        first = raw.receive()
        assert first["error"] == "io.attachd.Broker.Timeout"
        assert "interfaces" in raw.receive()["parameters"]
        assert raw.receive()["parameters"]["projects"] == 1
        assert raw.receive()["error"] == "org.varlink.service.MethodNotFound"
    finally:
        raw.close()


def test_watch_streams_project_and_session_events(daemon):
    raw = RawVarlink(daemon.socket)
    try:
        raw.send("io.attachd.Broker.Watch", {}, more=True)
        ack = raw.receive()
        assert ack["continues"] is True and "event" not in ack["parameters"]
        port = daemon.add_project("watched")
        event = raw.receive()["parameters"]["event"]
        assert event["kind"] == "projectAdded" and event["project"]["name"] == "watched"
        host = daemon.spawn_host("watched", port=port)
        try:
            kinds = []
            while "sessionReady" not in kinds:
                kinds.append(raw.receive(timeout=30)["parameters"]["event"]["kind"])
            assert kinds[0] == "sessionStarted"
        finally:
            host.close()
        assert raw.receive(timeout=30)["parameters"]["event"]["kind"] == "sessionEnded"
    finally:
        raw.close()


def test_a_waiter_whose_client_goes_away_is_dropped(daemon):
    daemon.add_project("gone")
    raw = RawVarlink(daemon.socket)
    raw.send("io.attachd.Broker.Wait", {"project": "gone", "timeout": 60})
    with daemon.broker() as broker:
        from attachd_harness import wait_for
        wait_for(lambda: broker.GetStatus()["waiters"] == 1, timeout=10)
        raw.close()
        wait_for(lambda: broker.GetStatus()["waiters"] == 0, timeout=10)


def test_errors_are_qualified_varlink_errors(daemon):
    raw = RawVarlink(daemon.socket)
    try:
        r = raw.call("io.attachd.Broker.AddProject", {"name": "bad/name", "debugPort": 5678})
        assert r["error"] == "io.attachd.Broker.InvalidProjectName"
        assert r["parameters"]["name"] == "bad/name"
        r = raw.call("io.attachd.Broker.AddProject", {"name": "ok"})
        assert r == {"error": "org.varlink.service.InvalidParameter", "parameters": {"parameter": "debugPort"}}
        r = raw.call("com.example.Other.Method")
        assert r["error"] == "org.varlink.service.InterfaceNotFound"
        r = raw.call("org.varlink.service.GetInterfaceDescription", {"interface": "io.attachd.Broker"})
        path = os.path.join(HERE, "..", "Sources", "AttachProtocol", "io.attachd.Broker.varlink")
        with open(path) as f:
            assert r["parameters"]["description"] == f.read()
    finally:
        raw.close()


def test_projects_survive_a_restart(daemon):
    port = daemon.add_project("kept")
    daemon.restart()
    projects = daemon.ctl_json("list")
    assert [(p["name"], p["debugPort"]) for p in projects] == [("kept", port)]


def test_a_host_whose_debug_server_went_away_is_not_handed_out(daemon):
    port = daemon.add_project("flaky")
    host = socket.socket(socket.AF_UNIX)
    host.settimeout(10)
    host.connect(daemon.rendezvous_path("flaky"))
    replies = host.makefile("rb")
    host.sendall(b"DEBUG_PORT=%d\nREADY=1\n" % port)
    assert replies.readline().startswith(b"OK session=")
    assert replies.readline().startswith(b"OK session=")
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(1)
    try:
        assert daemon.ctl("wait", "flaky", "--timeout", "10").returncode == 0
        server.close()
        # The host is still connected, but nothing listens: a wait must not return.
        r = daemon.ctl("wait", "flaky", "--timeout", "0.5")
        assert r.returncode == 124, (r.stdout, r.stderr)
        assert [s["state"] for s in daemon.sessions("flaky")] == ["pending"]
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(1)
        assert daemon.ctl("wait", "flaky", "--timeout", "10").returncode == 0
    finally:
        server.close()
        host.close()


def test_a_session_ends_when_its_main_pid_exits(daemon):
    port = daemon.add_project("pidful")
    watch = RawVarlink(daemon.socket)
    process = subprocess.Popen(["sleep", "60"])
    try:
        watch.send("io.attachd.Broker.Watch", {"project": "pidful"}, more=True)
        assert "event" not in watch.receive()["parameters"]
        r = daemon.ctl("announce", "pidful", "--debug-port", port, "--pid", process.pid)
        assert r.returncode == 0, r.stderr
        assert watch.receive()["parameters"]["event"]["kind"] == "sessionStarted"
        process.kill()
        process.wait()
        event = watch.receive(timeout=10)["parameters"]["event"]
        assert event["kind"] == "sessionEnded"
        assert event["session"]["endReason"] == "process %d exited" % process.pid
    finally:
        if process.poll() is None:
            process.kill()
        watch.close()


def test_a_session_is_attached_while_the_ide_is_connected(daemon):
    port = daemon.add_project("watched-attach")
    watch = RawVarlink(daemon.socket)
    host = daemon.spawn_host("watched-attach", port=port)
    try:
        watch.send("io.attachd.Broker.Watch", {"project": "watched-attach"}, more=True)
        assert "event" not in watch.receive()["parameters"]
        assert daemon.ctl("wait", "watched-attach", "--timeout", "30").returncode == 0

        def next_kind(wanted, timeout=15):
            while True:
                event = watch.receive(timeout=timeout)["parameters"]["event"]
                if event["kind"] == wanted:
                    return event

        with DapClient.connect(host.host, host.port, timeout=30) as dap:
            assert dap.attach().get("success")
            event = next_kind("sessionAttached")
            assert event["session"]["state"] == "attached"
            assert [s["state"] for s in daemon.sessions("watched-attach")] == ["attached"]
            # Attached still counts as ready for a second wait.
            assert daemon.ctl("wait", "watched-attach", "--timeout", "5").returncode == 0
            dap.disconnect()
        assert next_kind("sessionReady")["session"]["state"] == "ready"
    finally:
        host.close()
        watch.close()
