import AttachCore
import Testing

@Suite("Backoff: doubling up to a limit, reset by a success")
struct BackoffTests {
    @Test("each failure waits twice as long as the one before, never more than the limit")
    func doubles() {
        var backoff = Backoff(first: 1, limit: 5)
        #expect((0..<5).map { _ in backoff.next() } == [1, 2, 4, 5, 5])
    }

    @Test("a success starts over at the first delay")
    func resets() {
        var backoff = Backoff.listener
        _ = backoff.next()
        _ = backoff.next()
        backoff.reset()
        #expect(backoff.next() == 1)
        #expect(backoff.current == 2)
    }
}
