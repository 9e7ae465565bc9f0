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
/// Two threads: the AMQP thread owns the connection (consume, validate, ack, reject, publish resync
/// requests) and never waits on SQLite, so heartbeats are serviced through long commits; the commit
/// thread applies batches and decides reconciliation. A failed commit (busy, disk full, read-only)
/// acknowledges nothing and is retried with backoff; a valid message is never dead-lettered for a local
/// fault. Invalid messages are recorded with their reason in the same transaction and then rejected
/// without requeue, which routes them to `jippnas.national.dead`.
public final class Aggregator: Sendable {
    public let store: CatalogueStore
    public let settings: AggregatorSettings
    private let logger: Logger
    private let observer: LoopObserver
    private let counters = Mutex(AggregatorCounters())
    private let metrics = AggregatorMetrics()
    private let tunables: Mutex<Tunables>
    private let summary = MinuteSummary(AggregatorCounters())
    private let provenance: Mutex<ProvenancePolicy>

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
            commitLoop(queue, stop: stop)
            committerDone.signal()
        }
        committer.name = "aggregator-commit"
        committer.start()
        defer {
            queue.close()
            committerDone.wait()
        }

        var generation = 0
        // The catalogue is open, so the aggregator is ready: a broker that is down or refuses it is an
        // outage to ride out (the status line says so), not a failed start.
        observer.ready()
        observer.status("connecting to \(settings.broker.urls.first.map(\.description) ?? "the broker")")
        BrokerLoop(broker: settings.broker, connectionName: "jippnas-aggregator", logger: logger, observer: observer,
                   refusalHint: BrokerLoop.aggregatorRefusalHint).run(
            until: stop,
            setUp: { connection in
                try Topology.declareNationalSide(connection, declare: settings.broker.declareTopology)
                try connection.setPrefetch(UInt16(settings.prefetch))
                try connection.startConsumer(queue: WireNames.nationalQueue, consumerTag: "jippnas-aggregator")
            },
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
                logger.info("consuming", metadata: [
                    "queue": "\(WireNames.nationalQueue)", "prefetch": "\(settings.prefetch)",
                    "batch_size": "\(settings.batchSize)",
                ])
                if let failure = consume(on: connection, queue: queue, generation: generation, until: stop) {
                    return .lost(failure)
                }
                return .stopped
            })
    }

    // MARK: AMQP thread

    /// One connection's life. Returns nil when stopped, or the error that ended it.
    private func consume(on connection: AMQPConnection, queue: CommitQueue, generation: Int, until stop: StopSignal)
        -> (any Error)?
    {
        var batch = CommitBatch(generation: generation)
        var policy = provenancePolicy
        var lastStatus = ContinuousClock.now - .seconds(60)

        func settle() throws {
            for result in queue.takeResults(generation: generation) {
                for tag in result.rejectTags { try connection.reject(tag, requeue: false) }
                if result.ackUpTo > 0 { try connection.ack(result.ackUpTo, multiple: true) }
            }
            for request in queue.takeControl() {
                let body = try ControlCodec.encode(request)
                try body.withUnsafeBytes { b in
                    try connection.publish(
                        exchange: WireNames.controlExchange, routingKey: ResyncRequest.routingKey(province: request.hub),
                        body: b, properties: PublishProperties(messageID: request.requestID, type: "resync",
                                                               appID: "jippnas-aggregator/\(JippnasVersion.current)",
                                                               timestamp: UInt64(Date().timeIntervalSince1970)),
                        mandatory: false)
                }
            }
        }

        func handOff() {
            guard batch.count > 0 else { return }
            queue.submit(batch)
            batch = CommitBatch(generation: generation)
        }

        do {
            while !stop.isStopped {
                observer.tick()
                if ContinuousClock.now - lastStatus >= .seconds(5) {
                    lastStatus = ContinuousClock.now
                    let c = snapshot
                    observer.status("connected to \(connection.url); consumed \(c.consumed); applied \(c.applied); dead-lettered \(c.deadLettered)")
                }
                try settle()
                let tuned = current
                policy = provenancePolicy
                let waited = ContinuousClock.now - batch.startedAt
                let timeout = batch.count == 0 ? Duration.milliseconds(50) : max(.zero, min(tuned.batchMaxWait - waited, .milliseconds(50)))
                if let delivery = try connection.nextDelivery(timeout: timeout) {
                    if batch.count == 0 { batch.startedAt = ContinuousClock.now }
                    classify(delivery, into: &batch, policy: policy)
                    if batch.count >= tuned.batchSize { handOff() }
                } else if batch.count > 0 && ContinuousClock.now - batch.startedAt >= tuned.batchMaxWait {
                    handOff()
                }
                summarizeIfDue()
            }
            // Stopping: commit what is in hand and acknowledge it before closing.
            handOff()
            let deadline = ContinuousClock.now + .seconds(10)
            while queue.unsettledCount(generation: generation) > 0, ContinuousClock.now < deadline {
                try settle()
                _ = try connection.nextDelivery(timeout: .milliseconds(20)).map { _ in () }  // keeps heartbeats; prefetch redelivers
            }
            try settle()
            return nil
        } catch {
            // Nothing of an uncommitted batch was acknowledged; the broker redelivers it.
            return error
        }
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

    private func classify(_ delivery: AMQPDelivery, into batch: inout CommitBatch, policy: ProvenancePolicy) {
        counters.withLock { $0.consumed += 1 }
        func refuse(_ reason: ValidationReason, hub: String?) {
            batch.rejectTags.append(delivery.deliveryTag)
            batch.deadLetters.append(DeadLetter(reason: reason.code, routingKey: delivery.routingKey,
                                                messageID: delivery.messageID, hub: hub, body: delivery.body))
            logger.warning("dead letter", metadata: [
                "reason": "\(reason.code)", "routing_key": "\(delivery.routingKey)",
                "message_id": "\(delivery.messageID ?? "-")", "hub": "\(hub ?? "-")",
            ])
        }
        let verdict = Screening.screen(
            Screening.Message(routingKey: delivery.routingKey, messageID: delivery.messageID, contentType: delivery.contentType,
                              userID: delivery.userID, headers: delivery.headers, body: delivery.body),
            maxBodyBytes: settings.maxBodyBytes, policy: policy)
        switch verdict {
        case .refused(let reason, let hub):
            refuse(reason, hub: hub)
        case .otherHubMessage:
            batch.goodTags.append(delivery.deliveryTag)
            batch.hubMessages += 1
        case .checkpoint(let checkpoint):
            batch.goodTags.append(delivery.deliveryTag)
            batch.checkpoints.append((checkpoint, batch.changes.count))
        case .change(let envelope, let messageID):
            logger.debug("received", metadata: [
                "hub": "\(envelope.hub)", "seq": "\(envelope.seq)", "message_id": "\(messageID)",
                "routing_key": "\(delivery.routingKey)",
            ])
            batch.goodTags.append(delivery.deliveryTag)
            batch.changes.append(IncomingChange(envelope: envelope, messageID: messageID,
                                                routingKey: delivery.routingKey, body: delivery.body))
        }
    }

    // MARK: Commit thread

    private func commitLoop(_ queue: CommitQueue, stop: StopSignal) {
        var gapSeen: [String: ContinuousClock.Instant] = [:]
        var lastRequest: [String: ContinuousClock.Instant] = [:]
        var lastTick = ContinuousClock.now

        func requestResync(hub: String, fromSeq: Int64?, reason: ResyncReason, detail: Logger.Metadata = [:]) {
            if let last = lastRequest[hub], ContinuousClock.now - last < settings.resyncMinInterval { return }
            lastRequest[hub] = ContinuousClock.now
            let request = ResyncRequest(hub: hub, fromSeq: fromSeq, reason: reason,
                                        requestID: UUID().uuidString.lowercased(), requestedAt: Timestamp.now())
            do {
                try store.recordResyncRequest(hub: hub, reason: reason, fromSeq: fromSeq)
            } catch {
                logger.error("cannot record resync request", metadata: ["hub": "\(hub)", "reason": "\(error)"])
            }
            queue.requestControl(request)
            counters.withLock { $0.resyncRequests += 1 }
            metrics.resyncRequests.increment()
            logger.notice("resync requested", metadata: detail.merging([
                "hub": "\(hub)", "reason": "\(reason.rawValue)", "from_seq": "\(fromSeq.map(String.init) ?? "all")",
                "request_id": "\(request.requestID)",
            ]) { $1 })
        }

        func reconcile(_ checkpoint: Checkpoint) {
            do {
                let view = try store.view(hub: checkpoint.hub)
                // A checkpoint older than changes already applied (a redelivery after a reconnect) describes a
                // past state: comparing it would report a false mismatch. The next one will be current.
                guard checkpoint.seq >= view.highestSeq else {
                    logger.debug("outdated checkpoint skipped", metadata: [
                        "hub": "\(checkpoint.hub)", "seq": "\(checkpoint.seq)", "highest_seq": "\(view.highestSeq)",
                    ])
                    return
                }
                let action = Reconciler.onCheckpoint(checkpoint, view: view)
                try store.recordCheckpoint(checkpoint, consistent: action == .consistent(seq: checkpoint.seq))
                if case .resync(let fromSeq, let reason) = action {
                    requestResync(hub: checkpoint.hub, fromSeq: fromSeq, reason: reason, detail: [
                        "checkpoint_seq": "\(checkpoint.seq)", "hub_records": "\(checkpoint.live + checkpoint.withdrawn)",
                        "catalogue_records": "\(view.digest.count)", "hub_digest": "\(checkpoint.digest)",
                        "catalogue_digest": "\(view.digest)", "highest_seq": "\(view.highestSeq)",
                    ])
                } else {
                    gapSeen[checkpoint.hub] = nil
                }
            } catch {
                logger.error("checkpoint not evaluated", metadata: ["hub": "\(checkpoint.hub)", "reason": "\(error)"])
            }
        }

        while !queue.isClosed {
            if let batch = queue.nextBatch(timeout: .seconds(1)) {
                // Changes are applied in segments ending at each checkpoint, and each checkpoint is compared
                // with the catalogue as it stands at its place in the stream.
                var outcome = BatchOutcome()
                var applied = 0
                var abandoned = false
                for (checkpoint, after) in batch.checkpoints + [(nil, batch.changes.count)] as [(Checkpoint?, Int)] {
                    let segment = Array(batch.changes[applied..<after])
                    guard let part = commitWithRetry(segment, deadLetters: applied == 0 ? batch.deadLetters : [],
                                                     messages: batch.count, stop: stop) else {
                        abandoned = true
                        break
                    }
                    outcome.decisions += part.decisions
                    applied = after
                    if let checkpoint { reconcile(checkpoint) }
                }
                if abandoned {
                    queue.abandon(batch)
                    continue
                }
                counters.withLock {
                    $0.applied += outcome.applied
                    $0.duplicates += outcome.duplicates
                    $0.stale += outcome.stale
                    $0.deadLettered += batch.deadLetters.count
                    $0.hubMessages += batch.hubMessages
                    $0.checkpoints += batch.checkpoints.count
                    $0.batches += 1
                    $0.lastProgressAt = Timestamp.now()
                }
                metrics.consumed.increment(by: batch.count)
                metrics.applied.increment(by: outcome.applied)
                metrics.duplicates.increment(by: outcome.duplicates)
                metrics.stale.increment(by: outcome.stale)
                metrics.deadLettered.increment(by: batch.deadLetters.count)
                queue.post(CommitResult(generation: batch.generation, rejectTags: batch.rejectTags,
                                        ackUpTo: batch.goodTags.max() ?? 0))
            }
            if ContinuousClock.now - lastTick >= .seconds(2) {
                lastTick = ContinuousClock.now
                do {
                    let gaps = Set(try store.hubsWithGaps())
                    for hub in gapSeen.keys where !gaps.contains(hub) { gapSeen[hub] = nil }
                    for hub in gaps {
                        let since = gapSeen[hub] ?? ContinuousClock.now
                        gapSeen[hub] = since
                        let action = Reconciler.onTick(view: try store.view(hub: hub), gapOpenFor: ContinuousClock.now - since,
                                                       gapTimeout: settings.gapTimeout)
                        if case .resync(let fromSeq, let reason) = action { requestResync(hub: hub, fromSeq: fromSeq, reason: reason) }
                    }
                } catch {
                    logger.warning("gap check failed", metadata: ["reason": "\(error)"])
                }
            }
        }
    }

    /// Applies changes, retrying local failures with backoff until they commit; nil if stopped first.
    private func commitWithRetry(_ changes: [IncomingChange], deadLetters: [DeadLetter], messages: Int, stop: StopSignal)
        -> BatchOutcome?
    {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(10))
        while true {
            do {
                let started = ContinuousClock.now
                let outcome = try store.apply(changes, deadLetters: deadLetters)
                let (seconds, atto) = (ContinuousClock.now - started).components
                metrics.batchCommit.recordNanoseconds(seconds * 1_000_000_000 + atto / 1_000_000_000)
                if backoff.attempt > 0 {
                    logger.notice("commit recovered", metadata: ["attempts": "\(backoff.attempt + 1)", "messages": "\(messages)"])
                }
                return outcome
            } catch {
                counters.withLock { $0.commitRetries += 1 }
                metrics.commitRetries.increment()
                let delay = backoff.nextDelay()
                logger.warning("commit failed; nothing acknowledged, will retry", metadata: [
                    "reason": "\(error)", "messages": "\(messages)", "retry_in_ms": "\(delay.milliseconds)",
                ])
                if !stop.sleep(delay) { return nil }
            }
        }
    }
}
