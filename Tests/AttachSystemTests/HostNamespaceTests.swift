import Testing

@testable import AttachSystem

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct HostNamespaceTests {
    @Test(
        "a host in its own network namespace is judged there, not by a listener of ours on the same port",
        arguments: [true, false])
    func unsharedHost(entersNamespaces: Bool) throws {
        // Another process listens on port P in this test's namespace.
        let other = try HostProcess.python(HostScripts.listen, ["127.0.0.1", "0"])
        let port = try other.readPort()
        let host = try HostProcess(
            "/usr/bin/unshare",
            [
                "--net", "--", "/bin/sh", "-c",
                #"ip link set lo up && exec /usr/bin/python3 -c "$1" 127.0.0.1 "$2""#,
                "sh", HostScripts.gatedListen, String(port),
            ])
        do {
            guard try host.readLine() == "up" else { throw HostProcessError.unexpected("no 'up'") }
        } catch {
            try Test.cancel("unshare --net did not start a host (needs CAP_SYS_ADMIN): \(error)")
        }
        let theirs = try NetworkNamespace.of(pid: host.pid)
        #expect(theirs != NetworkNamespace.current, "the host shares our network namespace")

        let probe = HostListenProbe(entersNamespaces: entersNamespaces)
        // The other process alone never makes the host listening, by port or by discovery.
        for _ in 0..<20 {
            #expect(probe.verdict(pid: host.pid, port: port) == .notListening)
            #expect(probe.verdict(pid: host.pid, port: nil) == .notListening)
        }
        try host.send("go")
        #expect(try host.readPort() == port)
        // Through /proc the listing may be up to `namespaceReadInterval` old: poll for it.
        let seen = verdict(probe, pid: host.pid, port: port) { $0 != .notListening }
        #expect(seen == .listening(port: port))
        #expect(probe.verdict(pid: host.pid, port: nil) == .listening(port: port))
        if entersNamespaces && probe.namespaceRefusal == nil {
            #expect(probe.statistics.namespaceSockets == 1)
            #expect(probe.statistics.namespaceReads == 0)
        } else {
            #expect(probe.statistics.namespaceSockets == 0)
            #expect(probe.statistics.namespaceReads > 0)
        }
        #expect(probe.statistics.trackedNamespaces == 1)

        // And in our namespace the port is the other process's own.
        #expect(probe.verdict(pid: other.pid, port: port) == .listening(port: port))

        let rounds = 500
        let start = Clock.monotonicSeconds()
        for _ in 0..<rounds { _ = probe.verdict(pid: host.pid, port: port) }
        let mean = (Clock.monotonicSeconds() - start) / Double(rounds) * 1000
        let how =
            entersNamespaces && probe.namespaceRefusal == nil
            ? "sock_diag socket opened with setns"
            : "/proc/PID/net/tcp{,6}, read at most every \(probe.namespaceReadInterval) s"
        print(
            "HostListenProbe verdict, host in another network namespace (\(how)): "
                + "\(milliseconds(mean)) ms (mean of \(rounds))")
        #expect(mean < 2, "a verdict took \(mean) ms on average")

        other.kill()
        #expect(probe.verdict(pid: other.pid, port: port) == .notListening)
        #expect(probe.verdict(pid: host.pid, port: port) == .listening(port: port))
        host.kill()
        #expect(probe.verdict(pid: host.pid, port: port) == .notListening)
        #expect(probe.statistics.trackedHosts == 0)
        #expect(probe.statistics.trackedNamespaces == 0)
    }

    @Test("a host that enters a new network namespace after the first look is judged afresh there")
    func hostMovesToANewNamespace() throws {
        let other = try HostProcess.python(HostScripts.listen, ["127.0.0.1", "0"])
        let port = try other.readPort()
        // One pid throughout: sh waits for a line, then execs unshare, which execs python.
        let host = try HostProcess(
            "/bin/sh",
            [
                "-c",
                #"echo up; read line; exec /usr/bin/unshare --net -- /bin/sh -c 'ip link set lo up && exec /usr/bin/python3 -c "$1" 127.0.0.1 "$2"' sh "$1" "$2""#,
                "sh", HostScripts.gatedListen, String(port),
            ])
        #expect(try host.readLine() == "up")
        let probe = HostListenProbe()
        guard case .heldByOther(port, other.pid, _, _) = probe.verdict(pid: host.pid, port: port) else {
            Issue.record("in our namespace the port is the other process's")
            return
        }
        try host.send("move")
        do {
            guard try host.readLine() == "up" else { throw HostProcessError.unexpected("no 'up'") }
        } catch {
            try Test.cancel("unshare --net did not start a host (needs CAP_SYS_ADMIN): \(error)")
        }
        #expect(try NetworkNamespace.of(pid: host.pid) != NetworkNamespace.current)
        #expect(probe.verdict(pid: host.pid, port: port) == .notListening)
        try host.send("go")
        #expect(try host.readPort() == port)
        #expect(probe.verdict(pid: host.pid, port: port) == .listening(port: port))
    }

    @Test("reading another namespace through /proc every time costs milliseconds (why it is throttled)")
    func procReadCost() throws {
        let host = try HostProcess(
            "/usr/bin/unshare",
            [
                "--net", "--", "/bin/sh", "-c",
                #"ip link set lo up && exec /usr/bin/python3 -c "$1" 127.0.0.1 0"#, "sh", HostScripts.listen,
            ])
        let port: UInt16
        do {
            port = try host.readPort()
        } catch {
            try Test.cancel("unshare --net did not start a host (needs CAP_SYS_ADMIN): \(error)")
        }
        let probe = HostListenProbe(entersNamespaces: false, namespaceReadInterval: 0)
        #expect(probe.verdict(pid: host.pid, port: port) == .listening(port: port))
        let rounds = 50
        let start = Clock.monotonicSeconds()
        for _ in 0..<rounds { _ = probe.verdict(pid: host.pid, port: port) }
        let mean = (Clock.monotonicSeconds() - start) / Double(rounds) * 1000
        #expect(probe.statistics.namespaceReads == rounds + 1)
        print(
            "HostListenProbe verdict, host in another network namespace, /proc read every time: "
                + "\(milliseconds(mean)) ms (mean of \(rounds))")
    }

    @Test("namespace identity: ours is stable, a pid that is gone has none")
    func identity() throws {
        let ours = try #require(NetworkNamespace.current)
        #expect(try NetworkNamespace.of(pid: ProcessHandle.currentPID) == ours)
        #expect("\(ours)".hasPrefix("net:["))
        #expect(throws: Errno.invalidArgument) { try NetworkNamespace.of(pid: 0) }
        let host = try HostProcess.python(HostScripts.idle)
        #expect(try host.readLine() == "up")
        #expect(try NetworkNamespace.of(pid: host.pid) == ours)
        host.kill()
        #expect(throws: Errno.noSuchFile) { try NetworkNamespace.of(pid: host.pid) }
    }
}

