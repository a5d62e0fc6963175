import AttachProtocol
import Foundation
import Testing

@Suite("InterfaceDescriptions")
struct InterfaceDescriptionTests {
    /// `Sources/AttachProtocol/io.attachd.Broker.varlink`, found from this file's path.
    static let varlinkFile = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // AttachProtocolTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("Sources/AttachProtocol/io.attachd.Broker.varlink")

    @Test("InterfaceDescriptions.broker equals io.attachd.Broker.varlink byte for byte")
    func brokerMatchesFile() throws {
        let file = try [UInt8](Data(contentsOf: Self.varlinkFile))
        let embedded = Array(InterfaceDescriptions.broker.utf8)
        #expect(embedded.count == file.count)
        if let index = zip(embedded, file).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("first difference at byte \(index)")
        }
        #expect(embedded == file)
    }

    @Test("descriptions are found by interface name, and start by declaring it")
    func lookup() throws {
        let broker = try #require(InterfaceDescriptions.description(of: "io.attachd.Broker"))
        #expect(broker.contains("\ninterface io.attachd.Broker\n"))
        let service = try #require(InterfaceDescriptions.description(of: "org.varlink.service"))
        #expect(service.hasPrefix("interface org.varlink.service\n"))
        #expect(InterfaceDescriptions.description(of: "io.example.Nope") == nil)
    }

    @Test("every error the Swift side names is declared in the interface")
    func errorsAreDeclared() {
        let errors: [VarlinkError] = [
            .projectNotFound("x"), .projectExists("x"), .invalidProjectName("x", reason: "r"), .invalidPort(0),
            .sessionNotFound("x"), .timeout(project: "x", seconds: 1), .addressInUse("x"), .projectRemoved("x"),
            .shuttingDown(), .permissionDenied(uid: 0), .tooManyConnections(limit: 1), .messageTooLarge(limit: 1),
        ]
        for error in errors {
            let member = String(error.name.dropFirst("io.attachd.Broker.".count))
            #expect(error.name.hasPrefix("io.attachd.Broker."))
            #expect(InterfaceDescriptions.broker.contains("\nerror \(member) ("), "\(error.name)")
        }
        for error in [
            VarlinkError.methodNotFound("m"), .interfaceNotFound("i"), .invalidParameter("p"), .expectedMore(),
        ] {
            let member = String(error.name.dropFirst("org.varlink.service.".count))
            #expect(InterfaceDescriptions.service.contains("\nerror \(member) ("), "\(error.name)")
        }
    }

    /// The names of the errors `description` declares (`error Name (…)` lines).
    static func declaredErrors(_ description: String) -> [String] {
        description.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("error ") else { return nil }
            return line.dropFirst("error ".count).split(separator: " ").first.map(String.init)
        }
    }

    @Test("BrokerErrorName lists exactly the errors both interfaces declare")
    func errorNamesMatchTheInterfaces() {
        let declared = Set(
            Self.declaredErrors(InterfaceDescriptions.broker).map { "io.attachd.Broker." + $0 }
                + Self.declaredErrors(InterfaceDescriptions.service).map { "org.varlink.service." + $0 })
        let named = Set(BrokerErrorName.allCases.map(\.rawValue))
        #expect(declared.count == 19)  // NotSaved came with issue 17: a failed save fails the call
        #expect(
            declared.subtracting(named).isEmpty,
            "declared but not in BrokerErrorName: \(declared.subtracting(named).sorted())")
        #expect(
            named.subtracting(declared).isEmpty,
            "in BrokerErrorName but not declared: \(named.subtracting(declared).sorted())")
        for name in BrokerErrorName.allCases {
            #expect(name.interface + "." + name.member == name.rawValue)
            #expect(VarlinkError(name).knownName == name)
        }
        #expect(VarlinkError("io.attachd.Broker.FromTheFuture").knownName == nil)
    }

    @Test("tooManyConnections carries its limit")
    func tooManyConnections() {
        let error = VarlinkError.tooManyConnections(limit: 2048)
        #expect(error.name == "io.attachd.Broker.TooManyConnections")
        #expect(error.parameters["limit"] == .number(2048))
    }
}
