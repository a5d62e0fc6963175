#if canImport(Glibc)
    import Glibc
#endif

/// A progress line drawn on a terminal must not outlive the program: interrupted with Ctrl-C,
/// it would stay on the screen under the shell's next prompt.
public enum TerminalLine {
    /// Installs SIGINT and SIGTERM handlers (signal(2)) that erase the current line on stderr
    /// (write(2) of `\r ESC[K`, async-signal-safe), then die of the signal as they would have.
    public static func eraseOnInterrupt() {
        signal(SIGINT, eraseAndDie)
        signal(SIGTERM, eraseAndDie)
    }
}

private func eraseAndDie(_ signalNumber: Int32) {
    let erase: StaticString = "\r\u{1B}[K"
    _ = write(STDERR_FILENO, erase.utf8Start, erase.utf8CodeUnitCount)
    signal(signalNumber, SIG_DFL)
    raise(signalNumber)
}
