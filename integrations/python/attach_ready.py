"""attach_ready: start a debug server inside a host application and tell attachd.

Two lines in the host's startup script::

    import attach_ready
    host, port = attach_ready.start(project="maxtools", port=5678)   # port=0: pick a free one

``start()`` starts debugpy (or ptvsd 4.x when debugpy is not importable), then
announces the session on the project's attachd rendezvous socket with
``sd_notify``-style lines (``DEBUG_PORT=``, ``MAINPID=``, ``READY=1``; with
``EXECUTABLE=`` and ``PYTHON=`` when sys.executable is not a Python debugpy's
adapter can run with, which ``attachctl doctor`` explains) and keeps
that connection open for the life of the process: attachd sees the session end
when the host exits.  If attachd is not running, one warning is logged and the
debug server listens anyway.  When attachd goes away (a crash, a restart, the
project removed and added again) or was not there yet, the connection is made
again in the background (after 50 ms, backing off to 0.5 s, for as long as the
host lives, logged at DEBUG only) and the same facts are announced again, the
last ``status()`` included; where the rendezvous socket does not answer and
attachd's control socket exists, the helper knocks there first, which starts a
socket-activated attachd.  When neither debugpy nor ptvsd can be imported,
``start()`` announces the host all the same with ``STATUS=debug server did not
start: ...`` (``attachctl sessions`` and ``doctor`` show it), then raises.  Nothing here ever blocks the host for longer than
``timeout`` seconds (plus the debug server's own start-up time), unless
``wait_for_client=True`` is asked for.

Environment:

``ATTACHD_RENDEZVOUS``
    Path of the rendezvous Unix socket, or ``tcp:HOST:PORT`` (``unix:PATH`` is
    accepted too).  Default: ``$XDG_RUNTIME_DIR/attachd/projects/NAME.sock``,
    or ``/tmp/attachd-UID/projects/NAME.sock`` when XDG_RUNTIME_DIR is unset.
``ATTACHD_PYTHON``
    The Python interpreter debugpy uses to run its adapter process.  Needed
    only when the host's ``sys.executable`` is the application itself and no
    interpreter is found next to the embedded Python (debugpy issue #262).

Standard library only; the same file runs on Python 2.7 and 3.6+.
"""

import errno
import logging
import os
import re
import socket
import sys
import threading
import time

__all__ = ["start", "session_id", "address", "status", "rendezvous_address", "find_python",
           "wait_for_ide", "on_attach", "debug_this_thread"]
__version__ = "1.0"

LOGGER_NAME = "attach_ready"
PROJECT_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Variables that tie an interpreter to the host's embedded Python; they would
# break a separate interpreter started for debugpy's adapter.
_HOST_PYTHON_VARS = ("PYTHONHOME", "PYTHONPATH", "PYTHONEXECUTABLE", "PYTHONSTARTUP",
                     "__PYVENV_LAUNCHER__")

_lock = threading.RLock()
_state = {
    "address": None,      # (host, port) the debug server listens on
    "backend": None,      # "debugpy" or "ptvsd"
    "session": None,      # session id from attachd, or None
    "rendezvous": None,   # the _Rendezvous kept (and made again) while the process lives
    "project": None,
}
_send_lock = threading.Lock()

# Rendezvous keys an older attachd does not know: its ERROR answer to them is no problem.
_OPTIONAL_KEYS = ("EXECUTABLE", "PYTHON", "NOTIFY_ATTACH")


# --------------------------------------------------------------------------- public API

def start(project=None, port=0, host="127.0.0.1", wait_for_client=False, timeout=5.0,
          python=None, log=None):
    """Start the debug server and announce it to attachd; return (host, port).

    project          attachd project name ([A-Za-z0-9._-]{1,64}); default $ATTACHD_PROJECT
                     (set by `attachctl run`).
    port             debug server port; 0 picks a free one.
    host             interface the debug server listens on.
    wait_for_client  block until the IDE has attached.
    timeout          seconds allowed for talking to attachd (never more).
    python           interpreter for debugpy's adapter process (see find_python).
    log              a logging.Logger to use instead of logging.getLogger("attach_ready").

    A second call returns the first call's (host, port) without a second server.
    Errors starting the debug server propagate; attachd being absent, slow or
    refusing is only logged.
    """
    logger = log if log is not None else logging.getLogger(LOGGER_NAME)
    if project is None:
        project = os.environ.get("ATTACHD_PROJECT") or None
        if project is None:
            raise ValueError("attach_ready.start(): no project: pass project=\"NAME\" "
                             "or set ATTACHD_PROJECT (`attachctl run NAME -- COMMAND` sets it)")
    if not isinstance(project, str) and not _is_text(project):
        raise TypeError("project must be a string")
    if not PROJECT_NAME_RE.match(project):
        raise ValueError("invalid attachd project name %r: use [A-Za-z0-9._-]{1,64}" % (project,))
    port = int(port)
    if port < 0 or port > 65535:
        raise ValueError("invalid port %r" % (port,))

    with _lock:
        if _state["address"] is None:
            _state["project"] = project
            if port == 0:
                # A concrete port, so that attachd hears it before the server listens.
                port = _free_port(host)
            # Announced before the debug server starts (its port, pid, interpreter), READY=1
            # once it has started: debugpy's adapter listens before it can take an IDE (see
            # _Rendezvous.begin). The adapter detaches from this process; ATTACHD_HOST_PID,
            # which it inherits, tells attachd it is ours.
            os.environ["ATTACHD_HOST_PID"] = str(os.getpid())
            try:
                backend, module = _import_debug_server()
            except ImportError as exc:
                # Announced all the same, saying why: `attachctl sessions` and `doctor` show it.
                _announce_failure(project, port, timeout, logger, exc)
                raise
            # debugpy's adapter is a separate process: which interpreter runs it is decided
            # now, and told to attachd (doctor explains it) when sys.executable will not do.
            interpreter = find_python(python) if backend == "debugpy" else None
            if backend == "debugpy" and not _looks_like_python(sys.executable):
                logger.info("attach_ready: sys.executable %r is %s; debugpy's adapter runs with %s",
                            sys.executable, executable_problem(sys.executable),
                            interpreter or "it anyway (no other Python found: set ATTACHD_PYTHON)")
            extra = (_adapter_lines(interpreter) if backend == "debugpy" else []) + _notice_lines()
            rendezvous = _Rendezvous(project, port, extra, logger)
            try:
                rendezvous.begin(timeout)
            except Exception as exc:  # never let the announcement break the host
                logger.warning("attach_ready: could not announce to attachd: %s", exc)
            try:
                listened = _start_debug_server(backend, module, host, port, interpreter, logger)
            except Exception as exc:
                rendezvous.abandon(exc)
                raise
            _state["address"] = listened
            _state["backend"] = backend
            _state["rendezvous"] = rendezvous
            logger.info("%s listening on %s:%s", backend, listened[0], listened[1])
            try:
                rendezvous.finish(listened[1], timeout)
            except Exception as exc:
                logger.warning("attach_ready: could not announce to attachd: %s", exc)
        elif _state["project"] != project:
            logger.warning("attach_ready: start() already called for project %r; "
                           "ignoring project %r", _state["project"], project)
        result = _state["address"]

    if wait_for_client:
        _wait_for_client(_state["backend"], logger)
    return result


