import Foundation
import GRDB
import JippnasCore

/// A row of the hub's outbox waiting to be published.
public struct OutboxEntry: Sendable, Equatable {
    public var seq: Int64
    public var messageID: String
    public var event: ChangeEvent
    public var routingKey: String
    /// The encoded envelope, exactly as it will be published.
    public var body: Data
}

/// What an import changed.
public struct ImportSummary: Sendable, Equatable {
    public var inserted = 0
    public var updated = 0
    public var unchanged = 0
    /// Outbox sequence numbers the import assigned (first...last), if any.
    public var seqRange: ClosedRange<Int64>?

    public init(inserted: Int = 0, updated: Int = 0, unchanged: Int = 0, seqRange: ClosedRange<Int64>? = nil) {
        self.inserted = inserted
        self.updated = updated
        self.unchanged = unchanged
        self.seqRange = seqRange
    }
}

/// Result of withdrawing one innovation.
public enum WithdrawOutcome: Sendable, Equatable {
    case withdrawn(seq: Int64, revision: Int64)
    case alreadyWithdrawn
    case notFound
}

/// The outbox's state, for status and tests.
public struct OutboxStats: Sendable, Equatable {
    public var pending: Int
    public var published: Int
    public var oldestPendingAt: String?
    public var lastSeq: Int64
}

/// One innovation as the hub holds it.
public struct HubRecord: Sendable, Equatable {
    public var innovation: Innovation
    public var withdrawn: Bool
    public var withdrawnAt: String?
    /// The kabupaten/kota hub that published it, for a record relayed from below; nil for the hub's own.
    public var relayedFrom: String?

    /// The record's national global id when held by hub `hub`.
    public func globalID(hub: String) -> String { innovation.globalID(province: relayedFrom ?? hub) }
}

/// The hub's local SQLite store: its innovations and the transactional outbox.
///
/// A change and its outbox row commit in one transaction, so a change is never stored without being
/// queued for publishing, and never queued without being stored. Rows leave the outbox's pending set only
/// through ``markPublished(_:at:)``, which the relay calls after the broker confirmed them.
public final class HubStore: Sendable {
    /// The province whose hub owns this store; fixed at creation.
    public let province: String
    /// The store's epoch (see ``HubEpoch``): drawn when the store is created, drawn again by
    /// ``restore(from:to:province:)``. Envelopes and checkpoints carry it. "" only when read-only on a
    /// store no daemon of this version has opened yet.
    public let epoch: String
    /// For a restored store, the epoch of the backup it came from ("" for a backup from before epochs);
    /// nil for a store created here.
    public let epochParent: String?
    public let path: String
    let pool: DatabasePool
    private let appVersion: String
    // Shared by every call: a coder per record was a measurable share of an import or a resync.
    private static let recordEncoder = JSONEncoder()
    private static let recordDecoder = JSONDecoder()

    /// Opens the store at `path` for `province`: with `.readWrite` creating and migrating it as needed,
    /// with `.readOnly` only an existing, current one ("no store at PATH" otherwise).
    ///
    /// Refuses a store created for another province, so one misconfigured daemon cannot publish another
    /// hub's data under its own code.
    public init(path: String, province: String, appVersion: String = JippnasVersion.current,
                access: StoreAccess = .readWrite) throws(StoreError) {
        guard HubCode.isValid(province) else {
            throw StoreError(operation: "open", path: path, message: "unknown province or kabupaten/kota code \(province)")
        }
        self.path = path
        self.province = province
        self.appVersion = appVersion
        pool = try StoreDatabase.open(path: path, operation: "open hub store", access: access)
        if access == .readOnly {
            try StoreDatabase.requireMigrated(pool, Self.migrator, path: path)
        }
        do {
            if access == .readWrite { try StoreDatabase.migrate(pool, Self.migrator, path: path, operation: "migrate hub store") }
            try pool.read { db in try Self.checkProvince(province, db, path: path) }
            if access == .readWrite { try pool.write { db in try Self.createMeta(province, db) } }
            (epoch, epochParent) = try pool.read { db in
                (try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'epoch'") ?? "",
                 try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'epoch_parent'"))
            }
        } catch {
            throw StoreError.wrap(error, operation: "open hub store", path: path)
        }
    }

    static func checkProvince(_ province: String, _ db: Database, path: String) throws {
        if let stored = try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'province'"), stored != province {
            throw StoreError(operation: "open", path: path, message: "store belongs to province \(stored), not \(province)")
        }
    }

