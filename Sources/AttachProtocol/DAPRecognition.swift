/// The Debug Adapter Protocol as far as attachd needs to know it: how a stream of it starts.
public enum DAP {
    /// The header field every DAP message starts with.
    static let contentLengthName = Array("content-length".utf8)
    static let recognizedPrefix = Array("content-length:".utf8)

    /// What the first bytes a client sent say about its protocol.
    public enum Recognition: Sendable, Equatable {
        /// A DAP header (`Content-Length:`, in any case).
        case dap
        /// Something else: gdb's remote protocol, an HTTP upgrade for node's inspector, ...
        case other
        /// Too few bytes to tell (all of them a beginning of `Content-Length:`).
        case undecided
    }

    /// Recognises DAP from a client's first bytes.
    public static func recognize<Bytes: Collection>(_ first: Bytes) -> Recognition where Bytes.Element == UInt8 {
        for (byte, expected) in zip(first, recognizedPrefix) where lowercased(byte) != expected {
            return .other
        }
        return first.count >= recognizedPrefix.count ? .dap : .undecided
    }

    /// How many bytes `recognize` needs at most.
    public static var recognitionLength: Int { recognizedPrefix.count }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= 65 && byte <= 90 ? byte + 32 : byte
    }

    static func equalsIgnoringCase<Bytes: Collection>(_ bytes: Bytes, _ lower: [UInt8]) -> Bool
    where Bytes.Element == UInt8 {
        bytes.count == lower.count && zip(bytes, lower).allSatisfy { lowercased($0) == $1 }
    }
}
