import AttachSystem
import Foundation
import Synchronization

/// Bulk transfers on one IDE connection to relay_host.py's sink, sent by a thread of their own:
/// `bytesPerTransfer` each (``RelayBench/bulkHeader(_:)``, the bytes, the host's "K"), back to
/// back while running. Paused, the thread stops between two 1 MiB writes and the connection
/// stays open and quiet; resumed, the transfer goes on where it stopped.
final class BulkLoad: Sendable {
    private struct State {
        var running = false
        var stopping = false
        /// Bytes written after the transfers' headers.
        var sent = 0
        /// Transfers the host acknowledged.
        var transfers = 0
        var error: String?
    }

    let bytesPerTransfer: Int
    private let fd: FileDescriptor
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let parked = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts the sending thread, paused.
    init(fd: FileDescriptor, bytesPerTransfer: Int) throws {
        self.fd = fd
        self.bytesPerTransfer = bytesPerTransfer
        let thread = Thread { [self] in send() }
        thread.start()
        try awaitParked()
    }

    var sent: Int { state.withLock { $0.sent } }
    var transfers: Int { state.withLock { $0.transfers } }

    func resume() throws {
        try state.withLock { state in
            if let error = state.error { throw BenchError("bulk load: \(error)") }
            state.running = true
        }
        wake.signal()
    }

    /// Returns once the thread has stopped writing. Idempotent.
    func pause() throws {
        let wasRunning = state.withLock { state in
            defer { state.running = false }
            return state.running
        }
        if wasRunning { try awaitParked() }
    }

    /// Ends the thread (a write in progress fails) and waits for it; the caller closes the socket.
    func stop() {
        state.withLock { $0.stopping = true }
        Socket.shutdownWrite(fd)
        wake.signal()
        _ = finished.wait(timeout: .now() + 30)
    }

    private func awaitParked() throws {
        guard parked.wait(timeout: .now() + 130) == .success else {
            throw BenchError("bulk load: the sending thread did not pause within 130 s")
        }
        if let error = state.withLock({ $0.error }) { throw BenchError("bulk load: \(error)") }
    }

    private func send() {
        defer { finished.signal() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: UInt8(ascii: "d"))
        var left = 0
        do {
            while true {
                let (running, stopping) = state.withLock { ($0.running, $0.stopping) }
                if stopping { return }
                if !running {
                    parked.signal()
                    wake.wait()
                    continue
                }
                if left == 0 {
                    try fd.writeAll(RelayBench.bulkHeader(bytesPerTransfer))
                    left = bytesPerTransfer
                }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<min(left, buffer.count)])
                let n = try Socket.sendNoSignal(fd, chunk)
                left -= n
                state.withLock { $0.sent += n }
                if left == 0 {
                    try RelayBench.acknowledgement(fd, buffer: buffer)
                    state.withLock { $0.transfers += 1 }
                }
            }
        } catch {
            let stopping = state.withLock { state in
                if !state.stopping { state.error = "\(error)" }
                return state.stopping
            }
            // A pause() waiting for this thread learns of the error.
            if !stopping { parked.signal() }
        }
    }
}

/// CPU-bound processes beside a measurement (`python3 -c 'while True: pass'`), started with
/// posix_spawn like the bench's other children (so a signal or `--max-seconds` stops them too).
/// Each says one byte once it runs; the initializer returns when all are spinning.
final class BusyProcesses {
    private(set) var pids: [Int32] = []
    private var started = 0.0

    /// `count` processes; their argv ends with `attachbench-busy PID`, PID this process's.
    init(count: Int, python: String) throws {
        let code = "import os\nos.write(1, b'x')\nos.close(1)\nwhile True: pass"
        do {
            for _ in 0..<count {
                let (reader, writer) = try Sys.pipe()
                defer { reader.close() }
                let pid: Int32
                do {
                    pid = try Processes.spawn(
                        [python, "-c", code, "attachbench-busy", "\(ProcessHandle.currentPID)"],
                        environment: Processes.environment(), redirects: [.init(source: writer.rawValue, target: 1)])
                } catch {
                    writer.close()
                    throw error
                }
                writer.close()
                pids.append(pid)
                guard try reader.waitReadable(timeoutMilliseconds: 20_000), try reader.read(upTo: 1).count == 1
                else {
                    throw BenchError("busy process \(pid) did not start within 20 s")
                }
            }
        } catch {
            stop()
            throw error
        }
        started = Clock.monotonicSeconds()
    }

    /// CPU seconds the processes used in all, and seconds since they were all spinning: the
    /// proof that they ran beside the measurement.
    func usage() -> (cpuSeconds: Double, seconds: Double) {
        guard !pids.isEmpty else { return (0, 0) }
        return (pids.map(Processes.cpuSeconds).reduce(0, +), Clock.monotonicSeconds() - started)
    }

    /// SIGTERM (then SIGKILL) and reap each; idempotent.
    func stop() {
        for pid in pids { Processes.stop(pid, grace: 2) }
        pids = []
    }

    deinit { stop() }
}
