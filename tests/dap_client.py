"""A minimal Debug Adapter Protocol client for end-to-end tests (debugpy 1.8, ptvsd 4.3).

Usage::

    with DapClient.connect("127.0.0.1", port, timeout=10) as dap:
        dap.attach()                       # initialize + attach + configurationDone
        assert dap.evaluate("MAGIC") == "42"
        dap.disconnect()

Everything takes a timeout and raises DapError / DapTimeout instead of hanging.
Messages are ``Content-Length: N\\r\\n\\r\\n{json}`` frames over TCP.

The attach handshake (checked against the real servers): send ``initialize``
and ``attach`` at once; on the ``initialized`` event send ``configurationDone``.
debugpy answers ``attach`` only after ``configurationDone``; ptvsd at once.

``evaluate(expr)`` pauses every thread, picks the top frame of a thread that is
running Python code (preferring the main thread), evaluates there, then
continues.  The debuggee must keep executing Python code in some thread (a
thread blocked inside a C call cannot stop until the call returns).
"""

import json
import socket
import time


class DapError(Exception):
    """A request failed (success: false) or the connection broke."""


class DapTimeout(DapError):
    """No expected message arrived before the deadline."""


class DapClient(object):
    def __init__(self, sock, timeout=10.0):
        self.sock = sock
        self.timeout = timeout
        self._buf = b""
        self._seq = 0
        self.events = []        # every event received, in order (dicts)
        self._responses = {}    # request_seq -> response dict
        self.closed = False

    # ----------------------------------------------------------------- connection
    @classmethod
    def connect(cls, host, port, timeout=10.0):
        """Connect (one attempt: never probe a debug server with throwaway connections)."""
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, timeout)

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----------------------------------------------------------------- framing
    def send(self, command, arguments=None):
        """Send a request; return its seq."""
        self._seq += 1
        msg = {"seq": self._seq, "type": "request", "command": command}
        if arguments is not None:
            msg["arguments"] = arguments
        body = json.dumps(msg).encode("utf-8")
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self._seq

    def _read_message(self, deadline):
        while True:
            header_end = self._buf.find(b"\r\n\r\n")
            if header_end >= 0:
                length = None
                for line in self._buf[:header_end].split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                if length is None:
                    raise DapError("frame without Content-Length: %r" % self._buf[:header_end])
                start = header_end + 4
                if len(self._buf) >= start + length:
                    body = self._buf[start:start + length]
                    self._buf = self._buf[start + length:]
                    return json.loads(body.decode("utf-8"))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DapTimeout("timed out waiting for a DAP message")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise DapTimeout("timed out waiting for a DAP message")
            if not chunk:
                raise DapError("debug server closed the connection")
            self._buf += chunk

    def _pump(self, deadline):
        msg = self._read_message(deadline)
        kind = msg.get("type")
        if kind == "event":
            self.events.append(msg)
            self.on_event(msg)
        elif kind == "response":
            self._responses[msg["request_seq"]] = msg
        elif kind == "request":
            # Reverse requests (e.g. runInTerminal): refuse politely.
            self._seq += 1
            reply = {"seq": self._seq, "type": "response", "request_seq": msg["seq"],
                     "command": msg.get("command"), "success": False, "message": "unsupported"}
            body = json.dumps(reply).encode("utf-8")
            self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return msg

    def on_event(self, event):
        """Hook: called for every event as it arrives."""
        if event.get("event") == "initialized" and getattr(self, "_auto_configuration_done", False):
            self._auto_configuration_done = False
            # As VS Code: every breakpoint first (sendAllBreakpoints), then configurationDone.
            for path, lines in (getattr(self, "_breakpoints", None) or {}).items():
                self.send("setBreakpoints", {"source": {"path": path},
                                             "breakpoints": [{"line": line} for line in lines]})
            self._configuration_done_seq = self.send("configurationDone")

    # ----------------------------------------------------------------- waiting
    def wait_response(self, seq, timeout=None, check=True):
        """Wait for the response to request `seq`; raise DapError if it failed and check."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while seq not in self._responses:
            self._pump(deadline)
        resp = self._responses.pop(seq)
        if check and not resp.get("success"):
            raise DapError("%s failed: %s" % (resp.get("command"), resp.get("message")))
        return resp

    def request(self, command, arguments=None, timeout=None, check=True):
        """Send a request and wait for its response (a dict); body in resp["body"]."""
        return self.wait_response(self.send(command, arguments), timeout, check)

    def wait_event(self, name, predicate=None, timeout=None, since=0):
        """Wait for an event called `name` (already received ones from index `since` count)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        checked = since
        while True:
            while checked < len(self.events):
                ev = self.events[checked]
                checked += 1
                if ev.get("event") == name and (predicate is None or predicate(ev)):
                    return ev
            self._pump(deadline)

    # ----------------------------------------------------------------- high level
    def attach(self, timeout=None, breakpoints=None, **attach_args):
        """initialize + attach (+ setBreakpoints for each {path: [lines]} of `breakpoints`, then
        configurationDone, on `initialized`); return the attach response."""
        timeout = self.timeout if timeout is None else timeout
        self._breakpoints = breakpoints
        init_seq = self.send("initialize", {
            "clientID": "attachd-tests", "clientName": "attachd tests", "adapterID": "python",
            "pathFormat": "path", "linesStartAt1": True, "columnsStartAt1": True,
            "supportsVariableType": True, "supportsRunInTerminalRequest": False,
        })
        self._auto_configuration_done = True
        self._configuration_done_seq = None
        args = {"name": "attachd tests", "type": "python", "request": "attach", "justMyCode": False}
        args.update(attach_args)
        attach_seq = self.send("attach", args)
        self.capabilities = self.wait_response(init_seq, timeout).get("body") or {}
        resp = self.wait_response(attach_seq, timeout)
        deadline = time.monotonic() + timeout
        while self._configuration_done_seq is None:
            self._pump(deadline)
        self.wait_response(self._configuration_done_seq, timeout)
        return resp

    def threads(self, timeout=None):
        return self.request("threads", timeout=timeout)["body"]["threads"]

    def pause_all(self, timeout=None):
        """Pause every thread; return the `stopped` event."""
        mark = len(self.events)
        self.request("pause", {"threadId": 0}, timeout=timeout, check=False)
        return self.wait_event("stopped", timeout=timeout, since=mark)

    def stack_trace(self, thread_id, timeout=None):
        return self.request("stackTrace", {"threadId": thread_id, "startFrame": 0, "levels": 20},
                            timeout=timeout)["body"]["stackFrames"]

    def continue_all(self, thread_id, timeout=None):
        return self.request("continue", {"threadId": thread_id, "singleThread": False},
                            timeout=timeout, check=False)

    def evaluate(self, expression, timeout=None, context="repl"):
        """Evaluate `expression` in the debuggee; return the result string (repr-ish).

        Pauses all threads, evaluates in the top frame of the stopped thread (the
        main thread when possible), then continues.  Raises DapError on failure.
        """
        stopped = self.pause_all(timeout)
        thread_id = stopped["body"].get("threadId")
        candidates = []
        if thread_id is not None:
            candidates.append(thread_id)
        for t in self.threads(timeout):
            if t["id"] not in candidates:
                if "main" in t.get("name", "").lower():
                    candidates.insert(0, t["id"])
                else:
                    candidates.append(t["id"])
        try:
            last_error = None
            for tid in candidates:
                try:
                    frames = self.stack_trace(tid, timeout)
                except DapError as exc:
                    last_error = exc
                    continue
                if not frames:
                    continue
                resp = self.request("evaluate", {"expression": expression, "frameId": frames[0]["id"],
                                                 "context": context}, timeout=timeout, check=False)
                if resp.get("success"):
                    return resp["body"]["result"]
                last_error = DapError("evaluate failed: %s" % resp.get("message"))
            raise last_error or DapError("no thread to evaluate in")
        finally:
            self.continue_all(thread_id if thread_id is not None else candidates[0], timeout)

    def disconnect(self, timeout=None, terminate=False):
        """Detach (the debuggee keeps running unless terminate=True)."""
        try:
            self.request("disconnect", {"restart": False, "terminateDebuggee": terminate},
                         timeout=timeout, check=False)
        except DapError:
            pass
        self.close()


