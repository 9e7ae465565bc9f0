import Foundation
import GRDB
import JippnasCore

/// A point in a stream: every message up to and including `offset` is applied.
public struct StreamPosition: Sendable, Equatable {
    public var stream: String
    public var offset: Int64

    public init(stream: String, offset: Int64) {
        self.stream = stream
        self.offset = offset
    }
}

extension CatalogueStore {
    /// The first offset of `stream` the catalogue has not applied; nil when it was never fed from it.
    public func streamNextOffset(_ stream: String) throws(StoreError) -> Int64? {
        try read("read stream position") { db in
            try Int64.fetchOne(db, sql: "SELECT next_offset FROM stream_position WHERE stream = ?", arguments: [stream])
        }
    }

    /// Records `position` on its own: for deliveries that changed nothing (checkpoints, repeats), whose
    /// offsets would otherwise be read again after a restart.
    public func recordStreamPosition(_ position: StreamPosition, at now: String = Timestamp.now()) throws(StoreError) {
        do {
            try pool.write { db in try Self.advance(position, at: now, db) }
        } catch {
            throw StoreError.wrap(error, operation: "record stream position \(position.offset)", path: path)
        }
    }

    /// Moves the stored position forward (never back: parts of a batch may commit out of offset order).
    static func advance(_ position: StreamPosition, at now: String, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO stream_position(stream, next_offset, updated_at) VALUES (?, ?, ?)
            ON CONFLICT(stream) DO UPDATE SET next_offset = MAX(next_offset, excluded.next_offset),
                updated_at = excluded.updated_at
            """, arguments: [position.stream, position.offset + 1, now])
    }
}
