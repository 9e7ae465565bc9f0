import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasStore
import Logging
import Synchronization

/// The national feed's publisher (``NationalFeed``): a thread of the aggregator daemon with its own
/// connection, which publishes what the catalogue changed (read from `catalogue_change`, so a change is
/// published whatever made it), checkpoints of the whole catalogue and periodic snapshots, each with
/// publisher confirms. The catalogue records what the broker confirmed, so after any failure it goes on
/// from there; a mirror skips what it already has.
public final class FeedPublisher: Sendable {
    /// How often checkpoints and snapshots are published.
    public struct Intervals: Sendable, Equatable {
        public var checkpoint: Duration
        public var snapshot: Duration
        public init(checkpoint: Duration = .seconds(60), snapshot: Duration = .seconds(86_400)) {
            self.checkpoint = checkpoint
            self.snapshot = snapshot
        }
    }

    /// Counters for status and tests.
    public struct Counters: Sendable, Equatable, Codable {
        public var published = 0
        public var checkpoints = 0
        public var snapshots = 0
        public var publishedSeq: Int64 = 0
    }

    private let store: CatalogueStore
    private let broker: BrokerSettings
    private let topology: NationalTopology
    private let intervals: Intervals
    private let logger: Logger
    private let counters = Mutex(Counters())
    static let batch = 500
    /// Snapshot records per chunk, and the least time between two chunks: a snapshot goes out at up to
    /// 1,000 records a second beside the changes, so that publishing the whole catalogue (at the first
    /// start, then daily) never starves the aggregator's commits of CPU or of the database.
    static let snapshotChunk = 250
    static let snapshotPace = Duration.milliseconds(250)

    public init(store: CatalogueStore, broker: BrokerSettings, topology: NationalTopology, intervals: Intervals = Intervals(),
                logger: Logger)
    {
        self.store = store
        self.broker = broker
        self.topology = topology
        self.intervals = intervals
        var logger = logger
        logger[metadataKey: "role"] = "feed"
        self.logger = logger
    }

    public var snapshot: Counters { counters.withLock { $0 } }

    /// Publishes until `stop`. Blocking: call it on a dedicated thread.
    public func run(until stop: StopSignal) {
        BrokerLoop(broker: broker, connectionName: "jippnas-feed", logger: logger, observer: .none,
                   refusalHint: BrokerLoop.aggregatorRefusalHint).run(
            until: stop,
            setUp: { connection in
                // Declared here even on a provisioned broker: its definitions leave the feed to the
                // aggregator, whose user may configure exactly these two names.
                try Topology.declareFeed(connection, topology: topology)
                try connection.enableConfirms()
            },
            connectedChanged: { _, _, _ in },
            session: { connection in
                do {
                    var session = try Session(publisher: self, connection: connection)
                    while !stop.isStopped {
                        // Idle, it waits inside rabbitmq-c, which sends heartbeats only from its own calls.
                        if try !session.turn() { try session.idle(.milliseconds(100)) }
                    }
                    return .stopped
                } catch {
                    return .lost(error)
                }
            })
    }

    /// One connection's publishing. A snapshot cut short by a lost connection starts again on the next.
    private struct Session {
        let publisher: FeedPublisher
        let connection: AMQPConnection
        var published: Int64
        /// This catalogue's feed id, carried by every message.
        let feed: String
        var lastCheckpoint = ContinuousClock.now - .seconds(3600)
        /// The snapshot being published: its id and the last global id sent.
        var snapshot: (id: String, after: String, records: Int)?
        var nextSnapshotChunk = ContinuousClock.now
        var messages: UInt64 = 0

        init(publisher: FeedPublisher, connection: AMQPConnection) throws {
            self.publisher = publisher
            self.connection = connection
            feed = try publisher.store.startFeed()
            published = try publisher.store.feedPublishedSeq()
        }

        /// Waits for `duration` inside the client library, so that heartbeats go on; nothing is in flight.
        func idle(_ duration: Duration) throws {
            switch try connection.nextConfirmEvent(timeout: duration) {
            case .nack?: throw FeedError.nacked
            default: break
            }
        }

