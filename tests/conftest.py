"""pytest fixtures for attachd end-to-end tests (see tests/attachd_harness.py for the API).

Fixtures
    daemon          a started attachd in a private sandbox (function scope); stopped after.
    daemon_factory  call it (``daemon_factory(extra_args=[...], start=True)``) to get more
                    Daemons; all are cleaned up after the test.
    attachd_bin_dir the binaries' directory (session scope).
    short_tmp       a short temporary directory (Unix socket paths must stay < 108 bytes).

Binaries come from $ATTACHD_BIN_DIR or `swift build --show-bin-path`; the harness never
builds.  When they are missing, tests using these fixtures FAIL with a clear message, or
are skipped if ATTACHD_SKIP_MISSING=1.

Set ATTACHD_KEEP_TMP=1 to keep the sandboxes (daemon stderr, config) for inspection.
"""

import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import attachd_harness  # noqa: E402
from attachd_harness import Daemon, DaemonError  # noqa: E402


def _require_binaries():
    missing = attachd_harness.binaries_missing()
    if missing:
        try:
            where = attachd_harness.bin_dir()
        except DaemonError as exc:
            where = str(exc)
        msg = "attachd binaries not built: %s missing in %s (run `swift build`)" % (
            ", ".join(missing), where)
        if os.environ.get("ATTACHD_SKIP_MISSING"):
            pytest.skip(msg)
        pytest.fail(msg, pytrace=False)


@pytest.fixture(scope="session")
def attachd_bin_dir():
    _require_binaries()
    return attachd_harness.bin_dir()


@pytest.fixture
def daemon_factory(attachd_bin_dir):
    made = []

    def make(extra_args=(), env=None, start=True, timeout=20.0):
        d = Daemon(extra_args=extra_args, env=env, bin_dir_path=attachd_bin_dir)
        made.append(d)
        if start:
            d.start(timeout)
        return d

    yield make
    for d in made:
        d.cleanup()


@pytest.fixture
def daemon(daemon_factory, request):
    d = daemon_factory()
    yield d
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        sys.stderr.write("\n--- attachd stderr (%s) ---\n%s\n" % (request.node.name, d.stderr_text()[-8000:]))


@pytest.fixture
def short_tmp():
    path = tempfile.mkdtemp(prefix="attachd-s-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
