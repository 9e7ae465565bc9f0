import Foundation
import GRDB
import JippnasCore

/// One revision as a catalogue's history holds it: what a relaying hub passes upward.
public struct AcceptedMessage: Sendable, Equatable {
    /// The history row's id: increasing in commit order, the relaying role's position.
    public var position: Int64
    public var hub: String
    public var event: ChangeEvent
    public var messageID: String
    /// The body exactly as the hub published it, and the signature headers it came with.
    public var body: Data
    public var keyID: String?
    public var signature: String?
}

extension CatalogueStore {
    /// Up to `limit` history rows after `position`, in commit order.
    public func accepted(after position: Int64, limit: Int) throws(StoreError) -> [AcceptedMessage] {
        try read("read accepted messages") { db in
            try Row.fetchAll(db, sql: """
                SELECT id, hub, event, message_id, body, key_id, signature FROM history WHERE id > ? ORDER BY id LIMIT ?
                """, arguments: [position, limit]).map { row in
                AcceptedMessage(position: row[0], hub: row[1], event: ChangeEvent(rawValue: row[2]) ?? .upsert,
                                messageID: row[3], body: row[4], keyID: row[5], signature: row[6])
            }
        }
    }
}

extension CatalogueStore {
    /// The newest history row's id (0 when there is none): a relaying hub whose stored position lies
    /// beyond it is reading a catalogue restored from an earlier backup.
    public func lastAcceptedPosition() throws(StoreError) -> Int64 {
        try read("read the last accepted position") { db in try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM history") ?? 0 }
    }
}

/// One hop of a record's latest revision on its way to the catalogue, originating hub first.
public struct ProvenanceHop: Sendable, Equatable, Encodable {
    public var hub: String
    public var seq: Int64
    public var messageID: String
    /// The key the hop signed with; nil when it published unsigned.
    public var keyID: String?

    enum CodingKeys: String, CodingKey {
        case hub, seq
        case messageID = "message_id"
        case keyID = "key_id"
    }
}

extension CatalogueStore {
    /// Who published the record's current revision and who relayed it, read from its history row (the body
    /// as received holds the chain; the row keeps the last hop's signature). Empty for an unknown record.
    public func provenance(globalID: String) throws(StoreError) -> [ProvenanceHop] {
        try read("provenance of \(globalID)") { db in
            // The newest row is not always the current revision's: a late older revision is kept after it.
            guard let row = try Row.fetchOne(db, sql: """
                SELECT h.hub, h.seq, h.message_id, h.key_id, h.body, h.event
                FROM history h LEFT JOIN innovation i ON i.global_id = h.global_id
                WHERE h.global_id = ?
                ORDER BY h.message_id = i.last_message_id DESC,
                    (h.revision = i.revision AND h.hub_epoch = i.hub_epoch AND h.origin_epoch = i.origin_epoch) DESC, h.id DESC
                LIMIT 1
                """, arguments: [globalID]) else { return [] }
            let hub: String = row[0]
            let event = ChangeEvent(rawValue: row[5]) ?? .upsert
            let last = ProvenanceHop(hub: hub, seq: row[1], messageID: row[2], keyID: row[3])
            let body: Data = row[4]
            let chain = (try? EnvelopeCodec.decode(body, routingKey: RoutingKey.innovation(province: hub, event: event) as String,
                                                   contentType: nil, maxBodyBytes: Int.max).get())?.chain ?? []
            return chain.map { ProvenanceHop(hub: $0.hub, seq: $0.seq, messageID: $0.messageID, keyID: $0.keyID) } + [last]
        }
    }
}

/// The originating store's epoch of a relayed change, as the catalogue tracks it once the change is seen.
struct OriginEpoch {
    /// The origin's current epoch, once this change is taken into account ("" when it sends none).
    var current: String
    var decision: HubEpoch.Decision

    /// The epoch a record set by this change is labelled with.
    var ofChange: String
}

extension CatalogueStore {
    /// For a relayed change, decides its originating hub's store epoch (``HubEpoch/decideRelayed``) and
    /// carries out a change: the epoch left and the parent named are retired, and on first sight the
    /// origin's records stored before epochs were tracked are labelled (with this epoch when it has no
    /// parent, else with the parent, which they then belong to or precede). Nil for a hub's own change.
    func enterOrigin(of envelope: Envelope, now: String, _ db: Database) throws -> (OriginEpoch, EpochChange?)? {
        guard let origin = envelope.chain.first else { return nil }
        let current = try String.fetchOne(db, sql: "SELECT epoch FROM origin_epoch WHERE hub = ? AND retired_at IS NULL",
                                          arguments: [origin.hub]) ?? ""
        let isRetired = try origin.epoch.map {
            try Bool.fetchOne(db, sql: "SELECT 1 FROM origin_epoch WHERE hub = ? AND epoch = ? AND retired_at IS NOT NULL",
                              arguments: [origin.hub, $0]) ?? false
        } ?? false
        let decision = HubEpoch.decideRelayed(current: current, incoming: origin.epoch, parent: origin.epochParent,
                                              isRetired: isRetired)
        guard decision == .adopt || decision == .begin, let incoming = origin.epoch else {
            return (OriginEpoch(current: current, decision: decision, ofChange: decision == .retired ? origin.epoch ?? "" : current), nil)
        }
        try db.execute(sql: "UPDATE origin_epoch SET retired_at = ? WHERE hub = ? AND retired_at IS NULL", arguments: [now, origin.hub])
        if let parent = origin.epochParent, !parent.isEmpty {
            try db.execute(sql: """
                INSERT INTO origin_epoch(hub, epoch, first_seen_at, retired_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(hub, epoch) DO UPDATE SET retired_at = coalesce(retired_at, excluded.retired_at)
                """, arguments: [origin.hub, parent, now, now])
        }
        try db.execute(sql: "INSERT OR IGNORE INTO origin_epoch(hub, epoch, first_seen_at) VALUES (?, ?, ?)",
                       arguments: [origin.hub, incoming, now])
        if current.isEmpty, let label = decision == .adopt ? incoming : origin.epochParent, !label.isEmpty {
            for table in ["innovation", "history"] {
                try db.execute(sql: "UPDATE \(table) SET origin_epoch = ? WHERE origin_epoch = '' AND substr(global_id, 1, ?) = ?",
                               arguments: [label, origin.hub.utf8.count + 1, origin.hub + ":"])
            }
        }
        return (OriginEpoch(current: incoming, decision: decision, ofChange: incoming),
                EpochChange(hub: origin.hub, from: current, to: incoming, baselineSeq: 0))
    }
}
