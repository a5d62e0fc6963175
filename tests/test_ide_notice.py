"""The host hears of its IDE: NOTIFY_ATTACH=1 on the rendezvous connection brings ATTACHED=1 and
DETACHED=1 when an IDE relay to the host starts and ends; attach_ready turns them into
wait_for_ide(timeout) and on_attach(callback). Hosts that did not ask hear nothing.

Real debugpy hosts, the real daemon, tests/dap_client.py as the IDE on the attach port.
"""
import os
import subprocess
import sys
import time

import pytest

from attachd_harness import _LineReader, free_port
from dap_client import DapClient
from remote_support import SshServer, add_remote, local_daemon, wait_remote_state

HELPER_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integrations", "python")

# argv: PROJECT HELPER_DIR TIMEOUT. wait_for_ide(TIMEOUT), then on_attach; prints what it got.
HELPER_HOST = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
import attach_ready
attach_ready.start(project=sys.argv[1])
print("STARTED", flush=True)
began = time.monotonic()
got = attach_ready.wait_for_ide(timeout=float(sys.argv[3]))
print("WAITED %s %.3f" % (got, time.monotonic() - began), flush=True)
attach_ready.on_attach(lambda attached: print("ON_ATTACH %s" % attached, flush=True))
while True:
    time.sleep(0.02)
"""

# argv: RENDEZVOUS NOTIFY(0|1). debugpy announced by hand; prints every line attachd sends.
RAW_HOST = r"""
import os, socket, sys, time
os.environ["ATTACHD_HOST_PID"] = str(os.getpid())
import debugpy
host, port = debugpy.listen(("127.0.0.1", 0))
rendezvous = socket.socket(socket.AF_UNIX)
rendezvous.connect(sys.argv[1])
lines = b"DEBUG_PORT=%d\nMAINPID=%d\n" % (port, os.getpid())
if sys.argv[2] == "1":
    lines += b"NOTIFY_ATTACH=1\n"
rendezvous.sendall(lines + b"READY=1\n")
for line in rendezvous.makefile():
    print("LINE " + line.strip(), flush=True)
"""


def start(daemon, args):
    proc = subprocess.Popen([sys.executable, "-c"] + args, env=daemon.env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    return proc, _LineReader(proc.stdout, "host")


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


def add_project(daemon, name):
    port = free_port()
    daemon.ctl("add", name, "--attach-port", port, "--timeout", "60", check=True)
    return port


def ide_seen_then_gone(dap, out):
    """The IDE attaches: the host's wait_for_ide returns True and on_attach hears True; the IDE
    disconnects: on_attach hears False."""
    dap.attach(timeout=30)
    waited = out.wait_line(lambda l: l.startswith("WAITED "), 30).split()
    assert waited[1] == "True"
    assert out.wait_line(lambda l: l.startswith("ON_ATTACH"), 30) == "ON_ATTACH True"
    dap.disconnect()
    assert out.wait_line(lambda l: l.startswith("ON_ATTACH"), 30) == "ON_ATTACH False"


def test_wait_for_ide_times_out_false_without_an_ide(daemon):
    add_project(daemon, "blend")
    proc, out = start(daemon, [HELPER_HOST, "blend", HELPER_DIR, "0.5"])
    try:
        out.wait_line(lambda l: l == "STARTED", 30)
        waited = out.wait_line(lambda l: l.startswith("WAITED "), 30).split()
        assert waited[1] == "False"
        assert 0.5 <= float(waited[2]) < 5.0
    finally:
        stop(proc)


def test_wait_for_ide_true_when_the_held_ide_is_relayed_then_on_attach_hears_it_leave(daemon):
    attach = add_project(daemon, "blend")
    with DapClient.connect("127.0.0.1", attach, timeout=30) as dap:  # F5 first: held
        proc, out = start(daemon, [HELPER_HOST, "blend", HELPER_DIR, "60"])
        try:
            ide_seen_then_gone(dap, out)
        finally:
            stop(proc)


def test_attached_and_detached_only_to_hosts_that_asked(daemon):
    hosts = {}
    try:
        for name, notify in (("quiet", "0"), ("asks", "1")):
            attach = add_project(daemon, name)
            proc, out = start(daemon, [RAW_HOST, daemon.rendezvous_path(name), notify])
            hosts[name] = (proc, out, attach)
            assert out.wait_line(lambda l: l.startswith("LINE "), 30).startswith("LINE OK session=")
        for name in ("quiet", "asks"):  # the quiet host's IDE comes and goes first
            proc, out, attach = hosts[name]
            assert daemon.ctl("wait", name, "--timeout", "30").returncode == 0
            with DapClient.connect("127.0.0.1", attach, timeout=30) as dap:
                dap.attach(timeout=30)
                dap.disconnect()
        asks = hosts["asks"][1]
        assert asks.wait_line(lambda l: l == "LINE ATTACHED=1", 30)
        assert asks.wait_line(lambda l: l == "LINE DETACHED=1", 30)
        # DETACHED=1 went to the host that asked after everything of the quiet host's relay.
        quiet = [l for l in hosts["quiet"][1].lines() if l.startswith("LINE ")]
        assert quiet and all(l.startswith("LINE OK session=") for l in quiet), quiet
    finally:
        for proc, _, _ in hosts.values():
            stop(proc)


@pytest.fixture
def sshd(short_tmp, attachd_bin_dir):
    server = SshServer(short_tmp, attachd_bin_dir).start()
    yield server
    server.stop()


def test_a_remote_host_hears_of_the_ide_relayed_by_the_workstation(daemon_factory, sshd):
    # The workstation relays the IDE over ssh -W, past the remote attachd: it tells that one.
    remote = daemon_factory()
    add_project(remote, "farm")
    local = local_daemon(daemon_factory, sshd)
    attach = add_remote(local, remote)
    wait_remote_state(local, "farm", "connected")
    proc, out = start(remote, [HELPER_HOST, "farm", HELPER_DIR, "60"])
    try:
        out.wait_line(lambda l: l == "STARTED", 30)
        assert local.ctl("wait", "farm", "--timeout", "60").returncode == 0
        with DapClient.connect("127.0.0.1", attach, timeout=30) as dap:
            ide_seen_then_gone(dap, out)
    finally:
        stop(proc)
