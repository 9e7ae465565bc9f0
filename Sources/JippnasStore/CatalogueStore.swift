import Foundation
import GRDB
import JippnasCore

/// A valid change, ready to apply.
public struct IncomingChange: Sendable {
    public var envelope: Envelope
    public var messageID: String
    public var routingKey: String
    /// The body exactly as received, kept in history as provenance.
    public var body: Data
    /// The publishing hub's signature headers, kept in history with the body they cover.
    public var keyID: String?
    public var signature: String?

    public init(envelope: Envelope, messageID: String, routingKey: String, body: Data, keyID: String? = nil,
                signature: String? = nil)
    {
        self.envelope = envelope
        self.messageID = messageID
        self.routingKey = routingKey
        self.body = body
        self.keyID = keyID
        self.signature = signature
    }
}

/// A refused message, recorded before it is rejected to the dead-letter queue.
public struct DeadLetter: Sendable, Equatable {
    public var reason: String
    public var routingKey: String
    public var messageID: String?
    public var hub: String?
    /// The first bytes of the body, as text with invalid UTF-8 replaced.
    public var bodyPrefix: String
    public var receivedAt: String?
    /// What exactly was refused, when the reason alone does not say (the store's own message).
    public var detail: String?

    /// How many bytes of a refused body are kept.
    public static let prefixBytes = 512

    public init(reason: String, routingKey: String, messageID: String?, hub: String?, body: Data, receivedAt: String? = nil,
                detail: String? = nil)
    {
        self.reason = reason
        self.routingKey = routingKey
        self.messageID = messageID
        self.hub = hub
        self.bodyPrefix = String(decoding: body.prefix(Self.prefixBytes), as: UTF8.self)
        self.receivedAt = receivedAt
        self.detail = detail
    }
}

/// What one batch did, message by message in the order given.
public struct BatchOutcome: Sendable, Equatable {
    public var decisions: [ApplyDecision] = []
    /// Hubs whose messages in this batch began a new epoch (a restored or rebuilt store), with the epoch.
    public var epochsBegun: [EpochChange] = []
    /// Originating hubs of relayed changes whose store epoch this batch adopted or moved on from.
    public var originEpochsBegun: [EpochChange] = []
    public init(decisions: [ApplyDecision] = []) { self.decisions = decisions }
    public var applied: Int { decisions.filter { $0 == .apply }.count }
    public var duplicates: Int { decisions.filter { $0 == .duplicate }.count }
    public var stale: Int { decisions.filter { $0 == .stale }.count }
}

/// A hub whose store began a new epoch, as the catalogue saw it.
public struct EpochChange: Sendable, Equatable {
    public var hub: String
    /// The epoch retired ("" when the catalogue had none).
    public var from: String
    public var to: String
    /// Sequence tracking starts again after this seq.
    public var baselineSeq: Int64

    public init(hub: String, from: String, to: String, baselineSeq: Int64) {
        self.hub = hub
        self.from = from
        self.to = to
        self.baselineSeq = baselineSeq
    }
}

/// One catalogue entry.
public struct CatalogueEntry: Sendable, Equatable, Codable {
    public var globalID: String
    public var hub: String
    public var innovation: Innovation
    public var withdrawn: Bool
    public var withdrawnAt: String?
    public var receivedAt: String
    public var lastSeq: Int64
    /// The hub store (epoch) that set this record ("" before epochs).
    public var hubEpoch: String
    /// When a restored hub turned out not to hold this record any more (it is withdrawn since).
    public var orphanedAt: String?

    enum CodingKeys: String, CodingKey {
        case globalID = "global_id"
        case hub, innovation, withdrawn
        case withdrawnAt = "withdrawn_at"
        case receivedAt = "received_at"
        case lastSeq = "last_seq"
        case hubEpoch = "hub_epoch"
        case orphanedAt = "orphaned_at"
    }
}

/// One accepted revision with its provenance.
public struct HistoryEntry: Sendable, Equatable, Codable {
    public var revision: Int64
    public var event: String
    public var hub: String
    public var seq: Int64
    public var messageID: String
    public var sentAt: String
    public var receivedAt: String
    /// The hub store (epoch) the revision came from ("" before epochs).
    public var hubEpoch: String

    enum CodingKeys: String, CodingKey {
        case revision, event, hub, seq
        case hubEpoch = "hub_epoch"
        case messageID = "message_id"
        case sentAt = "sent_at"
        case receivedAt = "received_at"
    }
}

/// Per-hub state and counters.
public struct HubState: Sendable, Equatable, Codable {
    public var hub: String
    public var highestSeq: Int64
    public var lastMessageAt: String
    public var live: Int
    public var withdrawn: Int
    public var applied: Int
    public var duplicates: Int
    public var stale: Int
    public var deadLetters: Int
    /// Every sequence number up to this one has arrived.
    public var contiguousSeq: Int64
    /// When a gap (a missing sequence number) was first seen, while it is open.
    public var gapSince: String?
    public var lastCheckpointAt: String?
    /// The hub store (epoch) currently tracked ("" before epochs).
    public var epoch: String

    enum CodingKeys: String, CodingKey {
        case hub, live, withdrawn, applied, duplicates, stale, epoch
        case highestSeq = "highest_seq"
        case lastMessageAt = "last_message_at"
        case deadLetters = "dead_letters"
        case contiguousSeq = "contiguous_seq"
        case gapSince = "gap_since"
        case lastCheckpointAt = "last_checkpoint_at"
    }
}

/// One anti-entropy round with a hub: why it was asked, and what it fixed.
public struct Reconciliation: Sendable, Equatable, Codable {
    public var id: Int64
    public var hub: String
    public var requestedAt: String
    /// `seq_gap`, `digest_mismatch`, `new_epoch` or `manual`.
    public var reason: String
    public var fromSeq: Int64?
    /// When a checkpoint agreeing with the catalogue arrived afterwards.
    public var completedAt: String?
    /// Records the resync restored or brought up to date.
    public var recordsFixed: Int

    enum CodingKeys: String, CodingKey {
        case id, hub, reason
        case requestedAt = "requested_at"
        case fromSeq = "from_seq"
        case completedAt = "completed_at"
        case recordsFixed = "records_fixed"
    }
}

/// Whole-catalogue figures for `jippnas catalogue stats`.
public struct CatalogueStats: Sendable, Equatable, Codable {
    public var innovations: Int
    public var live: Int
    public var withdrawn: Int
    public var historyRows: Int
    public var deadLetters: Int
    public var hubs: [HubState]
    public var byCategory: [String: Int]
    public var replications: Int
    public var reconciliations: [Reconciliation]

    enum CodingKeys: String, CodingKey {
        case innovations, live, withdrawn, hubs, replications, reconciliations
        case historyRows = "history_rows"
        case deadLetters = "dead_letters"
        case byCategory = "by_category"
    }
}

