import AttachSystem
import CSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// The parts of sd-daemon(3) attachd uses: socket activation, the fd store, readiness and
/// watchdog notifications, and journal detection. All of them are no-ops outside systemd.
public enum Systemd {
    /// sd_listen_fds_with_names(3) with unset_environment = 1: the descriptors passed by socket
    /// activation or restored from the fd store (starting at 3), with their FileDescriptorName=
    /// names ("unknown" when unnamed). Empty when not started by systemd. The LISTEN_* variables
    /// are removed from the environment, so a second call returns nothing.
    public static func listenFDs() -> [(name: String, fd: FileDescriptor)] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        guard let count = try? systemdCall({ sd_listen_fds_with_names(1, &names) }), count > 0 else { return [] }
        defer {
            if let names {
                for index in 0..<Int(count) { free(names[index]) }
                free(names)
            }
        }
        return (0..<count).map { index in
            let name = names?[Int(index)].map { String(cString: $0) } ?? "unknown"
            return (name: name, fd: FileDescriptor(rawValue: SD_LISTEN_FDS_START + index))
        }
    }

    /// sd_notify(3) with unset_environment = 0. Returns true if a notification was sent
    /// (NOTIFY_SOCKET set and reachable), false otherwise; never throws.
    @discardableResult
    public static func notify(_ state: String) -> Bool {
        ((try? systemdCall { sd_notify(0, state) }) ?? 0) > 0
    }

    /// sd_pid_notify_with_fds(3) with pid 0 and unset_environment = 0: sends `state` together with
    /// `fds` (SCM_RIGHTS). Used for "FDSTORE=1\nFDNAME=...". Returns true if sent.
    @discardableResult
    public static func notify(_ state: String, fds: [FileDescriptor]) -> Bool {
        let raw = fds.map(\.rawValue)
        return raw.withUnsafeBufferPointer { buffer in
            ((try? systemdCall { sd_pid_notify_with_fds(0, 0, state, buffer.baseAddress, UInt32(buffer.count)) }) ?? 0)
                > 0
        }
    }

    /// sd_watchdog_enabled(3) with unset_environment = 0: the watchdog interval in microseconds
    /// if systemd asked for keep-alive pings ("WATCHDOG=1"), nil otherwise.
    public static func watchdogMicroseconds() -> UInt64? {
        var microseconds: UInt64 = 0
        guard let enabled = try? systemdCall({ sd_watchdog_enabled(0, &microseconds) }), enabled > 0,
            microseconds > 0
        else { return nil }
        return microseconds
    }

    /// True when JOURNAL_STREAM ("DEVICE:INODE") is set and names the device and inode of
    /// standard error (fstat(2)), i.e. stderr goes straight to the journal (sd-daemon(3)).
    public static var stderrIsJournal: Bool {
        guard let value = Environment.get("JOURNAL_STREAM") else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2,
            let device = UInt64(parts[0]),
            let inode = UInt64(parts[1]),
            let identity = try? FileDescriptor(rawValue: STDERR_FILENO).deviceAndInode()
        else { return false }
        return identity.device == device && identity.inode == inode
    }
}
