"""Remote projects through OpenSSH (attachctl add NAME --remote DEST --attach-port PORT).

A real sshd on loopback (tests/remote_support.py) stands for the other machine; a second
attachd with its own runtime and config directories is the remote daemon, and a real
debugpy host (tests/fake_host.py) announces itself to it.  The local attachd reaches the
remote one through `ssh 127.0.0.1 attachctl bridge --socket REMOTE` (ATTACHD_SSH_COMMAND
carries the test's key, known_hosts and port) and relays IDE connections over `ssh -W`.
"""
import os
import subprocess

import pytest

from attachd_harness import HostProcess, free_port, wait_for
from dap_client import DapClient
from remote_support import SshServer, add_remote, local_daemon, project, wait_remote_state


@pytest.fixture
def sshd(short_tmp, attachd_bin_dir):
    server = SshServer(short_tmp, attachd_bin_dir).start()
    yield server
    server.stop()


class RemoteHost(object):
    """A real debugpy host (tests/fake_host.py) on the "remote" machine, announced to the remote
    attachd with `attachctl announce --debug-port --pid` (debugpy's adapter, which leaves the
    host's process tree, carries the host's mark ATTACHD_HOST_PID, so the port counts as the
    host's). The session ends when the host exits."""

    def __init__(self, remote, port, tmp):
        env = dict(remote.env)
        for name in ("ATTACHD_RENDEZVOUS", "ATTACHD_SOCKET"):
            env.pop(name, None)
        env["XDG_RUNTIME_DIR"] = os.path.join(tmp, "no-rendezvous")
        self.host = HostProcess("farm", env=env, port=port)
        self.session = remote.ctl_json("announce", "farm", "--debug-port", port, "--pid", self.host.pid)["id"]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.host.__exit__(*exc)


def test_remote_session_is_waited_for_mirrored_and_attached_through_ssh(daemon_factory, sshd, short_tmp):
    remote = daemon_factory()
    debug_port = remote.add_project("farm")
    local = local_daemon(daemon_factory, sshd)
    attach_port = add_remote(local, remote)
    info = wait_remote_state(local, "farm", "connected")
    assert info["remote"]["destination"] == "127.0.0.1"
    assert info["remote"]["project"] == "farm"
    assert info.get("error") is None

    waiter = subprocess.Popen([local.binary("attachctl"), "wait", "farm", "--timeout", "60"], env=local.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with RemoteHost(remote, debug_port, short_tmp) as host:
        out, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, (out, err, local.stderr_text()[-3000:])
        assert out.strip() == "127.0.0.1:%d" % attach_port

        remote_id = host.session
        there = next(s for s in remote.sessions("farm") if s["id"] == remote_id)
        assert there["pid"] == host.host.pid, there
        mirrored = [s for s in local.sessions("farm") if s["state"] != "ended"]
        assert len(mirrored) == 1, mirrored
        session = mirrored[0]
        assert session["origin"] == "remote"
        assert session["remoteId"] == remote_id
        assert session["remote"] == "127.0.0.1"
        assert session["id"] == "farm@127.0.0.1:%s" % remote_id
        assert session["state"] in ("ready", "attached")
        table = local.ctl("sessions", "farm", check=True).stdout
        assert "remote" in table and remote_id in table

        # The debug server listens on the remote loopback only; the IDE reaches it through ssh.
        with DapClient.connect("127.0.0.1", attach_port, timeout=30) as dap:
            dap.attach()
            assert dap.evaluate("MAGIC") == "42"
            dap.disconnect()
    wait_for(lambda: all(s["state"] == "ended" for s in local.sessions("farm")), 30, interval=0.05,
             message="the mirrored session did not end with the remote host")
    ended = local.sessions("farm")[0]
    assert "ended on 127.0.0.1" in ended["endReason"]


def test_ssh_server_lost_mid_session_is_unreachable_then_reconnects(daemon_factory, sshd, short_tmp):
    remote = daemon_factory()
    debug_port = remote.add_project("farm")
    local = local_daemon(daemon_factory, sshd)
    add_remote(local, remote)
    wait_remote_state(local, "farm", "connected")
    with RemoteHost(remote, debug_port, short_tmp) as host:
        local.ctl("wait", "farm", "--timeout", "60", check=True)
        sshd.stop()
        info = wait_remote_state(local, "farm", "unreachable")
        assert info["remote"]["error"], info
        assert info.get("error") is None  # the listeners are fine; the remote has its own error
        live = [s for s in local.sessions("farm") if s["state"] != "ended"]
        assert [s["state"] for s in live] == ["unreachable"], live
        assert local.running, "attachd died when the link was lost"
        listing = local.ctl("list", check=True).stdout
        assert "error:" in listing
        # Nothing is ready while the remote cannot be reached: a wait times out.
        assert local.ctl("wait", "farm", "--timeout", "0.3").returncode == 124

        sshd.start()
        wait_remote_state(local, "farm", "connected", timeout=40)
        result = local.ctl("wait", "farm", "--timeout", "30", check=True)
        assert result.returncode == 0
        live = [s for s in local.sessions("farm") if s["state"] != "ended"]
        assert len(live) == 1 and live[0]["remoteId"] == host.session, live
        assert live[0]["state"] in ("ready", "attached")
        assert project(local, "farm").get("error") is None


def _remote_path(short_tmp, attachctl_script=None):
    """A PATH for the sshd's sessions that the test owns: an empty directory (the login shell
    is run by its absolute path, and `attachctl bridge` is all it runs), or one holding an
    `attachctl` script, whatever is installed on the machine."""
    directory = os.path.join(short_tmp, "remote-bin")
    os.makedirs(directory, exist_ok=True)
    if attachctl_script is not None:
        path = os.path.join(directory, "attachctl")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + attachctl_script)
        os.chmod(path, 0o755)
    return directory


