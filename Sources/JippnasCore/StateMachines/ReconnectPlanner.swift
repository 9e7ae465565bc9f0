/// Decides which broker to try next and how long to wait first. Pure: the caller reports what happened
/// with the time it happened, and carries out the answer (connect, sleep, log).
///
/// Broker URLs (the nodes of a cluster) are tried in turn, moving on after every failure or lost
/// connection. Delays follow ``Backoff`` and start over once a connection has stayed up for
/// `healthyAfter`, so a daemon that reconnected after a short blip is not penalised for old failures.
public struct ReconnectPlanner<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    public let urls: [BrokerURL]
    public let healthyAfter: Duration
    private var backoff: Backoff
    private var index = 0
    private var connectedAt: Instant?
    /// Attempts made since the last healthy connection.
    public private(set) var failures = 0

    public init(urls: [BrokerURL], backoff: Backoff = Backoff(), healthyAfter: Duration = .seconds(10)) {
        precondition(!urls.isEmpty, "at least one broker URL")
        self.urls = urls
        self.backoff = backoff
        self.healthyAfter = healthyAfter
    }

    /// The broker to try now.
    public var current: BrokerURL { urls[index % urls.count] }

    /// The connection to ``current`` is up.
    public mutating func connected(at now: Instant) {
        connectedAt = now
    }

    /// Connecting to ``current`` failed: moves to the next URL and returns how long to wait first.
    public mutating func connectFailed(at now: Instant, random: Double) -> Duration {
        failures += 1
        index += 1
        return backoff.nextDelay(random: random)
    }

    /// An established connection ended: resets the backoff if it had been healthy, moves to the next
    /// URL, and returns how long to wait before reconnecting.
    public mutating func disconnected(at now: Instant, random: Double) -> Duration {
        if let since = connectedAt, since.duration(to: now) >= healthyAfter {
            backoff.reset()
            failures = 0
        }
        connectedAt = nil
        failures += 1
        index += 1
        return backoff.nextDelay(random: random)
    }
}
