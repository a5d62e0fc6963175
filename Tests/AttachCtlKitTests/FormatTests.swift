import AttachCtlKit
import AttachProtocol
import Testing

@Suite("Format, without Foundation")
struct FormatTests {
    @Test(
        "fixed gives printf's %.Nf for ordinary values",
        arguments: [
            (0.0, 1, "0.0"), (3.25, 1, "3.2"), (3.26, 1, "3.3"), (9.96, 1, "10.0"), (-1.5, 1, "-1.5"),
            (120.04, 1, "120.0"), (2.5, 0, "2"), (3.5, 0, "4"), (0.125, 2, "0.12"), (-0.04, 1, "0.0"),
        ])
    func fixed(value: Double, decimals: Int, expected: String) {
        #expect(Format.fixed(value, decimals: decimals) == expected)
    }

    @Test("the sessions table says when attach_ready found no Python for debugpy's adapter")
    func noAdapterPython() {
        var session = SessionInfo(
            id: "b-1", project: "b", state: .ended, origin: .lines, debugHost: "127.0.0.1",
            debugPort: 5678, status: "debug server did not start", startedAt: 10,
            endReason: "host closed the rendezvous connection")
        session.executable = ""
        session.python = ""
        #expect(
            Format.sessionTable([session], now: 20).contains(
                "ended (debug server did not start); no Python for debugpy's adapter (sys.executable None)"))
        // An interpreter was found: nothing to say in the table (doctor has it).
        session.python = "/usr/bin/python3.11"
        #expect(!Format.sessionTable([session], now: 20).contains("debugpy"))
    }

    @Test("seconds, elapsed and age read as before")
    func durations() {
        #expect(Format.seconds(120) == "120 s")
        #expect(Format.seconds(0.25) == "0.2 s")
        #expect(Format.seconds(1.5) == "1.5 s")
        #expect(Format.elapsed(3.21) == "3.2 s")
        #expect(Format.elapsed(-1) == "0.0 s")
        #expect(Format.age(4.2) == "4.2s")
        #expect(Format.age(17.9) == "17s")
        #expect(Format.age(192) == "3m12s")
        #expect(Format.age(2 * 3600 + 5 * 60 + 59) == "2h05m")
        #expect(Format.age(3 * 86400 + 4 * 3600) == "3d04h")
        #expect(Format.age(.nan) == "0.0s")
    }

    @Test("time of day from epoch seconds and an offset, with milliseconds")
    func timeOfDay() {
        // 2026-11-25T14:02:03.123Z
        let t = 1_795_615_323.123
        #expect(Format.timeOfDay(t, utcOffset: 0) == "14:02:03.123")
        #expect(Format.timeOfDay(t, utcOffset: 3600) == "15:02:03.123")
        #expect(Format.timeOfDay(t, utcOffset: -15 * 3600) == "23:02:03.123")
        #expect(Format.timeOfDay(0.5, utcOffset: -1) == "23:59:59.500")
        #expect(Format.timeOfDay(.infinity, utcOffset: 0) == "--:--:--.---")
    }

    @Test("endpoint brackets IPv6 hosts")
    func endpoint() {
        #expect(Format.endpoint(host: "127.0.0.1", port: 5678) == "127.0.0.1:5678")
        #expect(Format.endpoint(host: "::1", port: 5678) == "[::1]:5678")
    }

    @Test("event lines pad the kind to 14 and no longer cut sessionAttached")
    func eventLine() {
        let session = SessionInfo(
            id: "7", project: "p", state: .attached, origin: .lines, debugHost: "127.0.0.1",
            debugPort: 5678, startedAt: 0)
        let line = Format.eventLine(BrokerEvent(kind: .sessionAttached, session: session), at: 0)
        #expect(line.split(separator: " ", omittingEmptySubsequences: true)[1] == "sessionAttached")
        let started = Format.eventLine(BrokerEvent(kind: .sessionStarted, session: session), at: 0)
        #expect(started.contains("  sessionStarted  p  7  attached"))
    }
}
