import Foundation
import GRDB
import JippnasCore

/// A valid change, ready to apply.
public struct IncomingChange: Sendable {
    public var envelope: Envelope
    public var messageID: String
    public var routingKey: String
    /// The body exactly as received, kept in history as provenance.
    public var body: Data
    /// The publishing hub's signature headers, kept in history with the body they cover.
    public var keyID: String?
    public var signature: String?

    public init(envelope: Envelope, messageID: String, routingKey: String, body: Data, keyID: String? = nil,
                signature: String? = nil)
    {
        self.envelope = envelope
        self.messageID = messageID
        self.routingKey = routingKey
        self.body = body
        self.keyID = keyID
        self.signature = signature
    }
}

/// A refused message, recorded before it is rejected to the dead-letter queue.
public struct DeadLetter: Sendable, Equatable {
    public var reason: String
    public var routingKey: String
    public var messageID: String?
    public var hub: String?
    /// The first bytes of the body, as text with invalid UTF-8 replaced.
    public var bodyPrefix: String
    public var receivedAt: String?
    /// What exactly was refused, when the reason alone does not say (the store's own message).
    public var detail: String?

    /// How many bytes of a refused body are kept.
    public static let prefixBytes = 512

    public init(reason: String, routingKey: String, messageID: String?, hub: String?, body: Data, receivedAt: String? = nil,
                detail: String? = nil)
    {
        self.reason = reason
        self.routingKey = routingKey
        self.messageID = messageID
        self.hub = hub
        self.bodyPrefix = String(decoding: body.prefix(Self.prefixBytes), as: UTF8.self)
        self.receivedAt = receivedAt
        self.detail = detail
    }
}

/// What one batch did, message by message in the order given.
public struct BatchOutcome: Sendable, Equatable {
    public var decisions: [ApplyDecision] = []
    /// Hubs whose messages in this batch began a new epoch (a restored or rebuilt store), with the epoch.
    public var epochsBegun: [EpochChange] = []
    /// Originating hubs of relayed changes whose store epoch this batch adopted or moved on from.
    public var originEpochsBegun: [EpochChange] = []
    public init(decisions: [ApplyDecision] = []) { self.decisions = decisions }
    public var applied: Int { decisions.filter { $0 == .apply }.count }
    public var duplicates: Int { decisions.filter { $0 == .duplicate }.count }
    public var stale: Int { decisions.filter { $0 == .stale }.count }
}

/// A hub whose store began a new epoch, as the catalogue saw it.
public struct EpochChange: Sendable, Equatable {
    public var hub: String
    /// The epoch retired ("" when the catalogue had none).
    public var from: String
    public var to: String
    /// Sequence tracking starts again after this seq.
    public var baselineSeq: Int64

    public init(hub: String, from: String, to: String, baselineSeq: Int64) {
        self.hub = hub
        self.from = from
        self.to = to
        self.baselineSeq = baselineSeq
    }
}

/// One catalogue entry.
public struct CatalogueEntry: Sendable, Equatable, Codable {
    public var globalID: String
    public var hub: String
    public var innovation: Innovation
    public var withdrawn: Bool
    public var withdrawnAt: String?
    public var receivedAt: String
    public var lastSeq: Int64
    /// The hub store (epoch) that set this record ("" before epochs).
    public var hubEpoch: String
    /// When a restored hub turned out not to hold this record any more (it is withdrawn since).
    public var orphanedAt: String?

    enum CodingKeys: String, CodingKey {
        case globalID = "global_id"
        case hub, innovation, withdrawn
        case withdrawnAt = "withdrawn_at"
        case receivedAt = "received_at"
        case lastSeq = "last_seq"
        case hubEpoch = "hub_epoch"
        case orphanedAt = "orphaned_at"
    }
}

/// One accepted revision with its provenance.
public struct HistoryEntry: Sendable, Equatable, Codable {
    public var revision: Int64
    public var event: String
    public var hub: String
    public var seq: Int64
    public var messageID: String
    public var sentAt: String
    public var receivedAt: String
    /// The hub store (epoch) the revision came from ("" before epochs).
    public var hubEpoch: String

    enum CodingKeys: String, CodingKey {
        case revision, event, hub, seq
        case hubEpoch = "hub_epoch"
        case messageID = "message_id"
        case sentAt = "sent_at"
        case receivedAt = "received_at"
    }
}

/// Per-hub state and counters.
public struct HubState: Sendable, Equatable, Codable {
    public var hub: String
    public var highestSeq: Int64
    public var lastMessageAt: String
    public var live: Int
    public var withdrawn: Int
    public var applied: Int
    public var duplicates: Int
    public var stale: Int
    public var deadLetters: Int
    /// Every sequence number up to this one has arrived.
    public var contiguousSeq: Int64
    /// When a gap (a missing sequence number) was first seen, while it is open.
    public var gapSince: String?
    public var lastCheckpointAt: String?
    /// The hub store (epoch) currently tracked ("" before epochs).
    public var epoch: String

    enum CodingKeys: String, CodingKey {
        case hub, live, withdrawn, applied, duplicates, stale, epoch
        case highestSeq = "highest_seq"
        case lastMessageAt = "last_message_at"
        case deadLetters = "dead_letters"
        case contiguousSeq = "contiguous_seq"
        case gapSince = "gap_since"
        case lastCheckpointAt = "last_checkpoint_at"
    }
}

/// One anti-entropy round with a hub: why it was asked, and what it fixed.
public struct Reconciliation: Sendable, Equatable, Codable {
    public var id: Int64
    public var hub: String
    public var requestedAt: String
    /// `seq_gap`, `digest_mismatch`, `new_epoch` or `manual`.
    public var reason: String
    public var fromSeq: Int64?
    /// When a checkpoint agreeing with the catalogue arrived afterwards.
    public var completedAt: String?
    /// Records the resync restored or brought up to date.
    public var recordsFixed: Int

    enum CodingKeys: String, CodingKey {
        case id, hub, reason
        case requestedAt = "requested_at"
        case fromSeq = "from_seq"
        case completedAt = "completed_at"
        case recordsFixed = "records_fixed"
    }
}

/// Whole-catalogue figures for `jippnas catalogue stats`.
public struct CatalogueStats: Sendable, Equatable, Codable {
    public var innovations: Int
    public var live: Int
    public var withdrawn: Int
    public var historyRows: Int
    public var deadLetters: Int
    public var hubs: [HubState]
    public var byCategory: [String: Int]
    public var replications: Int
    public var reconciliations: [Reconciliation]

    enum CodingKeys: String, CodingKey {
        case innovations, live, withdrawn, hubs, replications, reconciliations
        case historyRows = "history_rows"
        case deadLetters = "dead_letters"
        case byCategory = "by_category"
    }
}

/// The national catalogue: one SQLite database holding the current record of every innovation, every
/// accepted revision with provenance, per-hub state, and the dead letters.

extension DeadLetter: Codable {
    enum CodingKeys: String, CodingKey {
        case reason, hub, detail
        case routingKey = "routing_key"
        case messageID = "message_id"
        case bodyPrefix = "body_prefix"
        case receivedAt = "received_at"
    }
}
