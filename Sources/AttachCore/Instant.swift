/// Two readings of the clock: monotonic for deadlines, wall for what people see.
public struct Instant: Sendable, Equatable {
    public var monotonic: Double
    public var wall: Double
    public init(monotonic: Double, wall: Double) {
        self.monotonic = monotonic
        self.wall = wall
    }
}
