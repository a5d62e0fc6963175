import AttachSystem
import AttachSystemd
import Testing

@testable import AttachDaemon

@Suite("journal entries from log events")
struct JournalEntryTests {
    @Test(
        "an event about a project becomes MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, CODE_* and ATTACHD_* fields, in that order"
    )
    func projectEvent() {
        let fields = JournalEntry.fields(
            priority: 3,
            message: "rendezvous listener not up; will retry",
            metadata: [
                "project": "maxtools", "error": "tcp port 4000: EADDRINUSE", "session": "7", "pid": "4242",
                "port": "5678",
            ],
            file: "AttachDaemon/Daemon+Rendezvous.swift", function: "openListeners(_:)", line: 32)
        #expect(
            fields == [
                Journal.Field(
                    "MESSAGE",
                    "rendezvous listener not up; will retry error=tcp port 4000: EADDRINUSE pid=4242 port=5678 project=maxtools session=7"
                ),
                Journal.Field("PRIORITY", "3"),
                Journal.Field("SYSLOG_IDENTIFIER", "attachd"),
                Journal.Field("CODE_FILE", "AttachDaemon/Daemon+Rendezvous.swift"),
                Journal.Field("CODE_LINE", "32"),
                Journal.Field("CODE_FUNC", "openListeners(_:)"),
                Journal.Field("ATTACHD_ERROR", "tcp port 4000: EADDRINUSE"),
                Journal.Field("ATTACHD_PID", "4242"),
                Journal.Field("ATTACHD_PORT", "5678"),
                Journal.Field("ATTACHD_PROJECT", "maxtools"),
                Journal.Field("ATTACHD_SESSION", "7"),
            ])
        #expect(fields.allSatisfy { Journal.isValidFieldName($0.name) })
    }

    @Test("without metadata MESSAGE is the message alone and no ATTACHD_ field is sent")
    func noMetadata() {
        let fields = JournalEntry.fields(
            priority: 6, message: "stopping", metadata: [:], file: "F.swift", function: "f()", line: 1)
        #expect(fields.first == Journal.Field("MESSAGE", "stopping"))
        #expect(fields.count == 6)
        #expect(!fields.contains { $0.name.hasPrefix("ATTACHD_") })
    }

    @Test("multi-line values are kept whole: libsystemd sends them in the binary form")
    func multiLine() {
        let fields = JournalEntry.fields(
            priority: 6, message: "ready", metadata: ["socket": "/tmp/a\nb/control.sock"],
            file: "F.swift", function: "f()", line: 9)
        #expect(fields.contains(Journal.Field("ATTACHD_SOCKET", "/tmp/a\nb/control.sock")))
        #expect(fields[0] == Journal.Field("MESSAGE", "ready socket=/tmp/a\nb/control.sock"))
    }

    @Test(
        "metadata keys become valid field names",
        arguments: [
            ("project", "ATTACHD_PROJECT"),
            ("session", "ATTACHD_SESSION"),
            ("pid", "ATTACHD_PID"),
            ("port", "ATTACHD_PORT"),
            ("keptAs", "ATTACHD_KEPT_AS"),
            ("fd", "ATTACHD_FD"),
            ("already_SNAKE", "ATTACHD_ALREADY_SNAKE"),
            ("with-dash.and space", "ATTACHD_WITH_DASH_AND_SPACE"),
            ("ünï", "ATTACHD__N_"),
            ("v2Port", "ATTACHD_V2_PORT"),
            ("", "ATTACHD_"),
        ])
    func names(key: String, name: String) {
        #expect(JournalEntry.fieldName(forMetadataKey: key) == name)
        #expect(Journal.isValidFieldName(name))
    }

    @Test("a very long key is cut to the journal's 64 characters")
    func longKey() {
        let name = JournalEntry.fieldName(forMetadataKey: String(repeating: "a", count: 100))
        #expect(name.utf8.count == 64)
        #expect(Journal.isValidFieldName(name))
    }

    @Test("the stderr fallback prefixes every line with the priority")
    func prefixedLines() {
        #expect(DaemonLogHandler.prefixedLines("one\ntwo", level: .warning) == "<4>one\n<4>two\n")
        #expect(DaemonLogHandler.prefixedLines("ready", level: .info) == "<6>ready\n")
    }
}
