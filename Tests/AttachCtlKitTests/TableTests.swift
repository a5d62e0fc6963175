import AttachCtlKit
import Foundation
import Testing

@Suite("Tables")
struct TableTests {
    @Test("columns are aligned to the widest cell")
    func aligned() {
        let text = Table.render(headers: ["NAME", "PORT"], rows: [["a", "5678"], ["longer", "1"]])
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        let column = lines[0].range(of: "PORT")!.lowerBound.utf16Offset(in: lines[0])
        #expect(lines[1].range(of: "5678")!.lowerBound.utf16Offset(in: lines[1]) == column)
        #expect(lines[2].range(of: "1")!.lowerBound.utf16Offset(in: lines[2]) == column)
    }
}
