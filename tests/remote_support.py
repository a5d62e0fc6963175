"""A real OpenSSH server on loopback for the remote-project tests (tests/test_remote*.py).

``SshServer(tmp, bin_dir)`` writes a host key, a client key authorised for the test's user,
a known_hosts file naming the host key, and an sshd_config (loopback, a free port,
``SetEnv PATH=`` with the build's directory so that ``attachctl`` is found by remote
commands), then runs ``/usr/sbin/sshd -D -e -f CONFIG``.  ``stop()`` kills sshd and every
session process it forked (each is in a session of its own, so not in sshd's process
group), as a machine that goes away would; ``start()`` again listens on the same port.

``ssh_command`` is the client command for ATTACHD_SSH_COMMAND: ``ssh -F /dev/null -i KEY
-o UserKnownHostsFile=KNOWN -p PORT``.

Helpers for the tests: ``local_daemon(daemon_factory, server)`` (an attachd using that
command), ``add_remote(local, remote, name, attach_port, *extra)`` (``attachctl add NAME
--remote 127.0.0.1 --remote-socket REMOTE``; returns the attach port), ``project(daemon,
name)``, ``wait_remote_state(daemon, name, state)``, ``ssh_processes(directory)`` (the ssh
processes, masters included, whose command line names a control directory).
"""
import os
import signal
import subprocess

from attachd_harness import free_port, wait_for

SSHD = "/usr/sbin/sshd"


def children(pid):
    """Pids whose parent is `pid` (from /proc/*/stat)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # The command may hold spaces and parentheses: the fields after the last ')' are fixed.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(name))
    return out


def alive(pid):
    """The process exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def descendants(pid):
    todo, seen = [pid], []
    while todo:
        for child in children(todo.pop()):
            if child not in seen:
                seen.append(child)
                todo.append(child)
    return seen


class SshServer(object):
    def __init__(self, tmp, bin_dir, path=None, port=None):
        self.dir = os.path.join(tmp, "sshd")
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs("/run/sshd", exist_ok=True)
        self.port = port or free_port()
        self.host_key = os.path.join(self.dir, "host_key")
        self.client_key = os.path.join(self.dir, "client_key")
        self.authorized = os.path.join(self.dir, "authorized_keys")
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        self.config = os.path.join(self.dir, "sshd_config")
        self.log_path = os.path.join(self.dir, "sshd.log")
        for key in (self.host_key, self.client_key):
            if not os.path.exists(key):
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        with open(self.client_key + ".pub") as f, open(self.authorized, "w") as out:
            out.write(f.read())
        with open(self.host_key + ".pub") as f:
            host_pub = " ".join(f.read().split()[:2])
        with open(self.known_hosts, "w") as out:
            out.write("[127.0.0.1]:%d %s\n" % (self.port, host_pub))
        remote_path = path if path is not None else bin_dir + ":/usr/local/bin:/usr/bin:/bin"
        with open(self.config, "w") as out:
            out.write("\n".join([
                "Port %d" % self.port,
                "ListenAddress 127.0.0.1",
                "HostKey %s" % self.host_key,
                "AuthorizedKeysFile %s" % self.authorized,
                "PidFile %s" % os.path.join(self.dir, "sshd.pid"),
                "StrictModes no",
                "UsePAM no",
                "PermitRootLogin yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "SetEnv PATH=%s" % remote_path,
                "",
            ]))
        self.proc = None
        self.log = None

    @property
    def ssh_command(self):
        return "ssh -F /dev/null -i %s -o UserKnownHostsFile=%s -p %d" % (
            self.client_key, self.known_hosts, self.port)

    def start(self, timeout=10.0):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", self.config], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        wait_for(self._listening, timeout, interval=0.02,
                 message="sshd did not listen on 127.0.0.1:%d" % self.port)
        return self

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("sshd exited %s; log:\n%s" % (self.proc.returncode, self.log_text()))
        port_hex = ":%04X" % self.port
        with open("/proc/net/tcp") as f:
            return any(line.split()[1].endswith(port_hex) and line.split()[3] == "0A"
                       for line in f.readlines()[1:])

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """Kill sshd and all its sessions at once (the machine is gone)."""
        if self.proc is None:
            return
        pids = [self.proc.pid] + descendants(self.proc.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None
        wait_for(lambda: not any(alive(p) for p in pids[1:]), 10,
                 message="sshd's session processes did not die")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def local_daemon(daemon_factory, server):
    return daemon_factory(env={"ATTACHD_SSH_COMMAND": server.ssh_command})


def add_remote(local, remote, name="farm", attach_port=None, *extra):
    attach_port = attach_port or free_port()
    local.ctl("add", name, "--remote", "127.0.0.1", "--attach-port", attach_port,
              "--remote-socket", remote.socket, *extra, check=True)
    return attach_port


def project(daemon, name):
    return next(p for p in daemon.ctl_json("list") if p["name"] == name)


def wait_remote_state(daemon, name, state, timeout=30):
    wait_for(lambda: project(daemon, name)["remote"]["state"] == state, timeout,
             interval=0.05, message="remote of %s never became %s: %r\nstderr:\n%s"
             % (name, state, project(daemon, name), daemon.stderr_text()[-3000:]))
    return project(daemon, name)


def ssh_processes(directory):
    """Pids of live processes whose command line names `directory`: attachd's ssh processes and
    the shared connections they started (a master renames itself ``ssh: PATH [mux]``)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if directory.encode() in cmdline and alive(int(name)):
            found.append(int(name))
    return found
