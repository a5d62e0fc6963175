import Foundation

/// Rows and targets of the relay (attach port) and relayload phases (issue 17's targets).
extension Report {
    static func relayRows(_ r: Results, _ row: (String, String) -> Void) {
        if let x = r.relay {
            let busy = x.busyProcesses > 0
            let beside =
                busy
                ? String(
                    format: ", with %d busy processes beside it (`--busy %d`: %.1f CPU s in %.1f s)", x.busyProcesses,
                    x.busyProcesses, x.busyCPUSeconds, x.busySeconds) : ""
            row(
                "Relay round trip: 1-byte ping-pong through the attach port to the host's echo server (\(x.roundTrips) round trips\(beside))",
                "p50 \(Fmt.us(x.relay?.p50Ms ?? .nan)) · p99 \(Fmt.us(x.relay?.p99Ms ?? .nan))")
            row(
                "… the same echo server directly, same run\(busy ? ", same busy processes" : "")",
                "p50 \(Fmt.us(x.direct?.p50Ms ?? .nan)) · p99 \(Fmt.us(x.direct?.p99Ms ?? .nan)); relay adds \(Fmt.us(x.overheadP50Micros / 1000)) at p50, \(Fmt.us(overheadP99Ms(x))) at p99"
            )
            let cRelay =
                "… the same through a C relay (bench/c_relay.c, epoll + splice, --spin \(x.cRelaySpinMicros) µs like attachd; same run\(busy ? ", same busy processes" : ""))"
            if let c = x.cRelay {
                row(
                    cRelay,
                    "p50 \(Fmt.us(c.p50Ms)) · p99 \(Fmt.us(c.p99Ms)); attachd's relay vs the C relay: \(signedUs(x.relayVsCRelayP50Micros)) at p50, \(signedUs(x.relayVsCRelayP99Micros)) at p99"
                )
            } else {
                row(cRelay, "skipped: \(x.cRelaySkipped ?? "?")")
            }
            row(
                "Bulk: \(x.bulkBytes >> 20) MiB IDE → host through the attach port (median of \(x.bulkRounds)\(busy ? "; no busy processes" : ""))",
                "\(Fmt.rate(x.relayMBps)) vs \(Fmt.rate(x.directMBps)) directly, same run (\(Fmt.ratio(x.bulkRatio)))")
            row(
                "… the same bulk through the C relay, same run",
                x.cRelayMBps.map {
                    "\(Fmt.rate($0)); attachd's relay / the C relay: \(Fmt.ratio(x.bulkRatioToCRelay ?? .nan)) (the C relay / direct: \(Fmt.ratio($0 / x.directMBps)))"
                } ?? "skipped: \(x.cRelaySkipped ?? "?")")
            row(
                "Held connection: IDE connects and sends first; host's listen() → IDE's first answer (\(x.heldLaunches) launches\(x.failures > 0 ? ", \(x.failures) failed" : ""))",
                Fmt.percentiles(x.held))
        }
        if let l = r.relayLoad {
            let per = l.idle?.count ?? 0
            let failed = l.failures > 0 ? ", \(l.failures) failed" : ""
            row(
                "Release latency beside a relay, relay quiet: `READY=1` listen() → `attachctl wait` exits while another project's relay connection is open and idle (\(per) launches in \(l.blocks) blocks\(failed))",
                Fmt.percentiles(l.idle))
            row(
                "… the same while that relay moves bulk data the whole time (\(l.underBulk?.count ?? 0) launches in \(l.blocks) blocks taking turns with the idle and the direct ones; \(l.bulkBytesPerTransfer >> 20) MiB transfers looped)",
                Fmt.percentiles(l.underBulk))
            row(
                "… under bulk / idle; what the relay moved meanwhile",
                "\(Fmt.ratio(l.ratioP99)) at p99, \(Fmt.ratio(l.ratioP50)) at p50; \(Fmt.mib(l.bytesMovedUnderBulk >> 10)) in \(String(format: "%.1f", l.secondsUnderBulk)) s (\(Fmt.rate(l.underBulkMBps)))"
            )
            if let direct = l.underDirectBulk {
                row(
                    "… the same while the same transfers go straight to the host's port, not through attachd (\(direct.count) launches; the machine's own cost of a bulk transfer beside a release)",
                    Fmt.percentiles(direct)
                        + "; \(Fmt.ratio(l.directRatioP99 ?? .nan)) the idle p99; \(Fmt.rate(l.directMBps ?? .nan))")
            }
        }
    }