/// The national catalogue: one SQLite database holding the current record of every innovation, every
/// accepted revision with provenance, per-hub state, and the dead letters.
public final class CatalogueStore: Sendable {
    public let path: String
    let pool: DatabasePool
    let vocabulary = SearchVocabulary()

    /// Opens the catalogue at `path`: with `.readWrite` creating and migrating it as needed, with
    /// `.readOnly` only an existing, current one ("no store at PATH" otherwise).
    ///
    /// A migration, or a search index built with other stems than this version computes, can take minutes
    /// on a large catalogue (the whole index is rebuilt). Only the owner of the database does that
    /// (`searchIndex: .rebuildIfStale`: the daemons and `catalogue reindex`), telling `progress` before
    /// each long step so that it can log it and keep systemd's start timeout at bay. Any other writer
    /// finds such a catalogue refused: its index could not be kept right with this version's stems.
    public init(path: String, access: StoreAccess = .readWrite, searchIndex: SearchIndexUpkeep = .requireCurrent,
                progress: @Sendable (String) -> Void = { _ in }) throws(StoreError)
    {
        self.path = path
        pool = try StoreDatabase.open(path: path, operation: "open catalogue", access: access)
        if access == .readOnly {
            try StoreDatabase.requireMigrated(pool, Self.migrator, path: path)
            return
        }
        let pending = try read("list migrations") { db in try Self.migrator.hasCompletedMigrations(db) ? [] : Self.pendingMigrations(db) }
        if !pending.isEmpty {
            guard searchIndex == .rebuildIfStale || !pending.contains(Self.indexRebuildingMigration) || !Self.hasRecords(pool) else {
                throw StoreError(operation: "open catalogue", path: path, message: Self.staleIndexAdvice)
            }
            progress("migrating catalogue (\(pending.joined(separator: ", "))); a search index migration rebuilds the whole index")
        }
        try StoreDatabase.migrate(pool, Self.migrator, path: path, operation: "migrate catalogue")
        let built = try read("read search index stems") { db in try SearchIndex.builtWith(db) }
        guard built != SearchIndex.stemmerFingerprint else { return }
        guard searchIndex == .rebuildIfStale else {
            throw StoreError(operation: "open catalogue", path: path, message: Self.staleIndexAdvice)
        }
        progress("rebuilding the search index: built with stems \(built ?? "(unknown)"), this version computes \(SearchIndex.stemmerFingerprint)")
        try write("rebuild the search index for this version's stems") { db in try SearchIndex.rebuild(db) }
    }

    /// The migration that builds the Indonesian search index from every record.
    static let indexRebuildingMigration = "catalogue-v10-search-filters"

    private static let staleIndexAdvice = "its search index was built with other stems than this version computes; "
        + "start the daemon (it rebuilds the index) or run `jippnas catalogue reindex` first"

    private static func pendingMigrations(_ db: Database) throws -> [String] {
        let applied = try migrator.appliedIdentifiers(db)
        return migrator.migrations.filter { !applied.contains($0) }
    }

