"""The benchmark must keep working: a quick run of attachbench against the built binaries.

This asserts that every phase ran and produced figures, never how fast they are: speed is
reported by `swift run -c release attachbench`, not judged by tests.
"""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import uuid

import pytest

import attachd_harness

HERE = os.path.dirname(os.path.abspath(__file__))


def marked_environment():
    """The environment for one attachbench run, with a variable of its own that its children
    (the C relay among them) inherit: what finds them in /proc afterwards."""
    marker = "ATTACHBENCH_SMOKE=%s" % uuid.uuid4().hex
    env = dict(os.environ)
    env["ATTACHBENCH_SMOKE"] = marker.split("=", 1)[1]
    return env, marker


def c_relays_with(marker):
    """The pids of running C relays (`.../c_relay` from bench/c_relay.c) started by the
    attachbench run whose environment holds `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    if not f.read().split(b"\0")[0].endswith(b"/c_relay"):
                        continue
                with open("/proc/%s/environ" % entry, "rb") as f:
                    if marker.encode() in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_attachbench_quick_run_produces_every_figure(attachd_bin_dir, tmp_path):
    bench = os.path.join(attachd_bin_dir, "attachbench")
    assert os.path.exists(bench), "attachbench is not built in %s" % attachd_bin_dir
    out = str(tmp_path / "results.json")
    env, marker = marked_environment()
    result = subprocess.run([bench, "--quick", "--json-out", out, "--max-seconds", "240",
                             "--bench-dir", os.path.join(HERE, "..", "bench")],
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(out) as f:
        results = json.load(f)
    for phase in ("releaseLines", "releaseBare", "baseline", "roundTrip", "scale", "idle",
                  "relay", "relayLoad", "relayScale", "manyProjects", "debugpy", "client", "remote"):
        assert results.get(phase), "phase %s produced nothing:\n%s" % (phase, result.stdout[-2000:])
    assert results["machine"]["cores"] >= 1
    assert results["releaseLines"]["launches"] > 0 and not results["releaseLines"]["failures"]
    remote = results["remote"]
    if remote.get("skipped"):  # no sshd or ssh here: said, not failed
        assert "Remote project through ssh | skipped" in result.stdout
    else:
        assert remote["launches"] > 0 and not remote["failures"], remote
        assert remote["relay"] and remote["forward"] and remote["direct"], remote
    relay = results["relay"]
    if shutil.which("cc") or shutil.which("gcc"):  # CI: the Swift toolchain brings clang as cc
        assert relay["cRelay"]["count"] == relay["relay"]["count"] > 0, relay
        assert relay["cRelaySpinMicros"] == 200 and not relay.get("cRelaySkipped"), relay
        for field in ("relayVsCRelayP50Micros", "relayVsCRelayP99Micros", "cRelayMBps", "bulkRatioToCRelay"):
            assert isinstance(relay.get(field), (int, float)), (field, relay)  # NaN would be a string
        assert relay["cRelayMBps"] > 0 and relay["bulkRatioToCRelay"] > 0, relay
        assert "… the same through a C relay (bench/c_relay.c" in result.stdout
        assert "relay round trip p50 vs C relay (C relay + 5 µs)" in {t["name"] for t in results["targets"]}
    else:  # said, not failed
        assert relay["cRelaySkipped"] == "no C compiler" and relay.get("cRelay") is None, relay
        assert "skipped: no C compiler" in result.stdout
    assert not c_relays_with(marker)
    load = results["relayLoad"]
    assert load["idle"]["count"] > 0 and load["underBulk"]["count"] > 0 and not load["failures"], load
    assert load["bytesMovedUnderBulk"] > 0 and load["secondsUnderBulk"] > 0 and load["ratioP99"] > 0, load
    assert "… the same while that relay moves bulk data the whole time" in result.stdout
    targets = {t["name"]: t for t in results["targets"]}
    assert any("release p50" in name for name in targets)
    assert "release p99 while a relay moves bulk data (vs idle p99)" in targets
    assert "| Target |" in result.stdout


def busy_processes_of(bench_pid):
    """The pids of the `--busy` processes a given attachbench started (their argv ends with
    `attachbench-busy PID`), read from /proc."""
    marker = b"\0attachbench-busy\0%d\0" % bench_pid
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    if marker in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def run_busy_bench(attachd_bin_dir, tmp_path, *extra, env=None):
    """The relay phase, quick and small, with two busy processes beside its round trips."""
    return subprocess.Popen(
        [os.path.join(attachd_bin_dir, "attachbench"), "--quick", "--phases", "relay", "--busy", "2",
         "--held-launches", "2", "--bulk-mib", "8", "--json-out", str(tmp_path / "results.json"),
         "--max-seconds", "120", "--bench-dir", os.path.join(HERE, "..", "bench")] + list(extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, env=env)


def test_attachbench_busy_reports_the_rows_run_beside_busy_processes(attachd_bin_dir, tmp_path):
    env, marker = marked_environment()
    bench = run_busy_bench(attachd_bin_dir, tmp_path, "--relay-round-trips", "500", env=env)
    stdout, stderr = bench.communicate(timeout=150)
    assert bench.returncode == 0, stdout[-3000:] + stderr[-3000:]
    with open(str(tmp_path / "results.json")) as f:
        results = json.load(f)
    relay = results["relay"]
    assert relay["busyProcesses"] == 2 and relay["busyCPUSeconds"] > 0, relay
    assert results["settings"]["attach"]["busy"] == 2
    assert "(500 round trips, with 2 busy processes beside it (`--busy 2`:" in stdout
    assert "… the same echo server directly, same run, same busy processes" in stdout
    targets = {t["name"] for t in results["targets"]}
    assert "relay round trip p99 beside 2 busy processes (vs direct + 1 ms)" in targets
    assert "relay round trip p50 (vs direct + 15 µs)" not in targets  # a quiet-machine target
    assert not busy_processes_of(bench.pid)
    assert not c_relays_with(marker)


def test_attachbench_interrupted_leaves_no_busy_process(attachd_bin_dir, tmp_path, short_tmp):
    # A SIGTERM skips the bench's clean-up of its sandboxes: runtime directories go to
    # short_tmp, and each one's /tmp twin (same name: logs, config) is removed below.
    env, marker = marked_environment()
    bench = run_busy_bench(attachd_bin_dir, tmp_path, "--relay-round-trips", "100000000",
                           "--runtime-parent", short_tmp, env=env)
    compiler = shutil.which("cc") or shutil.which("gcc")
    try:
        attachd_harness.wait_for(lambda: len(busy_processes_of(bench.pid)) == 2, timeout=60,
                                 message="attachbench to start its 2 busy processes")
        if compiler:  # the C relay runs beside attachd's relay during the round trips
            assert len(c_relays_with(marker)) == 1
        bench.send_signal(signal.SIGTERM)
        stdout, stderr = bench.communicate(timeout=30)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.communicate()
        for name in os.listdir(short_tmp):
            if name.startswith("attachbench-"):
                shutil.rmtree(os.path.join("/tmp", name), ignore_errors=True)
    assert bench.returncode == 2, stdout[-3000:] + stderr[-3000:]
    assert "children killed" in stderr
    attachd_harness.wait_for(lambda: not busy_processes_of(bench.pid), timeout=10,
                             message="the busy processes to be gone")
    attachd_harness.wait_for(lambda: not c_relays_with(marker), timeout=10,
                             message="the C relay to be gone")


def test_c_relay_passes_every_byte_both_ways_and_the_half_close(tmp_path):
    """bench/c_relay.c, the bench's reference relay: concurrent connections, sizes from one
    byte to 32 MiB, each echoed back through it; the IDE's EOF reaches the host (which then
    sends a trailer and closes), and the relay keeps no descriptor once they have ended."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    binary = str(tmp_path / "c_relay")
    subprocess.run([cc, "-O2", "-Wall", "-Werror", "-o", binary, os.path.join(HERE, "..", "bench", "c_relay.c")],
                   check=True, timeout=120)
    server = socket.create_server(("127.0.0.1", 0))

    def echo_then_trailer(c):
        with c:
            while True:
                data = c.recv(1 << 16)
                if not data:
                    break
                c.sendall(data)
            c.sendall(b"TRAILER")

    def serve():
        while True:
            try:
                c, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=echo_then_trailer, args=(c,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    relay = subprocess.Popen([binary, "--spin", "200", "0", str(server.getsockname()[1])],
                             stdout=subprocess.PIPE, text=True)
    try:
        words = relay.stdout.readline().split()
        assert words[0] == "PORT", words
        port = int(words[1])
        results = {}

        def client(size):
            payload = os.urandom(size)
            received = hashlib.sha256()
            total = 0
            with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
                writer = threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)))
                writer.start()
                while True:
                    data = s.recv(1 << 20)
                    if not data:
                        break
                    received.update(data)
                    total += len(data)
                writer.join(60)
            results[size] = (total, received.hexdigest() == hashlib.sha256(payload + b"TRAILER").hexdigest())

        sizes = [1, 100, 70000, 5 << 20, 32 << 20]
        threads = [threading.Thread(target=client, args=(n,)) for n in sizes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert results == {n: (n + 7, True) for n in sizes}
        # Listener, epoll and stdio are left once every pair has ended.
        attachd_harness.wait_for(lambda: len(os.listdir("/proc/%d/fd" % relay.pid)) == 5, timeout=10,
                                 message="the C relay to close every ended pair")
    finally:
        relay.kill()
        relay.wait()
        relay.stdout.close()
        server.close()
