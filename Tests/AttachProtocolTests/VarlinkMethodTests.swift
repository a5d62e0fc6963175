import AttachProtocol
import Testing

@Suite("VarlinkMethod: the one spelling of every method name")
struct VarlinkMethodTests {
    /// `interface.Member` for every `method Member(` line of a description.
    private func declared(_ interface: String) -> Set<String> {
        let text = InterfaceDescriptions.description(of: interface) ?? ""
        return Set(
            text.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("method "), let paren = line.firstIndex(of: "(") else { return nil }
                return interface + "." + line[line.index(line.startIndex, offsetBy: 7)..<paren]
            })
    }

    @Test("the constants are exactly the methods the interface descriptions declare")
    func matchesTheDescriptions() {
        let described = declared(InterfaceDescriptions.brokerName).union(declared(InterfaceDescriptions.serviceName))
        let served: Set<String> = [VarlinkMethod.getInfo.name, VarlinkMethod.getInterfaceDescription.name]
        // org.varlink.service declares GetInfo and GetInterfaceDescription only.
        #expect(Set(VarlinkMethod.allCases.map(\.name)) == described.union(served))
        #expect(VarlinkMethod("io.attachd.Broker.Wait") == .wait)
        #expect(VarlinkMethod("io.attachd.Broker.Nope") == nil)
    }

    @Test("frameCall writes what the hand writer writes: the same call, one encoder each")
    func frameCallMatchesTheHandWriter() {
        let codec = VarlinkCodec()
        let typed = codec.frameCall(.wait, WaitParameters(project: "maxtools", timeout: 2))
        let byHand = VarlinkCall(
            method: VarlinkMethod.wait.name,
            parameters: .object(WaitParameters(project: "maxtools", timeout: 2).members))
        #expect(typed == byHand.framedByHand)
        let bare = codec.frameCall(.getStatus, Optional<EmptyReply>.none)
        #expect(bare == VarlinkCall(method: VarlinkMethod.getStatus.name).framedByHand)
        let watch = codec.frameCall(.watch, WatchParameters(project: nil), more: true)
        #expect(
            watch == VarlinkCall(method: VarlinkMethod.watch.name, parameters: .object([:]), more: true).framedByHand)
    }
}
