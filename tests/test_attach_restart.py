"""A restart keeps the debugger attached: the test plays systemd's fd store (tests/test_systemd.py's
Sandbox: a notify socket receiving FDSTORE=1 with the descriptors, and a launcher handing them
back as LISTEN_FDS/LISTEN_FDNAMES).

An orderly stop (SIGTERM) hands each relay's two sockets over with `relays.complete` last; the
next attachd relays on, and an IDE connection made before the stop goes on carrying bytes, in
order, through the new process. Without `relays.complete` (a hand-over that did not finish) the
relay sockets found are closed; a SIGKILL takes the relays with it.
"""
import os
import signal
import socket
import subprocess
import sys

from attachd_harness import DEBUG_SERVER, binary, free_port, recv_exactly, wait_eof, wait_for
from test_systemd import sandbox, stderr_of  # noqa: F401  (sandbox is a fixture)


# test_systemd's launcher leaves the passed descriptors open at their old numbers too (attachd
# then inherits a second copy of each, which systemd never does, and which would keep a closed
# relay's sockets alive): this one closes them after moving them to 3, 4, ...
LAUNCHER = r"""
import fcntl, os, sys
n = int(sys.argv[1])
fds = [int(x) for x in sys.argv[2:2 + n]]
argv = sys.argv[2 + n:]
base = max(fds + [3 + n]) + 1
high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base) for fd in fds]
for fd in fds:
    if not 3 <= fd < 3 + n:
        os.close(fd)
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i)
for fd in high:
    os.close(fd)
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(argv[0], argv)
"""


def spawn(box, fds, names):
    """attachd with `fds` as LISTEN_FDS named `names`, and no other copy of them."""
    env = box.daemon_env(LISTEN_FDS=len(fds), LISTEN_FDNAMES=":".join(names))
    box.count += 1
    stderr_path = os.path.join(box.dir, "attachd-%d.stderr" % box.count)
    fds = [f if isinstance(f, int) else f.fileno() for f in fds]
    cmd = [sys.executable, "-c", LAUNCHER, str(len(fds))] + [str(f) for f in fds] + [
        binary("attachd"), "--log-level", "debug"]
    with open(stderr_path, "ab") as err:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, pass_fds=fds, cwd=box.dir)
    return box.track(proc, stderr_path)


def stored(box, pid):
    """{FDNAME: fd} of what attachd `pid` put in the store, the latest per name; the caller
    owns the fds (removed from the notifications so that cleanup does not close them twice)."""
    out = {}
    with box.notify.cond:
        for item in box.notify.items:
            if item.pid == pid and item.fields.get("FDSTORE") == "1" and item.fds:
                name = item.fields["FDNAME"]
                if name in out:
                    os.close(out[name])
                out[name], item.fds = item.fds[0], []
    return out


def removed(box, pid):
    with box.notify.cond:
        return {n.fields["FDNAME"] for n in box.notify.items
                if n.pid == pid and n.fields.get("FDSTOREREMOVE") == "1"}


