"""attachctl's global options and shell completion, end to end over the real daemon.

Global options (--socket, --json) work before the subcommand, as systemctl's and git's do, and
after it as before. Completion: the generated bash script's custom hook, and bash itself
running the generated completion function, both give the running daemon's project names.
"""
import json
import os
import subprocess

import pytest

from attachd_harness import free_port


def run(daemon, *args, env=None, input=None, timeout=30):
    """attachctl ARGS with an environment that does NOT point at the daemon (no
    ATTACHD_SOCKET, another XDG_RUNTIME_DIR): only --socket on the command line can."""
    if env is None:
        env = dict(daemon.env)
        env.pop("ATTACHD_SOCKET", None)
        env["XDG_RUNTIME_DIR"] = os.path.join(daemon.tmp_dir, "elsewhere")
    return subprocess.run([daemon.binary("attachctl")] + [str(a) for a in args], env=env,
                          capture_output=True, text=True, timeout=timeout, input=input)


def add(daemon, name):
    daemon.ctl("add", name, "--debug-port", free_port(), check=True)


def test_without_socket_the_default_is_not_the_daemon(daemon):
    r = run(daemon, "status")
    assert r.returncode == 69, r.stderr
    assert "elsewhere" in r.stderr


@pytest.mark.parametrize("args", [
    ["--socket", "{s}", "status"],
    ["status", "--socket", "{s}"],
    ["--socket={s}", "status"],
    ["status", "--socket={s}"],
])
def test_socket_before_or_after_the_subcommand(daemon, args):
    r = run(daemon, *[a.format(s=daemon.socket) for a in args])
    assert r.returncode == 0, (args, r.stderr)
    assert "pid %d" % daemon.pid in r.stdout
    assert daemon.socket in r.stdout


@pytest.mark.parametrize("args", [
    ["--json", "--socket", "{s}", "list"],
    ["--socket", "{s}", "--json", "list"],
    ["--socket", "{s}", "list", "--json"],
    ["list", "--json", "--socket", "{s}"],
])
def test_json_before_or_after_the_subcommand(daemon, args):
    add(daemon, "alpha")
    r = run(daemon, *[a.format(s=daemon.socket) for a in args])
    assert r.returncode == 0, (args, r.stderr)
    projects = json.loads(r.stdout)
    assert [p["name"] for p in projects] == ["alpha"]


def test_global_options_reach_a_subcommand_with_an_argument(daemon):
    add(daemon, "alpha")
    r = run(daemon, "--socket", daemon.socket, "--json", "sessions", "alpha")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []
    r = run(daemon, "--socket", daemon.socket, "wait", "ghost", "--timeout", "0")
    assert r.returncode == 3
    assert "no project named 'ghost'" in r.stderr


def test_version(daemon):
    r = run(daemon, "--version")
    assert r.returncode == 0
    version = daemon.ctl_json("status")["version"]
    assert r.stdout.strip() == version


def test_root_help_documents_globals_files_and_exit_codes(daemon):
    r = run(daemon, "--help")
    assert r.returncode == 0
    for needle in ("--socket", "--json", "control.sock", "projects.json", "doctor",
                   "--generate-completion-script", "124", "69", "75"):
        assert needle in r.stdout, needle


# ----------------------------------------------------------------------------- completion

@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_generated(daemon, shell):
    r = run(daemon, "--generate-completion-script", shell)
    assert r.returncode == 0, r.stderr
    assert "---completion" in r.stdout  # the custom hook calls back into attachctl


def custom_hook(daemon, subcommand, words, env=None):
    """What the generated bash script runs for a PROJECT argument (read it:
    `__attachctl_custom_complete ---completion SUB -- positional@0 CWORD CURSOR WORDS...`)."""
    cword = len(words) - 1
    return run(daemon, "---completion", subcommand, "--", "positional@0", cword, len(words[-1]),
               *words, env=env)


@pytest.mark.parametrize("subcommand", ["wait", "remove", "sessions", "watch", "vscode", "announce", "doctor"])
def test_custom_hook_completes_the_daemons_project_names(daemon, subcommand):
    add(daemon, "blender-tools")
    add(daemon, "maxtools")
    r = custom_hook(daemon, subcommand, ["attachctl", subcommand, ""], env=daemon.env)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == ["blender-tools", "maxtools"]
    r = custom_hook(daemon, subcommand, ["attachctl", subcommand, "ma"], env=daemon.env)
    assert r.stdout.split() == ["maxtools"]


def test_custom_hook_follows_socket_on_the_command_line(daemon):
    add(daemon, "alpha")
    add(daemon, "beta")
    r = custom_hook(daemon, "wait", ["attachctl", "--socket", daemon.socket, "wait", ""])
    assert sorted(r.stdout.split()) == ["alpha", "beta"], r.stderr
    r = custom_hook(daemon, "wait", ["attachctl", "wait", "--socket=" + daemon.socket, ""])
    assert sorted(r.stdout.split()) == ["alpha", "beta"], r.stderr


def test_custom_hook_completes_nothing_and_quietly_without_a_daemon(daemon):
    r = custom_hook(daemon, "wait", ["attachctl", "wait", ""])  # env points nowhere
    assert r.returncode == 0
    assert r.stdout.strip() == ""
    assert r.stderr == ""


def test_bash_runs_the_generated_completion(daemon, short_tmp):
    add(daemon, "blender-tools")
    add(daemon, "maxtools")
    script = os.path.join(short_tmp, "attachctl.bash")
    with open(script, "w") as f:
        f.write(run(daemon, "--generate-completion-script", "bash").stdout)
    exe = daemon.binary("attachctl")
    line = exe + " wait "
    driver = (
        "source %s\n"
        "COMP_WORDS=(%s wait '')\nCOMP_CWORD=2\nCOMP_LINE=%s\nCOMP_POINT=${#COMP_LINE}\n"
        "_attachctl %s '' wait\n"
        "printf '%%s\\n' \"${COMPREPLY[@]}\"\n"
    ) % (script, exe, "'%s'" % line, exe)
    r = subprocess.run(["bash", "-c", driver], env=daemon.env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == ["blender-tools", "maxtools"], (r.stdout, r.stderr)
