import AttachSystem
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ErrnoTests {
    @Test func descriptionIsStrerrorTextThenSymbolicName() {
        #expect(Errno.addressInUse.description == "Address already in use (EADDRINUSE)")
        #expect(Errno.noSuchFile.description == "No such file or directory (ENOENT)")
        #expect(Errno.wouldBlock.description == "Resource temporarily unavailable (EAGAIN)")
    }

    @Test func unknownValueStillDescribesItself() {
        let odd = Errno(rawValue: 9999)
        #expect(odd.symbolicName == nil)
        #expect(odd.description.contains("9999"))
    }

    @Test func namedConstantsCarryTheLinuxValues() {
        #expect(Errno.interrupted.rawValue == EINTR)
        #expect(Errno.wouldBlock.rawValue == EWOULDBLOCK)
        #expect(Errno.tooManyOpenFiles.rawValue == EMFILE)
        #expect(Errno.fileTableFull.rawValue == ENFILE)
        #expect(Errno.notSupported.rawValue == EOPNOTSUPP)
        #expect(Errno.noBufferSpace.rawValue == ENOBUFS)
        #expect(Errno.noSuchProcess.description == "No such process (ESRCH)")
    }

    @Test func errnoIsCatchableAsTypedError() {
        func fails() throws(Errno) { throw .connectionRefused }
        do {
            try fails()
            Issue.record("did not throw")
        } catch {
            #expect(error == .connectionRefused)
        }
    }
}
