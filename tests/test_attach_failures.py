"""Attach connections when something goes wrong: a held IDE that never sends, a debug server
that accepts and never answers, a host that dies mid-relay, a debug server that refuses the
relay. Each ends the way a user can see (EOF, an event, the session's state) and leaves no
descriptor behind.
"""
import os
import socket
import time

import pytest

from attachd_harness import (AttachRun, WatchStream, assert_fds_back, debug_server_command, free_port,
                             recv_exactly, wait_eof, wait_for, warm_attach)


def add_attach_project(daemon, name, timeout=30):
    port = free_port()
    daemon.ctl("add", name, "--attach-port", port, "--timeout", timeout, check=True)
    return port


@pytest.fixture
def watched(daemon):
    with WatchStream(daemon) as watch:
        watch.sync(daemon)
        yield watch


def test_held_ide_that_never_sends_is_closed_after_the_ready_timeout(daemon, watched):
    attach = add_attach_project(daemon, "late", timeout=1)
    baseline = warm_attach(daemon, watched, "late", attach)
    with socket.create_connection(("127.0.0.1", attach), timeout=10) as ide:
        started = time.monotonic()
        assert wait_eof(ide, 10) in (b"", None)
        assert time.monotonic() - started >= 0.9
        me = "127.0.0.1:%d" % ide.getsockname()[1]
    ended = watched.next("relayEnded", lambda e: e["relay"]["peer"] == me)
    assert ended["relay"]["endReason"] == "no session of late became ready within 1 s"
    assert "session" not in ended["relay"]
    assert "reason=no session of late became ready within 1 s" in daemon.stderr_text()
    assert_fds_back(daemon, baseline)


def test_debug_server_that_accepts_and_never_answers(daemon, watched):
    attach = add_attach_project(daemon, "mute")
    baseline = warm_attach(daemon, watched, "mute", attach)
    with AttachRun(daemon, "mute", debug_server_command("silent")) as server:
        watched.next("sessionReady", lambda e: e["session"]["id"] == server.session)
        with_host = daemon.open_fds()
        ide = socket.create_connection(("127.0.0.1", attach), timeout=10)
        ide.sendall(b"x" * 1000)
        assert server.line("ACCEPT ") == "1"
        watched.next("relayStarted", lambda e: e["relay"]["session"] == server.session)
        ide.close()
        # The IDE gave up: the debug server sees the end, with every byte.
        assert server.line("CLOSED ") == "1 1000"
        ended = watched.next("relayEnded", lambda e: e["relay"]["session"] == server.session)
        assert (ended["relay"]["bytesToHost"], ended["relay"]["bytesToIDE"]) == (1000, 0)
        assert ended["relay"]["endReason"] == "IDE closed"
        assert_fds_back(daemon, with_host)
        server.stop()
    watched.next("sessionEnded", lambda e: e["session"]["id"] == server.session)
    assert_fds_back(daemon, baseline)


def test_host_that_dies_mid_relay(daemon, watched):
    attach = add_attach_project(daemon, "crash")
    baseline = warm_attach(daemon, watched, "crash", attach)
    server = AttachRun(daemon, "crash", debug_server_command("echo"))
    with server:
        watched.next("sessionReady", lambda e: e["session"]["id"] == server.session)
        ide = socket.create_connection(("127.0.0.1", attach), timeout=10)
        with ide:
            ide.sendall(b"before")
            assert recv_exactly(ide, 6) == b"before"
            os.kill(server.child_pid, 9)
            assert wait_eof(ide, 10) in (b"", None)
        ended = watched.next("relayEnded", lambda e: e["relay"]["session"] == server.session)
        # Whichever the daemon heard first: the host's socket closing, or the host's process exit.
        reason = ended["relay"]["endReason"]
        assert reason in ("host closed", "host reset the connection") or reason.startswith(
            "session %s ended: process " % server.session), ended
        assert (ended["relay"]["bytesToHost"], ended["relay"]["bytesToIDE"]) == (6, 6)
        # The session may have ended before the relay did (the process exit heard first): then
        # its event came before relayEnded, which `next` skipped on the way.
        ended_first = [e for e in watched.seen if e.get("kind") == "sessionEnded" and e["session"]["id"] == server.session]
        gone = ended_first[0] if ended_first else watched.next("sessionEnded", lambda e: e["session"]["id"] == server.session)
        assert gone["session"]["state"] == "ended"
        assert server.proc.wait(10) == -9 or server.proc.returncode == 137
    assert_fds_back(daemon, baseline)


