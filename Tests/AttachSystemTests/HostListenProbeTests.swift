import Testing

@testable import AttachSystem

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct HostListenProbeTests {
    @Test("a child that owns its listener is listening, and the second look needs no tree scan")
    func childListener() throws {
        let host = try HostProcess.python(HostScripts.listen, ["127.0.0.1", "0"])
        let port = try host.readPort()
        let probe = HostListenProbe()
        #expect(probe.verdict(pid: host.pid, port: port) == .listening(port: port))
        let scans = probe.statistics.treeScans
        #expect(scans == 1)
        #expect(probe.verdict(pid: host.pid, port: port) == .listening(port: port))
        #expect(probe.statistics.treeScans == scans, "a known inode must not rescan the tree")
    }

    @Test("a grandchild's listener counts for the grandparent")
    func grandchildListener() throws {
        let host = try HostProcess.python(HostScripts.parentOf, [HostScripts.listen, "127.0.0.1", "0"])
        let port = try host.readPort()
        let probe = HostListenProbe()
        #expect(probe.verdict(pid: host.pid, port: port) == .listening(port: port))
        let members = ProcessTree.members(of: host.pid)
        #expect(members.count >= 2 && members.first == host.pid)
    }

    @Test("a listener of an unrelated process on the host's port is held by that process")
    func heldByOther() throws {
        let other = try HostProcess.python(HostScripts.listen, ["127.0.0.1", "0"])
        let port = try other.readPort()
        let host = try HostProcess.python(HostScripts.idle)
        #expect(try host.readLine() == "up")
        let probe = HostListenProbe()
        let answer = probe.verdict(pid: host.pid, port: port)
        guard case .heldByOther(let heldPort, let pid, let command, let uid) = answer else {
            Issue.record("expected heldByOther, got \(answer)")
            return
        }
        #expect(heldPort == port)
        #expect(pid == other.pid)
        #expect(command == ProcessTree.command(of: other.pid) && command?.hasPrefix("python") == true)
        #expect(uid == ProcessHandle.currentUID)
        let before = probe.statistics
        #expect(probe.verdict(pid: host.pid, port: port) == answer)
        #expect(probe.statistics.treeScans == before.treeScans, "a known foreign inode must not rescan")
        #expect(probe.statistics.holderScans == before.holderScans, "the holder must be cached")
        // The tree's own listener of the same port was never there: the other one alone never
        // makes the host listening.
        #expect(probe.verdict(pid: other.pid, port: port) == .listening(port: port))
    }

    @Test("discovery finds the loopback port the tree listens on, and nothing before")
    func discovery() throws {
        // A loopback listener of this test process, not in the host's tree: never discovered.
        let decoy = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { decoy.close() }
        let host = try HostProcess.python(HostScripts.gatedListen, ["127.0.0.1", "0"])
        #expect(try host.readLine() == "up")
        let probe = HostListenProbe()
        #expect(probe.verdict(pid: host.pid, port: nil) == .notListening)
        try host.send("go")
        let port = try host.readPort()
        #expect(probe.verdict(pid: host.pid, port: nil) == .listening(port: port))
        let scans = probe.statistics.treeScans
        #expect(probe.verdict(pid: host.pid, port: nil) == .listening(port: port))
        #expect(probe.statistics.treeScans == scans)
    }

    @Test("discovery takes a wildcard listener (reachable through loopback)")
    func discoveryOfWildcard() throws {
        let host = try HostProcess.python(HostScripts.listen, ["0.0.0.0", "0"])
        let port = try host.readPort()
        #expect(HostListenProbe().verdict(pid: host.pid, port: nil) == .listening(port: port))
    }

    @Test("nothing on the port: not listening")
    func nothingListening() throws {
        let host = try HostProcess.python(HostScripts.idle)
        #expect(try host.readLine() == "up")
        let probe = HostListenProbe()
        let free = try unusedPort()
        #expect(probe.verdict(pid: host.pid, port: free) == .notListening)
        #expect(probe.verdict(pid: host.pid, port: nil) == .notListening)
    }

    @Test("a host that has exited is not listening and leaves nothing cached")
    func exitedHost() throws {
        let host = try HostProcess.python(HostScripts.listen, ["127.0.0.1", "0"])
        let port = try host.readPort()
        let probe = HostListenProbe()
        #expect(probe.verdict(pid: host.pid, port: port) == .listening(port: port))
        #expect(probe.statistics.trackedHosts == 1)
        host.kill()
        #expect(probe.verdict(pid: host.pid, port: port) == .notListening)
        #expect(probe.verdict(pid: host.pid, port: nil) == .notListening)
        #expect(probe.statistics.trackedHosts == 0)
        #expect(probe.verdict(pid: 0, port: port) == .notListening)
        #expect(probe.verdict(pid: -1, port: nil) == .notListening)
    }

    @Test("verdicts for several hosts share one listing")
    func batch() throws {
        let a = try HostProcess.python(HostScripts.listen, ["127.0.0.1", "0"])
        let b = try HostProcess.python(HostScripts.listen, ["::1", "0"])
        let portA = try a.readPort()
        let portB = try b.readPort()
        let probe = HostListenProbe()
        let answers = probe.verdicts([(pid: a.pid, port: portA), (pid: b.pid, port: nil), (pid: a.pid, port: portB)])
        #expect(answers[0] == .listening(port: portA))
        #expect(answers[1] == .listening(port: portB))
        guard case .heldByOther(portB, b.pid, _, _) = answers[2] else {
            Issue.record("expected \(portB) held by \(b.pid), got \(answers[2])")
            return
        }
    }

    /// A port nothing listens on right now: bound and released by this process.
    private func unusedPort() throws -> UInt16 {
        let socket = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { socket.close() }
        return try Socket.localPort(socket)
    }
}
