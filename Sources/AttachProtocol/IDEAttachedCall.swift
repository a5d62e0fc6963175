/// `IDEAttached` parameters: the attachd of another machine (a remote project's workstation)
/// relays IDE connections straight to this session's debug server (`ssh -W`), past this
/// attachd; it says so when the first of them starts (`attached`) and when the last one ends,
/// so that a host that said `NOTIFY_ATTACH=1` hears `ATTACHED=1` / `DETACHED=1` here too.
/// Sent one-way: an attachd that does not know the method answers nothing.
public struct IDEAttachedParameters: Codable, Sendable, Equatable {
    /// The session's id on this machine.
    public var session: String
    public var attached: Bool

    public init(session: String, attached: Bool) {
        self.session = session
        self.attached = attached
    }
}
