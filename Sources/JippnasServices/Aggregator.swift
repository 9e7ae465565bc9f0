import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasStore
import Logging
import Synchronization

/// Counters the aggregator keeps; read by summaries, status and benchmarks.
public struct AggregatorCounters: Sendable, Equatable {
    public var consumed = 0
    public var applied = 0
    public var duplicates = 0
    public var stale = 0
    public var deadLettered = 0
    public var hubMessages = 0
    public var batches = 0
    public var reconnects = 0
    public var connected = false
}

/// The national daemon's work: consumes `jippnas.national`, validates, applies in batched transactions
/// and acknowledges only after the commit.
///
/// Invalid messages are recorded in the catalogue (same transaction as the batch) and then rejected
/// without requeue, which routes them to `jippnas.national.dead`. A store failure acknowledges nothing:
/// the connection is dropped so the broker redelivers the batch, and consumption resumes after a backoff.
public final class Aggregator: Sendable {
    public let store: CatalogueStore
    public let settings: AggregatorSettings
    private let logger: Logger
    private let counters = Mutex(AggregatorCounters())

    public init(store: CatalogueStore, settings: AggregatorSettings, logger: Logger) {
        self.store = store
        self.settings = settings
        self.logger = logger
    }

    public var snapshot: AggregatorCounters { counters.withLock { $0 } }

