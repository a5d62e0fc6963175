"""A real debugpy host for attachbench: announce, then debugpy.listen() on a free port.

    python3 bench/debugpy_host.py RENDEZVOUS_SOCKET

One process per launch (debugpy.listen() works once per process). Interpreter start-up and
`import debugpy` happen before the measured window. It calls attach_ready.start(project=...), as users
do: the helper says DEBUG_PORT (a free port it picked), MAINPID and READY=1 on the project's
Unix rendezvous first, then debugpy.listen() on that port; attachd releases the wait when a
listener on the port belongs to the host (debugpy's adapter detaches itself, so it is known by
the ATTACHD_HOST_PID mark it inherits).

When is "listen"? debugpy.listen() returns once its adapter subprocess reports the port, after
the adapter's listen(2); the exact moment is in another process. attachbench therefore watches
the LISTEN table itself (sock_diag, a side thread) from before this host starts and notes when
each new port is first seen; this host reports when debugpy.listen() was called and returned,
and the port:

    LISTENED T_CALL T_RETURN PORT

(time.time(), CLOCK_REALTIME). Then the host waits for end of file on stdin and exits.
"""
import os
import socket
import sys
import time


def main():
    path = sys.argv[1]
    # The host as users run it: attach_ready.start() announces the session (DEBUG_PORT of a free
    # port, MAINPID, READY=1) before debugpy.listen(), and marks debugpy's adapter as its own.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "integrations", "python"))
    import attach_ready
    import debugpy  # noqa: F401  (before the window)
    os.environ["ATTACHD_RENDEZVOUS"] = "unix:" + path
    project = os.path.basename(path)[:-len(".sock")]
    t_call = time.time()
    _, port = attach_ready.start(project=project)
    t_return = time.time()
    if attach_ready.session_id() is None:
        print("ERROR attachd did not answer the announcement", flush=True)
        return
    print("LISTENED %.6f %.6f %d" % (t_call, t_return, port), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
