import AttachSystem
import Foundation

struct MachineInfo: Codable {
    var cores: Int
    var cpuModel: String
    var kernel: String
    var os: String
    var swift: String
    var python: String
    var attachdVersion: String
    var date: String
    var openFileLimit: UInt64
    /// /proc/loadavg (1, 5, 15 minutes) when the run started and when it ended: on a shared
    /// machine, how busy the other tenants kept the cores.
    var loadAtStart: String = Self.loadAverage()
    var loadAtEnd: String?

    static func loadAverage() -> String {
        let text = (try? Files.read("/proc/loadavg")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func collect(python: String, attachdVersion: String, openFileLimit: UInt64) -> MachineInfo {
        let cpuinfo = (try? Files.read("/proc/cpuinfo")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let osRelease = (try? Files.read("/etc/os-release")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let os =
            osRelease.split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }
            .map { $0.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            ?? "Linux"
        let swift =
            Processes.output(of: ["swift", "--version"], environment: Processes.environment(), timeout: 30)?
            .split(separator: "\n").first.map(String.init) ?? "unknown (swift not in PATH)"
        return MachineInfo(
            cores: Sys.onlineCores, cpuModel: model,
            kernel: Sys.kernel(), os: os, swift: swift, python: python,
            attachdVersion: attachdVersion, date: Sys.utcTimestamp(), openFileLimit: openFileLimit)
    }
}
