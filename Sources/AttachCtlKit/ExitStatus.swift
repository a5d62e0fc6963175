import AttachClient
import AttachProtocol

/// Exit codes of attachctl (sysexits(3) where one fits, 124 as timeout(1)).
public enum ExitStatus {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    /// The project does not exist, or was removed while waiting.
    public static let unknownProject: Int32 = 3
    /// EX_USAGE: bad command line.
    public static let usage: Int32 = 64
    /// EX_UNAVAILABLE: no daemon listening.
    public static let unavailable: Int32 = 69
    /// EX_TEMPFAIL: the daemon went away mid-call.
    public static let tempFail: Int32 = 75
    /// As timeout(1): nothing became ready in time.
    public static let timeout: Int32 = 124

    /// The exit code for `error`.
    public static func code(for error: ClientError) -> Int32 {
        switch error {
        case .unreachable: return unavailable
        case .connectionLost: return tempFail
        case .deadlineExceeded: return timeout
        case .protocolViolation: return failure
        case .remote(let remote):
            switch remote.knownName {
            case .projectNotFound, .projectRemoved: return unknownProject
            case .timeout: return timeout
            case .shuttingDown, .tooManyConnections: return tempFail
            default: return failure
            }
        }
    }
}
