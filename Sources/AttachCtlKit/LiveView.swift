import AttachProtocol

/// What `attachctl watch` shows on a terminal: one line per session, redrawn in place on each
/// event. Pure: it is fed sessions and events and gives text; the command writes it.
public struct LiveView: Sendable {
    /// The project shown, nil for all.
    public let project: String?
    /// How many sessions are shown at most (the most recently started).
    public var limit: Int
    /// Sessions by id, in the order they were first seen.
    private var sessions: [SessionInfo] = []
    /// The last event, for the status line.
    private var lastEvent: (kind: BrokerEvent.Kind, at: Double)?

    public init(project: String?, limit: Int = 40) {
        self.project = project
        self.limit = limit
    }

    /// Takes in sessions from `ListSessions` (a session already known is replaced).
    public mutating func load(_ list: [SessionInfo]) {
        for session in list.sorted(by: { $0.startedAt < $1.startedAt }) { update(session) }
    }

    /// Applies one event: a session event replaces (or adds) its session; a removed project's
    /// sessions leave the view.
    public mutating func apply(_ event: BrokerEvent, at epochSeconds: Double) {
        if let project, event.projectName != project { return }
        lastEvent = (event.kind, epochSeconds)
        if let session = event.session {
            update(session)
        } else if event.kind == .projectRemoved, let name = event.projectName {
            sessions.removeAll { $0.project == name }
        }
    }

    private mutating func update(_ session: SessionInfo) {
        if let project, session.project != project { return }
        if let index = sessions.firstIndex(where: { $0.id == session.id }) {
            sessions[index] = session
        } else {
            sessions.append(session)
        }
    }

    /// The lines of the view at `now` (epoch seconds): a table of the sessions, or a line saying
    /// there are none, then a status line naming the last event.
    public func lines(now: Double) -> [String] {
        let shown = sessions.suffix(limit)
        var lines: [String]
        if shown.isEmpty {
            lines = ["no sessions\(project.map { " of '\($0)'" } ?? ""); a host appears here once it announces itself"]
        } else {
            let rows = shown.map { session -> [String] in
                var state = session.state.rawValue
                if let status = session.status, !status.isEmpty { state += " (\(status))" }
                return [
                    session.id, session.project, state,
                    Format.endpoint(host: session.debugHost, port: session.debugPort),
                    session.pid.map(String.init) ?? "-",
                    Format.age((session.endedAt ?? now) - session.startedAt),
                    session.endReason ?? "-",
                ]
            }
            lines = Table.render(headers: ["ID", "PROJECT", "STATE", "DEBUG", "PID", "AGE", "END REASON"], rows: rows)
                .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if sessions.count > shown.count {
                lines.append("(\(sessions.count - shown.count) older sessions not shown)")
            }
        }
        let last = lastEvent.map { "last event: \($0.kind.rawValue) at \(Format.timeOfDay($0.at))" } ?? "no events yet"
        lines.append("watching \(project.map { "'\($0)'" } ?? "all projects") · \(last) · Ctrl-C to stop")
        return lines
    }

    /// The bytes that replace a frame of `previousLineCount` lines (just drawn, the cursor on the
    /// line below it) with `lines`: cursor up (CSI n A), each line erased (CSI 2K) and written,
    /// cut to `width - 1` characters so none wraps, then the rest of the screen erased (CSI J).
    public static func frame(_ lines: [String], replacing previousLineCount: Int, width: Int?) -> String {
        var out = previousLineCount > 0 ? "\u{1B}[\(previousLineCount)A\r" : "\r"
        for line in lines {
            out += "\u{1B}[2K"
            if let width, width > 1, line.count > width - 1 {
                out += String(line.prefix(width - 1))
            } else {
                out += line
            }
            out += "\n"
        }
        return out + "\u{1B}[J"
    }
}
