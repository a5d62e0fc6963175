/// Aligned plain-text tables for humans.
public enum Table {
    /// Renders `headers` and `rows` as columns separated by two spaces, each as wide as its
    /// widest cell (counted in characters); the last column is not padded, and no line has
    /// trailing spaces. Missing cells are empty; newlines in cells become spaces. With no
    /// headers, only the rows are rendered.
    public static func render(headers: [String], rows: [[String]]) -> String {
        let columns = max(headers.count, rows.map(\.count).max() ?? 0)
        func cells(_ row: [String]) -> [String] {
            (0..<columns).map { $0 < row.count ? clean(row[$0]) : "" }
        }
        let all = (headers.isEmpty ? [] : [cells(headers)]) + rows.map(cells)
        var widths = [Int](repeating: 0, count: columns)
        for row in all {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        var lines: [String] = []
        for row in all {
            var line = ""
            for (index, cell) in row.enumerated() {
                if index > 0 { line += "  " }
                line += cell
                if index < columns - 1 {
                    line += String(repeating: " ", count: widths[index] - cell.count)
                }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    private static func clean(_ cell: String) -> String {
        // Plain ASCII without control characters needs no work (and no Unicode tables).
        if cell.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return cell }
        return String(cell.map { $0.isNewline || $0 == "\t" ? " " : $0 })
    }
}
