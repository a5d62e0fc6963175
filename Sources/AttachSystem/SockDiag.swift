#if canImport(Glibc)
import Glibc
#endif

/// The bytes of the sock_diag netlink conversation, built and read by hand (the kernel's
/// `nlmsghdr`, `inet_diag_req_v2` and `inet_diag_msg` are not importable from Glibc).
///
/// Request: a 16-byte `nlmsghdr` {len u32, type u16, flags u16, seq u32, pid u32} followed by a
/// 56-byte `inet_diag_req_v2` {family u8, protocol u8, ext u8, pad u8, states u32, 48-byte
/// zeroed `inet_diag_sockid`}. Replies: `nlmsghdr` records, each 4-byte aligned; the body of a
/// SOCK_DIAG_BY_FAMILY record is an `inet_diag_msg` {family u8, state u8, timer u8, retrans u8,
/// id.sport be16, ...}. All integers but the port are in host (little-endian) order.
internal enum SockDiag {
    static let netlinkSockDiag: Int32 = 4          // NETLINK_SOCK_DIAG
    static let sockDiagByFamily: UInt16 = 20       // SOCK_DIAG_BY_FAMILY
    static let messageError: UInt16 = 2            // NLMSG_ERROR
    static let messageDone: UInt16 = 3             // NLMSG_DONE
    static let flagRequest: UInt16 = 0x1           // NLM_F_REQUEST
    static let flagDump: UInt16 = 0x300            // NLM_F_ROOT | NLM_F_MATCH
    static let tcpListen: UInt8 = 10               // TCP_LISTEN
    static let tcpEstablished: UInt8 = 1           // TCP_ESTABLISHED
    static let headerSize = 16
    static let requestBodySize = 56
    static let receiveBufferSize = 32 * 1024

    /// The request for every TCP socket of `family` (AF_INET or AF_INET6) in `state`.
    static func request(family: Int32, sequence: UInt32, state: UInt8 = tcpListen) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerSize + requestBodySize)
        append(UInt32(headerSize + requestBodySize), to: &bytes)   // nlmsg_len
        append(sockDiagByFamily, to: &bytes)                       // nlmsg_type
        append(flagRequest | flagDump, to: &bytes)                 // nlmsg_flags
        append(sequence, to: &bytes)                               // nlmsg_seq
        append(UInt32(0), to: &bytes)                              // nlmsg_pid: the kernel fills it
        bytes.append(UInt8(family))                                // sdiag_family
        bytes.append(UInt8(IPPROTO_TCP))                           // sdiag_protocol
        bytes.append(0)                                            // idiag_ext
        bytes.append(0)                                            // pad
        append(UInt32(1) << UInt32(state), to: &bytes)             // idiag_states
        bytes.append(contentsOf: repeatElement(0, count: 48))      // inet_diag_sockid
        return bytes
    }

    /// What one received datagram said.
    struct Batch: Equatable {
        var ports: [UInt16] = []
        var done = false
    }

    /// Walks the `nlmsghdr` records of one datagram. Records with another sequence number (left
    /// over from an abandoned dump) are skipped. An NLMSG_ERROR record throws its error; a
    /// malformed record throws EPROTO.
    static func parse(_ datagram: UnsafeRawBufferPointer, sequence: UInt32,
                      state wanted: UInt8 = tcpListen) throws(Errno) -> Batch {
        var batch = Batch()
        var offset = 0
        while offset + headerSize <= datagram.count {
            let length = Int(datagram.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let type = datagram.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)
            let seq = datagram.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            guard length >= headerSize, offset + length <= datagram.count else {
                throw .protocolError
            }
            let body = offset + headerSize
            let bodyLength = length - headerSize
            if seq == sequence {
                switch type {
                case messageDone:
                    batch.done = true
                    return batch
                case messageError:
                    guard bodyLength >= 4 else { throw .protocolError }
                    let code = datagram.loadUnaligned(fromByteOffset: body, as: Int32.self)
                    if code != 0 { throw Errno(rawValue: -code) }
                case sockDiagByFamily:
                    guard bodyLength >= 6 else { throw .protocolError }
                    let state = datagram[body + 1]
                    if state == wanted {
                        let port = datagram.loadUnaligned(fromByteOffset: body + 4, as: UInt16.self)
                        batch.ports.append(UInt16(bigEndian: port))
                    }
                default:
                    break
                }
            }
            offset += (length + 3) & ~3                            // NLMSG_ALIGN
        }
        return batch
    }

    private static func append<I: FixedWidthInteger>(_ value: I, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}
