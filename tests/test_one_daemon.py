"""One attachd per user configuration (issue 18, point 3).

A second attachd for the same configuration (another --socket, the same XDG_CONFIG_HOME) or
the same runtime directory exits 3 at once, naming the first's pid and control socket; the
first keeps serving, its socket files untouched, and `doctor` says so. No attachd removes a
socket file it did not create: a file put in its place by someone else stays when it stops.
"""

import os
import signal
import socket
import subprocess

from attachd_harness import free_port


def _second(daemon, socket_path, env=None, timeout=20):
    """Runs another attachd beside `daemon`; returns it (a CompletedProcess)."""
    return subprocess.run([daemon.binary("attachd"), "--socket", socket_path], env=env or daemon.env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _announce(daemon, project):
    """A host announces itself on the project's rendezvous socket; the daemon's reply line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as host:
        host.settimeout(10)
        host.connect(daemon.rendezvous_path(project))
        host.sendall(b"STATUS=checking\n")
        return host.makefile().readline()


def _assert_first_serves(daemon, project, files):
    assert daemon.running
    assert daemon.ctl_json("status")["pid"] == daemon.pid
    for path, identity in files.items():
        st = os.lstat(path)
        assert (st.st_dev, st.st_ino) == identity, "%s was replaced" % path
    assert _announce(daemon, project).startswith("OK session=")
    doctor = daemon.ctl("doctor", project)
    assert "rendezvous-socket-missing" not in doctor.stdout and "is not there" not in doctor.stdout, doctor.stdout


def _identities(*paths):
    return {p: (os.lstat(p).st_dev, os.lstat(p).st_ino) for p in paths}


def test_a_second_attachd_for_the_same_configuration_exits_at_once_naming_the_first(daemon, short_tmp):
    daemon.ctl("add", "farm", "--debug-port", free_port(), check=True)
    files = _identities(daemon.socket, daemon.rendezvous_path("farm"))
    other = os.path.join(short_tmp, "other.sock")
    env = dict(daemon.env)
    env["XDG_RUNTIME_DIR"] = short_tmp  # its own runtime directory, the same configuration
    result = _second(daemon, other, env=env)
    assert result.returncode == 3, result.stderr
    assert "another attachd is already serving %s (pid %d)" % (daemon.socket, daemon.pid) in result.stderr
    assert os.path.join(daemon.config_dir, "attachd", "attachd.lock") in result.stderr
    assert not os.path.exists(other), "the second bound its socket"
    assert not os.path.exists(os.path.join(short_tmp, "attachd", "projects")), "the second opened projects"
    _assert_first_serves(daemon, "farm", files)
    # The saved projects are the first's alone.
    assert [p["name"] for p in daemon.ctl_json("list")] == ["farm"]


def test_a_second_attachd_for_the_same_runtime_directory_is_refused(daemon, short_tmp):
    daemon.ctl("add", "farm", "--debug-port", free_port(), check=True)
    files = _identities(daemon.socket, daemon.rendezvous_path("farm"))
    env = dict(daemon.env)
    env["XDG_CONFIG_HOME"] = short_tmp  # another configuration, the same rendezvous sockets
    result = _second(daemon, os.path.join(short_tmp, "other.sock"), env=env)
    assert result.returncode == 3, result.stderr
    assert "another attachd is already serving %s (pid %d)" % (daemon.socket, daemon.pid) in result.stderr
    assert os.path.join(daemon.runtime_dir, "attachd", "attachd.lock") in result.stderr
    _assert_first_serves(daemon, "farm", files)


def test_the_first_keeps_its_sockets_after_the_seconds_sigterm(daemon, short_tmp):
    daemon.ctl("add", "farm", "--debug-port", free_port(), check=True)
    files = _identities(daemon.socket, daemon.rendezvous_path("farm"))
    for _ in range(5):
        second = subprocess.Popen([daemon.binary("attachd"), "--socket", os.path.join(short_tmp, "other.sock")],
                                  env=daemon.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        second.send_signal(signal.SIGTERM)  # whenever it arrives: before, during or after start
        _, err = second.communicate(timeout=20)
        assert second.returncode != 0, err
        _assert_first_serves(daemon, "farm", files)


def test_a_socket_file_put_in_place_of_ours_is_not_removed(daemon_factory, short_tmp):
    d = daemon_factory()
    d.ctl("add", "farm", "--debug-port", free_port(), check=True)
    # Someone else's sockets take the paths (as a second attachd used to).
    theirs = []
    for path in (d.rendezvous_path("farm"), d.socket):
        os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(1)
        theirs.append(s)
    files = _identities(d.rendezvous_path("farm"), d.socket)
    # attachd's own words go to its other (still open) descriptors: stop it by signal.
    assert d.stop() == 0
    assert _identities(*files) == files, "attachd removed socket files it did not create"
    for s in theirs:
        s.close()


def test_removing_a_project_removes_its_own_socket_file_only(daemon):
    daemon.ctl("add", "farm", "--debug-port", free_port(), check=True)
    path = daemon.rendezvous_path("farm")
    os.unlink(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(path)
        daemon.ctl("remove", "farm", check=True)
        assert os.path.exists(path)
    daemon.ctl("add", "farm", "--debug-port", free_port(), check=True)
    assert os.path.exists(path)
    daemon.ctl("remove", "farm", check=True)
    assert not os.path.exists(path)


def test_doctor_says_when_a_rendezvous_socket_file_is_gone(daemon):
    daemon.ctl("add", "farm", "--debug-port", free_port(), check=True)
    assert "is not there" not in daemon.ctl("doctor", "farm").stdout
    os.unlink(daemon.rendezvous_path("farm"))
    doctor = daemon.ctl("doctor", "farm")
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert "its rendezvous socket %s is not there" % daemon.rendezvous_path("farm") in doctor.stdout, doctor.stdout
    assert "attachctl remove farm" in doctor.stdout
