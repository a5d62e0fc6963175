import Foundation

enum Report {
    static func targets(_ r: Results) -> [Results.Target] {
        var list: [Results.Target] = []
        for (label, result) in [("READY=1 lines", r.releaseLines), ("bare connect + handoff", r.releaseBare)] {
            guard let s = result?.listenToRelease else { continue }
            list.append(
                .init(name: "release p50 (\(label))", target: "≤ 5 ms", measured: Fmt.ms(s.p50Ms), met: s.p50Ms <= 5))
            list.append(
                .init(name: "release p99 (\(label))", target: "≤ 15 ms", measured: Fmt.ms(s.p99Ms), met: s.p99Ms <= 15))
        }
        for (label, ratio) in [("lines", r.speedupLines), ("bare", r.speedupBare)] {
            guard let ratio else { continue }
            list.append(
                .init(
                    name: "faster than the article (\(label), handshake p50)", target: "≥ 100×",
                    measured: Fmt.ratio(ratio), met: ratio >= 100))
        }
        if let s = r.scale {
            list.append(
                .init(
                    name: "\(s.waiters) waiters released (first listen → last release)", target: "≤ 100 ms",
                    measured: Fmt.ms(s.allReleasedMs), met: s.released == s.waiters && s.allReleasedMs <= 100))
            list.append(
                .init(
                    name: "peak RSS at \(s.projects) projects", target: "≤ 32 MiB",
                    measured: Fmt.mib(s.peakRSSKiB), met: s.peakRSSKiB <= 32 * 1024))
        }
        if let t = r.roundTrip {
            list.append(
                .init(
                    name: "control round trip (GetStatus p50 / echo p50)", target: "≤ 2×",
                    measured: Fmt.ratio(t.ratioP50), met: t.ratioP50 <= 2))
        }
        if let i = r.idle {
            list.append(
                .init(
                    name: "wakeups while idle (\(i.projects) projects, \(Int(i.seconds.rounded())) s)", target: "0",
                    measured: "\(i.voluntaryContextSwitches)", met: i.voluntaryContextSwitches == 0))
        }
        if let i = r.scale?.idleAfterLoad {
            list.append(
                .init(
                    name: "wakeups while idle after the scale run (\(Int(i.seconds.rounded())) s)", target: "0",
                    measured: "\(i.voluntaryContextSwitches)", met: i.voluntaryContextSwitches == 0))
        }
        if let c = r.coldStart {
            if let s = c.connectToAnswer {
                list.append(
                    .init(
                        name: "cold start p50 (socket activation, connect → answer)", target: "≤ 50 ms",
                        measured: Fmt.ms(s.p50Ms), met: s.p50Ms <= 50))
            } else {
                list.append(.init(name: "cold start", target: "≤ 50 ms", measured: c.skipped ?? "no data", met: nil))
            }
        }
        return list + attachTargets(r)
    }

