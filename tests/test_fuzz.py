"""Fuzzing the control socket (varlink) and the rendezvous sockets (Unix and TCP).

Seeded and reproducible: the seed is printed (and in every failure message); run again with
ATTACHD_FUZZ_SEED=N.  ATTACHD_FUZZ_SCALE=2 doubles the number of inputs.

Connections are reused: after each fuzzed input the test sends a *sentinel* whose reply is
unique (a GetInterfaceDescription of a made-up interface on the control socket, an unknown key
on a rendezvous socket), then reads replies until the sentinel's (the connection lives on) or
end of file (the daemon closed it: reconnect).  Every reply must be well-formed.
"""

import json
import os
import random
import socket
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import subprocess  # noqa: E402

from attachd_harness import free_port, wait_for  # noqa: E402
from hardening_support import LineClient, fd_count, fd_targets, rss_kib, wait_fds_back  # noqa: E402
from varlink_raw import RawVarlink  # noqa: E402

SEED = int(os.environ.get("ATTACHD_FUZZ_SEED") or random.SystemRandom().randrange(1 << 32))
SCALE = float(os.environ.get("ATTACHD_FUZZ_SCALE", "1"))
CONTROL_INPUTS = int(8000 * SCALE)
RENDEZVOUS_INPUTS = int(2000 * SCALE)  # per transport (Unix and TCP)
# Sanitizer builds run several times slower; scripts/test-sanitizers sets the factor.
SLOWDOWN = float(os.environ.get("ATTACHD_FUZZ_SLOWDOWN") or 1)
TIME_BUDGET = 40.0 * SCALE * SLOWDOWN  # seconds for all inputs together: the test fails beyond it
# The long, mixed fuzz (tests/fuzz_mixed.py): ATTACHD_FUZZ_INPUTS inputs, with
# ATTACHD_FUZZ_LOAD busy processes beside the daemon (a loaded machine).
MIXED_INPUTS = int(os.environ.get("ATTACHD_FUZZ_INPUTS") or 3000)
MIXED_LOAD = int(os.environ.get("ATTACHD_FUZZ_LOAD") or 0)
# Descriptors are back to the baseline this soon once the fuzz's clients are gone and its
# sessions ended: a client that goes away is dropped at once, whatever it left unread.
FDS_BACK_WITHIN = 1.0 * SLOWDOWN
MiB = 1 << 20

PROJECTS = ("fz-a", "fz-b")


# ----------------------------------------------------------------------------- control inputs

def _call(method, parameters=None, **flags):
    call = {"method": method}
    if parameters is not None:
        call["parameters"] = parameters
    call.update(flags)
    return json.dumps(call).encode()


# Valid calls that cannot block a connection or change the projects under test.
CONTROL_BASES = [
    _call("org.varlink.service.GetInfo"),
    _call("org.varlink.service.GetInterfaceDescription", {"interface": "io.attachd.Broker"}),
    _call("io.attachd.Broker.GetStatus"),
    _call("io.attachd.Broker.GetStatus", oneway=True),
    _call("io.attachd.Broker.ListProjects"),
    _call("io.attachd.Broker.ListSessions", {"project": "fz-a"}),
    _call("io.attachd.Broker.ListSessions"),
    _call("io.attachd.Broker.GetProject", {"name": "fz-a"}),
    _call("io.attachd.Broker.GetProject", {"name": "nope"}),
    _call("io.attachd.Broker.EndSession", {"id": "nope-1"}),
    _call("io.attachd.Broker.Wait", {"project": "nope", "timeout": 0}),
    _call("io.attachd.Broker.RemoveProject", {"name": "nope"}),
    _call("io.attachd.Broker.Announce", {"project": "nope", "debugPort": 1234, "pid": 1}),
    _call("io.attachd.Broker.AddProject", {"name": "fz/x", "debugPort": 99999}),
    _call("io.attachd.Broker.AddProject", {"name": "fz\u0000x", "debugPort": 5678}),
    _call("io.attachd.Broker.AddProject", {"name": "fz-a", "debugPort": 5678}),  # exists
]

