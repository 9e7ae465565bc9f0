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

    public init(operation: String, path: String, sqliteCode: Int32? = nil, message: String) {
        self.operation = operation
        self.path = path
        self.sqliteCode = sqliteCode
        self.message = message
    }

    /// Wraps any error thrown by GRDB into a StoreError for `operation`.
    static func wrap(_ error: any Error, operation: String, path: String) -> StoreError {
        if let store = error as? StoreError { return store }
        if let db = error as? DatabaseError {
            return StoreError(operation: operation, path: path, sqliteCode: db.resultCode.primaryResultCode.rawValue,
                              message: db.message ?? "\(db)")
        }
        return StoreError(operation: operation, path: path, message: "\(error)")
    }

    /// Whether the failure is local and likely to pass (busy, full disk, read-only, I/O): retry later
    /// without blaming the message.
    public var isTransient: Bool {
        guard let code = sqliteCode else { return false }
        return [5, 6, 8, 10, 13, 14].contains(code)  // BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN
    }

    public var description: String {
        let code = sqliteCode.map { " (sqlite \($0))" } ?? ""
        return "store \(operation) on \(path): \(message)\(code)"
    }
}

/// Opens databases the same way for both stores.
enum StoreDatabase {
    static func open(path: String, operation: String) throws(StoreError) -> DatabasePool {
        var config = Configuration()
        config.busyMode = .timeout(10)
        // FULL: a commit is on disk before we acknowledge to the broker or mark an outbox row, even
        // across power loss; WAL keeps readers (CLI, status) off the writer's back.
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            return try DatabasePool(path: path, configuration: config)
        } catch {
            throw StoreError.wrap(error, operation: operation, path: path)
        }
    }
}
