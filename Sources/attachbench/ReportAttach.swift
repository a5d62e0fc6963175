import Foundation

/// Rows and targets of the attach-endpoint, debugpy and client measurements.
extension Report {
    static func attachRows(_ r: Results, _ row: (String, String) -> Void) {
        relayRows(r, row)
        if let d = r.relayScale {
            row(
                "Relay scale: \(d.projects) projects, \(d.relays) concurrent relays (answered \(d.answeredBefore) before the idle window, \(d.answeredAfter) after)",
                "RSS \(Fmt.mib(d.rssKiB)) (peak \(Fmt.mib(d.peakRSSKiB)); \(Fmt.mib(d.rssAnonKiB)) anonymous); \(d.descriptors) descriptors, \(d.threads) threads; set-up \(Fmt.ms(d.setupSeconds * 1000))"
            )
            row(
                "… \(d.relays) hosts of one process announced one after another → all ready; then \(d.relays) IDE connections → all relayed (a 1-byte echo through each)",
                "\(Fmt.ms(d.readySeconds * 1000)); \(Fmt.ms((d.setupSeconds - d.readySeconds) * 1000))")
            row(
                "… relays idle, \(String(format: "%.0f", d.idle.seconds)) s",
                "\(d.idle.voluntaryContextSwitches) wakeups (voluntary context switches, all \(d.idle.threads) threads), CPU \(String(format: "%.2f", d.idle.cpuRunMilliseconds)) ms"
            )
        }
        if let e = r.manyProjects {
            row(
                "\(e.projects) projects (Unix rendezvous each, \(e.tcpRendezvous) TCP too): daemon start → serving",
                "\(Fmt.ms(e.startSeconds * 1000)); RSS \(Fmt.mib(e.rssKiB)) (\(Fmt.mib(e.rssAnonKiB)) anonymous); \(e.descriptors) descriptors (hard limit \(e.openFileLimit))"
            )
            if let i = e.idle {
                row(
                    "… idle, \(String(format: "%.0f", i.seconds)) s",
                    "\(i.voluntaryContextSwitches) wakeups, CPU \(String(format: "%.2f", i.cpuRunMilliseconds)) ms")
            }
        }
        if let f = r.debugpy {
            if let skipped = f.skipped {
                row("debugpy host", "skipped: \(skipped)")
            } else {
                row(
                    "Real debugpy host (MAINPID + READY=1, then `debugpy.listen((\"127.0.0.1\", 0))`): port first seen in LISTEN → `attachctl wait` exits (\(f.launches) launches\(f.failures > 0 ? ", \(f.failures) failed" : ""))",
                    Fmt.percentiles(f.listenToRelease)
                        + (f.releasedBeforeListen > 0
                            ? "; released before the port was seen in \(f.releasedBeforeListen)" : ""))
                row(
                    "… from the first new listener seen after `debugpy.listen()` was called (debugpy's in-process endpoints listener)",
                    Fmt.percentiles(f.firstListenerToRelease))
                row("… from `debugpy.listen()` returning", Fmt.percentiles(f.returnToRelease))
                row(
                    "… `debugpy.listen()` itself (adapter start-up); the session's port is debugpy's in \(f.portMatches)/\(f.launches); LISTEN table read every \(String(format: "%.0f", f.meanReadMicros)) µs",
                    Fmt.percentiles(f.listenCall))
            }
        }
        if let g = r.client {
            if let skipped = g.skipped {
                row("attachctl vs a C program", "skipped: \(skipped)")
            } else {
                row("`attachctl status` whole process, spawn → reaped (\(g.runs) runs)", Fmt.percentiles(g.attachctl))
                row(
                    "… a C program printing one line, same run",
                    "\(Fmt.percentiles(g.cProgram)); attachctl \(Fmt.ratio(g.ratioP50))")
                if let s = g.staticAttachctl {
                    row(
                        "… the static attachctl, same run",
                        "\(Fmt.percentiles(s)); \(Fmt.ratio(s.p50Ms / (g.cProgram?.p50Ms ?? .nan))) the C program")
                }
            }
            if let share = g.share {
                let which = share.binary.contains(".build-static") ? "the static attachctl" : "attachctl"
                row(
                    "attachctl's share of a release: attachd's `Wait` reply written → \(which) `wait` reaped (\(share.attachctl?.count ?? 0) runs; the bench plays attachd, with a reply captured from it)",
                    Fmt.percentiles(share.attachctl))
                row(
                    "… a C program that connects, writes the call, reads the reply and prints one line, same run",
                    Fmt.percentiles(share.cProgram))
            } else if let skipped = g.shareSkipped {
                row("attachctl's share of a release", "skipped: \(skipped)")
            }
            if let size = g.staticBytes {
                row(
                    "Static release attachctl (`-static-executable`: Swift runtime and glibc linked in)",
                    "\(Fmt.megabytes(size)) unstripped, \(g.staticStrippedBytes.map(Fmt.megabytes) ?? "?") stripped (dynamic build: \(g.dynamicBytes.map(Fmt.megabytes) ?? "?"))"
                )
            } else {
                row("Static release attachctl", g.staticNote ?? "not measured")
            }
        }
        if let x = r.remote { remoteRows(x, row) }
        if let share = r.attachctlShareMs {
            row(
                "Release latency, attachctl's share (p50 with `attachctl wait` − p50 with a raw varlink `Wait`)",
                Fmt.ms(share))
        }
    }

