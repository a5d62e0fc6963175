import AttachClient
import AttachProtocol
import Testing

@Suite("VS Code files")
struct VSCodeFilesTests {
    let project = ProjectInfo(
        name: "maxtools", debugHost: "127.0.0.1", debugPort: 5678, rendezvousPort: 5678,
        rendezvousSocket: "/run/user/1000/attachd/projects/maxtools.sock", readyTimeout: 120,
        allowRemote: false)

    @Test("the attach configuration uses the project's real port and waits for the task")
    func attachConfiguration() {
        let files = VSCodeFiles(project: project)
        let attach = files.attachConfiguration
        #expect(attach["request"]?.stringValue == "attach")
        #expect(attach["connect"]?["port"] == .int(5678))
        #expect(attach["connect"]?["host"]?.stringValue == "127.0.0.1")
        #expect(attach["preLaunchTask"]?.stringValue == files.taskLabel)
        #expect(files.task["args"]?.arrayValue?.compactMap(\.stringValue) == ["wait", "maxtools"])
    }

    @Test("merging keeps the user's configurations and replaces ours in place")
    func merge() throws {
        let existing = try OrderedJSON.parse(
            jsonc: """
                {
                    // mine
                    "version": "0.2.0",
                    "configurations": [
                        {"name": "attachd: attach maxtools", "port": 1},
                        {"name": "Python: Current File", "program": "${file}", "url": "http://x//y"},
                    ],
                }
                """)
        let merged = VSCodeFiles(project: project).merge(launch: existing)
        let names = merged["configurations"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(names == ["attachd: attach maxtools", "Python: Current File"])
        #expect(merged["configurations"]?.arrayValue?.first?["connect"]?["port"] == .int(5678))
        #expect(merged["configurations"]?.arrayValue?.last?["url"]?.stringValue == "http://x//y")
    }
}
