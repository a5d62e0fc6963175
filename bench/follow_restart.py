"""Issue 19's benchmark: a host restart -> the IDE stopped at the same breakpoint in the new host,
less the new host's own time to listen(), against debugpy's own attach handshake measured
directly in the same run.

    swift build   # or: swift build -c release
    ATTACHD_BIN_DIR=$(swift build --show-bin-path) python3 bench/follow_restart.py [ROUNDS]

ROUNDS defaults to 20. Without ATTACHD_BIN_DIR the binaries are taken from .build/release, else
.build/debug. The flow is tests/test_follow.py's, with the tests' own pieces (attachd_harness's
Daemon, dap_client's DapClient, restart_like_vscode and finish_restart):

- follow (per round): the IDE stand-in is stopped at the breakpoint in a host (a debugpy host
  through integrations/python/attach_ready.py, on a following attach-port project); the host is
  SIGKILLed; the IDE gets terminated{restart: true}, restarts as VS Code does (disconnect, 300 ms,
  a new connection to the attach port, initialize + attach sent at once) and is held; once the
  old session has ended a new host starts; the IDE sets its breakpoint again and stops in the new
  host (its pid evaluated in the stopped frame, outside the window). Measured: from the moment the
  new host's attach_ready.start() returned (time.time() printed by the host right after it) to
  the `stopped` event reaching the IDE stand-in (time.time() when the frame is read).
- direct (per round, interleaved with the follow rounds so load hits both alike): a fresh host
  with plain debugpy.listen(), already listening; a DapClient connects straight to its port and
  does the same initialize / attach / setBreakpoints / configurationDone; measured from connect
  to the `stopped` event.

The target: p50(follow) - p50(direct) <= 50 ms. Every process started here is ended at the end,
errors included: hosts, the daemon, and debugpy's adapter processes (found by a marker in their
inherited environment, killed by pid).
"""
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from attachd_harness import Daemon, _LineReader, free_port, wait_for  # noqa: E402
from dap_client import DapClient, finish_restart, restart_like_vscode  # noqa: E402

HELPER_DIR = os.path.join(REPO, "integrations", "python")
PROJECT = "blend"
TIMEOUT = 60.0
MARK = "ATTACHD_FOLLOW_BENCH"

# argv: MODE (follow | direct) PROJECT HELPER_DIR. The timestamp is taken right after the debug
# server listens (follow: attach_ready.start() returned, READY=1 answered by attachd).
HOST = r"""
import os, sys, threading, time
if sys.argv[1] == "follow":
    sys.path.insert(0, sys.argv[3])
    import attach_ready
    host, port = attach_ready.start(project=sys.argv[2])
else:
    import debugpy
    host, port = debugpy.listen(("127.0.0.1", 0))
listened = time.time()
print("READY %d %r" % (port, listened), flush=True)
stop = []
threading.Thread(target=lambda: (sys.stdin.readline(), stop.append(1)), daemon=True).start()

def tick(n):
    return n + 1  # BREAK

n = 0
while not stop:
    n = tick(n)
    time.sleep(0.01)
"""
BREAK_LINE = HOST.lstrip("\n").splitlines().index("    return n + 1  # BREAK") + 1


def find_bin_dir():
    if os.environ.get("ATTACHD_BIN_DIR"):
        return os.environ["ATTACHD_BIN_DIR"]
    for kind in ("release", "debug"):
        path = os.path.join(REPO, ".build", kind)
        if all(os.access(os.path.join(path, n), os.X_OK) for n in ("attachd", "attachctl")):
            return path
    sys.exit("attachd and attachctl are not built: run `swift build` (or set ATTACHD_BIN_DIR)")