    /// The remote phase: ssh on loopback, no targets of its own.
    static func remoteRows(_ x: RemoteResult, _ row: (String, String) -> Void) {
        if let skipped = x.skipped { return row("Remote project through ssh", "skipped: \(skipped)") }
        func pair(_ s: Summary?) -> String { "p50 \(Fmt.us(s?.p50Ms ?? .nan)) · p99 \(Fmt.us(s?.p99Ms ?? .nan))" }
        func signed(_ micros: Double?) -> String { micros.map { ($0 >= 0 ? "+" : "") + Fmt.us($0 / 1000) } ?? "n/a" }
        row(
            "Remote project through ssh on loopback (\(x.ssh ?? "ssh")): the host's listen() on the remote side → local `attachctl wait` exits (\(x.launches) launches\(x.failures > 0 ? ", \(x.failures) failed" : ""))",
            Fmt.percentiles(x.listenToRelease))
        row(
            "… the link coming up: local `AddProject` → connected (ssh, ControlMaster, `attachctl bridge`, first replies)",
            x.linkUpMs.map(Fmt.ms) ?? "n/a")
        row(
            "Relay through ssh: 1-byte ping-pong via the local attach port (an `ssh -W` channel of the ControlMaster) to an echo server on the remote loopback (\(x.roundTrips) round trips)",
            pair(x.relay))
        row(
            "… the same through a plain `ssh -N -L` forward, same sshd and keys, interleaved",
            "\(pair(x.forward)); the relay adds \(signed(x.relayOverForwardP50Micros)) at p50, \(signed(x.relayOverForwardP99Micros)) at p99"
        )
        row(
            "… the same through `ssh -W` on attachd's ControlMaster, started by the bench (the relay without attachd's hop)",
            pair(x.channel))
        row("… the same echo server directly (no ssh)", pair(x.direct))
        row(
            "New connection through ssh: connect → first echo, via the attach port (a new `ssh -W` each) vs via `ssh -L` (\(x.newConnections) each)",
            "p50 \(Fmt.ms(x.relayFirstExchange?.p50Ms ?? .nan)) vs \(Fmt.ms(x.forwardFirstExchange?.p50Ms ?? .nan)); max \(Fmt.ms(x.relayFirstExchange?.maxMs ?? .nan)) vs \(Fmt.ms(x.forwardFirstExchange?.maxMs ?? .nan))"
        )
        guard let d = x.dap else { return }
        if let skipped = d.skipped { return row("debugpy on the remote side", "skipped: \(skipped)") }
        func slow(_ s: Summary?) -> String { "p50 \(Fmt.ms(s?.p50Ms ?? .nan)) · p99 \(Fmt.ms(s?.p99Ms ?? .nan))" }
        row(
            "Real debugpy \(d.debugpy ?? "") on the remote side: DAP `evaluate` round trip via the attach port (\(d.requests) requests, one host per path, in turn)",
            slow(d.relay))
        row(
            "… the same via `ssh -L`, same run",
            "\(slow(d.forward)); the relay adds \(signed(d.relayOverForwardP50Micros)) at p50")
        row("… the same directly (no ssh): debugpy's own time", slow(d.direct))
        row(
            "… DAP attach (connect → `configurationDone` answered), once each: via the attach port / `ssh -L` / directly",
            [d.relayAttachMs, d.forwardAttachMs, d.directAttachMs].map { $0.map(Fmt.ms) ?? "n/a" }.joined(
                separator: " / "))
    }

