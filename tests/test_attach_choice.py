"""Which session an IDE connection on the attach port reaches, and what the user sees of it.

Two hosts of one project (`attachctl run` over a debug server that greets with its pid): the
first IDE goes to the newest ready session, the second to the other, `attachctl select` pins,
`--clear` unpins; `attachctl sessions NAME` and `attachctl watch` show which IDE reached which
session. Also `attachctl wait` (prints the attach endpoint) and `attachctl vscode` (an attach
configuration on the attach port, no preLaunchTask).
"""
import json
import os
import socket

import pytest

from attachd_harness import AttachRun, WatchStream, debug_server_command, free_port, recv_exactly, wait_eof


def add_attach_project(daemon, name):
    port = free_port()
    daemon.ctl("add", name, "--attach-port", port, "--timeout", "30", check=True)
    return port


def greeting(sock, timeout=20.0):
    """The pid in the debug server's "HELLO <pid>\\n"."""
    data = b""
    sock.settimeout(timeout)
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise EOFError("closed after %r" % data)
        data += chunk
    word, pid = data.decode().split()
    assert word == "HELLO"
    return int(pid)


def relay_rows(text):
    """`attachctl sessions` text: {IDE peer: session} from its RELAY table."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("RELAY "))
    rows = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        words = line.split()
        rows[words[1]] = words[2]
    return rows


def peer(sock):
    return "127.0.0.1:%d" % sock.getsockname()[1]


def test_newest_first_then_the_other_then_pinned(daemon):
    attach = add_attach_project(daemon, "two")
    with WatchStream(daemon) as watch:
        watch.sync(daemon)
        old = AttachRun(daemon, "two", debug_server_command("hello"))
        watch.next("sessionReady", lambda e: e["session"]["id"] == old.session)
        new = AttachRun(daemon, "two", debug_server_command("hello"))
        watch.next("sessionReady", lambda e: e["session"]["id"] == new.session)
        ides = []
        try:
            # First IDE: the newest ready session. Second: the one with no IDE yet.
            for expected in (new, old):
                ide = socket.create_connection(("127.0.0.1", attach), timeout=10)
                ides.append(ide)
                assert greeting(ide) == expected.child_pid
                started = watch.next("relayStarted", lambda e: e["relay"]["peer"] == peer(ide))
                assert started["relay"]["session"] == expected.session
            # Both have an IDE: the newest again by default, but a pin wins.
            pinned = daemon.ctl("select", "two", old.session)
            assert pinned.returncode == 0, pinned.stderr
            assert pinned.stdout.strip() == "new IDE connections of 'two' go to %s" % old.session
            assert daemon.ctl_json("list")[0]["selectedSession"] == old.session
            third = socket.create_connection(("127.0.0.1", attach), timeout=10)
            ides.append(third)
            assert greeting(third) == old.child_pid
            cleared = daemon.ctl("select", "two", "--clear")
            assert cleared.returncode == 0, cleared.stderr
            assert "go to its newest ready session" in cleared.stdout
            fourth = socket.create_connection(("127.0.0.1", attach), timeout=10)
            ides.append(fourth)
            assert greeting(fourth) == new.child_pid

            # Bytes go to the host each IDE reached, and come back.
            for n, ide in enumerate(ides):
                ide.sendall(b"ide %d\n" % n)
                assert recv_exactly(ide, 6) == b"ide %d\n" % n

            text = daemon.ctl("sessions", "two", check=True).stdout
            rows = relay_rows(text)
            assert rows == {peer(ides[0]): new.session, peer(ides[1]): old.session,
                            peer(ides[2]): old.session, peer(ides[3]): new.session}, text
            by_session = {s["id"]: s for s in daemon.sessions("two")}
            assert sorted(r["peer"] for r in by_session[old.session]["relays"]) == sorted(
                [peer(ides[1]), peer(ides[2])])
            assert by_session[new.session]["relays"][0]["bytesToIDE"] == len(b"HELLO %d\n" % new.child_pid) + 6

            # The IDE closes: relayEnded says so, with the bytes.
            first = peer(ides[0])
            ides[0].close()
            ended = watch.next("relayEnded", lambda e: e["relay"]["peer"] == first)
            assert ended["relay"]["endReason"] == "IDE closed"
            assert ended["relay"]["bytesToHost"] == 6
        finally:
            for ide in ides:
                ide.close()
            old.stop()
            new.stop()


def test_pin_to_a_session_that_is_not_ready_holds_the_ide(daemon, short_tmp):
    attach = add_attach_project(daemon, "pin")
    fifo = os.path.join(short_tmp, "go")
    os.mkfifo(fifo)
    with WatchStream(daemon) as watch:
        watch.sync(daemon)
        ready = AttachRun(daemon, "pin", debug_server_command("hello"))
        watch.next("sessionReady", lambda e: e["session"]["id"] == ready.session)
        port = free_port()
        # Its debug server starts only once the test writes to the FIFO: pending until then.
        later = AttachRun(daemon, "pin", ["sh", "-c", 'read go < "$0"; exec "$@"', fifo]
                          + debug_server_command("hello", port), debug_port=port)
        try:
            daemon.ctl("select", "pin", later.session, check=True)
            ide = socket.create_connection(("127.0.0.1", attach), timeout=10)
            with ide:
                with open(fifo, "w") as go:
                    go.write("go\n")
                # Held for the pinned session, not sent to the ready one.
                assert greeting(ide) == later.child_pid
                started = watch.next("relayStarted", lambda e: e["relay"]["peer"] == peer(ide))
                assert started["relay"]["session"] == later.session
        finally:
            later.stop()
            ready.stop()


def test_watch_of_one_project_streams_its_relay_events(daemon):
    attach = add_attach_project(daemon, "one")
    with WatchStream(daemon, "one") as watch, AttachRun(daemon, "one", debug_server_command("echo")) as run:
        watch.next("sessionReady", lambda e: e["session"]["id"] == run.session)
        with socket.create_connection(("127.0.0.1", attach), timeout=10) as ide:
            started = watch.next("relayStarted", timeout=10)
            assert started["relay"]["peer"] == peer(ide)


def test_wait_prints_the_attach_endpoint(daemon):
    attach = add_attach_project(daemon, "ep")
    with AttachRun(daemon, "ep", debug_server_command("echo")) as run:
        port = int(run.line("PORT "))
        wait = daemon.ctl("wait", "ep", "--timeout", "30")
        assert wait.returncode == 0, wait.stderr
        assert wait.stdout == "127.0.0.1:%d\n" % attach
        (session,) = daemon.sessions("ep")
        assert session["debugPort"] == port and port != attach
        as_json = daemon.ctl_json("wait", "ep", "--timeout", "30")
        assert as_json["attachPort"] == attach and as_json["id"] == run.session


def test_vscode_attach_configuration_on_the_attach_port(daemon, short_tmp):
    attach = add_attach_project(daemon, "code")
    written = daemon.ctl("vscode", "code", "--write", short_tmp)
    assert written.returncode == 0, written.stderr
    with open(os.path.join(short_tmp, ".vscode", "launch.json")) as f:
        launch = json.load(f)
    (config,) = [c for c in launch["configurations"] if c["name"] == "attachd: attach code"]
    assert config["request"] == "attach"
    assert config["connect"] == {"host": "127.0.0.1", "port": attach}
    assert "preLaunchTask" not in config
    # Nothing to wait for before F5: attachd holds the connection until a host is ready.
    printed = daemon.ctl_json("vscode", "code")
    (printed_config,) = printed["launch.json"]["configurations"]
    assert printed_config == config
