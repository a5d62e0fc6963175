"""A raw varlink connection for tests that need what a client library hides: pipelining,
malformed messages, exact bytes."""
import json
import socket
import time


class RawVarlink(object):
    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buffer = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, method, parameters=None, **flags):
        call = {"method": method}
        if parameters is not None:
            call["parameters"] = parameters
        call.update(flags)
        self.sock.sendall(json.dumps(call).encode() + b"\0")

    def receive(self, timeout=10.0):
        """The next reply as a dict; None at end of file."""
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no varlink reply within %.1f s" % timeout)
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message.decode())

    def call(self, method, parameters=None, timeout=10.0):
        self.send(method, parameters)
        return self.receive(timeout)

    def close(self):
        self.sock.close()