WRONG_SHAPES = [
    b"[]", b"{}", b"1", b"-0", b'"io.attachd.Broker.GetStatus"', b"null", b"true", b"",
    b'{"method":1}', b'{"method":null}', b'{"method":["io.attachd.Broker.GetStatus"]}',
    b'{"parameters":{}}', b'{"method":"io.attachd.Broker.GetStatus","parameters":[]}',
    b'{"method":"io.attachd.Broker.GetStatus","parameters":"x"}',
    b'{"method":"io.attachd.Broker.GetProject","parameters":{"name":5}}',
    b'{"method":"io.attachd.Broker.GetProject","parameters":{"name":null}}',
    b'{"method":"io.attachd.Broker.GetProject","parameters":{}}',
    b'{"method":"io.attachd.Broker.AddProject","parameters":{"name":"x","debugPort":"5678"}}',
    b'{"method":"io.attachd.Broker.AddProject","parameters":{"name":"x","debugPort":5678.5}}',
    b'{"method":"io.attachd.Broker.AddProject","parameters":{"name":"x","debugPort":true}}',
    b'{"method":"io.attachd.Broker.Wait","parameters":{"project":"nope","timeout":"soon"}}',
    b'{"method":"io.attachd.Broker.Watch","parameters":{}}',  # without more: ExpectedMore
    b'{"method":"io.attachd.Broker.GetStatus","more":"yes"}',
    b'{"method":"io.attachd.Broker.GetStatus","oneway":1}',
    b'{"method":"io.attachd.Broker.GetStatus","method":"io.attachd.Broker.Nope"}',
    b'{"method":"io.attachd.Broker.GetStatus",}', b'{"method" "x"}', b"{'method':'x'}",
    b'{"method":"io.attachd.Broker.GetStatus"}{"method":"x"}', b"\xef\xbb\xbf{}",
    b'{"method":"io.attachd.Broker.GetProject","parameters":{"name":NaN}}',
    b'{"method":"io.attachd.Broker.GetProject","parameters":{"name":Infinity}}',
]

HUGE_NUMBERS = [b"1e308", b"1e309", b"-1e309", b"99999999999999999999999999999999", b"-1", b"0",
                b"65536", b"4294967296", b"9223372036854775807", b"9223372036854775808",
                b"-9223372036854775809", b"1.5", b"-0.0", b"1E+2", b"0.0000000000000001e-400",
                b"123456789" * 40]


def _huge_number_call(rng):
    n = rng.choice(HUGE_NUMBERS).decode()
    template = rng.choice([
        '{"method":"io.attachd.Broker.AddProject","parameters":{"name":"fz/n","debugPort":%s}}',
        '{"method":"io.attachd.Broker.AddProject","parameters":{"name":"fz/n","debugPort":5678,"rendezvousPort":%s}}',
        '{"method":"io.attachd.Broker.Wait","parameters":{"project":"nope","timeout":%s}}',
        '{"method":"io.attachd.Broker.Announce","parameters":{"project":"nope","debugPort":%s,"pid":%s}}',
        '{"method":"io.attachd.Broker.EndSession","parameters":{"id":%s}}',
        '{"method":"io.attachd.Broker.GetStatus","parameters":{"x":%s}}',
    ])
    return (template.replace("%s", n)).encode()


def _unknown_method(rng):
    name = rng.choice([
        "io.attachd.Broker.%s" % _word(rng),
        "org.varlink.service.%s" % _word(rng),
        "%s.%s.%s" % (_word(rng), _word(rng), _word(rng)),
        _word(rng), "", ".", "io.attachd.Broker.", ".GetStatus", "io.attachd.Broker.GetStatus.x",
        "io.attachd.Broker.getstatus", "io.attachd.Broker.GetStatus\u0000",
    ])
    return _call(name, rng.choice([None, {}, {"name": "fz-a"}]))


def _word(rng):
    return "".join(rng.choice("abcXYZ_09é") for _ in range(rng.randint(1, 12)))


def _invalid_utf8(rng):
    bad = rng.choice([b"\xff", b"\xc3", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                      b"\xc0\xaf", b"\x80"])
    base = rng.choice([b'{"method":"io.attachd.Broker.GetProject","parameters":{"name":"%s"}}',
                       b'{"method":"io.attachd.Broker.%s"}', b'{"method":"io.attachd.Broker.GetStatus","%s":1}',
                       b'%s'])
    return base.replace(b"%s", b"fz" + bad + b"a")


