import Foundation

/// The national catalogue flowing back to the hubs (docs/PROTOCOL.md, "The national feed"): the
/// aggregator publishes the state of every record it changes, periodic checkpoints of the whole
/// catalogue and periodic snapshots to exchange `jippnas.catalogue`, kept by the stream
/// `jippnas.catalogue.stream`; `jippnas mirror run` keeps a read-only copy from it.
///
/// Every message is JSON (content-type `application/json`) and its AMQP `type` is its ``FeedKind``.
public enum NationalFeed {
    /// The exchange the aggregator publishes the feed to.
    public static let exchange = "jippnas.catalogue"
    /// The stream that keeps the feed for mirrors.
    public static let stream = "jippnas.catalogue.stream"
    /// The one schema of feed messages.
    public static let schema = 1
    /// The AMQP app-id the feed is published with.
    public static func appID(version: String) -> String { "jippnas-aggregator/" + version }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
    private static let decoder = JSONDecoder()

    /// The body of a feed message.
    public static func encode<T: Encodable>(_ value: T) -> Data {
        // Encoding plain structs of strings, numbers and Data cannot fail.
        (try? encoder.encode(value)) ?? Data()
    }

    /// A feed message as the mirror reads it, or nil when its kind is unknown (a later version's; skipped).
    public static func decode(kind: String?, body: Data) throws -> FeedMessage? {
        switch kind.flatMap(FeedKind.init(rawValue:)) {
        case .record?: .record(try decoder.decode(FeedRecord.self, from: body))
        case .checkpoint?: .checkpoint(try decoder.decode(FeedCheckpoint.self, from: body))
        case .snapshotBegin?: .snapshotBegin(try decoder.decode(FeedSnapshotMarker.self, from: body))
        case .snapshotEnd?: .snapshotEnd(try decoder.decode(FeedSnapshotMarker.self, from: body))
        case nil: nil
        }
    }
}

/// The AMQP `type` of a feed message.
public enum FeedKind: String, Sendable, CaseIterable {
    case record
    case checkpoint
    case snapshotBegin = "snapshot-begin"
    case snapshotEnd = "snapshot-end"
}

/// One decoded feed message.
public enum FeedMessage: Sendable, Equatable {
    case record(FeedRecord)
    case checkpoint(FeedCheckpoint)
    case snapshotBegin(FeedSnapshotMarker)
    case snapshotEnd(FeedSnapshotMarker)

    /// The feed id the message names.
    public var feed: String? {
        switch self {
        case .record(let r): r.feed
        case .checkpoint(let c): c.feed
        case .snapshotBegin(let m), .snapshotEnd(let m): m.feed
        }
    }
}

/// A record exactly as the national catalogue holds it after a change (or in a snapshot), with its
/// accepted revisions: a mirror sets it as it is, so what the national side decided (epochs, orphans,
/// withdrawals) needs no second decision.
public struct FeedRecord: Sendable, Equatable, Codable {
    public var schema = NationalFeed.schema
    /// The publishing catalogue's feed id (a new one after the national catalogue is rebuilt).
    public var feed: String?
    /// The feed sequence number of the change this message publishes; nil inside a snapshot.
    public var seq: Int64?
    /// The sequence number of the change message published just before (0 before the first); a mirror
    /// that last applied less has missed one.
    public var prev: Int64?
    /// The snapshot this record belongs to, when it is part of one.
    public var snapshot: String?
    public var state: FeedRecordState
    /// Every accepted revision of the record, in the order they were made (epochs as they began, revisions
    /// within each; a revision that arrived late is in its place).
    public var history: [FeedHistoryRow]

    public init(seq: Int64?, prev: Int64?, snapshot: String?, state: FeedRecordState, history: [FeedHistoryRow]) {
        self.seq = seq
        self.prev = prev
        self.snapshot = snapshot
        self.state = state
        self.history = history
    }
}

/// The catalogue's row for one innovation.
public struct FeedRecordState: Sendable, Equatable, Codable {
    public var globalID: String
    /// The hub that published it to the national level.
    public var hub: String
    public var innovation: Innovation
    public var withdrawn: Bool
    public var withdrawnAt: String?
    public var orphanedAt: String?
    public var hubEpoch: String
    public var lastSeq: Int64
    public var lastMessageID: String
    public var receivedAt: String

