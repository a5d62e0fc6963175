"""Protocols other than DAP pass the attach port byte for byte, also in a project that follows
its hosts (the default): gdbserver's remote protocol and node's inspector give the client
exactly the bytes a direct connection gives.

The same raw requests go once to the debug server itself and once through the attach port; the
replies are compared byte for byte.
"""
import shutil
import socket
import subprocess
import time

import pytest

from attachd_harness import AttachRun, free_port

GDBSERVER = shutil.which("gdbserver")
NODE = shutil.which("node")


def packet(payload):
    return b"$%s#%02x" % (payload, sum(payload) % 256)


def gdb_exchange(port, timeout=20.0):
    """A gdb client's first words (acks on), each reply read to its checksum; returns every byte
    received."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    received = b""
    try:
        for payload in (b"qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+", b"!", b"?",
                        b"qAttached", b"vCont?", b"qC"):
            sock.sendall((b"+" if received else b"") + packet(payload))
            deadline = time.monotonic() + timeout
            reply = b""
            # A reply is "+" (the ack) then "$...#xx"; wait for its two checksum digits.
            while not (b"#" in reply[reply.find(b"$"):] and len(reply) - reply.rindex(b"#") >= 3 and b"$" in reply):
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = sock.recv(4096)
                if not chunk:
                    raise EOFError("gdbserver closed after %r" % (received + reply))
                reply += chunk
            received += reply
        sock.sendall(b"+")
    finally:
        sock.close()
    return received


@pytest.mark.skipif(not GDBSERVER, reason="gdbserver is needed")
def test_gdbserver_replies_are_the_same_bytes_through_the_attach_port(daemon):
    attach = free_port()
    daemon.ctl("add", "native", "--attach-port", attach, "--timeout", "30", check=True)
    assert daemon.ctl_json("list")[0]["follow"] is True
    port = free_port()
    with AttachRun(daemon, "native", [GDBSERVER, "--multi", "127.0.0.1:%d" % port], debug_port=port):
        assert daemon.ctl("wait", "native", "--timeout", "30").returncode == 0
        direct = gdb_exchange(port)
        relayed = gdb_exchange(attach)
        assert direct.startswith(b"+$") and b"PacketSize=" in direct
        assert relayed == direct


def http_exchange(port, path, timeout=20.0):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:9229\r\nConnection: close\r\n\r\n" % path)
        data = b""
        while True:
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                lengths = [l.split(b":", 1)[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if lengths and len(body) >= int(lengths[0]):
                    return data
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    finally:
        sock.close()


@pytest.mark.skipif(not NODE, reason="node is needed")
def test_node_inspector_replies_are_the_same_bytes_through_the_attach_port(daemon):
    attach = free_port()
    daemon.ctl("add", "web", "--attach-port", attach, "--timeout", "30", check=True)
    port = free_port()
    with AttachRun(daemon, "web", [NODE, "--inspect=127.0.0.1:%d" % port, "-e", "setInterval(() => {}, 1000)"],
                   debug_port=port):
        assert daemon.ctl("wait", "web", "--timeout", "30").returncode == 0
        for path in (b"/json/version", b"/json/list"):
            direct = http_exchange(port, path)
            assert direct.startswith(b"HTTP/1.") and b"200 OK" in direct.split(b"\r\n")[0], direct
            assert http_exchange(attach, path) == direct
