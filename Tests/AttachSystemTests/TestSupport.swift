import Testing

@testable import AttachSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh private directory under /tmp (mkdtemp), removed with its contents by `remove()`.
struct TemporaryDirectory: ~Copyable {
    let path: String

    init() {
        var template = Array("/tmp/attachsystem-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit {
        Self.removeTree(path)
    }

    private static func removeTree(_ path: String) {
        if Files.isDirectory(path) {
            for name in (try? Kernel.directoryEntries(path)) ?? [] {
                removeTree(path + "/" + name)
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// Waits for `fd` to become readable, failing the test after `seconds`.
func expectReadable(
    _ fd: FileDescriptor, within seconds: Double = 5,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let readable = try fd.waitReadable(timeoutMilliseconds: Int32(seconds * 1000))
    #expect(readable, "\(fd) did not become readable within \(seconds) s", sourceLocation: sourceLocation)
}

/// posix_spawn(3)s `path` with no arguments beyond argv[0]; returns the child's pid.
func spawn(_ path: String, _ arguments: [String] = []) -> pid_t {
    var pid: pid_t = 0
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let status = posix_spawn(&pid, path, nil, nil, argv, environ)
    precondition(status == 0, "posix_spawn \(path) failed: \(status)")
    return pid
}

/// waitpid(2), retrying EINTR; returns the raw wait status.
@discardableResult
func reap(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    return status
}