    static func attachTargets(_ r: Results) -> [Results.Target] {
        var list: [Results.Target] = []
        list += relayTargets(r)
        if let d = r.relayScale {
            list.append(
                .init(
                    name: "\(d.relays) hosts of one process ready", target: "≤ 1 s",
                    measured: Fmt.ms(d.readySeconds * 1000), met: d.readySeconds <= 1))
            list.append(
                .init(
                    name: "\(d.relays) relays set up once their hosts are ready", target: "≤ 1 s",
                    measured: Fmt.ms((d.setupSeconds - d.readySeconds) * 1000),
                    met: d.answeredBefore == d.relays && d.setupSeconds - d.readySeconds <= 1))
            list.append(
                .init(
                    name: "RSS with \(d.relays) relays", target: "≤ 48 MiB", measured: Fmt.mib(d.rssKiB),
                    met: d.answeredBefore == d.relays && max(d.rssKiB, d.peakRSSKiB) <= 48 * 1024))
            list.append(
                .init(
                    name: "wakeups, \(d.relays) idle relays (\(Int(d.idle.seconds.rounded())) s)", target: "0",
                    measured: "\(d.idle.voluntaryContextSwitches)", met: d.idle.voluntaryContextSwitches == 0))
        }
        if let e = r.manyProjects {
            list.append(
                .init(
                    name: "\(e.projects) projects: start → serving", target: "≤ 150 ms",
                    measured: Fmt.ms(e.startSeconds * 1000),
                    met: e.startSeconds <= 0.150))
            list.append(
                .init(
                    name: "\(e.projects) projects: RSS", target: "≤ 64 MiB",
                    measured: Fmt.mib(max(e.rssKiB, e.peakRSSKiB)),
                    met: max(e.rssKiB, e.peakRSSKiB) <= 64 * 1024))
            if let i = e.idle {
                list.append(
                    .init(
                        name: "\(e.projects) projects: wakeups while idle (\(Int(i.seconds.rounded())) s)", target: "0",
                        measured: "\(i.voluntaryContextSwitches)", met: i.voluntaryContextSwitches == 0))
            }
        }
        // attach_ready says READY=1 once debugpy.listen() has returned (issue 18: an IDE let in
        // when the adapter first listens could die inside its set-up), so the host is ready
        // from that moment, not from the adapter's first listen(2).
        if let f = r.debugpy, f.skipped == nil, let s = f.returnToRelease {
            list.append(
                .init(
                    name: "debugpy host: `debugpy.listen()` returns → `attachctl wait` exits, p50", target: "≤ 5 ms",
                    measured: Fmt.ms(s.p50Ms),
                    met: s.p50Ms <= 5))
        }
        if let g = r.client {
            if g.skipped == nil {
                // The static build is the one the package ships (debian/rules); the dynamic one
                // is what `swift build` makes for development.
                if let s = g.staticAttachctl, let c = g.cProgram {
                    let ratio = s.p50Ms / c.p50Ms
                    list.append(
                        .init(
                            name: "`attachctl status` vs a C program (p50), static attachctl as packaged",
                            target: "≤ 3×",
                            measured: Fmt.ratio(ratio), met: ratio <= 3))
                } else {
                    list.append(
                        .init(
                            name: "`attachctl status` vs a C program (p50), dynamic attachctl (static not built)",
                            target: "≤ 3×",
                            measured: Fmt.ratio(g.ratioP50), met: g.ratioP50 <= 3))
                }
            }
            if let size = g.staticBytes {
                list.append(
                    .init(
                        name: "static attachctl size, unstripped", target: "≤ 16 MB", measured: Fmt.megabytes(size),
                        met: size <= 16_000_000))
                if let stripped = g.staticStrippedBytes {
                    list.append(
                        .init(
                            name: "static attachctl size, stripped", target: "≤ 16 MB",
                            measured: Fmt.megabytes(stripped),
                            met: stripped <= 16_000_000))
                }
            }
        }
        if let share = r.client?.share?.attachctl {
            list.append(
                .init(
                    name: "attachctl's share of the release latency (reply → reaped, p50)", target: "≤ 1 ms",
                    measured: Fmt.ms(share.p50Ms), met: share.p50Ms <= 1))
        } else if let share = r.attachctlShareMs {
            list.append(
                .init(
                    name: "attachctl's share of the release latency", target: "≤ 1 ms", measured: Fmt.ms(share),
                    met: share <= 1))
        }
        return list
    }
}

extension Fmt {
    static func rate(_ megabytesPerSecond: Double) -> String {
        megabytesPerSecond.isFinite ? "\(Int(megabytesPerSecond.rounded())) MB/s" : "n/a"
    }

    static func megabytes(_ bytes: Int) -> String {
        let mb = Double(bytes) / 1e6
        let tenths = Int((mb * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) MB"
    }
}
