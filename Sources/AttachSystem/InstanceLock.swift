#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive flock(2) on a file, held from `acquire` until the process exits (the kernel
/// releases it then, whatever the exit). The file says who holds it: the holder's pid and its
/// control socket, one a line, for the message another process shows when it finds the lock
/// taken. The descriptor is close-on-exec, so no child process keeps the lock alive.
public struct InstanceLock: Sendable {
    public let path: String
    public let fd: FileDescriptor

    /// Who holds a lock, as its file says.
    public struct Holder: Sendable, Equatable {
        public var pid: Int32?
        public var controlSocket: String?
    }

    /// Why a lock could not be taken.
    public enum Failure: Error, Sendable, Equatable {
        /// Another process holds it.
        case held(by: Holder)
        /// The file cannot be opened or locked.
        case failed(Errno)
    }

    /// open(2) O_RDWR|O_CREAT|O_CLOEXEC (mode 0600) + flock(2) LOCK_EX|LOCK_NB; once taken, the
    /// file is truncated (ftruncate(2)) and given our pid and `controlSocket`. When another
    /// process holds it, its file is read for `Holder`.
    public static func acquire(_ path: String, controlSocket: String) throws(Failure) -> InstanceLock {
        let raw: Int32
        do {
            raw = try Kernel.open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        } catch {
            throw .failed(error)
        }
        let fd = FileDescriptor(rawValue: raw)
        do throws(Errno) {
            try Kernel.flock(raw, LOCK_EX | LOCK_NB)
        } catch .wouldBlock {
            fd.close()
            throw .held(by: holder(path))
        } catch {
            fd.close()
            throw .failed(error)
        }
        do throws(Errno) {
            try Kernel.ftruncate(raw, 0)
            try fd.writeAll(Array("\(ProcessHandle.currentPID)\n\(controlSocket)\n".utf8))
        } catch {
            // The lock is ours; only the words for others are missing.
        }
        return InstanceLock(path: path, fd: fd)
    }

    /// What the lock file at `path` says of its holder.
    public static func holder(_ path: String) -> Holder {
        guard let bytes = try? Files.read(path) else { return Holder() }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let pid = lines.first.flatMap { Int32($0) }
        let socket = lines.count > 1 && !lines[1].isEmpty ? String(lines[1]) : nil
        return Holder(pid: pid, controlSocket: socket)
    }
}
