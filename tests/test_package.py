"""The Debian package, from scripts/package to a daemon running out of it.

The .deb is built once per session by `scripts/package --out TMP` (a release build: minutes
the first time), or taken from $ATTACHD_DEB when set. It is then read with dpkg-deb and
extracted into a throwaway root; the daemon and attachctl are run from that root with their own
XDG_RUNTIME_DIR and XDG_CONFIG_HOME, no --socket and no ATTACHD_SOCKET, as a user's login would
run them. No sleeps: the daemon's READY=1 on a test-owned NOTIFY_SOCKET is the event waited for.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile

import pytest

from attachd_harness import REPO_ROOT, _SCRUB, free_port

PACKAGE = os.path.join(REPO_ROOT, "scripts", "package")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
BUILD_TIMEOUT = 40 * 60

EXPECTED_FILES = [
    "usr/bin/attachd",
    "usr/bin/attachctl",
    "usr/lib/systemd/user/attachd.socket",
    "usr/lib/systemd/user/attachd.service",
    "usr/share/man/man1/attachctl.1.gz",
    "usr/share/man/man8/attachd.8.gz",
    "usr/share/bash-completion/completions/attachctl",
    "usr/share/zsh/vendor-completions/_attachctl",
    "usr/share/fish/vendor_completions.d/attachctl.fish",
    "usr/share/attachd/python/attach_ready.py",
    "usr/share/attachd/python/README.md",
    "usr/share/doc/attachd/copyright",
    "usr/share/doc/attachd/changelog.gz",
]


def _run(cmd, timeout=120, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def _source_version():
    with open(os.path.join(REPO_ROOT, "Sources", "AttachProtocol", "Version.swift")) as f:
        found = re.findall(r'static let current = "([^"]+)"', f.read())
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="session")
def deb():
    given = os.environ.get("ATTACHD_DEB")
    if given:
        assert os.path.isfile(given), "ATTACHD_DEB=%s is not a file" % given
        yield given
        return
    if not shutil.which("dpkg-buildpackage") or not shutil.which("dh"):
        pytest.skip("dpkg-dev and debhelper are not installed (scripts/setup-deps --test)")
    out = tempfile.mkdtemp(prefix="attachd-deb-")
    try:
        r = _run([PACKAGE, "--out", out], timeout=BUILD_TIMEOUT, cwd=REPO_ROOT)
        assert r.returncode == 0, "scripts/package failed:\n" + r.stderr[-6000:]
        path = r.stdout.strip().splitlines()[-1]
        assert os.path.dirname(path) == out and os.path.isfile(path), r.stdout
        yield path
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="session")
def root(deb):
    path = tempfile.mkdtemp(prefix="attachd-root-")
    try:
        r = _run(["dpkg-deb", "-x", deb, path])
        assert r.returncode == 0, r.stderr
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _field(deb, name):
    r = _run(["dpkg-deb", "-f", deb, name])
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


# ----------------------------------------------------------------------------- the package

def test_one_version_everywhere(deb, root):
    version = _source_version()
    changelog = _run(["dpkg-parsechangelog", "-l", os.path.join(REPO_ROOT, "debian", "changelog"),
                      "-S", "Version"]).stdout.strip()
    assert changelog == version
    assert _field(deb, "Version") == version
    arch = _run(["dpkg-architecture", "-q", "DEB_HOST_ARCH"]).stdout.strip()
    assert os.path.basename(deb) == "attachd_%s_%s.deb" % (version, arch)
    for exe in ("attachd", "attachctl"):
        r = _run([os.path.join(root, "usr", "bin", exe), "--version"])
        assert (r.returncode, r.stdout.strip()) == (0, version), r.stderr


def test_a_version_bump_without_a_changelog_entry_stops_the_build():
    # debian/rules' own check, with the version Version.swift would say after a bump.
    r = _run(["make", "-s", "-f", "debian/rules", "override_dh_auto_configure", "VERSION=99.0.0"],
             cwd=REPO_ROOT)
    assert r.returncode != 0
    assert "Version.swift says 99.0.0, debian/changelog says %s" % _source_version() in r.stderr
    r = _run(["make", "-s", "-f", "debian/rules", "override_dh_auto_configure"], cwd=REPO_ROOT)
    assert r.returncode == 0, r.stderr


def test_contents(deb, root):
    r = _run(["dpkg-deb", "-c", deb])
    assert r.returncode == 0, r.stderr
    listed = {line.split()[-1].lstrip(".").lstrip("/") for line in r.stdout.splitlines()}
    missing = [p for p in EXPECTED_FILES if p not in listed]
    assert not missing, "not in the package: %s\n%s" % (missing, r.stdout)
    for exe in ("attachd", "attachctl"):
        assert os.access(os.path.join(root, "usr", "bin", exe), os.X_OK)
    for name in ("attach_ready.py", "README.md"):
        with open(os.path.join(root, "usr", "share", "attachd", "python", name), "rb") as a, \
                open(os.path.join(REPO_ROOT, "integrations", "python", name), "rb") as b:
            assert a.read() == b.read(), name


def test_depends_are_computed_and_the_swift_runtime_is_static(deb, root):
    with open(os.path.join(REPO_ROOT, "debian", "control")) as f:
        assert re.search(r"^Depends: \$\{shlibs:Depends\}, \$\{misc:Depends\}$", f.read(), re.M)
    depends = [d.strip().split()[0] for d in _field(deb, "Depends").split(",")]
    assert "libc6" in depends and "libsystemd0" in depends, depends
    for exe in ("attachd", "attachctl"):
        r = _run(["readelf", "-d", os.path.join(root, "usr", "bin", exe)])
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)
        assert not [n for n in needed if "swift" in n.lower() or "Foundation" in n], needed
        if exe == "attachd":
            assert "libsystemd.so.0" in needed, needed
        else:
            # attachctl runs on every F5: one static executable, no loader, no libraries.
            assert needed == [], needed
            headers = _run(["readelf", "-lW", os.path.join(root, "usr", "bin", exe)]).stdout
            assert "INTERP" not in headers, headers


def test_lintian_reports_no_errors(deb):
    r = _run(["lintian", "--fail-on", "error", deb], timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not re.search(r"^E: ", r.stdout, re.M), r.stdout


# ----------------------------------------------------------------------------- generated docs

def _help_subcommands(attachctl):
    text = _run([attachctl, "--help"]).stdout
    section = text.split("SUBCOMMANDS:", 1)[1]
    return re.findall(r"^  ([a-z][a-z0-9-]*)\s", section, re.M)


def _help_options(exe, *args):
    """Long options of the OPTIONS list of `exe args --help` (not those named in prose)."""
    text = _run([exe] + list(args) + ["--help"]).stdout
    return set(re.findall(r"^ {2,}(?:-[A-Za-z], )?--([a-z][a-z0-9-]*)", text, re.M))


def _page_options(source):
    """Long options the mdoc source lists (`.It Fl -name` or `.It Fl h , -name`)."""
    return set(re.findall(r"^\.It Fl (?:\S+ , )?-([a-z][a-z0-9-]*)", source, re.M))


def test_man_pages_follow_the_argument_definitions(root):
    attachctl = os.path.join(root, "usr", "bin", "attachctl")
    subcommands = _help_subcommands(attachctl)
    assert len(subcommands) >= 5 and "wait" in subcommands, subcommands
    page = os.path.join(root, "usr", "share", "man", "man1", "attachctl.1.gz")
    env = dict(os.environ, MANWIDTH="200", MANPAGER="cat", PAGER="cat")
    shown = _run(["man", "-l", page], env=env)
    assert shown.returncode == 0, shown.stderr
    assert re.match(r"\s*ATTACHCTL\(1\)", shown.stdout)
    for sub in subcommands:
        assert re.search(r"^\s+%s(\s|$)" % re.escape(sub), shown.stdout, re.M), sub
    listed = _page_options(_run(["zcat", page]).stdout)
    for sub in subcommands:
        options = _help_options(attachctl, sub)
        assert "help" in options, (sub, options)
        assert options <= listed, "attachctl %s: %s not in the page" % (sub, options - listed)

    attachd = os.path.join(root, "usr", "bin", "attachd")
    page8 = os.path.join(root, "usr", "share", "man", "man8", "attachd.8.gz")
    shown = _run(["man", "-l", page8], env=env)
    assert shown.returncode == 0 and re.match(r"\s*ATTACHD\(8\)", shown.stdout), shown.stdout[:300]
    options = _help_options(attachd)
    assert "socket" in options, options
    assert options == _page_options(_run(["zcat", page8]).stdout)
    # Issue 20: no "…" dropped by the plugin, no subcommand/help section for a daemon without
    # subcommands, no source path.
    assert "subcommand" not in shown.stdout and "systemd/attachd.socket" not in shown.stdout
    for text in (shown.stdout, _run(["man", "-l", page], env=env).stdout):
        text = " ".join(text.split())
        assert "3ds Max, )" not in text and "Max and the like" in text


def test_completions_load(root):
    bash = os.path.join(root, "usr", "share", "bash-completion", "completions", "attachctl")
    r = _run(["bash", "-c", 'source "$1" && complete -p attachctl', "bash", bash])
    assert r.returncode == 0 and re.search(r"complete .*-F \S+ attachctl$", r.stdout.strip()), r
    with open(os.path.join(root, "usr", "share", "zsh", "vendor-completions", "_attachctl")) as f:
        assert f.readline().strip() == "#compdef attachctl"
    fish = os.path.join(root, "usr", "share", "fish", "vendor_completions.d", "attachctl.fish")
    with open(fish) as f:
        assert re.search(r"^complete -c '?attachctl'? ", f.read(), re.M)
    for shell, path in (("zsh", os.path.join(root, "usr", "share", "zsh", "vendor-completions", "_attachctl")),
                        ("fish", fish)):
        if shutil.which(shell):  # syntax check where the shell is installed
            r = _run([shell, "-n", path])
            assert r.returncode == 0, r.stderr


# ----------------------------------------------------------------------------- units

def _units(root):
    return [os.path.join(root, "usr", "lib", "systemd", "user", u) for u in ("attachd.socket", "attachd.service")]


@pytest.mark.skipif(not os.access(SYSTEMD_ANALYZE, os.X_OK), reason="systemd-analyze not installed")
def test_units_start_usr_bin_attachd_and_pass_systemd_analyze_verify(root):
    socket_unit, service_unit = _units(root)
    with open(service_unit) as f:
        service = f.read()
    assert re.findall(r"^ExecStart=(.*)$", service, re.M) == ["/usr/bin/attachd"]
    assert "@ATTACHD@" not in service
    tmp = tempfile.mkdtemp(prefix="attachd-pverify-", dir="/tmp")
    try:
        runtime, home, units = (os.path.join(tmp, d) for d in ("run", "home", "units"))
        for d in (runtime, home, units):
            os.mkdir(d, 0o700)
        # /usr/bin/attachd is in the extracted root, not on this machine: verify a copy whose
        # ExecStart= points there; the man pages of Documentation= are found through MANPATH.
        shutil.copy(socket_unit, units)
        with open(os.path.join(units, "attachd.service"), "w") as f:
            f.write(service.replace("ExecStart=/usr/bin/attachd",
                                    "ExecStart=" + os.path.join(root, "usr", "bin", "attachd")))
        env = dict(os.environ, HOME=home, XDG_RUNTIME_DIR=runtime,
                   MANPATH=os.path.join(root, "usr", "share", "man"))
        env.pop("XDG_CONFIG_HOME", None)
        r = _run([SYSTEMD_ANALYZE, "--user", "verify"] + [os.path.join(units, u) for u in
                                                          ("attachd.socket", "attachd.service")], env=env)
        assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- running it

def test_packaged_daemon_serves_packaged_attachctl(root):
    tmp = tempfile.mkdtemp(prefix="apkg-", dir="/tmp")  # short: Unix socket paths < 108 bytes
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    proc = None
    try:
        runtime, config, home = (os.path.join(tmp, d) for d in ("run", "cfg", "home"))
        for d in (runtime, home):
            os.mkdir(d, 0o700)
        notify.bind(os.path.join(tmp, "notify"))
        env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        env.update(HOME=home, XDG_RUNTIME_DIR=runtime, XDG_CONFIG_HOME=config)
        bindir = os.path.join(root, "usr", "bin")
        log = open(os.path.join(tmp, "attachd.log"), "w")
        proc = subprocess.Popen([os.path.join(bindir, "attachd")], env=dict(env, NOTIFY_SOCKET=notify.getsockname()),
                                stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        notify.settimeout(20.0)  # the deadline for READY=1
        while True:
            datagram = notify.recv(65536).decode()
            if "READY=1" in datagram.split("\n"):
                break
        assert os.path.exists(os.path.join(runtime, "attachd", "control.sock"))

        def ctl(*args):
            r = _run([os.path.join(bindir, "attachctl")] + list(args), env=env, timeout=30)
            with open(os.path.join(tmp, "attachd.log")) as f:
                assert r.returncode == 0, (args, r.stdout, r.stderr, f.read())
            return r.stdout

        port = free_port()
        ctl("add", "pkgtest", "--debug-port", str(port))
        assert re.search(r"^pkgtest\s+127\.0\.0\.1:%d\s" % port, ctl("list"), re.M)
        assert os.path.join(runtime, "attachd", "projects", "pkgtest.sock") in ctl("list", "--json")
        status = ctl("status")
        assert re.search(r"^attachd:\s+%s \(pid %d\)" % (re.escape(_source_version()), proc.pid), status, re.M), status
        assert re.search(r"^projects:\s+1$", status, re.M), status
        assert os.path.isfile(os.path.join(config, "attachd", "projects.json"))

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()
        shutil.rmtree(tmp, ignore_errors=True)