    /// Consumes until `stop` is signalled. Blocking: call it on a dedicated thread.
    public func run(until stop: StopSignal) {
        var backoff = Backoff()
        var attempt = 0
        while !stop.isStopped {
            let url = settings.broker.urls[attempt % settings.broker.urls.count]
            attempt += 1
            let connection: AMQPConnection
            do {
                connection = try AMQPConnection(url: url, heartbeat: settings.broker.heartbeat,
                                                timeout: settings.broker.timeout, connectionName: "jippnas-aggregator")
                try Topology.declareNationalSide(connection)
                try connection.setPrefetch(UInt16(settings.prefetch))
                try connection.startConsumer(queue: WireNames.nationalQueue, consumerTag: "jippnas-aggregator")
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
            logger.info("consuming", metadata: [
                "broker": "\(url)", "queue": "\(WireNames.nationalQueue)", "prefetch": "\(settings.prefetch)",
                "heartbeat_s": "\(connection.heartbeat)",
            ])
            let failure = consume(on: connection, until: stop)
            counters.withLock {
                $0.connected = false
                if failure != nil { $0.reconnects += 1 }
            }
            if ContinuousClock.now - connectedAt > .seconds(10) { backoff.reset() }
            guard let failure else {
                connection.close()
                logger.info("consumer stopped", metadata: ["broker": "\(url)"])
                return
            }
            if let amqp = failure as? AMQPError, amqp.connectionLost { connection.abandon() } else { connection.close() }
            let delay = backoff.nextDelay()
            logger.warning("consumer interrupted", metadata: [
                "broker": "\(url)", "reason": "\(failure)", "retry_in_ms": "\(delay.milliseconds)",
            ])
            stop.sleep(delay)
        }
    }

    /// What to do with one delivery once its batch commits.
    private enum Pending {
        case change
        case dead(reason: String)
        case ignore
    }

    /// One connection's life. Returns nil when stopped, or the error that ended it.
    private func consume(on connection: AMQPConnection, until stop: StopSignal) -> (any Error)? {
        var tags: [UInt64] = []
        var kinds: [Pending] = []
        var changes: [IncomingChange] = []
        var deadLetters: [DeadLetter] = []
        tags.reserveCapacity(settings.batchSize)
        kinds.reserveCapacity(settings.batchSize)
        changes.reserveCapacity(settings.batchSize)
        var batchStarted = ContinuousClock.now
        var lastSummary = ContinuousClock.now
        var summaryBase = snapshot

        func commit() throws {
            guard !tags.isEmpty else { return }
            let outcome = try store.apply(changes, deadLetters: deadLetters)
            // Durable now: reject the refused ones (dead-lettered by the broker), then ack the rest at once.
            var highestGood: UInt64 = 0
            for (tag, kind) in zip(tags, kinds) {
                if case .dead = kind { try connection.reject(tag, requeue: false) } else { highestGood = max(highestGood, tag) }
            }
            if highestGood > 0 { try connection.ack(highestGood, multiple: true) }
            let hubMessages = kinds.filter { if case .ignore = $0 { true } else { false } }.count
            counters.withLock {
                $0.applied += outcome.applied
                $0.duplicates += outcome.duplicates
                $0.stale += outcome.stale
                $0.deadLettered += deadLetters.count
                $0.hubMessages += hubMessages
                $0.batches += 1
            }
            tags.removeAll(keepingCapacity: true)
            kinds.removeAll(keepingCapacity: true)
            changes.removeAll(keepingCapacity: true)
            deadLetters.removeAll(keepingCapacity: true)
        }

        do {
            while !stop.isStopped {
                let waited = ContinuousClock.now - batchStarted
                let timeout = tags.isEmpty ? Duration.milliseconds(250) : max(.zero, settings.batchMaxWait - waited)
                if let delivery = try connection.nextDelivery(timeout: timeout) {
                    if tags.isEmpty { batchStarted = ContinuousClock.now }
                    counters.withLock { $0.consumed += 1 }
                    tags.append(delivery.deliveryTag)
                    let kind = classify(delivery, changes: &changes, deadLetters: &deadLetters)
                    kinds.append(kind)
                    if tags.count >= settings.batchSize { try commit() }
                } else if !tags.isEmpty && ContinuousClock.now - batchStarted >= settings.batchMaxWait {
                    try commit()
                }
                if ContinuousClock.now - lastSummary >= .seconds(60) {
                    let now = snapshot
                    logger.info("summary", metadata: [
                        "consumed": "\(now.consumed - summaryBase.consumed)", "applied": "\(now.applied - summaryBase.applied)",
                        "duplicates": "\(now.duplicates - summaryBase.duplicates)", "stale": "\(now.stale - summaryBase.stale)",
                        "dead_lettered": "\(now.deadLettered - summaryBase.deadLettered)", "window_s": "60",
                    ])
                    summaryBase = now
                    lastSummary = ContinuousClock.now
                }
            }
            try commit()
            return nil
        } catch {
            // Nothing of the uncommitted batch was acknowledged; the broker redelivers it.
            return error
        }
    }

    private func classify(_ delivery: AMQPDelivery, changes: inout [IncomingChange], deadLetters: inout [DeadLetter]) -> Pending {
        func refuse(_ reason: ValidationReason, hub: String?) -> Pending {
            let letter = DeadLetter(reason: reason.code, routingKey: delivery.routingKey, messageID: delivery.messageID,
                                    hub: hub, body: delivery.body)
            deadLetters.append(letter)
            logger.warning("dead letter", metadata: [
                "reason": "\(reason.code)", "routing_key": "\(delivery.routingKey)",
                "message_id": "\(delivery.messageID ?? "-")", "hub": "\(hub ?? "-")",
            ])
            return .dead(reason: reason.code)
        }
        let key = RoutingKey.parse(delivery.routingKey)
        switch key {
        case .hub?:
            // Hub-level messages (checkpoints) are acknowledged; their handling comes with reconciliation.
            logger.debug("hub message", metadata: ["routing_key": "\(delivery.routingKey)"])
            return .ignore
        case nil:
            return refuse(.invalidRoutingKey, hub: nil)
        case .innovation(let province, _)?:
            guard let messageID = delivery.messageID, !messageID.isEmpty, messageID.utf8.count <= 128 else {
                return refuse(.missingField("message_id"), hub: province)
            }
            switch EnvelopeCodec.decode(delivery.body, routingKey: delivery.routingKey, contentType: delivery.contentType,
                                        maxBodyBytes: settings.maxBodyBytes) {
            case .failure(let reason):
                return refuse(reason, hub: province)
            case .success(let envelope):
                logger.trace("change", metadata: [
                    "hub": "\(envelope.hub)", "seq": "\(envelope.seq)", "message_id": "\(messageID)",
                    "routing_key": "\(delivery.routingKey)",
                ])
                changes.append(IncomingChange(envelope: envelope, messageID: messageID, routingKey: delivery.routingKey,
                                              body: delivery.body))
                return .change
            }
        }
    }
}