    private static func hasRecords(_ pool: DatabasePool) -> Bool {
        (try? pool.read { db in try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM innovation)") ?? false }) ?? false
    }

    static let migrator: DatabaseMigrator = {
        var m = DatabaseMigrator()
        m.registerMigration("catalogue-v1") { db in
            try db.execute(sql: """
                CREATE TABLE innovation (
                    global_id TEXT PRIMARY KEY,
                    hub TEXT NOT NULL,
                    id TEXT NOT NULL,
                    revision INTEGER NOT NULL,
                    title TEXT NOT NULL,
                    agency TEXT NOT NULL,
                    region TEXT NOT NULL,
                    category TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    stage TEXT NOT NULL,
                    initiator TEXT,
                    launched_on TEXT,
                    summary TEXT,
                    benefits TEXT,
                    contact TEXT,
                    url TEXT,
                    status TEXT NOT NULL,
                    replicates TEXT,
                    updated_at TEXT NOT NULL,
                    withdrawn INTEGER NOT NULL DEFAULT 0,
                    withdrawn_at TEXT,
                    last_seq INTEGER NOT NULL,
                    last_message_id TEXT NOT NULL,
                    received_at TEXT NOT NULL
                );
                CREATE INDEX innovation_hub ON innovation(hub, id);
                CREATE INDEX innovation_category ON innovation(category);
                CREATE TABLE history (
                    id INTEGER PRIMARY KEY,
                    global_id TEXT NOT NULL,
                    revision INTEGER NOT NULL,
                    event TEXT NOT NULL,
                    hub TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    message_id TEXT NOT NULL UNIQUE,
                    sent_at TEXT NOT NULL,
                    received_at TEXT NOT NULL,
                    body BLOB NOT NULL
                );
                CREATE INDEX history_innovation ON history(global_id, revision);
                CREATE TABLE hub_state (
                    hub TEXT PRIMARY KEY,
                    highest_seq INTEGER NOT NULL DEFAULT 0,
                    last_message_at TEXT NOT NULL,
                    applied INTEGER NOT NULL DEFAULT 0,
                    duplicates INTEGER NOT NULL DEFAULT 0,
                    stale INTEGER NOT NULL DEFAULT 0,
                    dead_letters INTEGER NOT NULL DEFAULT 0,
                    contiguous_seq INTEGER NOT NULL DEFAULT 0,
                    gap_since TEXT,
                    last_checkpoint_at TEXT,
                    last_checkpoint_seq INTEGER,
                    last_resync_at TEXT
                );
                CREATE TABLE hub_seq_pending (
                    hub TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    PRIMARY KEY (hub, seq)
                ) WITHOUT ROWID;
                CREATE TABLE reconciliation (
                    id INTEGER PRIMARY KEY,
                    hub TEXT NOT NULL,
                    requested_at TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    from_seq INTEGER,
                    completed_at TEXT,
                    records_fixed INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE dead_letter (
                    id INTEGER PRIMARY KEY,
                    received_at TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    routing_key TEXT NOT NULL,
                    message_id TEXT,
                    hub TEXT,
                    body_prefix TEXT NOT NULL
                );
                """)
        }
        m.registerMigration("catalogue-v2-dead-letter-detail") { db in
            try db.execute(sql: "ALTER TABLE dead_letter ADD COLUMN detail TEXT")
        }
        // Hub epochs: which store of a hub set each record and revision, which epochs a hub has left, and
        // records a restored hub no longer had (withdrawn here, marked orphaned).
        m.registerMigration("catalogue-v3-hub-epochs") { db in
            try db.execute(sql: """
                ALTER TABLE innovation ADD COLUMN hub_epoch TEXT NOT NULL DEFAULT '';
                ALTER TABLE innovation ADD COLUMN orphaned_at TEXT;
                ALTER TABLE history ADD COLUMN hub_epoch TEXT NOT NULL DEFAULT '';
                DROP INDEX history_innovation;
                CREATE INDEX history_innovation ON history(global_id, hub_epoch, revision);
                ALTER TABLE hub_state ADD COLUMN epoch TEXT NOT NULL DEFAULT '';
                ALTER TABLE hub_state ADD COLUMN epoch_since TEXT;
                CREATE TABLE hub_epoch (
                    hub TEXT NOT NULL,
                    epoch TEXT NOT NULL,
                    first_seen_at TEXT NOT NULL,
                    retired_at TEXT,
                    refused_at TEXT,
                    refused INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (hub, epoch)
                ) WITHOUT ROWID;
                """)
        }
        m.registerMigration("catalogue-v4-search", migrate: SearchIndexV4.create)
        // A catalogue built from the history stream: the next offset to read, kept with the changes.
        m.registerMigration("catalogue-v5-stream-position") { db in
            try db.execute(sql: """
                CREATE TABLE stream_position (
                    stream TEXT PRIMARY KEY,
                    next_offset INTEGER NOT NULL,
                    updated_at TEXT NOT NULL
                ) WITHOUT ROWID
                """)
        }
        // The publisher's signature beside the body it covers: with the chain inside a relayed body, a
        // history row proves every hop on its own. A relaying hub reads its forwardable rows by id.
        m.registerMigration("catalogue-v6-history-signature") { db in
            try db.execute(sql: """
                ALTER TABLE history ADD COLUMN key_id TEXT;
                ALTER TABLE history ADD COLUMN signature TEXT;
                """)
        }
        // The national feed: which records changed since it was last published, and a mirror's place.
        m.registerMigration("catalogue-v7-feed", migrate: CatalogueStore.createFeedTables)
        // Relayed records are ordered by their originating store's epoch, not the relaying hub's: a
        // kabupaten/kota restored from a backup goes back to lower revisions behind an unchanged province.
        m.registerMigration("catalogue-v8-origin-epochs") { db in
            try db.execute(sql: """
                ALTER TABLE innovation ADD COLUMN origin_epoch TEXT NOT NULL DEFAULT '';
                ALTER TABLE history ADD COLUMN origin_epoch TEXT NOT NULL DEFAULT '';
                CREATE TABLE origin_epoch (
                    hub TEXT NOT NULL,
                    epoch TEXT NOT NULL,
                    first_seen_at TEXT NOT NULL,
                    retired_at TEXT,
                    PRIMARY KEY (hub, epoch)
                ) WITHOUT ROWID;
                """)
        }
        m.registerMigration("catalogue-v9-search-stems", migrate: SearchIndex.retireV4)
        m.registerMigration("catalogue-v10-search-filters", migrate: SearchIndex.create)
        return m
    }()

    private struct HubCounters {
        var highestSeq: Int64 = 0
        var applied = 0, duplicates = 0, stale = 0, deadLetters = 0, fixed = 0
        /// Sequence tracking, loaded from hub_state when the hub first appears in the batch.
        var contiguous: Int64 = 0
        var pendingSeqs = 0
        var loaded = false
        /// The hub's current epoch, loaded with the rest ("" when it has none).
        var epoch = ""
    }

    /// Loads the hub's sequence tracking and epoch once per batch.
    private func load(hub: String, _ c: inout HubCounters, _ db: Database) throws {
        guard !c.loaded else { return }
        let state = try Row.fetchOne(db, sql: "SELECT contiguous_seq, epoch FROM hub_state WHERE hub = ?", arguments: [hub])
        c.contiguous = state?["contiguous_seq"] ?? 0
        c.epoch = state?["epoch"] ?? ""
        c.pendingSeqs = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM hub_seq_pending WHERE hub = ?", arguments: [hub]) ?? 0
        c.loaded = true
    }

    /// Decides what `epoch` (with its `parent`, from a message with `seq`) means for `hub` and carries out
    /// a change of epoch.
    private func enter(epoch: String?, parent: String?, seq: Int64, hub: String, now: String, _ c: inout HubCounters,
                       _ db: Database) throws -> (HubEpoch.Decision, EpochChange?)
    {
        try load(hub: hub, &c, db)
        guard let epoch, epoch != c.epoch else { return (.current, nil) }
        let retired = Set(try String.fetchAll(db, sql: "SELECT epoch FROM hub_epoch WHERE hub = ? AND retired_at IS NOT NULL",
                                              arguments: [hub]))
        let decision = HubEpoch.decide(current: c.epoch, incoming: epoch, parent: parent, isRetired: retired.contains(epoch),
                                       parentIsKnown: parent.map { $0 == c.epoch || retired.contains($0) } ?? false)
        guard decision == .adopt || decision == .begin else { return (decision, nil) }
        let change = EpochChange(hub: hub, from: c.epoch, to: epoch, baselineSeq: decision == .begin ? seq : c.contiguous)
        try db.execute(sql: "INSERT OR IGNORE INTO hub_epoch(hub, epoch, first_seen_at) VALUES (?, ?, ?)",
                       arguments: [hub, epoch, now])
        try db.execute(sql: """
            INSERT INTO hub_state(hub, highest_seq, last_message_at, epoch, epoch_since) VALUES (?, 0, ?, ?, ?)
            ON CONFLICT(hub) DO UPDATE SET epoch = excluded.epoch, epoch_since = excluded.epoch_since
            """, arguments: [hub, now, epoch, now])
        // The epoch left behind is retired; "" stands for the time before epochs, so that a backup from
        // then (parent "") is recognised as this hub's.
        try db.execute(sql: """
            INSERT INTO hub_epoch(hub, epoch, first_seen_at, retired_at) VALUES (?, ?, ?, ?)
            ON CONFLICT(hub, epoch) DO UPDATE SET retired_at = excluded.retired_at
            """, arguments: [hub, c.epoch, now, now])
        if decision == .adopt {
            // The same store, upgraded: its records are the new epoch's.
            try db.execute(sql: "UPDATE innovation SET hub_epoch = ? WHERE hub = ? AND hub_epoch = ''", arguments: [epoch, hub])
        } else {
            try restartTracking(at: seq, hub: hub, &c, db)
        }
        c.epoch = epoch
        return (decision, change)
    }

    /// A new epoch's sequence numbers start wherever its store's do: nothing before `seq` can be missing.
    private func restartTracking(at seq: Int64, hub: String, _ c: inout HubCounters, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM hub_seq_pending WHERE hub = ?", arguments: [hub])
        try db.execute(sql: "UPDATE hub_state SET highest_seq = ?, contiguous_seq = ?, gap_since = NULL WHERE hub = ?",
                       arguments: [seq, seq, hub])
        c.contiguous = seq
        c.highestSeq = seq
        c.pendingSeqs = 0
    }

    /// Records that a message of `epoch` was refused as unknown.
    private func noteRefused(epoch: String, hub: String, now: String, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO hub_epoch(hub, epoch, first_seen_at, refused_at, refused) VALUES (?, ?, ?, ?, 1)
            ON CONFLICT(hub, epoch) DO UPDATE SET refused_at = excluded.refused_at, refused = refused + 1
            """, arguments: [hub, epoch, now, now])
    }

    /// Records that a checkpoint of an unknown epoch was ignored (see ``enterEpoch(of:at:)``).
    public func noteRefusedEpoch(of checkpoint: Checkpoint, at now: String = Timestamp.now()) throws(StoreError) {
        do {
            try indexedWrite { db in try noteRefused(epoch: checkpoint.epoch ?? "", hub: checkpoint.hub, now: now, db) }
        } catch {
            throw StoreError.wrap(error, operation: "note refused epoch \(checkpoint.hub)", path: path)
        }
    }

    /// Makes `epoch` the hub's current one on an operator's word (`jippnas aggregator accept-epoch`): for a
    /// hub rebuilt without a backup, whose new epoch descends from none the catalogue knows. Its sequence
    /// tracking starts from nothing; its first checkpoint then orphans or resyncs as for a restore.
    ///
    /// Only an epoch this hub's messages were refused under, unless `force`: a mistyped epoch or hub would
    /// otherwise retire the real store's epoch, and a retired epoch never comes back.
    public func acceptEpoch(hub: String, epoch: String, force: Bool = false, at now: String = Timestamp.now())
        throws(StoreError) -> EpochChange
    {
        do {
            return try indexedWrite { db in
                let row = try Row.fetchOne(db, sql: "SELECT retired_at, refused_at FROM hub_epoch WHERE hub = ? AND epoch = ?",
                                           arguments: [hub, epoch])
                var c = HubCounters()
                try load(hub: hub, &c, db)
                func refusal(_ message: String) -> StoreError { StoreError(operation: "accept epoch", path: path, message: message) }
                if c.epoch == epoch { throw refusal("epoch \(epoch) is already hub \(hub)'s current one") }
                // A kabupaten/kota publishes to its province's regional catalogue, never to the national one.
                let known = try Bool.fetchOne(db, sql: "SELECT 1 FROM hub_state WHERE hub = ? UNION SELECT 1 FROM hub_epoch WHERE hub = ?",
                                              arguments: [hub, hub]) ?? false
                if !known { throw refusal("hub \(hub) has never published to this catalogue (a kabupaten/kota's epochs are its province's regional catalogue's to accept)") }
                let retiredAt: String? = row?["retired_at"]
                let refusedAt: String? = row?["refused_at"]
                if retiredAt != nil { throw refusal("epoch \(epoch) of hub \(hub) is retired and cannot come back") }
                if refusedAt == nil && !force {
                    throw refusal("no message of hub \(hub) was refused under epoch \(epoch): check --hub and --epoch (or --force)")
                }
                guard let change = try enter(epoch: epoch, parent: c.epoch, seq: 0, hub: hub, now: now, &c, db).1 else {
                    throw refusal("epoch \(epoch) could not begin")
                }
                return change
            }
        } catch {
            throw StoreError.wrap(error, operation: "accept epoch \(epoch) for \(hub)", path: path)
        }
    }

    /// Records that `seq` arrived: advances the hub's contiguous sequence number, or remembers a seq that
    /// arrived ahead of a gap.
    private func track(seq: Int64, hub: String, _ c: inout HubCounters, _ db: Database) throws {
        try load(hub: hub, &c, db)
        if seq <= c.contiguous { return }
        if seq == c.contiguous + 1 {
            c.contiguous = seq
            try closeUp(hub: hub, &c, db)
        } else {
            try db.execute(sql: "INSERT OR IGNORE INTO hub_seq_pending(hub, seq) VALUES (?, ?)", arguments: [hub, seq])
            c.pendingSeqs += db.changesCount
        }
    }

    /// Moves the contiguous number over sequence numbers that had arrived early.
    private func closeUp(hub: String, _ c: inout HubCounters, _ db: Database) throws {
        while c.pendingSeqs > 0 {
            try db.execute(sql: "DELETE FROM hub_seq_pending WHERE hub = ? AND seq = ?", arguments: [hub, c.contiguous + 1])
            guard db.changesCount > 0 else { break }
            c.contiguous += 1
            c.pendingSeqs -= 1
        }
    }

    /// Applies `changes` in order and records `deadLetters`, in one transaction.
    ///
    /// Each change is decided against what the catalogue holds at that point of the transaction, so two
    /// revisions of one innovation in the same batch are ordered by revision, not by arrival. A failure
    /// rolls back the whole batch; ``StoreError/refusesData`` tells whether the data was refused.
    /// `streamPosition` (a catalogue fed from a stream) records, in the same transaction, that everything
    /// up to that offset is applied.
    public func apply<Changes: Collection<IncomingChange>>(
        _ changes: Changes, deadLetters: [DeadLetter] = [], receivedAt: String = Timestamp.now(),
        streamPosition: StreamPosition? = nil
    ) throws(StoreError) -> BatchOutcome {
        do {
            return try indexedWrite { db in
                var outcome = BatchOutcome()
                outcome.decisions.reserveCapacity(changes.count)
                var counters: [String: HubCounters] = [:]
                let statements = try ApplyStatements(db)
                for change in changes {
                    let decision = try apply(change, statements, receivedAt: receivedAt, &counters, &outcome, db)
                    outcome.decisions.append(decision)
                }
                try record(deadLetters, receivedAt: receivedAt, &counters, db)
                try updateHubState(counters, receivedAt: receivedAt, db)
                if let streamPosition { try Self.advance(streamPosition, at: receivedAt, db) }
                return outcome
            }
        } catch {
            throw StoreError.wrap(error, operation: "apply batch of \(changes.count)", path: path)
        }
    }

    /// Records a valid change that the store refused (see ``StoreError/refusesData``) as a dead letter, in
    /// a transaction of its own. Its seq counts as received, so the refusal does not open a gap that a
    /// resync could never close.
    ///
    /// `alsoRecording` are dead letters from screening still waiting for a transaction: a batch whose
    /// every change was refused commits nothing else.
    public func refuse(_ change: IncomingChange, reason: String, detail: String, alsoRecording others: [DeadLetter] = [],
                       receivedAt: String = Timestamp.now(), streamPosition: StreamPosition? = nil) throws(StoreError)
    {
        var letter = DeadLetter(reason: reason, routingKey: change.routingKey, messageID: change.messageID,
                                hub: change.envelope.hub, body: change.body, receivedAt: receivedAt)
        letter.detail = detail
        do {
            try indexedWrite { db in
                var counters: [String: HubCounters] = [:]
                var c = HubCounters()
                let e = change.envelope
                switch try enter(epoch: e.epoch, parent: e.epochParent, seq: e.seq, hub: e.hub, now: receivedAt, &c, db).0 {
                case .retired:
                    break
                case .unknown:
                    // Remembered, so that accept-epoch can tell a refused store from a typing mistake.
                    try noteRefused(epoch: e.epoch ?? "", hub: e.hub, now: receivedAt, db)
                case .current, .adopt, .begin:
                    c.highestSeq = max(c.highestSeq, e.seq)
                    try track(seq: e.seq, hub: e.hub, &c, db)
                }
                counters[e.hub] = c
                try record([letter] + others, receivedAt: receivedAt, &counters, db)
                try updateHubState(counters, receivedAt: receivedAt, db)
                if let streamPosition { try Self.advance(streamPosition, at: receivedAt, db) }
            }
        } catch {
            throw StoreError.wrap(error, operation: "record refused message \(change.messageID)", path: path)
        }
    }

    /// The statements of one apply transaction, prepared once per connection.
    private struct ApplyStatements {
        let seen, current, upsert, historyHas, history, noteFeedChange: Statement

        init(_ db: Database) throws {
            seen = try db.cachedStatement(sql: "SELECT 1 FROM history WHERE message_id = ?")
            current = try db.cachedStatement(sql: "SELECT revision, hub_epoch, origin_epoch FROM innovation WHERE global_id = ?")
            upsert = try db.cachedStatement(sql: """
                INSERT INTO innovation(global_id, hub, id, revision, title, agency, region, category, kind, stage,
                    initiator, launched_on, summary, benefits, contact, url, status, replicates, updated_at,
                    withdrawn, withdrawn_at, last_seq, last_message_id, received_at, hub_epoch, origin_epoch)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(global_id) DO UPDATE SET revision = excluded.revision, title = excluded.title,
                    agency = excluded.agency, region = excluded.region, category = excluded.category,
                    kind = excluded.kind, stage = excluded.stage, initiator = excluded.initiator,
                    launched_on = excluded.launched_on, summary = excluded.summary, benefits = excluded.benefits,
                    contact = excluded.contact, url = excluded.url, status = excluded.status,
                    replicates = excluded.replicates, updated_at = excluded.updated_at,
                    withdrawn = excluded.withdrawn, withdrawn_at = excluded.withdrawn_at,
                    last_seq = excluded.last_seq, last_message_id = excluded.last_message_id,
                    received_at = excluded.received_at, hub_epoch = excluded.hub_epoch,
                    origin_epoch = excluded.origin_epoch, orphaned_at = NULL
                """)
            historyHas = try db.cachedStatement(sql: """
                SELECT 1 FROM history WHERE global_id = ? AND hub_epoch = ? AND origin_epoch = ? AND revision = ?
                """)
            history = try db.cachedStatement(sql: """
                INSERT INTO history(global_id, revision, event, hub, seq, message_id, sent_at, received_at, body, hub_epoch,
                    key_id, signature, origin_epoch)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            noteFeedChange = try db.cachedStatement(sql: """
                INSERT INTO catalogue_change(global_id) SELECT ? WHERE EXISTS (SELECT 1 FROM feed_state WHERE key = 'feed_id')
                """)
        }
    }

