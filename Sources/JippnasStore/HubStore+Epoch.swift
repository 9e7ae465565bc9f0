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

    /// Replaces the store at `path` with the backup at `backup` under a new epoch whose parent is the
    /// backup's, so that the aggregator knows the store's sequence numbers and revisions went back and
    /// reconciles with it (docs/PROTOCOL.md, Epochs). The hub daemon must be stopped (the caller holds its
    /// ``DatabaseLock``), and so must imports (its ``StoreReplacementLock``).
    ///
    /// The new store is made whole beside the old one (`<path>.restoring`) and then renamed over it, so a
    /// failure before the rename leaves the old store as it was, and there is a whole store at `path` at
    /// every moment. The backup's unpublished outbox rows are
    /// reissued under the new epoch with new message ids: under the old one the aggregator would ignore
    /// them as coming from a store that no longer exists.
    public static func restore(from backup: String, to path: String, province: String) throws(StoreError)
        -> (HubStore, RestoreSummary)
    {
        let staging = path + ".restoring"
        let backupEpoch: String
        do {
            try removeDatabaseFiles(staging)
            let source = try StoreDatabase.open(path: backup, operation: "read backup", access: .readOnly)
            backupEpoch = try source.read { db in try checkBackup(db, province: province, path: backup) }
            let target = try StoreDatabase.open(path: staging, operation: "restore")
            try source.backup(to: target)
            try source.close()
            try migrator.migrate(target)
            try target.write { db in
                try createMeta(province, db)
                try beginEpoch(HubEpoch.generate(), parent: backupEpoch, db)
            }
            try target.close()
            try replace(path, with: staging)
        } catch {
            try? removeDatabaseFiles(staging)
            throw StoreError.wrap(error, operation: "restore from \(backup)", path: path)
        }
        let store = try HubStore(path: path, province: province)
        return (store, try store.restoreSummary(backupEpoch: backupEpoch))
    }

    /// Moves `staging` over `path` so that there is always one whole store at `path`: the old one's WAL
    /// folded into it first (a WAL left beside the new file would be replayed into it), the new one taking
    /// the old one's owner and mode (the daemon's user must still write it), the rename made durable.
    private static func replace(_ path: String, with staging: String) throws {
        if FileManager.default.fileExists(atPath: staging + "-wal") {
            throw StoreError(operation: "restore", path: staging, message: "the new store still has a WAL after closing")
        }
        if FileManager.default.fileExists(atPath: path) {
            // A damaged store (a reason to restore) may not open: its WAL then goes with it.
            if let old = try? StoreDatabase.open(path: path, operation: "fold WAL") {
                try? old.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
                try? old.close()
            }
            var info = stat()
            if stat(path, &info) == 0 {
                _ = chown(staging, info.st_uid, info.st_gid)
                _ = chmod(staging, info.st_mode & 0o7777)
            }
        }
        for file in [path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            try FileManager.default.removeItem(atPath: file)
        }
        guard rename(staging, path) == 0 else {
            throw StoreError(operation: "restore", path: path, message: "cannot rename \(staging): \(String(cString: strerror(errno)))")
        }
        let directory = open((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent,
                             O_RDONLY | O_DIRECTORY)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// The backup's epoch, once it is known to be a hub store of `province`.
    private static func checkBackup(_ db: Database, province: String, path: String) throws -> String {
        guard try db.tableExists("outbox"), try db.tableExists("hub_meta") else {
            throw StoreError(operation: "restore", path: path, message: "not a hub store (no outbox table)")
        }
        try checkProvince(province, db, path: path)
        return try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'epoch'") ?? ""
    }

    /// Removes a database and its -wal and -shm files, where they exist.
    private static func removeDatabaseFiles(_ path: String) throws {
        for file in [path + "-wal", path + "-shm", path] where FileManager.default.fileExists(atPath: file) {
            try FileManager.default.removeItem(atPath: file)
        }
    }

    /// Sets `epoch` (descending from `parent`) and reissues every unpublished outbox row under it.
    private static func beginEpoch(_ epoch: String, parent: String, _ db: Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO hub_meta(key, value) VALUES ('epoch', ?), ('epoch_parent', ?)",
                       arguments: [epoch, parent])
        let pending = try Row.fetchAll(db, sql: "SELECT seq, body FROM outbox WHERE published_at IS NULL")
        let update = try db.makeStatement(sql: "UPDATE outbox SET body = ?, message_id = ? WHERE seq = ?")
        for row in pending {
            let seq: Int64 = row[0]
            let body = try reissued(row[1], epoch: epoch, parent: parent, seq: seq)
            try update.execute(arguments: [body, UUID().uuidString.lowercased(), seq])
        }
    }

    /// `body` with the new epoch and parent. Only those two keys change: the row was valid when it was
    /// written, and validating it again under this version's rules could refuse it and stop the restore.
    private static func reissued(_ body: Data, epoch: String, parent: String, seq: Int64) throws -> Data {
        guard var object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw StoreError(operation: "restore", path: "outbox", message: "outbox row seq \(seq) is not a JSON object")
        }
        object["epoch"] = epoch
        object["epoch_parent"] = parent
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
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
