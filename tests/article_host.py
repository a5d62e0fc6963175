"""A host that behaves as the article's bootstrap, for the handoff tests.

    python3 article_host.py PORT [plain|debugpy]

It connects to 127.0.0.1:PORT until that succeeds (the article's `_connect`, minus its
one-second sleeps), closes, then binds the very same port: a plain listening socket, or
debugpy.listen(). It prints `LISTENING <time.time()>` once the port listens, and exits when
its stdin closes.
"""
import socket
import sys
import time


def connect_until_accepted(port, deadline):
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.connect(("127.0.0.1", port))
            s.close()
            return
        except socket.error:
            s.close()
            if time.time() > deadline:
                raise
            # The article polls every second; a short step keeps the test quick.
            time.sleep(0.05)


def bind_with_retry(port, deadline):
    # The daemon closes its listener the moment it accepts, so this usually works at once.
    while True:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            ls.bind(("127.0.0.1", port))
            ls.listen(1)
            return ls
        except socket.error:
            ls.close()
            if time.time() > deadline:
                raise
            time.sleep(0.01)


def main():
    port = int(sys.argv[1])
    mode = sys.argv[2] if len(sys.argv) > 2 else "plain"
    deadline = time.time() + 20
    connect_until_accepted(port, deadline)
    if mode == "debugpy":
        import debugpy
        debugpy.listen(("127.0.0.1", port))
        keep = None
    else:
        keep = bind_with_retry(port, deadline)
    sys.stdout.write("LISTENING %.6f\n" % time.time())
    sys.stdout.flush()
    MAGIC = 4242  # noqa: F841 (evaluated by the DAP test)
    sys.stdin.read()
    if keep is not None:
        keep.close()


if __name__ == "__main__":
    main()
