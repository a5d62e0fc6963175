import AttachProtocol
import Testing

@Suite("RendezvousLine")
struct RendezvousLineTests {
    @Test(
        "every valid assignment parses",
        arguments: [
            ("READY=1", RendezvousAssignment.ready),
            ("STOPPING=1", .stopping),
            ("DEBUG_PORT=5678", .debugPort(5678)),
            ("DEBUG_PORT=1", .debugPort(1)),
            ("DEBUG_PORT=65535", .debugPort(65535)),
            ("DEBUG_PORT=05678", .debugPort(5678)),
            ("DEBUG_PORT= 5678 ", .debugPort(5678)),
            ("MAINPID=4242", .mainPID(4242)),
            ("MAINPID=2147483647", .mainPID(Int32.max)),
            ("READY= 1\t", .ready),
            ("STATUS=Loading scene 3/7", .status("Loading scene 3/7")),
            ("STATUS=", .status("")),
            ("STATUS=  padded = kept  ", .status("  padded = kept  ")),
            ("STATUS=Blender 4.1 — é", .status("Blender 4.1 — é")),
            ("EXECUTABLE=/opt/blender/blender", .executable("/opt/blender/blender")),
            ("EXECUTABLE=", .executable("")),
            (
                "EXECUTABLE=C:\\Program Files\\Autodesk\\3ds Max 2024\\3dsmax.exe ",
                .executable("C:\\Program Files\\Autodesk\\3ds Max 2024\\3dsmax.exe ")
            ),
            ("PYTHON=/usr/bin/python3.11", .python("/usr/bin/python3.11")),
            ("PYTHON=", .python("")),
            ("PYTHON= /opt/py thon/bin/python3 ", .python(" /opt/py thon/bin/python3 ")),
            ("PYTHON=/home/é/bin/python3", .python("/home/é/bin/python3")),
        ])
    func valid(line: String, expected: RendezvousAssignment) {
        #expect(RendezvousLine.parse(line) == .success(expected))
    }

