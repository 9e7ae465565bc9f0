import Foundation
import Synchronization

/// sd_notify(3) without libsystemd: datagrams to `$NOTIFY_SOCKET` (a path, or `@name` for an abstract
/// socket), plus the watchdog cadence from `$WATCHDOG_USEC`. Outside systemd every call is a no-op.
public final class SystemdNotifier: Sendable {
    private let socketPath: String?
    /// Half of `$WATCHDOG_USEC`, when systemd asked for a watchdog for this process.
    public let watchdogInterval: Duration?
    private let lastWatchdog = Mutex(ContinuousClock.now)

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        let forUs = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        if forUs, let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0 {
            watchdogInterval = .microseconds(usec / 2)
        } else {
            watchdogInterval = nil
        }
    }

    /// Whether a service manager listens.
    public var isActive: Bool { socketPath != nil }

    /// Sends `state` (for example `READY=1` or `STATUS=connected`); errors are ignored, as sd_notify does.
    public func notify(_ state: String) {
        guard let path = socketPath else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        _ = state.withCString { message in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, message, strlen(message), Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
    }

    /// Sends `WATCHDOG=1` when half the watchdog period has passed since the last one. Called from the
    /// loop that does the work, so a stuck loop stops the pings and systemd restarts the service.
    public func watchdogTick() {
        guard let interval = watchdogInterval else { return }
        let due = lastWatchdog.withLock { last in
            let now = ContinuousClock.now
            guard now - last >= interval else { return false }
            last = now
            return true
        }
        if due { notify("WATCHDOG=1") }
    }
}

/// What a daemon's work loop reports, so the executable can tell systemd (or nobody).
public struct LoopObserver: Sendable {
    /// The daemon is ready to do its job (READY=1).
    public var ready: @Sendable () -> Void
    /// Called on every turn of the work loop, also while waiting to reconnect.
    public var tick: @Sendable () -> Void
    /// A one-line human status (STATUS=...), reported when it changes.
    public var status: @Sendable (String) -> Void

    public init(ready: @escaping @Sendable () -> Void = {}, tick: @escaping @Sendable () -> Void = {},
                status: @escaping @Sendable (String) -> Void = { _ in })
    {
        self.ready = ready
        self.tick = tick
        self.status = status
    }

    /// An observer that reports nothing.
    public static let none = LoopObserver()

    /// An observer that reports to systemd through `notifier`.
    public static func systemd(_ notifier: SystemdNotifier) -> LoopObserver {
        let lastStatus = Mutex("")
        return LoopObserver(
            ready: { notifier.notify("READY=1") },
            tick: { notifier.watchdogTick() },
            status: { line in
                let changed = lastStatus.withLock { last in
                    defer { last = line }
                    return last != line
                }
                if changed { notifier.notify("STATUS=" + line) }
            })
    }
}

/// Keeps systemd from killing a service whose start takes long for a good reason (a migration, a search
/// index rebuilt over a million records): while it lives it sends `EXTEND_TIMEOUT_USEC` every 10 s, each
/// granting 30 s more, for at most ``maximum`` (a million records rebuild in minutes). A start that hangs
/// beyond that is stopped by systemd half a minute later. Outside systemd it does nothing.
public final class StartTimeoutExtension: Sendable {
    private final class Flag: Sendable {
        let raised = Mutex(false)
        var isRaised: Bool { raised.withLock { $0 } }
    }
    private let finished = Flag()

    public init(notifier: SystemdNotifier) {
        guard notifier.isActive else { return }
        let finished = self.finished
        let until = ContinuousClock.now + Self.maximum
        let thread = Thread {
            while !finished.isRaised, ContinuousClock.now < until {
                notifier.notify("EXTEND_TIMEOUT_USEC=30000000")
                for _ in 0..<100 where !finished.isRaised { usleep(100_000) }
            }
        }
        thread.name = "start-timeout"
        thread.start()
    }

    /// The longest a start is extended.
    public static let maximum: Duration = .seconds(3600)

    /// Stops extending: the long step is over.
    public func finish() {
        finished.raised.withLock { $0 = true }
    }

    deinit {
        finish()
    }
}
