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

from attachd_harness import AttachRun, free_port
from dap_client import DapClient

GDB = shutil.which("gdb")
GDBSERVER = shutil.which("gdbserver")
NODE = shutil.which("node")

# A host that is not fake_host.py: debugpy.listen on port 0, no announcement of its own
# (attachctl run announces it, and attachd discovers the port the tree listens on).
DEBUGPY_HOST = r"""
import sys, time
import debugpy
host, port = debugpy.listen(("127.0.0.1", 0))
print("DEBUGPY %d" % port, flush=True)
MAGIC = int(sys.argv[1])
ticks = 0
while True:
    ticks += 1
    time.sleep(0.02)
"""


def add_attach_project(daemon, name, *extra):
    port = free_port()
    daemon.ctl("add", name, "--attach-port", port, "--timeout", "30", *extra, check=True)
    return port


def test_debugpy_ide_held_before_the_host_starts_then_evaluates(daemon):
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
        wait = daemon.ctl("wait", "disc", "--timeout", "30")
        assert wait.returncode == 0, wait.stderr
        assert wait.stdout.strip() == "127.0.0.1:%d" % attach
        (session,) = daemon.sessions("disc")
        # debugpy's adapter is a child process that also listens on an internal port of its
        # own: the one discovered must be the one debugpy.listen returned.
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
