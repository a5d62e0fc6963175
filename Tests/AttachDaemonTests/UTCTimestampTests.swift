import Testing

@testable import AttachDaemon

@Suite("UTC timestamps without a calendar library")
struct UTCTimestampTests {
    @Test(
        "known instants format as ISO 8601 and as compact file-name stamps",
        arguments: [
            (0.0, "1970-01-01T00:00:00.000Z", "19700101T000000"),
            (951_782_400.5, "2000-02-29T00:00:00.500Z", "20000229T000000"),
            (1_795_617_823.818, "2026-11-25T14:43:43.818Z", "20261125T144343"),
            (4_102_444_799.999, "2099-12-31T23:59:59.999Z", "20991231T235959"),
        ])
    func formats(seconds: Double, iso: String, compact: String) {
        #expect(UTCTimestamp.iso8601(seconds) == iso)
        #expect(UTCTimestamp.compact(seconds) == compact)
    }

    @Test("every day for 150 years advances the date by exactly one")
    func consecutiveDays() {
        var previous = UTCTimestamp.civil(fromDays: -1)
        for day in 0..<(150 * 366) {
            let date = UTCTimestamp.civil(fromDays: day)
            let nextInMonth = date.y == previous.y && date.m == previous.m && date.d == previous.d + 1
            let newMonth =
                date.d == 1
                && (date.m == previous.m + 1 && date.y == previous.y
                    || date.m == 1 && previous.m == 12 && date.y == previous.y + 1)
            #expect(nextInMonth || newMonth, "day \(day): \(previous) -> \(date)")
            previous = date
        }
    }
}
