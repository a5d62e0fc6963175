"""Remote projects, what lies around the relays: a remote debug server that refuses the relay
(the IDE is held, as for a local session, and relayed once the server is there), and the
shared ssh connections (ControlMaster with ControlPersist), which must not outlive the project
nor attachd.

The setting is that of tests/test_remote.py: a real sshd on loopback (tests/remote_support.py)
is the other machine, and a second attachd there is the remote daemon.
"""
import os
import socket

import pytest

from attachd_harness import WatchStream, free_port, recv_exactly, wait_for
from remote_support import SshServer, add_remote, local_daemon, project, ssh_processes, wait_remote_state


@pytest.fixture
def sshd(short_tmp, attachd_bin_dir):
    server = SshServer(short_tmp, attachd_bin_dir).start()
    yield server
    server.stop()


def refusing_host(daemon, project_name, port):
    """A host on the remote machine whose port listens on 127.0.0.2 only: LISTEN state says
    ready there, but ssh's connection to 127.0.0.1 is refused. Returns (listener, rendezvous
    connection, remote session id)."""
    wrong = socket.socket()
    wrong.bind(("127.0.0.2", port))
    wrong.listen(1)
    rendezvous = socket.socket(socket.AF_UNIX)
    rendezvous.connect(daemon.rendezvous_path(project_name))
    rendezvous.sendall(b"DEBUG_PORT=%d\nREADY=1\n" % port)
    reply = rendezvous.makefile().readline()
    assert reply.startswith("OK session="), reply
    return wrong, rendezvous, reply.split("session=")[1].strip()


def session(daemon, session_id):
    return next((s for s in daemon.sessions() if s["id"] == session_id), None)


def assert_held(ide):
    """Nothing came, and no end of file either."""
    ide.setblocking(False)
    try:
        with pytest.raises(BlockingIOError):
            ide.recv(1)
    finally:
        ide.setblocking(True)


def refusals(daemon):
    return daemon.stderr_text().count("the remote debug server refused the relay; holding the IDE")


def test_refused_remote_relay_holds_the_ide_and_relays_once_the_server_listens(daemon_factory, sshd):
    remote = daemon_factory()
    port = remote.add_project("farm")
    local = local_daemon(daemon_factory, sshd)
    attach_port = add_remote(local, remote)
    wait_remote_state(local, "farm", "connected")
    wrong, rendezvous, remote_id = refusing_host(remote, "farm", port)
    mirror = "farm@127.0.0.1:%s" % remote_id
    with rendezvous, wrong, WatchStream(local, "farm") as watch:
        wait_for(lambda: (session(local, mirror) or {}).get("state") == "ready", 30, interval=0.05,
                 message="the remote session was not mirrored ready: %r" % local.sessions())
        ide = socket.create_connection(("127.0.0.1", attach_port), timeout=10)
        # A second IDE, to give up while held.
        quitter = socket.create_connection(("127.0.0.1", attach_port), timeout=10)
        with ide, quitter:
            ide.sendall(b"hello")
            quitter.sendall(b"bye")
            me = "127.0.0.1:%d" % quitter.getsockname()[1]
            # Refused over there, and more than once: held all along, the problem on the session.
            wait_for(lambda: refusals(local) >= 3, 30, interval=0.05,
                     message="not refused again:\n%s" % local.stderr_text()[-3000:])
            refused = session(local, mirror)
            assert refused["problem"].startswith("the debug server on 127.0.0.1 refused the relay: "), refused
            assert "refused" in refused["problem"].split(": ", 1)[1], refused
            assert refused["state"] in ("pending", "ready"), refused  # pending, or ready for the retry
            assert_held(ide)
            assert session(remote, remote_id)["state"] == "ready"

            # The second IDE gives up while held: it is noticed, its slot freed.
            quitter.close()
            gone = watch.next("relayEnded", lambda e: e["relay"]["peer"] == me, timeout=30)
            assert gone["relay"]["endReason"] in ("the IDE closed its connection while it was held", "IDE closed"), gone

            right = socket.socket()
            right.bind(("127.0.0.1", port))
            right.listen(1)
            with right:
                right.settimeout(30)
                conn, _ = right.accept()
                with conn:
                    # The bytes the IDE sent while held arrive once, first.
                    assert recv_exactly(conn, 5) == b"hello"
                    conn.sendall(b"world")
                    assert recv_exactly(ide, 5) == b"world"
                    ide.sendall(b"more")
                    assert recv_exactly(conn, 4) == b"more"
                    started = watch.next("relayStarted", lambda e: e["relay"]["session"] == mirror)
                    assert started["relay"]["project"] == "farm"
                    relayed = session(local, mirror)
                    assert relayed["state"] in ("ready", "attached"), relayed
                    assert not relayed.get("problem"), relayed
    assert local.running


