#if canImport(Glibc)
    import Glibc
#endif

extension Kernel {
    /// ioctl(2) TIOCGWINSZ: the window size of the terminal on `fd`.
    static func windowSize(_ fd: Int32) throws(Errno) -> winsize {
        var size = winsize()
        _ = try syscall { withUnsafeMutablePointer(to: &size) { Glibc.ioctl(fd, UInt(TIOCGWINSZ), $0) } }
        return size
    }
}

extension FileDescriptor {
    /// ioctl(2) TIOCGWINSZ: the width in columns of the terminal this descriptor is, nil when
    /// it is not a terminal or the terminal does not say (0 columns).
    public var terminalColumns: Int? {
        guard let size = try? Kernel.windowSize(rawValue), size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }
}