        /// Publishes what is due; returns whether there was anything.
        mutating func turn() throws -> Bool {
            let changes = try publisher.store.feedChanges(after: published, limit: FeedPublisher.batch)
            if let last = changes.last?.seq {
                try publish(FeedPlan.chained(changes, after: published).map { record in
                    var record = record
                    record.feed = feed
                    return (record, FeedKind.record)
                })
                try publisher.store.markFeedPublished(through: last)
                published = last
                publisher.counters.withLock {
                    $0.published += changes.count
                    $0.publishedSeq = last
                }
            }
            let snapshotMoved = try continueSnapshot()
            let checkpointed = try checkpointIfDue()
            return !changes.isEmpty || snapshotMoved || checkpointed
        }

        mutating func continueSnapshot() throws -> Bool {
            guard let current = snapshot else {
                guard FeedPlan.snapshotDue(lastSnapshotAt: try publisher.store.lastSnapshotAt(), now: Date(),
                                           interval: publisher.intervals.snapshot) else { return false }
                let id = UUID().uuidString.lowercased()
                var begin = FeedSnapshotMarker(id: id, through: published, sentAt: Timestamp.now())
                begin.feed = feed
                try publish([(begin, .snapshotBegin)])
                publisher.logger.info("snapshot started", metadata: ["snapshot": "\(id)", "through": "\(published)"])
                snapshot = (id, "", 0)
                return true
            }
            guard ContinuousClock.now >= nextSnapshotChunk else { return false }
            nextSnapshotChunk = .now + FeedPublisher.snapshotPace
            let records = try publisher.store.snapshotRecords(after: current.after, limit: FeedPublisher.snapshotChunk, snapshot: current.id)
            if let last = records.last {
                try publish(records.map { record in
                    var record = record
                    record.feed = feed
                    return (record, .record)
                })
                snapshot = (current.id, last.state.globalID, current.records + records.count)
                return true
            }
            var end = FeedSnapshotMarker(id: current.id, through: published, records: current.records, sentAt: Timestamp.now())
            end.feed = feed
            try publish([(end, .snapshotEnd)])
            try publisher.store.recordSnapshot(at: Timestamp.now())
            publisher.counters.withLock { $0.snapshots += 1 }
            publisher.logger.info("snapshot published", metadata: [
                "snapshot": "\(current.id)", "records": "\(current.records)", "through": "\(published)",
            ])
            snapshot = nil
            return true
        }

        mutating func checkpointIfDue() throws -> Bool {
            guard ContinuousClock.now - lastCheckpoint >= publisher.intervals.checkpoint,
                  var checkpoint = try publisher.store.feedCheckpointIfQuiescent(published: published) else { return false }
            checkpoint.feed = feed
            try publish([(checkpoint, .checkpoint)])
            lastCheckpoint = .now
            publisher.counters.withLock { $0.checkpoints += 1 }
            publisher.logger.debug("feed checkpoint", metadata: [
                "through": "\(checkpoint.through)", "records": "\(checkpoint.records)", "digest": "\(checkpoint.digest)",
            ])
            return true
        }

        /// Publishes `items` and waits until the broker confirmed every one (a nack or a timeout throws:
        /// the connection is then replaced and the unconfirmed part published again).
        mutating func publish(_ items: [(any Encodable, FeedKind)]) throws {
            guard !items.isEmpty else { return }
            let appID = NationalFeed.appID(version: JippnasVersion.current)
            let timestamp = UInt64(Date().timeIntervalSince1970)
            for (value, kind) in items {
                messages += 1
                let body = NationalFeed.encode(value)
                let properties = PublishProperties(messageID: "feed-\(UUID().uuidString.lowercased())", type: kind.rawValue,
                                                   appID: appID, timestamp: timestamp)
                try body.withUnsafeBytes { bytes in
                    try connection.publish(exchange: NationalFeed.exchange, routingKey: kind.rawValue, body: bytes,
                                           properties: properties, mandatory: false)
                }
            }
            let deadline = ContinuousClock.now + .seconds(30)
            var confirmed: UInt64 = messages - UInt64(items.count)
            while confirmed < messages {
                guard ContinuousClock.now < deadline else { throw FeedError.unconfirmed(messages - confirmed) }
                switch try connection.nextConfirmEvent(timeout: .milliseconds(200)) {
                case .ack(let tag, let multiple)?: confirmed = multiple ? max(confirmed, tag) : confirmed + 1
                case .nack?: throw FeedError.nacked
                default: break
                }
            }
        }
    }

    enum FeedError: Error, CustomStringConvertible {
        case unconfirmed(UInt64)
        case nacked

        var description: String {
            switch self {
            case .unconfirmed(let count): "\(count) feed messages unconfirmed after 30 s"
            case .nacked: "the broker refused (nacked) a feed message"
            }
        }
    }
}
