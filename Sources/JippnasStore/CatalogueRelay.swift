import Foundation
import GRDB
import JippnasCore

/// One accepted revision as a catalogue's history holds it: what a relaying hub passes upward.
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
    /// Who published the record's latest revision and who relayed it, read from the history row (the body
    /// as received holds the chain; the row keeps the last hop's signature). Empty for an unknown record.
    public func provenance(globalID: String) throws(StoreError) -> [ProvenanceHop] {
        try read("provenance of \(globalID)") { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT hub, seq, message_id, key_id, body, event FROM history WHERE global_id = ? ORDER BY id DESC LIMIT 1
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