def debug_this_thread():
    """Make the debugger see the calling thread; call it first in threads the host
    application creates itself (a QGIS QgsTask, a C++ worker calling into Python).

    debugpy traces threads started with Python's `threading`; a thread the application
    made without it runs untraced, so its breakpoints are verified and never hit.  Returns
    True when debugpy was told, False (and does nothing) when start() has not started
    debugpy (ptvsd, or no debug server).
    """
    if _state["backend"] != "debugpy":
        return False
    import debugpy
    debugpy.debug_this_thread()
    return True


def session_id():
    """The attachd session id of this process, or None (not announced / no answer yet)."""
    return _state["session"]


def address():
    """(host, port) the debug server listens on, or None before start()."""
    return _state["address"]


def status(text):
    """Send a STATUS= line to attachd (shown by `attachctl sessions`). Returns True if sent."""
    text = " ".join(str(text).splitlines())
    return _send_line("STATUS=%s" % text)


def rendezvous_address(project):
    """Where the project's rendezvous is: ("unix", PATH) or ("tcp", (HOST, PORT))."""
    value = os.environ.get("ATTACHD_RENDEZVOUS", "")
    if value:
        if value.startswith("tcp:"):
            hostport = value[len("tcp:"):]
            rhost, _, rport = hostport.rpartition(":")
            if rhost.startswith("[") and rhost.endswith("]"):
                rhost = rhost[1:-1]
            return ("tcp", (rhost or "127.0.0.1", int(rport)))
        if value.startswith("unix:"):
            value = value[len("unix:"):]
        return ("unix", value)
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime:
        base = os.path.join(runtime, "attachd")
    else:
        uid = os.getuid() if hasattr(os, "getuid") else 0
        base = "/tmp/attachd-%d" % uid
    return ("unix", os.path.join(base, "projects", project + ".sock"))


def find_python(python=None):
    """The interpreter debugpy should run its adapter with, or None if sys.executable will do.

    Order: the `python` argument, $ATTACHD_PYTHON, then (only when sys.executable
    does not look like a Python matching this one) an interpreter next to
    sys.prefix, then one on PATH.  Returns None when sys.executable is usable.
    """
    if python:
        return python
    env = os.environ.get("ATTACHD_PYTHON", "")
    if env:
        return env
    if _looks_like_python(sys.executable):
        return None
    return _search_python()


# --------------------------------------------------------------------------- debug server

def _is_text(value):
    try:
        return isinstance(value, basestring)  # noqa: F821 (Python 2)
    except NameError:
        return isinstance(value, str)


def _looks_like_python(path):
    return executable_problem(path) is None


def executable_problem(path):
    """Why `path` (a sys.executable) will not do for debugpy's adapter, or None when it will:
    "None", "missing" (no such file), "not a Python" (the application itself, by its name)
    or "Python X.Y, another version than this one" (e.g. a host that set sys.executable to
    the first python3.X on PATH)."""
    if not path:
        return "None" if path is None else "empty"
    if not os.path.isfile(path):
        return "missing (no such file)"
    base = os.path.basename(path).lower()
    if not base.startswith("python"):
        return "not a Python (the application itself)"
    m = re.match(r"python(\d+)(?:\.(\d+))?", base)
    if m:
        other = (m.group(1) + ("." + m.group(2) if m.group(2) is not None else ""))
        if int(m.group(1)) != sys.version_info[0] or (
                m.group(2) is not None and int(m.group(2)) != sys.version_info[1]):
            return "Python %s, another version than this one (%d.%d)" % (
                other, sys.version_info[0], sys.version_info[1])
    return None


def _candidate_names():
    if os.name == "nt":
        return ["python.exe"]
    major, minor = sys.version_info[0], sys.version_info[1]
    return ["python%d.%d" % (major, minor), "python%d" % major, "python"]


