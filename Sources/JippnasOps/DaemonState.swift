import Foundation
import JippnasCore
import Synchronization

/// What a running daemon reports about itself in `<database>.state`, for `jippnas status` and monitoring.
public struct DaemonState<Counters: Codable & Sendable>: Codable, Sendable {
    public var role: String
    public var pid: Int32
    /// When the daemon last wrote the file; a stale time means it is stuck or gone.
    public var updatedAt: String
    public var updatedAtEpoch: Double
    /// The same line systemd shows as the service's status.
    public var status: String
    public var counters: Counters

    public init(role: String, status: String, counters: Counters) {
        self.role = role
        pid = getpid()
        updatedAt = Timestamp.now()
        updatedAtEpoch = Date().timeIntervalSince1970
        self.status = status
        self.counters = counters
    }

    enum CodingKeys: String, CodingKey {
        case role, pid, status, counters
        case updatedAt = "updated_at"
        case updatedAtEpoch = "updated_at_epoch"
    }

    /// The state file of the daemon using `database`.
    public static func path(database: String) -> String { database + ".state" }

    /// Writes atomically (temporary file and rename), so a reader never sees half a file.
    public func write(database: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: Self.path(database: database)), options: .atomic)
    }

    /// The state written by the daemon using `database`, if any.
    public static func read(database: String) -> DaemonState? {
        guard let data = FileManager.default.contents(atPath: path(database: database)) else { return nil }
        return try? JSONDecoder().decode(DaemonState.self, from: data)
    }

    /// Seconds since the daemon last wrote its state.
    public var age: Double { Date().timeIntervalSince1970 - updatedAtEpoch }
}

/// Keeps the daemon's current status line for systemd (STATUS=) and for the state file.
public final class StatusBoard: Sendable {
    private let line = Mutex("starting")
    private let notifier: SystemdNotifier

    public init(notifier: SystemdNotifier) {
        self.notifier = notifier
    }

    /// The latest status line.
    public var current: String { line.withLock { $0 } }

    /// The observer to give the work loop: READY, WATCHDOG and STATUS go to systemd, the line is kept here.
    public var observer: LoopObserver {
        let systemd = LoopObserver.systemd(notifier)
        return LoopObserver(ready: systemd.ready, tick: systemd.tick, status: { [self] text in
            line.withLock { $0 = text }
            systemd.status(text)
        })
    }
}
