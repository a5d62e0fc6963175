import Foundation

/// Percentiles of a sample, in milliseconds (nearest-rank).
struct Summary: Codable {
    var count: Int
    var minMs: Double
    var p50Ms: Double
    var p90Ms: Double
    var p99Ms: Double
    var maxMs: Double
    var meanMs: Double

    /// `seconds` are converted to milliseconds.
    init?(seconds: [Double]) {
        guard !seconds.isEmpty else { return nil }
        let sorted = seconds.sorted().map { $0 * 1000 }
        func rank(_ p: Double) -> Double {
            let index = Int((p * Double(sorted.count)).rounded(.up)) - 1
            return sorted[min(max(index, 0), sorted.count - 1)]
        }
        count = sorted.count
        minMs = sorted.first!
        p50Ms = rank(0.50)
        p90Ms = rank(0.90)
        p99Ms = rank(0.99)
        maxMs = sorted.last!
        meanMs = sorted.reduce(0, +) / Double(sorted.count)
    }
}

/// Number formatting for the table.
enum Fmt {
    static func ms(_ value: Double) -> String {
        if value.magnitude >= 100 { return String(format: "%.0f ms", value) }
        if value.magnitude >= 10 { return String(format: "%.1f ms", value) }
        return String(format: "%.2f ms", value)
    }

    static func us(_ milliseconds: Double) -> String {
        String(format: "%.1f µs", milliseconds * 1000)
    }

    static func mib(_ kib: Int) -> String {
        String(format: "%.1f MiB", Double(kib) / 1024)
    }

    static func ratio(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f×", value) : String(format: "%.2f×", value)
    }

    static func percentiles(_ s: Summary?) -> String {
        guard let s else { return "n/a" }
        return "p50 \(ms(s.p50Ms)) · p90 \(ms(s.p90Ms)) · p99 \(ms(s.p99Ms)) · max \(ms(s.maxMs))"
    }
}