def _refusing_host(daemon, project, port):
    """A host without a pid whose port listens on 127.0.0.2 only: LISTEN state says ready, but a
    connection to 127.0.0.1 is refused."""
    wrong = socket.socket()
    wrong.bind(("127.0.0.2", port))
    wrong.listen(1)
    rendezvous = socket.socket(socket.AF_UNIX)
    rendezvous.connect(daemon.rendezvous_path(project))
    rendezvous.sendall(b"DEBUG_PORT=%d\nREADY=1\n" % port)
    reply = rendezvous.makefile().readline()
    assert reply.startswith("OK session=")
    return wrong, rendezvous, reply.split("session=")[1].strip()


def test_debug_server_that_refuses_the_relay(daemon, watched):
    attach = add_attach_project(daemon, "refuse")
    baseline = warm_attach(daemon, watched, "refuse", attach)
    port = free_port()
    wrong, rendezvous, session = _refusing_host(daemon, "refuse", port)
    with rendezvous:
        watched.next("sessionReady", lambda e: e["session"]["id"] == session)
        ide = socket.create_connection(("127.0.0.1", attach), timeout=10)
        with ide:
            pending = watched.next("sessionPending", lambda e: e["session"]["id"] == session)
            assert pending["session"]["problem"] == "the debug server refused the relay: connection refused"
            assert "debug server refused the relay; holding the IDE" in daemon.stderr_text()
            # The IDE is held, not closed: once the debug server listens where it should, it is
            # relayed, and the bytes it sent while held arrive.
            ide.sendall(b"held")
            wrong.close()
            right = socket.socket()
            right.bind(("127.0.0.1", port))
            right.listen(1)
            with right:
                right.settimeout(10)
                conn, _ = right.accept()
                with conn:
                    assert recv_exactly(conn, 4) == b"held"
                    conn.sendall(b"ok")
                    assert recv_exactly(ide, 2) == b"ok"
        watched.next("relayEnded", lambda e: e["relay"]["session"] == session)
    watched.next("sessionEnded", lambda e: e["session"]["id"] == session)
    assert_fds_back(daemon, baseline)


def test_refused_relay_is_not_retried_in_a_hot_loop(daemon, watched):
    attach = add_attach_project(daemon, "spin")
    wrong, rendezvous, session = _refusing_host(daemon, "spin", free_port())
    with rendezvous, wrong, socket.create_connection(("127.0.0.1", attach), timeout=10):
        watched.next("sessionPending", lambda e: e["session"]["id"] == session)
        flips = 0
        deadline = time.monotonic() + 1.0
        try:
            while time.monotonic() < deadline:
                watched.next("sessionPending", lambda e: e["session"]["id"] == session,
                             timeout=max(deadline - time.monotonic(), 0.01))
                flips += 1
        except TimeoutError:
            pass
        assert flips <= 5, "%d refused relay attempts in one second" % flips


def test_held_ides_that_went_away_free_their_slots(daemon, watched):
    attach = add_attach_project(daemon, "gone", timeout=60)
    ides = [socket.create_connection(("127.0.0.1", attach), timeout=10) for _ in range(64)]
    # All 64 held (the log says so; closed before accept they would be refused instead).
    wait_for(lambda: daemon.stderr_text().count("IDE connected to the attach port") >= 64, 10)
    for ide in ides:
        ide.close()
    with socket.create_connection(("127.0.0.1", attach), timeout=10) as ide:
        with AttachRun(daemon, "gone", debug_server_command("echo")):
            ide.sendall(b"live")
            assert recv_exactly(ide, 4) == b"live"
