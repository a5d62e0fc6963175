import ArgumentParser
import Testing

@testable import attachctl

/// `QuickCommand` is a shortcut past ArgumentParser for `wait` and `status`: whatever it accepts,
/// ArgumentParser must parse to the same request, and what ArgumentParser rejects it must leave
/// to ArgumentParser (so the error message stays ArgumentParser's).
@Suite("QuickCommand: the F5 fast path agrees with ArgumentParser")
struct QuickCommandTests {
    /// ArgumentParser's reading of `arguments` as a request, nil when it rejects them or they
    /// are neither `wait` nor `status`.
    static func argumentParser(_ arguments: [String]) -> QuickCommand? {
        guard let command = try? AttachCtl.parseAsRoot(arguments) else { return nil }
        if let wait = command as? Wait {
            return .wait(
                WaitRequest(socket: wait.global.socket, json: wait.output.json, name: wait.name, timeout: wait.timeout))
        }
        if let status = command as? Status {
            return .status(StatusRequest(socket: status.global.socket, json: status.output.json))
        }
        return nil
    }

    static let tokens = [
        "wait", "status", "p", "list", "--socket", "/tmp/s", "--socket=/tmp/x", "--socket=", "--json",
        "--timeout", "3", "--timeout=0.5", "-1", "nan", "-h", "--help", "--", "bad/name", "--version",
    ]

    static let pieces: [[String]] = [
        ["wait"], ["status"], ["p"], ["maxtools"], ["--socket", "/tmp/s"], ["--socket=/tmp/x"], ["--json"],
        ["--timeout", "3"], ["--timeout=0.5"], ["--timeout", "0"],
    ]

    @Test("the plain forms take the fast path, with global options before or after the subcommand")
    func plainFormsAreQuick() {
        let cases: [([String], QuickCommand)] = [
            (["wait", "maxtools"], .wait(WaitRequest(socket: nil, json: false, name: "maxtools", timeout: nil))),
            (
                ["wait", "maxtools", "--timeout", "30"],
                .wait(WaitRequest(socket: nil, json: false, name: "maxtools", timeout: 30))
            ),
            (
                ["wait", "--timeout=0", "maxtools"],
                .wait(WaitRequest(socket: nil, json: false, name: "maxtools", timeout: 0))
            ),
            (
                ["--socket", "/run/s", "wait", "p", "--json"],
                .wait(WaitRequest(socket: "/run/s", json: true, name: "p", timeout: nil))
            ),
            (
                ["wait", "--socket", "/run/s", "p", "--timeout", "30"],
                .wait(WaitRequest(socket: "/run/s", json: false, name: "p", timeout: 30))
            ),
            (["status"], .status(StatusRequest(socket: nil, json: false))),
            (["--json", "status", "--socket=/x"], .status(StatusRequest(socket: "/x", json: true))),
        ]
        for (arguments, expected) in cases {
            #expect(QuickCommand.parse(arguments) == expected, "\(arguments)")
            #expect(Self.argumentParser(arguments) == expected, "\(arguments)")
        }
    }

    @Test("help, version, other commands, repeats and bad values are left to ArgumentParser")
    func othersAreNot() {
        let cases: [[String]] = [
            [], ["wait"], ["wait", "-h"], ["status", "--help"], ["--version"], ["list"], ["wait", "a", "b"],
            ["wait", "p", "--timeout", "-1"], ["wait", "p", "--timeout", "nan"], ["wait", "p", "--timeout"],
            ["wait", "bad/name"], ["wait", "--", "p"], ["status", "--json", "--json"],
            ["--socket", "a", "status", "--socket", "b"], ["--timeout", "3", "wait", "p"], ["status", "x"],
            ["wait", "p", "--json=true"], ["--generate-completion-script", "bash"], ["wait", "p", "--socket="],
        ]
        for arguments in cases {
            #expect(QuickCommand.parse(arguments) == nil, "\(arguments)")
        }
    }

    @Test("every command line of up to three tokens: the fast path accepts only what ArgumentParser reads the same")
    func exhaustiveAgreement() {
        var lines: [[String]] = [[]]
        for _ in 0..<3 {
            lines += lines.filter { $0.count == lines.last!.count }.flatMap { line in Self.tokens.map { line + [$0] } }
        }
        var quick = 0
        for line in lines {
            guard let fast = QuickCommand.parse(line) else { continue }
            quick += 1
            #expect(Self.argumentParser(line) == fast, "\(line)")
        }
        #expect(quick > 50)
    }

    @Test("longer command lines, a fixed pseudo-random sample")
    func sampledAgreement() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        var quick = 0
        for _ in 0..<3000 {
            // Whole options as pieces, so that many lines are plain forms; now and then a loose token.
            let line = (0..<(3 + next(4))).flatMap { _ in
                next(5) == 0 ? [Self.tokens[next(Self.tokens.count)]] : Self.pieces[next(Self.pieces.count)]
            }
            guard let fast = QuickCommand.parse(line) else { continue }
            quick += 1
            #expect(Self.argumentParser(line) == fast, "\(line)")
        }
        #expect(quick > 40)
    }
}
