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
