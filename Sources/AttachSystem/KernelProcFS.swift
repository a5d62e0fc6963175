#if canImport(Glibc)
import Glibc
#endif

// The raw calls that read processes through /proc, behind the same funnel as Kernel.swift.
extension Kernel {
    /// readlink(2) into `buffer`: the number of bytes of the link text stored (not
    /// NUL-terminated; silently truncated to the buffer's size, which is fine for prefixes).
    static func readlink(_ path: String, _ buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try syscall {
            Glibc.readlink(path, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count)
        }
    }
}
