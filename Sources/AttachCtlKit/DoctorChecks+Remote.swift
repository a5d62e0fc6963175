import AttachProtocol

extension DoctorChecks {
    /// A remote project whose machine cannot be reached through ssh: its sessions are not seen,
    /// so a wait blocks. The fix depends on the words ssh (or the remote) gave.
    public static func remoteUnreachable(_ s: DoctorSnapshot) -> [Finding] {
        s.projectsInScope.compactMap { project in
            guard let remote = project.remote, remote.state == .unreachable else { return nil }
            let words = remote.error ?? "no reason given"
            return Finding(
                check: "remote-unreachable", subject: project.name,
                summary: "the remote \(remote.destination) cannot be reached, so its sessions are not seen: \(words)",
                fix: remoteFix(words, remote: remote))
        }
    }

    static func remoteFix(_ words: String, remote: RemoteInfo) -> String {
        let by = "`ssh \(remote.destination) attachctl bridge` by hand"
        if words.contains("Host key verification failed") || words.contains("host key") {
            return
                "attachd never accepts an unknown or changed host key: check it, then add it to known_hosts with `ssh \(remote.destination)` once by hand (`ssh-keygen -R HOST` removes a changed one)"
        }
        if words.contains("Permission denied") {
            return
                "ssh refused the login; attachd uses your keys and agent without prompting (BatchMode): load the key with `ssh-add`, or name it in ~/.ssh/config; try \(by)"
        }
        if words.contains("attachctl is not installed") {
            return
                "install attachd on \(remote.destination), and make sure non-interactive ssh sessions find attachctl on their PATH"
        }
        if words.contains("attachd is not running") {
            return
                "start attachd on \(remote.destination) (`systemctl --user enable --now attachd.socket` there)\(remote.socket.map { ", or correct --remote-socket \($0)" } ?? "")"
        }
        if words.contains("does not exist on") {
            return "add the project on \(remote.destination): `attachctl add \(remote.project) --debug-port PORT` there"
        }
        if words.contains("not compatible") {
            return "install the same attachd version on both machines"
        }
        return "attachd retries with backoff; try \(by) to see what ssh says"
    }
}