    @Test(
        "invalid values are refused, naming the key, the value and what was expected",
        arguments: [
            ("DEBUG_PORT=0", "DEBUG_PORT", "0", "DEBUG_PORT=0: expected a port number 1-65535"),
            ("DEBUG_PORT=99999", "DEBUG_PORT", "99999", "DEBUG_PORT=99999: expected a port number 1-65535"),
            ("DEBUG_PORT=65536", "DEBUG_PORT", "65536", "DEBUG_PORT=65536: expected a port number 1-65535"),
            ("DEBUG_PORT=-1", "DEBUG_PORT", "-1", "DEBUG_PORT=-1: expected a port number 1-65535"),
            ("DEBUG_PORT=+80", "DEBUG_PORT", "+80", "DEBUG_PORT=+80: expected a port number 1-65535"),
            ("DEBUG_PORT=abc", "DEBUG_PORT", "abc", "DEBUG_PORT=abc: expected a port number 1-65535"),
            ("DEBUG_PORT=", "DEBUG_PORT", "", "DEBUG_PORT=: expected a port number 1-65535"),
            ("DEBUG_PORT=56 78", "DEBUG_PORT", "56 78", "DEBUG_PORT=56 78: expected a port number 1-65535"),
            (
                "DEBUG_PORT=99999999999999999999999", "DEBUG_PORT", "99999999999999999999999",
                "DEBUG_PORT=99999999999999999999999: expected a port number 1-65535"
            ),
            ("DEBUG_PORT=٥٦٧٨", "DEBUG_PORT", "٥٦٧٨", "DEBUG_PORT=٥٦٧٨: expected a port number 1-65535"),
            ("MAINPID=-5", "MAINPID", "-5", "MAINPID=-5: expected a positive process ID (1-2147483647)"),
            ("MAINPID=0", "MAINPID", "0", "MAINPID=0: expected a positive process ID (1-2147483647)"),
            (
                "MAINPID=2147483648", "MAINPID", "2147483648",
                "MAINPID=2147483648: expected a positive process ID (1-2147483647)"
            ),
            ("READY=0", "READY", "0", "READY=0: expected 1"),
            ("READY=true", "READY", "true", "READY=true: expected 1"),
            ("READY=", "READY", "", "READY=: expected 1"),
            ("STOPPING=2", "STOPPING", "2", "STOPPING=2: expected 1"),
            ("STATUS=a\0b", "STATUS", "a\0b", #"STATUS=a\0b: expected text without NUL bytes"#),
            ("READY=1\0", "READY", "1\0", #"READY=1\0: expected 1"#),
            ("DEBUG_PORT=5678\0", "DEBUG_PORT", "5678\0", #"DEBUG_PORT=5678\0: expected a port number 1-65535"#),
            (
                "EXECUTABLE=/opt/app\0x", "EXECUTABLE", "/opt/app\0x",
                #"EXECUTABLE=/opt/app\0x: expected text without NUL bytes"#
            ),
            ("PYTHON=\0", "PYTHON", "\0", #"PYTHON=\0: expected text without NUL bytes"#),
        ])
    func invalidValue(line: String, key: String, value: String, description: String) {
        let expected: String
        switch key {
        case "DEBUG_PORT": expected = "a port number 1-65535"
        case "MAINPID": expected = "a positive process ID (1-2147483647)"
        case "STATUS", "EXECUTABLE", "PYTHON": expected = "text without NUL bytes"
        default: expected = "1"
        }
        let result = RendezvousLine.parse(line)
        #expect(result == .failure(.invalidValue(key: key, value: value, expected: expected)))
        guard case .failure(let error)? = result else { return }
        #expect(error.description == description)
    }

    @Test(
        "unknown keys are refused; keys are case-sensitive and not trimmed",
        arguments: [
            "FOO=1", "ready=1", "Ready=1", " READY=1", "READY =1", "=1", "WATCHDOG=1", "python=/usr/bin/python3",
        ])
    func unknownKey(line: String) throws {
        let key = String(line.split(separator: "=", omittingEmptySubsequences: false)[0])
        let result = RendezvousLine.parse(line)
        #expect(result == .failure(.unknownKey(key)))
        guard case .failure(let error)? = result else { return }
        #expect(
            error.description
                == "unknown key \"\(key)\": expected one of READY, STOPPING, DEBUG_PORT, MAINPID, STATUS, SESSION, EXECUTABLE, PYTHON"
        )
    }

    @Test("a line without = is not an assignment", arguments: ["READY", "hello world", "DEBUG_PORT 5678"])
    func notAnAssignment(line: String) throws {
        let result = RendezvousLine.parse(line)
        #expect(result == .failure(.notAnAssignment(line)))
        guard case .failure(let error)? = result else { return }
        #expect(error.description == "\"\(line)\": expected KEY=VALUE")
    }

    @Test("an = after a combining mark still splits the line at the scalar")
    func combiningMarkBeforeEquals() {
        #expect(
            RendezvousLine.parse("READY=\u{301}1")
                == .failure(
                    .invalidValue(key: "READY", value: "\u{301}1", expected: "1")))
    }

    @Test("an empty or blank line is ignored", arguments: ["", " ", "\t  "])
    func emptyLine(line: String) {
        #expect(RendezvousLine.parse(line) == nil)
    }

    @Test("control characters in a refused line are escaped in the description")
    func escapedDescription() {
        #expect(
            RendezvousLineError.notAnAssignment("a\u{1b}[31mb\r").description
                == #""a\u{1b}[31mb\r": expected KEY=VALUE"#)
    }

    @Test("OK reply is one line naming the session")
    func okReply() {
        #expect(RendezvousLine.ok(session: "maxtools-3") == Array("OK session=maxtools-3\n".utf8))
    }

    @Test("ERROR reply replaces newlines and NULs in the reason by spaces")
    func errorReply() {
        #expect(
            RendezvousLine.error("DEBUG_PORT=0: expected a port number 1-65535")
                == Array("ERROR DEBUG_PORT=0: expected a port number 1-65535\n".utf8))
        #expect(RendezvousLine.error("two\nlines\r\nand\0nul") == Array("ERROR two lines  and nul\n".utf8))
    }

    @Test("a refused line's description makes a one-line ERROR reply")
    func errorFromParse() throws {
        guard case .failure(let error)? = RendezvousLine.parse("STATUS=x\0y") else {
            Issue.record("expected a failure")
            return
        }
        let reply = RendezvousLine.error(error.description)
        #expect(reply.last == 0x0A)
        #expect(reply.dropLast().allSatisfy { $0 != 0x0A && $0 != 0 })
    }
}