    /// Decides one change against the catalogue as it stands and writes it if it is news.
    private func apply(_ change: IncomingChange, _ s: ApplyStatements, receivedAt: String,
                       _ counters: inout [String: HubCounters], _ outcome: inout BatchOutcome, _ db: Database) throws
        -> ApplyDecision
    {
        let e = change.envelope
        let globalID = e.globalID
        var c = counters[e.hub] ?? HubCounters()
        defer { counters[e.hub] = c }
        let (epochDecision, epochChange) = try enter(epoch: e.epoch, parent: e.epochParent, seq: e.seq, hub: e.hub,
                                                     now: receivedAt, &c, db)
        if let epochChange { outcome.epochsBegun.append(epochChange) }
        switch epochDecision {
        case .retired:
            c.stale += 1
            return .stale
        case .unknown:
            // Refused like data the store cannot take: the batch is split until this message is alone,
            // and it is dead-lettered with its own reason while the others commit.
            throw StoreError(operation: "apply", path: path, message: "epoch \(e.epoch ?? "") of hub \(e.hub) descends from "
                             + "none of its epochs (parent \(e.epochParent.map { $0.isEmpty ? "before epochs" : $0 } ?? "none")): a new "
                             + "or rebuilt store; accept it with jippnas aggregator accept-epoch --hub \(e.hub) --epoch \(e.epoch ?? "")",
                             refusesData: true, deadLetterReason: DeadLetterReason.unknownEpoch)
        case .current, .adopt, .begin:
            break
        }
        let messageSeen = try Bool.fetchOne(s.seen, arguments: [change.messageID]) ?? false
        // A repeat decides nothing: it may be an old epoch's message redelivered long after.
        let entered = messageSeen ? nil : try enterOrigin(of: e, now: receivedAt, db)
        if let change = entered?.1 { outcome.originEpochsBegun.append(change) }
        let origin = entered?.0
        let stored = try Row.fetchOne(s.current, arguments: [globalID])
        let storedEpoch: String? = stored?[1], storedOriginEpoch: String? = stored?[2]
        let fromLeftEpoch = origin?.decision == .retired
        let superseded = (storedEpoch.map { $0 != c.epoch } ?? false)
            || (!fromLeftEpoch && (origin.map { o in storedOriginEpoch.map { $0 != o.current } ?? false } ?? false))
        let decision = ApplyDecision.decide(messageSeen: messageSeen, storedRevision: stored?[0],
                                            incomingRevision: e.innovation.revision, storedBySupersededEpoch: superseded,
                                            heldFromNewerEpoch: fromLeftEpoch && storedOriginEpoch == origin?.current)
        c.highestSeq = max(c.highestSeq, e.seq)
        try track(seq: e.seq, hub: e.hub, &c, db)
        switch decision {
        case .duplicate: c.duplicates += 1
        case .stale:
            c.stale += 1
            // Failovers deliver a hub's messages in other orders to the national queue and to the stream (a
            // publish retried after a lost confirm lands behind later ones). History keeps every revision
            // received, whatever the order, so a catalogue rebuilt from the stream has the primary's history.
            // A resync answer restates a revision held, not one made late: it is not kept.
            if !e.resync, try keepInHistory(change, epoch: c.epoch, originEpoch: origin?.ofChange ?? "", s,
                                            receivedAt: receivedAt, unlessKept: true) {
                // The record is unchanged, so no trigger notes it for the national feed: mirrors need the row.
                try s.noteFeedChange.execute(arguments: [globalID])
            }
        case .apply:
            c.applied += 1
            if e.resync { c.fixed += 1 }
            try write(change, epoch: c.epoch, originEpoch: origin?.ofChange ?? "", s, receivedAt: receivedAt)
        }
        return decision
    }

