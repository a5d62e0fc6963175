/// attachd's version: the one place both binaries, `GetInfo`, `GetStatus` and the Debian
/// package read it from.
public enum AttachdVersion {
    /// The release, as `attachd --version` and `attachctl --version` print it.
    public static let current = "0.2.0"
}
