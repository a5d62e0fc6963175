import AttachSystem
import Foundation
import Synchronization

/// Where the bench finds its binaries and its directory, and small shared pieces.
extension AttachBench {
    /// Where `swift build -c release --product attachctl -Xswiftc -static-executable -Xswiftc -Osize --scratch-path
    /// .build-static` puts the static attachctl, next to bench/.
    static func defaultStaticAttachctl(_ benchDirectory: String) -> String {
        String(benchDirectory.dropLast("/bench".count)) + "/.build-static/release/attachctl"
    }

    static func executableDirectory() -> String {
        guard let path = ProcessHandle.executablePath else { return "." }
        return String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
    }

    /// ./bench if it holds host_driver.py, else the nearest bench/ above the executable.
    static func findBenchDirectory(from binDirectory: String) throws -> String {
        var candidates = ["bench"]
        var directory = binDirectory
        for _ in 0..<6 {
            candidates.append(directory + "/bench")
            guard let slash = directory.lastIndex(of: "/"), slash != directory.startIndex else { break }
            directory = String(directory[..<slash])
        }
        for candidate in candidates where Files.exists(candidate + "/host_driver.py") {
            if candidate.hasPrefix("/") { return candidate }
            return (FileManager.default.currentDirectoryPath) + "/" + candidate
        }
        throw BenchError("cannot find bench/host_driver.py; run from the repository root or pass --bench-dir")
    }

    /// `swift run attachbench` builds attachbench only: attachd and attachctl must come from a
    /// `swift build -c release` into the same directory. Missing: stop; older than a source
    /// file: warn.
    static func checkBinaries(_ binDirectory: String, repository: String) throws {
        for name in ["attachd", "attachctl"] where !Sys.isExecutable(binDirectory + "/" + name) {
            throw BenchError(
                "\(binDirectory)/\(name) is missing. `swift run` builds attachbench alone: run `swift build -c release` (with the same --scratch-path) first, or pass --bin-dir"
            )
        }
        guard Files.isDirectory(repository + "/Sources") else { return }
        let newer =
            Processes.output(
                of: [
                    "find", repository + "/Sources", "-name", "*.swift", "-newer", binDirectory + "/attachd",
                    "-not", "-path", "*/attachbench/*",
                ], environment: Processes.environment(), timeout: 10) ?? ""
        if let file = newer.split(separator: "\n").first {
            log(
                "warning: \(file) is newer than \(binDirectory)/attachd; run `swift build -c release` to measure the current sources"
            )
        }
    }

    /// A loopback port the kernel just handed out (bind to 0, read, close), never one this run
    /// handed out before: the kernel may give a closed port again at once, and two of the bench's
    /// daemons (a local and a "remote" one on the same loopback) asking for the same port is an
    /// `AddressInUse` that has nothing to do with what is measured.
    static func freePort() throws -> Int {
        for _ in 0..<100 {
            let fd = try Socket.listenTCP(host: "127.0.0.1", port: 0)
            defer { fd.close() }
            let port = Int(try Socket.localPort(fd))
            if handedOutPorts.withLock({ $0.insert(port).inserted }) { return port }
        }
        throw BenchError("the kernel handed out no loopback port this run had not used, in 100 tries")
    }

    private static let handedOutPorts = Mutex<Set<Int>>([])
}

func log(_ text: String) {
    Sys.writeStandardError(text + "\n")
}
