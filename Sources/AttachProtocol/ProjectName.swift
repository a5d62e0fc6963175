/// The rule for project names: `[A-Za-z0-9._-]{1,64}`, except `.` and `..`.
///
/// A name becomes a path component (`projects/NAME.sock`) and a word on command lines, so the
/// rule is checked on Unicode scalars, never on `Character`s: a combining mark or a look-alike
/// letter cannot sneak in behind an ASCII one.
public enum ProjectName {
    /// The longest name, in characters (which are all ASCII, so also bytes).
    public static let maxLength = 64

    /// What ``problem(with:)`` says of a name outside the pattern.
    public static let patternProblem = "must be 1-\(maxLength) characters of A-Z a-z 0-9 . _ -"

    /// nil when valid, else a human reason ("must be 1-64 characters of A-Z a-z 0-9 . _ -",
    /// "contains a NUL byte", "may not be . or ..").
    public static func problem(with name: String) -> String? {
        let scalars = name.unicodeScalars
        if scalars.contains("\0") { return "contains a NUL byte" }
        var count = 0
        for scalar in scalars {
            guard isAllowed(scalar) else { return patternProblem }
            count += 1
        }
        guard (1...maxLength).contains(count) else { return patternProblem }
        if name == "." || name == ".." { return "may not be . or .." }
        return nil
    }

    /// Whether `name` is a valid project name.
    public static func isValid(_ name: String) -> Bool {
        problem(with: name) == nil
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39: return true  // A-Z a-z 0-9
        case 0x2E, 0x5F, 0x2D: return true  // . _ -
        default: return false
        }
    }
}
