"""Regressions found by the sanitizer job (scripts/test-sanitizers) and the long fuzz.

Each test here passes on a plain build too (it checks what it can see from outside); under
ASan its daemon's LeakSanitizer report at exit fails it (tests/attachd_harness.py).
"""

import os

from attachd_harness import free_port, wait_for
from hardening_support import LineClient


def test_host_closed_by_the_daemon_with_a_partial_line_leaves_no_idle_timer(daemon):
    # STOPPING=1 ends the session and Core closes the connection inside the batch; the partial
    # line after it used to start the idle timer on the closed connection. Nothing cancelled
    # that timer, and its handler held the host and its connection: leaked for good (found by
    # LeakSanitizer in the mixed fuzz: 164 hosts in 10,000 inputs).
    daemon.ctl("add", "half", "--debug-port", str(free_port()), check=True)
    for _ in range(20):
        host = LineClient(daemon.rendezvous_path("half"))
        host.send(b"STATUS=going\nSTOPPING=1\nDEBUG_PO")
        assert host.line().startswith(b"OK session=")  # STATUS
        assert host.line().startswith(b"OK session=")  # STOPPING
        # The daemon closes at once (the session's end), not after the partial-line timeout.
        host.wait_eof(timeout=5)
        host.close()
    wait_for(lambda: daemon.ctl_json("status")["connections"] == 1, 10)
    assert daemon.ctl_json("status")["sessions"] == 0
    if os.environ.get("ATTACHD_SANITIZER") == "asan":
        # While such a timer is armed, Dispatch's timer heap still points at it (not a leak to
        # LeakSanitizer); once it has fired, nothing does. A companion host with a partial line,
        # sent after the others, is told its line is incomplete when the timeout (10 s) has
        # passed for all of them: the event to wait for before the daemon exits.
        companion = LineClient(daemon.rendezvous_path("half"))
        companion.send(b"DEBUG_PO")
        assert companion.line(timeout=30).startswith(b"ERROR"), "no partial-line timeout"
        companion.close()
