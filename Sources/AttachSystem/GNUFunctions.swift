#if canImport(Glibc)
    import Glibc
#endif

/// Functions glibc exports that Swift's Glibc module does not import: `accept4` is declared only
/// under _GNU_SOURCE, `pidfd_open` (glibc 2.36) lives in <sys/pidfd.h>, which the module map
/// leaves out, and the variadic `syscall(2)` is unavailable to Swift. Each is resolved once with
/// dlsym(3) and called through a `@convention(c)` pointer with its exact C prototype, so the call
/// is ABI-correct. Only `Kernel` calls these, through the errno funnel.
internal enum GNU {
    typealias Accept4 =
        @convention(c) (
            Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32
        ) -> Int32
    typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32

    /// `int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags)`.
    /// Present in every glibc since 2.10, so a missing symbol is a broken installation.
    static let accept4: Accept4 = {
        guard let function: Accept4 = lookup("accept4") else {
            fatalError("glibc does not export accept4")
        }
        return function
    }()

    /// `int pidfd_open(pid_t pid, unsigned int flags)`; nil before glibc 2.36.
    static let pidfdOpen: PidfdOpen? = lookup("pidfd_open")

    private static func lookup<F>(_ name: String) -> F? {
        guard let handle = dlopen(nil, RTLD_NOW | RTLD_NOLOAD) ?? dlopen(nil, RTLD_NOW),
            let symbol = dlsym(handle, name)
        else { return nil }
        return unsafeBitCast(symbol, to: F.self)
    }
}
