import AttachCore
import AttachProtocol
import AttachSystem
import AttachSystemd
import Dispatch

extension Daemon {
    /// Takes or binds the sockets, loads the projects, tells systemd it is ready.
    func start() throws(DaemonError) {
        ProcessHandle.ignoreSIGPIPE()
        // SIGTERM/SIGINT stay pending (blocked) until the signal sources are registered; see
        // installSignalHandlers().
        for signal in Self.stopSignals { ProcessHandle.blockSignal(signal) }
        if let problem = prepareRuntimeDirectory() { throw DaemonError(problem) }
        try takeInstanceLocks()
        // Each project holds two listeners and each host or client a connection: the usual
        // soft limit of 1024 is too low for a thousand projects.
        if let limit = try? ProcessHandle.raiseOpenFileLimit() {
            logger.debug("open file limit", metadata: ["soft": "\(limit)"])
        }
        readiness.makeTimer()
        var controlFD: FileDescriptor?
        let inherited = Systemd.listenFDs()
        for (name, fd) in inherited {
            // "control" is attachd.socket's FileDescriptorName=; without it systemd names the fd
            // after the socket unit, and a lone unnamed fd (systemd-socket-activate without
            // --fdname) can only be the control socket too.
            if name == "control" || name == "attachd.socket" || (name == "unknown" && inherited.count == 1) {
                guard Socket.isListeningUnixStream(fd, path: nil) else {
                    let what = Socket.isListeningTCP(fd, port: 0) ? "a listening TCP socket" : "not a listening socket"
                    throw DaemonError(
                        "refusing to start: the descriptor passed as '\(name)' (fd \(fd.rawValue)) is not a listening Unix stream socket (it is \(what)); attachd.socket must say ListenStream=%t/attachd/control.sock and FileDescriptorName=control"
                    )
                }
                if controlFD != nil {
                    logger.warning(
                        "ignoring a second control socket", metadata: ["name": "\(name)", "fd": "\(fd.rawValue)"])
                    fd.close()
                    continue
                }
                controlFD = fd
            } else if FDStore.isStoredName(name) {
                fdStore.keepInherited(fd, name: name)
            } else {
                logger.warning(
                    "ignoring an unknown inherited descriptor", metadata: ["name": "\(name)", "fd": "\(fd.rawValue)"])
                fd.close()
            }
        }
        if let controlFD {
            logger.info("socket-activated", metadata: ["adopted": "\(fdStore.inheritedCount)"])
            // attachd.socket says SocketMode=0600; `systemd-socket-activate -l` cannot, and leaves
            // the umask's mode (0644 as a rule). Only this user's daemon may be talked to either
            // way (SO_PEERCRED), and the directory is 0700, but the socket is made what it says.
            if let path = Socket.boundPath(controlFD), Files.isSocket(path) { try? Files.chmod(path, 0o600) }
            try? controlFD.setNonBlocking(true)
            control.start(controlFD)
        } else {
            try bindControlSocket()
        }
        handle(.loadProjects(store.load()))
        relays.adoptStored { [self] name in broker.projectInfo(name) != nil }
        fdStore.dropUnadopted()
        installSignalHandlers()
        startWatchdog()
        Systemd.notify("READY=1")
        let socket = controlFD.map { "passed by systemd (fd \($0.rawValue))" } ?? options.paths.controlSocket
        logger.info(
            "ready",
            metadata: [
                "socket": "\(socket)", "projects": "\(broker.counts.projects)",
                "probe": "\(readiness.methodName)",
            ])
    }

    /// The runtime directory must be ours alone: 0700, owned by us.
    private func prepareRuntimeDirectory() -> String? {
        let directories = [options.paths.runtimeDirectory, Files.split(options.paths.controlSocket).directory]
        for directory in Set(directories) {
            do {
                try Files.createDirectories(directory, mode: 0o700)
            } catch {
                return "cannot create \(directory): \(error)"
            }
            if let problem = Files.privateDirectoryProblem(directory) {
                return "refusing to use \(directory): \(problem). Fix it with `chmod 700 \(directory)` or remove it."
            }
        }
        return nil
    }

