import AttachCore
import Testing

@testable import AttachDaemon

@Suite("Reading what is left of a damaged projects.json")
struct ProjectStoreSalvageTests {
    @Test("valid entries survive beside broken ones")
    func salvagesGoodEntries() {
        let text =
            #"{"version":1,"projects":[{"name":"good","debugHost":"127.0.0.1","debugPort":5678,"readyTimeout":120,"allowRemote":false},{"name":"bad","debugPort":"x"}]}"#
        let projects = ProjectStore.salvage(Array(text.utf8))
        #expect(projects.map(\.name) == ["good"])
        #expect(projects.first?.debugPort == 5678)
    }

    @Test(
        "a truncated or foreign file yields nothing",
        arguments: [
            #"{"version":1,"projects":[{"name":"good","debugHost""#,
            #"[1,2,3]"#,
            "",
        ])
    func salvagesNothing(text: String) {
        #expect(ProjectStore.salvage(Array(text.utf8)).isEmpty)
    }
}
