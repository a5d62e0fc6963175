import Foundation

struct Results: Codable {
    struct Settings: Codable {
        var quick: Bool
        var launches: Int
        var warmupLaunches: Int
        var baselineLaunches: Int
        var projects: Int
        var waiterConnections: Int
        var idleSeconds: Double
        var roundTrips: Int
        var coldStarts: Int
        var phases: [String]
        var attach: AttachSettings?
    }

    struct Target: Codable {
        var name: String
        var target: String
        var measured: String
        var met: Bool?
    }

    var machine: MachineInfo
    var settings: Settings
    var releaseLines: LatencyResult?
    var releaseBare: LatencyResult?
    var releaseRaw: LatencyResult?
    var baseline: BaselineResult?
    /// Article handshake p50 over attachd's handshake-start → release p50 (lines, bare).
    var speedupLines: Double?
    var speedupBare: Double?
    var roundTrip: RoundTripResult?
    var idle: IdleResult?
    var scale: ScaleResult?
    var coldStart: ColdStartResult?
    var coldStartWithProjects: ColdStartResult?
    var relay: RelayResult?
    var relayLoad: RelayLoadResult?
    var relayScale: RelayScaleResult?
    var manyProjects: ManyProjectsResult?
    var debugpy: DebugpyResult?
    var client: ClientCostResult?
    var remote: RemoteResult?
    /// Release latency p50 with `attachctl wait` minus with a raw varlink Wait: attachctl's
    /// own share (reading the reply, printing, exiting).
    var attachctlShareMs: Double?
    var targets: [Target] = []
    var wallSeconds: Double = 0
}
