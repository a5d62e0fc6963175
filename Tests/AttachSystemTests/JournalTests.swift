import Testing

@testable import AttachSystem
@testable import AttachSystemd

#if canImport(Glibc)
    import Glibc
#endif

@Suite("journal field names and sending")
struct JournalTests {
    @Test(
        "valid field names",
        arguments: [
            "MESSAGE", "PRIORITY", "CODE_LINE", "ATTACHD_PROJECT", "A", "X9_", String(repeating: "A", count: 64),
        ])
    func valid(name: String) {
        #expect(Journal.isValidFieldName(name))
    }

    @Test(
        "invalid field names",
        arguments: [
            "", "_PID", "__CURSOR", "message", "Attachd", "9LIVES", "A=B", "A\nB", "ÜBER",
            String(repeating: "A", count: 65),
        ])
    func invalid(name: String) {
        #expect(!Journal.isValidFieldName(name))
    }

    @Test("send refuses an invalid name or an empty entry before touching the socket")
    func refuses() {
        #expect(throws: Errno.invalidArgument) { try Journal.send([Journal.Field("message", "lower case")]) }
        #expect(throws: Errno.invalidArgument) {
            try Journal.send([Journal.Field("MESSAGE", "ok"), Journal.Field("_PID", "1")])
        }
        #expect(throws: Errno.invalidArgument) { try Journal.send([]) }
    }

    @Test("isAvailable follows stat(2) of the journal socket")
    func availability() {
        var info = stat()
        let isSocket = stat(Journal.socketPath, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
        #expect(Journal.isAvailable == isSocket)
        if !isSocket {
            // libsystemd would report success here and drop the entry; send must not.
            #expect(throws: Errno.noSuchFile) { try Journal.send([Journal.Field("MESSAGE", "nobody listens")]) }
        }
    }
}
