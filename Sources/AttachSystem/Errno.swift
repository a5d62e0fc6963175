#if canImport(Glibc)
    import Glibc
#endif

/// A POSIX error number, as left in `errno` by a failed system call or returned negated by libsystemd.
///
/// Every throwing function of AttachSystem throws exactly this type (`throws(Errno)`).
/// `description` reads like `"Address already in use (EADDRINUSE)"`.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    /// The raw `errno` value (always positive).
    public let rawValue: Int32

    /// Wraps a raw `errno` value.
    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// `strerror(3)` text followed by the symbolic name, e.g. `"Address already in use (EADDRINUSE)"`.
    public var description: String {
        let text = Errno.message(rawValue)
        if let name = symbolicName {
            return "\(text) (\(name))"
        }
        return "\(text) (errno \(rawValue))"
    }

    /// The symbolic name of the error (`"EADDRINUSE"`), or nil for a value this table does not know.
    public var symbolicName: String? {
        Errno.name(of: rawValue)
    }

    /// `strerror(3)`. glibc's strerror returns a pointer to constant text for every known error
    /// (only unknown values use a thread-local buffer), so it is safe to call from any thread.
    private static func message(_ value: Int32) -> String {
        guard let text = strerror(value) else { return "Unknown error \(value)" }
        return String(cString: text)
    }

    // MARK: The errors the daemon talks about

    /// EINTR: a signal interrupted the call. The internal funnel retries it, so callers rarely see it.
    public static let interrupted = Errno(rawValue: EINTR)
    /// EAGAIN (== EWOULDBLOCK on Linux): a non-blocking call would have to wait.
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    /// EADDRINUSE
    public static let addressInUse = Errno(rawValue: EADDRINUSE)
    /// EADDRNOTAVAIL
    public static let addressNotAvailable = Errno(rawValue: EADDRNOTAVAIL)
    /// ECONNREFUSED
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    /// ECONNABORTED
    public static let connectionAborted = Errno(rawValue: ECONNABORTED)
    /// ENOENT
    public static let noSuchFile = Errno(rawValue: ENOENT)
    /// EMFILE: this process is out of file descriptors.
    public static let tooManyOpenFiles = Errno(rawValue: EMFILE)
    /// ENFILE: the system is out of file descriptors.
    public static let fileTableFull = Errno(rawValue: ENFILE)
    /// EACCES
    public static let permissionDenied = Errno(rawValue: EACCES)
    /// EPERM
    public static let notPermitted = Errno(rawValue: EPERM)
    /// EPIPE
    public static let brokenPipe = Errno(rawValue: EPIPE)
    /// ECONNRESET
    public static let connectionReset = Errno(rawValue: ECONNRESET)
    /// EINVAL
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// ESRCH
    public static let noSuchProcess = Errno(rawValue: ESRCH)
    /// ETIMEDOUT
    public static let timedOut = Errno(rawValue: ETIMEDOUT)
    /// EOPNOTSUPP (== ENOTSUP on Linux)
    public static let notSupported = Errno(rawValue: EOPNOTSUPP)
    /// EPROTONOSUPPORT
    public static let protocolNotSupported = Errno(rawValue: EPROTONOSUPPORT)
    /// EAFNOSUPPORT
    public static let addressFamilyNotSupported = Errno(rawValue: EAFNOSUPPORT)
    /// EINPROGRESS
    public static let inProgress = Errno(rawValue: EINPROGRESS)
    /// ENOTCONN
    public static let notConnected = Errno(rawValue: ENOTCONN)
    /// EEXIST
    public static let fileExists = Errno(rawValue: EEXIST)
    /// ENOBUFS
    public static let noBufferSpace = Errno(rawValue: ENOBUFS)
    /// ENOMEM
    public static let noMemory = Errno(rawValue: ENOMEM)
    /// EBADF
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    /// ENAMETOOLONG (also thrown for an AF_UNIX path longer than `sun_path`)
    public static let nameTooLong = Errno(rawValue: ENAMETOOLONG)
    /// ENOTDIR
    public static let notDirectory = Errno(rawValue: ENOTDIR)
    /// EISDIR
    public static let isDirectory = Errno(rawValue: EISDIR)
    /// ENOSYS
    public static let notImplemented = Errno(rawValue: ENOSYS)
    /// EIO
    public static let ioError = Errno(rawValue: EIO)
    /// EPROTO
    public static let protocolError = Errno(rawValue: EPROTO)

    // MARK: Symbolic names

    // A switch over the Glibc constants, so the compiler checks every value.
    private static func name(of value: Int32) -> String? {
        switch value {
        case EPERM: "EPERM"
        case ENOENT: "ENOENT"
        case ESRCH: "ESRCH"
        case EINTR: "EINTR"
        case EIO: "EIO"
        case ENXIO: "ENXIO"
        case E2BIG: "E2BIG"
        case ENOEXEC: "ENOEXEC"
        case EBADF: "EBADF"
        case ECHILD: "ECHILD"
        case EAGAIN: "EAGAIN"
        case ENOMEM: "ENOMEM"
        case EACCES: "EACCES"
        case EFAULT: "EFAULT"
        case EBUSY: "EBUSY"
        case EEXIST: "EEXIST"
        case EXDEV: "EXDEV"
        case ENODEV: "ENODEV"
        case ENOTDIR: "ENOTDIR"
        case EISDIR: "EISDIR"
        case EINVAL: "EINVAL"
        case ENFILE: "ENFILE"
        case EMFILE: "EMFILE"
        case ENOTTY: "ENOTTY"
        case ETXTBSY: "ETXTBSY"
        case EFBIG: "EFBIG"
        case ENOSPC: "ENOSPC"
        case ESPIPE: "ESPIPE"
        case EROFS: "EROFS"
        case EMLINK: "EMLINK"
        case EPIPE: "EPIPE"
        case EDOM: "EDOM"
        case ERANGE: "ERANGE"
        case EDEADLK: "EDEADLK"
        case ENAMETOOLONG: "ENAMETOOLONG"
        case ENOLCK: "ENOLCK"
        case ENOSYS: "ENOSYS"
        case ENOTEMPTY: "ENOTEMPTY"
        case ELOOP: "ELOOP"
        case ENODATA: "ENODATA"
        case ETIME: "ETIME"
        case EPROTO: "EPROTO"
        case EOVERFLOW: "EOVERFLOW"
        case EILSEQ: "EILSEQ"
        case ENOTSOCK: "ENOTSOCK"
        case EDESTADDRREQ: "EDESTADDRREQ"
        case EMSGSIZE: "EMSGSIZE"
        case EPROTOTYPE: "EPROTOTYPE"
        case ENOPROTOOPT: "ENOPROTOOPT"
        case EPROTONOSUPPORT: "EPROTONOSUPPORT"
        case ESOCKTNOSUPPORT: "ESOCKTNOSUPPORT"
        case EOPNOTSUPP: "EOPNOTSUPP"
        case EPFNOSUPPORT: "EPFNOSUPPORT"
        case EAFNOSUPPORT: "EAFNOSUPPORT"
        case EADDRINUSE: "EADDRINUSE"
        case EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case ENETDOWN: "ENETDOWN"
        case ENETUNREACH: "ENETUNREACH"
        case ENETRESET: "ENETRESET"
        case ECONNABORTED: "ECONNABORTED"
        case ECONNRESET: "ECONNRESET"
        case ENOBUFS: "ENOBUFS"
        case EISCONN: "EISCONN"
        case ENOTCONN: "ENOTCONN"
        case ESHUTDOWN: "ESHUTDOWN"
        case ETOOMANYREFS: "ETOOMANYREFS"
        case ETIMEDOUT: "ETIMEDOUT"
        case ECONNREFUSED: "ECONNREFUSED"
        case EHOSTDOWN: "EHOSTDOWN"
        case EHOSTUNREACH: "EHOSTUNREACH"
        case EALREADY: "EALREADY"
        case EINPROGRESS: "EINPROGRESS"
        case ESTALE: "ESTALE"
        case EDQUOT: "EDQUOT"
        case ECANCELED: "ECANCELED"
        default: nil
        }
    }
}
