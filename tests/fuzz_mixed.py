"""The long, mixed fuzz of tests/test_fuzz.py: clients that stay, vanish, dribble and reset.

Each input is one of:
  wait / watch         a control call that stays in flight (Wait with a long timeout, or a
                       short one that expires meanwhile; Watch, drained or not)
  vanish-pool          a connection from the pool (in-flight calls, connected hosts) closes,
                       or resets (SO_LINGER 0 then close)
  send-vanish          a new client sends calls (Wait, Watch, pipelined) and closes or resets
                       at once, or in the middle of a message
  wait-more-vanish     a new client sends a call that waits (Wait, Watch), then more bytes (a
                       second call, a large body of up to 300 KB, garbage), and closes or resets
  dribble              a call split over several writes with small gaps, answered in full
  control-fuzz         one input of the control fuzz (malformed, oversized, ...), with its
                       sentinel (see ControlFuzzer)
  host-vanish          a rendezvous host (Unix or TCP) connects, maybe writes lines or half a
                       line, and vanishes (close or reset) without reading
  host-stay            a host announces and stays connected (a pending session) in the pool
  rendezvous-fuzz      one input of the rendezvous fuzz, with its sentinel
Pools are bounded (in-flight calls, hosts), so are sizes and every socket timeout.
"""

import json
import random
import select
import socket
import struct
import time

from hardening_support import LineClient
from test_fuzz import (CONTROL_BASES, ControlFuzzer, RendezvousFuzzer, _call, _check_reply, _describe,
                       control_input, rendezvous_input)

MAX_IN_FLIGHT = 48
MAX_HOSTS = 24
LINGER_0 = struct.pack("ii", 1, 0)


def vanish(sock, rng):
    """Close, or reset (SO_LINGER 0: the kernel drops the socket with an RST, unread data and all)."""
    how = "close"
    if rng.random() < 0.5:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
            how = "reset"
        except OSError:
            pass
    sock.close()
    return how