@Suite struct HostListenProbeCostTests {
    @Test("a verdict costs well under the 2 ms probe interval: owned, held by other, nothing")
    func verdictCost() throws {
        let owner = try HostProcess.python(HostScripts.listen, ["127.0.0.1", "0"])
        let ownedPort = try owner.readPort()
        let other = try HostProcess.python(HostScripts.listen, ["127.0.0.1", "0"])
        let heldPort = try other.readPort()
        let idle = try HostProcess.python(HostScripts.idle)
        #expect(try idle.readLine() == "up")
        let socket = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        let freePort = try Socket.localPort(socket)
        socket.close()

        let probe = HostListenProbe()
        let cases: [(name: String, pid: Int32, port: UInt16?, expected: HostListenVerdict?)] = [
            ("(a) tree owns its port", owner.pid, ownedPort, .listening(port: ownedPort)),
            ("(a') discovery, tree owns a port", owner.pid, nil, .listening(port: ownedPort)),
            ("(b) port held by another process", idle.pid, heldPort, nil),
            ("(c) nothing listening", idle.pid, freePort, .notListening),
        ]
        let rounds = 2000
        var report: [String] = []
        for entry in cases {
            let first = probe.verdict(pid: entry.pid, port: entry.port)
            if let expected = entry.expected {
                #expect(first == expected, "\(entry.name)")
            } else {
                #expect(
                    first
                        == .heldByOther(
                            port: heldPort, pid: other.pid,
                            command: ProcessTree.command(of: other.pid),
                            uid: ProcessHandle.currentUID))
            }
            let before = probe.statistics
            let start = Clock.monotonicSeconds()
            for _ in 0..<rounds { _ = probe.verdict(pid: entry.pid, port: entry.port) }
            let mean = (Clock.monotonicSeconds() - start) / Double(rounds) * 1000
            #expect(probe.statistics.treeScans == before.treeScans, "\(entry.name): rescanned the tree")
            #expect(probe.statistics.holderScans == before.holderScans, "\(entry.name): searched /proc")
            // Against the bare listing in the same moment (a loaded machine slows both): a
            // verdict is one listing plus cached look-ups, never a walk of /proc.
            let listing = ListenProbe()
            let listingStart = Clock.monotonicSeconds()
            for _ in 0..<rounds { _ = try listing.listeningSockets() }
            let listingMean = (Clock.monotonicSeconds() - listingStart) / Double(rounds) * 1000
            #expect(
                mean < max(2, 10 * listingMean), "\(entry.name): \(mean) ms per verdict, \(listingMean) ms per listing")
            report.append("\(entry.name) \(milliseconds(mean)) ms")
        }
        let listeners = try ListenProbe().listeningSockets().count
        print(
            "HostListenProbe verdict cost (mean of \(rounds), \(listeners) LISTEN sockets): "
                + report.joined(separator: "; "))
    }
}

func milliseconds(_ value: Double) -> String {
    "\((value * 1000).rounded() / 1000)"
}
