import AttachCore
import AttachProtocol
import AttachSystem
import Dispatch
import Testing

@testable import AttachDaemon

@Suite("RemoteLinks")
struct RemoteLinksTests {
    let ssh = SSHCommand(command: "ssh -F /dev/null -p 2222", controlDirectory: "/run/user/1000/attachd/ssh")

    @Test("the control link runs the user's ssh through sh with attachd's options after the user's own")
    func bridgeCommand() {
        let remote = RemoteConfig(destination: "me@render42:2222", project: "farm", socket: "/run/it's/control.sock")
        let argv = ssh.bridge(to: remote)
        #expect(Array(argv.prefix(4)) == ["/bin/sh", "-c", "exec ssh -F /dev/null -p 2222 \"$@\"", "ssh"])
        #expect(argv.contains("BatchMode=yes"))
        #expect(argv.contains("StrictHostKeyChecking=yes"))
        #expect(argv.contains("ControlMaster=auto"))
        #expect(argv.contains("ControlPath=/run/user/1000/attachd/ssh/%C"))
        #expect(argv.contains { $0.hasPrefix("ControlPersist=") })
        #expect(argv.contains { $0.hasPrefix("ServerAliveInterval=") })
        #expect(
            Array(argv.suffix(3)) == [
                "--", "ssh://me@render42:2222", "attachctl bridge --socket '/run/it'\\''s/control.sock'",
            ])
    }

    @Test("a relay channel is ssh -W to the remote debug server")
    func channelCommand() {
        let remote = RemoteConfig(destination: "render42", project: "farm")
        let argv = ssh.channel(to: remote, host: "127.0.0.1", port: 5678)
        #expect(Array(argv.suffix(4)) == ["-W", "127.0.0.1:5678", "--", "render42"])
        #expect(ssh.channel(to: remote, host: "::1", port: 5678).contains("[::1]:5678"))
    }

    @Test("the shared connection is asked to go with the same command, and only when it is attachd's")
    func masterRequests() {
        let remote = RemoteConfig(destination: "me@render42:2222", project: "farm")
        let argv = ssh.control("exit", to: remote)
        #expect(Array(argv.prefix(4)) == ["/bin/sh", "-c", "exec ssh -F /dev/null -p 2222 \"$@\"", "ssh"])
        #expect(argv.contains("ControlPath=/run/user/1000/attachd/ssh/%C"))
        #expect(Array(argv.suffix(4)) == ["-O", "exit", "--", "ssh://me@render42:2222"])
        let links = RemoteLinks(
            queue: DispatchQueue(label: "masters"), logger: quietLogger, ids: ConnectionIDs(),
            runtimeDirectory: "/run/user/1000/attachd", sshCommand: "ssh", deliver: { _ in })
        #expect(links.ownsMaster(remote))
        #expect(links.ownsMaster(RemoteConfig(destination: "h", project: "p", sshCommand: "ssh -F ~/.ssh/farm")))
        #expect(
            !links.ownsMaster(
                RemoteConfig(destination: "h", project: "p", sshCommand: "ssh -o ControlPath=~/.ssh/cm-%C")))
        #expect(!links.ownsMaster(RemoteConfig(destination: "h", project: "p", sshCommand: "ssh -S /tmp/mine")))
    }

    @Test("the words ssh gave become the reason, named when the exit status tells what is missing")
    func reasons() {
        #expect(
            RemoteLink.reason(status: .exited(255), words: "root@h: Permission denied (publickey).\n", destination: "h")
                == "root@h: Permission denied (publickey).")
        let changed =
            "@@@@@@@@\n@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @\n@@@@@@@@\nIT IS POSSIBLE\nHost key for h has changed and you have requested strict checking.\nHost key verification failed.\n"
        #expect(
            RemoteLink.reason(status: .exited(255), words: changed, destination: "h")
                == "Host key for h has changed and you have requested strict checking. Host key verification failed.")
        #expect(
            RemoteLink.reason(status: .exited(127), words: "sh: 1: attachctl: not found\n", destination: "h")
                == "attachctl is not installed on h (or not on the PATH of its ssh sessions): sh: 1: attachctl: not found"
        )
        #expect(
            RemoteLink.reason(status: .exited(127), words: "sh: 1: exec: ssh: not found\n", destination: "h")
                .hasPrefix("the ssh command cannot be run"))
        #expect(RemoteLink.reason(status: .exited(3), words: "", destination: "h") == "ssh exited with status 3")
    }

    @Test("versions: the same major, and the same minor while 0.x")
    func versions() {
        #expect(RemoteLink.isCompatible(AttachdVersion.current))
        #expect(!RemoteLink.isCompatible("9.0.0"))
        #expect(!RemoteLink.isCompatible("garbage"))
    }
}
