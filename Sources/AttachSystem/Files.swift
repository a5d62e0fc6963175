#if canImport(Glibc)
    import Glibc
#endif

/// Paths: atomic replacement, whole-file reads, private directories, sockets on disk.
public enum Files {
    /// Writes `bytes` to `path` atomically: open(2) a temporary file in the same directory
    /// (O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC), fchmod(2) it to exactly `mode` (umask does not
    /// apply), write everything, fsync(2), close(2), rename(2) it over `path`, then fsync(2) the
    /// directory. On any failure the temporary file is removed and `path` is left untouched.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: UInt32 = 0o600) throws(Errno) {
        let (directory, name) = split(path)
        guard !name.isEmpty else { throw .isDirectory }
        let temporary =
            directory + "/." + name + ".tmp-\(ProcessHandle.currentPID)-\(UInt32.random(in: 0...UInt32.max))"
        let fd = try Kernel.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        do throws(Errno) {
            let file = FileDescriptor(rawValue: fd)
            do throws(Errno) {
                try Kernel.fchmod(fd, mode)
                try file.writeAll(bytes)
                try Kernel.fsync(fd)
            } catch {
                closeQuietly(fd)
                throw error
            }
            if let error = file.close() { throw error }
            try Kernel.rename(temporary, path)
        } catch {
            _ = try? Kernel.unlink(temporary)
            throw error
        }
        try syncDirectory(directory)
    }

    /// open(2) O_RDONLY + read(2) until end of file: the whole file, nil if it does not exist.
    /// Works for /proc files, whose size is reported as 0.
    public static func read(_ path: String) throws(Errno) -> [UInt8]? {
        let fd: Int32
        do throws(Errno) {
            fd = try Kernel.open(path, O_RDONLY | O_CLOEXEC)
        } catch .noSuchFile {
            return nil
        }
        let file = FileDescriptor(rawValue: fd)
        defer { file.close() }
        var contents: [UInt8] = []
        while true {
            let chunk = try file.read(upTo: 64 * 1024)
            if chunk.isEmpty { return contents }
            contents += chunk
        }
    }

    /// mkdir -p through mkdir(2): creates `path` and any missing parents. Directories it creates
    /// are chmod(2)ed to exactly `mode` (umask does not apply); existing ones are left alone.
    /// Throws ENOTDIR if a component exists and is not a directory.
    public static func createDirectories(_ path: String, mode: UInt32 = 0o700) throws(Errno) {
        guard !path.isEmpty else { throw .noSuchFile }
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if component == "." || component == ".." { continue }
            do throws(Errno) {
                try Kernel.mkdir(prefix, mode)
                try Kernel.chmod(prefix, mode)
            } catch .fileExists {
                let info = try Kernel.stat(prefix)
                if info.st_mode & S_IFMT != S_IFDIR { throw .notDirectory }
            }
        }
    }

    /// lstat(2): checks that `path` is a real directory (not a symlink) owned by the current
    /// effective uid and not writable by group or others. Returns a human reason when it is not,
    /// nil when it is fine.
    public static func privateDirectoryProblem(_ path: String) -> String? {
        let info: stat
        do throws(Errno) {
            info = try Kernel.lstat(path)
        } catch {
            return "\(path): cannot lstat: \(error)"
        }
        let type = info.st_mode & S_IFMT
        if type == S_IFLNK { return "\(path) is a symbolic link, not a directory" }
        if type != S_IFDIR { return "\(path) is not a directory" }
        let uid = ProcessHandle.currentUID
        if info.st_uid != uid {
            return "\(path) is owned by uid \(info.st_uid), not by uid \(uid)"
        }
        let permissions = info.st_mode & 0o7777
        if permissions & 0o022 != 0 {
            return "\(path) is writable by group or others (mode 0\(String(permissions, radix: 8)))"
        }
        return nil
    }

    /// unlink(2)
    public static func unlink(_ path: String) throws(Errno) {
        try Kernel.unlink(path)
    }

    /// rename(2)
    public static func rename(_ from: String, _ to: String) throws(Errno) {
        try Kernel.rename(from, to)
    }

    /// lstat(2) succeeds: something is at `path` (a dangling symlink counts).
    public static func exists(_ path: String) -> Bool {
        (try? Kernel.lstat(path)) != nil
    }

    /// lstat(2) and S_ISSOCK: true if `path` exists and is a socket. With `followingLinks`,
    /// stat(2): a symlink to a socket counts too.
    public static func isSocket(_ path: String, followingLinks: Bool = false) -> Bool {
        guard let info = try? (followingLinks ? Kernel.stat(path) : Kernel.lstat(path)) else { return false }
        return info.st_mode & S_IFMT == S_IFSOCK
    }

    /// lstat(2) and S_ISDIR: true if `path` exists and is a directory (not a symlink to one).
    public static func isDirectory(_ path: String) -> Bool {
        guard let info = try? Kernel.lstat(path) else { return false }
        return info.st_mode & S_IFMT == S_IFDIR
    }

    /// lstat(2): the permission bits (mode & 0o7777), nil if nothing is at `path`.
    public static func permissions(_ path: String) -> UInt32? {
        guard let info = try? Kernel.lstat(path) else { return nil }
        return info.st_mode & 0o7777
    }

    /// chmod(2)
    public static func chmod(_ path: String, _ mode: UInt32) throws(Errno) {
        try Kernel.chmod(path, mode)
    }

    // MARK: Helpers

    /// ("dir", "name") for "dir/name"; (".", "name") for "name"; ("/", "name") for "/name".
    public static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let name = String(path[path.index(after: slash)...])
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, name)
    }

    /// open(2) O_RDONLY|O_DIRECTORY + fsync(2): makes a rename in `directory` durable.
    private static func syncDirectory(_ directory: String) throws(Errno) {
        let fd = try Kernel.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { closeQuietly(fd) }
        try Kernel.fsync(fd)
    }
}