    /// Fixes the province, the sequence counter and the epoch on a new store; gives a store made before
    /// epochs its first.
    static func createMeta(_ province: String, _ db: Database) throws {
        if try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'province'") == nil {
            try db.execute(sql: "INSERT INTO hub_meta(key, value) VALUES ('province', ?), ('last_seq', '0')", arguments: [province])
        }
        try db.execute(sql: "INSERT OR IGNORE INTO hub_meta(key, value) VALUES ('epoch', ?)", arguments: [HubEpoch.generate()])
    }

    static let migrator: DatabaseMigrator = {
        var m = DatabaseMigrator()
        m.registerMigration("hub-v1") { db in
            try db.execute(sql: """
                CREATE TABLE hub_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE innovation (
                    id TEXT PRIMARY KEY,
                    revision INTEGER NOT NULL,
                    record TEXT NOT NULL,
                    withdrawn INTEGER NOT NULL DEFAULT 0,
                    withdrawn_at TEXT,
                    updated_at TEXT NOT NULL
                );
                CREATE TABLE outbox (
                    seq INTEGER PRIMARY KEY,
                    innovation_id TEXT NOT NULL,
                    revision INTEGER NOT NULL,
                    event TEXT NOT NULL,
                    message_id TEXT NOT NULL UNIQUE,
                    routing_key TEXT NOT NULL,
                    body BLOB NOT NULL,
                    created_at TEXT NOT NULL,
                    published_at TEXT
                );
                CREATE INDEX outbox_pending ON outbox(seq) WHERE published_at IS NULL;
                """)
        }
        // A provincial hub that relays its kabupaten/kota hubs keeps their records beside its own, keyed
        // `<origin>:<id>` (ids have no colon, so the two never collide), with the chain that brought each.
        m.registerMigration("hub-v2-relayed") { db in
            try db.execute(sql: "ALTER TABLE innovation ADD COLUMN relayed_chain TEXT")
        }
        return m
    }()

    // MARK: Operator changes

    /// Stores `contents` and queues one upsert per new or changed record, all in one transaction.
    /// Unchanged records (same content as the live stored version) make no revision and no message.
    public func importContents(_ contents: [InnovationContent], now: String = Timestamp.now()) throws(StoreError)
        -> ImportSummary
    {
        do {
            return try pool.write { db in
                var summary = ImportSummary()
                var seq = try lastSeq(db)
                let firstSeq = seq + 1
                for content in contents {
                    let existing = try Row.fetchOne(
                        db, sql: "SELECT revision, record, withdrawn FROM innovation WHERE id = ?", arguments: [content.id])
                    var revision: Int64 = 1
                    if let existing {
                        let stored = try Self.recordDecoder.decode(Innovation.self, from: Data((existing["record"] as String).utf8))
                        let wasWithdrawn: Bool = existing["withdrawn"]
                        if !wasWithdrawn && stored.content == content {
                            summary.unchanged += 1
                            continue
                        }
                        revision = (existing["revision"] as Int64) + 1
                        summary.updated += 1
                    } else {
                        summary.inserted += 1
                    }
                    seq += 1
                    let record = content.innovation(revision: revision, updatedAt: now)
                    try save(db, record: record, withdrawnAt: nil)
                    try enqueue(db, record: record, event: .upsert, seq: seq, now: now)
                }
                try setLastSeq(db, seq)
                if seq >= firstSeq { summary.seqRange = firstSeq...seq }
                return summary
            }
        } catch {
            throw StoreError.wrap(error, operation: "import", path: path)
        }
    }

    /// Withdraws one of the hub's own innovations: a new revision marked withdrawn, and a `withdraw`
    /// message. Records relayed from hubs below are theirs to withdraw, so they are not found here.
    public func withdraw(id: String, now: String = Timestamp.now()) throws(StoreError) -> WithdrawOutcome {
        do {
            return try pool.write { db in
                guard let row = try Row.fetchOne(
                    db, sql: "SELECT record, withdrawn FROM innovation WHERE id = ? AND relayed_chain IS NULL",
                    arguments: [id]) else { return .notFound }
                if row["withdrawn"] as Bool { return .alreadyWithdrawn }
                var record = try Self.recordDecoder.decode(Innovation.self, from: Data((row["record"] as String).utf8))
                record.revision += 1
                record.updatedAt = now
                let seq = try lastSeq(db) + 1
                try save(db, record: record, withdrawnAt: now)
                try enqueue(db, record: record, event: .withdraw, seq: seq, now: now)
                try setLastSeq(db, seq)
                return .withdrawn(seq: seq, revision: record.revision)
            }
        } catch {
            throw StoreError.wrap(error, operation: "withdraw \(id)", path: path)
        }
    }

    private func save(_ db: Database, record: Innovation, withdrawnAt: String?, chain: [ChainLink] = []) throws {
        let json = String(decoding: try Self.recordEncoder.encode(record), as: UTF8.self)
        let chainJSON = chain.isEmpty ? nil : String(decoding: try Self.recordEncoder.encode(chain), as: UTF8.self)
        let upsert = try db.cachedStatement(sql: """
            INSERT INTO innovation(id, revision, record, withdrawn, withdrawn_at, updated_at, relayed_chain)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET revision = excluded.revision, record = excluded.record,
                withdrawn = excluded.withdrawn, withdrawn_at = excluded.withdrawn_at, updated_at = excluded.updated_at,
                relayed_chain = excluded.relayed_chain
            """)
        try upsert.execute(arguments: [Self.key(record, chain), record.revision, json, withdrawnAt != nil, withdrawnAt,
                                       record.updatedAt, chainJSON])
    }

    /// A record's key in this store: its id, or `<origin>:<id>` for one relayed from a hub below.
    static func key(_ record: Innovation, _ chain: [ChainLink]) -> String {
        chain.first.map { record.globalID(province: $0.hub) } ?? record.id
    }

    private func enqueue(_ db: Database, record: Innovation, event: ChangeEvent, seq: Int64, now: String,
                         resync: Bool = false, chain: [ChainLink] = []) throws
    {
        let envelope = Envelope(hub: province, seq: seq, event: event, sentAt: now, innovation: record, resync: resync,
                                epoch: epoch.isEmpty ? nil : epoch, epochParent: epochParent, chain: chain)
        let body = EnvelopeCodec.encode(envelope)
        // Cached: an import or a resync inserts thousands of rows in one transaction.
        let insert = try db.cachedStatement(sql: """
            INSERT INTO outbox(seq, innovation_id, revision, event, message_id, routing_key, body, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try insert.execute(arguments: [seq, Self.key(record, chain), record.revision, event.rawValue,
                                       UUID().uuidString.lowercased(), envelope.routingKey, body, now])
    }

    // The counter lives in hub_meta rather than MAX(seq) so that pruning published rows never lets a
    // sequence number be handed out twice.
    private func lastSeq(_ db: Database) throws -> Int64 {
        Int64(try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'last_seq'") ?? "0") ?? 0
    }

    private func setLastSeq(_ db: Database, _ seq: Int64) throws {
        try db.execute(sql: "UPDATE hub_meta SET value = ? WHERE key = 'last_seq'", arguments: [String(seq)])
    }

    // MARK: Relaying the hubs below

    /// A change a kabupaten/kota hub published and this hub's relaying role accepted: the envelope as
    /// decoded, and the link that proves it (its body, message id and signature).
    public struct RelayedChange: Sendable {
        public var published: Envelope
        public var link: ChainLink

        public init(published: Envelope, link: ChainLink) {
            self.published = published
            self.link = link
        }
    }

    /// What ``relay(_:through:now:)`` did.
    public struct RelaySummary: Sendable, Equatable {
        public var queued = 0
        /// Not newer than the revision held (a repeat, or an older revision arriving late).
        public var stale = 0
    }

    /// Applies changes accepted from the hubs below to this store and queues each, with its chain, for
    /// the level above; records that `through` (the relaying role's position) is done, in the same
    /// transaction, so each change is queued once however often the caller stops.
    public func relay(_ changes: [RelayedChange], through position: Int64, of source: String, now: String = Timestamp.now())
        throws(StoreError) -> RelaySummary
    {
        do {
            return try pool.write { db in
                var summary = RelaySummary()
                var seq = try lastSeq(db)
                let current = try db.cachedStatement(sql: "SELECT revision, relayed_chain FROM innovation WHERE id = ?")
                for change in changes {
                    let chain = change.published.chain + [change.link]
                    let record = change.published.innovation
                    if let held = try Row.fetchOne(current, arguments: [Self.key(record, chain)]),
                       try Self.keeps(held, over: record.revision, originEpoch: chain.first?.epoch)
                    {
                        summary.stale += 1
                        continue
                    }
                    seq += 1
                    let withdrawn = change.published.event == .withdraw
                    try save(db, record: record, withdrawnAt: withdrawn ? record.updatedAt : nil, chain: chain)
                    try enqueue(db, record: record, event: change.published.event, seq: seq, now: now, chain: chain)
                    summary.queued += 1
                }
                try setLastSeq(db, seq)
                try db.execute(sql: "INSERT OR REPLACE INTO hub_meta(key, value) VALUES ('relay_position', ?), ('relay_source', ?)",
                               arguments: [String(position), source])
                return summary
            }
        } catch {
            throw StoreError.wrap(error, operation: "relay \(changes.count) changes from below", path: path)
        }
    }

    /// Whether the `held` row stays over a relayed `revision`: it is not older, and it comes from the same
    /// store of the originating hub (or the held one was restored from the incoming one's backup). A
    /// kabupaten/kota restored from a backup starts a new epoch at lower revisions; its regional catalogue
    /// accepted them as the truth, so they replace what is held.
    private static func keeps(_ held: Row, over revision: Int64, originEpoch: String?) throws -> Bool {
        guard (held["revision"] as Int64) >= revision else { return false }
        let chain = try (held["relayed_chain"] as String?).map { try recordDecoder.decode([ChainLink].self, from: Data($0.utf8)) }
        guard let origin = chain?.first else { return originEpoch == nil }
        return origin.epoch == originEpoch || (originEpoch != nil && origin.epochParent == originEpoch)
    }

    /// How far the relaying role has queued from the regional catalogue `source` (its
    /// ``CatalogueStore/identity()``): 0 before it has, or when the position was taken in another
    /// catalogue file (one recreated empty numbers its history from 1 again, and one restored from a
    /// backup is caught by the forwarder when its history ends below the position; going over changes already
    /// queued again costs little: a held revision is not queued twice, and only rows of a store older than
    /// the held one's backup can go out again, which the national catalogue counts stale).
    public func relayPosition(of source: String) throws(StoreError) -> Int64 {
        do {
            return try pool.read { db in
                guard try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'relay_source'") == source else { return 0 }
                return Int64(try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'relay_position'") ?? "0") ?? 0
            }
        } catch {
            throw StoreError.wrap(error, operation: "read relay position", path: path)
        }
    }

    // MARK: Relay

    /// Up to `limit` unpublished rows with a sequence number above `seq`, in sequence order.
    public func pendingOutbox(after seq: Int64, limit: Int) throws(StoreError) -> [OutboxEntry] {
        do {
            return try pool.read { db in
                let rows = try Row.fetchCursor(
                    db.cachedStatement(sql: """
                        SELECT seq, message_id, event, routing_key, body FROM outbox
                        WHERE published_at IS NULL AND seq > ? ORDER BY seq LIMIT ?
                        """),
                    arguments: [seq, limit])
                var out: [OutboxEntry] = []
                out.reserveCapacity(limit)
                while let row = try rows.next() {
                    out.append(OutboxEntry(
                        seq: row[0], messageID: row[1], event: ChangeEvent(rawValue: row[2]) ?? .upsert,
                        routingKey: row[3], body: row[4]))
                }
                return out
            }
        } catch {
            throw StoreError.wrap(error, operation: "read outbox", path: path)
        }
    }

    /// Marks rows published. Called only with sequence numbers the broker confirmed.
    public func markPublished(_ seqs: [Int64], at time: String = Timestamp.now()) throws(StoreError) {
        guard !seqs.isEmpty else { return }
        do {
            try pool.write { db in
                let statement = try db.cachedStatement(sql: "UPDATE outbox SET published_at = ? WHERE seq = ?")
                for seq in seqs { try statement.execute(arguments: [time, seq]) }
            }
        } catch {
            throw StoreError.wrap(error, operation: "mark published", path: path)
        }
    }

    // MARK: Anti-entropy

    /// The hub's checkpoint, if nothing is waiting in the outbox: only then does the highest sequence
    /// number describe exactly what the broker has. Read in one transaction so an import running
    /// meanwhile cannot make seq and digest disagree.
    public func checkpointIfQuiescent(now: String = Timestamp.now()) throws(StoreError) -> Checkpoint? {
        do {
            return try pool.read { db in
                let pending = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") ?? 0
                guard pending == 0 else { return nil }
                var digest = RecordDigest()
                var withdrawn = 0
                let rows = try Row.fetchCursor(db, sql: "SELECT id, revision, withdrawn FROM innovation")
                while let row = try rows.next() {
                    let isWithdrawn: Bool = row[2]
                    if isWithdrawn { withdrawn += 1 }
                    digest.add(id: row[0], revision: row[1], withdrawn: isWithdrawn)
                }
                return Checkpoint(hub: province, seq: try lastSeq(db), live: digest.count - withdrawn, withdrawn: withdrawn,
                                  digest: digest.description, sentAt: now, epoch: epoch.isEmpty ? nil : epoch,
                                  epochParent: epochParent)
            }
        } catch {
            throw StoreError.wrap(error, operation: "checkpoint", path: path)
        }
    }

    /// A resync request being answered part by part (``startResync(fromSeq:now:)``, then
    /// ``continueResync(_:limit:)`` until it returns true).
    public struct ResyncJob: Sendable {
        public let fromSeq: Int64?
        /// Records queued so far.
        public internal(set) var queued = 0
        /// Records with an unpublished outbox row that the relay has not read yet when the request was
        /// taken: that row goes out after the request, so they are skipped.
        let pending: Set<String>
        /// For a resync from a sequence number: the records changed since, in id order.
        let changed: [String]?
        /// Where the next part starts: after this id (every record), or at this index of `changed`.
        var afterID = ""
        var nextChanged = 0
        let now: String

        /// Whether a request for records changed since `other` (every record when nil), received while
        /// this job ran, is answered by it too: every record's latest state is in the outbox after it.
        public func covers(fromSeq other: Int64?) -> Bool {
            guard let mine = fromSeq else { return true }
            return other.map { $0 >= mine } ?? false
        }
    }

    /// Takes a resync request: every record when `fromSeq` is nil, else those changed at or after it.
    ///
    /// Records that already have an unsent outbox row are skipped, so requests that piled up while
    /// the hub was away cost one resync, not one each, and a request delivered again after a crash
    /// between two parts queues only what the first attempt had not.
    ///
    /// `unsentAfter` is the highest seq the relay has read on its connection: an unpublished row at or
    /// below it may be in flight, or confirmed and not yet marked, and may already have reached the
    /// aggregator before it lost the record, so its record is queued again rather than skipped.
    public func startResync(fromSeq: Int64?, unsentAfter: Int64 = 0, now: String = Timestamp.now()) throws(StoreError)
        -> ResyncJob
    {
        do {
            return try pool.read { db in
                let pending = Set(try String.fetchAll(
                    db, sql: "SELECT DISTINCT innovation_id FROM outbox WHERE published_at IS NULL AND seq > ?",
                    arguments: [unsentAfter]))
                let changed = try fromSeq.map { seq in
                    try String.fetchAll(
                        db, sql: "SELECT DISTINCT innovation_id FROM outbox WHERE seq >= ? ORDER BY innovation_id",
                        arguments: [seq])
                }
                return ResyncJob(fromSeq: fromSeq, pending: pending, changed: changed, now: now)
            }
        } catch {
            throw StoreError.wrap(error, operation: "start resync", path: path)
        }
    }

    /// Queues up to `limit` more records of `job` again, marked as resync, in one transaction; returns
    /// true once every record of the job has been queued. Parts keep memory flat and let the relay
    /// publish the first records while later ones are still being queued.
    public func continueResync(_ job: inout ResyncJob, limit: Int) throws(StoreError) -> Bool {
        precondition(limit > 0, "a resync part must hold at least one record")
        do {
            let (updated, finished) = try pool.write { db in
                var part = job
                var seq = try lastSeq(db)
                let (rows, finished) = try resyncPart(db, &part, limit: limit)
                for row in rows where !part.pending.contains(row["id"]) {
                    let record = try Self.recordDecoder.decode(Innovation.self, from: Data((row["record"] as String).utf8))
                    let chain = try (row["relayed_chain"] as String?).map {
                        try Self.recordDecoder.decode([ChainLink].self, from: Data($0.utf8))
                    } ?? []
                    seq += 1
                    try enqueue(db, record: record, event: (row["withdrawn"] as Bool) ? .withdraw : .upsert, seq: seq,
                                now: part.now, resync: true, chain: chain)
                    part.queued += 1
                }
                if part.queued > job.queued { try setLastSeq(db, seq) }
                return (part, finished)
            }
            job = updated
            return finished
        } catch {
            throw StoreError.wrap(error, operation: "continue resync", path: path)
        }
    }

    /// The next part of `job`'s records in id order, and whether it is the last.
    private func resyncPart(_ db: Database, _ job: inout ResyncJob, limit: Int) throws -> ([Row], Bool) {
        let select = "SELECT id, record, withdrawn, relayed_chain FROM innovation"
        if let changed = job.changed {
            let ids = changed[job.nextChanged..<min(changed.count, job.nextChanged + limit)]
            job.nextChanged += ids.count
            let byID = try db.cachedStatement(sql: select + " WHERE id = ?")
            let rows = try ids.compactMap { id in try Row.fetchOne(byID, arguments: [id]) }
            return (rows, job.nextChanged >= changed.count)
        }
        let page = try db.cachedStatement(sql: select + " WHERE id > ? ORDER BY id LIMIT ?")
        let rows = try Row.fetchAll(page, arguments: [job.afterID, limit])
        if let last = rows.last { job.afterID = last["id"] }
        return (rows, rows.count < limit)
    }

    /// Queues every record a resync from `fromSeq` covers (see ``startResync(fromSeq:now:)``), in parts
    /// of 1,000, and returns how many were queued.
    @discardableResult
    public func enqueueResync(fromSeq: Int64?, now: String = Timestamp.now()) throws(StoreError) -> Int {
        var job = try startResync(fromSeq: fromSeq, now: now)
        while try !continueResync(&job, limit: 1_000) {}
        return job.queued
    }

    /// Counts of pending and published outbox rows.
    public func outboxStats() throws(StoreError) -> OutboxStats {
        do {
            return try pool.read { db in
                let pending = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") ?? 0
                let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? 0
                let oldest = try String.fetchOne(
                    db, sql: "SELECT created_at FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1")
                return OutboxStats(pending: pending, published: total - pending, oldestPendingAt: oldest,
                                   lastSeq: try lastSeq(db))
            }
        } catch {
            throw StoreError.wrap(error, operation: "outbox stats", path: path)
        }
    }

    /// Every innovation the hub holds, withdrawn ones included, ordered by id.
    public func records() throws(StoreError) -> [HubRecord] {
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT id, record, withdrawn, withdrawn_at FROM innovation ORDER BY id").map { row in
                    let key: String = row["id"]
                    return HubRecord(
                        innovation: try Self.recordDecoder.decode(Innovation.self, from: Data((row["record"] as String).utf8)),
                        withdrawn: row["withdrawn"], withdrawnAt: row["withdrawn_at"],
                        relayedFrom: GlobalID.parse(key).map(\.province))
                }
            }
        } catch {
            throw StoreError.wrap(error, operation: "list records", path: path)
        }
    }
}