    /// Writes an applied change: the current record and, unless a resync repeats a revision already
    /// there, its history row.
    private func write(_ change: IncomingChange, epoch: String, originEpoch: String, _ s: ApplyStatements,
                       receivedAt: String) throws
    {
        let e = change.envelope
        let i = e.innovation
        let globalID = e.globalID
        let withdrawn = e.event == .withdraw
        try s.upsert.execute(arguments: [
            globalID, e.hub, i.id, i.revision, i.title, i.agency, i.region, i.category.rawValue,
            i.kind.rawValue, i.stage.rawValue, i.initiator?.rawValue, i.launchedOn, i.summary,
            i.benefits, i.contact, i.url, i.status.rawValue, i.replicates, i.updatedAt,
            withdrawn, withdrawn ? i.updatedAt : nil, e.seq, change.messageID, receivedAt, epoch, originEpoch,
        ])
        // A resync restores a record the catalogue lost; its revision may already be in history.
        try keepInHistory(change, epoch: epoch, originEpoch: originEpoch, s, receivedAt: receivedAt, unlessKept: e.resync)
    }

    /// Adds the change's revision to history; with `unlessKept`, only if history lacks it. Returns whether
    /// it added a row.
    @discardableResult
    private func keepInHistory(_ change: IncomingChange, epoch: String, originEpoch: String, _ s: ApplyStatements,
                               receivedAt: String, unlessKept: Bool) throws -> Bool
    {
        let e = change.envelope
        let i = e.innovation
        if unlessKept, try Bool.fetchOne(s.historyHas, arguments: [e.globalID, epoch, originEpoch, i.revision]) == true { return false }
        try s.history.execute(arguments: [
            e.globalID, i.revision, e.event.rawValue, e.hub, e.seq, change.messageID, e.sentAt, receivedAt, change.body, epoch,
            change.keyID, change.signature, originEpoch,
        ])
        return true
    }

