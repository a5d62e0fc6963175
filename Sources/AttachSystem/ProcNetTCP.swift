/// The fallback listener census: /proc/net/tcp and /proc/net/tcp6, one socket per line,
///
///     sl  local_address rem_address   st tx_queue rx_queue ...
///      0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 ...
///
/// where the local port is the hex after the colon and state 0A is TCP_LISTEN.
/// Slower than sock_diag (the kernel prints every socket, established ones too) but needs
/// nothing beyond a readable /proc.
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
}
