import Testing

@testable import AttachSystem

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct InstanceLockTests {
    @Test func aSecondHolderIsRefusedAndToldWhoHoldsIt() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("attachd.lock")
        let first = try InstanceLock.acquire(path, controlSocket: "/run/first.sock")
        defer { first.fd.close() }
        // flock locks belong to the open file description: a second open is a second holder,
        // even in the same process.
        #expect(
            throws: InstanceLock.Failure.held(
                by: .init(pid: ProcessHandle.currentPID, controlSocket: "/run/first.sock"))
        ) {
            _ = try InstanceLock.acquire(path, controlSocket: "/run/second.sock")
        }
        #expect(Files.permissions(path) == 0o600)
    }

    @Test func theLockIsFreeOnceItsHolderCloses() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("attachd.lock")
        let first = try InstanceLock.acquire(path, controlSocket: "/run/a-much-longer-first-socket-path.sock")
        first.fd.close()
        let second = try InstanceLock.acquire(path, controlSocket: "/run/b.sock")
        defer { second.fd.close() }
        // The file was rewritten, not appended to.
        #expect(InstanceLock.holder(path) == .init(pid: ProcessHandle.currentPID, controlSocket: "/run/b.sock"))
    }

    @Test func aHolderWithoutWordsIsStillRefused() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("attachd.lock")
        let first = try InstanceLock.acquire(path, controlSocket: "/run/a.sock")
        defer { first.fd.close() }
        try Kernel.ftruncate(first.fd.rawValue, 0)
        #expect(throws: InstanceLock.Failure.held(by: .init(pid: nil, controlSocket: nil))) {
            _ = try InstanceLock.acquire(path, controlSocket: "/run/b.sock")
        }
    }

    @Test func unlinkRemovesOnlyTheFileItRecorded() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("a.sock")
        try Files.writeAtomically([1], to: path)
        let recorded = FileIdentity.of(path)
        #expect(recorded != nil)
        // Another process replaced it: a new file at the same path.
        try Files.writeAtomically([2], to: path)
        #expect(!Files.unlink(path, ifStill: recorded))
        #expect(Files.exists(path))
        #expect(!Files.unlink(path, ifStill: nil))
        #expect(Files.unlink(path, ifStill: FileIdentity.of(path)))
        #expect(!Files.exists(path))
        #expect(!Files.unlink(path, ifStill: recorded))
    }
}
