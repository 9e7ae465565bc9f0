import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasStore
import Logging
import Synchronization

/// Counters the relay keeps; read by status, summaries and benchmarks.
public struct RelayCounters: Sendable, Equatable {
    public var published = 0
    public var confirmed = 0
    public var nacked = 0
    public var returned = 0
    public var reconnects = 0
    public var connected = false
}

/// The hub daemon's work: relays the outbox to the broker with publisher confirms.
///
/// Runs on one dedicated thread that owns the AMQP connection. Rows are read in sequence order, published
/// with `mandatory` while the confirm window has room, and marked published only when their ack arrives.
/// A nack, a return (no queue bound yet) or a lost connection leaves rows pending: they are published
/// again after a backoff, so the aggregator may see duplicates but never a gap.
public final class HubRelay: Sendable {
    public let store: HubStore
    public let settings: HubSettings
    private let logger: Logger
    private let counters = Mutex(RelayCounters())

    public init(store: HubStore, settings: HubSettings, logger: Logger) {
        self.store = store
        self.settings = settings
        var logger = logger
        logger[metadataKey: "hub"] = .string(settings.province)
        self.logger = logger
    }

    /// A snapshot of the counters.
    public var snapshot: RelayCounters { counters.withLock { $0 } }

    /// Relays until `stop` is signalled. Blocking: call it on a dedicated thread.
    public func run(until stop: StopSignal) {
        var backoff = Backoff()
        var attempt = 0
        while !stop.isStopped {
            let url = settings.broker.urls[attempt % settings.broker.urls.count]
            attempt += 1
            let connection: AMQPConnection
            do {
                connection = try AMQPConnection(url: url, heartbeat: settings.broker.heartbeat,
                                                timeout: settings.broker.timeout, connectionName: "jippnas-hub-\(settings.province)")
                try Topology.declareHubSide(connection)
                try connection.enableConfirms()
            } catch {
                let delay = backoff.nextDelay()
                logger.warning("broker connect failed", metadata: [
                    "broker": "\(url)", "reason": "\(error)", "retry_in_ms": "\(delay.milliseconds)",
                ])
                stop.sleep(delay)
                continue
            }
            let connectedAt = ContinuousClock.now
            counters.withLock { $0.connected = true }
            logger.info("connected to broker", metadata: ["broker": "\(url)", "heartbeat_s": "\(connection.heartbeat)"])
            let outcome = relay(on: connection, until: stop)
            counters.withLock {
                $0.connected = false
                if case .lost = outcome { $0.reconnects += 1 }
            }
            if ContinuousClock.now - connectedAt > .seconds(10) { backoff.reset() }
            switch outcome {
            case .stopped:
                connection.close()
                logger.info("relay stopped", metadata: ["broker": "\(url)"])
            case .lost(let error):
                connection.abandon()
                let delay = backoff.nextDelay()
                logger.warning("broker connection lost", metadata: [
                    "broker": "\(url)", "reason": "\(error)", "retry_in_ms": "\(delay.milliseconds)",
                ])
                stop.sleep(delay)
            case .retryLater(let reason):
                connection.close()
                let delay = backoff.nextDelay()
                logger.warning("publishing paused", metadata: ["reason": "\(reason)", "retry_in_ms": "\(delay.milliseconds)"])
                stop.sleep(delay)
            }
        }
    }

    private enum SessionEnd {
        case stopped
        case lost(any Error)
        /// Rows were nacked or returned unroutable: reconnect later and publish them again.
        case retryLater(String)
    }

    /// One connection's life: publish, collect confirms, mark published.
    private func relay(on connection: AMQPConnection, until stop: StopSignal) -> SessionEnd {
        var tracker = ConfirmTracker(window: settings.confirmWindow)
        var buffer: [OutboxEntry] = []
        var next = 0
        var cursor: Int64 = 0
        var confirmed: [Int64] = []
        confirmed.reserveCapacity(settings.batchSize)
        var failure: String?
        let appID = WireNames.hubAppID(version: JippnasVersion.current)

        func flushConfirmed() throws {
            guard !confirmed.isEmpty else { return }
            try store.markPublished(confirmed)
            let n = confirmed.count
            counters.withLock { $0.confirmed += n }
            confirmed.removeAll(keepingCapacity: true)
        }

        func apply(_ event: ConfirmEvent) {
            switch event {
            case .ack(let tag, let multiple):
                let settled = tracker.ack(tag: tag, multiple: multiple)
                confirmed.append(contentsOf: settled.confirmed)
                if !settled.failed.isEmpty { failure = "\(settled.failed.count) returned as unroutable (no queue bound)" }
            case .nack(let tag, let multiple):
                let settled = tracker.nack(tag: tag, multiple: multiple)
                counters.withLock { $0.nacked += settled.failed.count }
                failure = "broker nacked \(settled.failed.count) message(s)"
            case .returned(let messageID, let replyCode, let routingKey):
                if let messageID { tracker.returned(messageID: messageID) }
                counters.withLock { $0.returned += 1 }
                logger.debug("message returned", metadata: [
                    "message_id": "\(messageID ?? "-")", "routing_key": "\(routingKey)", "reply_code": "\(replyCode)",
                ])
            }
        }

        do {
            while true {
                if stop.isStopped || failure != nil {
                    // Stop taking new rows; settle what is in flight so confirmed rows are marked.
                    let deadline = ContinuousClock.now + .seconds(5)
                    while tracker.outstanding > 0, ContinuousClock.now < deadline {
                        if let event = try connection.nextConfirmEvent(timeout: .milliseconds(100)) { apply(event) }
                    }
                    try flushConfirmed()
                    _ = tracker.reset()
                    if let failure { return .retryLater(failure) }
                    return .stopped
                }
                if next == buffer.count && tracker.hasRoom {
                    buffer = try store.pendingOutbox(after: cursor, limit: settings.batchSize)
                    next = 0
                }
                var sent = 0
                while tracker.hasRoom, next < buffer.count {
                    let entry = buffer[next]
                    next += 1
                    try entry.body.withUnsafeBytes { body in
                        try connection.publish(
                            exchange: WireNames.innovationExchange, routingKey: entry.routingKey, body: body,
                            properties: PublishProperties(
                                messageID: entry.messageID, type: entry.event.rawValue, appID: appID,
                                timestamp: UInt64(Date().timeIntervalSince1970)))
                    }
                    tracker.published(seq: entry.seq, messageID: entry.messageID)
                    cursor = entry.seq
                    sent += 1
                }
                if sent > 0 { counters.withLock { $0.published += sent } }
                let idle = tracker.outstanding == 0 && next == buffer.count
                let busyWithRoom = tracker.hasRoom && next < buffer.count
                // Wait for at least one event unless there is more to send now; then drain what is buffered.
                var event = try connection.nextConfirmEvent(
                    timeout: idle ? settings.idlePoll : (busyWithRoom ? .zero : .milliseconds(200)))
                while let e = event {
                    apply(e)
                    event = try connection.nextConfirmEvent(timeout: .zero)
                }
                if confirmed.count >= settings.batchSize || tracker.outstanding == 0 { try flushConfirmed() }
            }
        } catch let error as AMQPError {
            try? flushConfirmed()
            _ = tracker.reset()
            return .lost(error)
        } catch {
            // A store failure: nothing confirmed is lost (still pending), so drop the connection and retry.
            try? flushConfirmed()
            _ = tracker.reset()
            return .lost(error)
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
