"""Real debuggers through a project's attach port: debugpy (DAP), gdbserver + gdb, node --inspect.

Each host is a real debug server; the IDE side is a real client (tests/dap_client.py, gdb,
an HTTP GET) that connects to the ATTACH port only: attachd relays it to the session's own
debug port, which the test never tells the client.
"""
import http.client
import json
import os
import shutil
import subprocess
import sys

import pytest

from attachd_harness import AttachRun, _LineReader, free_port
from dap_client import DapClient

GDB = shutil.which("gdb")
GDBSERVER = shutil.which("gdbserver")
NODE = shutil.which("node")

# A host that is not fake_host.py: debugpy.listen on port 0. With a rendezvous path it
# announces DEBUG_PORT= and READY=1 there itself, without MAINPID (so any listener on the
# port makes it ready); without, attachctl run announces it and attachd discovers the port.
DEBUGPY_HOST = r"""
import socket, sys, time
import debugpy
host, port = debugpy.listen(("127.0.0.1", 0))
print("DEBUGPY %d" % port, flush=True)
MAGIC = int(sys.argv[1])
if len(sys.argv) > 2:
    rendezvous = socket.socket(socket.AF_UNIX)
    rendezvous.connect(sys.argv[2])
    rendezvous.sendall(b"DEBUG_PORT=%d\nREADY=1\n" % port)
    print("ANNOUNCED " + rendezvous.makefile().readline().strip(), flush=True)
ticks = 0
while True:
    ticks += 1
    time.sleep(0.02)
"""

# debugpy.listen() starts its adapter (the process that listens on the port it returns) as a
# daemon: double fork and setsid, so the adapter's parent is pid 1, not the host. A host
# announced with its pid is then never "the holder" of its own debug port.


def add_attach_project(daemon, name, *extra):
    port = free_port()
    daemon.ctl("add", name, "--attach-port", port, "--timeout", "30", *extra, check=True)
    return port


