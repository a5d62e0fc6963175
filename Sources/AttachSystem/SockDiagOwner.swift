#if canImport(Glibc)
    import Glibc
#endif

/// Who owns the local socket at the other end of a TCP connection.
public enum PeerOwner: Sendable, Equatable {
    /// A live socket of this user id.
    case user(UInt32)
    /// Not known: a remote peer, a peer already closed, or no netlink to ask.
    case unknown
}

extension SockDiag {
    static let allStates: UInt32 = 0xFFFF_FFFF
    /// INET_DIAG_NOCOOKIE
    static let noCookie: UInt32 = 0xFFFF_FFFF

    /// An exact (non-dump) SOCK_DIAG_BY_FAMILY request for the socket whose local endpoint is
    /// `peerSide` and whose remote endpoint is `ourSide`: the other end of our connection.
    /// nil when the addresses are not IPv4/IPv6 of one family.
    static func exactRequest(peerSide: sockaddr_storage, ourSide: sockaddr_storage, sequence: UInt32) -> [UInt8]? {
        guard peerSide.ss_family == ourSide.ss_family,
            let peer = endpoint(peerSide), let ours = endpoint(ourSide)
        else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerSize + requestBodySize)
        // One socket, no dump: NLM_F_REQUEST alone.
        Netlink.appendHeader(
            bodyLength: requestBodySize, type: sockDiagByFamily, flags: flagRequest,
            sequence: sequence, to: &bytes)
        bytes.append(UInt8(peerSide.ss_family))  // sdiag_family
        bytes.append(UInt8(IPPROTO_TCP))  // sdiag_protocol
        bytes.append(0)  // idiag_ext
        bytes.append(0)  // pad
        Netlink.append(allStates, to: &bytes)  // idiag_states
        bytes.append(contentsOf: peer.port)  // id.idiag_sport (be16)
        bytes.append(contentsOf: ours.port)  // id.idiag_dport (be16)
        bytes.append(contentsOf: peer.address)  // id.idiag_src[4]
        bytes.append(contentsOf: ours.address)  // id.idiag_dst[4]
        Netlink.append(UInt32(0), to: &bytes)  // id.idiag_if
        Netlink.append(noCookie, to: &bytes)  // id.idiag_cookie[0]
        Netlink.append(noCookie, to: &bytes)  // id.idiag_cookie[1]
        return bytes
    }

    /// The owner from the reply to `exactRequest`, or nil if this datagram held no answer
    /// for `sequence`. An NLMSG_ERROR record throws its error (ENOENT: no such socket).
    ///
    /// inet_diag_msg: family u8, state u8, timer u8, retrans u8, id (48 bytes), expires u32,
    /// rqueue u32, wqueue u32, uid u32 (offset 64), inode u32 (offset 68). A socket with no
    /// inode was closed by its program (orphaned or TIME_WAIT): its uid means nothing.
    static func parseOwner(_ datagram: UnsafeRawBufferPointer, sequence: UInt32) throws(Errno) -> PeerOwner? {
        var answer: PeerOwner?
        try Netlink.walk(datagram, sequence: sequence) { (record) throws(Errno) -> Bool in
            switch record.type {
            case sockDiagByFamily:
                guard record.body.count >= messageSize else { throw .protocolError }
                let body = record.body.lowerBound
                let uid = datagram.loadUnaligned(fromByteOffset: body + 64, as: UInt32.self)
                let inode = datagram.loadUnaligned(fromByteOffset: body + 68, as: UInt32.self)
                answer = inode == 0 ? .unknown : .user(uid)
            default:
                // An acknowledgement (NLMSG_ERROR with code 0) or anything else: no owner.
                answer = .unknown
            }
            return false
        }
        return answer
    }

    /// The port (network order bytes) and a 16-byte address field of an IPv4/IPv6 endpoint.
    private static func endpoint(_ storage: sockaddr_storage) -> (port: [UInt8], address: [UInt8])? {
        var copy = storage
        return withUnsafeBytes(of: &copy) { raw -> (port: [UInt8], address: [UInt8])? in
            switch Int32(storage.ss_family) {
            case AF_INET:
                // sockaddr_in: family u16, port be16 (offset 2), addr be32 (offset 4)
                let port = Array(raw[2..<4])
                return (port, Array(raw[4..<8]) + [UInt8](repeating: 0, count: 12))
            case AF_INET6:
                // sockaddr_in6: family u16, port be16 (2), flowinfo u32 (4), addr 16 bytes (8)
                return (Array(raw[2..<4]), Array(raw[8..<24]))
            default:
                return nil
            }
        }
    }
}
