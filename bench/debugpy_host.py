"""A real debugpy host for attachbench: announce, then debugpy.listen() on a free port.

    python3 bench/debugpy_host.py RENDEZVOUS_SOCKET

One process per launch (debugpy.listen() works once per process). Interpreter start-up and
`import debugpy` happen before the measured window. The host says MAINPID=<its pid> and
READY=1 on the project's Unix rendezvous, with no DEBUG_PORT: attachd then waits for the host's
own process tree (debugpy's adapter is a child) to listen on a loopback port. Then
debugpy.listen(("127.0.0.1", 0)).

When is "listen"? debugpy.listen() returns once its adapter subprocess reports the port, after
the adapter's listen(2); the exact moment is in another process. So a side thread reads
/proc/net/tcp in a loop from before the call and notes, for every port that enters LISTEN, the
time (time.time(), CLOCK_REALTIME) right after the read that first shows it: the first sighting,
late by at most one read (MEAN_READ_US below, reported). The answer line:

    LISTENED T_CALL T_RETURN T_SEEN PORT MEAN_READ_US NEW_PORTS

T_CALL/T_RETURN bracket debugpy.listen(); T_SEEN is debugpy's port's first sighting (-1 if never
seen); MEAN_READ_US the average time of one /proc/net/tcp read, and NEW_PORTS every port that entered LISTEN
meanwhile as PORT@T (debugpy's adapter listens on a second, internal port for the debuggee).
Then the host waits for end of file on stdin and exits.
"""
import os
import socket
import sys
import threading
import time


def listening_ports():
    ports = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "0A":
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def main():
    path = sys.argv[1]
    import debugpy  # noqa: F401  (before the window)

    # The watcher must not wait 5 ms for the GIL when debugpy.listen returns.
    sys.setswitchinterval(0.0001)
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

    baseline = listening_ports()
    seen = {}
    reads = [0]
    stop = threading.Event()

    def watch():
        reads.append(time.time())
        while not stop.is_set():
            now = listening_ports()
            t = time.time()
            reads[0] += 1
            for port in now - baseline:
                seen.setdefault(port, t)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t_call = time.time()
    _, port = debugpy.listen(("127.0.0.1", 0))
    t_return = time.time()
    deadline = time.time() + 5
    while port not in seen and time.time() < deadline:
        time.sleep(0.0005)
    stop.set()
    watcher.join()
    mean_read_us = (time.time() - reads[1]) / max(1, reads[0]) * 1e6
    others = ",".join("%d@%.6f" % (p, t) for p, t in sorted(seen.items(), key=lambda kv: kv[1])) or "-"
    print("LISTENED %.6f %.6f %.6f %d %.0f %s" % (t_call, t_return, seen.get(port, -1.0), port, mean_read_us, others),
          flush=True)
    sys.stdin.read()
    r.close()


if __name__ == "__main__":
    main()