def _is_executable_file(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _search_python():
    names = _candidate_names()
    prefixes = []
    for attr in ("prefix", "exec_prefix", "base_prefix", "base_exec_prefix", "real_prefix"):
        value = getattr(sys, attr, None)
        if value and value not in prefixes:
            prefixes.append(value)
    dirs = []
    for prefix in prefixes:
        if os.name == "nt":
            dirs.extend([prefix, os.path.join(prefix, "Scripts")])
        else:
            dirs.append(os.path.join(prefix, "bin"))
    for name in names:
        for d in dirs:
            candidate = os.path.join(d, name)
            if _is_executable_file(candidate):
                return candidate
    path_dirs = [d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if d]
    for name in names:
        for d in path_dirs:
            candidate = os.path.join(d, name)
            if _is_executable_file(candidate):
                return candidate
    return None


def _adapter_env():
    env = dict(os.environ)
    for name in _HOST_PYTHON_VARS:
        env.pop(name, None)
    return env


def _import_debug_server():
    """("debugpy", module), else ("ptvsd", module); ImportError when neither imports."""
    problems = []
    try:
        import debugpy
        return "debugpy", debugpy
    except ImportError as exc:
        problems.append(str(exc))
    try:
        import ptvsd
    except ImportError as exc:
        problems.append(str(exc))
        raise NoDebugServerError(
            "neither debugpy nor ptvsd can be imported (%s; Python %d.%d at %s: install debugpy "
            "where this interpreter finds it)" % ("; ".join(problems), sys.version_info[0],
                                                 sys.version_info[1], sys.executable))
    return "ptvsd", ptvsd


class NoDebugServerError(ImportError):
    """Neither debugpy nor ptvsd can be imported."""


def _start_debug_server(backend, module, host, port, interpreter, logger):
    if backend == "debugpy":
        return _start_debugpy(module, host, port, interpreter, logger)
    return _start_ptvsd(module, host, port)


def _adapter_lines(interpreter):
    """The rendezvous lines telling attachd about an embedded interpreter: none when
    sys.executable is a Python debugpy's adapter can run with (nothing to report), else
    EXECUTABLE= (sys.executable; empty for None) and PYTHON= (the interpreter the adapter runs
    with; empty when none was found). Sent only then, so an attachd that does not know these
    keys is asked nothing new by an ordinary host."""
    if _looks_like_python(sys.executable):
        return []
    return ["EXECUTABLE=" + _line_text(sys.executable), "PYTHON=" + _line_text(interpreter)]


def _line_text(value, limit=1024):
    """`value` as text for one rendezvous line: "" for None, bytes decoded as UTF-8, line
    breaks and NULs made spaces, at most `limit` characters (attachd takes lines of 4096 bytes)."""
    if value is None:
        return ""
    if isinstance(value, bytes):  # Python 2's str, a path in the file system's bytes
        value = value.decode("utf-8", "replace")
    for char in ("\r", "\n", "\0"):
        value = value.replace(char, " ")
    return value[:limit]


def _start_debugpy(debugpy, host, port, interpreter, logger):
    if interpreter is None:
        return _as_address(debugpy.listen((host, port)), host, port)
    logger.debug("attach_ready: debugpy adapter will run with %s (sys.executable is %r)",
                 interpreter, sys.executable)
    saved = sys.executable
    try:
        # debugpy 1.8 type-checks configure() values against defaults taken from
        # sys.executable at import time: a None there makes configure(python=str) fail.
        sys.executable = interpreter
        try:
            debugpy.configure(python=interpreter, pythonEnv=_adapter_env())
        except (ValueError, TypeError):
            try:
                from debugpy.server import api as _api
                _api._config["python"] = interpreter
                _api._config["pythonEnv"] = _adapter_env()
            except Exception as exc:
                logger.warning("attach_ready: cannot point debugpy at %s: %s", interpreter, exc)
        return _as_address(debugpy.listen((host, port)), host, port)
    finally:
        sys.executable = saved


def _start_ptvsd(ptvsd, host, port):
    if port == 0:
        port = _free_port(host)
    result = ptvsd.enable_attach(address=(host, port))
    return _as_address(result, host, port)


def _as_address(result, host, port):
    if isinstance(result, tuple) and len(result) >= 2 and result[1]:
        return (result[0], int(result[1]))
    if isinstance(result, int) and result:
        return (host, result)
    return (host, port)


def _wait_for_client(backend, logger):
    logger.info("attach_ready: waiting for the IDE to attach")
    if backend == "debugpy":
        import debugpy
        debugpy.wait_for_client()
    elif backend == "ptvsd":
        import ptvsd
        ptvsd.wait_for_attach()


# --------------------------------------------------------------------------- rendezvous

def _set_cloexec(sock):
    try:
        import fcntl
    except ImportError:
        return
    try:
        flags = fcntl.fcntl(sock.fileno(), fcntl.F_GETFD)
        fcntl.fcntl(sock.fileno(), fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)
    except (IOError, OSError):
        pass


def _connect(kind, target, timeout):
    if kind == "unix":
        if not hasattr(socket, "AF_UNIX"):
            raise OSError(errno.EAFNOSUPPORT, "no Unix sockets here; set ATTACHD_RENDEZVOUS=tcp:HOST:PORT")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        _set_cloexec(sock)
        sock.settimeout(timeout)
        try:
            sock.connect(target)
        except Exception:
            sock.close()
            raise
        return sock
    deadline = time.time() + timeout
    last = None
    for family, socktype, proto, _, sockaddr in socket.getaddrinfo(
            target[0], target[1], 0, socket.SOCK_STREAM):
        sock = socket.socket(family, socktype, proto)
        _set_cloexec(sock)
        sock.settimeout(max(deadline - time.time(), 0.001))
        try:
            sock.connect(sockaddr)
            return sock
        except Exception as exc:
            last = exc
            sock.close()
    raise last if last is not None else OSError(errno.ECONNREFUSED, "no address")


def _sendall_with_timeout(sock, data, timeout):
    old = sock.gettimeout()
    sock.settimeout(timeout)
    try:
        sock.sendall(data)
    finally:
        try:
            sock.settimeout(old)
        except Exception:
            pass


def _describe(exc):
    code = getattr(exc, "errno", None)
    if isinstance(exc, socket.timeout):
        return "no answer (timed out)"
    if code == errno.ENOENT:
        return "no rendezvous socket (is attachd running and the project added?)"
    if code == errno.ECONNREFUSED:
        return "connection refused (is attachd running?)"
    return str(exc) or exc.__class__.__name__


def _parse_reply(line):
    """("ok", session-id-or-None) or ("error", reason)."""
    if line.startswith("OK"):
        for token in line.split()[1:]:
            if token.startswith("session="):
                return "ok", token[len("session="):]
        return "ok", None
    if line.startswith("ERROR"):
        return "error", line[len("ERROR"):].strip()
    return "unknown", line


def _free_port(host):
    """A port nobody listens on now, on `host` (bind to 0, read it, close)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.bind((host, 0))
        return probe.getsockname()[1]
    finally:
        probe.close()


def _send_line(line):
    rendezvous = _state["rendezvous"]
    return rendezvous is not None and rendezvous.send(line)


def _announce(project, debug_port, timeout, logger):
    """Announces an already listening debug server (connect, send, read the replies)."""
    rendezvous = _Rendezvous(project, debug_port, (), logger)
    if rendezvous.begin(timeout):
        rendezvous.finish(debug_port, timeout)


def _announce_failure(project, debug_port, timeout, logger, exc):
    """The debug server cannot start (`exc` says why): announce the host all the same, say why
    in STATUS= (`attachctl sessions` and `doctor` show it) and end the session."""
    rendezvous = _Rendezvous(project, debug_port, (), logger)
    try:
        if rendezvous.begin(timeout, warn=False):
            rendezvous.abandon(exc)
    except Exception as problem:  # never hide the real error behind this one
        logger.debug("attach_ready: could not report the failure to attachd: %s", problem)


def _abandon(pending, exc):
    """The debug server did not start: say why (STATUS=, best effort) and end the session now,
    not whenever the traceback that holds the socket is collected. Half-closes first and reads
    attachd's answers, so that its side gets every line before the end of file."""
    sock = pending[0]
    try:
        _sendall_with_timeout(sock, ("STATUS=%s\n" % _failure_text(exc)).encode("utf-8", "replace"), 1.0)
        sock.shutdown(socket.SHUT_WR)
        deadline = time.time() + 1.0
        while time.time() < deadline:
            sock.settimeout(max(deadline - time.time(), 0.001))
            if not sock.recv(4096):
                break
    except Exception:
        pass
    try:
        sock.close()
    except Exception:
        pass


def _failure_text(exc):
    """The STATUS= text of a debug server that did not start."""
    if isinstance(exc, NoDebugServerError):
        return _line_text("debug server did not start: %s" % (exc,), 512)
    return _line_text("debug server did not start: %s: %s" % (exc.__class__.__name__, exc), 512)


def _control_socket(kind, target):
    """attachd's control socket, where knocking starts a socket-activated attachd: $ATTACHD_SOCKET,
    else the one beside a Unix rendezvous in attachd's runtime directory (DIR/projects/NAME.sock
    -> DIR/control.sock); None for a rendezvous elsewhere."""
    explicit = os.environ.get("ATTACHD_SOCKET", "")
    if explicit:
        return explicit
    if kind != "unix":
        return None
    projects = os.path.dirname(target)
    if os.path.basename(projects) != "projects":
        return None
    return os.path.join(os.path.dirname(projects), "control.sock")


def _knock(control, project, timeout):
    """Asks attachd's control socket for the project (GetProject) and waits for the answer: under
    socket activation the connection starts attachd, whose answer comes once its rendezvous
    listeners are open. True when attachd answered."""
    sock = _connect("unix", control, timeout)
    try:
        deadline = time.time() + timeout
        call = '{"method":"io.attachd.Broker.GetProject","parameters":{"name":"%s"}}\0' % project
        sock.sendall(call.encode("utf-8"))
        while True:
            remaining = deadline - time.time()
            if remaining <= 0:
                return False
            sock.settimeout(remaining)
            chunk = sock.recv(4096)
            if not chunk:
                return False
            if b"\0" in chunk:
                return True
    finally:
        sock.close()


class _Rendezvous(object):
    """This host's rendezvous connection to attachd, kept for the life of the process (its end
    of file tells attachd the host is gone).

    attachd may go away (a crash, a restart without the fd store, `attachctl remove` and `add`
    of the project): an end of file the host did not ask for. Then the connection is made again,
    `FIRST_RETRY` seconds later and then backing off to `MAX_RETRY`, for as long as the process
    lives, and the same facts are announced again (DEBUG_PORT=, MAINPID=, EXECUTABLE=/PYTHON=,
    READY=1 and the last STATUS=); quietly (DEBUG). A session attachd ended on purpose (its
    ready timeout, EndSession) is not announced again. Where no rendezvous socket answers
    and attachd's control socket exists, the control socket is knocked on first: under socket
    activation that starts attachd.
    """

    FIRST_RETRY = 0.05
    MAX_RETRY = 0.5
    # How long a session of `attachctl run` is asked for again after attachd said it has none
    # (the new attachd has not heard from `attachctl run` yet), before announcing alone.
    JOIN_PATIENCE = 5.0

    def __init__(self, project, debug_port, extra, logger):
        self.project = project
        self.debug_port = debug_port
        self.extra = list(extra)
        self.logger = logger
        self.kind, self.target = rendezvous_address(project)
        self.where = self.target if self.kind == "unix" else "%s:%s" % self.target
        joined = os.environ.get("ATTACHD_SESSION", "")
        # Started by `attachctl run`: speak for the session it announced.
        self.joined = joined if joined and os.environ.get("ATTACHD_PROJECT", project) == project else None
        self.status_line = None   # the last STATUS= sent, said again after a reconnect
        self.sock = None
        self.closed = False       # the end was ours: no reconnecting
        self.ended_on_purpose = False
        self.pending = None       # (lines, deadline, problem) between begin() and finish()

    # ------------------------------------------------------------------ the first announcement

    def facts(self):
        return ["DEBUG_PORT=%d" % self.debug_port, "MAINPID=%d" % os.getpid()] + self.extra

    def lines(self):
        """Everything to say again after a reconnect (the debug server listens by then)."""
        return self.facts() + ["READY=1"] + ([self.status_line] if self.status_line else [])

    def begin(self, timeout, warn=True):
        """Connects and sends the announcement but READY=1, which finish() sends once the debug
        server was started, and reads the replies. False (one warning, and reconnecting in the
        background once the debug server listens) when attachd is not there.

        READY=1 waits for debugpy.listen() to return: its adapter listens on the debug port (and
        attachd would relay a waiting IDE there at once) before it can take an IDE. An `attach`
        that arrives before the adapter's own set-up is done (clients.serve() returned, its
        server side listening) fails inside the adapter (AttributeError: module
        'debugpy.adapter.clients' has no attribute 'listener'), the IDE gets an end of file and
        the host hangs in listen(): F5 before the host failing about once in 40 launches under
        load."""
        deadline = time.time() + max(float(timeout), 0.0)
        try:
            sock = self._connect(deadline)
        except Exception as exc:
            if not warn:
                return False
            self.logger.warning("attach_ready: attachd not reached for project %r at %s: %s; "
                                "the debug server starts on port %s anyway",
                                self.project, self.where, _describe(exc), self.debug_port)
            return False
        lines = ([("SESSION=%s" % self.joined)] if self.joined else []) + self.facts()
        problem = None
        try:
            sock.settimeout(max(deadline - time.time(), 0.001))
            with _send_lock:
                sock.sendall(("\n".join(lines) + "\n").encode("utf-8", "replace"))
        except Exception as exc:
            problem = _describe(exc)
        self.sock = sock
        self.pending = (lines, deadline, problem)
        return True

    def finish(self, debug_port, timeout):
        """Reads the replies to begin()'s lines (until its deadline), says what went wrong, and
        keeps the connection (or keeps trying to make it) for the life of the process."""
        if self.pending is None:
            self.debug_port = debug_port
            self._start_keeper(b"")
            return
        lines, deadline, problem = self.pending
        self.pending = None
        sock = self.sock
        ready = (["DEBUG_PORT=%d" % debug_port] if debug_port != self.debug_port else []) + ["READY=1"]
        self.debug_port = debug_port
        if problem is None:
            try:
                sock.settimeout(max(deadline - time.time(), 0.001))
                with _send_lock:
                    sock.sendall(("\n".join(ready) + "\n").encode("utf-8"))
                lines = lines + ready
            except Exception as exc:
                problem = _describe(exc)
        replies, buf, read_problem = _read_replies(sock, len(lines), deadline)
        problem = problem or read_problem
        errors = self._take_replies(lines, replies)
        if problem == "attachd closed the connection":
            self.logger.warning("attach_ready: attachd closed the rendezvous for project %r%s",
                                self.project, (": " + "; ".join(errors)) if errors else "")
        elif errors:
            self.logger.warning("attach_ready: attachd refused part of the announcement for project %r: %s",
                                self.project, "; ".join(errors))
        elif problem is not None:
            self.logger.warning("attach_ready: attachd at %s gave %s within %.1fs for project %r; "
                                "keeping the connection open, the debug server listens on port %s",
                                self.where, problem, float(timeout), self.project, self.debug_port)
        else:
            self.logger.debug("attach_ready: announced to attachd, session %s", _state["session"])
        self._start_keeper(buf)

    def _take_replies(self, lines, replies):
        errors = []
        for sent, line in zip(lines, replies):
            kind, value = _parse_reply(line)
            if kind == "ok" and value:
                _state["session"] = value
            elif kind == "error" and sent.split("=", 1)[0] in _OPTIONAL_KEYS:
                # An attachd older than these keys: it only cannot explain the interpreter.
                self.logger.debug("attach_ready: attachd did not take %s: %s", sent.split("=", 1)[0], value)
            elif kind == "error":
                self._note_error(value)
                errors.append(value)
        return errors

    def _note_error(self, value):
        # "session ID ended: REASON" closes the connection on purpose, unless the project went
        # (it may be added again: `attachctl remove` + `add`).
        if re.match(r"^session \S+ ended: ", value) and not value.endswith(": project removed"):
            self.ended_on_purpose = True

    # ------------------------------------------------------------------ sending

    def send(self, line, remember=True):
        """Sends one line now if connected; a STATUS= line is also said again after a reconnect."""
        if remember and line.startswith("STATUS="):
            self.status_line = line
        sock = self.sock
        if sock is None:
            return False
        try:
            with _send_lock:
                _sendall_with_timeout(sock, (line + "\n").encode("utf-8"), 2.0)
            return True
        except Exception:
            return False

    def abandon(self, exc):
        """The debug server did not start: say why and end the session (no reconnecting)."""
        self.closed = True
        sock, self.sock = self.sock, None
        if sock is not None:
            if self.pending is not None:
                self.send_on(sock, "READY=1")  # the whole announcement, then why it ends
            _abandon((sock,), exc)

    @staticmethod
    def send_on(sock, line):
        try:
            with _send_lock:
                _sendall_with_timeout(sock, (line + "\n").encode("utf-8"), 1.0)
        except Exception:
            pass

    def close(self):
        """Ends the connection for good (a forked child must not keep the parent's session)."""
        self.closed = True
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.close()
            except Exception:
                pass

    # ------------------------------------------------------------------ keeping it

    def _start_keeper(self, buf):
        keeper = threading.Thread(target=self._keep, args=(buf,), name="attach_ready-rendezvous")
        keeper.daemon = True
        keeper.start()

    def _keep(self, buf):
        """Reads attachd's lines until the end of file, then reconnects (see the class)."""
        while not self.closed:
            sock = self.sock
            if sock is not None:
                self._hold(sock, buf)
                buf = b""
                if self.sock is sock:
                    self.sock = None
                try:
                    sock.close()
                except Exception:
                    pass
            if self.closed or self.ended_on_purpose:
                return
            self.logger.debug("attach_ready: attachd went away (project %r); announcing again", self.project)
            buf = self._reconnect()

    def _hold(self, sock, buf):
        try:
            sock.settimeout(None)
            while True:
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    kind, value = _parse_reply(raw.decode("utf-8", "replace").strip())
                    if kind == "ok" and value:
                        _state["session"] = value
                    elif kind == "error":
                        self._note_error(value)
                        self.logger.debug("attach_ready: attachd: ERROR %s", value)
                    elif kind == "unknown":
                        _ide_line(value, self.logger)
                try:
                    chunk = sock.recv(4096)
                except socket.timeout:
                    # send() sets a timeout on this socket for its own write; a read that began
                    # meanwhile ran out of it, and attachd is still there.
                    sock.settimeout(None)
                    continue
                if not chunk:
                    return
                buf += chunk
        except Exception:
            return

    def _reconnect(self):
        """Makes the connection again and announces the same facts; returns the bytes read after
        the replies. Gives up only when the end becomes ours."""
        delay = self.FIRST_RETRY
        joined_refused_since = None
        while not self.closed:
            time.sleep(delay)
            delay = min(delay * 2, self.MAX_RETRY)
            try:
                sock = self._connect(time.time() + 2.0)
            except Exception as exc:
                self.logger.debug("attach_ready: attachd not reached at %s: %s", self.where, _describe(exc))
                continue
            try:
                if self.joined and not self._join(sock):
                    # attachd does not know `attachctl run`'s session (yet): ask again, and after a
                    # while announce alone rather than not at all.
                    sock.close()
                    joined_refused_since = joined_refused_since or time.time()
                    if time.time() - joined_refused_since > self.JOIN_PATIENCE:
                        self.joined = None
                    delay = self.FIRST_RETRY  # attachd is there: `attachctl run` is about to be
                    continue
                lines = self.lines()
                with _send_lock:
                    _sendall_with_timeout(sock, ("\n".join(lines) + "\n").encode("utf-8", "replace"), 2.0)
                replies, buf, problem = _read_replies(sock, len(lines), time.time() + 2.0)
            except Exception as exc:
                self.logger.debug("attach_ready: announcing again failed: %s", _describe(exc))
                sock.close()
                continue
            self._take_replies(lines, replies)
            if problem is not None and not replies:
                sock.close()
                continue
            if self.closed:
                sock.close()
                return b""
            self.sock = sock
            self.logger.debug("attach_ready: announced again to attachd, session %s", _state["session"])
            return buf
        return b""

    def _join(self, sock):
        """SESSION= alone first: its answer says whether the rest may follow on this connection."""
        sock.settimeout(2.0)
        sock.sendall(("SESSION=%s\n" % self.joined).encode("utf-8"))
        replies, _, _ = _read_replies(sock, 1, time.time() + 2.0)
        return bool(replies) and _parse_reply(replies[0])[0] == "ok"

    def _connect(self, deadline):
        """The rendezvous connection; where none answers and attachd's control socket exists,
        knocks there (which starts a socket-activated attachd) and tries once more."""
        try:
            return _connect(self.kind, self.target, max(deadline - time.time(), 0.001))
        except (IOError, OSError) as exc:
            if getattr(exc, "errno", None) not in (errno.ENOENT, errno.ECONNREFUSED):
                raise
            control = _control_socket(self.kind, self.target)
            if control is None or not os.path.exists(control):
                raise
            try:
                if not _knock(control, self.project, max(deadline - time.time(), 0.001)):
                    raise exc
            except (IOError, OSError, socket.timeout):
                raise exc
            return _connect(self.kind, self.target, max(deadline - time.time(), 0.001))


def _read_replies(sock, count, deadline):
    """Up to `count` reply lines read before `deadline`: (replies, bytes after them, problem)."""
    buf = b""
    replies = []
    try:
        while len(replies) < count:
            remaining = deadline - time.time()
            if remaining <= 0:
                raise socket.timeout("timed out")
            sock.settimeout(remaining)
            chunk = sock.recv(4096)
            if not chunk:
                return replies, buf, "attachd closed the connection"
            buf += chunk
            while b"\n" in buf and len(replies) < count:
                raw, buf = buf.split(b"\n", 1)
                replies.append(raw.decode("utf-8", "replace").strip())
    except Exception as exc:
        return replies, buf, _describe(exc)
    return replies, buf, None


def _after_fork_in_child():
    # A forked child must not keep the parent's session open, nor announce it again.
    rendezvous = _state["rendezvous"]
    _state["rendezvous"] = None
    if rendezvous is not None:
        rendezvous.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# --------------------------------------------------------------------------- the IDE's arrival
#
# The host hears of its IDE: the announcement says NOTIFY_ATTACH=1, and attachd writes
# ATTACHED=1 on the rendezvous connection when the first IDE is relayed to this host and
# DETACHED=1 when the last one left. An attachd older than that answers ERROR (ignored).

_NOTIFY_LINE = "NOTIFY_ATTACH=1"
_ide_cond = threading.Condition()
_ide = {"attached": False, "callbacks": [], "asked": False}


def _notice_lines():
    """NOTIFY_ATTACH=1 for the announcement once wait_for_ide or on_attach was called."""
    return [_NOTIFY_LINE] if _ide["asked"] else []


def _ask_for_notice():
    """The first wait_for_ide / on_attach asks attachd for the notice (hosts that never ask
    announce exactly what they did before): on the open rendezvous connection now, and in
    every announcement after a reconnect."""
    with _ide_cond:
        if _ide["asked"]:
            return
        _ide["asked"] = True
    rendezvous = _state.get("rendezvous")
    if rendezvous is not None:
        rendezvous.extra.append(_NOTIFY_LINE)
        rendezvous.send(_NOTIFY_LINE, remember=False)
# How often wait_for_ide also asks the debug server itself (an IDE that connected to the debug
# port directly, or an attachd that sends no notice).
_IDE_POLL = 0.05


def wait_for_ide(timeout=None):
    """Wait until an IDE is attached to this host; return True then (at once if one is), or
    False when `timeout` seconds (None: no limit) passed first. Never blocks past the timeout.

    Use it instead of debugpy.wait_for_client(): it has a timeout, and with attachd it returns
    the moment attachd relays an IDE to this host (also when the IDE connects to the debug
    port directly, as the debug server says)."""
    deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
    _ask_for_notice()
    with _ide_cond:
        while True:
            if _ide["attached"] or _debug_server_has_client():
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            _ide_cond.wait(_IDE_POLL if remaining is None else min(_IDE_POLL, remaining))


def on_attach(callback):
    """Call callback(True) when an IDE is attached to this host (at once if one is) and
    callback(False) when it left, from attach_ready's rendezvous thread. Exceptions it raises
    are logged, never passed on."""
    _ask_for_notice()
    with _ide_cond:
        _ide["callbacks"].append(callback)
        attached = _ide["attached"]
    if attached:
        _call_back(callback, True, logging.getLogger(LOGGER_NAME))


def _ide_line(line, logger):
    """A line attachd sent on the rendezvous connection other than OK / ERROR."""
    if line not in ("ATTACHED=1", "DETACHED=1"):
        logger.debug("attach_ready: attachd said %r", line)
        return
    attached = line == "ATTACHED=1"
    with _ide_cond:
        _ide["attached"] = attached
        callbacks = list(_ide["callbacks"])
        _ide_cond.notify_all()
    logger.info("attach_ready: %s", "an IDE attached" if attached else "the IDE detached")
    for callback in callbacks:
        _call_back(callback, attached, logger)


def _call_back(callback, attached, logger):
    try:
        callback(attached)
    except Exception:
        logger.exception("attach_ready: on_attach callback failed")


def _debug_server_has_client():
    module = sys.modules.get("debugpy")
    try:
        return bool(module is not None and _state["backend"] == "debugpy" and module.is_client_connected())
    except Exception:
        return False


# --------------------------------------------------------------------------- --check

_USAGE = """usage: python -m attach_ready --check [--project NAME] [--timeout SECONDS]

Prints what attach_ready.start() would do in this interpreter: which debug server it
would start (debugpy or ptvsd, and its version), whether sys.executable is a Python
debugpy's adapter can run with (or which interpreter it would use instead), the
rendezvous it would announce on, and whether attachd answers there.  Nothing is
started and no session is opened.  Exit status: 0 when start() would start a debug
server (and, when a rendezvous is known, announce it to attachd); 1 otherwise.
"""


def _module_version(module):
    version = getattr(module, "__version__", None)
    return str(version) if version else "(version unknown)"


def _probe_backend():
    """(name, version, location) of the debug server start() would use, or None."""
    for name in ("debugpy", "ptvsd"):
        try:
            module = __import__(name)
        except Exception:
            continue
        where = os.path.dirname(getattr(module, "__file__", "") or "") or "?"
        return name, _module_version(module), where
    return None


def _executable_report():
    """(ok, text) for the sys.executable question (debugpy issue #262)."""
    exe = sys.executable
    env = os.environ.get("ATTACHD_PYTHON", "")
    if env:
        return True, "%r; debugpy's adapter runs with $ATTACHD_PYTHON=%s" % (exe, env)
    if _looks_like_python(exe):
        return True, "%s is a Python %d.%d: debugpy's adapter runs with it (no fix needed)" % (
            exe, sys.version_info[0], sys.version_info[1])
    found = _search_python()
    why = executable_problem(exe)
    if found:
        return True, "%r is not a matching Python (embedded interpreter): fix needed, " \
                     "debugpy's adapter would run with %s (sys.executable is %s)" % (exe, found, why)
    return False, "%r is not a matching Python (embedded interpreter; it is %s) and no python%d.%d, " \
                  "python%d or python was found next to sys.prefix or on PATH: " \
                  "set ATTACHD_PYTHON" % (exe, why, sys.version_info[0], sys.version_info[1],
                                          sys.version_info[0])


def _probe_rendezvous(kind, target, timeout):
    """(reachable, text). Sends one line attachd refuses without opening a session."""
    try:
        sock = _connect(kind, target, timeout)
    except Exception as exc:
        return False, _describe(exc)
    try:
        sock.settimeout(timeout)
        # Not a bare connect (that would open a session); an unknown key gets one ERROR reply.
        sock.sendall(b"ATTACH_READY_CHECK=1\n")
        buf = b""
        deadline = time.time() + timeout
        while b"\n" not in buf:
            remaining = deadline - time.time()
            if remaining <= 0:
                raise socket.timeout("timed out")
            sock.settimeout(remaining)
            chunk = sock.recv(4096)
            if not chunk:
                return False, "connected, but the peer closed without answering"
            buf += chunk
        reply = buf.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    except Exception as exc:
        return False, "connected, but %s" % _describe(exc)
    finally:
        sock.close()
    if reply.startswith("ERROR permission denied"):
        return False, "attachd refused: %s" % reply[len("ERROR "):]
    if reply.startswith("ERROR unknown key") or reply.startswith("OK"):
        return True, "attachd answered"
    return False, "connected, but the answer is not attachd's: %r" % reply


def check(project=None, timeout=2.0, out=None):
    """Print what start(project) would do in this interpreter; return 0 if it could start, else 1.

    Starts nothing and opens no session: the rendezvous is only asked a question
    attachd refuses.  Without a project (and without $ATTACHD_RENDEZVOUS) the
    rendezvous is not checked.
    """
    out = out if out is not None else sys.stdout

    def say(label, text):
        out.write("%-16s %s\n" % (label + ":", text))

    problems = []
    say("attach_ready", "%s (%s)" % (__version__, os.path.abspath(__file__)))
    say("python", "%d.%d.%d (%s)" % (sys.version_info[0], sys.version_info[1],
                                    sys.version_info[2], sys.executable))
    backend = _probe_backend()
    if backend is None:
        problems.append("no debug server to start")
        say("debug server", "none: neither debugpy nor ptvsd can be imported")
    else:
        say("debug server", "%s %s (%s)" % backend)
        if backend[0] == "debugpy":
            exe_ok, text = _executable_report()
            if not exe_ok:
                problems.append("no interpreter for debugpy's adapter")
            say("sys.executable", text)
        else:
            say("sys.executable", "%r (ptvsd runs inside this process: no fix needed)" % sys.executable)

    if project is not None and not PROJECT_NAME_RE.match(project):
        say("project", "%r is not a valid attachd project name ([A-Za-z0-9._-]{1,64})" % project)
        problems.append("invalid project name")
        project = None
    elif project is not None:
        say("project", project)
    explicit = os.environ.get("ATTACHD_RENDEZVOUS", "")
    announce = project is not None or bool(explicit)
    if not announce:
        say("rendezvous", "unknown: give --project NAME "
                          "(default $XDG_RUNTIME_DIR/attachd/projects/NAME.sock)")
    else:
        kind, target = rendezvous_address(project or "NAME")
        where = target if kind == "unix" else "%s:%s" % target
        source = "$ATTACHD_RENDEZVOUS" if explicit else (
            "$XDG_RUNTIME_DIR" if os.environ.get("XDG_RUNTIME_DIR") else "no $XDG_RUNTIME_DIR")
        say("rendezvous", "%s %s (from %s)" % (kind, where, source))
        reachable, text = _probe_rendezvous(kind, target, timeout)
        say("reachable", ("yes, " if reachable else "no: ") + text)
        if not reachable:
            problems.append("attachd not reached: the debug server would start unannounced")
    if not problems:
        say("result", "start() would start %s%s" % (backend[0], " and announce it to attachd" if announce else ""))
    else:
        say("result", "not ready: " + "; ".join(problems))
    return 0 if not problems else 1


def main(argv=None):
    """`python -m attach_ready --check [--project NAME] [--timeout SECONDS]` (see _USAGE)."""
    args = list(sys.argv[1:] if argv is None else argv)
    checking, project, timeout = False, None, 2.0
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            sys.stdout.write(_USAGE)
            return 0
        if arg == "--check":
            checking = True
        elif arg in ("--project", "--timeout") and args:
            value = args.pop(0)
            if arg == "--project":
                project = value
            else:
                timeout = value
        elif arg.startswith("--project="):
            project = arg[len("--project="):]
        elif arg.startswith("--timeout="):
            timeout = arg[len("--timeout="):]
        else:
            sys.stderr.write("attach_ready: unknown argument %r\n%s" % (arg, _USAGE))
            return 2
    try:
        timeout = float(timeout)
    except ValueError:
        sys.stderr.write("attach_ready: --timeout needs a number of seconds\n")
        return 2
    if not checking:
        sys.stderr.write(_USAGE)
        return 2
    return check(project, timeout)


if __name__ == "__main__":
    sys.exit(main())
