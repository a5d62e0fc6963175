import AttachSystem
import Logging

/// Writes log lines to stderr: with `<N>` priority prefixes when stderr is the journal
/// (sd-daemon(3)), otherwise as a readable line with a timestamp.
public struct DaemonLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let journal: Bool

    public init(label: String, level: Logger.Level, journal: Bool) {
        self.label = label
        self.logLevel = level
        self.journal = journal
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let details = merged.keys.sorted().map { "\($0)=\(merged[$0]!)" }.joined(separator: " ")
        let text = details.isEmpty ? "\(event.message)" : "\(event.message) \(details)"
        let line: String
        if journal {
            // journald reads the priority per line: every line of a message needs it.
            let prefix = "<\(Self.priority(event.level))>"
            line = text.split(separator: "\n", omittingEmptySubsequences: false)
                .map { prefix + $0 + "\n" }.joined()
        } else {
            line = "\(Self.timestamp()) \(event.level) \(label): \(text)\n"
        }
        try? FileDescriptor.standardError.writeAll(Array(line.utf8))
    }

    /// syslog priorities as sd-daemon(3) defines them.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    static func timestamp() -> String {
        UTCTimestamp.iso8601(Clock.wallSeconds())
    }
}
