/// The errors of `org.varlink.service` and `io.attachd.Broker`, by name.
extension VarlinkError {
    public static let brokerInterface = "io.attachd.Broker"
    public static let serviceInterface = "org.varlink.service"

    public static func methodNotFound(_ method: String) -> VarlinkError {
        VarlinkError(.methodNotFound, ["method": .string(method)])
    }
    public static func interfaceNotFound(_ interface: String) -> VarlinkError {
        VarlinkError(.interfaceNotFound, ["interface": .string(interface)])
    }
    public static func invalidParameter(_ parameter: String) -> VarlinkError {
        VarlinkError(.invalidParameter, ["parameter": .string(parameter)])
    }
    public static func expectedMore() -> VarlinkError {
        VarlinkError(.expectedMore)
    }
    public static func projectNotFound(_ name: String) -> VarlinkError {
        VarlinkError(.projectNotFound, ["name": .string(name)])
    }
    public static func projectExists(_ name: String) -> VarlinkError {
        VarlinkError(.projectExists, ["name": .string(name)])
    }
    public static func invalidProjectName(_ name: String, reason: String) -> VarlinkError {
        VarlinkError(.invalidProjectName, ["name": .string(name), "reason": .string(reason)])
    }
    public static func invalidPort(_ port: Int) -> VarlinkError {
        VarlinkError(.invalidPort, ["port": .number(Double(port))])
    }
    public static func sessionNotFound(_ id: String) -> VarlinkError {
        VarlinkError(.sessionNotFound, ["id": .string(id)])
    }
    public static func timeout(project: String, seconds: Double) -> VarlinkError {
        VarlinkError(.timeout, ["project": .string(project), "seconds": .number(seconds)])
    }
    public static func addressInUse(_ address: String) -> VarlinkError {
        VarlinkError(.addressInUse, ["address": .string(address)])
    }
    /// A port a project asked for is one attachd or another project already uses: which port,
    /// whose (`project`), as what (`role`: attach, debug or rendezvous) and which option of
    /// the new project to change (`option`, e.g. `--debug-port`).
    public static func portInUse(_ port: Int, project: String, role: String, option: String) -> VarlinkError {
        VarlinkError(
            .addressInUse,
            [
                "address": .string("127.0.0.1:\(port)"), "port": .number(Double(port)),
                "project": .string(project), "role": .string(role), "option": .string(option),
            ])
    }
    public static func projectRemoved(_ name: String) -> VarlinkError {
        VarlinkError(.projectRemoved, ["name": .string(name)])
    }
    /// The change is in effect but `projects.json` (`file`) could not be written.
    public static func notSaved(file: String, reason: String) -> VarlinkError {
        VarlinkError(.notSaved, ["file": .string(file), "reason": .string(reason)])
    }
    public static func shuttingDown() -> VarlinkError {
        VarlinkError(.shuttingDown)
    }
    public static func permissionDenied(uid: UInt32) -> VarlinkError {
        VarlinkError(.permissionDenied, ["uid": .number(Double(uid))])
    }
    public static func tooManyConnections(limit: Int) -> VarlinkError {
        VarlinkError(.tooManyConnections, ["limit": .number(Double(limit))])
    }
    public static func messageTooLarge(limit: Int) -> VarlinkError {
        VarlinkError(.messageTooLarge, ["limit": .number(Double(limit))])
    }
}
