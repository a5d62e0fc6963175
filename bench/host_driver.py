"""The host side of attachbench: one long-lived process that performs launches on command.

    python3 bench/host_driver.py

attachbench starts it once and writes one command per line on its stdin; each command is
answered by one line on stdout. Keeping one process for all launches keeps interpreter start-up
out of the measured window: the time that matters is taken with time.time() (CLOCK_REALTIME)
right after listen(2) returns, and compared by attachbench with the moment `attachctl wait`
exits.

Commands (PORT is a loopback TCP port):

  lines SOCKET PORT   attachd's line protocol on the project's Unix rendezvous socket: send
                      "DEBUG_PORT=PORT\\n", read "OK session=ID", send "READY=1\\n", read the
                      answer, then bind and listen on 127.0.0.1:PORT (the debug server).
                      The rendezvous connection stays open until `close`.
  bare PORT           the article's bootstrap against attachd: connect to 127.0.0.1:PORT (the
                      rendezvous port is the debug port), close, then bind the same port
                      (retrying the bind while attachd is still giving it up) and listen.
  article PORT        the article's handshake as published: its own `_connect` (poll every
                      second, close, sleep 1 s), then bind and listen on PORT.
  close               close the debug listener and the rendezvous connection.
  quit                exit.

Answers: "LISTENED T0 TLISTEN EXTRA" where T0 is the time the host began its handshake and
TLISTEN the time right after listen(); "CLOSED"; "ERROR text".
"""
import logging
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import article_bootstrap  # noqa: E402  (the seed's bootstrap.py, verbatim)

HOST = "127.0.0.1"
DEADLINE = 10.0


class Host(object):
    def __init__(self):
        self.listener = None
        self.rendezvous = None
        self.reader = None

    def close(self):
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        if self.rendezvous is not None:
            self.rendezvous.close()
            self.rendezvous = None

    def debug_socket(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return s

    def lines(self, path, port):
        t0 = time.time()
        r = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        r.settimeout(DEADLINE)
        r.connect(path)
        self.rendezvous = r
        self.reader = r.makefile("rb")
        for line in ("DEBUG_PORT=%d\n" % port, "READY=1\n"):
            r.sendall(line.encode("ascii"))
            answer = self.reader.readline().decode("utf-8", "replace").strip()
            if not answer.startswith("OK "):
                raise RuntimeError("rendezvous answered %r to %r" % (answer, line.strip()))
        s = self.debug_socket()
        s.bind((HOST, port))
        s.listen(1)
        t = time.time()
        self.listener = s
        return t0, t, answer.split("=", 1)[-1]

    def bare(self, port):
        t0 = time.time()
        deadline = t0 + DEADLINE
        while True:
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                c.connect((HOST, port))
                c.close()
                break
            except socket.error:
                c.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.001)
        binds = 0
        while True:
            s = self.debug_socket()
            binds += 1
            try:
                s.bind((HOST, port))
                break
            except socket.error:
                # attachd closes its rendezvous listener when it accepts, a moment after our
                # connect() returned; the article's host sleeps 1 s here instead.
                s.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.0002)
        s.listen(1)
        t = time.time()
        self.listener = s
        return t0, t, "binds=%d" % binds

    def article(self, port):
        t0 = time.time()
        article_bootstrap._connect(HOST, port)
        # What ptvsd.enable_attach() does next: bind and listen on the same port.
        s = self.debug_socket()
        s.bind((HOST, port))
        s.listen(1)
        t = time.time()
        self.listener = s
        return t0, t, "-"


def main():
    logging.basicConfig(level=logging.WARNING)
    host = Host()
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
            elif words[0] == "close":
                host.close()
                reply = "CLOSED"
            elif words[0] in ("lines", "bare", "article"):
                host.close()
                if words[0] == "lines":
                    t0, t, extra = host.lines(words[1], int(words[2]))
                elif words[0] == "bare":
                    t0, t, extra = host.bare(int(words[1]))
                else:
                    t0, t, extra = host.article(int(words[1]))
                reply = "LISTENED %.6f %.6f %s" % (t0, t, extra)
            else:
                reply = "ERROR unknown command %s" % words[0]
        except Exception as e:  # reported to attachbench, which counts the launch as failed
            host.close()
            reply = "ERROR %s: %s" % (type(e).__name__, str(e).replace("\n", " "))
        out.write(reply + "\n")
        out.flush()
    host.close()


if __name__ == "__main__":
    main()