def connect(host, port, timeout=10.0):
    """Shorthand for DapClient.connect."""
    return DapClient.connect(host, port, timeout)


# VS Code's answer to `terminated` with `restart` set (debugSession.ts: onDidTerminateDebugee ->
# debugService.restartSession(session, restartData)), for an adapter without
# supportsRestartRequest (debugpy has none): no tasks run (an automatic restart); the old
# session is sent `disconnect` with restart: true (not waited for past a failure: the adapter
# may be gone); after 300 ms (its setTimeout) the same configuration is launched again with
# `__restart` set to the event's `restart` value: a new connection to the same port,
# initialize, attach, every breakpoint again on `initialized`, configurationDone.
VSCODE_RESTART_DELAY = 0.3


def restart_like_vscode(old, host, port, terminated, timeout=10.0, breakpoints=None, **attach_args):
    """Do what VS Code does on `terminated` (an event dict) with body.restart set; return the
    new DapClient, connected and with `attach` sent (its responses not awaited: the attach
    port may hold it). Call `finish_restart` on it to wait for the attach to complete."""
    restart = (terminated.get("body") or {}).get("restart")
    assert restart, "not a restart: %r" % (terminated,)
    try:
        old.send("disconnect", {"restart": True})
    except OSError:
        pass
    old.close()
    time.sleep(VSCODE_RESTART_DELAY)  # VS Code's own pause before launching again, not a wait for an event
    new = DapClient.connect(host, port, timeout=timeout)
    args = dict(attach_args)
    args["__restart"] = restart
    new._restart_args = (breakpoints, args)
    return new


def finish_restart(new, timeout=None):
    """initialize + attach + breakpoints + configurationDone on a client from restart_like_vscode."""
    breakpoints, args = new._restart_args
    return new.attach(timeout=timeout, breakpoints=breakpoints, **args)