def test_debug_server_that_accepts_and_closes_ends_the_remote_relay(daemon_factory, sshd):
    remote = daemon_factory()
    port = remote.add_project("farm")
    local = local_daemon(daemon_factory, sshd)
    attach_port = add_remote(local, remote)
    wait_remote_state(local, "farm", "connected")
    server = socket.socket()
    server.bind(("127.0.0.1", port))
    server.listen(4)
    with server:
        rendezvous = socket.socket(socket.AF_UNIX)
        rendezvous.connect(remote.rendezvous_path("farm"))
        rendezvous.sendall(b"DEBUG_PORT=%d\nREADY=1\n" % port)
        with rendezvous:
            assert rendezvous.makefile().readline().startswith("OK session=")
            local.ctl("wait", "farm", "--timeout", "30", check=True)
            with socket.create_connection(("127.0.0.1", attach_port), timeout=10) as ide:
                ide.sendall(b"who")
                server.settimeout(30)
                conn, _ = server.accept()
                assert recv_exactly(conn, 3) == b"who"
                # A conversation that the debugger ends, without a byte back: the end, not a refusal.
                conn.close()
                ide.settimeout(30)
                assert ide.recv(1) == b""
    assert refusals(local) == 0, local.stderr_text()[-3000:]


def control_directory(daemon):
    return os.path.join(daemon.runtime_dir, "attachd", "ssh")


def masters_running(daemon):
    directory = control_directory(daemon)
    return os.path.isdir(directory) and bool(os.listdir(directory)) and bool(ssh_processes(directory))


def no_master_left(daemon):
    directory = control_directory(daemon)
    return not ssh_processes(directory) and not (os.path.isdir(directory) and os.listdir(directory))


def test_shared_ssh_connection_goes_with_the_project_and_with_attachd(daemon_factory, sshd):
    remote = daemon_factory()
    remote.add_project("farm")
    remote.add_project("barn")
    local = local_daemon(daemon_factory, sshd)
    add_remote(local, remote, "farm")
    add_remote(local, remote, "barn")
    wait_remote_state(local, "farm", "connected")
    wait_remote_state(local, "barn", "connected")
    directory = control_directory(local)
    wait_for(lambda: masters_running(local), 30, interval=0.05,
             message="no shared ssh connection under %s" % directory)

    # Another project still goes to that host: its connection stays.
    local.ctl("remove", "barn", check=True)
    assert project(local, "farm")["remote"]["state"] == "connected"
    assert masters_running(local)

    # The last one: its connection goes, control socket and all.
    local.ctl("remove", "farm", check=True)
    wait_for(lambda: no_master_left(local), 15, interval=0.05,
             message="ssh left behind: %r, %r" % (ssh_processes(directory), os.listdir(directory)))

    add_remote(local, remote, "farm", free_port())
    wait_remote_state(local, "farm", "connected")
    wait_for(lambda: masters_running(local), 30, interval=0.05, message="no shared ssh connection again")
    assert local.stop() == 0
    # attachd asked it to exit before it exited itself: gone at once, not after ControlPersist.
    wait_for(lambda: no_master_left(local), 5, interval=0.05,
             message="ssh left behind after attachd stopped: %r, %r" % (ssh_processes(directory), os.listdir(directory)))
