import AttachSystem
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ProcessHandleTests {
    @Test func pidfdBecomesReadableWhenTheChildExits() throws {
        let pid = spawn("/bin/sleep", ["0.2"])
        let pidfd = try ProcessHandle.pidfdOpen(pid)
        defer { pidfd.close() }
        #expect(ProcessHandle.isAlive(pid))
        try expectReadable(pidfd, within: 10)
        reap(pid)
        #expect(!ProcessHandle.isAlive(pid))
    }

    @Test func pidfdOfTrueIsReadableAfterExit() throws {
        let pid = spawn("/bin/true")
        let pidfd = try ProcessHandle.pidfdOpen(pid)
        defer { pidfd.close() }
        try expectReadable(pidfd, within: 10)
        let status = reap(pid)
        #expect(status == 0)
    }

    @Test func pidfdIsCloseOnExec() throws {
        let pidfd = try ProcessHandle.pidfdOpen(getpid())
        defer { pidfd.close() }
        #expect(fcntl(pidfd.rawValue, F_GETFD) & FD_CLOEXEC != 0)
        #expect(try pidfd.waitReadable(timeoutMilliseconds: 0) == false)
    }

    @Test func pidfdOfAReapedProcessIsNoSuchProcess() throws {
        let pid = spawn("/bin/true")
        reap(pid)
        #expect(throws: Errno.noSuchProcess) { try ProcessHandle.pidfdOpen(pid) }
    }

    @Test func currentProcessFacts() {
        #expect(ProcessHandle.currentPID == getpid())
        #expect(ProcessHandle.currentUID == geteuid())
        #expect(ProcessHandle.isAlive(getpid()))
        #expect(ProcessHandle.isAlive(1))  // init: alive even when kill(2) says EPERM
        #expect(!ProcessHandle.isAlive(0))
    }

    @Test func openFileLimitAndDescriptorCount() throws {
        let limit = ProcessHandle.openFileLimit()
        #expect(limit.soft > 0 && limit.soft <= limit.hard)
        #expect(try ProcessHandle.raiseOpenFileLimit(to: limit.soft) == limit.soft)
        #expect(ProcessHandle.openDescriptorCount() >= 3)
    }

    @Test func ignoringSIGPIPETurnsBrokenWritesIntoEPIPE() throws {
        ProcessHandle.ignoreSIGPIPE()
        let (a, b) = try Socket.pair()
        defer { a.close() }
        b.close()
        #expect(throws: Errno.brokenPipe) { try a.write([1][...]) }
    }
}
