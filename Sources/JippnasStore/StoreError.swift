import Foundation
import CSearchRank
import GRDB

/// A failure of the SQLite store, with the operation and database it happened in.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What was being done: `open`, `import`, `apply batch`...
    public var operation: String
    /// The database file.
    public var path: String
    /// SQLite's primary result code when the failure came from SQLite (5 = BUSY, 13 = FULL, 8 = READONLY).
    public var sqliteCode: Int32?
    public var message: String
    /// Whether SQLite refused the data itself (a constraint or trigger, a type mismatch, a value too big)
    /// rather than failing as a store (busy, locked, full, read-only, I/O, corrupt). Only a refusal can be
    /// blamed on a message; anything else would refuse every message alike.
    public var refusesData: Bool
    /// The dead-letter reason for a refused message when it is not `store_refused` (`unknown_epoch`).
    public var deadLetterReason: String?

    public init(operation: String, path: String, sqliteCode: Int32? = nil, message: String, refusesData: Bool = false,
                deadLetterReason: String? = nil) {
        self.operation = operation
        self.path = path
        self.sqliteCode = sqliteCode
        self.message = message
        self.refusesData = refusesData
        self.deadLetterReason = deadLetterReason
    }

    /// The primary result codes that blame the data, not the store.
    static let dataRefusals: [ResultCode] = [.SQLITE_CONSTRAINT, .SQLITE_MISMATCH, .SQLITE_TOOBIG]

    /// Wraps any error thrown by GRDB into a StoreError for `operation`.
    static func wrap(_ error: any Error, operation: String, path: String) -> StoreError {
        if let store = error as? StoreError { return store }
        if let db = error as? DatabaseError {
            let primary = db.resultCode.primaryResultCode
            return StoreError(operation: operation, path: path, sqliteCode: primary.rawValue,
                              message: db.message ?? "\(db)", refusesData: dataRefusals.contains(primary))
        }
        return StoreError(operation: operation, path: path, message: "\(error)")
    }

    public var description: String {
        let code = sqliteCode.map { " (sqlite \($0))" } ?? ""
        return "store \(operation) on \(path): \(message)\(code)"
    }
}

/// How a store is opened.
public enum StoreAccess: Sendable {
    /// Creates the database if needed and migrates it: daemons and commands that write.
    case readWrite
    /// An existing database, read only and never migrated: status and catalogue commands, which must not
    /// leave an empty store behind a mistyped path, nor change a store a newer version has migrated.
    case readOnly
}

/// Opens databases the same way for both stores.
enum StoreDatabase {
    static func open(path: String, operation: String, access: StoreAccess = .readWrite) throws(StoreError) -> DatabasePool {
        var config = Configuration()
        if access == .readOnly {
            guard FileManager.default.fileExists(atPath: path) else {
                throw StoreError(operation: operation, path: path, message: "no store at \(path)")
            }
            config.readonly = true
        }
        // The importer and the relay (or the commit thread and an operator's command) write the same file.
        // SQLite's own busy timeout sleeps in steps that grow to 100 ms, which a daemon feels as a stall of
        // its whole loop; polling every half millisecond, then every two, gives the lock up as soon as it
        // is free. Ten seconds in all, as before, then the store reports busy and the caller retries.
        config.busyMode = .callback { tries in
            usleep(tries < 200 ? 500 : 2000)
            return tries < 200 + 4950
        }
        // FULL: a commit is on disk before we acknowledge to the broker or mark an outbox row, even
        // across power loss; WAL keeps readers (CLI, status) off the writer's back.
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // The catalogue's search index computes stems in SQL, and ranks with its own function (SearchIndex).
            db.add(function: SearchIndex.stemsFunction)
            // Not fatal: a hub store never ranks, and a catalogue's search without it fails on its own,
            // saying "no such function: jippnas_rank", rather than the store not opening at all.
            _ = jippnas_register_rank(db.sqliteConnection)
        }
        do {
            return try DatabasePool(path: path, configuration: config)
        } catch {
            throw StoreError.wrap(error, operation: operation, path: path)
        }
    }

    /// Runs `migrator` on `pool`. Two processes opening an older store at once (a daemon starting while a
    /// command reads) may both find a migration missing; the second then fails on the first one's work
    /// (`duplicate column`). Once the first has committed, checking again finds nothing left to do.
    static func migrate(_ pool: DatabasePool, _ migrator: DatabaseMigrator, path: String, operation: String)
        throws(StoreError)
    {
        // Stores opened at once on a new file (a daemon starting while a command reads) race to migrate
        // it; the loser sees a schema changed under it or a busy database, and tries again a moment later.
        for attempt in 1...10 {
            do {
                try migrator.migrate(pool)
                return
            } catch where attempt < 10 {
                usleep(useconds_t(20_000 * attempt))
                continue
            } catch {
                throw StoreError.wrap(error, operation: operation, path: path)
            }
        }
    }

    /// Checks that a store opened read-only has every migration this version knows, so that reads never
    /// meet a table or column that is not there yet.
    static func requireMigrated(_ pool: DatabasePool, _ migrator: DatabaseMigrator, path: String) throws(StoreError) {
        let current: Bool
        do {
            current = try pool.read { db in try migrator.hasCompletedMigrations(db) }
        } catch {
            throw StoreError.wrap(error, operation: "open read-only", path: path)
        }
        guard current else {
            throw StoreError(operation: "open read-only", path: path,
                             message: "the store was made by an older version: restart its daemon with this version to migrate it")
        }
    }
}