def _deeply_nested(rng):
    depth = rng.choice([64, 256, 511, 512, 513, 1000, 10000, 100000])
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    inner = opener * depth + b"1" + closer * depth
    return rng.choice([
        b'{"method":"io.attachd.Broker.GetProject","parameters":{"name":' + inner + b"}}",
        b'{"method":"io.attachd.Broker.GetStatus","parameters":{"deep":' + inner + b"}}",
        inner,
    ])


def _mutate(rng, data, rounds=None):
    data = bytearray(data)
    for _ in range(rounds or rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(data) + 1) if data else 0
        if op == 0 and data:  # flip bits
            data[min(pos, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert a random byte (NUL-free: a NUL would split the message)
            data[pos:pos] = bytes([rng.randrange(1, 256)])
        elif op == 2 and data:  # delete a span
            del data[pos:pos + rng.randint(1, 8)]
        elif op == 3 and data:  # duplicate a span
            data[pos:pos] = data[pos:pos + rng.randint(1, 16)]
        elif op == 4 and data:  # replace with an interesting byte
            data[min(pos, len(data) - 1)] = rng.choice(b'"{}[]:,\\0-9e.\x7f\xff \t')
        else:  # insert an interesting token
            data[pos:pos] = rng.choice([b'"', b"\\u0000", b"\\ud800", b"null", b"1e999", b"{", b"]",
                                        b'"more":true,', b",", b"\\"])
    return bytes(data)


def _random_bytes(rng):
    n = rng.choice([1, 2, 5, 17, 100, 1000, 5000])
    return bytes(rng.randrange(256) for _ in range(n))


def control_input(rng):
    """One fuzzed control input: (kind, bytes to send, how it ends).

    end is "nul" (a NUL follows: a complete message; the sentinel follows too), or "eof" (no
    NUL: the write side is shut, the daemon must close without hanging).
    """
    r = rng.random()
    if r < 0.40:
        return "mutated", _mutate(rng, rng.choice(CONTROL_BASES)), "nul"
    if r < 0.50:
        return "random-bytes", _random_bytes(rng), "nul"
    if r < 0.58:
        return "invalid-utf8", _invalid_utf8(rng), "nul"
    if r < 0.68:
        return "wrong-shape", rng.choice(WRONG_SHAPES), "nul"
    if r < 0.76:
        return "unknown-method", _unknown_method(rng), "nul"
    if r < 0.86:
        return "huge-number", _huge_number_call(rng), "nul"
    if r < 0.89:
        return "nested", _deeply_nested(rng), "nul"
    if r < 0.96:
        base = rng.choice(CONTROL_BASES)
        return "truncated", base[:rng.randrange(len(base))], rng.choice(["nul", "eof"])
    if r < 0.965:
        # Over the 1 MiB limit, with or without its NUL.
        size = MiB + rng.choice([1, 2, 100, 70000])
        body = b'{"method":"io.attachd.Broker.GetStatus","parameters":{"x":"' + b"A" * size + b'"}}'
        return "oversized", body, rng.choice(["nul", "eof"])
    return "valid", rng.choice(CONTROL_BASES), "nul"


def _is_sentinel(reply, n):
    return (isinstance(reply, dict) and reply.get("error") == "org.varlink.service.InterfaceNotFound"
            and reply.get("parameters", {}).get("interface") == "fz.sentinel.%d" % n)


def _check_reply(reply, context):
    assert isinstance(reply, dict), "reply is not an object: %r (%s)" % (reply, context)
    if "error" in reply:
        assert isinstance(reply["error"], str) and "." in reply["error"], context
        assert isinstance(reply.get("parameters", {}), dict), context
    else:
        assert isinstance(reply.get("parameters"), dict), "bad reply %r (%s)" % (reply, context)


class ControlFuzzer(object):
    def __init__(self, path):
        self.path = path
        self.conn = None
        self.connections = 0
        self.closed_by_daemon = 0
        self.replies = 0
        self.errors = {}

    def _connect(self):
        if self.conn is None:
            self.conn = RawVarlink(self.path)
            self.connections += 1
        return self.conn

    def _drop(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def feed(self, n, kind, data, end, context):
        if end == "eof":
            # A message cut off by end of file: the daemon must close (after an error, maybe).
            c = RawVarlink(self.path)
            self.connections += 1
            try:
                c.send_raw(data)
                c.sock.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed while we were still writing (an oversized message)
            while True:
                try:
                    reply = c.receive(timeout=10)
                except ConnectionResetError:
                    reply = None
                if reply is None:
                    break
                _check_reply(reply, context)
                self._count(reply)
            c.close()
            self.closed_by_daemon += 1
            return
        conn = self._connect()
        sentinel = _call("org.varlink.service.GetInterfaceDescription", {"interface": "fz.sentinel.%d" % n})
        try:
            conn.send_raw(data + b"\0" + sentinel + b"\0")
        except (BrokenPipeError, ConnectionResetError):
            # Closed while we were still writing (an oversized message): read what is left.
            pass
        while True:
            try:
                reply = conn.receive(timeout=10)
            except (ConnectionResetError, BrokenPipeError):
                reply = None
            except ValueError as exc:
                raise AssertionError("reply is not JSON (%s): %s" % (exc, context))
            if reply is None:
                self.closed_by_daemon += 1
                self._drop()
                return
            if _is_sentinel(reply, n):
                return
            _check_reply(reply, context)
            self._count(reply)

    def _count(self, reply):
        self.replies += 1
        name = reply.get("error", "ok")
        self.errors[name] = self.errors.get(name, 0) + 1


# ----------------------------------------------------------------------------- rendezvous inputs

KEYS = ["READY", "STOPPING", "DEBUG_PORT", "MAINPID", "STATUS", "ready", "DEBUG_PORT ", " READY",
        "FOO", "", "MAINPID\0", "DEBUG-PORT", "X" * 100, "WATCHDOG", "NOTIFYACCESS", "ERRNO"]
VALUES = ["1", "0", "2", "", " 1 ", "99999", "65535", "65536", "-1", "-5678", "+5678", "0x10", "1e3",
          "5678.0", "99999999999999999999999", "2147483647", "2147483648", "-2147483648", "\0",
          "1\0", "abc", "\t1\t", "١٢٣", "text with spaces", "\x7f\x01\x1b[31m", "=", "==1"]


def rendezvous_input(rng, debug_port):
    """(kind, bytes): a line (or lines) ending with \\n; or kind "bare"/"partial-eof"."""
    r = rng.random()
    if r < 0.25:
        line = "%s=%s" % (rng.choice(KEYS), rng.choice(VALUES))
        return "key-value", line.encode("utf-8", "surrogatepass") + b"\n"
    if r < 0.35:
        return "unknown-key", ("%s=%s" % (_word(rng).upper(), _word(rng))).encode() + b"\n"
    if r < 0.45:
        word = bytes(rng.randrange(32, 127) for _ in range(rng.randint(0, 60))).replace(b"\n", b" ")
        return "random-line", word + rng.choice([b"\n", b"\r\n"])
    if r < 0.52:
        data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
        return "random-bytes", data + b"\n"
    if r < 0.58:
        line = rng.choice([b"STATUS=", b"DEBUG_PORT=", b"FOO\0BAR=", b"READY=1\0", b"\0"]) + b"\0x\0"
        return "nul", line + b"\n"
    if r < 0.64:
        bad = rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80\x80"])
        return "invalid-utf8", rng.choice([b"STATUS=", b"READY=", b"", b"K"]) + bad + b"\n"
    if r < 0.70:
        return "debug-port-99999", rng.choice([b"DEBUG_PORT=99999\n", b"DEBUG_PORT=0\n", b"DEBUG_PORT=-1\n"])
    if r < 0.75:
        return "negative-pid", rng.choice([b"MAINPID=-1\n", b"MAINPID=-4242\n", b"MAINPID=0\n",
                                           b"MAINPID=99999999999\n"])
    if r < 0.84:
        # Valid announcements: sessions come and go while the fuzzing goes on.
        choice = rng.choice([
            b"DEBUG_PORT=%d\n" % debug_port, b"READY=1\n", b"STATUS=%s\n" % _word(rng).encode(),
            b"DEBUG_PORT=%d\nREADY=1\n" % debug_port, b"MAINPID=%d\n" % os.getpid(), b"STOPPING=1\n",
            b"MAINPID=%d\n" % rng.choice([2 ** 22 - 1, 4194000]),  # (almost surely) not running
            b"\n", b"   \t \n", b"\r\n",
        ])
        return "valid", choice
    if r < 0.86:
        return "too-long", b"STATUS=" + b"x" * rng.choice([4089, 4090, 5000, 70000]) + b"\n"
    if r < 0.93:
        return "bare", b""
    if r < 0.97:
        return "partial-eof", b"DEBUG_PORT=12"[:rng.randint(1, 13)]
    parts = []
    while len(parts) < 3:
        kind, data = rendezvous_input(rng, debug_port)
        if data.endswith(b"\n") and kind != "too-long":
            parts.append(data)
    return "multi", b"".join(parts)


class RendezvousFuzzer(object):
    def __init__(self, target):
        self.target = target
        self.conn = None
        self.connections = 0
        self.closed_by_daemon = 0
        self.replies = {"OK": 0, "ERROR": 0}

    def _connect(self):
        if self.conn is None:
            self.conn = LineClient(self.target)
            self.connections += 1
        return self.conn

    def _drop(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def feed(self, n, kind, data, context):
        if kind in ("bare", "partial-eof"):
            c = LineClient(self.target)
            self.connections += 1
            if data:
                c.send(data)
            c.sock.shutdown(socket.SHUT_WR)
            rest = c.wait_eof(timeout=10)
            for line in rest.split(b"\n")[:-1]:
                self._check(line, context)
            c.close()
            return
        conn = self._connect()
        sentinel = b"FZSENTINEL_%d=1\n" % n
        try:
            conn.send(data + sentinel)
        except (BrokenPipeError, ConnectionResetError):
            pass
        while True:
            line = conn.line(timeout=10)
            if line is None:
                self.closed_by_daemon += 1
                self._drop()
                return
            if line.startswith(b'ERROR unknown key "FZSENTINEL_%d"' % n):
                return
            self._check(line, context)

    def _check(self, line, context):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise AssertionError("reply is not UTF-8: %r (%s)" % (line, context))
        assert text.startswith("OK session=") or text.startswith("ERROR "), "bad reply %r (%s)" % (line, context)
        assert "\0" not in text and "\r" not in text, context
        self.replies[text.split(" ", 1)[0]] += 1


# ----------------------------------------------------------------------------- the test

def _describe(kind, data):
    shown = data if len(data) <= 200 else data[:200] + b"...(%d bytes)" % len(data)
    return "seed=%d kind=%s input=%r" % (SEED, kind, shown)


def _warm_up(daemon, ports):
    """One full session (so the LISTEN probe's socket exists), a Wait that times out and a
    partial line completed later (libdispatch's timer descriptor): what opens descriptors on
    first use is open before the baseline is taken."""
    debug_port = ports["fz-a"][0]
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", debug_port))
        listener.listen(1)
        host = LineClient(daemon.rendezvous_path("fz-a"))
        host.send(b"DEBUG_PORT=%d\nREADY=1\n" % debug_port)
        assert host.line().startswith(b"OK session=")
        assert daemon.ctl("wait", "fz-a", "--timeout", "10").returncode == 0
        host.close()
    # ... and libdispatch's timer descriptor, created on first use: a Wait that times out,
    # and a partial line (its idle timer) completed later.
    assert daemon.ctl("wait", "fz-b", "--timeout", "0.1").returncode == 124
    host = LineClient(daemon.rendezvous_path("fz-b"))
    host.send(b"STATUS=warm")
    conn = RawVarlink(daemon.socket)
    conn.call("io.attachd.Broker.GetStatus")  # the partial line has been read by now
    host.send(b"-up\n")
    assert host.line().startswith(b"OK session=")
    host.close()
    conn.close()
    wait_for(lambda: daemon.ctl_json("status")["sessions"] == 0, 10)


def test_fuzz_control_and_rendezvous_sockets(daemon, capsys):
    rng = random.Random(SEED)
    print("\nfuzz seed %d (reproduce with ATTACHD_FUZZ_SEED=%d)" % (SEED, SEED))
    ports = {}
    for name in PROJECTS:
        debug, rendezvous = free_port(), free_port()
        ports[name] = (debug, rendezvous)
        daemon.ctl("add", name, "--debug-port", debug, "--rendezvous-port", rendezvous, "--timeout", "1", check=True)
    _warm_up(daemon, ports)
    fds_before = fd_count(daemon.pid)
    rss_before = rss_kib(daemon.pid)
    targets_before = fd_targets(daemon.pid)

    started = time.monotonic()
    control = ControlFuzzer(daemon.socket)
    kinds = {}
    for n in range(CONTROL_INPUTS):
        kind, data, end = control_input(rng)
        kinds[kind] = kinds.get(kind, 0) + 1
        control.feed(n, kind, data, end, _describe(kind, data))
    control._drop()
    control_time = time.monotonic() - started

    rendezvous = {}
    for transport, target in (("unix", daemon.rendezvous_path("fz-b")), ("tcp", ports["fz-b"][1])):
        fuzzer = RendezvousFuzzer(target)
        for n in range(RENDEZVOUS_INPUTS):
            kind, data = rendezvous_input(rng, ports["fz-b"][0])
            kinds["rdv-" + kind] = kinds.get("rdv-" + kind, 0) + 1
            fuzzer.feed(n, kind, data, _describe(kind, data) + " transport=" + transport)
        fuzzer._drop()
        rendezvous[transport] = fuzzer
    elapsed = time.monotonic() - started
    total = CONTROL_INPUTS + 2 * RENDEZVOUS_INPUTS

    # The daemon still answers GetStatus correctly.
    assert daemon.running, daemon.stderr_text()[-4000:]
    conn = RawVarlink(daemon.socket)
    status = conn.call("io.attachd.Broker.GetStatus")
    conn.close()
    params = status["parameters"]
    assert params["pid"] == daemon.pid and params["version"] and params["probe"] in ("sock_diag", "proc")
    # A mutated AddProject may (rarely) have become a valid one: remove such extras.
    names = [p["name"] for p in daemon.ctl_json("list")]
    extras = [n for n in names if n not in PROJECTS]
    for name in extras:
        daemon.ctl("remove", "--", name, check=True)  # a fuzzed name may start with "-"
    assert sorted(n for n in names if n in PROJECTS) == sorted(PROJECTS)
    listed = daemon.ctl("list")
    assert listed.returncode == 0 and all(p in listed.stdout for p in PROJECTS)
    # Sessions opened by the fuzz end (ready timeout 1 s, host connections closed).
    wait_for(lambda: daemon.ctl_json("status")["sessions"] == 0, 15, interval=0.1)
    assert daemon.ctl_json("status")["projects"] == len(PROJECTS)

    try:
        wait_fds_back(daemon.pid, fds_before, timeout=FDS_BACK_WITHIN)
    except AssertionError:
        raise AssertionError("descriptors leaked (seed %d): before %r after %r"
                             % (SEED, targets_before, fd_targets(daemon.pid)))
    fds_after = fd_count(daemon.pid)
    rss_after = rss_kib(daemon.pid)
    with capsys.disabled():
        print("\nfuzz: seed %d, %d inputs in %.1fs (control %d in %.1fs, rendezvous %d unix + %d tcp)"
              % (SEED, total, elapsed, CONTROL_INPUTS, control_time, RENDEZVOUS_INPUTS, RENDEZVOUS_INPUTS))
        print("fuzz: kinds %s" % json.dumps(kinds, sort_keys=True))
        print("fuzz: control: %d connections, %d closed by the daemon, %d replies %s"
              % (control.connections, control.closed_by_daemon, control.replies,
                 json.dumps(control.errors, sort_keys=True)))
        for transport, f in rendezvous.items():
            print("fuzz: rendezvous %s: %d connections, %d closed by the daemon, replies %s"
                  % (transport, f.connections, f.closed_by_daemon, f.replies))
        print("fuzz: extra projects removed %r; fds before %d after %d; VmRSS before %d KiB after %d KiB"
              % (extras, fds_before, fds_after, rss_before, rss_after))
    assert total >= 10000
    if not os.environ.get("ATTACHD_SANITIZER"):
        # Not under a sanitizer: ASan keeps freed memory in quarantine (256 MiB by default)
        # and both map shadow memory, so RSS there says nothing about attachd's own growth.
        assert rss_after < rss_before + 20 * 1024, "RSS grew from %d to %d KiB" % (rss_before, rss_after)
    assert elapsed < TIME_BUDGET, "fuzzing took %.1fs (budget %.0fs)" % (elapsed, TIME_BUDGET)


# ----------------------------------------------------------------------------- the long, mixed fuzz

def _status(daemon):
    conn = RawVarlink(daemon.socket)
    try:
        return conn.call("io.attachd.Broker.GetStatus")["parameters"]
    finally:
        conn.close()


def test_fuzz_mixed_clients_stay_vanish_dribble_and_reset(daemon, capsys):
    from fuzz_mixed import MixedFuzzer
    rng = random.Random(SEED)
    print("\nmixed fuzz seed %d (reproduce with ATTACHD_FUZZ_SEED=%d)" % (SEED, SEED))
    ports = {}
    for name in PROJECTS:
        ports[name] = (free_port(), free_port())
        daemon.ctl("add", name, "--debug-port", ports[name][0], "--rendezvous-port", ports[name][1],
                   "--timeout", "1", check=True)
    _warm_up(daemon, ports)
    fds_before = fd_count(daemon.pid)
    targets_before = fd_targets(daemon.pid)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(MIXED_LOAD)]
    fuzzer = MixedFuzzer(daemon, rng, list(PROJECTS), ports)
    started = time.monotonic()
    try:
        for n in range(MIXED_INPUTS):
            if n % 200 == 0:
                assert daemon.running, "attachd died before input %d (seed %d):\n%s" % (
                    n, SEED, daemon.stderr_text()[-8000:])
            try:
                fuzzer.feed(n)
            except Exception:
                if not daemon.running:
                    raise AssertionError("attachd died at input %d (seed %d):\n%s"
                                         % (n, SEED, daemon.stderr_text()[-8000:]))
                raise
        elapsed = time.monotonic() - started
        in_flight_at_end = (len(fuzzer.in_flight), len(fuzzer.hosts))
        fuzzer.close_all()
    finally:
        for p in busy:
            p.kill()
            p.wait()
    assert daemon.running, daemon.stderr_text()[-8000:]
    # A mutated AddProject may (rarely) have become a valid one: remove such extras.
    extras = [p["name"] for p in daemon.ctl_json("list") if p["name"] not in PROJECTS]
    for name in extras:
        daemon.ctl("remove", "--", name, check=True)
    # Every waiter and connection goes with its client: only this status call is left.
    wait_for(lambda: (lambda s: (s["waiters"], s["connections"], s["sessions"]) == (0, 1, 0))(_status(daemon)),
             15, interval=0.05, message="waiters/connections/sessions not back to 0: %r" % _status(daemon))
    status = _status(daemon)
    assert status["pid"] == daemon.pid and status["projects"] == len(PROJECTS)
    try:
        wait_fds_back(daemon.pid, fds_before, timeout=FDS_BACK_WITHIN)
    except AssertionError:
        raise AssertionError("descriptors leaked (seed %d): before %r after %r"
                             % (SEED, targets_before, fd_targets(daemon.pid)))
    fds_after = fd_count(daemon.pid)
    with capsys.disabled():
        print("\nmixed fuzz: seed %d, %d inputs in %.1fs (%.0f/s), %d busy processes beside"
              % (SEED, MIXED_INPUTS, elapsed, MIXED_INPUTS / elapsed, MIXED_LOAD))
        print("mixed fuzz: kinds %s" % json.dumps(fuzzer.kinds, sort_keys=True))
        print("mixed fuzz: vanished %s; stream replies %d; in flight at the end %d calls, %d hosts; "
              "extra projects removed %r" % (fuzzer.vanished, fuzzer.stream_replies, in_flight_at_end[0],
                                            in_flight_at_end[1], extras))
        print("mixed fuzz: fds before %d after %d (leftover %d); status %s"
              % (fds_before, fds_after, fds_after - fds_before, json.dumps(status, sort_keys=True)))
    budget = max(60.0, MIXED_INPUTS * 0.01) * SLOWDOWN * (1 + MIXED_LOAD)
    assert elapsed < budget, "mixed fuzzing took %.1fs (budget %.0fs)" % (elapsed, budget)