    /// One attachd per user configuration and per runtime directory: a second one would rewrite
    /// the same `projects.json` and take the first's rendezvous sockets away. The locks are
    /// held until exit; the kernel drops them however the process ends.
    private func takeInstanceLocks() throws(DaemonError) {
        let files = [options.paths.configLockFile, options.paths.runtimeLockFile]
        do {
            try Files.createDirectories(options.paths.configDirectory, mode: 0o700)
        } catch {
            throw DaemonError("cannot create \(options.paths.configDirectory): \(error)")
        }
        for file in files {
            do throws(InstanceLock.Failure) {
                locks.append(try InstanceLock.acquire(file, controlSocket: options.paths.controlSocket))
            } catch {
                switch error {
                case .held(let holder): throw DaemonError(Self.anotherDaemon(holder, lockFile: file), exitCode: 3)
                case .failed(let errno): throw DaemonError("cannot lock \(file): \(errno)")
                }
            }
        }
    }

    /// The words for a second attachd: who serves this configuration, and where.
    static func anotherDaemon(_ holder: InstanceLock.Holder, lockFile: String) -> String {
        let socket = holder.controlSocket ?? "its control socket"
        let pid = holder.pid.map { "pid \($0)" } ?? "its pid is in \(lockFile)"
        return
            "another attachd is already serving \(socket) (\(pid)) for this user configuration (it holds \(lockFile)); "
            + "stop it first, or give this one its own XDG_CONFIG_HOME and XDG_RUNTIME_DIR"
    }

    /// Binds the control socket, replacing a stale file but never a live daemon's socket.
    private func bindControlSocket() throws(DaemonError) {
        let path = options.paths.controlSocket
        if Files.exists(path) {
            if let fd = try? Socket.connectUnix(path: path) {
                fd.close()
                throw DaemonError(
                    "another attachd is already serving \(path); stop it first (attachctl status shows its pid)",
                    exitCode: 3)
            }
            guard Files.isSocket(path) else {
                throw DaemonError("\(path) exists and is not a socket; move it away or pass --socket")
            }
            logger.info("replacing a stale control socket", metadata: ["socket": "\(path)"])
            try? Files.unlink(path)
        }
        do {
            let fd = try Socket.listenUnix(path: path, mode: 0o600)
            ownsControlSocket = true
            controlSocketFile = FileIdentity.of(path)
            control.start(fd)
        } catch {
            throw DaemonError("cannot listen on \(path): \(error)")
        }
    }

    static let stopSignals = [SignalNumber.terminate, SignalNumber.interrupt]

    /// SIGTERM and SIGINT stop the daemon cleanly. On Linux, libdispatch reads signals through a
    /// signalfd and installs its own handler only when a source is registered, which happens
    /// asynchronously on the source's queue. So the signals are blocked (pending, never lost) from
    /// the start of start(), the sources live on their own queue (not `queue`, which is busy in
    /// start()), and READY=1 waits until they are registered: a `systemctl stop` right after
    /// READY=1 is never dropped. (Not SIG_IGN: that would discard a pending signal.)
    private func installSignalHandlers() {
        let signalQueue = DispatchQueue(label: "io.attachd.signals")
        let registered = DispatchSemaphore(value: 0)
        for signal in Self.stopSignals {
            let source = DispatchSource.makeSignalSource(signal: signal, queue: signalQueue)
            source.setRegistrationHandler { registered.signal() }
            source.setEventHandler { [self] in queue.asyncConfined { [self] in shutdown(signal: signal) } }
            source.resume()
            signalSources.append(source)
        }
        for _ in Self.stopSignals where registered.wait(timeout: .now() + 5) == .timedOut {
            logger.warning("signal handlers not registered within 5 s; SIGTERM may be delayed")
            break
        }
    }

    /// `WATCHDOG=1` at half the interval systemd asked for, and no timer at all otherwise.
    private func startWatchdog() {
        guard let usec = Systemd.watchdogMicroseconds(), usec > 0 else { return }
        let interval = Double(usec) / 2_000_000
        let timer = QueueTimer(queue: queue, leeway: .milliseconds(10)) { Systemd.notify("WATCHDOG=1") }
        timer.every(interval)
        watchdogTimer = timer
        logger.info("watchdog enabled", metadata: ["interval": "\(interval)s"])
    }
}
