import AttachSystem
import AttachSystemd
import Logging

/// systemd's file descriptor store (`FDSTORE=1`): where listening sockets wait while the daemon
/// restarts. Enabled when systemd (or a test standing in for it) gave us a `NOTIFY_SOCKET`.
final class FDStore {
    let isEnabled: Bool
    private let logger: Logger
    /// Descriptors systemd passed back at start, by FDNAME, until their owner adopts them.
    private var inherited: [String: FileDescriptor] = [:]

    init(enabled: Bool, logger: Logger) {
        self.isEnabled = enabled
        self.logger = logger
    }

    /// The names the listeners of a project are stored under.
    static func tcpName(_ project: String) -> String { "tcp." + project }
    static func unixName(_ project: String) -> String { "unix." + project }
    /// The attach listener of a project.
    static func attachName(_ project: String) -> String { "attach." + project }

    /// Whether systemd's name for an inherited descriptor is one of ours to adopt.
    static func isStoredName(_ name: String) -> Bool {
        ["tcp.", "unix.", "attach.", "relay.", "held."].contains { name.hasPrefix($0) } || name == relaysComplete
    }

    /// Stored last, after every relay was handed over: without it, the relays found in the
    /// store come from an exit that was not orderly and cannot be trusted.
    static let relaysComplete = "relays.complete"

    /// The names under `prefix` still waiting to be adopted, sorted.
    func inheritedNames(prefix: String) -> [String] {
        inherited.keys.filter { $0.hasPrefix(prefix) }.sorted()
    }

    /// Keeps a descriptor systemd handed back, for `adopt`.
    func keepInherited(_ fd: FileDescriptor, name: String) {
        inherited[name] = fd
    }

    var inheritedCount: Int { inherited.count }

    /// The descriptor stored under `name` before the restart, once.
    func adopt(_ name: String) -> FileDescriptor? {
        inherited.removeValue(forKey: name)
    }

    /// Closes and forgets (here and in systemd) what no project adopted.
    func dropUnadopted() {
        for (name, fd) in inherited {
            // A project removed while the daemon was down: systemd should forget it too.
            logger.info("dropping a stored listener of a project that no longer exists", metadata: ["name": "\(name)"])
            remove(name)
            fd.close()
        }
        inherited = [:]
    }

    /// Hands a descriptor to systemd under `name` (`FDSTORE=1`, `FDNAME=`).
    func store(_ fd: FileDescriptor, name: String) {
        guard isEnabled else { return }
        if !Systemd.notify("FDSTORE=1\nFDNAME=\(name)", fds: [fd]) {
            logger.debug("fd store not available", metadata: ["name": "\(name)"])
        }
    }

    /// Tells systemd to forget what it keeps under `name` (`FDSTOREREMOVE=1`).
    func remove(_ name: String) {
        guard isEnabled else { return }
        Systemd.notify("FDSTOREREMOVE=1\nFDNAME=\(name)")
    }
}
