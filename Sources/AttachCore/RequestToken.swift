/// Identifies one control call, so that its answer (perhaps much later, for `Wait`) reaches
/// the right client.
public struct RequestToken: Hashable, Sendable, CustomStringConvertible {
    public var connection: ConnectionID
    public var serial: UInt64
    public init(connection: ConnectionID, serial: UInt64) {
        self.connection = connection
        self.serial = serial
    }
    public var description: String { "\(connection)/\(serial)" }
}
