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
    let logger: Logger
    let observer: LoopObserver
    /// Wakes the relay when `jippnas hub import` writes to the outbox.
    private let watcher: DatabaseWatcher
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

    public init(store: HubStore, settings: HubSettings, logger: Logger, observer: LoopObserver = .none,
                signer: HubSigningKey? = nil)
    {
        self.signer = signer
        self.store = store
        self.watcher = DatabaseWatcher(path: store.path)
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
                for note in try Topology.declareHubControl(connection, province: province, declare: settings.broker.declareTopology) {
                    logger.notice("control queue kept as it is", metadata: [
                        "broker_says": "\(note)",
                        "hint": "a classic control queue stops this hub on a cluster while its node is down; delete it (rabbitmqctl delete_queue) and the hub declares a quorum one",
                    ])
                }
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
        RelaySession(relay: self, connection: connection, watcher: watcher).run(until: stop)
    }

    // MARK: Shared with the session

    /// Updates the status line every few seconds and writes the minute's summary when due.
    func reportProgress(_ connection: AMQPConnection, lastStatus: inout ContinuousClock.Instant) throws {
        observer.tick()
        let now = ContinuousClock.now
        guard now - lastStatus >= .seconds(5) else { return }
        lastStatus = now
        let outbox = try store.outboxStats()
        metrics.outboxDepth.record(outbox.pending)
        observer.status("connected to \(connection.url); outbox \(outbox.pending); published \(snapshot.confirmed)")
        summarizeIfDue()
    }

    /// Counts rows sent, confirmed and marked, nacked or returned.
    func count(sent: Int = 0, marked: Int = 0, nacked: Int = 0, returned: Int = 0) {
        let now = marked > 0 ? Timestamp.now() : nil
        counters.withLock {
            $0.published += sent
            $0.confirmed += marked
            $0.nacked += nacked
            $0.returned += returned
            if let now { $0.lastProgressAt = now }
        }
        if sent > 0 { metrics.published.increment(by: sent) }
        if marked > 0 { metrics.confirmed.increment(by: marked) }
        if nacked > 0 { metrics.nacked.increment(by: nacked) }
        if returned > 0 { metrics.returned.increment(by: returned) }
    }

    /// The signature and key id headers of `body`, or none without a signing key.
    func signatureHeaders(_ body: Data) -> [(name: String, value: String)] {
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

    /// Publishes the hub's checkpoint if the outbox is empty; returns its message id if it did.
    func publishCheckpoint(on connection: AMQPConnection, appID: String) throws -> String? {
        guard let checkpoint = try store.checkpointIfQuiescent() else { return nil }
        let body = try ControlCodec.encode(checkpoint)
        let messageID = UUID().uuidString.lowercased()
        try body.withUnsafeBytes { b in
            try connection.publish(
                exchange: WireNames.hubExchange, routingKey: RoutingKey.hubMessage(province: settings.province, kind: Checkpoint.kind),
                body: b, properties: PublishProperties(messageID: messageID, type: Checkpoint.kind, appID: appID,
                                                       timestamp: UInt64(Date().timeIntervalSince1970),
                                                       userID: connection.url.user, headers: signatureHeaders(body)))
        }
        counters.withLock { $0.checkpoints += 1 }
        metrics.checkpoints.increment()
        logger.debug("checkpoint published", metadata: [
            "seq": "\(checkpoint.seq)", "live": "\(checkpoint.live)", "withdrawn": "\(checkpoint.withdrawn)",
            "digest": "\(checkpoint.digest)",
        ])
        return messageID
    }

    /// Reads a control message: a valid resync request is returned, to be answered part by part by the
    /// session (``finishResync(_:on:)`` acknowledges it); anything else is rejected here.
    func takeControl(_ delivery: AMQPDelivery, on connection: AMQPConnection) throws -> ResyncRequest? {
        switch ControlCodec.decodeResync(delivery.body, province: settings.province) {
        case .failure(let reason):
            logger.warning("control message refused", metadata: [
                "reason": "\(reason.code)", "routing_key": "\(delivery.routingKey)", "message_id": "\(delivery.messageID ?? "-")",
            ])
            try connection.reject(delivery.deliveryTag, requeue: false)
            return nil
        case .success(let request):
            return request
        }
    }

    /// Acknowledges a resync request whose records are all queued again (durably, in the outbox): a crash
    /// before this means the request is delivered again, and queues only what was not yet pending.
    /// `coveredBy` names the request whose answer also answered this one.
    func finishResync(_ answer: ResyncAnswer, coveredBy: String? = nil, on connection: AMQPConnection) throws {
        try connection.ack(answer.deliveryTag, multiple: false)
        counters.withLock { $0.resyncsAnswered += 1 }
        var metadata: Logger.Metadata = [
            "request_id": "\(answer.request.requestID)", "reason": "\(answer.request.reason.rawValue)",
            "from_seq": "\(answer.request.fromSeq.map(String.init) ?? "all")",
            "records": "\(coveredBy == nil ? answer.job.queued : 0)",
            "queued_ms": "\((ContinuousClock.now - answer.started).milliseconds)",
        ]
        if let coveredBy { metadata["covered_by"] = "\(coveredBy)" }
        logger.notice("resync answered", metadata: metadata)
    }
}

/// A resync request being answered on one connection.
struct ResyncAnswer {
    let deliveryTag: UInt64
    let request: ResyncRequest
    var job: HubStore.ResyncJob
    let started: ContinuousClock.Instant
    /// Requests already waiting when this one started: the only ones its answer may also answer.
    let waitingAtStart: Int
}

extension Duration {
    var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
