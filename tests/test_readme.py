"""README.md, followed as written: the Quick start and "A real session, step by step" run with
the commands of their code blocks, read from README.md itself so that the two cannot drift
apart (issue 20). Each test works in a fresh directory with its own HOME, PATH (the built
binaries first) and XDG directories, against a daemon of its own, with a plain Python host.

What a test cannot do as written, and does instead, is said where it happens:
- building and installing the package (`scripts/package`, `sudo apt install ./dist/…`) and
  enabling the systemd user units: the build takes minutes and the install needs root and a
  user manager; tests/test_package.py builds and checks the package, tests/test_systemd.py the
  units. Here the freshly built `attachd` runs instead, and the README's order is checked
  (the package is built before `./dist/` is used);
- the fixed ports of the examples (5678…) become free ports: other tests on the machine may
  hold those;
- `blender --python-expr CODE` becomes `python3 -c CODE` (a plain Python host); gdbserver's
  `./tool` is the reader's program, so that line is not run (tests/test_attach_debuggers.py
  runs gdbserver through `attachctl run`).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from attachd_harness import free_port, wait_for
from dap_client import DapClient

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
README = os.path.join(REPO, "README.md")
HELPER_DIR = os.path.join(REPO, "integrations", "python")
EXAMPLE_PORTS = ("5678", "5679", "5680", "2345")


# ------------------------------------------------------------------ reading the README

def section(title):
    """The text under the heading that starts with `title`, up to the next heading of the same
    or a higher level."""
    lines = open(README).read().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(#+) (.*)$", line)
        if m and m.group(2).startswith(title):
            level = len(m.group(1))
            body = []
            for following in lines[i + 1:]:
                n = re.match(r"^(#+) ", following)
                if n and len(n.group(1)) <= level and not body_in_fence(body):
                    break
                body.append(following)
            return "\n".join(body)
    raise AssertionError("README.md has no section %r" % title)


def body_in_fence(lines):
    return sum(1 for l in lines if l.strip().startswith("```")) % 2 == 1


def code_blocks(text):
    """[(language, code)] of the fenced blocks in `text`, list-item indentation removed."""
    blocks = []
    for m in re.finditer(r"^( *)```(\w*)\n(.*?)^\1```", text, re.M | re.S):
        indent = len(m.group(1))
        code = "\n".join(line[indent:] for line in m.group(3).splitlines())
        blocks.append((m.group(2), code))
    return blocks


def commands(code):
    """The command lines of a sh block, each without its aligned trailing comment."""
    result = []
    for line in code.splitlines():
        line = re.sub(r"\s{2,}#.*$", "", line).strip()
        if line and not line.startswith("#"):
            result.append(line)
    return result


class Reader(object):
    """Someone following the README: a fresh directory, HOME, PATH and XDG dirs of their own,
    the daemon of the test, free ports for the README's example ports."""

    def __init__(self, daemon, tmp_path):
        self.daemon = daemon
        self.home = tmp_path / "home"
        self.work = tmp_path / "work"
        self.home.mkdir()
        self.work.mkdir()
        self.ports = {p: str(free_port()) for p in EXAMPLE_PORTS}
        bin_dir = os.path.dirname(daemon.binary("attachctl"))
        self.env = dict(daemon.env)
        self.env.update(HOME=str(self.home), PYTHONDONTWRITEBYTECODE="1",
                        PATH=bin_dir + os.pathsep + os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin",
                        # "with integrations/python/attach_ready.py on sys.path"
                        PYTHONPATH=HELPER_DIR)
        self.hosts = []

    def localise(self, text):
        for example, port in self.ports.items():
            text = re.sub(r"\b%s\b" % example, port, text)
        return text

    def port(self, example):
        return int(self.ports[example])

    def run(self, line, timeout=60):
        r = subprocess.run(["bash", "-c", self.localise(line)], cwd=str(self.work), env=self.env,
                           capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, "README command failed: %s\nstdout:\n%s\nstderr:\n%s" % (line, r.stdout, r.stderr)
        return r

    def start_host(self, python_code):
        """The README's Python lines as a host's start-up script, then the host lives on."""
        script = self.localise(python_code) + "\nimport sys\nprint('HOST STARTED', flush=True)\nsys.stdin.read()\n"
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=str(self.work), env=self.env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.hosts.append(proc)
        line = proc.stdout.readline()
        assert line == "HOST STARTED\n", (line, proc.stderr.read() if proc.poll() is not None else "")
        return proc

    def close(self):
        for proc in self.hosts:
            if proc.poll() is None:
                proc.stdin.close()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture
def reader(daemon, tmp_path):
    r = Reader(daemon, tmp_path)
    try:
        yield r
    finally:
        r.close()


def _sessions(reader, project):
    return json.loads(reader.run("attachctl sessions %s --json" % project).stdout)


# ------------------------------------------------------------------ the Quick start

def test_quick_start_as_written(reader):
    blocks = code_blocks(section("Quick start"))
    assert [lang for lang, _ in blocks] == ["sh", "python", "sh"], blocks
    setup = commands(blocks[0][1])

    # From a clean clone there is no dist/: the package is built before it is installed.
    uses_dist = [i for i, c in enumerate(setup) if "./dist/" in c]
    assert uses_dist and setup[0] == "scripts/package" and uses_dist[0] > 0, setup
    assert "setup-deps --package" in open(os.path.join(REPO, "scripts", "package")).read()
    # Not run here (see the module's doc): building and installing the .deb, the user units.
    rest = [c for c in setup if c != "scripts/package" and "./dist/" not in c and "systemctl" not in c]
    assert rest == ["attachctl add blend --attach-port 5678", "attachctl vscode blend --write ~/src/blend"], rest
    for line in rest:
        reader.run(line)
    launch = json.loads((reader.home / "src" / "blend" / ".vscode" / "launch.json").read_text())
    (attach,) = launch["configurations"]
    assert attach["connect"] == {"host": "127.0.0.1", "port": reader.port("5678")}
    assert "preLaunchTask" not in attach
    assert not (reader.home / "src" / "blend" / ".vscode" / "tasks.json").exists()

    # "In each Blender (two of them are fine), the start-up script says two lines".
    first = reader.start_host(blocks[1][1])
    second = reader.start_host(blocks[1][1])
    wait_for(lambda: sum(s["state"] == "ready" for s in _sessions(reader, "blend")) == 2, 30)

    # F5: the IDE attaches through the attach port.
    with DapClient.connect("127.0.0.1", reader.port("5678"), timeout=30) as dap:
        dap.attach(timeout=30)
        table = reader.run("attachctl sessions blend").stdout
        assert re.search(r"^RELAY\s+IDE\s+SESSION", table, re.M), table
        ids = [s["id"] for s in _sessions(reader, "blend")]
        reached = [s["id"] for s in _sessions(reader, "blend") if s.get("relays")]
        assert len(reached) == 1 and reached[0] in table
        dap.disconnect()
    other = [i for i in ids if i not in reached][0]
    assert "go to %s" % other in reader.run("attachctl select blend %s" % other).stdout

    run_lines = commands(blocks[2][1])
    blender = run_lines[0]
    assert blender.startswith("attachctl run blend -- blender --python-expr ")
    # A plain Python host for Blender; attach_ready.start() with no project (ATTACHD_PROJECT).
    r = reader.run(blender.replace("blender --python-expr", "python3 -c"))
    assert r.returncode == 0
    for line in run_lines[1:]:
        if line.startswith("attachctl add "):
            reader.run(line)
        elif "gdbserver" in line:
            continue  # ./tool is the reader's program (see the module's doc)
        elif "node" in line and shutil.which("node"):
            (reader.work / "server.js").write_text("setTimeout(() => {}, 10);\n")
            reader.run(line)
        else:
            assert "node" in line, line
    names = [p["name"] for p in json.loads(reader.run("attachctl list --json").stdout)]
    assert sorted(names) == ["blend", "native", "web"]
    first.stdin.close()
    second.stdin.close()


# ------------------------------------------------------------------ A real session

def test_a_real_session_as_written(reader):
    text = section("A real session, step by step")
    blocks = code_blocks(text)
    assert [lang for lang, _ in blocks] == ["sh", "python", "sh"], blocks
    # 1. Installing (scripts/install, systemctl) is not run here: see the module's doc.
    assert "scripts/install" in text and "scripts/run-daemon" in text
    # 2. Add a project.
    (add,) = commands(blocks[0][1])
    reader.run(add)
    port = reader.port("5678")
    # 3. The host's two lines of Python.
    host = reader.start_host(blocks[1][1])
    # 4. The VS Code files.
    (vscode,) = commands(blocks[2][1])
    out = reader.run(vscode).stdout
    directory = reader.home / "src" / "maxtools" / ".vscode"
    tasks = json.loads((directory / "tasks.json").read_text())
    launch = json.loads((directory / "launch.json").read_text())
    labels = [t["label"] for t in tasks["tasks"]]
    assert "attachd: wait maxtools" in labels and "attachd: run maxtools host" in labels
    configurations = {c["name"]: c for c in launch["configurations"]}
    attach = configurations["attachd: attach maxtools"]
    assert attach["connect"] == {"host": "127.0.0.1", "port": port}
    assert attach["preLaunchTask"] == "attachd: wait maxtools"
    assert {c["type"] for c in configurations.values()} == {"debugpy"}
    assert str(reader.daemon.runtime_dir) not in json.dumps(tasks)
    for name in ("tasks.json", "launch.json"):
        assert "wrote %s" % (directory / name) in out
    # 5. F5: the wait task as VS Code runs it, then the attach.
    wait = [t for t in tasks["tasks"] if t["label"] == "attachd: wait maxtools"][0]
    r = subprocess.run([wait["command"]] + wait["args"], env=reader.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "127.0.0.1:%d" % port, r
    with DapClient.connect("127.0.0.1", port, timeout=30) as dap:
        dap.attach(timeout=30)
        dap.disconnect()
    assert re.search(r"\bready\b|\battached\b", reader.run("attachctl sessions").stdout)
    host.stdin.close()
    assert host.wait(30) == 0
    wait_for(lambda: [s["state"] for s in _sessions(reader, "maxtools")] == ["ended"], 30)
    assert " ended" in reader.run("attachctl sessions").stdout
