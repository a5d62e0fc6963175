import ArgumentParser
import AttachProtocol

@main
struct AttachCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attachctl",
        abstract: "Control attachd: projects, sessions, and waiting for a host's debug server.",
        discussion: """
        attachd keeps a rendezvous socket open for every project; a host application \
        (Blender, Maya, 3ds Max, …) announces itself there when it starts its debug server \
        (debugpy or ptvsd), and `attachctl wait PROJECT` returns the moment that server listens. \
        Put `attachctl wait` in VS Code's preLaunchTask (`attachctl vscode PROJECT --write .` does it) \
        and F5 attaches as soon as, and no sooner than, the host is ready.

        Typical setup:
          attachctl add maxtools --debug-port 5678
          attachctl vscode maxtools --write .
          attachctl wait maxtools          # what the preLaunchTask runs

        Every command talks to the daemon's control socket: --socket PATH, else $ATTACHD_SOCKET, \
        else $XDG_RUNTIME_DIR/attachd/control.sock.

        Exit codes (all commands): 0 success; 1 other errors; 3 no such project (or it was \
        removed while waiting); 64 usage error; 69 attachd is not running; 75 attachd went away \
        during the call; 124 timeout (wait).
        """,
        version: AttachdVersion.current,
        subcommands: [
            Add.self, Remove.self, List.self, Status.self, Sessions.self,
            Wait.self, Announce.self, Watch.self, VSCode.self, DoctorCommand.self,
        ]
    )

    // Held here so they may come before the subcommand (`attachctl --socket PATH status`, as
    // systemctl and git take theirs); each subcommand's own @OptionGroup of the same type is
    // given these values, so they may come after it too.
    @OptionGroup(title: "Global options") var global: GlobalOptions
    @OptionGroup(title: "Global options") var output: JSONOption
}
