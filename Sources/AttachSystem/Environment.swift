#if canImport(Glibc)
    import Glibc
#endif

/// The process environment.
///
/// setenv(3)/unsetenv(3) are not thread-safe against concurrent getenv(3) in other threads;
/// change the environment only at start-up or in serialized tests.
public enum Environment {
    /// getenv(3): the value of `name`, nil when unset.
    public static func get(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }

    /// setenv(3) with overwrite. Throws EINVAL for an empty name or one containing "=".
    public static func set(_ name: String, _ value: String) throws(Errno) {
        guard !name.isEmpty, !name.contains("=") else { throw .invalidArgument }
        _ = try syscall { setenv(name, value, 1) }
    }

    /// unsetenv(3). Throws EINVAL for an empty name or one containing "=".
    public static func unset(_ name: String) throws(Errno) {
        guard !name.isEmpty, !name.contains("=") else { throw .invalidArgument }
        _ = try syscall { unsetenv(name) }
    }
}
