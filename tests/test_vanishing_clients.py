"""Clients that send a call and vanish in the same write: the daemon drops their calls at once.

A `Wait` (or `Watch`) whose client closes right after sending it, the call and the end-of-file
arriving in one read, must not keep its connection and waiter until the wait times out.
"""

import socket

from attachd_harness import free_port, wait_for


def _send_and_close(path, payload, reset=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(payload)
    if reset:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


def _counts(daemon):
    status = daemon.ctl_json("status")
    return status["waiters"], status["connections"]


def test_wait_sent_and_closed_in_one_write_is_dropped_at_once(daemon):
    daemon.ctl("add", "fire", "--debug-port", str(free_port()), check=True)
    wait = b'{"method":"io.attachd.Broker.Wait","parameters":{"project":"fire","timeout":120}}\0'
    # One round first: Dispatch opens a descriptor or two of its own the first time.
    _send_and_close(daemon.socket, wait)
    wait_for(lambda: _counts(daemon) == (0, 1), timeout=10)
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
