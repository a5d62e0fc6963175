"""The host side of attachbench's relay measurements: debug servers behind attachd's attach port.

    python3 bench/relay_host.py

attachbench announces this process (Announce with its pid) as the host of one or many
sessions; attachd relays IDE connections from each project's attach port to a port this
process listens on. A server thread (selectors: epoll) serves every accepted connection:

  - an echo: whatever arrives is written back (the 1-byte ping-pong, the held request);
  - a bulk sink: a connection whose first byte is "B" sends an 8-byte big-endian length, then
    that many bytes; the sink reads them all and answers "K".

Commands on stdin, one answer line each on stdout:

  open N      N sockets bound to 127.0.0.1:0, not listening yet: "PORTS P1 ... PN"
  listen      listen() on every socket opened and not listening: "LISTENED T0 T EXTRA", T0 the
              time before the first listen(), T the time right after the last (time.time(),
              CLOCK_REALTIME; with one socket, right after its listen())
  count       "COUNT listeners connections"
  received    "RECEIVED N", N the bulk bytes (after the length) the sink has read in all; answered
              while a bulk transfer is being read (the relayload phase waits on it)
  close       close every listener and connection: "CLOSED"
  quit        exit
"""
import os
import selectors
import socket
import struct
import sys
import threading
import time

CHUNK = 1 << 20


class Server(object):
    def __init__(self):
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.pending = []      # bound, not listening
        self.listeners = []
        self.connections = set()
        # Read without the lock by the command thread (an int, replaced whole under the GIL).
        self.bulk_received = 0
        # A socketpair wakes the selector when the command thread changes the sets.
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.selector.register(self.wake_r, selectors.EVENT_READ, ("wake", None))
        self.buffer = bytearray(CHUNK)
        self.view = memoryview(self.buffer)

    def open(self, n):
        ports = []
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
            self.pending.append(s)
            ports.append(s.getsockname()[1])
        return ports

    def listen(self):
        sockets, self.pending = self.pending, []
        t0 = time.time()
        for s in sockets:
            s.listen(64)
        t = time.time()
        with self.lock:
            for s in sockets:
                s.setblocking(False)
                self.listeners.append(s)
                self.selector.register(s, selectors.EVENT_READ, ("listener", None))
        self.wake_w.send(b"x")
        return t0, t

    def close(self):
        with self.lock:
            for s in self.listeners + list(self.connections):
                try:
                    self.selector.unregister(s)
                except (KeyError, ValueError):
                    pass
                s.close()
            for s in self.pending:
                s.close()
            self.listeners, self.pending, self.connections = [], [], set()
        self.wake_w.send(b"x")

    def drop(self, c):
        try:
            self.selector.unregister(c)
        except (KeyError, ValueError):
            pass
        self.connections.discard(c)
        c.close()

    def serve(self):
        while True:
            for key, _ in self.selector.select():
                kind, _ = key.data
                s = key.fileobj
                with self.lock:
                    if kind == "wake":
                        try:
                            s.recv(4096)
                        except BlockingIOError:
                            pass
                    elif kind == "listener":
                        if s not in self.listeners:
                            continue
                        while True:
                            try:
                                c, _ = s.accept()
                            except (BlockingIOError, OSError):
                                break
                            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                            c.setblocking(False)
                            self.connections.add(c)
                            self.selector.register(c, selectors.EVENT_READ, ("connection", None))
                    elif s in self.connections:
                        try:
                            n = s.recv_into(self.view, CHUNK)
                        except BlockingIOError:
                            continue
                        except OSError:
                            n = 0
                        if n == 0:
                            self.drop(s)
                        elif self.buffer[0] == ord("B"):
                            rest = bytes(self.buffer[1:n])
                            ok = self.bulk_after(s, rest)
                            if not ok:
                                self.drop(s)
                        else:
                            try:
                                s.setblocking(True)
                                s.sendall(self.view[:n])
                                s.setblocking(False)
                            except OSError:
                                self.drop(s)

    def bulk_after(self, c, rest):
        # The first read may already hold part of the header or data: account for it.
        c.setblocking(True)
        header = rest[:8]
        while len(header) < 8:
            more = c.recv(8 - len(header))
            if not more:
                return False
            header += more
        left = struct.unpack(">Q", header)[0] - len(rest[8:])
        self.bulk_received += len(rest[8:])
        while left > 0:
            n = c.recv_into(self.view, min(left, CHUNK))
            if n == 0:
                return False
            left -= n
            self.bulk_received += n
        c.sendall(b"K")
        c.setblocking(False)
        return True


def main():
    server = Server()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    out = sys.stdout
    out.write("HELLO python=%s pid=%d\n" % (sys.version.split()[0], os.getpid()))
    out.flush()
    for raw in sys.stdin:
        words = raw.split()
        if not words:
            continue
        try:
            if words[0] == "quit":
                break
            elif words[0] == "open":
                reply = "PORTS " + " ".join(str(p) for p in server.open(int(words[1])))
            elif words[0] == "listen":
                t0, t = server.listen()
                reply = "LISTENED %.6f %.6f -" % (t0, t)
            elif words[0] == "count":
                with server.lock:
                    reply = "COUNT %d %d" % (len(server.listeners), len(server.connections))
            elif words[0] == "received":
                reply = "RECEIVED %d" % server.bulk_received
            elif words[0] == "close":
                server.close()
                reply = "CLOSED"
            else:
                reply = "ERROR unknown command %s" % words[0]
        except Exception as e:  # reported to attachbench
            reply = "ERROR %s: %s" % (type(e).__name__, str(e).replace("\n", " "))
        out.write(reply + "\n")
        out.flush()
    server.close()


if __name__ == "__main__":
    main()
