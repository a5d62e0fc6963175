import AttachProtocol
import AttachSystem

/// Exit codes of attachctl (sysexits(3) where one fits, 124 as timeout(1)).
public enum ExitStatus {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    /// The project does not exist, or was removed while waiting.
    public static let unknownProject: Int32 = 3
    /// EX_USAGE: bad command line.
    public static let usage: Int32 = 64
    /// EX_UNAVAILABLE: no daemon listening.
    public static let unavailable: Int32 = 69
    /// EX_TEMPFAIL: the daemon went away mid-call.
    public static let tempFail: Int32 = 75
    /// As timeout(1): nothing became ready in time.
    public static let timeout: Int32 = 124

    /// The exit code for `error`.
    public static func code(for error: ClientError) -> Int32 {
        switch error {
        case .unreachable: return unavailable
        case .connectionLost: return tempFail
        case .deadlineExceeded: return timeout
        case .protocolViolation: return failure
        case .remote(let remote):
            switch remote.name {
            case BrokerErrorName.projectNotFound, BrokerErrorName.projectRemoved: return unknownProject
            case BrokerErrorName.timeout: return timeout
            case BrokerErrorName.shuttingDown: return tempFail
            default: return failure
            }
        }
    }
}

/// Fully qualified names of the errors of `io.attachd.Broker`.
public enum BrokerErrorName {
    public static let projectNotFound = "io.attachd.Broker.ProjectNotFound"
    public static let projectExists = "io.attachd.Broker.ProjectExists"
    public static let invalidProjectName = "io.attachd.Broker.InvalidProjectName"
    public static let invalidPort = "io.attachd.Broker.InvalidPort"
    public static let sessionNotFound = "io.attachd.Broker.SessionNotFound"
    public static let timeout = "io.attachd.Broker.Timeout"
    public static let addressInUse = "io.attachd.Broker.AddressInUse"
    public static let projectRemoved = "io.attachd.Broker.ProjectRemoved"
    public static let shuttingDown = "io.attachd.Broker.ShuttingDown"
    public static let permissionDenied = "io.attachd.Broker.PermissionDenied"
    public static let messageTooLarge = "io.attachd.Broker.MessageTooLarge"
}

/// Human explanations of client errors: each names what is wrong and what to do about it.
public enum ErrorMessages {
    /// What the operation was, for messages that depend on it.
    public enum Context: Sendable {
        case general
        /// `attachctl wait`.
        case waiting(project: String)
        /// `attachctl watch`.
        case watching
    }

    public static let startHint = "start it with `attachd` or `systemctl --user start attachd.socket`"

    public static func describe(_ error: ClientError, context: Context = .general) -> String {
        switch error {
        case .unreachable(let path, let errno):
            return unreachable(path: path, errno: errno)
        case .connectionLost:
            switch context {
            case .waiting:
                return "attachd went away while waiting; is it restarting? run the wait again"
            case .watching:
                return "attachd went away; the watch ended (is it restarting? run `attachctl watch` again)"
            case .general:
                return "attachd went away before it answered; is it restarting? `attachctl status` tells whether it is back, then retry"
            }
        case .deadlineExceeded(let seconds):
            return "attachd did not answer within \(Format.seconds(seconds)); it may be overloaded or stuck (see `journalctl --user -u attachd`)"
        case .protocolViolation(let what):
            return "\(what); check that attachd and attachctl come from the same build (`attachctl status`)"
        case .remote(let remote):
            return describe(remote, context: context)
        }
    }

    static func unreachable(path: String, errno: Errno) -> String {
        let reason: String
        switch errno {
        case .noSuchFile: reason = "no such socket"
        case .connectionRefused: reason = "connection refused"
        case .permissionDenied, .notPermitted:
            return "cannot connect to attachd at \(path) (permission denied); the control socket belongs to another user: run attachctl as the daemon's user, or point --socket / ATTACHD_SOCKET at your own daemon"
        case .nameTooLong:
            return "cannot connect to attachd at \(path): the path is too long for a Unix socket (at most 107 bytes); use a shorter --socket path"
        case .notDirectory, .invalidArgument:
            reason = "not a socket: \(errno)"
        default: reason = errno.description
        }
        return "no attachd listening on \(path) (\(reason)); \(startHint)"
    }

    public static func describe(_ error: VarlinkError, context: Context = .general) -> String {
        let p = error.parameters
        func s(_ key: String) -> String { p[key]?.stringValue ?? "?" }
        func n(_ key: String) -> String {
            guard let value = p[key]?.doubleValue else { return "?" }
            return value.rounded() == value ? String(Int64(value)) : String(value)
        }
        switch error.name {
        case BrokerErrorName.projectNotFound:
            let name = s("name")
            return "no project named '\(name)'; see `attachctl list` or add it with `attachctl add \(name) --debug-port N`"
        case BrokerErrorName.projectExists:
            let name = s("name")
            return "a project named '\(name)' already exists; see it with `attachctl list`, or remove it first with `attachctl remove \(name)`"
        case BrokerErrorName.invalidProjectName:
            return "invalid project name '\(s("name"))': \(s("reason")); use 1-\(ProjectName.maxLength) characters of A-Z a-z 0-9 . _ -"
        case BrokerErrorName.invalidPort:
            return "invalid port \(n("port")): use a port number 1-65535 (and a rendezvous port different from other projects')"
        case BrokerErrorName.sessionNotFound:
            return "no session with id '\(s("id"))'; see `attachctl sessions`"
        case BrokerErrorName.timeout:
            let project = s("project")
            let seconds = p["seconds"]?.doubleValue.map(Format.seconds) ?? "the timeout"
            return "no session of '\(project)' became ready within \(seconds); is the host application running, and does its bootstrap reach the rendezvous (see `attachctl list` and `attachctl sessions \(project)`)? give it longer with --timeout"
        case BrokerErrorName.addressInUse:
            return "address \(s("address")) is already in use; choose another port (--debug-port / --rendezvous-port) or find what holds it with `ss -ltnp`"
        case BrokerErrorName.projectRemoved:
            let name = s("name")
            if case .waiting = context {
                return "project '\(name)' was removed while waiting; add it again with `attachctl add \(name) --debug-port N`"
            }
            return "project '\(name)' was removed; add it again with `attachctl add \(name) --debug-port N`"
        case BrokerErrorName.shuttingDown:
            return "attachd is shutting down; wait for it to come back (`attachctl status`) and retry"
        case BrokerErrorName.permissionDenied:
            return "attachd refused this user (uid \(n("uid"))): only the daemon's own user may use it; run attachctl as that user or start your own attachd"
        case BrokerErrorName.messageTooLarge:
            return "the request is larger than attachd accepts (\(n("limit")) bytes); shorten the values (e.g. --status)"
        case "org.varlink.service.MethodNotFound", "org.varlink.service.MethodNotImplemented",
             "org.varlink.service.InterfaceNotFound":
            return "attachd does not know \(s(p["method"] != nil ? "method" : "interface")) (\(error.name)); attachd and attachctl are probably different versions: restart attachd after upgrading"
        case "org.varlink.service.InvalidParameter":
            return "attachd refused the parameter '\(s("parameter"))'; check the value given on the command line"
        case "org.varlink.service.PermissionDenied":
            return "attachd denied access; only the daemon's own user may use it"
        default:
            return "attachd answered with an error: \(error)"
        }
    }
}
