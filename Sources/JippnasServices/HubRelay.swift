import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasStore
import JippnasTrust
import Logging
import Metrics
import Synchronization

/// Counters the relay keeps; read by status, summaries and benchmarks.
public struct RelayCounters: Sendable, Equatable, Codable {
    public var published = 0
    public var confirmed = 0
    public var nacked = 0
    public var returned = 0
    public var reconnects = 0
    public var checkpoints = 0
    public var resyncsAnswered = 0
    public var connected = false
    /// The broker of the current (or last) connection, redacted.
    public var broker: String?
    /// When the last batch was confirmed by the broker (hub) or committed (aggregator).
    public var lastProgressAt: String?
}

/// The hub daemon's work: relays the outbox to the broker with publisher confirms, publishes
/// checkpoints, and answers the aggregator's resync requests.
///
/// Runs on one dedicated thread that owns the AMQP connection. Rows are read in sequence order, published
/// with `mandatory` while the confirm window has room, and marked published only when their ack arrives.
/// A nack, a return (no queue bound yet) or a lost connection leaves rows pending: they are published
/// again after a backoff, so the aggregator may see duplicates but never a gap.
public final class HubRelay: Sendable {
    public let store: HubStore
    public let settings: HubSettings
    private let logger: Logger
    private let observer: LoopObserver
    private let counters = Mutex(RelayCounters())
    private let metrics: RelayMetrics
    private let tunables: Mutex<Tunables>
    private let summary = MinuteSummary(RelayCounters())
    /// Signs every published body when set (`signing.key_file`).
    private let signer: HubSigningKey?

    /// Writes the minute's summary line when it is due (kept across reconnects).
    private func summarizeIfDue() {
        let current = snapshot
        if let base = summary.due(current) {
            logger.info("summary", metadata: summaryMetadata(current, since: base))
        }
    }

    /// Settings a reload (SIGHUP) may change while the relay runs.
    public struct Tunables: Sendable, Equatable {
        public var batchSize: Int
        public var checkpointInterval: Duration
        public init(batchSize: Int, checkpointInterval: Duration) {
            self.batchSize = batchSize
            self.checkpointInterval = checkpointInterval
        }
    }

    /// Applies reloaded settings from the next turn of the loop on.
    public func reload(_ new: Tunables) { tunables.withLock { $0 = new } }

    /// The settings in force.
    public var current: Tunables { tunables.withLock { $0 } }

    /// Tracker key of messages that are not outbox rows (checkpoints): their confirms mark nothing.
    private static let untracked: Int64 = 0

    public init(store: HubStore, settings: HubSettings, logger: Logger, observer: LoopObserver = .none,
                signer: HubSigningKey? = nil)
    {
        self.signer = signer
        self.store = store
        self.settings = settings
        self.observer = observer
        self.metrics = RelayMetrics(hub: settings.province)
        self.tunables = Mutex(Tunables(batchSize: settings.batchSize, checkpointInterval: settings.checkpointInterval))
        var logger = logger
        logger[metadataKey: "hub"] = .string(settings.province)
        self.logger = logger
    }

    /// A snapshot of the counters.
    public var snapshot: RelayCounters { counters.withLock { $0 } }

    /// Relays until `stop` is signalled. Blocking: call it on a dedicated thread.
    public func run(until stop: StopSignal) {
        let province = settings.province
        // The outbox is on disk and the relay is running: changes are safe whether or not a broker is up.
        observer.ready()
        BrokerLoop(broker: settings.broker, connectionName: "jippnas-hub-\(province)", logger: logger,
                   observer: observer, refusalHint: BrokerLoop.hubRefusalHint(province: province)).run(
            until: stop,
            setUp: { connection in
                try Topology.declareHubSide(connection, declare: settings.broker.declareTopology)
                try Topology.declareHubControl(connection, province: province, declare: settings.broker.declareTopology)
                try connection.enableConfirms()
                try connection.startConsumer(queue: WireNames.hubControlQueue(province: province),
                                             consumerTag: "jippnas-hub-\(province)")
            },
            connectedChanged: { connected, lost, broker in
                counters.withLock {
                    $0.connected = connected
                    $0.broker = broker
                    if lost { $0.reconnects += 1 }
                }
                if lost { metrics.reconnects.increment() }
            },
            session: { relay(on: $0, until: stop) })
    }

