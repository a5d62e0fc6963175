"""The benchmark must keep working: a quick run of attachbench against the built binaries.

This asserts that every phase ran and produced figures, never how fast they are: speed is
reported by `swift run -c release attachbench`, not judged by tests.
"""
import json
import os
import subprocess

import attachd_harness

HERE = os.path.dirname(os.path.abspath(__file__))


def test_attachbench_quick_run_produces_every_figure(attachd_bin_dir, tmp_path):
    bench = os.path.join(attachd_bin_dir, "attachbench")
    assert os.path.exists(bench), "attachbench is not built in %s" % attachd_bin_dir
    out = str(tmp_path / "results.json")
    result = subprocess.run([bench, "--quick", "--json-out", out, "--max-seconds", "240",
                             "--bench-dir", os.path.join(HERE, "..", "bench")],
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(out) as f:
        results = json.load(f)
    for phase in ("releaseLines", "releaseBare", "baseline", "roundTrip", "scale", "idle",
                  "relay", "relayScale", "manyProjects", "debugpy", "client", "remote"):
        assert results.get(phase), "phase %s produced nothing:\n%s" % (phase, result.stdout[-2000:])
    assert results["machine"]["cores"] >= 1
    assert results["releaseLines"]["launches"] > 0 and not results["releaseLines"]["failures"]
    remote = results["remote"]
    if remote.get("skipped"):  # no sshd or ssh here: said, not failed
        assert "Remote project through ssh | skipped" in result.stdout
    else:
        assert remote["launches"] > 0 and not remote["failures"], remote
        assert remote["relay"] and remote["forward"] and remote["direct"], remote
    targets = {t["name"]: t for t in results["targets"]}
    assert any("release p50" in name for name in targets)
    assert "| Target |" in result.stdout
