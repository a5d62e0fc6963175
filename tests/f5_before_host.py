"""F5 before the host, many times: an IDE on the attach port before the host runs, sending
`initialize` and `attach` together as VS Code does, then a real debugpy host (tests/fake_host.py,
attach_ready.start()) that starts and announces itself. Each launch must end with the attach
answered and the debuggee reachable (an `evaluate` of its pid).

Used by tests/test_f5_before_host.py; also runnable on its own, for figures::

    ATTACHD_BIN_DIR=$(swift build --show-bin-path) python3 tests/f5_before_host.py 500 --load 2 [--parallel N] [--debugpy-logs]

prints `failures/launches` and each failure's story (the DAP error, attachd's log lines of it).
"""
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from attachd_harness import Daemon, HostProcess, free_port  # noqa: E402
from dap_client import DapClient, DapError  # noqa: E402


def busy_processes(count):
    """`count` processes that spin (`while 1: pass`): the load the issue measures under."""
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(count)]


def stop_all(procs):
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def debugpy_logs(directory):
    """The debugpy log files of a launch (DEBUGPY_LOG_DIR), for a failure's story."""
    out = []
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), errors="replace") as f:
            out.append("=== %s\n%s" % (name, f.read()[-6000:]))
    return "\n".join(out)


def launch(daemon, project, attach, timeout=30.0, log_dir=None):
    """One F5 before the host: None when it attached, else what went wrong."""
    mark = len(daemon.stderr_text())
    host = None
    env = dict(daemon.env)
    if log_dir:
        for name in os.listdir(log_dir):
            os.unlink(os.path.join(log_dir, name))
        env["DEBUGPY_LOG_DIR"] = log_dir
    try:
        with DapClient.connect("127.0.0.1", attach, timeout=timeout) as dap:
            host = HostProcess(project, env=env, wait=False)
            try:
                dap.attach(timeout=timeout)
                pid = dap.evaluate("__import__('os').getpid()", timeout=timeout)
            except DapError as exc:
                story = "%s: %s\n%s" % (exc.__class__.__name__, exc, daemon.stderr_text()[mark:])
                if log_dir:
                    story += "\n" + debugpy_logs(log_dir)
                return story
            if pid != str(host.pid):
                return "attached to pid %s, not the host's %d" % (pid, host.pid)
            dap.disconnect(timeout=timeout)
        return None
    finally:
        if host is not None:
            host.kill()


def run(launches, load=0, bin_dir=None, progress=None, log_dir=None, parallel=1):
    """(failures, launches, seconds, stories) for `launches` F5-before-host launches, `parallel`
    at a time (one project each)."""
    busy = busy_processes(load)
    daemon = Daemon(bin_dir_path=bin_dir)
    stories = []
    done = [0]
    lock = threading.Lock()
    started = time.monotonic()

    def lane(index, count):
        project = "f5-%d" % index
        attach = free_port()
        daemon.ctl("add", project, "--attach-port", attach, "--timeout", "60", check=True)
        logs = None
        if log_dir:
            logs = os.path.join(log_dir, project)
            os.makedirs(logs, exist_ok=True)
        for _ in range(count):
            story = launch(daemon, project, attach, log_dir=logs)
            with lock:
                done[0] += 1
                if story is not None:
                    stories.append((done[0], story))
                if progress:
                    progress(done[0], len(stories))

    try:
        daemon.start()
        lanes = [threading.Thread(target=lane, args=(i, launches // parallel + (i < launches % parallel)))
                 for i in range(parallel)]
        for t in lanes:
            t.start()
        for t in lanes:
            t.join()
    finally:
        stop_all(busy)
        daemon.cleanup()
    return len(stories), launches, time.monotonic() - started, stories


def main(argv):
    launches = int(argv[1]) if len(argv) > 1 else 100
    load = int(argv[argv.index("--load") + 1]) if "--load" in argv else 2
    parallel = int(argv[argv.index("--parallel") + 1]) if "--parallel" in argv else 1

    def progress(done, failed):
        if done % 10 == 0:
            sys.stderr.write("%d launches, %d failed\n" % (done, failed))

    log_dir = None
    if "--debugpy-logs" in argv:
        import tempfile
        log_dir = tempfile.mkdtemp(prefix="f5-debugpy-")
    failures, total, seconds, stories = run(launches, load, progress=progress, log_dir=log_dir,
                                            parallel=parallel)
    for n, story in stories:
        print("--- launch %d\n%s" % (n, story))
    print("F5 before the host: %d failures / %d launches under %d busy processes (%.0f s)"
          % (failures, total, load, seconds))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
