/// A process that holds a socket: its pid and `/proc/PID/comm`.
public struct SocketHolder: Hashable, Sendable {
    /// The process id.
    public var pid: Int32
    /// The command name from `/proc/PID/comm` (at most 15 bytes), nil if it could not be read.
    public var command: String?

    /// A holder with these fields.
    public init(pid: Int32, command: String?) {
        self.pid = pid
        self.command = command
    }
}

/// Processes and the sockets they hold, read from /proc.
///
/// Every function answers from one pass over /proc at the time of the call; a process that
/// exits meanwhile simply drops out of the answer (its /proc entries vanish, ENOENT/ESRCH).
public enum ProcessTree {
    /// `pid` and all its descendants, `pid` first, breadth-first. Children come from
    /// `/proc/P/task/*/children` (every thread's children); when the kernel has no such file
    /// (CONFIG_PROC_CHILDREN off) from one scan of the ppid field of every `/proc/*/stat`.
    /// Empty when `pid` is gone.
    public static func members(of pid: Int32) -> [Int32] {
        guard pid > 0, Files.exists("/proc/\(pid)") else { return [] }
        var byScan: [Int32: [Int32]]?
        var members: [Int32] = [pid]
        var seen: Set<Int32> = [pid]
        var next = 0
        while next < members.count {
            let parent = members[next]
            next += 1
            let children: [Int32]
            if byScan == nil, let listed = childrenFromTasks(of: parent) {
                children = listed
            } else {
                if byScan == nil { byScan = childrenByParentScan() }
                children = byScan?[parent] ?? []
            }
            for child in children where seen.insert(child).inserted {
                members.append(child)
            }
        }
        return members
    }

    /// The inodes of the sockets `pid` holds: readlink(2) of every `/proc/PID/fd/N` whose link
    /// text is `socket:[INODE]`. Empty when the process is gone or its fds cannot be read
    /// (another user's process).
    public static func socketInodes(of pid: Int32) -> [UInt64] {
        let directory = "/proc/\(pid)/fd/"
        guard let names = try? Kernel.directoryEntries(directory) else { return [] }
        var inodes: [UInt64] = []
        withLinkBuffer { buffer in
            for name in names {
                if let inode = socketInode(directory + name, buffer) { inodes.append(inode) }
            }
        }
        return inodes
    }

    /// `/proc/PID/comm` without its newline; nil when the process is gone.
    public static func command(of pid: Int32) -> String? {
        guard let bytes = try? Files.read("/proc/\(pid)/comm") else { return nil }
        var text = bytes[...]
        if text.last == UInt8(ascii: "\n") { text = text.dropLast() }
        return String(decoding: text, as: UTF8.self)
    }

    /// The value of `name` in the environment `pid` was started with (`/proc/PID/environ`),
    /// nil when it is not there or cannot be read (another user's process).
    public static func environmentValue(_ name: String, of pid: Int32) -> String? {
        guard let bytes = try? Files.read("/proc/\(pid)/environ") else { return nil }
        let prefix = Array((name + "=").utf8)
        for entry in bytes.split(separator: 0, omittingEmptySubsequences: true) where entry.starts(with: prefix) {
            return String(decoding: entry.dropFirst(prefix.count), as: UTF8.self)
        }
        return nil
    }

    /// Whether a process outside `excluding` was started with `name=value` in its environment
    /// (every `/proc/*/environ` this user may read: costly, so callers cache the answer).
    public static func anyProcess(carrying name: String, value: String, excluding: Set<Int32>) -> Bool {
        guard let entries = try? Kernel.directoryEntries("/proc") else { return false }
        let wanted = Array((name + "=" + value).utf8)
        for pid in newestFirst(entries) where !excluding.contains(pid) {
            guard let bytes = try? Files.read("/proc/\(pid)/environ") else { continue }
            if bytes.split(separator: 0, omittingEmptySubsequences: true).contains(where: { $0.elementsEqual(wanted) })
            {
                return true
            }
        }
        return false
    }

    /// The pids among `/proc`'s entries, highest (most recently started, until pids wrap) first.
    static func newestFirst(_ entries: [String]) -> [Int32] {
        entries.compactMap { Int32($0) }.sorted(by: >)
    }