def kill_group(proc):
    """SIGKILL to the process group `proc` leads (its own session), then reaps `proc`."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


def start_relay(box):
    """attachd #1 with a project on an attach port, an echo debug server under `attachctl run`,
    an IDE relayed to it. Returns (control, daemon, server, ide)."""
    control = box.bind_control()
    first = spawn(box, [control], ["control"])
    box.wait_ready(first)
    attach = free_port()
    added = box.ctl("add", "proj", "--attach-port", attach, "--timeout", "30")
    assert added.returncode == 0, added.stderr + stderr_of(first)
    server = subprocess.Popen([binary("attachctl"), "run", "proj", "--socket", box.control, "--",
                               sys.executable, "-c", DEBUG_SERVER, "echo", "0"],
                              env=box.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    # SIGKILL cannot be passed on: `attachctl run` would die and leave its echo server behind.
    # Its process group is killed instead, by the test and by the sandbox's cleanup alike.
    server.kill = lambda: kill_group(server)
    box.track(server)
    assert server.stdout.readline().startswith("PORT ")
    wait = box.ctl("wait", "proj", "--timeout", "30")
    assert wait.returncode == 0, wait.stderr + stderr_of(first)
    assert wait.stdout.strip() == "127.0.0.1:%d" % attach
    ide = socket.create_connection(("127.0.0.1", attach), timeout=10)
    ide.sendall(b"one ")
    assert recv_exactly(ide, 4) == b"one "
    return control, first, server, ide


def test_restart_keeps_the_ide_connection_relayed(sandbox):  # noqa: F811
    control, first, server, ide = start_relay(sandbox)
    with ide:
        _, code = sandbox.terminate(first)
        assert code == 0, stderr_of(first)
        fds = stored(sandbox, first.pid)
        relay_names = sorted(n for n in fds if n.startswith("relay."))
        assert len(relay_names) == 2 and relay_names[0].endswith(".host") and relay_names[1].endswith(".ide")
        assert "relays.complete" in fds and "attach.proj" in fds
        # Nobody runs: what the IDE sends now waits in the kernel.
        ide.sendall(b"two ")
        names = ["control"] + sorted(fds)
        second = spawn(sandbox, [control] + [fds[n] for n in sorted(fds)], names)
        sandbox.wait_ready(second)
        for fd in fds.values():  # systemd's copies; attachd removes them from the store
            os.close(fd)
        ide.sendall(b"three")
        assert recv_exactly(ide, 9) == b"two three"
        assert "adopted relays from systemd's fd store relays=1" in stderr_of(second)
        assert set(relay_names) | {"relays.complete"} <= removed(sandbox, second.pid)
        ide.sendall(b"four")
        assert recv_exactly(ide, 4) == b"four"
        # The attach listener came back too: a new IDE is taken by the new process.
        assert "attach.proj" not in removed(sandbox, second.pid)
        with socket.create_connection(("127.0.0.1", ide.getpeername()[1]), timeout=10):
            wait_for(lambda: "IDE connected to the attach port" in stderr_of(second), 10)
        sandbox.terminate(second)
    server.kill()
    control.close()


def test_an_adopted_relay_is_closed_with_its_project(sandbox):  # noqa: F811
    """A relay adopted after a restart is Core's like any other: removing its project ends it."""
    control, first, server, ide = start_relay(sandbox)
    with ide:
        _, code = sandbox.terminate(first)
        assert code == 0, stderr_of(first)
        fds = stored(sandbox, first.pid)
        second = spawn(sandbox, [control] + [fds[n] for n in sorted(fds)], ["control"] + sorted(fds))
        sandbox.wait_ready(second)
        for fd in fds.values():
            os.close(fd)
        ide.sendall(b"five")
        assert recv_exactly(ide, 4) == b"five"
        gone = sandbox.ctl("remove", "proj", "--force")
        assert gone.returncode == 0, gone.stderr + stderr_of(second)
        assert wait_eof(ide, 10) in (b"", None)
        # Core asked for it (before, adopted relays were the room's alone and ran on).
        closing = [line for line in stderr_of(second).splitlines() if "closing an attach connection" in line]
        assert any("reason=project proj removed" in line for line in closing), closing
        sandbox.terminate(second)
    server.kill()
    control.close()


def test_hand_over_without_relays_complete_is_closed(sandbox):  # noqa: F811
    control, first, server, ide = start_relay(sandbox)
    with ide:
        _, code = sandbox.terminate(first)
        assert code == 0
        fds = stored(sandbox, first.pid)
        complete = fds.pop("relays.complete")
        os.close(complete)
        # As if the stop was cut short before its last FDSTORE: the relay's sockets without the
        # marker that says the hand-over finished.
        second = spawn(sandbox, [control] + [fds[n] for n in sorted(fds)], ["control"] + sorted(fds))
        sandbox.wait_ready(second)
        relay_names = {n for n in fds if n.startswith("relay.")}
        assert relay_names <= removed(sandbox, second.pid)
        for fd in fds.values():
            os.close(fd)
        assert wait_eof(ide, 10) in (b"", None)
        assert "closing a relay left by an exit that was not orderly" in stderr_of(second)
        sandbox.terminate(second)
    server.kill()
    control.close()


def test_sigkill_takes_the_relays_with_it(sandbox):  # noqa: F811
    control, first, server, ide = start_relay(sandbox)
    with ide:
        first.kill()
        first.wait(10)
        assert wait_eof(ide, 10) in (b"", None)
        assert not any(n.startswith("relay.") for n in stored(sandbox, first.pid))
    server.kill()
    control.close()