    static func table(_ r: Results) -> String {
        var out: [String] = []
        let m = r.machine
        out.append("")
        out.append("attachbench — attachd \(m.attachdVersion) (release build), \(m.date)")
        out.append(
            "Machine: \(m.cores) cores, \(m.cpuModel); \(m.os); Linux \(m.kernel); \(m.swift); Python \(m.python); load average \(m.loadAtStart) at the start, \(m.loadAtEnd ?? "?") at the end"
        )
        out.append("")
        out.append("| Measurement | Result |")
        out.append("|---|---|")
        func row(_ a: String, _ b: String) { out.append("| \(a) | \(b) |") }
        for result in [r.releaseLines, r.releaseBare].compactMap({ $0 }) {
            let label =
                result.mode == "lines"
                ? "host says `READY=1` on its Unix rendezvous" : "article's bare connect, handoff of the port"
            defer {
                if result.mode == "lines", let raw = r.releaseRaw {
                    row(
                        "… the daemon's share: same, but a raw varlink `Wait` from the bench instead of an `attachctl` process (\(raw.launches) launches)",
                        Fmt.percentiles(raw.listenToRelease))
                }
            }
            row(
                "Release latency, \(label): listen() → `attachctl wait` exits (\(result.launches) launches\(result.failures > 0 ? ", \(result.failures) failed" : ""))",
                Fmt.percentiles(result.listenToRelease))
            row("… same launches, from the host starting its handshake", Fmt.percentiles(result.handshakeToRelease))
        }
        if let b = r.baseline {
            row(
                "Article's handshake (`_listen`/`_connect` as published, \(b.launches) launches): host starts `_connect` → IDE may attach",
                Fmt.percentiles(b.handshakeToAttachable))
            row(
                "… measured from the debug port's listen() to the IDE side exiting\(b.ideDoneBeforeListen > 0 ? " (IDE done first in \(b.ideDoneBeforeListen)/\(b.launches): its attach would race)" : "")",
                Fmt.percentiles(b.listenToIDEDone))
            var ratios: [String] = []
            if let s = r.speedupLines { ratios.append("\(Fmt.ratio(s)) (lines)") }
            if let s = r.speedupBare { ratios.append("\(Fmt.ratio(s)) (bare)") }
            if !ratios.isEmpty {
                row("attachd vs the article, handshake p50", ratios.joined(separator: ", ") + " faster")
            }
        }
        if let i = r.idle {
            row(
                "Idle, \(i.projects) projects, no session, \(String(format: "%.0f", i.seconds)) s",
                "\(i.voluntaryContextSwitches) wakeups (voluntary context switches, all \(i.threads) threads), CPU \(String(format: "%.2f", i.cpuRunMilliseconds)) ms"
            )
        }
        if let s = r.scale {
            row(
                "Scale: \(s.projects) projects (TCP + Unix rendezvous each), daemon start → serving",
                Fmt.ms(s.daemonStartSeconds * 1000))
            let spread =
                s.waiterConnectionsRefused > 0
                ? " on \(s.waiterConnectionsAccepted) connections (\(s.waiterConnectionsRefused) of \(s.waiterConnectionsAsked) refused by attachd)"
                : " on \(s.waiterConnectionsAccepted) connections"
            row(
                "Scale: \(s.waiters) waiters\(spread), \(s.waiters) hosts ready together (listen loop \(Fmt.ms(s.listenLoopMs)))",
                "all released \(Fmt.ms(s.allReleasedMs)) after the first listen (\(Fmt.ms(s.allReleasedAfterLastListenMs)) after the last); first \(Fmt.ms(s.firstReleaseMs))\(s.released < s.waiters ? "; only \(s.released) released" : "")\(s.errors > 0 ? "; \(s.errors) errors" : "")"
            )
            row("… per waiter: its port's listen() → its reply", Fmt.percentiles(s.perWaiter))
            row(
                "Memory at \(s.projects) projects",
                "peak RSS \(Fmt.mib(s.peakRSSKiB)) (\(Fmt.mib(s.rssAfterStartKiB)) after start); now \(Fmt.mib(s.rssKiB)) = \(Fmt.mib(s.rssAnonKiB)) anonymous (\(Fmt.mib(s.rssAnonAfterStartKiB)) after start) + \(Fmt.mib(s.rssFileKiB)) shared-library pages; PSS \(Fmt.mib(s.pssKiB))"
            )
            row(
                "Descriptors and threads at \(s.projects) projects",
                "\(s.descriptors) descriptors with the waiters and sessions (\(s.descriptorsAfterStart) idle); \(s.threads) threads"
            )
            if let i = s.idleAfterLoad {
                row(
                    "Idle again after the scale run, \(String(format: "%.0f", i.seconds)) s",
                    "\(i.voluntaryContextSwitches) wakeups, CPU \(String(format: "%.2f", i.cpuRunMilliseconds)) ms")
            }
        }
        if let t = r.roundTrip {
            row(
                "Control round trip: `GetStatus` on one connection (\(t.calls) calls, \(t.callBytes) B → \(t.replyBytes) B)",
                "p50 \(Fmt.us(t.getStatus?.p50Ms ?? .nan)) · p99 \(Fmt.us(t.getStatus?.p99Ms ?? .nan)) · \(Int(t.getStatusPerSecond)) calls/s"
            )
            row(
                "Bare Unix-socket echo, same sizes",
                "p50 \(Fmt.us(t.echo?.p50Ms ?? .nan)) · p99 \(Fmt.us(t.echo?.p99Ms ?? .nan)) · \(Int(t.echoPerSecond)) round trips/s"
            )
            row(
                "Echo served through a `DispatchSourceRead` on a serial queue, as attachd serves (no JSON)",
                "p50 \(Fmt.us(t.dispatchEcho?.p50Ms ?? .nan)) · p99 \(Fmt.us(t.dispatchEcho?.p99Ms ?? .nan)) · \(Int(t.dispatchEchoPerSecond)) round trips/s"
            )
            row(
                "… ratio GetStatus / bare echo",
                "\(Fmt.ratio(t.ratioP50)) (p50), \(Fmt.ratio(t.ratioThroughput)) (throughput)")
            let c = t.codec
            row(
                "… attachd's VarlinkCodec work per `GetStatus` (same code, timed here)",
                String(
                    format: "%.1f µs: decode call %.1f + `frameReply(StatusReply)` %.1f",
                    c.totalMicros, c.decodeCallMicros, c.frameReplyMicros))
            row(
                "`GetStatus` through AttachClient's typed `BrokerClient`",
                "p50 \(Fmt.us(t.typedClient?.p50Ms ?? .nan)) · \(Int(t.typedClientPerSecond)) calls/s")
        }
        attachRows(r, row)
        for c in [r.coldStart, r.coldStartWithProjects].compactMap({ $0 }) {
            if let skipped = c.skipped {
                row("Cold start", "skipped: \(skipped)")
            } else {
                row(
                    "Cold start under `systemd-socket-activate`, \(c.projects) projects: connect → first answer (\(c.starts) starts\(c.failures > 0 ? ", \(c.failures) failed" : ""))",
                    Fmt.percentiles(c.connectToAnswer))
            }
        }
        out.append("")
        out.append("| Target | Wanted | Measured | |")
        out.append("|---|---|---|---|")
        for t in r.targets {
            out.append(
                "| \(t.name) | \(t.target) | \(t.measured) | \(t.met.map { $0 ? "met" : "**missed**" } ?? "—") |")
        }
        out.append("")
        out.append(String(format: "Run took %.0f s.", r.wallSeconds))
        return out.joined(separator: "\n")
    }
}