    private func record(_ deadLetters: [DeadLetter], receivedAt: String, _ counters: inout [String: HubCounters],
                        _ db: Database) throws
    {
        guard !deadLetters.isEmpty else { return }
        let dead = try db.cachedStatement(sql: """
            INSERT INTO dead_letter(received_at, reason, routing_key, message_id, hub, body_prefix, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        for letter in deadLetters {
            try dead.execute(arguments: [letter.receivedAt ?? receivedAt, letter.reason, letter.routingKey,
                                         letter.messageID, letter.hub, letter.bodyPrefix, letter.detail])
            if let hub = letter.hub { counters[hub, default: HubCounters()].deadLetters += 1 }
        }
    }

    private func updateHubState(_ counters: [String: HubCounters], receivedAt: String, _ db: Database) throws {
        let hubUpdate = try db.cachedStatement(sql: """
            INSERT INTO hub_state(hub, highest_seq, last_message_at, applied, duplicates, stale, dead_letters,
                contiguous_seq, gap_since)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, CASE WHEN ? > ? THEN ? END)
            ON CONFLICT(hub) DO UPDATE SET highest_seq = MAX(highest_seq, excluded.highest_seq),
                last_message_at = excluded.last_message_at, applied = applied + excluded.applied,
                duplicates = duplicates + excluded.duplicates, stale = stale + excluded.stale,
                dead_letters = dead_letters + excluded.dead_letters,
                contiguous_seq = MAX(contiguous_seq, excluded.contiguous_seq),
                gap_since = CASE WHEN MAX(highest_seq, excluded.highest_seq) > MAX(contiguous_seq, excluded.contiguous_seq)
                    THEN COALESCE(gap_since, excluded.last_message_at) END
            """)
        let fixed = try db.cachedStatement(sql: """
            UPDATE reconciliation SET records_fixed = records_fixed + ?
            WHERE id = (SELECT MAX(id) FROM reconciliation WHERE hub = ? AND completed_at IS NULL)
            """)
        for (hub, c) in counters {
            try hubUpdate.execute(arguments: [hub, c.highestSeq, receivedAt, c.applied, c.duplicates, c.stale,
                                              c.deadLetters, c.contiguous, c.highestSeq, c.contiguous, receivedAt])
            if c.fixed > 0 { try fixed.execute(arguments: [c.fixed, hub]) }
        }
    }

    // MARK: Anti-entropy

    /// What the catalogue holds for `hub`, for ``Reconciler``; `epoch` is the checkpoint's (nil: the
    /// hub's current one).
    public func view(hub: String, epoch: String? = nil) throws(StoreError) -> Reconciler.View {
        try read("view \(hub)") { db in
            let state = try Row.fetchOne(db, sql: "SELECT contiguous_seq, highest_seq, epoch FROM hub_state WHERE hub = ?",
                                         arguments: [hub])
            let current: String = epoch ?? state?["epoch"] ?? ""
            var records = Reconciler.Records()
            var inEpoch = Reconciler.Records()
            // Keyed as in the hub's store: its own records by id, relayed ones by global id (Envelope.keyInHub).
            let rows = try Row.fetchCursor(db, sql: """
                SELECT CASE WHEN global_id = hub || ':' || id THEN id ELSE global_id END, revision, withdrawn, hub_epoch
                FROM innovation WHERE hub = ? AND orphaned_at IS NULL
                """, arguments: [hub])
            while let row = try rows.next() {
                records.add(id: row[0], revision: row[1], withdrawn: row[2])
                if row[3] == current { inEpoch.add(id: row[0], revision: row[1], withdrawn: row[2]) }
            }
            return Reconciler.View(contiguousSeq: state?["contiguous_seq"] ?? 0, highestSeq: state?["highest_seq"] ?? 0,
                                   records: records, inEpoch: inEpoch.digest.count == records.digest.count ? nil : inEpoch)
        }
    }

    /// Enters the epoch a checkpoint carries, as a change would: returns what it meant, and the change of
    /// epoch it began, if any.
    public func enterEpoch(of checkpoint: Checkpoint, at now: String = Timestamp.now()) throws(StoreError)
        -> (HubEpoch.Decision, EpochChange?)
    {
        do {
            return try indexedWrite { db in
                var c = HubCounters()
                return try enter(epoch: checkpoint.epoch, parent: checkpoint.epochParent, seq: checkpoint.seq,
                                 hub: checkpoint.hub, now: now, &c, db)
            }
        } catch {
            throw StoreError.wrap(error, operation: "enter epoch \(checkpoint.hub)", path: path)
        }
    }

    /// Hubs with a sequence number missing below the highest received.
    public func hubsWithGaps() throws(StoreError) -> [String] {
        try read("gaps") { db in try String.fetchAll(db, sql: "SELECT hub FROM hub_state WHERE highest_seq > contiguous_seq ORDER BY hub") }
    }

    /// Records a checkpoint and carries out the ``Reconciler`` action decided on it: when it agreed with the
    /// catalogue (after labelling or orphaning records of earlier epochs), closes gaps up to its seq and
    /// completes the hub's open reconciliation. Returns how many records were orphaned.
    @discardableResult
    public func recordCheckpoint(_ checkpoint: Checkpoint, action: Reconciler.Action, at now: String = Timestamp.now())
        throws(StoreError) -> Int
    {
        do {
            return try indexedWrite { db in
                try db.execute(sql: """
                    INSERT INTO hub_state(hub, highest_seq, last_message_at, last_checkpoint_at, last_checkpoint_seq)
                    VALUES (?, 0, ?, ?, ?)
                    ON CONFLICT(hub) DO UPDATE SET last_message_at = excluded.last_message_at,
                        last_checkpoint_at = excluded.last_checkpoint_at, last_checkpoint_seq = excluded.last_checkpoint_seq
                    """, arguments: [checkpoint.hub, now, now, checkpoint.seq])
                let epoch = try checkpoint.epoch
                    ?? String.fetchOne(db, sql: "SELECT epoch FROM hub_state WHERE hub = ?", arguments: [checkpoint.hub]) ?? ""
                var orphaned = 0
                switch action {
                case .consistent: break
                case .adoptEpoch:
                    try db.execute(sql: "UPDATE innovation SET hub_epoch = ? WHERE hub = ? AND orphaned_at IS NULL AND hub_epoch != ?",
                                   arguments: [epoch, checkpoint.hub, epoch])
                case .orphanOthers:
                    try db.execute(sql: """
                        UPDATE innovation SET withdrawn = 1, withdrawn_at = COALESCE(withdrawn_at, ?), orphaned_at = ?
                        WHERE hub = ? AND orphaned_at IS NULL AND hub_epoch != ?
                        """, arguments: [now, now, checkpoint.hub, epoch])
                    orphaned = db.changesCount
                case .resync, .none: return 0
                }
                try closeGaps(upTo: checkpoint.seq, hub: checkpoint.hub, db)
                try db.execute(sql: """
                    UPDATE reconciliation SET completed_at = ?, records_fixed = records_fixed + ?
                    WHERE hub = ? AND completed_at IS NULL
                    """, arguments: [now, orphaned, checkpoint.hub])
                return orphaned
            }
        } catch {
            throw StoreError.wrap(error, operation: "record checkpoint \(checkpoint.hub)", path: path)
        }
    }

    /// Everything up to `seq` is known to be held: the contiguous sequence number moves there.
    private func closeGaps(upTo seq: Int64, hub: String, _ db: Database) throws {
        var c = HubCounters()
        c.contiguous = max(seq, try Int64.fetchOne(db, sql: "SELECT contiguous_seq FROM hub_state WHERE hub = ?",
                                                   arguments: [hub]) ?? 0)
        try db.execute(sql: "DELETE FROM hub_seq_pending WHERE hub = ? AND seq <= ?", arguments: [hub, c.contiguous])
        c.pendingSeqs = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM hub_seq_pending WHERE hub = ?", arguments: [hub]) ?? 0
        try closeUp(hub: hub, &c, db)
        try db.execute(sql: """
            UPDATE hub_state SET contiguous_seq = ?, highest_seq = MAX(highest_seq, ?),
                gap_since = CASE WHEN MAX(highest_seq, ?) > ? THEN gap_since END
            WHERE hub = ?
            """, arguments: [c.contiguous, seq, seq, c.contiguous, hub])
    }

    /// Records a resync request sent to a hub; returns its id.
    @discardableResult
    public func recordResyncRequest(hub: String, reason: ResyncReason, fromSeq: Int64?, at now: String = Timestamp.now())
        throws(StoreError) -> Int64
    {
        do {
            return try indexedWrite { db in
                try db.execute(sql: "INSERT INTO reconciliation(hub, requested_at, reason, from_seq) VALUES (?, ?, ?, ?)",
                               arguments: [hub, now, reason.rawValue, fromSeq])
                let id = db.lastInsertedRowID
                try db.execute(sql: "UPDATE hub_state SET last_resync_at = ? WHERE hub = ?", arguments: [now, hub])
                return id
            }
        } catch {
            throw StoreError.wrap(error, operation: "record resync \(hub)", path: path)
        }
    }

    /// Reconciliations, newest first.
    public func reconciliations(limit: Int = 20) throws(StoreError) -> [Reconciliation] {
        try read("reconciliations") { db in try Self.fetchReconciliations(db, limit: limit) }
    }

    private static func fetchReconciliations(_ db: Database, limit: Int) throws -> [Reconciliation] {
        try Row.fetchAll(db, sql: """
            SELECT id, hub, requested_at, reason, from_seq, completed_at, records_fixed FROM reconciliation
            ORDER BY id DESC LIMIT ?
            """, arguments: [limit]).map { row in
            Reconciliation(id: row["id"], hub: row["hub"], requestedAt: row["requested_at"], reason: row["reason"],
                           fromSeq: row["from_seq"], completedAt: row["completed_at"], recordsFixed: row["records_fixed"])
        }
    }

    // MARK: Queries

    static let entryColumns = """
        global_id, hub, id, revision, title, agency, region, category, kind, stage, initiator, launched_on,
        summary, benefits, contact, url, status, replicates, updated_at, withdrawn, withdrawn_at, received_at, last_seq,
        hub_epoch, orphaned_at
        """

    static func entry(_ row: Row) -> CatalogueEntry {
        let innovation = Innovation(
            id: row["id"], revision: row["revision"], title: row["title"], agency: row["agency"], region: row["region"],
            category: Category(rawValue: row["category"]) ?? .tataKelolaPemerintahan,
            kind: InnovationKind(rawValue: row["kind"]) ?? .digital, stage: Stage(rawValue: row["stage"]) ?? .inisiatif,
            initiator: (row["initiator"] as String?).flatMap(Initiator.init(rawValue:)), launchedOn: row["launched_on"],
            summary: row["summary"], benefits: row["benefits"], contact: row["contact"], url: row["url"],
            status: InnovationStatus(rawValue: row["status"]) ?? .active, replicates: row["replicates"],
            updatedAt: row["updated_at"])
        return CatalogueEntry(globalID: row["global_id"], hub: row["hub"], innovation: innovation,
                              withdrawn: row["withdrawn"], withdrawnAt: row["withdrawn_at"],
                              receivedAt: row["received_at"], lastSeq: row["last_seq"], hubEpoch: row["hub_epoch"],
                              orphanedAt: row["orphaned_at"])
    }

    /// Catalogue entries ordered by global id, optionally for one hub and without withdrawn ones.
    public func list(hub: String? = nil, includeWithdrawn: Bool = true, limit: Int? = nil) throws(StoreError)
        -> [CatalogueEntry]
    {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let hub {
            conditions.append("hub = ?")
            arguments += [hub]
        }
        if !includeWithdrawn { conditions.append("withdrawn = 0") }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let limitClause = limit.map { " LIMIT \($0)" } ?? ""
        return try read("list") { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.entryColumns) FROM innovation\(whereClause) ORDER BY hub, id\(limitClause)",
                             arguments: arguments).map(Self.entry)
        }
    }

    /// One entry by global id (`35:surabaya-single-window`).
    public func entry(globalID: String) throws(StoreError) -> CatalogueEntry? {
        try read("show \(globalID)") { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.entryColumns) FROM innovation WHERE global_id = ?",
                             arguments: [globalID]).map(Self.entry)
        }
    }

    /// Accepted revisions of one innovation, oldest first.
    public func history(globalID: String) throws(StoreError) -> [HistoryEntry] {
        try read("history \(globalID)") { db in try Self.fetchHistory(db, globalID: globalID) }
    }

    /// A record's history in the order its revisions were made: epochs as they began, revisions within
    /// each. Not by row id: a revision that arrived after a newer one is kept when it arrives. One pass
    /// (a window), not a lookup per row: a record revised every day has thousands of rows.
    static let historyOrder = """
        ORDER BY MIN(id) OVER (PARTITION BY global_id, hub_epoch, origin_epoch), revision, id
        """

    static func fetchHistory(_ db: Database, globalID: String) throws -> [HistoryEntry] {
        try Row.fetchAll(db, sql: """
            SELECT revision, event, hub, seq, message_id, sent_at, received_at, hub_epoch FROM history
            WHERE global_id = ? \(historyOrder)
            """, arguments: [globalID]).map { row in
            HistoryEntry(revision: row["revision"], event: row["event"], hub: row["hub"], seq: row["seq"],
                         messageID: row["message_id"], sentAt: row["sent_at"], receivedAt: row["received_at"],
                         hubEpoch: row["hub_epoch"])
        }
    }

    /// Whole-catalogue and per-hub figures.
    public func stats() throws(StoreError) -> CatalogueStats {
        try read("stats") { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM innovation") ?? 0
            let withdrawn = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM innovation WHERE withdrawn = 1") ?? 0
            let historyRows = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM history") ?? 0
            let deadLetters = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM dead_letter") ?? 0
            let replications = try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM innovation WHERE replicates IS NOT NULL AND withdrawn = 0") ?? 0
            var byCategory: [String: Int] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT category, COUNT(*) AS n FROM innovation WHERE withdrawn = 0 GROUP BY category") {
                byCategory[row["category"]] = row["n"]
            }
            let hubs = try Self.fetchHubStates(db)
            return CatalogueStats(innovations: total, live: total - withdrawn, withdrawn: withdrawn,
                                  historyRows: historyRows, deadLetters: deadLetters, hubs: hubs,
                                  byCategory: byCategory, replications: replications,
                                  reconciliations: try Self.fetchReconciliations(db, limit: 10))
        }
    }

    /// Every hub's state and counts, by hub.
    public func hubStates() throws(StoreError) -> [HubState] {
        try read("hub states") { db in try Self.fetchHubStates(db) }
    }

    static func fetchHubStates(_ db: Database) throws -> [HubState] {
        try Row.fetchAll(db, sql: """
            SELECT h.hub, h.highest_seq, h.last_message_at, h.applied, h.duplicates, h.stale, h.dead_letters,
                h.contiguous_seq, h.gap_since, h.last_checkpoint_at, h.epoch,
                (SELECT COUNT(*) FROM innovation i WHERE i.hub = h.hub AND i.withdrawn = 0) AS live,
                (SELECT COUNT(*) FROM innovation i WHERE i.hub = h.hub AND i.withdrawn = 1) AS withdrawn
            FROM hub_state h ORDER BY h.hub
            """).map { row in
            HubState(hub: row["hub"], highestSeq: row["highest_seq"], lastMessageAt: row["last_message_at"],
                     live: row["live"], withdrawn: row["withdrawn"], applied: row["applied"],
                     duplicates: row["duplicates"], stale: row["stale"], deadLetters: row["dead_letters"],
                     contiguousSeq: row["contiguous_seq"], gapSince: row["gap_since"],
                     lastCheckpointAt: row["last_checkpoint_at"], epoch: row["epoch"])
        }
    }

    /// How many innovations the catalogue holds, withdrawn ones included.
    public func innovationCount() throws(StoreError) -> Int {
        try read("count innovations") { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM innovation") ?? 0 }
    }

    /// The most recent dead letters, newest first.
    public func deadLetters(limit: Int = 100) throws(StoreError) -> [DeadLetter] {
        try read("dead letters") { db in
            try Row.fetchAll(db, sql: """
                SELECT received_at, reason, routing_key, message_id, hub, body_prefix, detail FROM dead_letter
                ORDER BY id DESC LIMIT ?
                """, arguments: [limit]).map { row in
                var letter = DeadLetter(reason: row["reason"], routingKey: row["routing_key"], messageID: row["message_id"],
                                        hub: row["hub"], body: Data(), receivedAt: row["received_at"])
                letter.bodyPrefix = row["body_prefix"]
                letter.detail = row["detail"]
                return letter
            }
        }
    }

    /// Number of history rows that share an (innovation, hub epoch, originating epoch, revision): zero in a healthy catalogue.
    public func duplicatedHistoryRows() throws(StoreError) -> Int {
        try read("history duplicates") { db in
            try Int.fetchOne(db, sql: """
                SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM history GROUP BY global_id, hub_epoch, origin_epoch, revision)
                """) ?? 0
        }
    }

    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw StoreError.wrap(error, operation: operation, path: path)
        }
    }

    /// A write transaction that leaves the search index in step with the records it changed.
    func indexedWrite<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.write { db in
            let result = try body(db)
            try SearchIndex.flush(db)
            try db.execute(sql: SearchIndex.bumpVersion)
            return result
        }
    }

    func write<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try indexedWrite(body)
        } catch {
            throw StoreError.wrap(error, operation: operation, path: path)
        }
    }
}

extension DeadLetter: Codable {
    enum CodingKeys: String, CodingKey {
        case reason, hub, detail
        case routingKey = "routing_key"
        case messageID = "message_id"
        case bodyPrefix = "body_prefix"
        case receivedAt = "received_at"
    }
}
