"""A stand-in for a host application with embedded Python (run as a child process by tests).

It imports integrations/python/attach_ready.py, calls attach_ready.start(), and
prints one line ``ATTACH_READY {json}`` on stdout with the result
(host, port, session, elapsed, backend, sys_executable).  Then it runs a "main
loop" (Python code executing, so a debugger can pause it) until stdin reaches
EOF or says ``exit``.  Other stdin commands, each answered with one stdout line:

    session        -> SESSION <id or None>
    status TEXT    -> STATUS <True|False>   (attach_ready.status)
    magic          -> MAGIC <value>

Log records go to stderr as ``LOG <LEVEL> <logger> <message>``; after each stdout
reply a ``FAKE_HOST mark`` line goes to stderr (a sync point for the harness).

Must stay Python 2.7 compatible (the tests run it under old interpreters too).

Options: --project NAME --port N --host H --timeout S --python PATH
         --wait-for-client --sys-executable VALUE ("none" sets sys.executable to None)
         --start-twice (calls start() twice and reports whether both agree)
         --debug-log (attach_ready logs at DEBUG) --magic N
         --prefix DIR (sys.prefix and its kin: where the helper looks for an interpreter first)
         --keep-running-on-error (a start() that raises is reported as "error", host and port
         null, and the main loop runs on, as an application whose start-up script failed)
"""
import argparse
import json
import logging
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HELPER_DIR = os.path.join(os.path.dirname(HERE), "integrations", "python")

MAGIC = 42
TICKS = 0


def mark():
    # Written to stderr after every stdout reply: once the harness has read it, every
    # log line written before the reply has been read too (stdout and stderr are two pipes).
    sys.stderr.write("FAKE_HOST mark\n")
    sys.stderr.flush()


def main():
    global TICKS, MAGIC
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", default="demo")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--python", default=None)
    parser.add_argument("--wait-for-client", action="store_true")
    parser.add_argument("--sys-executable", default=None)
    parser.add_argument("--start-twice", action="store_true")
    parser.add_argument("--magic", type=int, default=42)
    parser.add_argument("--debug-log", action="store_true", help="log attach_ready at DEBUG")
    parser.add_argument("--prefix", default=None)
    parser.add_argument("--keep-running-on-error", action="store_true")
    parser.add_argument("--helper-dir", default=os.environ.get("ATTACH_READY_DIR", HELPER_DIR))
    args = parser.parse_args()
    MAGIC = args.magic

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("LOG %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    if args.debug_log:
        logging.getLogger("attach_ready").setLevel(logging.DEBUG)

    if args.sys_executable is not None:
        sys.executable = None if args.sys_executable == "none" else args.sys_executable

    if args.prefix is not None:
        for name in ("prefix", "exec_prefix", "base_prefix", "base_exec_prefix", "real_prefix"):
            if hasattr(sys, name):
                setattr(sys, name, args.prefix)

    sys.path.insert(0, args.helper_dir)
    import attach_ready

    started = time.time()
    error = None
    try:
        host, port = attach_ready.start(project=args.project, port=args.port, host=args.host,
                                        wait_for_client=args.wait_for_client,
                                        timeout=args.timeout, python=args.python)
    except Exception as exc:
        if not args.keep_running_on_error:
            raise
        host, port, error = None, None, "%s: %s" % (exc.__class__.__name__, exc)
    elapsed = time.time() - started
    report = {
        "host": host, "port": port, "session": attach_ready.session_id(), "error": error,
        "elapsed": elapsed, "backend": attach_ready._state["backend"],
        "sys_executable": sys.executable, "pid": os.getpid(),
        "python": list(sys.version_info[:3]),
    }
    if args.start_twice:
        again = attach_ready.start(project=args.project, port=0, host=args.host,
                                   timeout=args.timeout)
        report["second"] = list(again)
    sys.stdout.write("ATTACH_READY " + json.dumps(report) + "\n")
    sys.stdout.flush()
    mark()

    done = threading.Event()

    def commands():
        try:
            while True:
                line = sys.stdin.readline()
                if not line:
                    break
                line = line.strip()
                if line == "exit":
                    break
                if line == "session":
                    out = "SESSION %s" % (attach_ready.session_id(),)
                elif line.startswith("status "):
                    out = "STATUS %s" % (attach_ready.status(line[len("status "):]),)
                elif line == "magic":
                    out = "MAGIC %s" % (MAGIC,)
                else:
                    out = "UNKNOWN %s" % (line,)
                sys.stdout.write(out + "\n")
                sys.stdout.flush()
                mark()
        finally:
            done.set()

    reader = threading.Thread(target=commands)
    reader.daemon = True
    reader.start()
    # The host's "main loop": keeps executing Python code so a debugger can pause it.
    while not done.wait(0.02):
        TICKS += 1
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
