import AttachProtocol

extension DoctorChecks {
    /// A host whose Python helper (attach_ready) reported an embedded interpreter: its
    /// `sys.executable` is the application itself, or None, so debugpy's adapter, a separate
    /// process, must run with another Python (debugpy issue #262).
    ///
    /// Which interpreter the adapter ran with is a note while the debug server listens (or once
    /// did, for the last ended session). When it does not: no interpreter found is a problem,
    /// with how to give one; an interpreter found is a warning, with how to check it.
    public static func embeddedPython(_ s: DoctorSnapshot) -> [Finding] {
        let lastEnded = Set(
            s.projectsInScope.compactMap { project -> String? in
                let sessions = s.sessions(of: project.name)
                guard let last = sessions.last, !sessions.contains(where: { $0.state != .ended }) else { return nil }
                return last.id
            })
        return s.sessions.filter { session in
            (session.executable != nil || session.python != nil) && s.inScope(session)
                && (session.state != .ended || lastEnded.contains(session.id))
        }.map { session in
            // A remote session's host announced itself under the project's name over there.
            let remoteName = s.projects.first { $0.name == session.project }?.remote?.project
            return embeddedPythonFinding(
                session, projectName: remoteName ?? session.project,
                missing: session.remote == nil && session.executable.map(s.missingExecutables.contains) == true)
        }
    }

    /// What attach_ready said `sys.executable` is, and why debugpy's adapter cannot run with it.
    public static func describe(executable: String?, missing: Bool = false) -> String {
        guard let executable else { return "not a Python debugpy's adapter can run with" }
        if executable.isEmpty { return "None" }
        if missing { return "\(executable), which does not exist" }
        // A Windows path too (a host under Wine).
        let name = executable.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? executable
        if name.lowercased().hasPrefix("python") { return "\(executable), not a Python of the host's own version" }
        return "\(executable) (the application, not Python)"
    }

    static func embeddedPythonFinding(_ session: SessionInfo, projectName: String, missing: Bool = false) -> Finding {
        let on = session.remote.map { " on \($0)" } ?? ""
        let host =
            "host session \(session.id)\(on): the host's sys.executable is "
            + describe(executable: session.executable, missing: missing)
        // Listening now, or (an ended session) became ready before it ended: the adapter ran.
        let worked = session.state.isListening || (session.state == .ended && session.readyAt != nil)
        let give =
            "set ATTACHD_PYTHON=/path/to/python3.X (Python 3.8 or newer, best the host's own version) in the host's environment, or pass python=\"/path/to/python3.X\" to attach_ready.start()"
        let chosen = session.python ?? ""
        if chosen.isEmpty {
            if worked {
                return Finding(
                    check: "embedded-python", severity: .note, subject: session.project,
                    summary:
                        "\(host); attach_ready found no other interpreter, and debugpy's adapter runs with that one",
                    fix: "")
            }
            return Finding(
                check: "no-adapter-python", subject: session.project,
                summary:
                    "\(host), and attach_ready found no Python for debugpy's adapter (none next to the embedded one, none on PATH), so the debug server cannot start",
                fix: give
                    + "; in the host's Python console, `import attach_ready; attach_ready.check(\"\(projectName)\")` shows what it looks for"
            )
        }
        let ran = "\(host); attach_ready ran debugpy's adapter with \(chosen)"
        if worked {
            return Finding(check: "embedded-python", severity: .note, subject: session.project, summary: ran, fix: "")
        }
        return Finding(
            check: "embedded-python", severity: .warning, subject: session.project,
            summary: ran + ", and the debug server is not listening",
            fix:
                "check that it runs: `\(chosen) -c 'import sys; print(sys.version)'` (debugpy 1.8's adapter needs Python 3.8 or newer) and look at the host's log; to use another, "
                + give)
    }
}
