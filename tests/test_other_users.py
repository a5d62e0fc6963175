"""Hosts of another user: a rendezvous is the daemon's own user's business only.

The Unix rendezvous checks SO_PEERCRED; a local TCP peer is looked up by its socket's owner
(sock_diag). Both are exercised as `nobody` through setpriv, with the paths loosened on purpose
so that only the daemon's check stands in the way.
"""
import os
import socket
import sys

import pytest

from attachd_harness import free_port
from hardening_support import as_nobody, open_path_for_others, run

PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

# Connects (TCP "host:port" or a Unix path), sends one READY=1 line, prints what comes back
# until end of file.
CLIENT = r"""
import socket, sys
target = sys.argv[1]
if ":" in target:
    host, port = target.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
else:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(target)
s.sendall(b"READY=1\n")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as nobody")


def test_tcp_rendezvous_refuses_another_users_host(daemon):
    port = free_port()
    daemon.ctl("add", "shared", "--debug-port", free_port(), "--rendezvous-port", port, check=True)
    stranger = run(as_nobody([PYTHON, "-c", CLIENT, "127.0.0.1:%d" % port]))
    assert stranger.returncode == 0, stranger.stderr
    assert stranger.stdout == "ERROR permission denied: uid 65534 is not the user attachd serves\n"
    assert daemon.sessions("shared") == []
    assert "refused a rendezvous connection from another user" in daemon.stderr_text()
    # The owner's host is served on the same port.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"READY=1\n")
        assert s.makefile("rb").readline().startswith(b"OK session=shared-")


def test_unix_rendezvous_refuses_another_users_host(daemon):
    daemon.add_project("private")
    path = daemon.rendezvous_path("private")
    os.chmod(path, 0o666)
    open_path_for_others(path, daemon.tmp_dir)
    stranger = run(as_nobody([PYTHON, "-c", CLIENT, path]))
    assert stranger.returncode == 0, stranger.stderr
    assert stranger.stdout.startswith("ERROR permission denied: uid 65534"), stranger.stdout
    assert daemon.sessions("private") == []
