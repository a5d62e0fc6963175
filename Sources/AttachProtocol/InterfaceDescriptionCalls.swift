/// `org.varlink.service.GetInterfaceDescription` parameters and reply.
public struct InterfaceDescriptionParameters: Codable, Sendable, Equatable {
    public var interface: String
    public init(interface: String) { self.interface = interface }
}

public struct InterfaceDescriptionReply: Codable, Sendable, Equatable {
    public var description: String
    public init(description: String) { self.description = description }
}
