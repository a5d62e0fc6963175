import AttachProtocol
import AttachSystem

/// attachctl's share of a release, measured directly: a waiting `attachctl wait` gets attachd's
/// `Wait` reply, prints the endpoint and exits. The bench plays attachd's part on a Unix socket
/// of its own, so that the clock starts when the reply is written and stops when the process is
/// reaped, with nothing of the daemon in between. The reply is a real one, captured from the
/// real attachd of this run; a C program doing the same (connect, write the call, read the
/// reply, print one line) is measured the same way, interleaved.
struct ClientShareResult: Codable {
    /// The attachctl measured (the static one when built).
    var binary: String
    /// Reply written → `attachctl wait` reaped.
    var attachctl: Summary?
    /// The same for the C program.
    var cProgram: Summary?
}

enum ClientShare {
    static let cSource = """
        #include <stdio.h>
        #include <string.h>
        #include <sys/socket.h>
        #include <sys/un.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            if (argc < 4) return 2;
            int fd = socket(AF_UNIX, SOCK_STREAM, 0);
            struct sockaddr_un a; memset(&a, 0, sizeof a); a.sun_family = AF_UNIX;
            strncpy(a.sun_path, argv[3], sizeof a.sun_path - 1);
            if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return 1;
            const char call[] = "{\\"method\\":\\"io.attachd.Broker.Wait\\",\\"parameters\\":{\\"project\\":\\"share\\"}}";
            if (write(fd, call, sizeof call) != (ssize_t)sizeof call) return 1;
            char reply[65536];
            if (read(fd, reply, sizeof reply) <= 0) return 1;
            puts("127.0.0.1:5678");
            return 0;
        }

        """

    /// A `Wait` reply from `daemon`: a project whose debug port this process listens on, a
    /// session announced for it, and a raw `Wait` once it is ready. Removes the project after.
    static func capturedWaitReply(_ daemon: DaemonUnderTest) throws -> [UInt8] {
        let listener = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let port = Int(try Socket.localPort(listener))
        _ = try daemon.call(.addProject, ["name": "share", "debugPort": port])
        defer { _ = try? daemon.call(.removeProject, ["name": "share"]) }
        _ = try daemon.call(.announce, ["project": "share", "debugPort": port])
        let waiter = try RawVarlink(path: daemon.sandbox.controlSocket)
        try waiter.send(RawVarlink.frame(.wait, ["project": "share", "timeout": 10]))
        guard let reply = try waiter.receive(timeout: 15),
            String(decoding: reply, as: UTF8.self).contains("\"session\"")
        else {
            throw BenchError("attachd gave no Wait reply for the share measurement")
        }
        return reply
    }

    /// Interleaved runs of `attachctl wait` and the C program against the bench's own socket.
    static func measure(
        attachctl: String, cProgram: String, reply: [UInt8], runs: Int, sandbox: Sandbox,
        progress: (String) -> Void
    ) throws -> ClientShareResult {
        let path = sandbox.root + "/share.sock"
        let listener = try Socket.listenUnix(path: path)
        defer { listener.close() }
        progress("  attachctl's share: reply written → attachctl wait reaped, \(runs) runs, and a C program")
        var times: [[Double]] = [[], []]
        let commands = [
            [attachctl, "wait", "--socket", path, "share", "--timeout", "30"], [cProgram, "wait", "share", path],
        ]
        for index in 0..<(runs + 3) {
            for (which, argv) in commands.enumerated() {
                let seconds = try once(argv, listener: listener, reply: reply, environment: sandbox.environment)
                if index >= 3 { times[which].append(seconds) }
            }
        }
        return ClientShareResult(
            binary: attachctl, attachctl: Summary(seconds: times[0]), cProgram: Summary(seconds: times[1]))
    }

    /// One run: accept the client, read its call, wait until it sleeps in read(2), write the
    /// reply, and time until it is reaped.
    private static func once(_ argv: [String], listener: FileDescriptor, reply: [UInt8], environment: [String]) throws
        -> Double
    {
        let pid = try Processes.spawn(argv, environment: environment)
        let pidfd = try? ProcessHandle.pidfdOpen(pid)
        defer { pidfd?.close() }
        do {
            guard try listener.waitReadable(timeoutMilliseconds: 10_000), let client = try Socket.accept(listener)
            else {
                throw BenchError("\(argv[0]) did not connect within 10 s")
            }
            let connection = RawVarlink(fd: client)
            guard try connection.receive(timeout: 10) != nil else {
                throw BenchError("\(argv[0]) closed without a call")
            }
            try waitUntilSleeping(pid)
            let written = Clock.wallSeconds()
            try connection.send(reply + [0])
            guard let exit = Processes.waitExit(pid, pidfd: pidfd, timeout: 10) else {
                throw BenchError("\(argv[0]) did not exit within 10 s of the reply")
            }
            guard Processes.exitCode(exit.status) == 0 else {
                throw BenchError("\(argv.joined(separator: " ")) exited \(Processes.exitCode(exit.status))")
            }
            return exit.wall - written
        } catch {
            Processes.stop(pid, grace: 1)
            throw error
        }
    }

    /// Polls /proc/PID/stat until the process sleeps (state S): it has sent its call and is
    /// blocked reading the reply.
    private static func waitUntilSleeping(_ pid: Int32) throws {
        let deadline = Clock.monotonicSeconds() + 5
        while Clock.monotonicSeconds() < deadline {
            if let stat = (try? Files.read("/proc/\(pid)/stat")) ?? nil,
                let close = stat.lastIndex(of: UInt8(ascii: ")")),
                close + 2 < stat.count, stat[close + 2] == UInt8(ascii: "S")
            {
                return
            }
        }
        throw BenchError("process \(pid) did not block reading its reply within 5 s")
    }
}
