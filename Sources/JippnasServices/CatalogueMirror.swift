import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasStore
import Logging
import Synchronization

/// `jippnas mirror run`: a read-only copy of the national catalogue at a hub, kept from the national
/// feed (``NationalFeed``) on the stream `jippnas.catalogue.stream`.
///
/// One thread owns the connection and the SQLite writes: a batch of deliveries is decided by
/// ``MirrorFollower``, applied in one transaction together with the follower and the next stream offset,
/// and only then acknowledged (a stream needs the acks for credit, not for safety: the offset in the
/// catalogue is where a restart reads from). A checkpoint is compared after everything before it is
/// committed; when the mirror differs it reads the stream again from the last snapshot.
public final class CatalogueMirror: Sendable {
    /// Counters for status, the summary line and tests.
    public struct Counters: Sendable, Equatable, Codable {
        public var received = 0
        public var applied = 0
        public var skipped = 0
        public var gaps = 0
        public var checkpointsAgreed = 0
        public var checkpointsDisagreed = 0
        public var snapshotsApplied = 0
        public var lastSeq: Int64 = 0
        public var mode = "fresh"
        public var connected = false
        public var lastProgressAt: String?
    }

    public let store: CatalogueStore
    private let settings: AggregatorSettings
    private let start: StreamStart
    private let logger: Logger
    private let observer: LoopObserver
    private let counters = Mutex(Counters())
    static let batchWait = Duration.milliseconds(50)

    public init(store: CatalogueStore, settings: AggregatorSettings, logger: Logger, observer: LoopObserver = .none) {
        self.store = store
        self.settings = settings
        if case .stream(let start) = settings.source { self.start = start } else { self.start = .first }
        var logger = logger
        logger[metadataKey: "role"] = "mirror"
        self.logger = logger
        self.observer = observer
    }

    public var snapshot: Counters { counters.withLock { $0 } }

    /// Follows the feed until `stop`. Blocking: call it on a dedicated thread.
    public func run(until stop: StopSignal) {
        observer.ready()
        BrokerLoop(broker: settings.broker, connectionName: "jippnas-mirror", logger: logger, observer: observer,
                   refusalHint: BrokerLoop.aggregatorRefusalHint).run(
            until: stop,
            setUp: { connection in try attach(connection) },
            connectedChanged: { connected, _, _ in counters.withLock { $0.connected = connected } },
            session: { connection in
                do {
                    return try follow(connection, until: stop)
                } catch {
                    return .lost(error)
                }
            })
    }

    /// Starts reading the stream where the mirror stands (or at the configured start when it is new).
    private func attach(_ connection: AMQPConnection) throws {
        _ = try connection.queueDepth(NationalFeed.stream)  // passive: a clear error when there is no feed
        try connection.setPrefetch(UInt16(min(settings.prefetch, 65_535)))
        let (follower, next) = try store.mirrorPosition()
        let from = next.map { StreamStart.offset($0) } ?? start
        try connection.startConsumer(queue: NationalFeed.stream, consumerTag: "jippnas-mirror",
                                     arguments: ["x-stream-offset": from.argument])
        counters.withLock {
            $0.lastSeq = follower.lastSeq
            $0.mode = follower.storedMode
        }
        logger.info("reading the national feed", metadata: [
            "stream": "\(NationalFeed.stream)", "from": "\(from)", "last_seq": "\(follower.lastSeq)", "mode": "\(follower.storedMode)",
        ])
    }

    private func follow(_ connection: AMQPConnection, until stop: StopSignal) throws -> SessionEnd {
        var (follower, next) = try store.mirrorPosition()
        var lastStatus = ContinuousClock.now
        while !stop.isStopped {
            observer.tick()
            let batch = try receive(connection, from: next)
            if ContinuousClock.now - lastStatus >= .seconds(1) {
                lastStatus = .now
                let c = snapshot
                observer.status("mirroring: applied \(c.applied), last feed seq \(c.lastSeq), \(c.mode)")
            }
            guard let last = batch.last else { continue }
            let outcome = try apply(batch, follower: &follower)
            next = (last.streamOffset ?? (next ?? 0)) + 1
            if case .readAgain(let offset) = outcome {
                try store.recordMirrorPosition(follower, nextOffset: offset)
                return .restart("the mirror differs from the national checkpoint: reading the feed again from offset \(offset)")
            }
            try store.recordMirrorPosition(follower, nextOffset: next)
            try connection.ack(last.deliveryTag, multiple: true)
        }
        return .stopped
    }

    /// Deliveries for one batch: up to `batch_size`, or what came within a short wait of the first. A
    /// stream starts at the chunk holding the requested offset, so earlier offsets are acknowledged unread.
    private func receive(_ connection: AMQPConnection, from next: Int64?) throws -> [AMQPDelivery] {
        var batch: [AMQPDelivery] = []
        var deadline = ContinuousClock.now + .milliseconds(200)
        while batch.count < settings.batchSize, ContinuousClock.now < deadline {
            guard let delivery = try connection.nextDelivery(timeout: .milliseconds(20)) else { continue }
            if let offset = delivery.streamOffset, let next, offset < next {
                try connection.ack(delivery.deliveryTag, multiple: false)
                continue
            }
            if batch.isEmpty { deadline = ContinuousClock.now + Self.batchWait }
            batch.append(delivery)
        }
        return batch
    }

