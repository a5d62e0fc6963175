import AttachCore

/// The attach room's IDE connections by id, with how many each project has kept alongside, so
/// that the per-project limit is checked at every accept without counting (1,000 projects with
/// a relay each made that a walk of every connection per accept).
struct IDEConnectionTable: Sequence {
    typealias Entry = (project: String, connection: AttachRelays.IDEConnection)

    private var entries: [ConnectionID: Entry] = [:]
    private var perProject: [String: Int] = [:]

    /// All connections.
    var count: Int { entries.count }
    var keys: Dictionary<ConnectionID, Entry>.Keys { entries.keys }

    /// The connections of `project`.
    func count(of project: String) -> Int { perProject[project] ?? 0 }

    subscript(id: ConnectionID) -> Entry? {
        get { entries[id] }
        set {
            if let old = entries[id] { forget(old.project) }
            if let newValue { perProject[newValue.project, default: 0] += 1 }
            entries[id] = newValue
        }
    }

    @discardableResult
    mutating func removeValue(forKey id: ConnectionID) -> Entry? {
        guard let old = entries.removeValue(forKey: id) else { return nil }
        forget(old.project)
        return old
    }

    private mutating func forget(_ project: String) {
        let left = (perProject[project] ?? 1) - 1
        perProject[project] = left > 0 ? left : nil
    }

    func makeIterator() -> Dictionary<ConnectionID, Entry>.Iterator { entries.makeIterator() }
}
