import JippnasAMQP
import JippnasCore
import JippnasOps
import Logging

/// How one connection's session ended.
enum SessionEnd {
    /// Stop was requested and in-flight work is settled.
    case stopped
    /// The connection or the store failed; reconnect after a backoff.
    case lost(any Error)
    /// The session chose to pause (nacks, unroutable messages); reconnect after a backoff.
    case retryLater(String)
    /// Connect again at once (a mirror reading its stream again from elsewhere).
    case restart(String)
}

/// The connect–run–back-off cycle both daemons share: connect to the broker the ``ReconnectPlanner``
/// names, set the connection up, run a session on it, and after it ends wait as the planner says. Every
/// attempt and every loss is logged with its reason and the next delay.
struct BrokerLoop {
    let broker: BrokerSettings
    let connectionName: String
    let logger: Logger
    let observer: LoopObserver
    /// What the operator of this daemon should check when the broker refuses its user: each role has
    /// its own credential and its own permissions.
    let refusalHint: String

    /// The refusal hint of a hub daemon.
    static func hubRefusalHint(province: String) -> String {
        "the broker refused this user: check the password (credential hub_broker-password, /etc/jippnas/credentials/hub/broker-password, or broker.password_file), the user hub-\(province) and its permissions (jippnas broker provision), and that province \(province) is the user's own; unpublished changes stay in the outbox"
    }

    /// The refusal hint of the national aggregator.
    static let aggregatorRefusalHint =
        "the broker refused this user: check the password (credential aggregator_broker-password, /etc/jippnas/credentials/aggregator/broker-password, or broker.password_file) and the aggregator user's permissions (jippnas broker provision); nothing is consumed until it connects"

    /// Refusals need an operator; outages heal by themselves.
    static func severity(_ error: any Error) -> Logger.Level {
        guard let amqp = error as? AMQPError else { return .warning }
        return amqp.accessRefused || amqp.queueTypeMismatch ? .error : .warning
    }

    /// The way out of a mismatch between the configured and the existing type of the national queue.
    static let queueTypeHint =
        "jippnas.national or jippnas.national.dead exists with another type than national.queue_type: stop the aggregator and run jippnas broker migrate-queue (docs/OPERATIONS.md), or set national.queue_type to the existing type"

    func hint(_ error: any Error) -> Logger.Metadata {
        guard let amqp = error as? AMQPError else { return [:] }
        if amqp.queueTypeMismatch { return ["hint": .string(Self.queueTypeHint)] }
        return amqp.accessRefused ? ["hint": .string(refusalHint)] : [:]
    }

    /// Runs until a session returns ``SessionEnd/stopped`` or `stop` is signalled.
    ///
    /// - Parameters:
    ///   - setUp: declarations and consumers on a fresh connection; a throw counts as a failed connect.
    ///   - connectedChanged: told when a connection comes up (true) or goes (false, with whether it was lost).
    ///   - session: the work on one connection.
    func run(until stop: StopSignal, setUp: (AMQPConnection) throws -> Void,
             connectedChanged: (_ connected: Bool, _ lost: Bool, _ broker: String) -> Void,
             session: (AMQPConnection) -> SessionEnd)
    {
        var planner = ReconnectPlanner<ContinuousClock.Instant>(urls: broker.urls)
        var reconnecting = false
        while !stop.isStopped {
            // A connect and its set-up block without ticking (each step bounded by broker.timeout_s): feed
            // the watchdog between attempts too, not only from sessions and back-off sleeps.
            observer.tick()
            let url = planner.current
            let connection: AMQPConnection
            do {
                connection = try connect(url, setUp: setUp)
            } catch {
                let delay = planner.connectFailed(at: .now, random: .random(in: 0...1))
                logger.log(level: Self.severity(error), "broker connect failed", metadata: [
                    "broker": "\(url)", "reason": "\(error)", "attempt": "\(planner.failures)",
                    "retry_in_ms": "\(delay.milliseconds)",
                ].merging(hint(error)) { $1 })
                observer.status("cannot reach \(url) (attempt \(planner.failures)); retrying in \(delay.milliseconds) ms")
                stop.sleep(delay, tick: observer.tick)
                continue
            }
            // A recovery is as much news as the loss that preceded it: at notice, so a log kept at that
            // level shows both; the first connection of a run is routine.
            logger.log(level: reconnecting || planner.failures > 0 ? .notice : .info, "connected to broker", metadata: [
                "broker": "\(url)", "heartbeat_s": "\(connection.heartbeat)",
            ])
            planner.connected(at: .now)
            connectedChanged(true, false, url.description)
            reconnecting = true
            let end = session(connection)
            connectedChanged(false, !isStopped(end), url.description)
            if isStopped(end) {
                connection.close()
                logger.info("disconnected from broker", metadata: ["broker": "\(url)", "reason": "stopping"])
                return
            }
            var delay = planner.disconnected(at: .now, random: .random(in: 0...1))
            if case .restart = end { delay = .zero }
            report(end, of: connection, delay: delay)
            stop.sleep(delay, tick: observer.tick)
        }
    }

    private func isStopped(_ end: SessionEnd) -> Bool {
        if case .stopped = end { true } else { false }
    }

    private func connect(_ url: BrokerURL, setUp: (AMQPConnection) throws -> Void) throws -> AMQPConnection {
        let connection = try AMQPConnection(url: url, tls: broker.tls, heartbeat: broker.heartbeat, timeout: broker.timeout,
                                            connectionName: connectionName)
        do {
            try setUp(connection)
        } catch {
            connection.abandon()
            throw error
        }
        return connection
    }

    /// Closes what is left of a lost or paused session and says so.
    private func report(_ end: SessionEnd, of connection: AMQPConnection, delay: Duration) {
        let url = connection.url
        switch end {
        case .stopped:
            return
        case .lost(let error):
            if let amqp = error as? AMQPError, !amqp.connectionLost { connection.close() } else { connection.abandon() }
            logger.log(level: Self.severity(error), "broker connection lost", metadata: [
                "broker": "\(url)", "reason": "\(error)", "retry_in_ms": "\(delay.milliseconds)",
            ].merging(hint(error)) { $1 })
            observer.status("connection to \(url) lost; reconnecting in \(delay.milliseconds) ms")
        case .restart(let reason):
            connection.close()
            logger.notice("reconnecting", metadata: ["broker": "\(url)", "reason": "\(reason)"])
        case .retryLater(let reason):
            connection.close()
            logger.warning("publishing paused", metadata: [
                "broker": "\(url)", "reason": "\(reason)", "retry_in_ms": "\(delay.milliseconds)",
            ])
            observer.status("publishing paused: \(reason); retrying in \(delay.milliseconds) ms")
        }
    }
}
