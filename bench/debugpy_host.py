"""A real debugpy host for attachbench: announce, then debugpy.listen() on a free port.

    python3 bench/debugpy_host.py RENDEZVOUS_SOCKET

One process per launch (debugpy.listen() works once per process). Interpreter start-up and
`import debugpy` happen before the measured window. The host says MAINPID=<its pid> and
READY=1 on the project's Unix rendezvous, with no DEBUG_PORT: attachd then waits for the host's
own process tree (debugpy's adapter is a child) to listen on a loopback port. Then
debugpy.listen(("127.0.0.1", 0)).

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
    import debugpy  # noqa: F401  (before the window)
    r = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    r.settimeout(10)
    r.connect(path)
    reader = r.makefile("rb")
    for line in ("MAINPID=%d\n" % os.getpid(), "READY=1\n"):
        r.sendall(line.encode("ascii"))
        answer = reader.readline().decode("utf-8", "replace").strip()
        if not answer.startswith("OK"):
            print("ERROR rendezvous answered %r to %r" % (answer, line.strip()), flush=True)
            return

    t_call = time.time()
    _, port = debugpy.listen(("127.0.0.1", 0))
    t_return = time.time()
    print("LISTENED %.6f %.6f %d" % (t_call, t_return, port), flush=True)
    sys.stdin.read()
    r.close()


if __name__ == "__main__":
    main()
