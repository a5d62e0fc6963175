import AttachProtocol
import AttachSystem

/// Small formatting helpers shared by attachctl's commands.
public enum Format {
    /// `host:port`, with IPv6 hosts in brackets (`[::1]:5678`).
    public static func endpoint(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// A debug endpoint whose port may not be known yet (each host says its own).
    public static func endpoint(host: String, port: Int?) -> String {
        guard let port else { return "(port of the host's choice)" }
        return endpoint(host: host, port: port)
    }

    /// What the IDE connects to for a project: its attach port, else its debug endpoint.
    public static func ideEndpoint(_ project: ProjectInfo) -> String {
        if let attach = project.attachPort { return endpoint(host: "127.0.0.1", port: attach) }
        return endpoint(host: project.debugHost, port: project.debugPort)
    }

    /// Seconds for humans: `0.3 s`, `2 s`, `120 s`.
    public static func seconds(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e9 { return "\(Int(value)) s" }
        return fixed(value, decimals: 1) + " s"
    }

    /// Elapsed time for a progress line: `3.2 s` (one decimal).
    public static func elapsed(_ value: Double) -> String {
        fixed(max(0, value), decimals: 1) + " s"
    }

    /// An age for tables: `4.2s`, `17s`, `3m12s`, `2h05m`, `3d04h`.
    public static func age(_ value: Double) -> String {
        let v = value.isNaN ? 0 : min(max(0, value), 1e15)
        if v < 10 { return fixed(v, decimals: 1) + "s" }
        let total = Int(v)
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(pad(total % 60))s" }
        if total < 86400 { return "\(total / 3600)h\(pad((total % 3600) / 60))m" }
        return "\(total / 86400)d\(pad((total % 86400) / 3600))h"
    }

    /// A wall-clock time of day (local time, as localtime(3) has it) with milliseconds:
    /// `14:02:03.123`.
    public static func timeOfDay(_ epochSeconds: Double) -> String {
        timeOfDay(epochSeconds, utcOffset: LocalTime.utcOffsetSeconds(at: epochSeconds))
    }

    /// The time of day `utcOffset` seconds ahead of UTC at `epochSeconds`: `14:02:03.123`.
    public static func timeOfDay(_ epochSeconds: Double, utcOffset: Int) -> String {
        guard epochSeconds.isFinite, abs(epochSeconds) < 1e15 else { return "--:--:--.---" }
        let millis = Int((epochSeconds * 1000).rounded(.down)) + utcOffset * 1000
        let ofDay = ((millis % 86_400_000) + 86_400_000) % 86_400_000
        let seconds = ofDay / 1000
        return "\(pad(seconds / 3600)):\(pad(seconds % 3600 / 60)):\(pad(seconds % 60)).\(pad(ofDay % 1000, width: 3))"
    }

    /// `value` with exactly `decimals` digits after the point, as printf's `%.Nf` (ties to
    /// even), for magnitudes below 10^15.
    public static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        var scale = 1.0
        for _ in 0..<max(0, decimals) { scale *= 10 }
        let scaled = (abs(value) * scale).rounded(.toNearestOrEven)
        guard scaled < 9e15 else { return String(value) }
        let units = Int(scaled)
        let factor = Int(scale)
        var text = (value < 0 && units != 0 ? "-" : "") + String(units / factor)
        if decimals > 0 { text += "." + pad(units % factor, width: decimals) }
        return text
    }

    /// `n` with leading zeros to `width` digits.
    static func pad(_ n: Int, width: Int = 2) -> String {
        let digits = String(n)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// The table of `attachctl list`.
    public static func projectTable(_ projects: [ProjectInfo]) -> String {
        let rows = projects.map { project -> [String] in
            var rendezvous: [String] = []
            if let port = project.rendezvousPort { rendezvous.append("tcp \(port)") }
            rendezvous.append(project.rendezvousSocket)
            var state: String
            if let error = project.error { state = "error: \(error)" } else { state = "listening" }
            if let remote = project.remote {
                state += "; remote \(remote.destination): \(remote.state.rawValue)"
                if let error = remote.error { state += ": error: \(error)" }
            }
            if let follow = project.follow { state += follow ? "; follows hosts" : "; follow off" }
            if project.allowRemote, project.rendezvousPort != nil {
                state += " (warning: TCP rendezvous open to the network, --allow-remote)"
            }
            var debug = endpoint(host: project.debugHost, port: project.debugPort)
            if let attach = project.attachPort {
                debug =
                    "attach " + endpoint(host: "127.0.0.1", port: attach) + (project.debugPort.map { " → \($0)" } ?? "")
            }
            return [
                project.name,
                debug,
                rendezvous.joined(separator: " / "),
                seconds(project.readyTimeout),
                state,
            ]
        }
        return render(headers: ["NAME", "DEBUG", "RENDEZVOUS", "TIMEOUT", "STATE/ERROR"], rows: rows)
    }

    /// The widest an END REASON cell of `attachctl sessions` gets (and the host's STATUS text
    /// in STATE, 40); the whole text is in `--json` and `attachctl doctor`.
    public static let sessionCellWidth = 60

    /// The sessions `attachctl sessions` shows, in its order: the live ones first (oldest
    /// first), then the ended ones, all with `all`, else only the `endedShown` that ended last;
    /// `hidden` counts those left out.
    public static func sessionsToShow(_ sessions: [SessionInfo], all: Bool, endedShown: Int = 5) -> (
        shown: [SessionInfo], hidden: Int
    ) {
        let live = sessions.filter { $0.state != .ended }.sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }
        let ended = sessions.filter { $0.state == .ended }
            .sorted { ($0.endedAt ?? $0.startedAt, $0.id) < ($1.endedAt ?? $1.startedAt, $1.id) }
        let kept = all ? ended : Array(ended.suffix(endedShown))
        return (live + kept, ended.count - kept.count)
    }

