/// The fallback listener census: /proc/net/tcp and /proc/net/tcp6, one socket per line,
///
///     sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
///      0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 ...
///
/// where the local port is the hex after the colon and state 0A is TCP_LISTEN. The address is
/// printed as 32-bit words in host order (`%08X` of each `__be32`/`s6_addr32[i]`).
/// Slower than sock_diag (the kernel prints every socket, established ones too) but needs
/// nothing beyond a readable /proc. `/proc/PID/net/tcp` shows the network namespace of PID.
internal enum ProcNetTCP {
    static let paths = ["/proc/net/tcp", "/proc/net/tcp6"]

    /// Listening ports from both tables. A missing table (no IPv6) counts as empty.
    static func listeningPorts() throws(Errno) -> Set<UInt16> {
        var ports = Set<UInt16>()
        for path in paths {
            guard let contents = try Files.read(path) else { continue }
            ports.formUnion(parse(contents))
        }
        return ports
    }

    /// The LISTEN sockets of both tables under `directory` ("/proc/net", or "/proc/PID/net" for
    /// the network namespace of PID). A missing table (no IPv6) counts as empty; a missing
    /// directory (the process is gone) throws ENOENT.
    static func listeningSockets(in directory: String = "/proc/net") throws(Errno) -> [ListeningSocket] {
        guard let v4 = try Files.read(directory + "/tcp") else { throw .noSuchFile }
        var sockets = parseListeners(v4, family: .ipv4)
        if let v6 = try Files.read(directory + "/tcp6") {
            sockets += parseListeners(v6, family: .ipv6)
        }
        return sockets
    }

    /// The local ports of the LISTEN rows of one table. The header line and any line that does
    /// not parse are skipped.
    static func parse(_ contents: [UInt8]) -> [UInt16] {
        var ports: [UInt16] = []
        for line in contents.split(separator: UInt8(ascii: "\n")).dropFirst() {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 4, omittingEmptySubsequences: true)
            guard fields.count >= 4 else { continue }
            let local = fields[1]
            let state = fields[3]
            guard state.elementsEqual("0A".utf8),
                let colon = local.lastIndex(of: UInt8(ascii: ":")),
                let port = UInt16(String(decoding: local[local.index(after: colon)...], as: UTF8.self), radix: 16)
            else { continue }
            ports.append(port)
        }
        return ports
    }

    /// The LISTEN rows of one table with address, port, uid (field 7) and inode (field 9).
    /// Rows that do not parse are skipped.
    static func parseListeners(_ contents: [UInt8], family: ListeningSocket.Family) -> [ListeningSocket] {
        var sockets: [ListeningSocket] = []
        for line in contents.split(separator: UInt8(ascii: "\n")).dropFirst() {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 10, omittingEmptySubsequences: true)
            guard fields.count >= 10, fields[3].elementsEqual("0A".utf8) else { continue }
            let local = fields[1]
            guard let colon = local.lastIndex(of: UInt8(ascii: ":")),
                let port = UInt16(text(local[local.index(after: colon)...]), radix: 16),
                let address = address(local[..<colon], family: family),
                let uid = UInt32(text(fields[7])),
                let inode = UInt64(text(fields[9]))
            else { continue }
            sockets.append(ListeningSocket(family: family, address: address, port: port, inode: inode, uid: uid))
        }
        return sockets
    }

    /// Network-order bytes from the hex words: each 8 hex digits are one 32-bit word whose
    /// in-memory (host order) bytes are the address bytes.
    private static func address(_ hex: ArraySlice<UInt8>, family: ListeningSocket.Family) -> [UInt8]? {
        let words = family == .ipv4 ? 1 : 4
        guard hex.count == words * 8 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(words * 4)
        var start = hex.startIndex
        for _ in 0..<words {
            guard let word = UInt32(text(hex[start..<(start + 8)]), radix: 16) else { return nil }
            withUnsafeBytes(of: word) { bytes.append(contentsOf: $0) }
            start += 8
        }
        return bytes
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
