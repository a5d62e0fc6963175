"""Clients that send a call and vanish in the same write: the daemon drops their calls at once.

A `Wait` (or `Watch`) whose client closes right after sending it, the call and the end-of-file
arriving in one read, must not keep its connection and waiter until the wait times out.
"""

import socket

from attachd_harness import free_port, wait_for
from hardening_support import wait_dispatch_timerfd


def _send_and_close(path, payload, reset=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(payload)
    if reset:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


def _arm_a_timer(daemon):
    """A Wait that times out, answered: the daemon armed a timer and it fired, so Dispatch has
    opened its timerfd (on its own thread, the first time a timer is armed); then it is there."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(daemon.socket)
        s.sendall(b'{"method":"io.attachd.Broker.Wait","parameters":{"project":"fire","timeout":0.01}}\0')
        reply = b""
        while not reply.endswith(b"\0"):
            chunk = s.recv(4096)
            assert chunk, "no reply to a Wait"
            reply += chunk
    assert b"io.attachd.Broker.Timeout" in reply, reply
    wait_dispatch_timerfd(daemon.pid)


def _counts(daemon):
    status = daemon.ctl_json("status")
    return status["waiters"], status["connections"]


def test_wait_sent_and_closed_in_one_write_is_dropped_at_once(daemon):
    daemon.ctl("add", "fire", "--debug-port", str(free_port()), check=True)
    wait = b'{"method":"io.attachd.Broker.Wait","parameters":{"project":"fire","timeout":120}}\0'
    # One round first: Dispatch opens a descriptor or two of its own the first time.
    _send_and_close(daemon.socket, wait)
    wait_for(lambda: _counts(daemon) == (0, 1), timeout=10)
    _arm_a_timer(daemon)
    fds_before = daemon.open_fds()
    for _ in range(50):
        _send_and_close(daemon.socket, wait)
    # Only the attachctl status call itself may be connected, and no waiter left.
    wait_for(lambda: _counts(daemon) == (0, 1), timeout=10)
    try:
        wait_for(lambda: daemon.open_fds() <= fds_before, timeout=10)
    except TimeoutError:
        raise AssertionError("descriptors: %d before, %d now" % (fds_before, daemon.open_fds()))
    assert _counts(daemon) == (0, 1)


def test_watch_and_wait_pipelined_then_reset_are_dropped(daemon):
    daemon.ctl("add", "fire", "--debug-port", str(free_port()), check=True)
    calls = (b'{"method":"io.attachd.Broker.Watch","parameters":{},"more":true}\0'
             b'{"method":"io.attachd.Broker.Wait","parameters":{"project":"fire"}}\0'
             b'{"method":"io.attachd.Broker.GetStatus"}\0')
    for i in range(30):
        _send_and_close(daemon.socket, calls, reset=(i % 2 == 0))
    wait_for(lambda: _counts(daemon) == (0, 1), timeout=10)
    # The daemon still serves everyone else.
    assert daemon.ctl("list").returncode == 0


def test_host_that_announces_and_closes_in_one_write_ends_its_session(daemon):
    daemon.ctl("add", "fire", "--debug-port", str(free_port()), check=True)
    for _ in range(20):
        _send_and_close(daemon.rendezvous_path("fire"), b"MAINPID=1\nREADY=1\n")
    wait_for(lambda: len(daemon.sessions("fire")) == 20, timeout=10)
    wait_for(lambda: all(s["state"] == "ended" for s in daemon.sessions("fire")), timeout=10)
    ended = daemon.sessions("fire")
    assert {s["endReason"] for s in ended} == {"host closed the rendezvous connection"}
    assert daemon.ctl_json("status")["sessions"] == 0


# A call that waits, then more bytes, then the client goes: the daemon notices the hang-up
# (POLLRDHUP) whatever it has not read yet, and drops the connection and its calls at once.

import os  # noqa: E402
import random  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

from hardening_support import fd_count, fd_targets  # noqa: E402

# Sanitizer builds run slower (scripts/test-sanitizers sets it).
SLOWDOWN = float(os.environ.get("ATTACHD_FUZZ_SLOWDOWN") or 1)
WITHIN = 1.0 * SLOWDOWN


def _waiting_call(kind):
    if kind == "wait":
        return b'{"method":"io.attachd.Broker.Wait","parameters":{"project":"fire","timeout":600}}\0'
    return b'{"method":"io.attachd.Broker.Watch","parameters":{},"more":true}\0'


def _more(kind, rng):
    second = b'{"method":"io.attachd.Broker.Wait","parameters":{"project":"fire","timeout":600}}\0'
    if kind == "second-call":
        return second
    if kind == "large-body":
        # A call whose body is still arriving: 100 KB of it, no NUL.
        return b'{"method":"io.attachd.Broker.GetStatus","parameters":{"pad":"' + b"x" * 100000
    if kind == "call-and-large-body":
        return second + b" " * 300000
    return bytes(rng.getrandbits(8) for _ in range(100000))  # garbage, NULs and all


def _back_to_baseline(daemon, fds_before, what):
    started = time.monotonic()
    try:
        wait_for(lambda: _counts(daemon) == (0, 1), timeout=WITHIN)
        wait_for(lambda: fd_count(daemon.pid) <= fds_before, timeout=max(WITHIN - (time.monotonic() - started), 0.05))
    except TimeoutError:
        raise AssertionError("%s: not dropped within %.1f s: waiters/connections %r, fds %d before, now %r"
                             % (what, WITHIN, _counts(daemon), fds_before, fd_targets(daemon.pid)))


@pytest.mark.parametrize("more", ["second-call", "large-body", "call-and-large-body", "garbage"])
@pytest.mark.parametrize("waiting", ["wait", "watch"])
def test_a_waiting_call_then_more_bytes_then_close_is_dropped_at_once(daemon, waiting, more):
    daemon.ctl("add", "fire", "--debug-port", str(free_port()), check=True)
    rng = random.Random(hash((waiting, more)))
    # One round first: Dispatch opens a descriptor or two of its own the first time.
    _send_and_close(daemon.socket, _waiting_call("wait"))
    _send_and_close(daemon.socket, _waiting_call(waiting) + _more(more, rng))
    wait_for(lambda: _counts(daemon) == (0, 1), timeout=10)
    _arm_a_timer(daemon)
    fds_before = fd_count(daemon.pid)
    for i in range(6):
        _send_and_close(daemon.socket, _waiting_call(waiting) + _more(more, rng), reset=(i % 2 == 1))
    _back_to_baseline(daemon, fds_before, "%s then %s" % (waiting, more))
    # The daemon serves on.
    assert daemon.ctl("list").returncode == 0


def test_a_waiting_call_then_more_bytes_in_two_writes_is_dropped_at_once(daemon):
    # The hang-up arrives after the daemon has read the call (it waits), behind 200 KB unread.
    daemon.ctl("add", "fire", "--debug-port", str(free_port()), check=True)
    # One round first: Dispatch opens a descriptor or two of its own the first time.
    _send_and_close(daemon.socket, _waiting_call("wait"))
    wait_for(lambda: _counts(daemon) == (0, 1), timeout=10)
    _arm_a_timer(daemon)
    fds_before = fd_count(daemon.pid)
    for _ in range(3):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(daemon.socket)
        s.sendall(_waiting_call("wait"))
        wait_for(lambda: _counts(daemon) == (1, 2), timeout=10)
        s.sendall(b'{"method":"io.attachd.Broker.GetStatus","parameters":{"pad":"' + b"y" * 200000)
        s.close()
        _back_to_baseline(daemon, fds_before, "wait, then 200 KB in another write")


def test_a_host_that_sends_lines_and_more_then_goes_ends_its_session_at_once(daemon):
    daemon.ctl("add", "fire", "--debug-port", str(free_port()), check=True)
    lines = b"MAINPID=1\nREADY=1\n" + b"STATUS=loading a very large scene\n" * 3000  # ~100 KB
    # One round first (a host, and a Wait, which arms a timer): Dispatch opens a descriptor or
    # two of its own the first time.
    _send_and_close(daemon.rendezvous_path("fire"), lines)
    _send_and_close(daemon.socket, _waiting_call("wait"))
    wait_for(lambda: daemon.ctl_json("status")["sessions"] == 0 and _counts(daemon) == (0, 1), timeout=10)
    _arm_a_timer(daemon)
    fds_before = fd_count(daemon.pid)
    for _ in range(5):
        _send_and_close(daemon.rendezvous_path("fire"), lines)
    started = time.monotonic()
    try:
        wait_for(lambda: daemon.ctl_json("status")["sessions"] == 0 and _counts(daemon) == (0, 1), timeout=WITHIN)
        wait_for(lambda: fd_count(daemon.pid) <= fds_before,
                 timeout=max(WITHIN - (time.monotonic() - started), 0.05))
    except TimeoutError:
        raise AssertionError("hosts not dropped within %.1f s: %r, fds %d before, now %r"
                             % (WITHIN, daemon.ctl_json("status"), fds_before, fd_targets(daemon.pid)))
    assert {s["endReason"] for s in daemon.sessions("fire")} == {"host closed the rendezvous connection"}
