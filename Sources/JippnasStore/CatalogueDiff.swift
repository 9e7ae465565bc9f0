import Foundation
import GRDB

/// How two catalogues differ, record by record: what a primary and a mirror fed the same messages must
/// not. The record's content, revision, hub epoch and withdrawal are compared, and so is the set of
/// revisions in history. How a revision arrived is not: when it was received, and which message (id and
/// hub seq) carried it, since a catalogue that missed a message gets the same revision again in a resync
/// answer under a new seq. Nor is `withdrawn_at`: for a record orphaned by a restored hub it is the
/// catalogue's own clock (the withdrawal itself and the record's `updated_at` are compared).
public struct CatalogueDiff: Sendable, Equatable {
    /// A record held by both catalogues with different values.
    public struct Difference: Sendable, Equatable {
        public var globalID: String
        /// The compared columns whose values differ.
        public var columns: [String]
    }

    public var recordsA = 0
    public var recordsB = 0
    public var onlyInA: [String] = []
    public var onlyInB: [String] = []
    public var differing: [Difference] = []
    /// History revisions (global id, epoch, revision, event) held by one catalogue only.
    public var historyOnlyInA = 0
    public var historyOnlyInB = 0
    /// Whether the lists above were cut at the limit (the counts below are still exact).
    public var truncated = false
    public var onlyInACount = 0
    public var onlyInBCount = 0
    public var differingCount = 0

    public var isEmpty: Bool {
        onlyInACount == 0 && onlyInBCount == 0 && differingCount == 0 && historyOnlyInA == 0 && historyOnlyInB == 0
    }

    /// The columns compared.
    public static let columns = [
        "hub", "id", "revision", "title", "agency", "region", "category", "kind", "stage", "initiator", "launched_on",
        "summary", "benefits", "contact", "url", "status", "replicates", "updated_at", "withdrawn",
        "hub_epoch",
    ]

    /// Compares `a` with `b`, reading both in chunks in global-id order (memory stays flat); the lists keep
    /// at most `limit` entries each.
    public static func compare(_ a: CatalogueStore, _ b: CatalogueStore, limit: Int = 50) throws(StoreError) -> CatalogueDiff {
        var diff = CatalogueDiff()
        var cursorA = RecordCursor(store: a)
        var cursorB = RecordCursor(store: b)
        var left = try cursorA.next()
        var right = try cursorB.next()
        while left != nil || right != nil {
            if let l = left, right == nil || l.globalID < right!.globalID {
                diff.note(onlyInA: l.globalID, limit: limit)
                left = try cursorA.next()
            } else if let r = right, left == nil || r.globalID < left!.globalID {
                diff.note(onlyInB: r.globalID, limit: limit)
                right = try cursorB.next()
            } else if let l = left, let r = right {
                let columns = zip(columns, zip(l.values, r.values)).filter { $0.1.0 != $0.1.1 }.map(\.0)
                if !columns.isEmpty { diff.note(Difference(globalID: l.globalID, columns: columns), limit: limit) }
                left = try cursorA.next()
                right = try cursorB.next()
            }
        }
        diff.recordsA = cursorA.read
        diff.recordsB = cursorB.read
        (diff.historyOnlyInA, diff.historyOnlyInB) = try historyDifference(a, b)
        return diff
    }

    private mutating func note(onlyInA id: String, limit: Int) {
        onlyInACount += 1
        if onlyInA.count < limit { onlyInA.append(id) } else { truncated = true }
    }

    private mutating func note(onlyInB id: String, limit: Int) {
        onlyInBCount += 1
        if onlyInB.count < limit { onlyInB.append(id) } else { truncated = true }
    }

    private mutating func note(_ difference: Difference, limit: Int) {
        differingCount += 1
        if differing.count < limit { differing.append(difference) } else { truncated = true }
    }

    /// Counts history revisions held by one side only, by attaching `b` to a read of `a`.
    private static func historyDifference(_ a: CatalogueStore, _ b: CatalogueStore) throws(StoreError) -> (Int, Int) {
        let key = "global_id, hub_epoch, revision, event"
        do {
            // ATTACH is refused inside a transaction, so this is a connection of its own, outside the pools.
            var configuration = Configuration()
            configuration.readonly = true
            let queue = try DatabaseQueue(path: a.path, configuration: configuration)
            return try queue.inDatabase { db in
                try db.execute(sql: "ATTACH DATABASE ? AS other", arguments: [b.path])
                let onlyA = try Int.fetchOne(db, sql: """
                    SELECT COUNT(*) FROM (SELECT \(key) FROM main.history EXCEPT SELECT \(key) FROM other.history)
                    """) ?? 0
                let onlyB = try Int.fetchOne(db, sql: """
                    SELECT COUNT(*) FROM (SELECT \(key) FROM other.history EXCEPT SELECT \(key) FROM main.history)
                    """) ?? 0
                return (onlyA, onlyB)
            }
        } catch {
            throw StoreError.wrap(error, operation: "compare history with \(b.path)", path: a.path)
        }
    }
}

/// Reads a catalogue's records in global-id order, a thousand at a time, each chunk a read of its own.
private struct RecordCursor {
    struct Record {
        var globalID: String
        var values: [DatabaseValue]
    }

    let store: CatalogueStore
    private var buffer: [Record] = []
    private var position = 0
    private var after = ""
    private var exhausted = false
    private(set) var read = 0

    init(store: CatalogueStore) {
        self.store = store
    }

    mutating func next() throws(StoreError) -> Record? {
        if position == buffer.count {
            guard !exhausted else { return nil }
            let after = self.after
            buffer = try store.read("read records for diff") { db in
                try Row.fetchAll(db, sql: """
                    SELECT global_id, \(CatalogueDiff.columns.joined(separator: ", ")) FROM innovation
                    WHERE global_id > ? ORDER BY global_id LIMIT 1000
                    """, arguments: [after]).map { row in
                    Record(globalID: row[0], values: (1...CatalogueDiff.columns.count).map { row[$0] as DatabaseValue })
                }
            }
            position = 0
            exhausted = buffer.count < 1000
            guard let last = buffer.last else { return nil }
            self.after = last.globalID
        }
        defer { position += 1 }
        read += 1
        return buffer[position]
    }
}