class Host(object):
    """One host process; .listened is its time.time() right after the debug server listened."""

    def __init__(self, mode, env, script, started):
        self.proc = subprocess.Popen([sys.executable, script, mode, PROJECT, HELPER_DIR], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        started.append(self)
        self.pid = self.proc.pid
        self.out = _LineReader(self.proc.stdout, "host")

    def ready(self):
        line = self.out.wait_line(lambda l: l.startswith("READY "), TIMEOUT)
        self.port, self.listened = int(line.split()[1]), float(line.split()[2])
        return self

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def stamped(dap):
    """Record time.time() when each `stopped` event is read off the socket (the client pumps
    the socket continuously while it waits, so this is its arrival)."""
    dap.stopped_at = []

    def on_event(event):
        if event.get("event") == "stopped":
            dap.stopped_at.append(time.time())
        DapClient.on_event(dap, event)

    dap.on_event = on_event
    return dap


def stopped_at_breakpoint(dap, script, host):
    """Wait for the stop at BREAK_LINE in `host`; return its arrival time."""
    mark = len(dap.stopped_at)
    stopped = dap.wait_event("stopped", lambda e: e["body"].get("reason") == "breakpoint", timeout=TIMEOUT)
    at = dap.stopped_at[mark]
    frames = dap.stack_trace(stopped["body"]["threadId"], timeout=TIMEOUT)
    assert frames[0]["line"] == BREAK_LINE and frames[0]["source"]["path"] == script, frames[0]
    resp = dap.request("evaluate", {"expression": "__import__('os').getpid()", "frameId": frames[0]["id"],
                                    "context": "repl"}, timeout=TIMEOUT)
    assert int(resp["body"]["result"]) == host.pid, (resp, host.pid)
    return at


def direct_round(env, script, started):
    host = Host("direct", env, script, started).ready()
    try:
        connected = time.time()
        dap = stamped(DapClient.connect("127.0.0.1", host.port, timeout=TIMEOUT))
        with dap:
            dap.attach(timeout=TIMEOUT, breakpoints={script: [BREAK_LINE]})
            seconds = stopped_at_breakpoint(dap, script, host) - connected
            dap.disconnect(timeout=TIMEOUT)
        return seconds
    finally:
        host.close()


def follow_round(daemon, dap, attach, script, old, started):
    """`dap` is stopped in `old`: kill it, follow into a new host; return (new dap, new host, s)."""
    old.proc.send_signal(signal.SIGKILL)
    terminated = dap.wait_event("terminated", timeout=TIMEOUT)
    assert (terminated.get("body") or {}).get("restart") is True, terminated
    new_dap = stamped(restart_like_vscode(dap, "127.0.0.1", attach, terminated, timeout=TIMEOUT,
                                          breakpoints={script: [BREAK_LINE]}, justMyCode=False))
    old.close()
    try:
        wait_for(lambda: old_session_ended(daemon, old), TIMEOUT, interval=0.02,
                 message="the old session did not end")
        new = Host("follow", daemon.env, script, started)
        finish_restart(new_dap, TIMEOUT)  # initialize + attach now, as VS Code: held until READY
        at = stopped_at_breakpoint(new_dap, script, new)
        new.ready()  # its READY line was printed before the IDE was let through
        return new_dap, new, at - new.listened
    except BaseException:
        new_dap.close()
        raise


def old_session_ended(daemon, old):
    return not [s for s in daemon.sessions(PROJECT) if s.get("pid") == old.pid and s["state"] != "ended"]


def kill_marked(marker):
    """Kill, by pid, every process left whose environment carries this run's marker (debugpy's
    adapters are detached from their hosts)."""
    needle = ("%s=%s" % (MARK, marker)).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % entry, "rb") as f:
                if needle in f.read().split(b"\0"):
                    os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass


def stats(values):
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)], ordered[-1]


def row(name, values):
    p50, p90, top = stats(values)
    return "%-70s p50 %6.1f ms  p90 %6.1f ms  max %6.1f ms  (n=%d)" % (name, p50 * 1e3, p90 * 1e3, top * 1e3,
                                                                      len(values))


def debugpy_version():
    out = subprocess.run([sys.executable, "-c", "import debugpy; print(debugpy.__version__)"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or "not importable"


def main(argv):
    rounds = int(argv[1]) if len(argv) > 1 else 20
    bin_dir = find_bin_dir()
    load_start = os.getloadavg()
    tmp = tempfile.mkdtemp(prefix="follow-bench-", dir="/tmp")
    script = os.path.join(tmp, "host_app.py")
    with open(script, "w") as f:
        f.write(HOST.lstrip("\n"))
    daemon = Daemon(env={MARK: tmp}, bin_dir_path=bin_dir)
    started, follow, direct = [], [], []
    dap = None
    try:
        daemon.start()
        attach = free_port()
        daemon.ctl("add", PROJECT, "--attach-port", attach, "--timeout", "60", check=True)
        direct_round(daemon.env, script, started)  # warm-up, not counted
        host = Host("follow", daemon.env, script, started).ready()
        dap = stamped(DapClient.connect("127.0.0.1", attach, timeout=TIMEOUT))
        dap.attach(timeout=TIMEOUT, breakpoints={script: [BREAK_LINE]})
        stopped_at_breakpoint(dap, script, host)
        for i in range(rounds):
            direct.append(direct_round(daemon.env, script, started))
            dap, host, seconds = follow_round(daemon, dap, attach, script, host, started)
            follow.append(seconds)
            sys.stderr.write("round %d/%d: follow %.1f ms, direct %.1f ms\n"
                             % (i + 1, rounds, seconds * 1e3, direct[-1] * 1e3))
        dap.disconnect(timeout=TIMEOUT)
    finally:
        if dap is not None:
            dap.close()
        for h in started:
            try:
                h.close()
            except Exception:
                pass
        daemon.cleanup()
        kill_marked(tmp)
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    load_end = os.getloadavg()
    print("machine: nproc %d, load average %.2f %.2f %.2f at start, %.2f %.2f %.2f at end; debugpy %s; "
          "python %s; binaries %s" % ((len(os.sched_getaffinity(0)),) + load_start + load_end +
                                      (debugpy_version(), sys.version.split()[0], bin_dir)))
    print(row("follow: new host's start() returned -> IDE stopped in it", follow))
    print(row("direct: connect to debugpy -> stopped (debugpy's own handshake)", direct))
    difference = stats(follow)[0] - stats(direct)[0]
    print("p50 difference: %+.1f ms (target <= +50 ms: %s)" % (difference * 1e3, "met" if difference <= 0.05 else
                                                               "missed"))


if __name__ == "__main__":
    main(sys.argv)