    /// `text` cut to `width` characters, the cut marked with "…".
    public static func bounded(_ text: String, _ width: Int = sessionCellWidth) -> String {
        text.count <= width ? text : String(text.prefix(width - 1)) + "…"
    }

    /// What is wrong with a ready session the IDE will not reach: its debug server listens on
    /// another port than the project's, which the IDE is told (no attach port relays it).
    public static func portMismatch(_ session: SessionInfo) -> String? {
        guard let (listens, expected) = session.debugPortMismatch else { return nil }
        return "the debug server listens on \(listens), but the IDE is told the project's port \(expected)"
    }

    /// How to mend ``portMismatch``.
    public static func portMismatchFix(_ session: SessionInfo) -> String {
        guard let (listens, expected) = session.debugPortMismatch else { return "" }
        return
            "start the host's debug server on port \(expected) (attach_ready.start(project=\"\(session.project)\", port=\(expected))), or re-add the project with --debug-port \(listens), or give it an attach port (`attachctl remove \(session.project)`, then `attachctl add \(session.project) --attach-port PORT`): attachd then relays the IDE to whichever port the host listens on"
    }

    /// The table of `attachctl sessions`; ages are measured against `now` (epoch seconds).
    public static func sessionTable(_ sessions: [SessionInfo], now: Double) -> String {
        let rows = sessions.map { session -> [String] in
            var state = session.state.rawValue
            if let mismatch = portMismatch(session), session.state != .ended { state += ": \(mismatch)" }
            // The host's STATUS= is its own words, of any length: a few are enough here.
            if let status = session.status, !status.isEmpty { state += " (\(bounded(status, 40)))" }
            if session.state == .pending || session.state == .unreachable, let problem = session.problem {
                state += ": \(problem)"
            }
            if session.python == "", !session.state.isListening, session.readyAt == nil {
                // attach_ready found no interpreter for debugpy's adapter: why it never listens.
                state +=
                    "; no Python for debugpy's adapter (sys.executable \(session.executable.map { $0.isEmpty ? "None" : $0 } ?? "?"))"
            }
            if let relays = session.relays, !relays.isEmpty { state += " [\(relays.count) IDE]" }
            return [
                session.id,
                session.project,
                state,
                session.remote.map { "remote \($0)" } ?? session.origin.rawValue,
                endpoint(host: session.debugHost, port: session.debugPort),
                session.pid.map(String.init) ?? "-",
                age(now - session.startedAt),
                bounded(session.endReason ?? (session.state == .ended ? "?" : "-")),
            ]
        }
        let table = render(
            headers: ["ID", "PROJECT", "STATE", "ORIGIN", "DEBUG", "PID", "AGE", "END REASON"], rows: rows)
        let relays = sessions.flatMap { $0.relays ?? [] }
        guard !relays.isEmpty else { return table }
        let relayRows = relays.map { relay in
            [
                "\(relay.id)", relay.peer, relay.session ?? "(held)", bytes(relay.bytesToHost), bytes(relay.bytesToIDE),
                age(now - relay.startedAt),
            ]
        }
        return table + "\n\n"
            + render(headers: ["RELAY", "IDE", "SESSION", "TO HOST", "TO IDE", "AGE"], rows: relayRows)
    }

    /// A byte count for people: `512 B`, `3.4 KiB`, `12 MiB`.
    public static func bytes(_ count: Int) -> String {
        if count < 1024 { return "\(count) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(count) / 1024
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let tenths = Int((value * 10).rounded())
        return tenths % 10 == 0 || value >= 100
            ? "\(Int(value.rounded())) \(units[unit])" : "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    private static func render(headers: [String], rows: [[String]]) -> String {
        Table.render(headers: headers, rows: rows)
    }

    /// One line of `attachctl watch`: time, kind, project, session id, state.
    public static func eventLine(_ event: BrokerEvent, at epochSeconds: Double) -> String {
        // Padded to 14 as ever; the one longer kind (sessionAttached) is no longer cut.
        let kind = event.kind.rawValue + String(repeating: " ", count: max(0, 14 - event.kind.rawValue.count))
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
            if let attach = project.attachPort { parts.append("attach \(endpoint(host: "127.0.0.1", port: attach))") }
            if let error = project.error { parts.append("error: \(error)") }
        } else if let relay = event.relay {
            parts.append("relay \(relay.id)")
            parts.append("\(relay.peer) → \(relay.session ?? "(held)")")
            if event.kind == .relayEnded {
                parts.append("\(bytes(relay.bytesToHost)) to host, \(bytes(relay.bytesToIDE)) to IDE")
                if let reason = relay.endReason { parts.append("(\(reason))") }
            }
        }
        return parts.joined(separator: "  ")
    }
}
