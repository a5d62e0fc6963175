import Testing

@testable import AttachSystem
@testable import AttachSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// Everything that reads or changes NOTIFY_SOCKET, WATCHDOG_*, LISTEN_* or JOURNAL_STREAM lives
/// in this one serialized suite; no other test touches those variables.
@Suite(.serialized) struct SystemdTests {
    @Test func notifyReturnsFalseWithoutNotifySocket() throws {
        try Environment.unset("NOTIFY_SOCKET")
        #expect(Systemd.notify("READY=1") == false)
        #expect(Systemd.notify("FDSTORE=1", fds: []) == false)
    }

    @Test func notifyDeliversToTheNotifySocket() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("notify")
        let receiver = try Socket.bindUnixDatagram(path: path)
        defer { receiver.close() }
        try Environment.set("NOTIFY_SOCKET", path)
        defer { try? Environment.unset("NOTIFY_SOCKET") }

        #expect(Systemd.notify("READY=1\nSTATUS=listening"))
        try expectReadable(receiver)
        #expect(try receiver.read(upTo: 4096) == Array("READY=1\nSTATUS=listening".utf8))

        let (a, b) = try Socket.pair()
        defer {
            a.close()
            b.close()
        }
        #expect(Systemd.notify("FDSTORE=1\nFDNAME=control", fds: [a]))
        try expectReadable(receiver)
        // read(2) drops the SCM_RIGHTS part (the kernel closes the passed copy).
        #expect(try receiver.read(upTo: 4096) == Array("FDSTORE=1\nFDNAME=control".utf8))
        #expect(Environment.get("NOTIFY_SOCKET") == path)
    }

    @Test func watchdogIntervalComesFromTheEnvironment() throws {
        try Environment.unset("WATCHDOG_USEC")
        try Environment.unset("WATCHDOG_PID")
        #expect(Systemd.watchdogMicroseconds() == nil)
        try Environment.set("WATCHDOG_USEC", "3000000")
        try Environment.set("WATCHDOG_PID", String(getpid()))
        defer {
            try? Environment.unset("WATCHDOG_USEC")
            try? Environment.unset("WATCHDOG_PID")
        }
        #expect(Systemd.watchdogMicroseconds() == 3_000_000)
        try Environment.set("WATCHDOG_PID", "1")
        #expect(Systemd.watchdogMicroseconds() == nil)
    }

    @Test func listenFDsIsEmptyOutsideSocketActivation() throws {
        try Environment.unset("LISTEN_FDS")
        #expect(Systemd.listenFDs().isEmpty)
        // Meant for another process: ignored, and the variables are consumed.
        try Environment.set("LISTEN_PID", "1")
        try Environment.set("LISTEN_FDS", "1")
        #expect(Systemd.listenFDs().isEmpty)
        #expect(Environment.get("LISTEN_FDS") == nil)
    }

    @Test func stderrIsJournalOnlyWhenJournalStreamMatchesStderr() throws {
        try Environment.unset("JOURNAL_STREAM")
        #expect(!Systemd.stderrIsJournal)
        try Environment.set("JOURNAL_STREAM", "1:2")
        #expect(!Systemd.stderrIsJournal)
        var info = stat()
        #expect(fstat(2, &info) == 0)
        try Environment.set("JOURNAL_STREAM", "\(info.st_dev):\(info.st_ino)")
        defer { try? Environment.unset("JOURNAL_STREAM") }
        #expect(Systemd.stderrIsJournal)
    }

    @Test func environmentRejectsBadNames() {
        #expect(throws: Errno.invalidArgument) { try Environment.set("A=B", "x") }
        #expect(Environment.get("ATTACHSYSTEM_SURELY_UNSET") == nil)
    }
}
