import AttachProtocol
import Foundation

/// Aligned plain-text tables for humans.
public enum Table {
    /// Renders `headers` and `rows` as columns separated by two spaces, each as wide as its
    /// widest cell (counted in characters); the last column is not padded, and no line has
    /// trailing spaces. Missing cells are empty; newlines in cells become spaces. With no
    /// headers, only the rows are rendered.
    public static func render(headers: [String], rows: [[String]]) -> String {
        let columns = max(headers.count, rows.map(\.count).max() ?? 0)
        func cells(_ row: [String]) -> [String] {
            (0..<columns).map { $0 < row.count ? clean(row[$0]) : "" }
        }
        let all = (headers.isEmpty ? [] : [cells(headers)]) + rows.map(cells)
        var widths = [Int](repeating: 0, count: columns)
        for row in all {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        var lines: [String] = []
        for row in all {
            var line = ""
            for (index, cell) in row.enumerated() {
                if index > 0 { line += "  " }
                line += cell
                if index < columns - 1 {
                    line += String(repeating: " ", count: widths[index] - cell.count)
                }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    private static func clean(_ cell: String) -> String {
        String(cell.map { $0.isNewline || $0 == "\t" ? " " : $0 })
    }
}

/// Small formatting helpers shared by attachctl's commands.
public enum Format {
    /// `host:port`, with IPv6 hosts in brackets (`[::1]:5678`).
    public static func endpoint(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Seconds for humans: `0.3 s`, `2 s`, `120 s`.
    public static func seconds(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e9 { return "\(Int(value)) s" }
        return String(format: "%.1f s", value)
    }

    /// Elapsed time for a progress line: `3.2 s` (one decimal).
    public static func elapsed(_ value: Double) -> String {
        String(format: "%.1f s", max(0, value))
    }

    /// An age for tables: `4.2s`, `17s`, `3m12s`, `2h05m`, `3d04h`.
    public static func age(_ value: Double) -> String {
        let v = max(0, value)
        if v < 10 { return String(format: "%.1fs", v) }
        let total = Int(v)
        if total < 60 { return "\(total)s" }
        if total < 3600 { return String(format: "%dm%02ds", total / 60, total % 60) }
        if total < 86400 { return String(format: "%dh%02dm", total / 3600, (total % 3600) / 60) }
        return String(format: "%dd%02dh", total / 86400, (total % 86400) / 3600)
    }

    /// A wall-clock time of day (local time) with milliseconds: `14:02:03.123`.
    public static func timeOfDay(_ epochSeconds: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "HH:mm:ss.SSS"
        return formatter.string(from: Date(timeIntervalSince1970: epochSeconds))
    }

    /// The table of `attachctl list`.
    public static func projectTable(_ projects: [ProjectInfo]) -> String {
        let rows = projects.map { project -> [String] in
            var rendezvous: [String] = []
            if let port = project.rendezvousPort { rendezvous.append("tcp \(port)") }
            rendezvous.append(project.rendezvousSocket)
            var state: String
            if let error = project.error { state = "error: \(error)" } else { state = "listening" }
            if project.allowRemote, project.rendezvousPort != nil {
                state += " (warning: TCP rendezvous open to the network, --allow-remote)"
            }
            return [project.name,
                    endpoint(host: project.debugHost, port: project.debugPort),
                    rendezvous.joined(separator: " / "),
                    seconds(project.readyTimeout),
                    state]
        }
        return render(headers: ["NAME", "DEBUG", "RENDEZVOUS", "TIMEOUT", "STATE/ERROR"], rows: rows)
    }

    /// The table of `attachctl sessions`; ages are measured against `now` (epoch seconds).
    public static func sessionTable(_ sessions: [SessionInfo], now: Double) -> String {
        let rows = sessions.map { session -> [String] in
            var state = session.state.rawValue
            if let status = session.status, !status.isEmpty { state += " (\(status))" }
            return [session.id,
                    session.project,
                    state,
                    session.origin.rawValue,
                    endpoint(host: session.debugHost, port: session.debugPort),
                    session.pid.map(String.init) ?? "-",
                    age(now - session.startedAt),
                    session.endReason ?? (session.state == .ended ? "?" : "-")]
        }
        return render(headers: ["ID", "PROJECT", "STATE", "ORIGIN", "DEBUG", "PID", "AGE", "END REASON"], rows: rows)
    }

    private static func render(headers: [String], rows: [[String]]) -> String {
        Table.render(headers: headers, rows: rows)
    }

    /// One line of `attachctl watch`: time, kind, project, session id, state.
    public static func eventLine(_ event: BrokerEvent, at epochSeconds: Double) -> String {
        let kind = event.kind.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)
        let project = (event.projectName ?? "-")
        var parts = [timeOfDay(epochSeconds), kind, project]
        if let session = event.session {
            parts.append(session.id)
            parts.append(session.state.rawValue)
            if session.state == .ready {
                parts.append(endpoint(host: session.debugHost, port: session.debugPort))
            }
            if let reason = session.endReason { parts.append("(\(reason))") }
        } else if let project = event.project {
            parts.append("debug \(endpoint(host: project.debugHost, port: project.debugPort))")
            if let error = project.error { parts.append("error: \(error)") }
        }
        return parts.joined(separator: "  ")
    }
}

/// JSON text for `--json` output.
public enum JSONOutput {
    /// `value` as pretty-printed JSON with sorted keys (no trailing newline).
    public static func string(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    /// `value` as one line of JSON (for JSON-lines streams).
    public static func line(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    /// An Encodable value as JSON.
    public static func value<T: Encodable>(_ value: T) -> JSONValue {
        VarlinkCodec().value(value)
    }
}
