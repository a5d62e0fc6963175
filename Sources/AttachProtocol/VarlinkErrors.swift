/// The errors of `org.varlink.service` and `io.attachd.Broker`, by name.
extension VarlinkError {
    public static let brokerInterface = "io.attachd.Broker"
    public static let serviceInterface = "org.varlink.service"

    public static func methodNotFound(_ method: String) -> VarlinkError {
        VarlinkError("org.varlink.service.MethodNotFound", ["method": .string(method)])
    }
    public static func interfaceNotFound(_ interface: String) -> VarlinkError {
        VarlinkError("org.varlink.service.InterfaceNotFound", ["interface": .string(interface)])
    }
    public static func invalidParameter(_ parameter: String) -> VarlinkError {
        VarlinkError("org.varlink.service.InvalidParameter", ["parameter": .string(parameter)])
    }
    public static func expectedMore() -> VarlinkError {
        VarlinkError("org.varlink.service.ExpectedMore")
    }
    public static func projectNotFound(_ name: String) -> VarlinkError {
        VarlinkError("io.attachd.Broker.ProjectNotFound", ["name": .string(name)])
    }
    public static func projectExists(_ name: String) -> VarlinkError {
        VarlinkError("io.attachd.Broker.ProjectExists", ["name": .string(name)])
    }
    public static func invalidProjectName(_ name: String, reason: String) -> VarlinkError {
        VarlinkError("io.attachd.Broker.InvalidProjectName", ["name": .string(name), "reason": .string(reason)])
    }
    public static func invalidPort(_ port: Int) -> VarlinkError {
        VarlinkError("io.attachd.Broker.InvalidPort", ["port": .number(Double(port))])
    }
    public static func sessionNotFound(_ id: String) -> VarlinkError {
        VarlinkError("io.attachd.Broker.SessionNotFound", ["id": .string(id)])
    }
    public static func timeout(project: String, seconds: Double) -> VarlinkError {
        VarlinkError("io.attachd.Broker.Timeout", ["project": .string(project), "seconds": .number(seconds)])
    }
    public static func addressInUse(_ address: String) -> VarlinkError {
        VarlinkError("io.attachd.Broker.AddressInUse", ["address": .string(address)])
    }
    public static func projectRemoved(_ name: String) -> VarlinkError {
        VarlinkError("io.attachd.Broker.ProjectRemoved", ["name": .string(name)])
    }
    public static func shuttingDown() -> VarlinkError {
        VarlinkError("io.attachd.Broker.ShuttingDown")
    }
    public static func permissionDenied(uid: UInt32) -> VarlinkError {
        VarlinkError("io.attachd.Broker.PermissionDenied", ["uid": .number(Double(uid))])
    }
    public static func messageTooLarge(limit: Int) -> VarlinkError {
        VarlinkError("io.attachd.Broker.MessageTooLarge", ["limit": .number(Double(limit))])
    }
}
