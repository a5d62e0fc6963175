import Testing

@testable import AttachSystem

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ListeningSocketTests {
    @Test("sock_diag and /proc/net/tcp{,6} report the same address, port, inode and uid")
    func bothMethodsAgree() throws {
        let v4 = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { v4.close() }
        let port = try Socket.localPort(v4)
        let inode = UInt64(try Kernel.fstat(v4.rawValue).st_ino)
        for method in [ListenProbe.Method.sockDiag, .procNet] {
            let sockets = try ListenProbe(method: method).listeningSockets()
            let mine = try #require(sockets.first { $0.inode == inode }, "\(method): no socket \(inode)")
            #expect(
                mine
                    == ListeningSocket(
                        family: .ipv4, address: [127, 0, 0, 1], port: port,
                        inode: inode, uid: ProcessHandle.currentUID))
            #expect(mine.isLoopback && !mine.isWildcard && mine.isReachableFromLoopback)
            #expect(mine.description == "127.0.0.1:\(port)")
        }
    }

    @Test("a look at some ports finds their listeners and no others, both ways")
    func onPorts() throws {
        let wanted = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { wanted.close() }
        let other = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { other.close() }
        let port = try Socket.localPort(wanted)
        let inode = UInt64(try Kernel.fstat(wanted.rawValue).st_ino)
        let otherInode = UInt64(try Kernel.fstat(other.rawValue).st_ino)
        for method in [ListenProbe.Method.sockDiag, .procNet] {
            let probe = ListenProbe(method: method)
            let sockets = try probe.listeningSockets(onPorts: [port])
            #expect(sockets.contains { $0.inode == inode }, "\(method)")
            #expect(sockets.allSatisfy { $0.port == port }, "\(method): \(sockets)")
            #expect(!sockets.contains { $0.inode == otherInode }, "\(method)")
            #expect(try probe.listeningSockets(onPorts: []).isEmpty, "\(method)")
        }
    }

    @Test("the sock_diag request carries the port as idiag_sport, big-endian")
    func portInRequest() {
        let request = SockDiag.request(family: AF_INET, sequence: 7, port: 0x1234)
        let sockid = SockDiag.headerSize + 8
        #expect(request.count == SockDiag.headerSize + SockDiag.requestBodySize)
        #expect(Array(request[sockid..<(sockid + 2)]) == [0x12, 0x34])
        #expect(request[(sockid + 2)...].allSatisfy { $0 == 0 })
        #expect(SockDiag.request(family: AF_INET, sequence: 7)[sockid...].allSatisfy { $0 == 0 })
    }

    @Test("an IPv6 loopback listener, both ways")
    func ipv6() throws {
        guard let v6 = try? Socket.listenTCP(host: "::1", port: 0) else {
            try Test.cancel("no IPv6 loopback here")
        }
        defer { v6.close() }
        let inode = UInt64(try Kernel.fstat(v6.rawValue).st_ino)
        let loopback: [UInt8] = Array(repeating: 0, count: 15) + [1]
        for method in [ListenProbe.Method.sockDiag, .procNet] {
            let mine = try #require(try ListenProbe(method: method).listeningSockets().first { $0.inode == inode })
            #expect(mine.family == .ipv6 && mine.address == loopback && mine.isLoopback)
            #expect(mine.description.hasPrefix("[0:0:0:0:0:0:0:1]:"))
        }
    }

    @Test("address classes: loopback, wildcard, mapped, other")
    func addressClasses() {
        func socket(_ family: ListeningSocket.Family, _ address: [UInt8]) -> ListeningSocket {
            ListeningSocket(family: family, address: address, port: 1, inode: 1, uid: 0)
        }
        #expect(socket(.ipv4, [127, 1, 2, 3]).isLoopback)
        #expect(!socket(.ipv4, [10, 0, 0, 1]).isReachableFromLoopback)
        #expect(socket(.ipv4, [0, 0, 0, 0]).isWildcard)
        #expect(socket(.ipv6, Array(repeating: 0, count: 16)).isReachableFromLoopback)
        #expect(socket(.ipv6, Array(repeating: 0, count: 10) + [0xff, 0xff, 127, 0, 0, 1]).isLoopback)
        #expect(!socket(.ipv6, [0xfe, 0x80] + Array(repeating: 0, count: 13) + [1]).isReachableFromLoopback)
    }

    @Test("a /proc/net/tcp table: LISTEN rows with address, uid and inode; other rows skipped")
    func procTable() {
        let v4 = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0
               1: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 4243 1 0000000000000000 20 4 30 10 -1
               2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17 1 0000000000000000 100 0 0 10 0
            garbage
            """
        #expect(
            ProcNetTCP.parseListeners(Array(v4.utf8), family: .ipv4) == [
                ListeningSocket(family: .ipv4, address: [127, 0, 0, 1], port: 8080, inode: 4242, uid: 1000),
                ListeningSocket(family: .ipv4, address: [0, 0, 0, 0], port: 22, inode: 17, uid: 0),
            ])
        let v6 = """
              sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 00000000000000000000000001000000:162E 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 99 1 0000000000000000 100 0 0 10 0
            """
        #expect(
            ProcNetTCP.parseListeners(Array(v6.utf8), family: .ipv6) == [
                ListeningSocket(
                    family: .ipv6, address: Array(repeating: 0, count: 15) + [1], port: 5678,
                    inode: 99, uid: 1000)
            ])
    }

    @Test("a sock_diag reply record: address, port, uid and inode at their offsets")
    func sockDiagRecord() throws {
        var body = [UInt8](repeating: 0, count: 72)
        body[0] = UInt8(AF_INET)
        body[1] = 10  // family, TCP_LISTEN
        body[4] = 0x16
        body[5] = 0x2E  // sport 5678 (be16)
        body[8..<12] = [127, 0, 0, 1]  // src
        body.replaceSubrange(64..<68, with: littleEndianBytes(UInt32(1000)))
        body.replaceSubrange(68..<72, with: littleEndianBytes(UInt32(31337)))
        var established = body
        established[1] = 1
        var datagram: [UInt8] = []
        Netlink.appendHeader(bodyLength: 72, type: 20, flags: 2, sequence: 9, to: &datagram)
        datagram += body
        Netlink.appendHeader(bodyLength: 72, type: 20, flags: 2, sequence: 9, to: &datagram)
        datagram += established
        Netlink.appendHeader(bodyLength: 4, type: 3, flags: 2, sequence: 9, to: &datagram)
        datagram += [0, 0, 0, 0]
        let batch = try datagram.withUnsafeBytes { try SockDiag.parseListeners($0, sequence: 9) }
        #expect(
            batch
                == SockDiag.ListenerBatch(
                    sockets: [
                        ListeningSocket(family: .ipv4, address: [127, 0, 0, 1], port: 5678, inode: 31337, uid: 1000)
                    ],
                    done: true))
        let short = Array(datagram.prefix(16 + 40))
        var header: [UInt8] = []
        Netlink.appendHeader(bodyLength: 40, type: 20, flags: 2, sequence: 9, to: &header)
        #expect(throws: Errno.protocolError) {
            try (header + short.dropFirst(16)).withUnsafeBytes { try SockDiag.parseListeners($0, sequence: 9) }
        }
    }
}

private func littleEndianBytes(_ value: UInt32) -> [UInt8] {
    [UInt8(value & 0xff), UInt8(value >> 8 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 24)]
}

@Suite struct ProcessTreeTests {
    @Test("the ppid of a stat line whose command holds spaces and parentheses")
    func statLine() {
        #expect(ProcessTree.parentPID(fromStat: Array("42 (a) b (c)) S 7 42 42 0 -1".utf8)) == 7)
        #expect(ProcessTree.parentPID(fromStat: Array("garbage".utf8)) == nil)
        #expect(ProcessTree.parsePIDs(Array("12 345 \n".utf8)) == [12, 345])
    }

    @Test("socket:[INODE] links, and nothing else")
    func socketLinks() {
        func inode(_ text: String) -> UInt64? {
            Array(text.utf8).withUnsafeBytes { ProcessTree.socketInode(fromLink: $0) }
        }
        #expect(inode("socket:[123456]") == 123456)
        #expect(inode("socket:[]") == nil)
        #expect(inode("pipe:[123]") == nil)
        #expect(inode("/dev/null") == nil)
        #expect(inode("socket:[12a]") == nil)
    }

    @Test("this process's sockets are found by inode, its holder too, and the ppid scan agrees")
    func ownSockets() throws {
        let listener = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let inode = UInt64(try Kernel.fstat(listener.rawValue).st_ino)
        let me = ProcessHandle.currentPID
        #expect(ProcessTree.socketInodes(of: me).contains(inode))
        #expect(ProcessTree.holder(of: inode) == SocketHolder(pid: me, command: ProcessTree.command(of: me)))
        #expect(ProcessTree.holder(of: inode, excluding: [me]) == nil)

        let host = try HostProcess.python(HostScripts.parentOf, [HostScripts.idle])
        #expect(try host.readLine() == "up")
        let fromTasks = try #require(ProcessTree.childrenFromTasks(of: host.pid))
        #expect(fromTasks.count == 1)
        #expect(ProcessTree.childrenByParentScan()[host.pid] == fromTasks)
        #expect(ProcessTree.members(of: host.pid) == [host.pid] + fromTasks)
        #expect(ProcessTree.members(of: -1).isEmpty)
    }
}
