import AttachSystem
import AttachSystemd
import Logging

/// The daemon's swift-log handler.
///
/// When stderr is the journal (`journal: true`, see `Systemd.stderrIsJournal`), every message
/// goes to the journal as a structured entry through sd_journal_sendv(3) (`JournalEntry` lists
/// the fields); if that fails (no journal socket), that message is written to stderr with `<N>`
/// priority prefixes instead (sd-daemon(3)), which journald reads from the stream. Otherwise
/// (run by hand) each message is a readable stderr line with a timestamp.
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
        let details = merged.mapValues { "\($0)" }
        let message = "\(event.message)"
        if journal {
            let fields = JournalEntry.fields(
                priority: Self.priority(event.level), message: message, metadata: details,
                file: event.file, function: event.function, line: event.line)
            do {
                try Journal.send(fields)
                return
            } catch {
                // Fall through: journald still reads the stream it gave us as stderr.
            }
        }
        let text = JournalEntry.text(message: message, metadata: details)
        let line =
            journal
            ? Self.prefixedLines(text, level: event.level) : Self.plainLine(text, level: event.level, label: label)
        try? FileDescriptor.standardError.writeAll(Array(line.utf8))
    }

    /// `<N>text\n` for every line of `text`: journald reads the priority per line.
    static func prefixedLines(_ text: String, level: Logger.Level) -> String {
        let prefix = "<\(priority(level))>"
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { prefix + $0 + "\n" }.joined()
    }

    /// `TIMESTAMP LEVEL LABEL: text\n`, for a terminal or a plain file.
    static func plainLine(_ text: String, level: Logger.Level, label: String) -> String {
        "\(timestamp()) \(level) \(label): \(text)\n"
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