    enum Outcome {
        case done
        case readAgain(from: Int64)
    }

    /// Decides and applies one batch in stream order: records are gathered and committed before any
    /// checkpoint is compared, so the comparison sees everything published before it.
    private func apply(_ batch: [AMQPDelivery], follower: inout MirrorFollower) throws -> Outcome {
        var pending: [FeedRecord] = []
        func commit(_ step: CatalogueStore.SnapshotStep? = nil) throws {
            let inSnapshot = if case .inSnapshot = follower.mode { true } else { false }
            guard !pending.isEmpty || step != nil else { return }
            try store.applyFeed(pending, follower: follower, nextOffset: nil, snapshot: step ?? (inSnapshot ? .inProgress : nil))
            counters.withLock { $0.applied += pending.count }
            pending = []
        }
        for delivery in batch {
            counters.withLock { $0.received += 1 }
            let message: FeedMessage?
            do {
                message = try NationalFeed.decode(kind: delivery.type, body: delivery.body)
            } catch {
                logger.error("a feed message does not decode; skipped", metadata: [
                    "type": "\(delivery.type ?? "-")", "offset": "\(delivery.streamOffset ?? -1)", "reason": "\(error)",
                ])
                continue
            }
            if follower.observe(feed: message?.feed) {
                try commit()
                logger.warning("the national feed is a new one (the national catalogue was rebuilt): waiting for its snapshot",
                               metadata: ["feed": "\(message?.feed ?? "-")"])
            }
            switch message {
            case .record(let record)?:
                if decide(record, &follower) { pending.append(record) }
            case .snapshotBegin(let marker)?:
                try commit()
                if follower.snapshotBegins(id: marker.id, at: delivery.streamOffset) {
                    try commit(.begin)
                    logger.notice("applying a snapshot", metadata: ["snapshot": "\(marker.id)", "through": "\(marker.through)"])
                }
            case .snapshotEnd(let marker)?:
                let wasIn = follower.mode == .inSnapshot(marker.id)
                if wasIn { try commit(.inProgress) }
                follower.snapshotEnds(id: marker.id, through: marker.through)
                if wasIn {
                    try commit(.end)
                    counters.withLock { $0.snapshotsApplied += 1 }
                    logger.notice("snapshot applied", metadata: ["snapshot": "\(marker.id)", "records": "\(marker.records ?? 0)",
                                                                 "through": "\(marker.through)"])
                }
            case .checkpoint(let checkpoint)?:
                try commit()
                if case .readAgain(let offset) = try compare(checkpoint, &follower) { return .readAgain(from: offset) }
            case nil:
                break  // a kind from a later version
            }
        }
        try commit()
        counters.withLock {
            $0.lastSeq = follower.lastSeq
            $0.mode = follower.storedMode
            $0.lastProgressAt = Timestamp.now()
        }
        return .done
    }

    private func decide(_ record: FeedRecord, _ follower: inout MirrorFollower) -> Bool {
        switch follower.record(seq: record.seq, prev: record.prev, snapshot: record.snapshot) {
        case .apply:
            return true
        case .skip:
            counters.withLock { $0.skipped += 1 }
            return false
        case .gap(let lastApplied, let prev):
            counters.withLock { $0.gaps += 1 }
            logger.warning("the feed has a gap: waiting for the next snapshot", metadata: [
                "last_applied": "\(lastApplied)", "message_follows": "\(prev)",
                "hint": "normal after being offline longer than the stream keeps (feed retention); the next snapshot repairs it",
            ])
            return false
        }
    }

    private func compare(_ checkpoint: FeedCheckpoint, _ follower: inout MirrorFollower) throws -> Outcome {
        let mine = try store.mirrorCheckpoint()
        let agrees = mine.digest == checkpoint.digest && mine.records == checkpoint.records && mine.withdrawn == checkpoint.withdrawn
        switch follower.checkpoint(through: checkpoint.through, agrees: agrees) {
        case .agrees:
            counters.withLock { $0.checkpointsAgreed += 1 }
            logger.debug("checkpoint agrees", metadata: ["through": "\(checkpoint.through)", "records": "\(mine.records)"])
            return .done
        case .notComparable:
            return .done
        case .disagrees(let offset):
            counters.withLock { $0.checkpointsDisagreed += 1 }
            logger.warning("the mirror differs from the national checkpoint", metadata: [
                "through": "\(checkpoint.through)", "national_records": "\(checkpoint.records)", "mirror_records": "\(mine.records)",
                "national_digest": "\(checkpoint.digest)", "mirror_digest": "\(mine.digest)",
                "repair": "\(offset.map { "reading again from the last snapshot at offset \($0)" } ?? "at the next snapshot")",
            ])
            try store.recordMirrorPosition(follower, nextOffset: nil)
            return offset.map { .readAgain(from: $0) } ?? .done
        }
    }
}
