import Foundation
import GRDB
import JippnasCore

/// What ``HubStore/restore(from:to:province:)`` did.
public struct RestoreSummary: Sendable, Equatable {
    /// The epoch the restored store publishes under from now on.
    public var epoch: String
    /// The backup's own epoch ("" for a backup made before epochs).
    public var backupEpoch: String
    public var records: Int
    /// The backup's last outbox sequence number: the restored hub continues from there.
    public var lastSeq: Int64
    /// Unpublished rows of the backup, given the new epoch and new message ids.
    public var pendingReissued: Int
}

extension HubStore {
    /// Writes a consistent copy of the store (as of one read transaction; the daemon may be running) to a
    /// new file at `destination`, for ``restore(from:to:province:)``.
    public func backup(to destination: String) throws(StoreError) {
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw StoreError(operation: "backup", path: destination, message: "\(destination) already exists")
        }
        do {
            try pool.backup(to: try DatabaseQueue(path: destination))
        } catch {
            throw StoreError.wrap(error, operation: "backup to \(destination)", path: path)
        }
    }

    /// Replaces the store at `path` with the backup at `backup` and gives it a new epoch, so that the
    /// aggregator knows its sequence numbers and revisions went back and reconciles with it
    /// (docs/PROTOCOL.md, Epochs). The hub daemon must be stopped: the caller holds its ``DatabaseLock``.
    ///
    /// The backup's unpublished outbox rows are published under the new epoch with new message ids:
    /// under the old epoch the aggregator would ignore them as coming from a store that no longer exists.
    public static func restore(from backup: String, to path: String, province: String) throws(StoreError)
        -> (HubStore, RestoreSummary)
    {
        let source = try StoreDatabase.open(path: backup, operation: "read backup", access: .readOnly)
        let backupEpoch: String
        do {
            backupEpoch = try source.read { db in
                try checkProvince(province, db, path: backup)
                guard try db.tableExists("outbox") else {
                    throw StoreError(operation: "restore", path: backup, message: "not a hub store (no outbox table)")
                }
                return try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'epoch'") ?? ""
            }
            let target = try StoreDatabase.open(path: path, operation: "restore")
            try source.backup(to: target)
            try migrator.migrate(target)
            try target.write { db in
                try createMeta(province, db)
                try beginEpoch(HubEpoch.generate(), db)
            }
        } catch {
            throw StoreError.wrap(error, operation: "restore from \(backup)", path: path)
        }
        let store = try HubStore(path: path, province: province)
        let summary = try store.restoreSummary(backupEpoch: backupEpoch)
        return (store, summary)
    }

    /// Sets `epoch` and reissues every unpublished outbox row under it.
    private static func beginEpoch(_ epoch: String, _ db: Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO hub_meta(key, value) VALUES ('epoch', ?)", arguments: [epoch])
        let pending = try Row.fetchAll(db, sql: "SELECT seq, routing_key, body FROM outbox WHERE published_at IS NULL")
        let update = try db.makeStatement(sql: "UPDATE outbox SET body = ?, message_id = ? WHERE seq = ?")
        for row in pending {
            let seq: Int64 = row[0]
            let body: Data = row[2]
            guard case .success(var envelope) = EnvelopeCodec.decode(body, routingKey: row[1], contentType: nil,
                                                                     maxBodyBytes: .max) else {
                throw StoreError(operation: "restore", path: db.description,
                                 message: "outbox row seq \(seq) holds no valid envelope")
            }
            envelope.epoch = epoch
            try update.execute(arguments: [EnvelopeCodec.encode(envelope), UUID().uuidString.lowercased(), seq])
        }
    }

    private func restoreSummary(backupEpoch: String) throws(StoreError) -> RestoreSummary {
        do {
            return try pool.read { db in
                RestoreSummary(
                    epoch: epoch, backupEpoch: backupEpoch,
                    records: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM innovation") ?? 0,
                    lastSeq: Int64(try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'last_seq'") ?? "0") ?? 0,
                    pendingReissued: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") ?? 0)
            }
        } catch {
            throw StoreError.wrap(error, operation: "restore summary", path: path)
        }
    }
}
