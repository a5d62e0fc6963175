import Testing

@testable import AttachSystem

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct FilesTests {
    @Test func writeAtomicallyReplacesTheFileAndLeavesNoTemporary() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("projects.json")
        try Files.writeAtomically(Array("old".utf8), to: path)
        try Files.writeAtomically(Array("new contents".utf8), to: path)
        #expect(try Files.read(path) == Array("new contents".utf8))
        #expect(try Kernel.directoryEntries(directory.path) == ["projects.json"])
        #expect(Files.permissions(path) == 0o600)
    }

    @Test func writeAtomicallyUsesTheModeRegardlessOfUmask() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("shared")
        try Files.writeAtomically([1, 2, 3], to: path, mode: 0o644)
        #expect(Files.permissions(path) == 0o644)
    }

    @Test func writeAtomicallyIntoMissingDirectoryFailsWithoutLeftovers() {
        #expect(throws: Errno.noSuchFile) {
            try Files.writeAtomically([1], to: "/tmp/attachsystem-no-such-dir/file")
        }
    }

    @Test func readOfMissingFileIsNil() throws {
        #expect(try Files.read("/tmp/attachsystem-no-such-file") == nil)
    }

    @Test func readOfProcFileReturnsEverything() throws {
        let status = try #require(try Files.read("/proc/self/status"))
        #expect(String(decoding: status, as: UTF8.self).contains("Pid:"))
    }

    @Test func createDirectoriesMakesParentsWithTheMode() throws {
        let directory = TemporaryDirectory()
        let deep = directory.file("a/b/c")
        try Files.createDirectories(deep, mode: 0o700)
        try Files.createDirectories(deep, mode: 0o700)  // idempotent
        #expect(Files.isDirectory(deep))
        #expect(Files.permissions(directory.file("a")) == 0o700)
        #expect(Files.permissions(deep) == 0o700)
        #expect(Files.privateDirectoryProblem(deep) == nil)
    }

    @Test func createDirectoriesThroughAFileIsNotADirectory() throws {
        let directory = TemporaryDirectory()
        try Files.writeAtomically([], to: directory.file("plain"))
        #expect(throws: Errno.notDirectory) { try Files.createDirectories(directory.file("plain/sub")) }
    }

    @Test func privateDirectoryProblemFlagsWorldWritableDirectory() throws {
        let directory = TemporaryDirectory()
        let open = directory.file("open")
        try Files.createDirectories(open)
        try Files.chmod(open, 0o777)
        let problem = try #require(Files.privateDirectoryProblem(open))
        #expect(problem.contains("0777"))
        try Files.chmod(open, 0o755)
        #expect(Files.privateDirectoryProblem(open) == nil)
    }

    @Test func privateDirectoryProblemFlagsSymlinksFilesAndMissingPaths() throws {
        let directory = TemporaryDirectory()
        let link = directory.file("link")
        #expect(symlink(directory.path, link) == 0)
        #expect(Files.privateDirectoryProblem(link)?.contains("symbolic link") == true)
        try Files.writeAtomically([], to: directory.file("file"))
        #expect(Files.privateDirectoryProblem(directory.file("file"))?.contains("not a directory") == true)
        #expect(Files.privateDirectoryProblem(directory.file("missing")) != nil)
    }

    @Test func unlinkRenameExists() throws {
        let directory = TemporaryDirectory()
        let a = directory.file("a")
        let b = directory.file("b")
        try Files.writeAtomically([7], to: a)
        #expect(Files.exists(a))
        try Files.rename(a, b)
        #expect(!Files.exists(a) && Files.exists(b))
        try Files.unlink(b)
        #expect(!Files.exists(b))
        #expect(throws: Errno.noSuchFile) { try Files.unlink(b) }
    }
}

@Suite struct ClockTests {
    @Test func clocksMoveForward() {
        let start = Clock.monotonicSeconds()
        var spin = 0.0
        for i in 0..<100_000 { spin += Double(i) }
        #expect(spin > 0)
        #expect(Clock.monotonicSeconds() >= start)
        #expect(Clock.wallSeconds() > 1_700_000_000)
        #expect(Clock.processCPUSeconds() > 0)
        #expect(Clock.voluntaryContextSwitches() >= 0)
    }
}
