import AttachCore
import AttachProtocol
import AttachSystem
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Loads and saves `projects.json`. Saves are atomic (temp file, fsync, rename, fsync of the
/// directory), so the file is never half-written; a file that cannot be read is kept aside.
struct ProjectStore {
    let path: String
    let directory: String
    let logger: Logger

    /// The saved projects. A corrupt file is renamed to `projects.json.corrupt-TIMESTAMP` and
    /// whatever could be read from it is returned.
    func load() -> [ProjectConfig] {
        let bytes: [UInt8]
        do {
            guard let read = try Files.read(path) else {
                logger.info("no saved projects yet", metadata: ["file": "\(path)"])
                return []
            }
            bytes = read
        } catch {
            logger.error(
                "cannot read saved projects; starting without them", metadata: ["file": "\(path)", "error": "\(error)"])
            return []
        }
        if let file = try? JSONDecoder().decode(ProjectsFile.self, from: Data(bytes)) {
            return file.projects
        }
        let salvaged = Self.salvage(bytes)
        let aside = path + ".corrupt-" + Self.timestamp()
        do {
            try Files.rename(path, aside)
            logger.error(
                "projects file is corrupt; kept aside, starting with what could be read",
                metadata: ["file": "\(path)", "keptAs": "\(aside)", "recovered": "\(salvaged.count)"])
        } catch {
            logger.error(
                "projects file is corrupt and could not be kept aside",
                metadata: ["file": "\(path)", "error": "\(error)"])
        }
        return salvaged
    }

    /// Writes all projects atomically.
    func save(_ projects: [ProjectConfig]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var bytes = [UInt8](try encoder.encode(ProjectsFile(projects: projects)))
        bytes.append(UInt8(ascii: "\n"))
        try Files.createDirectories(directory, mode: 0o700)
        try Files.writeAtomically(bytes, to: path, mode: 0o600)
    }

    /// The projects that still decode one by one from a damaged file.
    static func salvage(_ bytes: [UInt8]) -> [ProjectConfig] {
        guard let object = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)),
            case .array(let list)? = object["projects"]
        else { return [] }
        let encoder = JSONEncoder()
        return list.compactMap { item in
            guard let data = try? encoder.encode(item) else { return nil }
            return try? JSONDecoder().decode(ProjectConfig.self, from: data)
        }
    }

    static func timestamp() -> String {
        UTCTimestamp.compact(Clock.wallSeconds())
    }
}
