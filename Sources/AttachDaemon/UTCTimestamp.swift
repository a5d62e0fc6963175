/// Calendar dates from epoch seconds, by arithmetic alone: the daemon needs no locale, time
/// zone data or ICU to stamp a log line or name a file (and so does not load them).
enum UTCTimestamp {
    /// `2026-11-25T14:36:13.475Z`
    static func iso8601(_ seconds: Double) -> String {
        let (date, time, millis) = split(seconds)
        return "\(date.y)-\(pad(date.m))-\(pad(date.d))T\(pad(time.h)):\(pad(time.m)):\(pad(time.s)).\(pad(millis, 3))Z"
    }

    /// `20261125T143613`, for file names.
    static func compact(_ seconds: Double) -> String {
        let (date, time, _) = split(seconds)
        return "\(date.y)\(pad(date.m))\(pad(date.d))T\(pad(time.h))\(pad(time.m))\(pad(time.s))"
    }

    private static func split(_ seconds: Double) -> (
        date: (y: Int, m: Int, d: Int), time: (h: Int, m: Int, s: Int), millis: Int
    ) {
        let totalMillis = Int((seconds * 1000).rounded(.down))
        let millis = ((totalMillis % 1000) + 1000) % 1000
        let total = (totalMillis - millis) / 1000
        var days = total / 86_400
        var rest = total % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        return (civil(fromDays: days), (rest / 3600, rest % 3600 / 60, rest % 60), millis)
    }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    static func civil(fromDays days: Int) -> (y: Int, m: Int, d: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    private static func pad(_ n: Int, _ width: Int = 2) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