    /// The first process found holding the socket `inode`: every `/proc/*/fd/*` of every
    /// process this user may read, skipping `excluding`. Costly (one readlink(2) per open file
    /// of the machine), so callers cache the answer. nil when no readable process holds it.
    public static func holder(of inode: UInt64, excluding: Set<Int32> = []) -> SocketHolder? {
        guard let entries = try? Kernel.directoryEntries("/proc") else { return nil }
        var found: Int32?
        withLinkBuffer { buffer in
            // Newest first: the holder asked about is most often a process that just started
            // (debugpy's adapter, a moment ago), and the walk stops at the first match.
            func holds(_ pid: Int32) -> Bool {
                let directory = "/proc/\(pid)/fd/"
                guard let names = try? Kernel.directoryEntries(directory) else { return false }
                return names.contains { socketInode(directory + $0, buffer) == inode }
            }
            for pid in newestFirst(entries) where !excluding.contains(pid) && holds(pid) {
                found = pid
                break
            }
            // A socket shared with children (inherited across fork) is named by the ancestor
            // that had it first, not by whichever child the newest-first walk met.
            while let child = found, let stat = try? Files.read("/proc/\(child)/stat"),
                let parent = parentPID(fromStat: stat), parent > 1, !excluding.contains(parent), holds(parent)
            {
                found = parent
            }
        }
        return found.map { SocketHolder(pid: $0, command: command(of: $0)) }
    }

    // MARK: Helpers

    /// The children of every thread of `pid`; nil when the children file does not exist.
    static func childrenFromTasks(of pid: Int32) -> [Int32]? {
        guard let tasks = try? Kernel.directoryEntries("/proc/\(pid)/task") else { return [] }
        var children: [Int32] = []
        for task in tasks {
            let contents: [UInt8]?
            do throws(Errno) {
                contents = try Files.read("/proc/\(pid)/task/\(task)/children")
            } catch {
                continue  // the thread ended meanwhile
            }
            guard let contents else {
                // The task directory exists but has no children file: the kernel lacks it.
                if Files.exists("/proc/\(pid)/task/\(task)") { return nil }
                continue
            }
            children += parsePIDs(contents)
        }
        return children
    }

    /// parent -> children from the ppid field (the 4th) of every `/proc/P/stat`.
    static func childrenByParentScan() -> [Int32: [Int32]] {
        var children: [Int32: [Int32]] = [:]
        for entry in (try? Kernel.directoryEntries("/proc")) ?? [] {
            guard let pid = Int32(entry),
                let stat = try? Files.read("/proc/\(entry)/stat"),
                let parent = parentPID(fromStat: stat)
            else { continue }
            children[parent, default: []].append(pid)
        }
        return children
    }

    /// The ppid in a `/proc/P/stat` line, "PID (COMM) STATE PPID ...": COMM may hold spaces
    /// and parentheses, so the fields are counted from the last ')'.
    static func parentPID(fromStat stat: [UInt8]) -> Int32? {
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = stat[(close + 1)...].split(separator: UInt8(ascii: " "), maxSplits: 3)
        guard fields.count >= 2 else { return nil }
        return Int32(String(decoding: fields[1], as: UTF8.self))
    }

    /// Space-separated decimal pids ("123 456 ").
    static func parsePIDs(_ contents: [UInt8]) -> [Int32] {
        contents.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") })
            .compactMap { Int32(String(decoding: $0, as: UTF8.self)) }
    }

    /// INODE from the link text "socket:[INODE]", or nil for any other kind of file.
    static func socketInode(fromLink text: UnsafeRawBufferPointer) -> UInt64? {
        let prefix = "socket:[".utf8
        guard text.count > prefix.count + 1, text.starts(with: prefix), text.last == UInt8(ascii: "]")
        else { return nil }
        var value: UInt64 = 0
        for byte in text[prefix.count..<(text.count - 1)] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value &* 10 &+ UInt64(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private static func socketInode(_ path: String, _ buffer: UnsafeMutableRawBufferPointer) -> UInt64? {
        guard let length = try? Kernel.readlink(path, buffer) else { return nil }
        return socketInode(fromLink: UnsafeRawBufferPointer(rebasing: buffer[..<length]))
    }

    /// "socket:[18446744073709551615]" is 29 bytes; anything longer is not a socket.
    private static func withLinkBuffer(_ body: (UnsafeMutableRawBufferPointer) -> Void) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
        defer { buffer.deallocate() }
        body(buffer)
    }
}
