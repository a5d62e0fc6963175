import AttachSystem

/// Moving bytes: each direction is pumped when its source is readable or its destination
/// writable, and says what it waits for next; the two sockets are watched for exactly what the
/// two directions wait for (an IDE socket is one direction's source and the other's
/// destination), and not at all when neither waits on it.
extension Relay {
    /// Up to this many bytes moved at once count as a message (interactive traffic) rather
    /// than part of a bulk transfer.
    static let messageSize: UInt64 = 64 << 10

    func runBoth() {
        run(0)
        run(1)
    }

    func run(_ index: Int) {
        pumpScheduled[index] = false
        guard !isEnded, index < directions.count else { return }
        defer { if !isEnded { updateWatches() } }
        let before = directions[index].bytesMoved
        let step = directions[index].pump()
        publishCounts()
        switch step {
        case .waitSource:
            // A message passed on whole, the source empty: its answer may follow at once.
            let moved = directions[index].bytesMoved - before
            if moved > 0 && moved < Self.messageSize { context?.spinAfterTurn() }
            waitingSource[index] = true
            waitingDestination[index] = false
        case .waitDestination:
            waitingSource[index] = false
            waitingDestination[index] = true
        case .yield:
            waitingSource[index] = false
            waitingDestination[index] = false
            if !pumpScheduled[index] {
                pumpScheduled[index] = true
                context?.soon { [self] in run(index) }
            }
        case .finished:
            if firstToClose == nil { firstToClose = index == 0 ? .ide : .host }
            waitingSource[index] = false
            waitingDestination[index] = false
            if index == 1, dapState?.follow.farewellSaid == true {
                return end("the host ended; the IDE was told to restart")
            }
            if directions.allSatisfy(\.isFinished) {
                end("\((firstToClose ?? .ide).rawValue) closed")
            }
        case .failed(let reading, let error):
            let source: Side = index == 0 ? .ide : .host
            let side: Side = reading ? source : (source == .ide ? .host : .ide)
            end(Self.reason(side: side, error: error))
        }
    }

    /// The counters others read: what the directions moved, plus what a hand-over carried.
    func publishCounts() {
        counters.store(
            fromIDE: carried.fromIDE + (directions.first?.bytesMoved ?? 0),
            fromHost: carried.fromHost + (directions.count > 1 ? directions[1].bytesMoved : 0))
    }

    /// Watches each socket for what the directions wait for on it. Direction 0 reads the IDE
    /// and writes the host; direction 1 the other way round.
    func updateWatches() {
        guard let context, !watchingFirstBytes else { return }
        for (fd, reader) in [(ide, 0), (host, 1)] {
            var events: EventPoll.Events = []
            if waitingSource[reader] { events.insert(.readable) }
            if waitingDestination[1 - reader] { events.insert(.writable) }
            guard events != context.watched(fd) else { continue }
            do throws(Errno) {
                try context.watch(fd, for: events) { [unowned self] ready in socketReady(fd, reader: reader, ready) }
            } catch {
                return end("the relay could not watch its sockets: \(error)")
            }
        }
    }

    /// One socket is ready: pumps the direction reading it and the one writing it, each if it
    /// waits for this (a hang-up or an error wakes both: the pump finds out what it means).
    private func socketReady(_ fd: FileDescriptor, reader: Int, _ ready: EventPoll.Events) {
        let trouble = !ready.isDisjoint(with: [.hangUp, .error])
        if waitingSource[reader] && (ready.contains(.readable) || trouble) { run(reader) }
        let writer = 1 - reader
        if !isEnded && waitingDestination[writer] && (ready.contains(.writable) || trouble) { run(writer) }
    }
}