    /// One connection's life: publish, collect confirms, mark published, checkpoint, answer resyncs.
    private func relay(on connection: AMQPConnection, until stop: StopSignal) -> SessionEnd {
        var tracker = ConfirmTracker(window: settings.confirmWindow)
        var buffer: [OutboxEntry] = []
        var next = 0
        var cursor: Int64 = 0
        var confirmed: [Int64] = []
        confirmed.reserveCapacity(settings.batchSize)
        var failure: String?
        var checkpointDue = true  // on every (re)connect
        var lastCheckpoint = ContinuousClock.now
        var lastStatus = ContinuousClock.now - .seconds(60)
        let appID = WireNames.hubAppID(version: JippnasVersion.current)

        func flushConfirmed() throws {
            guard !confirmed.isEmpty else { return }
            try store.markPublished(confirmed)
            let n = confirmed.count
            let now = Timestamp.now()
            counters.withLock {
                $0.confirmed += n
                $0.lastProgressAt = now
            }
            metrics.confirmed.increment(by: n)
            confirmed.removeAll(keepingCapacity: true)
        }

        func handle(_ event: ConfirmEvent) throws {
            switch event {
            case .ack(let tag, let multiple):
                let settled = tracker.ack(tag: tag, multiple: multiple)
                for seq in settled.confirmed where seq != Self.untracked { confirmed.append(seq) }
                if settled.failed.contains(where: { $0 != Self.untracked }) {
                    failure = "\(settled.failed.count) returned as unroutable (no queue bound)"
                }
            case .nack(let tag, let multiple):
                let settled = tracker.nack(tag: tag, multiple: multiple)
                counters.withLock { $0.nacked += settled.failed.count }
                metrics.nacked.increment(by: settled.failed.count)
                failure = "broker nacked \(settled.failed.count) message(s)"
            case .returned(let messageID, let replyCode, let routingKey):
                if let messageID { tracker.returned(messageID: messageID) }
                counters.withLock { $0.returned += 1 }
                metrics.returned.increment()
                logger.debug("message returned", metadata: [
                    "message_id": "\(messageID ?? "-")", "routing_key": "\(routingKey)", "reply_code": "\(replyCode)",
                ])
            case .delivery(let delivery):
                try answerControl(delivery, on: connection)
                checkpointDue = true
            }
        }

        func report() throws {
            observer.tick()
            let now = ContinuousClock.now
            if now - lastStatus >= .seconds(5) {
                lastStatus = now
                let outbox = try store.outboxStats()
                metrics.outboxDepth.record(outbox.pending)
                let c = snapshot
                observer.status("connected to \(connection.url); outbox \(outbox.pending); published \(c.confirmed)")
            }
            summarizeIfDue()
        }

        do {
            while true {
                try report()
                if stop.isStopped || failure != nil {
                    // Stop taking new rows; settle what is in flight so confirmed rows are marked.
                    let deadline = ContinuousClock.now + .seconds(5)
                    while tracker.outstanding > 0, ContinuousClock.now < deadline {
                        if let event = try connection.nextConfirmEvent(timeout: .milliseconds(100)) { try handle(event) }
                    }
                    try flushConfirmed()
                    _ = tracker.reset()
                    if let failure { return .retryLater(failure) }
                    return .stopped
                }
                let tuned = current
                if next == buffer.count && tracker.hasRoom {
                    buffer = try store.pendingOutbox(after: cursor, limit: tuned.batchSize)
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
                                timestamp: UInt64(Date().timeIntervalSince1970), userID: connection.url.user,
                                headers: signatureHeaders(entry.body)))
                    }
                    tracker.published(seq: entry.seq, messageID: entry.messageID)
                    logger.debug("sent", metadata: [  // not yet confirmed: "confirmed" comes per batch
                        "seq": "\(entry.seq)", "message_id": "\(entry.messageID)", "routing_key": "\(entry.routingKey)",
                    ])
                    cursor = entry.seq
                    sent += 1
                }
                if sent > 0 {
                    counters.withLock { $0.published += sent }
                    metrics.published.increment(by: sent)
                }
                let idle = tracker.outstanding == 0 && next == buffer.count
                if idle && (checkpointDue || ContinuousClock.now - lastCheckpoint >= tuned.checkpointInterval) {
                    // Only when nothing is in flight does the store's highest seq describe what the broker has.
                    if try publishCheckpoint(on: connection, tracker: &tracker, appID: appID) {
                        checkpointDue = false
                        lastCheckpoint = ContinuousClock.now
                    }
                }
                let busyWithRoom = tracker.hasRoom && next < buffer.count
                // Wait for at least one event unless there is more to send now; then drain what is buffered.
                var event = try connection.nextConfirmEvent(
                    timeout: idle ? settings.idlePoll : (busyWithRoom ? .zero : .milliseconds(200)))
                while let e = event {
                    try handle(e)
                    event = try connection.nextConfirmEvent(timeout: .zero)
                }
                if confirmed.count >= tuned.batchSize || tracker.outstanding == 0 { try flushConfirmed() }
            }
        } catch {
            // A broker or store failure: nothing unconfirmed was marked, so those rows are published again.
            try? flushConfirmed()
            _ = tracker.reset()
            return .lost(error)
        }
    }

    /// The signature and key id headers of `body`, or none without a signing key.
    private func signatureHeaders(_ body: Data) -> [(name: String, value: String)] {
        guard let signer else { return [] }
        return [(SignatureHeaders.signature, signer.sign(body)), (SignatureHeaders.keyID, signer.keyID)]
    }

    private func summaryMetadata(_ c: RelayCounters, since base: RelayCounters) -> Logger.Metadata {
        [
            "published": "\(c.published - base.published)", "confirmed": "\(c.confirmed - base.confirmed)",
            "nacked": "\(c.nacked - base.nacked)", "returned": "\(c.returned - base.returned)",
            "checkpoints": "\(c.checkpoints - base.checkpoints)", "reconnects": "\(c.reconnects - base.reconnects)",
            "outbox": "\((try? store.outboxStats().pending).map(String.init) ?? "?")", "window_s": "60",
        ]
    }

    /// Publishes the hub's checkpoint if the outbox is empty; returns whether it did.
    private func publishCheckpoint(on connection: AMQPConnection, tracker: inout ConfirmTracker, appID: String) throws -> Bool {
        guard let checkpoint = try store.checkpointIfQuiescent() else { return false }
        let body = try ControlCodec.encode(checkpoint)
        let messageID = UUID().uuidString.lowercased()
        try body.withUnsafeBytes { b in
            try connection.publish(
                exchange: WireNames.hubExchange, routingKey: RoutingKey.hubMessage(province: settings.province, kind: Checkpoint.kind),
                body: b, properties: PublishProperties(messageID: messageID, type: Checkpoint.kind, appID: appID,
                                                       timestamp: UInt64(Date().timeIntervalSince1970),
                                                       userID: connection.url.user, headers: signatureHeaders(body)))
        }
        tracker.published(seq: Self.untracked, messageID: messageID)
        counters.withLock { $0.checkpoints += 1 }
        metrics.checkpoints.increment()
        logger.debug("checkpoint published", metadata: [
            "seq": "\(checkpoint.seq)", "live": "\(checkpoint.live)", "withdrawn": "\(checkpoint.withdrawn)",
            "digest": "\(checkpoint.digest)",
        ])
        return true
    }

    /// Answers a resync request: the records are queued again in the outbox (durable) before the request
    /// is acknowledged, so a crash in between means the request is delivered again, not lost.
    private func answerControl(_ delivery: AMQPDelivery, on connection: AMQPConnection) throws {
        switch ControlCodec.decodeResync(delivery.body, province: settings.province) {
        case .failure(let reason):
            logger.warning("control message refused", metadata: [
                "reason": "\(reason.code)", "routing_key": "\(delivery.routingKey)", "message_id": "\(delivery.messageID ?? "-")",
            ])
            try connection.reject(delivery.deliveryTag, requeue: false)
        case .success(let request):
            let count = try store.enqueueResync(fromSeq: request.fromSeq)
            try connection.ack(delivery.deliveryTag, multiple: false)
            counters.withLock { $0.resyncsAnswered += 1 }
            logger.notice("resync answered", metadata: [
                "request_id": "\(request.requestID)", "reason": "\(request.reason.rawValue)",
                "from_seq": "\(request.fromSeq.map(String.init) ?? "all")", "records": "\(count)",
            ])
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