def test_remote_without_attachctl_is_an_error_on_the_project(daemon_factory, short_tmp, attachd_bin_dir):
    with SshServer(short_tmp, attachd_bin_dir, path=_remote_path(short_tmp)) as server:
        remote = daemon_factory()
        remote.add_project("farm")
        local = local_daemon(daemon_factory, server)
        add_remote(local, remote)
        info = wait_remote_state(local, "farm", "unreachable")
        assert "attachctl is not installed on 127.0.0.1" in info["remote"]["error"], info
        assert "not found" in info["remote"]["error"], info
        assert "attachctl is not installed" in local.ctl("list").stdout
        doctor = local.ctl("doctor", "farm")
        assert "attachctl is not installed" in doctor.stdout + doctor.stderr


def test_a_remote_link_that_never_answers_becomes_unreachable_with_the_words(daemon_factory, short_tmp,
                                                                             attachd_bin_dir):
    # An attachctl that says something and then answers nothing (another program of that name,
    # or one that hangs): the link must not sit in `connecting` past its deadline.
    # It reads what it is sent until its input ends, so it goes when its ssh channel does.
    script = 'echo "attachctl: this is not the attachctl you want" >&2\nexec /bin/cat >/dev/null\n'
    with SshServer(short_tmp, attachd_bin_dir, path=_remote_path(short_tmp, script)) as server:
        remote = daemon_factory()
        remote.add_project("farm")
        local = local_daemon(daemon_factory, server)
        add_remote(local, remote)
        info = wait_remote_state(local, "farm", "unreachable", timeout=40)
        error = info["remote"]["error"]
        assert "no answer from attachd on 127.0.0.1 within 15 s" in error, info
        assert "this is not the attachctl you want" in error, info
        doctor = local.ctl("doctor", "farm")
        assert "no answer from attachd on 127.0.0.1" in doctor.stdout + doctor.stderr


def test_unknown_host_key_is_refused_not_accepted(daemon_factory, sshd):
    os.unlink(sshd.known_hosts)
    remote = daemon_factory()
    remote.add_project("farm")
    local = local_daemon(daemon_factory, sshd)
    add_remote(local, remote)
    info = wait_remote_state(local, "farm", "unreachable")
    assert "Host key verification failed" in info["remote"]["error"], info
    assert not os.path.exists(sshd.known_hosts), "the unknown host key was written down"


def test_missing_remote_project_and_version_words(daemon_factory, sshd):
    remote = daemon_factory()
    local = local_daemon(daemon_factory, sshd)
    add_remote(local, remote, "farm", None, "--remote-project", "nosuch")
    info = wait_remote_state(local, "farm", "unreachable")
    assert "project 'nosuch' does not exist on 127.0.0.1" in info["remote"]["error"], info
    # Added there later: the link comes up by itself.
    remote.add_project("nosuch")
    info = wait_remote_state(local, "farm", "connected", timeout=40)
    assert info["remote"]["version"]


def test_remote_daemon_not_running_gives_the_bridge_words(daemon_factory, sshd, short_tmp):
    local = local_daemon(daemon_factory, sshd)
    local.ctl("add", "farm", "--remote", "127.0.0.1", "--attach-port", free_port(),
              "--remote-socket", os.path.join(short_tmp, "none.sock"), check=True)
    info = wait_remote_state(local, "farm", "unreachable")
    assert "attachd is not running on" in info["remote"]["error"], info


def test_bridge_joins_stdio_to_the_control_socket(daemon):
    call = b'{"method":"org.varlink.service.GetInfo"}\0'
    result = subprocess.run([daemon.binary("attachctl"), "bridge"], env=daemon.env, input=call,
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(b"\0")
    assert b'"product":"attachd"' in result.stdout


def test_add_remote_needs_an_attach_port(daemon):
    result = daemon.ctl("add", "farm", "--remote", "render42", "--debug-port", free_port())
    assert result.returncode == 64
    assert "--attach-port" in result.stderr


def test_refused_key_shows_sshs_words(daemon_factory, sshd):
    open(sshd.authorized, "w").close()
    remote = daemon_factory()
    remote.add_project("farm")
    local = local_daemon(daemon_factory, sshd)
    add_remote(local, remote)
    info = wait_remote_state(local, "farm", "unreachable")
    assert "Permission denied" in info["remote"]["error"], info
    doctor = local.ctl("doctor", "farm")
    assert "ssh-add" in doctor.stdout + doctor.stderr, doctor.stdout


def test_one_ssh_connection_is_shared_by_the_link_and_the_relays(daemon_factory, sshd, short_tmp):
    remote = daemon_factory()
    debug_port = remote.add_project("farm")
    local = local_daemon(daemon_factory, sshd)
    attach_port = add_remote(local, remote)
    wait_remote_state(local, "farm", "connected")
    with RemoteHost(remote, debug_port, short_tmp):
        local.ctl("wait", "farm", "--timeout", "60", check=True)
        with DapClient.connect("127.0.0.1", attach_port, timeout=30) as dap:
            dap.attach()
            assert dap.evaluate("MAGIC") == "42"
            assert established_to(sshd.port) == 1
            dap.disconnect()


def established_to(port):
    """Client-side TCP connections to 127.0.0.1:port in ESTABLISHED state (/proc/net/tcp)."""
    count = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[2].endswith(":%04X" % port) and fields[3] == "01":
                count += 1
    return count
