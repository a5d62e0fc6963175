"""DAP framing's cost: the same DAP byte stream through a following project's attach port (DAP
recognised and framed, issue 19) and through a --no-follow one (plain splice relay), against
the debug server directly, in one run.

    swift build -c release --product attachd && swift build -c release --product attachctl
    ATTACHD_BIN_DIR=$(swift build -c release --show-bin-path) python3 bench/dap_framing.py [ROUND_TRIPS] [BULK_MIB]

The host (this process) serves one port: a connection's first DAP message "echo" makes it an
echo (round trips: 1-byte-body messages), "bulk N" makes it send N MiB of DAP messages with
1 MiB bodies (host → IDE, the framed direction). Prints p50/p99 round trip in µs and MB/s.
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from attachd_harness import Daemon, free_port  # noqa: E402

BODY = 1 << 20


def frame(body):
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_frame(sock, buf):
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            length = int(buf[:end].split(b":")[1])
            if len(buf) >= end + 4 + length:
                return bytes(buf[end + 4:end + 4 + length]), buf[end + 4 + length:]
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise EOFError
        buf += chunk


def serve(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    first, rest = read_frame(conn, b"")
    if first.startswith(b"bulk"):
        payload = frame(b"x" * BODY)
        for _ in range(int(first.split()[1])):
            conn.sendall(payload)
        conn.close()
        return
    if rest:
        conn.sendall(rest)
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def host(listener):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def round_trips(port, n):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(frame(b"echo"))
    message = frame(b"x")
    times = []
    for i in range(n + 200):
        t0 = time.perf_counter()
        sock.sendall(message)
        got = 0
        while got < len(message):
            got += len(sock.recv(64))
        if i >= 200:
            times.append((time.perf_counter() - t0) * 1e6)
    sock.close()
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99)]


def bulk(port, mib):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(frame(b"bulk %d" % mib))
    buf = bytearray(1 << 20)
    total = 0
    t0 = time.perf_counter()
    while True:
        n = sock.recv_into(buf)
        if not n:
            break
        total += n
    elapsed = time.perf_counter() - t0
    sock.close()
    return total / elapsed / 1e6


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    threading.Thread(target=host, args=(listener,), daemon=True).start()
    daemon = Daemon()
    daemon.start()
    try:
        ports = {}
        for name, extra in (("dap", []), ("plain", ["--no-follow"])):
            ports[name] = free_port()
            daemon.ctl("add", name, "--attach-port", ports[name], *extra, check=True)
            daemon.ctl("announce", name, "--debug-port", port, "--pid", os.getpid(), check=True)
            assert daemon.ctl("wait", name, "--timeout", "10").returncode == 0
        ports["direct"] = port
        result = {}
        for rnd in range(3):
            for name in ("direct", "plain", "dap"):
                p50, p99 = round_trips(ports[name], n)
                rate = bulk(ports[name], mib)
                result.setdefault(name, []).append((p50, p99, rate))
        for name, runs in result.items():
            print("%-6s round trip p50 %s µs, p99 %s µs; bulk host→IDE %s MB/s" % (
                name, "/".join("%.1f" % r[0] for r in runs), "/".join("%.1f" % r[1] for r in runs),
                "/".join("%.0f" % r[2] for r in runs)))
    finally:
        daemon.stop()
        daemon.cleanup()


if __name__ == "__main__":
    main()