def test_debugpy_ide_held_before_the_host_starts_then_evaluates(daemon):
    attach = add_attach_project(daemon, "blend")
    with DapClient.connect("127.0.0.1", attach, timeout=30) as dap:
        assert daemon.sessions("blend") == []
        host = subprocess.Popen([sys.executable, "-c", DEBUGPY_HOST, "4321", daemon.rendezvous_path("blend")],
                                env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            out = _LineReader(host.stdout, "debugpy-host")
            port = int(out.next_line(30).split()[1])
            assert out.next_line(30).startswith("ANNOUNCED OK session=blend-")
            dap.attach(timeout=30)
            assert dap.evaluate("MAGIC", timeout=30) == "4321"
            assert dap.evaluate("__import__('os').getpid()", timeout=30) == str(host.pid)
            (session,) = daemon.sessions("blend")
            assert session["debugPort"] == port and session["attachPort"] == attach
            (relay,) = session["relays"]
            assert relay["session"] == session["id"]
            assert relay["peer"] == "127.0.0.1:%d" % dap.sock.getsockname()[1]
            assert relay["bytesToHost"] > 0 and relay["bytesToIDE"] > 0
            assert relay["startedAt"] < session["readyAt"]  # it was held until the host was ready
            dap.disconnect()
        finally:
            host.kill()
            host.wait(10)


def test_debugpy_fake_host_with_mainpid_held_then_evaluates(daemon):
    attach = add_attach_project(daemon, "blend")
    # F5 before Blender runs: the connection is accepted and held.
    with DapClient.connect("127.0.0.1", attach, timeout=30) as dap:
        held = daemon.sessions("blend")
        assert held == []
        status = daemon.ctl_json("list")
        assert [p["name"] for p in status] == ["blend"]
        host = daemon.spawn_host("blend", args=["--magic", "1234"])
        try:
            assert host.port != attach
            wait = daemon.ctl("wait", "blend", "--timeout", "5")
            assert wait.returncode == 0, daemon.ctl("sessions", "blend").stdout
            dap.attach(timeout=30)
            assert dap.evaluate("MAGIC", timeout=30) == "1234"
            assert dap.evaluate("__import__('os').getpid()", timeout=30) == str(host.pid)
            (session,) = daemon.sessions("blend")
            assert session["id"] == host.report["session"]
            assert session["debugPort"] == host.port and session["attachPort"] == attach
            (relay,) = session["relays"]
            assert relay["session"] == session["id"]
            assert relay["peer"] == "127.0.0.1:%d" % dap.sock.getsockname()[1]
            assert relay["bytesToHost"] > 0 and relay["bytesToIDE"] > 0
            dap.disconnect()
        finally:
            host.close()


def test_debugpy_under_attachctl_run_port_discovered(daemon):
    attach = add_attach_project(daemon, "disc")
    with AttachRun(daemon, "disc", [sys.executable, "-c", DEBUGPY_HOST, "777"]) as run:
        port = int(run.line("DEBUGPY "))
        wait = daemon.ctl("wait", "disc", "--timeout", "5")
        assert wait.returncode == 0, daemon.ctl("sessions", "disc").stdout
        assert wait.stdout.strip() == "127.0.0.1:%d" % attach
        (session,) = daemon.sessions("disc")
        # The host also listens on an internal port of its own (for debugpy's adapter): the
        # one discovered must be the one debugpy.listen returned.
        assert session["debugPort"] == port, session
        assert session["pid"] == run.pid
        with DapClient.connect("127.0.0.1", attach, timeout=30) as dap:
            dap.attach(timeout=30)
            assert dap.evaluate("MAGIC", timeout=30) == "777"
            dap.disconnect()
        assert run.stop() in (-15, 143)


@pytest.mark.skipif(not (GDB and GDBSERVER), reason="gdb and gdbserver are needed")
@pytest.mark.parametrize("discover", [False, True], ids=["debug-port", "discovered"])
def test_gdb_through_the_attach_port(daemon, discover):
    attach = add_attach_project(daemon, "native")
    port = free_port()
    while port == attach:
        port = free_port()
    listen = "127.0.0.1:%d" % (0 if discover else port)
    run = AttachRun(daemon, "native", [GDBSERVER, listen, "/bin/sleep", "30"],
                    debug_port=None if discover else port)
    with run:
        wait = daemon.ctl("wait", "native", "--timeout", "30")
        assert wait.returncode == 0, wait.stderr + daemon.stderr_text()[-2000:]
        assert wait.stdout.strip() == "127.0.0.1:%d" % attach
        (session,) = daemon.sessions("native")
        if discover:
            said = run.stderr.wait_line(lambda l: l.startswith("Listening on port "), 10)
            port = int(said.split()[-1])
        assert session["debugPort"] == port
        gdb = subprocess.run([GDB, "-nx", "-batch", "-ex", "set sysroot /",
                              "-ex", "target remote 127.0.0.1:%d" % attach,
                              "-ex", "info inferiors", "-ex", "kill"],
                             capture_output=True, text=True, timeout=60)
        out = gdb.stdout + gdb.stderr
        # -batch does not print "Remote debugging using"; `info inferiors` names the
        # connection: the attach port, never gdbserver's own.
        inferior = [l for l in out.splitlines() if l.lstrip("* ").startswith("1 ")]
        assert inferior, out
        assert "process " in inferior[0] and "/bin/sleep" in inferior[0], out
        assert "(remote 127.0.0.1:%d)" % attach in inferior[0], out
        # `kill` ended the inferior: gdbserver exits, and with it attachctl run, cleanly.
        assert run.proc.wait(30) == 0, "\n".join(run.stderr.lines())
    ended = daemon.sessions("native")[0]
    assert ended["state"] == "ended", ended


@pytest.mark.skipif(not NODE, reason="node is needed")
def test_node_inspect_discovered_and_reached_through_the_attach_port(daemon):
    attach = add_attach_project(daemon, "web")
    script = "setInterval(() => {}, 1000)"
    with AttachRun(daemon, "web", [NODE, "--inspect=127.0.0.1:0", "-e", script]) as run:
        wait = daemon.ctl("wait", "web", "--timeout", "30")
        assert wait.returncode == 0, wait.stderr
        said = run.stderr.wait_line(lambda l: l.startswith("Debugger listening on ws://"), 10)
        port = int(said.split("ws://127.0.0.1:")[1].split("/")[0])
        (session,) = daemon.sessions("web")
        assert session["debugPort"] == port
        conn = http.client.HTTPConnection("127.0.0.1", attach, timeout=30)
        conn.request("GET", "/json/version")
        reply = conn.getresponse()
        body = json.loads(reply.read().decode())
        conn.close()
        assert reply.status == 200
        assert body["Browser"].startswith("node.js/v"), body
        assert body["Browser"] == "node.js/" + subprocess.run([NODE, "--version"], capture_output=True,
                                                              text=True).stdout.strip()
        assert run.stop() in (-15, 143)
