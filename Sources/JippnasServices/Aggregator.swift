import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasStore
import JippnasTrust
import Logging
import Metrics
import Synchronization

/// Counters the aggregator keeps; read by summaries, status and benchmarks.
public struct AggregatorCounters: Sendable, Equatable, Codable {
    public var consumed = 0
    public var applied = 0
    public var duplicates = 0
    public var stale = 0
    public var deadLettered = 0
    public var hubMessages = 0
    public var checkpoints = 0
    public var resyncRequests = 0
    public var batches = 0
    public var commitRetries = 0
    public var reconnects = 0
    public var connected = false
    /// The broker of the current (or last) connection, redacted.
    public var broker: String?
    /// When the last batch was confirmed by the broker (hub) or committed (aggregator).
    public var lastProgressAt: String?
}

/// The national daemon's work: consumes `jippnas.national`, validates, applies in batched transactions,
/// acknowledges only after the commit, and reconciles with hubs.
///
/// The AMQP thread (``ConsumeSession``) owns the connection (consume, ack, reject, publish resync
/// requests) and never waits on SQLite, so heartbeats are serviced through long commits; handed-off
/// batches are screened on every core (``BatchScreener``); the commit thread (``CatalogueCommitter``)
/// applies them and decides reconciliation. What to acknowledge and how to commit are decided by
/// ``AckPipeline`` and ``CommitPlan``: a local store failure acknowledges nothing and is retried with
/// backoff, a message the store refuses is isolated and dead-lettered (`store_refused`), and invalid
/// messages are recorded with their reason in the same transaction and then rejected without requeue,
/// which routes them to `jippnas.national.dead`.
public final class Aggregator: Sendable {
    public let store: CatalogueStore
    public let settings: AggregatorSettings
    let logger: Logger
    let observer: LoopObserver
    private let counters = Mutex(AggregatorCounters())
    private let metrics = AggregatorMetrics()
    private let tunables: Mutex<Tunables>
    private let summary = MinuteSummary(AggregatorCounters())
    private let provenance: Mutex<ProvenancePolicy>
    /// Where a catalogue fed from the history stream stands (moved by the commit thread).
    private let cursor = Mutex(StreamCursor(nextOffset: nil))

    /// The stream position committed so far, for hand-offs and re-attaching.
    var streamCursor: StreamCursor { cursor.withLock { $0 } }

    /// Everything up to `offset` of the stream is committed.
    func streamCommitted(through offset: Int64) { cursor.withLock { $0.committed(through: offset) } }

    /// Replaces the trust store and provenance requirements (SIGHUP) from the next delivery on.
    public func reload(_ policy: ProvenancePolicy) { provenance.withLock { $0 = policy } }

    /// The provenance policy in force.
    public var provenancePolicy: ProvenancePolicy { provenance.withLock { $0 } }

    /// Writes the minute's summary line when it is due (kept across reconnects).
    private func summarizeIfDue() {
        let current = snapshot
        if let base = summary.due(current) {
            logger.info("summary", metadata: summaryMetadata(current, since: base))
        }
    }

    /// Settings a reload (SIGHUP) may change while the aggregator runs.
    public struct Tunables: Sendable, Equatable {
        public var batchSize: Int
        public var batchMaxWait: Duration
        public init(batchSize: Int, batchMaxWait: Duration) {
            self.batchSize = batchSize
            self.batchMaxWait = batchMaxWait
        }
    }

    /// Applies reloaded settings from the next batch on.
    public func reload(_ new: Tunables) { tunables.withLock { $0 = new } }

    /// The settings in force.
    public var current: Tunables { tunables.withLock { $0 } }

    public init(store: CatalogueStore, settings: AggregatorSettings, logger: Logger, observer: LoopObserver = .none,
                provenance: ProvenancePolicy = .open)
    {
        self.provenance = Mutex(provenance)
        self.store = store
        self.settings = settings
        self.logger = logger
        self.observer = observer
        self.tunables = Mutex(Tunables(batchSize: settings.batchSize, batchMaxWait: settings.batchMaxWait))
    }

    public var snapshot: AggregatorCounters { counters.withLock { $0 } }

    /// Consumes until `stop` is signalled. Blocking: call it on a dedicated thread.
    public func run(until stop: StopSignal) {
        let queue = CommitQueue()
        let committerDone = DispatchSemaphore(value: 0)
        let committer = Thread { [self] in
            CatalogueCommitter(aggregator: self, queue: queue, stop: stop).run()
            committerDone.signal()
        }
        committer.name = "aggregator-commit"
        committer.start()
        defer {
            queue.close()
            committerDone.wait()
        }

        var generation = 0
        let screener = BatchScreener(maxBodyBytes: settings.maxBodyBytes, logger: logger)
        let tuned = current
        var pipeline = AckPipeline<ContinuousClock.Instant>(limits: .init(batchSize: tuned.batchSize, maxWait: tuned.batchMaxWait))
        if case .stream = settings.source {
            do {
                cursor.withLock { $0 = StreamCursor(nextOffset: nil) }
                if let next = try store.streamNextOffset(WireNames.historyStream) { streamCommitted(through: next - 1) }
            } catch {
                logger.critical("cannot read the catalogue's stream position", metadata: ["reason": "\(error)"])
                return
            }
        }
        // The catalogue is open, so the aggregator is ready: a broker that is down or refuses it is an
        // outage to ride out (the status line says so), not a failed start.
        observer.ready()
        observer.status("connecting to \(settings.broker.urls.first.map(\.description) ?? "the broker")")
        BrokerLoop(broker: settings.broker, connectionName: connectionName, logger: logger, observer: observer,
                   refusalHint: BrokerLoop.aggregatorRefusalHint).run(
            until: stop,
            setUp: { connection in try attach(connection) },
            connectedChanged: { connected, lost, broker in
                counters.withLock {
                    $0.connected = connected
                    $0.broker = broker
                    if lost { $0.reconnects += 1 }
                }
                if lost { metrics.reconnects.increment() }
            },
            session: { connection in
                generation += 1
                logger.info("consuming", metadata: consumingMetadata)
                pipeline.connectionReplaced()
                let session = ConsumeSession(aggregator: self, connection: connection, queue: queue, screener: screener,
                                             generation: generation, pipeline: pipeline)
                defer { pipeline = session.pipeline }
                if let failure = session.run(until: stop) { return .lost(failure) }
                return .stopped
            })
    }

