import AttachSystem
import AttachSystemd
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct UnixSocketTests {
    @Test func listenConnectAcceptReadWriteRoundTripWithOurCredentials() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("control.sock")
        let listener = try Socket.listenUnix(path: path)
        defer { listener.close() }

        let client = try Socket.connectUnix(path: path)
        defer { client.close() }
        try expectReadable(listener)
        let server = try #require(try Socket.accept(listener))
        defer { server.close() }

        try client.writeAll(Array("hello\n".utf8))
        try expectReadable(server)
        #expect(try server.read(upTo: 100) == Array("hello\n".utf8))

        #expect(try server.write(Array("world".utf8)[...]) == 5)
        #expect(try client.read(upTo: 100) == Array("world".utf8))

        let credentials = try Socket.peerCredentials(server)
        #expect(credentials == PeerCredentials(pid: getpid(), uid: geteuid(), gid: getegid()))
        #expect(credentials.pid == ProcessHandle.currentPID)
        #expect(credentials.uid == ProcessHandle.currentUID)

        Socket.shutdownWrite(client)
        try expectReadable(server)
        #expect(try server.read(upTo: 100) == [])
    }

    @Test func socketFileHasModeSixHundredAndIsASocket() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("mode.sock")
        let listener = try Socket.listenUnix(path: path)
        defer { listener.close() }
        #expect(Files.permissions(path) == 0o600)
        #expect(Files.isSocket(path))
        #expect(!Files.isSocket(directory.path))
    }

    @Test func socketFileGetsTheRequestedMode() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("group.sock")
        let listener = try Socket.listenUnix(path: path, mode: 0o660)
        defer { listener.close() }
        #expect(Files.permissions(path) == 0o660)
    }

    @Test func listenUnixDoesNotReplaceAnExistingFile() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("taken.sock")
        let first = try Socket.listenUnix(path: path)
        defer { first.close() }
        #expect(throws: Errno.addressInUse) { try Socket.listenUnix(path: path) }
    }

    @Test func acceptReturnsNilWhenNothingIsPending() throws {
        let directory = TemporaryDirectory()
        let listener = try Socket.listenUnix(path: directory.file("idle.sock"))
        defer { listener.close() }
        #expect(try Socket.accept(listener) == nil)
        #expect(try listener.waitReadable(timeoutMilliseconds: 0) == false)
    }

    @Test func acceptedSocketIsNonBlocking() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("nb.sock")
        let listener = try Socket.listenUnix(path: path)
        defer { listener.close() }
        let client = try Socket.connectUnix(path: path)
        defer { client.close() }
        try expectReadable(listener)
        let server = try #require(try Socket.accept(listener))
        defer { server.close() }
        #expect(throws: Errno.wouldBlock) { try server.read(upTo: 10) }
    }

    @Test func connectToMissingPathFailsWithNoSuchFile() {
        #expect(throws: Errno.noSuchFile) {
            try Socket.connectUnix(path: "/tmp/attachsystem-no-such-dir/x.sock")
        }
    }

    @Test func overlongPathIsRejected() {
        let path = "/tmp/" + String(repeating: "x", count: 200)
        #expect(throws: Errno.nameTooLong) { try Socket.listenUnix(path: path) }
    }

    @Test func systemdRecognisesListeningUnixSocket() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("sd.sock")
        let listener = try Socket.listenUnix(path: path)
        defer { listener.close() }
        #expect(Socket.isListeningUnixStream(listener, path: path))
        #expect(Socket.isListeningUnixStream(listener, path: nil))
        #expect(!Socket.isListeningUnixStream(listener, path: directory.file("other.sock")))
        #expect(!Socket.isListeningTCP(listener, port: 0))
    }

    @Test func pairIsConnected() throws {
        let (a, b) = try Socket.pair()
        defer {
            a.close()
            b.close()
        }
        try a.writeAll([1, 2, 3])
        #expect(try b.read(upTo: 3) == [1, 2, 3])
        #expect(try Socket.peerCredentials(a).pid == getpid())
    }

    @Test func closeReturnsTheErrorInsteadOfThrowing() throws {
        let (a, b) = try Socket.pair()
        #expect(b.close() == nil)
        #expect(a.close() == nil)
        // Never close the same number twice here: tests run in parallel and may reuse it.
        #expect(FileDescriptor(rawValue: -1).close() == .badFileDescriptor)
    }
}

@Suite struct TCPSocketTests {
    @Test func listenOnEphemeralPortReportsItAndAcceptsConnections() throws {
        let listener = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let port = try Socket.localPort(listener)
        #expect(port != 0)
        #expect(Socket.isListeningTCP(listener, port: port))
        #expect(Socket.isListeningTCP(listener, port: 0))
        #expect(!Socket.isListeningUnixStream(listener, path: nil))

        let client = try Socket.connectTCP(host: "127.0.0.1", port: port)
        defer { client.close() }
        try expectReadable(listener)
        let server = try #require(try Socket.accept(listener))
        defer { server.close() }
        try client.writeAll(Array("ping".utf8))
        try expectReadable(server)
        #expect(try server.read(upTo: 10) == Array("ping".utf8))
    }

    @Test func listensOnIPv6Loopback() throws {
        let listener: FileDescriptor
        do {
            listener = try Socket.listenTCP(host: "::1", port: 0)
        } catch .addressNotAvailable, .addressFamilyNotSupported {
            return  // no IPv6 in this environment
        }
        defer { listener.close() }
        #expect(try Socket.localPort(listener) != 0)
    }

    @Test func nonNumericHostIsInvalid() {
        #expect(throws: Errno.invalidArgument) { try Socket.listenTCP(host: "localhost", port: 0) }
    }

    @Test func connectToClosedPortIsRefused() throws {
        let listener = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        let port = try Socket.localPort(listener)
        listener.close()
        #expect(throws: Errno.connectionRefused) { try Socket.connectTCP(host: "127.0.0.1", port: port) }
    }

    @Test func localPortOfUnixSocketIsUnsupported() throws {
        let (a, b) = try Socket.pair()
        defer {
            a.close()
            b.close()
        }
        #expect(throws: Errno.addressFamilyNotSupported) { try Socket.localPort(a) }
    }
}
