"""attachctl's messages for errors the daemon turns a connection away with."""
import socket

import pytest


def test_too_many_connections_is_explained_and_exits_75(daemon_factory):
    daemon = daemon_factory(extra_args=["--max-connections", "1"])
    held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    held.connect(daemon.socket)
    try:
        # The held connection is served (it gets an answer), so it counts against the limit.
        held.sendall(b'{"method":"io.attachd.Broker.GetStatus"}\0')
        reply = b""
        while not reply.endswith(b"\0"):
            chunk = held.recv(65536)
            assert chunk, "daemon closed the first connection"
            reply += chunk
        assert b'"pid"' in reply
        r = daemon.ctl("status", timeout=10)
        assert r.returncode == 75, r.stderr
        assert "as many control connections as it allows (1)" in r.stderr
        assert "--max-connections" in r.stderr
        assert "TooManyConnections" not in r.stderr  # a message for people, not the error name
    finally:
        held.close()
