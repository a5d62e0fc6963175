"""`attachctl watch` with stdout on a terminal (a pty): the live view, one line per session
updated in place. With stdout a pipe it stays one plain line per event (tests/test_attachctl.py)."""
import os
import pty
import re
import select
import signal
import socket
import subprocess
import time

from attachd_harness import free_port

ANSI = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")


class Terminal(object):
    """attachctl ARGS with stdout and stderr on one pty; the screen is read with deadlines."""

    def __init__(self, daemon, *args):
        self.master, slave = pty.openpty()
        try:
            self.proc = subprocess.Popen([daemon.binary("attachctl")] + [str(a) for a in args],
                                         env=daemon.env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
        finally:
            os.close(slave)
        self.data = b""

    def read_until(self, predicate, timeout=10):
        """Read until predicate(text of the latest frame) holds; return that frame's text."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.last_frame()
            if predicate(frame):
                return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("not on the terminal within %.1fs; last frame %r" % (timeout, frame))
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise TimeoutError("terminal closed; got %r" % self.data)
                self.data += chunk

    def last_frame(self):
        """The text of the last complete frame (a frame ends with ESC[J), escapes removed."""
        end = self.data.rfind(b"\x1b[J")
        if end < 0:
            return ""
        start = self.data.rfind(b"\x1b[J", 0, end)
        body = self.data[start + 3 if start >= 0 else 0:end]
        return ANSI.sub(b"", body).decode("utf-8", "replace").replace("\r", "")

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.master)


def session_line(frame, sid):
    for line in frame.splitlines():
        if line.split()[:1] == [sid]:
            return line
    return None


def test_live_view_shows_a_session_and_its_changes_in_place(daemon):
    port = free_port()
    daemon.ctl("add", "live", "--debug-port", port, check=True)
    term = Terminal(daemon, "watch", "live")
    try:
        term.read_until(lambda f: "no sessions of 'live'" in f and "watching 'live'" in f)
        sid = daemon.ctl("announce", "live", "--debug-port", port, "--status", "booting", check=True).stdout.strip()
        frame = term.read_until(lambda f: session_line(f, sid) is not None)
        line = session_line(frame, sid)
        assert "pending (booting)" in line and "127.0.0.1:%d" % port in line
        assert "last event: sessionStarted" in frame

        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(1)
        try:
            frame = term.read_until(lambda f: "ready" in (session_line(f, sid) or ""))
            assert "pending" not in session_line(frame, sid)
            # Redrawn in place: the cursor went back up over the previous frame.
            assert re.search(rb"\x1b\[\d+A", term.data)
            # Still one line for the session: the frame replaced the old one, it did not add one.
            assert len([l for l in frame.splitlines() if l.split()[:1] == [sid]]) == 1
        finally:
            server.close()
        daemon.ctl("remove", "live", "--force", check=True)
        term.read_until(lambda f: "no sessions of 'live'" in f)
    finally:
        term.close()


def test_live_view_lists_sessions_that_were_there_before_it_started(daemon):
    port = free_port()
    daemon.ctl("add", "early", "--debug-port", port, check=True)
    sid = daemon.ctl("announce", "early", check=True).stdout.strip()
    term = Terminal(daemon, "watch")
    try:
        frame = term.read_until(lambda f: session_line(f, sid) is not None)
        assert "early" in session_line(frame, sid)
        assert "watching all projects" in frame
    finally:
        term.close()


def test_json_on_a_terminal_stays_json_lines(daemon):
    term = Terminal(daemon, "watch", "--json")
    try:
        deadline = time.monotonic() + 10
        while b"watching" not in term.data:
            ready, _, _ = select.select([term.master], [], [], max(0, deadline - time.monotonic()))
            assert ready, term.data
            term.data += os.read(term.master, 4096)
        daemon.ctl("add", "j", "--debug-port", free_port(), check=True)
        while b'"projectAdded"' not in term.data:
            ready, _, _ = select.select([term.master], [], [], max(0, deadline - time.monotonic()))
            assert ready, term.data
            term.data += os.read(term.master, 4096)
        assert b"\x1b[J" not in term.data
    finally:
        term.close()


def _set_width(fd, columns, rows=24):
    import fcntl
    import struct
    import termios
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def test_live_view_follows_a_resize(daemon):
    # Issue 20: a narrower terminal is redrawn to its width, without waiting for an event.
    daemon.ctl("add", "a-project-with-a-rather-long-name", "--debug-port", free_port(), check=True)
    sid = daemon.ctl("announce", "a-project-with-a-rather-long-name", "--status", "x" * 60, check=True).stdout.strip()
    term = Terminal(daemon, "watch")
    try:
        _set_width(term.master, 200)
        frame = term.read_until(lambda f: session_line(f, sid) is not None)
        assert len(session_line(frame, sid)) > 60
        _set_width(term.master, 50)
        frame = term.read_until(lambda f: session_line(f, sid) is not None and len(session_line(f, sid)) <= 49)
        assert all(len(line) <= 49 for line in frame.splitlines()), frame
    finally:
        term.close()


def test_live_view_says_attachd_went_away_and_reconnects(daemon):
    # Issue 20: the live view outlives a restart of attachd (the line form still exits 75).
    daemon.ctl("add", "again", "--debug-port", free_port(), check=True)
    term = Terminal(daemon, "watch", "again")
    try:
        term.read_until(lambda f: "watching 'again'" in f)
        daemon.kill()
        term.read_until(lambda f: "attachd went away" in f and "reconnecting" in f)
        assert term.proc.poll() is None
        daemon.start()
        sid = daemon.ctl("announce", "again", check=True).stdout.strip()
        frame = term.read_until(lambda f: session_line(f, sid) is not None)
        assert "went away" not in frame
        assert term.proc.poll() is None
    finally:
        term.close()
