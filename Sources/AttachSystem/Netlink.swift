/// The `nlmsghdr` framing shared by every netlink conversation of this module, built and read
/// by hand (the kernel's `struct nlmsghdr` is not importable from Glibc).
///
/// A header is 16 bytes {len u32, type u16, flags u16, seq u32, pid u32}, in host
/// (little-endian) order; records in a datagram are each 4-byte aligned (NLMSG_ALIGN).
internal enum Netlink {
    static let headerSize = 16
    static let messageError: UInt16 = 2  // NLMSG_ERROR
    static let messageDone: UInt16 = 3  // NLMSG_DONE

    /// One record of a received datagram: its type and the byte range of its body.
    struct Record {
        var type: UInt16
        var sequence: UInt32
        var body: Range<Int>
    }

    /// Appends a header for a message of `bodyLength` bytes.
    static func appendHeader(
        bodyLength: Int, type: UInt16, flags: UInt16, sequence: UInt32,
        to bytes: inout [UInt8]
    ) {
        append(UInt32(headerSize + bodyLength), to: &bytes)  // nlmsg_len
        append(type, to: &bytes)  // nlmsg_type
        append(flags, to: &bytes)  // nlmsg_flags
        append(sequence, to: &bytes)  // nlmsg_seq
        append(UInt32(0), to: &bytes)  // nlmsg_pid: the kernel fills it
    }

    /// Appends `value` in little-endian order (the host order of every Linux this runs on).
    static func append<I: FixedWidthInteger>(_ value: I, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Walks the records of one datagram that carry `sequence` (records of another sequence,
    /// left over from an abandoned dump, are skipped), calling `visit` until it returns false.
    /// An NLMSG_ERROR record with a non-zero code throws that error (an acknowledgement, code 0,
    /// is handed to `visit`); a malformed record throws EPROTO.
    static func walk(
        _ datagram: UnsafeRawBufferPointer, sequence: UInt32,
        _ visit: (Record) throws(Errno) -> Bool
    ) throws(Errno) {
        var offset = 0
        while offset + headerSize <= datagram.count {
            let length = Int(datagram.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let type = datagram.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)
            let seq = datagram.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            guard length >= headerSize, offset + length <= datagram.count else {
                throw .protocolError
            }
            if seq == sequence {
                let body = (offset + headerSize)..<(offset + length)
                if type == messageError {
                    guard body.count >= 4 else { throw .protocolError }
                    let code = datagram.loadUnaligned(fromByteOffset: body.lowerBound, as: Int32.self)
                    if code != 0 { throw Errno(rawValue: -code) }
                }
                guard try visit(Record(type: type, sequence: seq, body: body)) else { return }
            }
            offset += (length + 3) & ~3  // NLMSG_ALIGN
        }
    }
}