    static func relayTargets(_ r: Results) -> [Results.Target] {
        var list: [Results.Target] = []
        if let x = r.relay {
            let directP50 = x.direct?.p50Ms ?? .nan
            let directP99 = x.direct?.p99Ms ?? .nan
            if x.busyProcesses > 0 {
                list.append(
                    .init(
                        name: "relay round trip p99 beside \(x.busyProcesses) busy processes (vs direct + 1 ms)",
                        target: "≤ \(Fmt.us(directP99 + 1))", measured: Fmt.us(x.relay?.p99Ms ?? .nan),
                        met: overheadP99Ms(x) <= 1))
            } else {
                list.append(
                    .init(
                        name: "relay round trip p50 (vs direct + 15 µs)", target: "≤ \(Fmt.us(directP50 + 0.015))",
                        measured: Fmt.us(x.relay?.p50Ms ?? .nan), met: x.overheadP50Micros <= 15))
                list.append(
                    .init(
                        name: "relay round trip p99 (vs direct + 50 µs)", target: "≤ \(Fmt.us(directP99 + 0.05))",
                        measured: Fmt.us(x.relay?.p99Ms ?? .nan), met: overheadP99Ms(x) <= 0.05))
            }
            list.append(
                .init(
                    name: "bulk through the relay (vs direct)", target: "≥ 0.9×", measured: Fmt.ratio(x.bulkRatio),
                    met: x.bulkRatio >= 0.9))
            list += cRelayTargets(x)
            if let h = x.held {
                list.append(
                    .init(
                        name: "held connection p50 (listen → first answer)", target: "≤ 3 ms",
                        measured: Fmt.ms(h.p50Ms), met: h.p50Ms <= 3))
            }
        }
        if let l = r.relayLoad {
            list.append(
                .init(
                    name: "release p99 while a relay moves bulk data (vs idle p99)",
                    target: "≤ 1.5× (\(Fmt.ms((l.idle?.p99Ms ?? .nan) * 1.5)))",
                    measured: "\(Fmt.ms(l.underBulk?.p99Ms ?? .nan)) (\(Fmt.ratio(l.ratioP99)))",
                    met: l.ratioP99 <= 1.5 && l.failures == 0))
        }
        return list
    }

    /// The same figures against the C relay measured in the same run: what attachd adds to any
    /// relay's cost (none when it was skipped).
    static func cRelayTargets(_ x: RelayResult) -> [Results.Target] {
        guard let c = x.cRelay, let p50 = x.relayVsCRelayP50Micros, let p99 = x.relayVsCRelayP99Micros else {
            return []
        }
        var list: [Results.Target] = []
        if x.busyProcesses > 0 {
            list.append(
                .init(
                    name: "relay round trip p99 beside \(x.busyProcesses) busy processes vs C relay (C relay + 1 ms)",
                    target: "≤ \(Fmt.us(c.p99Ms + 1))", measured: Fmt.us(x.relay?.p99Ms ?? .nan), met: p99 <= 1000))
        } else {
            list.append(
                .init(
                    name: "relay round trip p50 vs C relay (C relay + 5 µs)", target: "≤ \(Fmt.us(c.p50Ms + 0.005))",
                    measured: Fmt.us(x.relay?.p50Ms ?? .nan), met: p50 <= 5))
            list.append(
                .init(
                    name: "relay round trip p99 vs C relay (C relay + 20 µs)", target: "≤ \(Fmt.us(c.p99Ms + 0.02))",
                    measured: Fmt.us(x.relay?.p99Ms ?? .nan), met: p99 <= 20))
        }
        if let ratio = x.bulkRatioToCRelay {
            list.append(
                .init(
                    name: "bulk through the relay vs C relay", target: "≥ 0.9×", measured: Fmt.ratio(ratio),
                    met: ratio >= 0.9))
        }
        return list
    }

    /// "+12.3 µs" / "−1.0 µs" for a difference in microseconds.
    static func signedUs(_ micros: Double?) -> String {
        guard let micros else { return "n/a" }
        return (micros >= 0 ? "+" : "−") + Fmt.us(micros.magnitude / 1000)
    }

    /// relay p99 − direct p99, in milliseconds.
    static func overheadP99Ms(_ x: RelayResult) -> Double {
        (x.relay?.p99Ms ?? .nan) - (x.direct?.p99Ms ?? .nan)
    }
}
