"""Who may use an attach port, and how many: another user's connection is closed before a byte
reaches the debug server; beyond the per-project limit (64; attachd has no flag for it) the
extra connections are closed and the others still work. No descriptor is left behind.
"""
import os
import socket
import sys

import pytest

from attachd_harness import (AttachRun, WatchStream, assert_fds_back, debug_server_command, free_port,
                             recv_exactly, wait_eof, warm_attach)
from hardening_support import as_nobody, run

PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
PER_PROJECT = 64  # DaemonOptions.maxAttachPerProject

# Connects, sends a DAP-looking request at once, prints what comes back until the end.
STRANGER = r"""
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    s.sendall(b'Content-Length: 2\r\n\r\n{}')
except OSError as e:
    print("SEND " + type(e).__name__)
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    print("EOF %d" % len(data))
except ConnectionResetError:
    print("RESET %d" % len(data))
"""


def add_attach_project(daemon, name):
    port = free_port()
    daemon.ctl("add", name, "--attach-port", port, "--timeout", "60", check=True)
    return port


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as nobody")
def test_another_users_ide_never_reaches_the_debug_server(daemon):
    attach = add_attach_project(daemon, "mine")
    with WatchStream(daemon) as watch:
        watch.sync(daemon)
        baseline = warm_attach(daemon, watch, "mine", attach)
        with AttachRun(daemon, "mine", debug_server_command("echo")) as server:
            watch.next("sessionReady", lambda e: e["session"]["id"] == server.session)
            baseline_with_host = daemon.open_fds()
            stranger = run(as_nobody([PYTHON, "-c", STRANGER, str(attach)]))
            assert stranger.returncode == 0, stranger.stderr
            assert stranger.stdout.split()[-2:] in (["EOF", "0"], ["RESET", "0"]), stranger.stdout
            assert "refused an attach connection from another user" in daemon.stderr_text()
            assert "uid=65534" in daemon.stderr_text()
            # The owner's IDE is the first connection the debug server ever accepted.
            with socket.create_connection(("127.0.0.1", attach), timeout=10) as ide:
                ide.sendall(b"owner")
                assert recv_exactly(ide, 5) == b"owner"
            assert server.line("ACCEPT ") == "1"
            assert server.line("CLOSED ") == "1 5"
            watch.next("relayEnded", lambda e: e["relay"]["session"] == server.session)
            assert_fds_back(daemon, baseline_with_host)
        watch.next("sessionEnded", lambda e: e["session"]["id"] == server.session)
        assert_fds_back(daemon, baseline)


def test_flood_beyond_the_per_project_limit(daemon):
    attach = add_attach_project(daemon, "flood")
    other_attach = add_attach_project(daemon, "calm")
    with WatchStream(daemon) as watch:
        watch.sync(daemon)
        baseline = warm_attach(daemon, watch, "flood", attach)
        ides = []
        try:
            # No session is ready: every connection is held, up to the limit.
            for _ in range(PER_PROJECT + 6):
                ides.append(socket.create_connection(("127.0.0.1", attach), timeout=10))
            for extra in ides[PER_PROJECT:]:
                assert wait_eof(extra, 10) in (b"", None)
            assert daemon.stderr_text().count("too many attach connections; closing one") == 6
            # Another project's limit is its own.
            with socket.create_connection(("127.0.0.1", other_attach), timeout=10) as calm:
                # The held ones still work once a host is ready.
                with AttachRun(daemon, "flood", debug_server_command("echo")) as server:
                    for n, ide in enumerate(ides[:PER_PROJECT]):
                        ide.sendall(b"%04d" % n)
                    for n, ide in enumerate(ides[:PER_PROJECT]):
                        assert recv_exactly(ide, 4, 20) == b"%04d" % n
                    (session,) = [s for s in daemon.sessions("flood") if s["id"] == server.session]
                    assert len(session["relays"]) == PER_PROJECT
                    # A slot freed is a slot: one more fits after one closes.
                    ides[0].close()
                    watch.next("relayEnded", lambda e: e["relay"]["session"] == server.session)
                    again = socket.create_connection(("127.0.0.1", attach), timeout=10)
                    ides[0] = again
                    again.sendall(b"more")
                    assert recv_exactly(again, 4) == b"more"
                    for ide in ides[:PER_PROJECT]:
                        ide.close()
                    for _ in range(PER_PROJECT):
                        watch.next("relayEnded", lambda e: e["relay"]["session"] == server.session)
                    server.stop()
                watch.next("sessionEnded", lambda e: e["session"]["id"] == server.session)
                # The other project's IDE was held all along, and is served by its own host.
                with AttachRun(daemon, "calm", debug_server_command("echo")) as calm_server:
                    calm.sendall(b"calm")
                    assert recv_exactly(calm, 4) == b"calm"
                    calm.close()
                    watch.next("relayEnded", lambda e: e["relay"]["session"] == calm_server.session)
                    calm_server.stop()
                watch.next("sessionEnded", lambda e: e["session"]["id"] == calm_server.session)
        finally:
            for ide in ides:
                ide.close()
        assert_fds_back(daemon, baseline)
