import AttachCore
import AttachProtocol

/// One client of the control socket. Replies leave in the order the calls came, even when an
/// earlier call (a `Wait`) is answered after a later one.
final class ControlClient {
    let connection: Connection
    var framer: VarlinkFramer
    private var nextSerial: UInt64 = 0
    /// Calls awaiting their final reply, oldest first.
    private var order: [UInt64] = []
    private var orderStart = 0
    /// Replies held back because an earlier call is still open.
    private var heldBack: [UInt64: [UInt8]] = [:]
    private var finished: Set<UInt64> = []

    init(connection: Connection, maxMessageSize: Int) {
        self.connection = connection
        self.framer = VarlinkFramer(maxMessageSize: maxMessageSize)
    }

    /// A token for the next call; a one-way call gets one too but is never answered.
    func nextToken(expectsReply: Bool) -> RequestToken {
        defer { nextSerial += 1 }
        if expectsReply { order.append(nextSerial) }
        return RequestToken(connection: connection.id, serial: nextSerial)
    }

    var openCalls: Int { order.count - orderStart }

    /// Sends (or holds back) one reply. `final` is false for the replies of a stream that
    /// continues.
    func reply(_ serial: UInt64, _ bytes: [UInt8], final: Bool) {
        guard orderStart < order.count, order[orderStart...].contains(serial) else { return }
        if order[orderStart] == serial {
            connection.send(bytes)
            if final { advance() }
        } else {
            heldBack[serial, default: []] += bytes
            if final { finished.insert(serial) }
        }
    }

    private func advance() {
        orderStart += 1
        while orderStart < order.count {
            let head = order[orderStart]
            if let bytes = heldBack.removeValue(forKey: head) { connection.send(bytes) }
            guard finished.remove(head) != nil else { break }
            orderStart += 1
        }
        if orderStart > 64, orderStart * 2 > order.count {
            order.removeFirst(orderStart)
            orderStart = 0
        }
    }
}
