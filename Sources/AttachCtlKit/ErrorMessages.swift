import AttachClient
import AttachProtocol
import AttachSystem

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
                return
                    "attachd went away before it answered; is it restarting? `attachctl status` tells whether it is back, then retry"
            }
        case .deadlineExceeded(let seconds):
            return
                "attachd did not answer within \(Format.seconds(seconds)); it may be overloaded or stuck (see `journalctl --user -u attachd`)"
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
            return
                "cannot connect to attachd at \(path) (permission denied); the control socket belongs to another user: run attachctl as the daemon's user, or point --socket / ATTACHD_SOCKET at your own daemon"
        case .nameTooLong:
            return
                "cannot connect to attachd at \(path): the path is too long for a Unix socket (at most 107 bytes); use a shorter --socket path"
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
        switch error.knownName {
        case .projectNotFound:
            let name = s("name")
            return
                "no project named '\(name)'; see `attachctl list` or add it with `attachctl add \(name) --debug-port N`"
        case .projectExists:
            let name = s("name")
            return
                "a project named '\(name)' already exists; see it with `attachctl list`, or remove it first with `attachctl remove \(name)`"
        case .invalidProjectName:
            return
                "invalid project name '\(s("name"))': \(s("reason")); use 1-\(ProjectName.maxLength) characters of A-Z a-z 0-9 . _ -"
        case .invalidPort:
            return "invalid port \(n("port")): use a port number 1-65535"
        case .sessionNotFound:
            return "no session with id '\(s("id"))'; see `attachctl sessions`"
        case .timeout:
            let project = s("project")
            let seconds = p["seconds"]?.doubleValue.map(Format.seconds) ?? "the timeout"
            return
                "no session of '\(project)' became ready within \(seconds); is the host application running, and does its bootstrap reach the rendezvous (see `attachctl list` and `attachctl sessions \(project)`)? give it longer with --timeout"
        case .addressInUse:
            if let role = p["role"]?.stringValue, let option = p["option"]?.stringValue {
                let whose = "project '\(s("project"))'"
                let what: String
                switch role {
                case "attach": what = "the attach port of \(whose) (attachd listens there for the IDE)"
                case "rendezvous": what = "the rendezvous port of \(whose) (attachd listens there for hosts)"
                default: what = "the debug port of \(whose) (its hosts' debug server listens there)"
                }
                return "port \(n("port")) is already \(what); choose another \(option)"
            }
            return
                "address \(s("address")) is already in use; choose another port (--debug-port / --rendezvous-port / --attach-port) or find what holds it with `ss -ltnp`"
        case .projectRemoved:
            let name = s("name")
            if case .waiting = context {
                return
                    "project '\(name)' was removed while waiting; add it again with `attachctl add \(name) --debug-port N`"
            }
            return "project '\(name)' was removed; add it again with `attachctl add \(name) --debug-port N`"
        case .notSaved:
            return
                "the change is made, but attachd could not save it to \(s("file")) (\(s("reason"))): it is lost when attachd stops; free space or fix the permissions there, then repeat the command"
        case .shuttingDown:
            return "attachd is shutting down; wait for it to come back (`attachctl status`) and retry"
        case .permissionDenied:
            return
                "attachd refused this user (uid \(n("uid"))): only the daemon's own user may use it; run attachctl as that user or start your own attachd"
        case .messageTooLarge:
            return
                "the request is larger than attachd accepts (\(n("limit")) bytes); shorten the values (e.g. --status)"
        case .tooManyConnections:
            return
                "attachd is serving as many control connections as it allows (\(n("limit"))); something is opening connections and not closing them (see `attachctl status` and `journalctl --user -u attachd`), or raise the limit with `attachd --max-connections N`; retry in a moment"
        case .methodNotFound, .methodNotImplemented, .interfaceNotFound:
            return
                "attachd does not know \(s(p["method"] != nil ? "method" : "interface")) (\(error.name)); attachd and attachctl are probably different versions: restart attachd after upgrading"
        case .invalidParameter:
            switch s("parameter") {
            case "readyTimeout":
                return
                    "attachd refused the ready timeout (--timeout): use more than 0 and at most 86400 seconds (a day)"
            case "debugHost":
                return
                    "attachd refused the debug host (--debug-host): give a numeric address such as 127.0.0.1 or ::1 (attachd does not resolve host names)"
            case "timeout":
                return "attachd refused the timeout (--timeout): use a finite number of seconds, 0 or more"
            default:
                return "attachd refused the parameter '\(s("parameter"))'; check the value given on the command line"
            }
        case .serviceAccessDenied:
            return "attachd denied access; only the daemon's own user may use it"
        case .expectedMore:
            return
                "attachd expected a streaming call (\(error.name)); attachd and attachctl are probably different versions"
        case nil:
            return "attachd answered with an error: \(error)"
        }
    }
}
