#if canImport(Glibc)
    import Glibc
#endif

/// Where attachd and attachctl look for their files. Both binaries compute these the same way,
/// so they agree without configuration.
public struct DefaultPaths: Sendable, Equatable {
    /// `$XDG_RUNTIME_DIR/attachd`, or `/tmp/attachd-UID` when XDG_RUNTIME_DIR is unset.
    public var runtimeDirectory: String
    /// The control socket: `ATTACHD_SOCKET` if set, else `runtimeDirectory/control.sock`.
    public var controlSocket: String
    /// `$XDG_CONFIG_HOME/attachd` (default `~/.config/attachd`).
    public var configDirectory: String

    /// Reads XDG_RUNTIME_DIR, XDG_CONFIG_HOME, HOME and ATTACHD_SOCKET from the environment
    /// (getenv(3)) and the uid from getuid(2).
    public static func fromEnvironment() -> DefaultPaths {
        let runtime: String
        if let xdg = env("XDG_RUNTIME_DIR"), xdg.hasPrefix("/") {
            runtime = xdg + "/attachd"
        } else {
            runtime = "/tmp/attachd-\(getuid())"
        }
        let config: String
        if let xdg = env("XDG_CONFIG_HOME"), xdg.hasPrefix("/") {
            config = xdg + "/attachd"
        } else {
            let home = env("HOME") ?? homeFromPasswd() ?? "/tmp"
            config = home + "/.config/attachd"
        }
        let socket = env("ATTACHD_SOCKET") ?? (runtime + "/control.sock")
        return DefaultPaths(runtimeDirectory: runtime, controlSocket: socket, configDirectory: config)
    }

    /// `configDirectory/projects.json`.
    public var projectsFile: String { configDirectory + "/projects.json" }

    /// The lock one attachd holds for this user configuration, beside `projects.json`.
    public var configLockFile: String { configDirectory + "/attachd.lock" }

    /// The lock one attachd holds for its runtime directory (its rendezvous sockets).
    public var runtimeLockFile: String { runtimeDirectory + "/attachd.lock" }

    /// The directory of the projects' Unix rendezvous sockets.
    public var rendezvousDirectory: String { runtimeDirectory + "/projects" }

    /// A project's Unix rendezvous socket. The name must have been validated.
    public func rendezvousSocket(for project: String) -> String {
        rendezvousDirectory + "/" + project + ".sock"
    }

    private static func env(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let s = String(cString: value)
        return s.isEmpty ? nil : s
    }

    private static func homeFromPasswd() -> String? {
        guard let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir else { return nil }
        return String(cString: dir)
    }
}