def _unix(path, timeout=10.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


class InFlight(object):
    """A control connection with a call that stays open; its replies are read as they come."""

    def __init__(self, sock, kind):
        self.sock = sock
        self.kind = kind
        self.buffer = b""
        self.replies = 0
        self.closed = False

    def drain(self, context):
        while True:
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                return
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
                return
            self.buffer += chunk
            while b"\0" in self.buffer:
                message, self.buffer = self.buffer.split(b"\0", 1)
                _check_reply(json.loads(message.decode()), context)
                self.replies += 1


class MixedFuzzer(object):
    def __init__(self, daemon, rng, projects, ports):
        self.daemon = daemon
        self.rng = rng
        self.projects = projects
        self.ports = ports  # name -> (debug port, rendezvous port)
        self.in_flight = []
        self.hosts = []
        self.control = ControlFuzzer(daemon.socket)
        self.rendezvous = {"unix": RendezvousFuzzer(daemon.rendezvous_path(projects[1])),
                           "tcp": RendezvousFuzzer(ports[projects[1]][1])}
        self.dribbler = None
        self.kinds = {}
        self.vanished = {"close": 0, "reset": 0}
        self.stream_replies = 0

    # ------------------------------------------------------------ inputs
    def _wait_call(self):
        rng = self.rng
        timeout = rng.choice([600, 300, 120, 0.05, 0.2, 1])
        return _call("io.attachd.Broker.Wait", {"project": rng.choice(self.projects), "timeout": timeout})

    def _watch_call(self):
        parameters = self.rng.choice([{}, {"project": self.projects[0]}, {"project": self.projects[1]}])
        return _call("io.attachd.Broker.Watch", parameters, more=True)

    def feed(self, n):
        rng = self.rng
        r = rng.random()
        if r < 0.10:
            kind = self._stay("wait", self._wait_call())
        elif r < 0.15:
            kind = self._stay("watch", self._watch_call())
        elif r < 0.27:
            kind = self._vanish_pool()
        elif r < 0.33:
            kind = self._send_vanish()
        elif r < 0.39:
            kind = self._wait_more_vanish()
        elif r < 0.49:
            kind = self._dribble(n)
        elif r < 0.71:
            kind, data, end = control_input(rng)
            self.control.feed(n, kind, data, end, _describe(kind, data))
            kind = "control-" + kind
        elif r < 0.85:
            kind = self._host_vanish()
        elif r < 0.89:
            kind = self._host_stay()
        else:
            transport = rng.choice(["unix", "unix", "tcp"])
            kind, data = rendezvous_input(rng, self.ports[self.projects[1]][0])
            self.rendezvous[transport].feed(n, kind, data, _describe(kind, data) + " transport=" + transport)
            kind = "rdv-" + kind
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        self._drain("seed input %d" % n)

    def _stay(self, kind, call):
        if len(self.in_flight) >= MAX_IN_FLIGHT:
            return self._vanish_pool()
        sock = _unix(self.daemon.socket)
        sock.sendall(call + b"\0")
        # Non-blocking from now on: drain() reads what is there (a socket with a timeout would
        # wait for more, MSG_DONTWAIT or not).
        sock.setblocking(False)
        self.in_flight.append(InFlight(sock, kind))
        return kind

    def _vanish_pool(self):
        pool = self.in_flight + self.hosts
        if not pool:
            return "vanish-none"
        victim = self.rng.choice(pool)
        if victim in self.in_flight:
            self.in_flight.remove(victim)
            self.stream_replies += victim.replies
            how = vanish(victim.sock, self.rng)
            kind = "vanish-" + victim.kind
        else:
            self.hosts.remove(victim)
            how = vanish(victim.sock, self.rng)
            kind = "vanish-host"
        self.vanished[how] += 1
        return kind

    def _send_vanish(self):
        rng = self.rng
        calls = [rng.choice([self._wait_call(), self._watch_call(), rng.choice(CONTROL_BASES)])
                 for _ in range(rng.randint(1, 3))]
        payload = b"\0".join(calls) + b"\0"
        kind = "send-vanish"
        if rng.random() < 0.4:
            payload = payload[:rng.randrange(1, len(payload))]
            kind = "send-vanish-mid-message"
        sock = _unix(self.daemon.socket)
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.vanished[vanish(sock, rng)] += 1
        return kind

    def _wait_more_vanish(self):
        """A call that waits, then more bytes behind it, then the client goes: dropped at once,
        whatever the daemon has not read (the hang-up, POLLRDHUP, not an end-of-file)."""
        rng = self.rng
        waiting = rng.choice([_call("io.attachd.Broker.Wait", {"project": rng.choice(self.projects), "timeout": 600}),
                              self._watch_call()])
        what = rng.choice(["second-call", "large-body", "garbage"])
        if what == "second-call":
            more = rng.choice([self._wait_call(), self._watch_call(), rng.choice(CONTROL_BASES)]) + b"\0"
        elif what == "large-body":
            more = _call("io.attachd.Broker.GetStatus")[:-1] + b',"pad":"' + b"x" * rng.choice([1000, 70000, 300000])
        else:
            more = bytes(rng.getrandbits(8) for _ in range(rng.choice([100, 5000, 100000])))
        sock = _unix(self.daemon.socket)
        try:
            sock.sendall(waiting + b"\0")
            sock.sendall(more)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon refused the garbage and closed first
        self.vanished[vanish(sock, rng)] += 1
        return "wait-more-vanish-" + what

    def _dribble(self, n):
        """One valid call and its sentinel over several writes, then both replies in order."""
        rng = self.rng
        if self.dribbler is None:
            self.dribbler = _unix(self.daemon.socket)
            self.dribbler_buffer = b""
        sentinel = _call("org.varlink.service.GetInterfaceDescription", {"interface": "fz.dribble.%d" % n})
        # (CONTROL_BASES hold no call that stays open: a Wait there is answered at once.)
        data = rng.choice(CONTROL_BASES) + b"\0" + sentinel + b"\0"
        cuts = sorted(rng.sample(range(1, len(data)), min(rng.randint(1, 5), len(data) - 1)))
        for start, end in zip([0] + cuts, cuts + [len(data)]):
            self.dribbler.sendall(data[start:end])
            time.sleep(rng.choice([0, 0, 0.0002, 0.001]))  # the input's shape, not a synchronisation
        deadline = time.monotonic() + 10
        while True:
            while b"\0" not in self.dribbler_buffer:
                self.dribbler.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = self.dribbler.recv(65536)
                assert chunk, "the daemon closed a well-behaved slow client (input %d)" % n
                self.dribbler_buffer += chunk
            message, self.dribbler_buffer = self.dribbler_buffer.split(b"\0", 1)
            reply = json.loads(message.decode())
            _check_reply(reply, "dribble %d" % n)
            if reply.get("parameters", {}).get("interface") == "fz.dribble.%d" % n:
                return "dribble"

    def _rendezvous_socket(self):
        rng = self.rng
        project = rng.choice(self.projects)
        if rng.random() < 0.3:
            return socket.create_connection(("127.0.0.1", self.ports[project][1]), timeout=10), project
        return _unix(self.daemon.rendezvous_path(project)), project

    def _host_vanish(self):
        rng = self.rng
        sock, project = self._rendezvous_socket()
        r = rng.random()
        kind = "host-vanish-bare"
        try:
            if r < 0.5:
                lines = b"DEBUG_PORT=%d\nMAINPID=%d\nREADY=1\n" % (self.ports[project][0], rng.choice([1, 4194000]))
                sock.sendall(lines[:rng.randint(1, len(lines))])
                kind = "host-vanish-lines"
            elif r < 0.8:
                _, data = rendezvous_input(rng, self.ports[project][0])
                sock.sendall(data)
                kind = "host-vanish-fuzz"
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.vanished[vanish(sock, rng)] += 1
        return kind

    def _host_stay(self):
        if len(self.hosts) >= MAX_HOSTS:
            return self._vanish_pool()
        sock, project = self._rendezvous_socket()
        sock.sendall(b"DEBUG_PORT=%d\nREADY=1\n" % self.ports[project][0])
        client = LineClient.__new__(LineClient)
        client.sock, client.buffer, client.eof, client.quickack = sock, b"", False, False
        for _ in range(2):
            line = client.line(timeout=10)
            if line is not None and line.startswith(b"ERROR too many"):
                # Vanished hosts the daemon has not seen go yet may still fill the project's
                # limit; the refusal is well-formed, and this host goes too.
                self.vanished[vanish(sock, self.rng)] += 1
                return "host-stay-refused"
            assert line is not None and line.startswith(b"OK session="), line
        self.hosts.append(client)
        return "host-stay"

    def _drain(self, context):
        if not self.in_flight:
            return
        readable, _, _ = select.select([c.sock for c in self.in_flight], [], [], 0)
        for c in [c for c in self.in_flight if c.sock in readable]:
            c.drain(context)
            if c.closed:
                # The daemon closed it (a stuck Watch over its output limit, a Wait answered
                # and then the client shut): it leaves the pool.
                self.in_flight.remove(c)
                self.stream_replies += c.replies
                c.sock.close()

    def close_all(self):
        for c in self.in_flight:
            self.stream_replies += c.replies
            c.sock.close()
        for h in self.hosts:
            h.sock.close()
        self.in_flight, self.hosts = [], []
        if self.dribbler is not None:
            self.dribbler.close()
            self.dribbler = None
        self.control._drop()
        for f in self.rendezvous.values():
            f._drop()
