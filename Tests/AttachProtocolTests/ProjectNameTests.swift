import AttachProtocol
import Testing

@Suite("ProjectName")
struct ProjectNameTests {
    @Test(
        "names of 1-64 characters of A-Z a-z 0-9 . _ - are valid",
        arguments: [
            "maxtools", "a", "Blender-4.1", "my_project", "...", ".hidden", "a..b", "-x", "_",
            "0123456789", String(repeating: "x", count: 64),
        ])
    func valid(name: String) {
        #expect(ProjectName.problem(with: name) == nil)
        #expect(ProjectName.isValid(name))
    }

    @Test(
        "names outside the pattern are refused with the pattern as the reason",
        arguments: [
            "", String(repeating: "x", count: 65), "a/b", "../x", "a b", "tab\there", "new\nline",
            "maxtоols",  // Cyrillic о
            "ｍaxtools",  // fullwidth m
            "cafe\u{301}",  // e + combining acute: one Character, two scalars
            "café",  // precomposed é
            "a\u{200B}b",  // zero-width space
            "name:1", "a*", "~x", "émoji🙂",
        ])
    func invalid(name: String) {
        #expect(ProjectName.problem(with: name) == "must be 1-64 characters of A-Z a-z 0-9 . _ -")
        #expect(!ProjectName.isValid(name))
    }

    @Test("a name with a NUL byte is refused as such", arguments: ["a\0b", "\0", "maxtools\0"])
    func nul(name: String) {
        #expect(ProjectName.problem(with: name) == "contains a NUL byte")
    }

    @Test(". and .. are refused: they are path components", arguments: [".", ".."])
    func dots(name: String) {
        #expect(ProjectName.problem(with: name) == "may not be . or ..")
    }

    @Test("the maximum length is 64")
    func maxLength() {
        #expect(ProjectName.maxLength == 64)
    }
}
