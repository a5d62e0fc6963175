import AttachProtocol

/// Where a remote project's hosts run: the ssh destination and what to ask for there, as saved
/// in `projects.json`.
public struct RemoteConfig: Codable, Sendable, Equatable, Hashable {
    /// `[user@]host[:port]` or a `Host` alias of the ssh config.
    public var destination: String
    /// The project's name on the remote machine.
    public var project: String
    /// The remote attachd's control socket; nil: the remote user's default.
    public var socket: String?
    /// The ssh command for this project; nil: `$ATTACHD_SSH_COMMAND`, else `ssh`.
    public var sshCommand: String?

    public init(destination: String, project: String, socket: String? = nil, sshCommand: String? = nil) {
        self.destination = destination
        self.project = project
        self.socket = socket
        self.sshCommand = sshCommand
    }

    /// The host part of the destination, without user and port: `render42` of
    /// `me@render42:2222`, for session ids and people.
    public var host: String {
        var host = Substring(destination)
        if let at = host.lastIndex(of: "@") { host = host[host.index(after: at)...] }
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            return String(host[host.index(after: host.startIndex)..<close])
        }
        if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") { host = host[..<colon] }
        return String(host)
    }

    /// The remote part of `AddProject`'s parameters, checked; nil for a local project.
    static func validated(_ p: AddProjectParameters) throws(VarlinkError) -> RemoteConfig? {
        guard let destination = p.remote else {
            if p.remoteProject != nil { throw .invalidParameter("remoteProject") }
            if p.remoteSocket != nil { throw .invalidParameter("remoteSocket") }
            if p.sshCommand != nil { throw .invalidParameter("sshCommand") }
            return nil
        }
        guard isDestination(destination) else { throw .invalidParameter("remote") }
        // The IDE must have somewhere to connect on this machine.
        guard p.attachPort != nil else { throw .invalidParameter("attachPort") }
        let project = p.remoteProject ?? p.name
        if let reason = ProjectName.problem(with: project) { throw .invalidProjectName(project, reason: reason) }
        if let socket = p.remoteSocket {
            guard socket.hasPrefix("/"), socket.count <= 107, isPrintable(socket) else {
                throw .invalidParameter("remoteSocket")
            }
        }
        if let command = p.sshCommand {
            guard !command.allSatisfy(\.isWhitespace), command.count <= 4096, isPrintable(command) else {
                throw .invalidParameter("sshCommand")
            }
        }
        return RemoteConfig(
            destination: destination, project: project, socket: p.remoteSocket, sshCommand: p.sshCommand)
    }

    /// A destination ssh cannot take for an option, of the characters a user, host name, alias,
    /// address or port may have.
    static func isDestination(_ text: String) -> Bool {
        guard !text.isEmpty, text.count <= 255, !text.hasPrefix("-") else { return false }
        return text.unicodeScalars.allSatisfy { scalar in
            scalar.properties.isASCIIHexDigit || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                || "._-@:[]%".unicodeScalars.contains(scalar)
        }
    }

    private static func isPrintable(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7f }
    }
}