    /// Declares (or checks) the topology and starts the consumer: on the national queue, or on the history
    /// stream just after what the catalogue has applied.
    private func attach(_ connection: AMQPConnection) throws {
        let declare = settings.broker.declareTopology
        switch settings.source {
        case .queue:
            logKept(try Topology.declareNationalSide(connection, topology: settings.topology, declare: declare))
            try connection.setPrefetch(UInt16(settings.prefetch))
            try connection.startConsumer(queue: WireNames.nationalQueue, consumerTag: "jippnas-aggregator")
        case .regional(let province):
            logKept(try Topology.declareRegionalSide(connection, province: province, topology: settings.topology, declare: declare))
            try connection.setPrefetch(UInt16(settings.prefetch))
            try connection.startConsumer(queue: WireNames.regionalQueue(province: province), consumerTag: "jippnas-regional")
        case .stream(let start):
            logKept(try Topology.declareHistory(connection, topology: settings.topology, declare: declare))
            try connection.setPrefetch(UInt16(settings.prefetch))  // a stream consumer must have one
            let from = streamCursor.attach(configured: start)
            try connection.startConsumer(queue: WireNames.historyStream, consumerTag: "jippnas-aggregator",
                                         arguments: ["x-stream-offset": from.argument])
            logger.info("reading the history stream", metadata: ["stream": "\(WireNames.historyStream)", "from": "\(from)"])
        }
    }

    private var connectionName: String {
        if case .regional = settings.source { return "jippnas-regional" }
        return "jippnas-aggregator"
    }

    private func logKept(_ differences: [String]) {
        for difference in differences {
            logger.warning("a queue exists with other limits than configured; it is used as it is", metadata: [
                "broker_says": "\(difference)",
                "hint": "retention and delivery limit of an existing queue change with a policy (rabbitmqctl set_policy, docs/OPERATIONS.md)",
            ])
        }
    }

    private var consumingMetadata: Logger.Metadata {
        ["queue": "\(settings.source.queueName)", "prefetch": "\(settings.prefetch)", "batch_size": "\(current.batchSize)"]
    }

    // MARK: Shared with the two threads

    /// Updates the status line every few seconds and writes the minute's summary when due.
    func reportProgress(_ connection: AMQPConnection, lastStatus: inout ContinuousClock.Instant) {
        observer.tick()
        let now = ContinuousClock.now
        guard now - lastStatus >= .seconds(1) else { return }
        lastStatus = now
        let c = snapshot
        observer.status("connected to \(connection.url); consumed \(c.consumed); applied \(c.applied); dead-lettered \(c.deadLettered)")
        summarizeIfDue()
    }

    /// Counts a committed batch; `laterRefused` were refused by the store.
    func count(_ batch: CommitBatch, outcome: BatchOutcome, laterRefused: Int) {
        let deadLettered = batch.deadLetters.count + laterRefused
        counters.withLock {
            $0.consumed += batch.count
            $0.applied += outcome.applied
            $0.duplicates += outcome.duplicates
            $0.stale += outcome.stale
            $0.deadLettered += deadLettered
            $0.hubMessages += batch.hubMessages
            $0.checkpoints += batch.checkpoints.count
            $0.batches += 1
            $0.lastProgressAt = Timestamp.now()
        }
        metrics.consumed.increment(by: batch.count)
        metrics.applied.increment(by: outcome.applied)
        metrics.duplicates.increment(by: outcome.duplicates)
        metrics.stale.increment(by: outcome.stale)
        metrics.deadLettered.increment(by: deadLettered)
    }

    /// Counts a failed commit attempt.
    func countCommitRetry() {
        counters.withLock { $0.commitRetries += 1 }
        metrics.commitRetries.increment()
    }

    /// Counts a resync request sent to a hub.
    func countResyncRequest() {
        counters.withLock { $0.resyncRequests += 1 }
        metrics.resyncRequests.increment()
    }

    /// Records how long a commit took.
    func recordCommit(_ elapsed: Duration) {
        let (seconds, atto) = elapsed.components
        metrics.batchCommit.recordNanoseconds(seconds * 1_000_000_000 + atto / 1_000_000_000)
    }

    private func summaryMetadata(_ c: AggregatorCounters, since base: AggregatorCounters) -> Logger.Metadata {
        [
            "consumed": "\(c.consumed - base.consumed)", "applied": "\(c.applied - base.applied)",
            "duplicates": "\(c.duplicates - base.duplicates)", "stale": "\(c.stale - base.stale)",
            "dead_lettered": "\(c.deadLettered - base.deadLettered)", "checkpoints": "\(c.checkpoints - base.checkpoints)",
            "commit_retries": "\(c.commitRetries - base.commitRetries)", "reconnects": "\(c.reconnects - base.reconnects)",
            "window_s": "60",
        ]
    }
}
