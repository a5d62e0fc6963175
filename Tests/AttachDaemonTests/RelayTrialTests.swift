import AttachCore
import AttachSystem
import Dispatch
import Synchronization
import Testing

@testable import AttachDaemon

/// A RelayTrial against a stand-in for `ssh -W`: a shell that reads the IDE's first line from
/// its standard input (the channel), then does what ssh does in each case.
@Suite("RelayTrial")
struct RelayTrialTests {
    let queue = DispatchQueue(label: "relay-trial-test")

    /// What a trial ended with, seen from outside the queue.
    enum Seen: Equatable, Sendable {
        case open(sent: Int)
        case refused(reason: String, unanswered: [UInt8])
    }

    /// Runs a trial of `script` with an IDE that sent `bytes`; returns its outcome, the IDE's
    /// peer end and the trial.
    func trial(_ script: String, ideSent bytes: [UInt8]) throws -> (Seen?, FileDescriptor, RelayTrial) {
        let (ide, peer) = try Socket.pair()
        try peer.writeAll(bytes)
        let outcome = Recorder<Seen>()
        let started = try queue.sync { () throws -> RelayTrial in
            let (process, fd) = try SSHProcess.start(["/bin/sh", "-c", script], queue: queue)
            let channel = RemoteChannel(fd: fd, process: process)
            process.onExit = { status, words in
                channel.exited(
                    status: status, reason: RemoteLink.reason(status: status, words: words, destination: "h"))
            }
            let trial = RelayTrial(ide: ide, channel: channel, unanswered: [], queue: queue)
            trial.start { result in
                switch result {
                case .open(let sent): outcome.record(.open(sent: sent))
                case .refused(let reason, let kept): outcome.record(.refused(reason: reason, unanswered: kept))
                }
            }
            return trial
        }
        return (outcome.wait(for: 1, within: 10).first, peer, started)
    }

    @Test("refused: ssh fails before any byte came back; the IDE's bytes are given back")
    func refused() throws {
        let (seen, peer, trial) = try trial(
            "read line; echo 'channel 0: open failed: connect failed: Connection refused' >&2; echo 'stdio forwarding failed' >&2; exit 255",
            ideSent: Array("initialize\n".utf8))
        #expect(
            seen
                == .refused(
                    reason: "channel 0: open failed: connect failed: Connection refused stdio forwarding failed",
                    unanswered: Array("initialize\n".utf8)))
        queue.sync { _ = trial.ide.close() }
        peer.close()
    }

    @Test("open: a byte came back; it is left for the relay")
    func answered() throws {
        let (seen, peer, trial) = try trial("read line; printf x; sleep 5", ideSent: Array("initialize\n".utf8))
        #expect(seen == .open(sent: 11))
        #expect(Socket.unread(trial.channel.fd) == .bytes)
        queue.sync {
            trial.channel.terminate()
            trial.ide.close()
            trial.channel.fd.close()
        }
        peer.close()
    }

    @Test("open: the server accepted and closed without a byte, so ssh exits 0; no refusal")
    func acceptedAndClosed() throws {
        let (seen, peer, trial) = try trial("read line; exit 0", ideSent: Array("hi\n".utf8))
        #expect(seen == .open(sent: 3))
        queue.sync {
            trial.ide.close()
            trial.channel.fd.close()
        }
        peer.close()
    }
}
