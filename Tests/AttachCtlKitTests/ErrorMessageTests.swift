import AttachClient
import AttachCtlKit
import AttachProtocol
import Testing

@Suite("Error messages and exit codes")
struct ErrorMessageTests {
    @Test("every error name of the interfaces has its own message")
    func everyNameHasAMessage() {
        for name in BrokerErrorName.allCases {
            let text = ErrorMessages.describe(VarlinkError(name))
            #expect(!text.hasPrefix("attachd answered with an error"), "\(name.rawValue): \(text)")
        }
        #expect(
            ErrorMessages.describe(VarlinkError("io.attachd.Broker.FromTheFuture")).hasPrefix(
                "attachd answered with an error"))
    }

    @Test("TooManyConnections names the limit and what to do; it is a temporary failure")
    func tooManyConnections() {
        let error = ClientError.remote(.tooManyConnections(limit: 2048))
        let text = ErrorMessages.describe(error)
        #expect(text.contains("2048"))
        #expect(text.contains("--max-connections"))
        #expect(ExitStatus.code(for: error) == ExitStatus.tempFail)
    }

    @Test("a port clash names the port, whose it is, as what, and the option to change")
    func portClash() {
        let text = ErrorMessages.describe(
            VarlinkError.portInUse(5678, project: "blend", role: "attach", option: "--debug-port"))
        #expect(
            text
                == "port 5678 is already the attach port of project 'blend' (attachd listens there for the IDE); choose another --debug-port"
        )
        let own = ErrorMessages.describe(
            VarlinkError.portInUse(20013, project: "x", role: "attach", option: "--debug-port"))
        #expect(!own.contains("--rendezvous-port"))
        #expect(!ErrorMessages.describe(VarlinkError.invalidPort(0)).contains("rendezvous"))
    }

    @Test("a refused parameter says what is allowed")
    func refusedParameters() {
        #expect(ErrorMessages.describe(VarlinkError.invalidParameter("readyTimeout")).contains("at most 86400 seconds"))
        #expect(
            ErrorMessages.describe(VarlinkError.invalidParameter("debugHost")).contains("does not resolve host names"))
    }

    @Test("exit codes follow the documented table")
    func exitCodes() {
        #expect(ExitStatus.code(for: .remote(.projectNotFound("x"))) == 3)
        #expect(ExitStatus.code(for: .remote(.projectRemoved("x"))) == 3)
        #expect(ExitStatus.code(for: .remote(.timeout(project: "x", seconds: 1))) == 124)
        #expect(ExitStatus.code(for: .remote(.shuttingDown())) == 75)
        #expect(ExitStatus.code(for: .connectionLost) == 75)
        #expect(ExitStatus.code(for: .unreachable(path: "/x", .noSuchFile)) == 69)
        #expect(ExitStatus.code(for: .remote(.invalidPort(0))) == 1)
    }
}
