import ArgumentParser
import AttachProtocol

@main
struct AttachCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attachctl",
        abstract: "Control attachd: projects, sessions, and waiting for a host's debug server.",
        discussion: """
            attachd keeps a rendezvous socket open for every project; a host application \
            (Blender, Maya, 3ds Max and the like) announces itself there when it starts its debug server \
            (debugpy or ptvsd), and `attachctl wait PROJECT` returns the moment that server listens. \
            Put `attachctl wait` in VS Code's preLaunchTask (`attachctl vscode PROJECT --write .` does it) \
            and F5 attaches as soon as, and no sooner than, the host is ready.

            Typical setup, with an attach endpoint (no preLaunchTask: attachd holds the IDE until a \
            host is ready, and relays it):
              attachctl add blend --attach-port 5678
              attachctl vscode blend --write .      # launch.json attaches to 127.0.0.1:5678
              attachctl run blend -- blender        # or attach_ready.start(project="blend") inside it

            Without an attach port, the IDE connects to the debug port itself, after a wait:
              attachctl add maxtools --debug-port 5678
              attachctl vscode maxtools --write .
              attachctl wait maxtools          # what the preLaunchTask runs

            Global options (--socket, --json) go before the subcommand or after it: \
            `attachctl --socket PATH status` and `attachctl status --socket PATH` are the same.

            Files:
              $XDG_RUNTIME_DIR/attachd/control.sock   the control socket (mode 0600 in a 0700 \
            directory; /tmp/attachd-UID/control.sock without XDG_RUNTIME_DIR); --socket PATH, else \
            $ATTACHD_SOCKET, overrides it
              $XDG_RUNTIME_DIR/attachd/projects/NAME.sock   a project's Unix rendezvous socket
              ~/.config/attachd/projects.json   the projects ($XDG_CONFIG_HOME/attachd/ when set), \
            kept by attachd

            Shell completion (project names come from the running daemon):
              attachctl --generate-completion-script bash > ~/.local/share/bash-completion/completions/attachctl
              attachctl --generate-completion-script zsh|fish

            Something not working? `attachctl doctor NAME` says why, and what to do.

            Exit codes (all commands): 0 success; 1 other errors (doctor: there are findings); 3 no \
            such project (or it was removed while waiting); 64 usage error; 69 attachd is not \
            running; 75 attachd went away during the call, or turned the connection away as too \
            busy; 124 timeout (wait).
            """,
        version: AttachdVersion.current,
        subcommands: [
            Add.self, Remove.self, List.self, Status.self, Sessions.self,
            Wait.self, Announce.self, Run.self, Select.self, Follow.self, Watch.self, VSCode.self, DoctorCommand.self,
            Bridge.self,
        ]
    )

    // Held here so they may come before the subcommand (`attachctl --socket PATH status`, as
    // systemctl and git take theirs); each subcommand's own @OptionGroup of the same type is
    // given these values, so they may come after it too.
    @OptionGroup(title: "Global options") var global: GlobalOptions
    @OptionGroup(title: "Global options") var output: JSONOption

    /// `wait` and `status`, the commands of every F5, skip ArgumentParser's reflection when
    /// their arguments are plain (`QuickCommand`); everything else is ArgumentParser's.
    static func main() {
        if let quick = QuickCommand.parse(Array(CommandLine.arguments.dropFirst())) {
            quick.runAndExit()
        }
        main(nil)
    }
}
