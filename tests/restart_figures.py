"""How soon a live host is ready again after attachd is killed (-9) and started again: the
helper's reconnect (tests/fake_host.py, real debugpy), measured from the new attachd's READY=1 to
the session's readyAt, N times (the issue's figure: p50 over 20)::

    ATTACHD_BIN_DIR=$(swift build --show-bin-path) python3 tests/restart_figures.py 20 [--load 2]
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from attachd_harness import Daemon, HostProcess, free_port, wait_for  # noqa: E402
from f5_before_host import busy_processes, stop_all  # noqa: E402


def ready_of(daemon, pid):
    for s in daemon.sessions("back"):
        if s.get("pid") == pid and s["state"] in ("ready", "attached"):
            return s
    return None


def run(rounds, load=0):
    busy = busy_processes(load)
    daemon = Daemon()
    seconds = []
    try:
        daemon.start()
        daemon.ctl("add", "back", "--attach-port", free_port(), "--timeout", "30", check=True)
        with HostProcess("back", env=daemon.env) as host:
            wait_for(lambda: ready_of(daemon, host.pid), 20, interval=0.02)
            for _ in range(rounds):
                daemon.kill()
                daemon.start()
                served_at = time.time()
                session = wait_for(lambda: ready_of(daemon, host.pid), 20, interval=0.01)
                seconds.append(session["readyAt"] - served_at)
            host.close()
    finally:
        stop_all(busy)
        daemon.cleanup()
    return seconds


def main(argv):
    rounds = int(argv[1]) if len(argv) > 1 else 20
    load = int(argv[argv.index("--load") + 1]) if "--load" in argv else 0
    seconds = sorted(run(rounds, load))
    pick = lambda q: seconds[min(len(seconds) - 1, int(q * len(seconds)))]  # noqa: E731
    print("attachd killed -9 and started again -> live host ready again: p50 %.0f ms, p90 %.0f ms, "
          "max %.0f ms over %d (%d busy processes)" % (pick(0.5) * 1000, pick(0.9) * 1000, seconds[-1] * 1000,
                                                       len(seconds), load))


if __name__ == "__main__":
    main(sys.argv)
