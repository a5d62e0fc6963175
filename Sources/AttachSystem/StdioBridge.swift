/// `attachctl bridge`: joins this process's standard input and output to a connected stream
/// socket, byte for byte, as `systemd-stdio-bridge` does, so that a program on another machine
/// (attachd, through `ssh HOST attachctl bridge`) can speak to the local control socket.
public enum StdioBridge {
    /// How the bridge ended.
    public enum End: Sendable, Equatable {
        /// The socket's peer closed it (after standard input ended, or on its own).
        case socketClosed
        /// Standard output could not be written (the ssh channel is gone).
        case outputClosed
    }

    /// Copies standard input to `socket` and `socket` to standard output until the socket
    /// ends, with poll(2), read(2) and write(2). End of standard input is passed on as
    /// shutdown(2) SHUT_WR, and the socket is still read to its end. Blocking; `socket` is the
    /// caller's to close. Errors reading either side end the bridge as that side's end.
    public static func run(
        socket: FileDescriptor, input: FileDescriptor = .standardInput,
        output: FileDescriptor = .standardOutput
    ) -> End {
        var inputOpen = true
        while true {
            let fds = inputOpen ? [socket.rawValue, input.rawValue] : [socket.rawValue]
            guard let ready = try? Kernel.pollReadable(fds) else { return .socketClosed }
            if ready[0] {
                let bytes = (try? socket.read(upTo: 65536)) ?? []
                if bytes.isEmpty { return .socketClosed }
                do {
                    try output.writeAll(bytes)
                } catch {
                    return .outputClosed
                }
            }
            if inputOpen, ready.count > 1, ready[1] {
                let bytes = (try? input.read(upTo: 65536)) ?? []
                if bytes.isEmpty {
                    inputOpen = false
                    Socket.shutdownWrite(socket)
                } else if (try? socket.writeAll(bytes)) == nil {
                    return .socketClosed
                }
            }
        }
    }
}