    public init(globalID: String, hub: String, innovation: Innovation, withdrawn: Bool, withdrawnAt: String?, orphanedAt: String?,
                hubEpoch: String, lastSeq: Int64, lastMessageID: String, receivedAt: String)
    {
        self.globalID = globalID
        self.hub = hub
        self.innovation = innovation
        self.withdrawn = withdrawn
        self.withdrawnAt = withdrawnAt
        self.orphanedAt = orphanedAt
        self.hubEpoch = hubEpoch
        self.lastSeq = lastSeq
        self.lastMessageID = lastMessageID
        self.receivedAt = receivedAt
    }

    enum CodingKeys: String, CodingKey {
        case hub, innovation, withdrawn
        case globalID = "global_id"
        case withdrawnAt = "withdrawn_at"
        case orphanedAt = "orphaned_at"
        case hubEpoch = "hub_epoch"
        case lastSeq = "last_seq"
        case lastMessageID = "last_message_id"
        case receivedAt = "received_at"
    }
}

/// One accepted revision, with the body exactly as the hub published it (the provenance chain inside)
/// and the hub's signature headers.
public struct FeedHistoryRow: Sendable, Equatable, Codable {
    public var revision: Int64
    public var event: String
    public var hub: String
    public var seq: Int64
    public var messageID: String
    public var sentAt: String
    public var receivedAt: String
    public var hubEpoch: String
    public var keyID: String?
    public var signature: String?
    public var body: Data

    public init(revision: Int64, event: String, hub: String, seq: Int64, messageID: String, sentAt: String, receivedAt: String,
                hubEpoch: String, keyID: String?, signature: String?, body: Data)
    {
        self.revision = revision
        self.event = event
        self.hub = hub
        self.seq = seq
        self.messageID = messageID
        self.sentAt = sentAt
        self.receivedAt = receivedAt
        self.hubEpoch = hubEpoch
        self.keyID = keyID
        self.signature = signature
        self.body = body
    }

    enum CodingKeys: String, CodingKey {
        case revision, event, hub, seq, signature, body
        case messageID = "message_id"
        case sentAt = "sent_at"
        case receivedAt = "received_at"
        case hubEpoch = "hub_epoch"
        case keyID = "key_id"
    }
}

/// The whole catalogue's digest once every change up to `through` is published: the record digest
/// (as hubs compute theirs, ``RecordDigest``) over every record, keyed by global id.
public struct FeedCheckpoint: Sendable, Equatable, Codable {
    public var schema = NationalFeed.schema
    public var feed: String?
    public var through: Int64
    public var records: Int
    public var withdrawn: Int
    public var digest: String
    public var sentAt: String

    public init(through: Int64, records: Int, withdrawn: Int, digest: String, sentAt: String) {
        self.through = through
        self.records = records
        self.withdrawn = withdrawn
        self.digest = digest
        self.sentAt = sentAt
    }

    enum CodingKeys: String, CodingKey {
        case schema, feed, through, records, withdrawn, digest
        case sentAt = "sent_at"
    }
}

/// The start or end of a snapshot: every record of the catalogue published again, so that a mirror
/// that missed changes (offline beyond the stream's retention, or a digest that disagrees) can set
/// itself right from the stream alone.
public struct FeedSnapshotMarker: Sendable, Equatable, Codable {
    public var schema = NationalFeed.schema
    public var feed: String?
    public var id: String
    /// The last change published before this marker.
    public var through: Int64
    /// Records in the snapshot (on the end marker).
    public var records: Int?
    public var sentAt: String

    public init(id: String, through: Int64, records: Int? = nil, sentAt: String) {
        self.id = id
        self.through = through
        self.records = records
        self.sentAt = sentAt
    }

    enum CodingKeys: String, CodingKey {
        case schema, feed, id, through, records
        case sentAt = "sent_at"
    }
}

/// The aggregator's decisions about its feed, kept pure.
public enum FeedPlan {
    /// `records` (in sequence order) chained: each names the change published before it, the first `published`.
    public static func chained(_ records: [FeedRecord], after published: Int64) -> [FeedRecord] {
        var previous = published
        return records.map { record in
            var chained = record
            chained.prev = previous
            previous = record.seq ?? previous
            return chained
        }
    }

    /// Whether a snapshot should start: never one yet (a new feed, or a catalogue from before feeds, whose
    /// records no change message will ever carry), or the last one is `interval` old.
    public static func snapshotDue(lastSnapshotAt: String?, now: Date, interval: Duration) -> Bool {
        guard let last = lastSnapshotAt, let at = Timestamp.parse(last) else { return true }
        return now.timeIntervalSince(at) >= Double(interval.components.seconds)
    }
}
