#if canImport(Glibc)
    import Glibc
#endif

/// The bytes of the sock_diag netlink conversation, built and read by hand (the kernel's
/// `inet_diag_req_v2` and `inet_diag_msg` are not importable from Glibc); the `nlmsghdr`
/// framing is `Netlink`'s.
///
/// Request: a 16-byte `nlmsghdr` followed by a 56-byte `inet_diag_req_v2` {family u8, protocol
/// u8, ext u8, pad u8, states u32, 48-byte zeroed `inet_diag_sockid`}. The body of a
/// SOCK_DIAG_BY_FAMILY reply record is an `inet_diag_msg` {family u8, state u8, timer u8,
/// retrans u8, id {sport be16, dport be16, src[16], dst[16], if u32, cookie[8]}, expires u32,
/// rqueue u32, wqueue u32, uid u32 (offset 64), inode u32 (offset 68)}. All integers but the
/// ports and addresses are in host (little-endian) order.
internal enum SockDiag {
    static let netlinkSockDiag: Int32 = 4  // NETLINK_SOCK_DIAG
    static let sockDiagByFamily: UInt16 = 20  // SOCK_DIAG_BY_FAMILY
    static let flagRequest: UInt16 = 0x1  // NLM_F_REQUEST
    static let flagDump: UInt16 = 0x300  // NLM_F_ROOT | NLM_F_MATCH
    static let tcpListen: UInt8 = 10  // TCP_LISTEN
    static let tcpEstablished: UInt8 = 1  // TCP_ESTABLISHED
    static let headerSize = Netlink.headerSize
    static let requestBodySize = 56
    static let messageSize = 72  // sizeof(struct inet_diag_msg)
    static let receiveBufferSize = 32 * 1024

    /// The request for every TCP socket of `family` (AF_INET or AF_INET6) in `state`; with
    /// `port`, only those whose local port it is (`idiag_sport`, which the kernel compares while
    /// it walks the listening hash, so that the dump costs one record, not one per listener).
    static func request(family: Int32, sequence: UInt32, state: UInt8 = tcpListen, port: UInt16? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerSize + requestBodySize)
        Netlink.appendHeader(
            bodyLength: requestBodySize, type: sockDiagByFamily,
            flags: flagRequest | flagDump, sequence: sequence, to: &bytes)
        bytes.append(UInt8(family))  // sdiag_family
        bytes.append(UInt8(IPPROTO_TCP))  // sdiag_protocol
        bytes.append(0)  // idiag_ext
        bytes.append(0)  // pad
        Netlink.append(UInt32(1) << UInt32(state), to: &bytes)  // idiag_states
        bytes.append(UInt8(truncatingIfNeeded: (port ?? 0) >> 8))  // idiag_sport, big-endian
        bytes.append(UInt8(truncatingIfNeeded: port ?? 0))
        bytes.append(contentsOf: repeatElement(0, count: 46))  // the rest of inet_diag_sockid
        return bytes
    }

    /// What one received datagram said.
    struct Batch: Equatable {
        var ports: [UInt16] = []
        var done = false
    }

    /// The local ports of the records of one datagram in state `wanted`. An NLMSG_ERROR record
    /// throws its error; a malformed record throws EPROTO.
    static func parse(
        _ datagram: UnsafeRawBufferPointer, sequence: UInt32,
        state wanted: UInt8 = tcpListen
    ) throws(Errno) -> Batch {
        var batch = Batch()
        try Netlink.walk(datagram, sequence: sequence) { (record) throws(Errno) -> Bool in
            switch record.type {
            case Netlink.messageDone:
                batch.done = true
                return false
            case sockDiagByFamily:
                guard record.body.count >= 6 else { throw .protocolError }
                let body = record.body.lowerBound
                if datagram[body + 1] == wanted {
                    let port = datagram.loadUnaligned(fromByteOffset: body + 4, as: UInt16.self)
                    batch.ports.append(UInt16(bigEndian: port))
                }
                return true
            default:
                return true
            }
        }
        return batch
    }

    /// What one received datagram of a LISTEN dump said, socket by socket.
    struct ListenerBatch: Equatable {
        var sockets: [ListeningSocket] = []
        var done = false
    }

    /// The LISTEN sockets of one datagram, with address, port, uid and inode.
    static func parseListeners(_ datagram: UnsafeRawBufferPointer, sequence: UInt32) throws(Errno) -> ListenerBatch {
        var batch = ListenerBatch()
        try Netlink.walk(datagram, sequence: sequence) { (record) throws(Errno) -> Bool in
            switch record.type {
            case Netlink.messageDone:
                batch.done = true
                return false
            case sockDiagByFamily:
                guard record.body.count >= messageSize else { throw .protocolError }
                let body = record.body.lowerBound
                guard datagram[body + 1] == tcpListen else { return true }
                let family: ListeningSocket.Family = Int32(datagram[body]) == AF_INET6 ? .ipv6 : .ipv4
                let port = UInt16(bigEndian: datagram.loadUnaligned(fromByteOffset: body + 4, as: UInt16.self))
                let addressStart = body + 8
                let addressLength = family == .ipv6 ? 16 : 4
                let address = Array(datagram[addressStart..<(addressStart + addressLength)])
                let uid = datagram.loadUnaligned(fromByteOffset: body + 64, as: UInt32.self)
                let inode = datagram.loadUnaligned(fromByteOffset: body + 68, as: UInt32.self)
                batch.sockets.append(
                    ListeningSocket(
                        family: family, address: address, port: port,
                        inode: UInt64(inode), uid: uid))
                return true
            default:
                return true
            }
        }
        return batch
    }
}
