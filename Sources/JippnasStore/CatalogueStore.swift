import Foundation
import GRDB
import JippnasCore

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

    /// Whether the catalogue holds records; true when that cannot be read (only a missing `innovation`
    /// table means a new file), so that a failed probe never lets another writer rebuild the index.
    private static func hasRecords(_ pool: DatabasePool) -> Bool {
        (try? pool.read { db in
            guard try db.tableExists("innovation") else { return false }
            return try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM innovation)") ?? true
        }) ?? true
    }


    struct HubCounters {
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
    func load(hub: String, _ c: inout HubCounters, _ db: Database) throws {
        guard !c.loaded else { return }
        let state = try Row.fetchOne(db, sql: "SELECT contiguous_seq, epoch FROM hub_state WHERE hub = ?", arguments: [hub])
        c.contiguous = state?["contiguous_seq"] ?? 0
        c.epoch = state?["epoch"] ?? ""
        c.pendingSeqs = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM hub_seq_pending WHERE hub = ?", arguments: [hub]) ?? 0
        c.loaded = true
    }

    /// Decides what `epoch` (with its `parent`, from a message with `seq`) means for `hub` and carries out
    /// a change of epoch.
    func enter(epoch: String?, parent: String?, seq: Int64, hub: String, now: String, _ c: inout HubCounters,
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
    func restartTracking(at seq: Int64, hub: String, _ c: inout HubCounters, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM hub_seq_pending WHERE hub = ?", arguments: [hub])
        try db.execute(sql: "UPDATE hub_state SET highest_seq = ?, contiguous_seq = ?, gap_since = NULL WHERE hub = ?",
                       arguments: [seq, seq, hub])
        c.contiguous = seq
        c.highestSeq = seq
        c.pendingSeqs = 0
    }

    /// Records that a message of `epoch` was refused as unknown.
    func noteRefused(epoch: String, hub: String, now: String, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO hub_epoch(hub, epoch, first_seen_at, refused_at, refused) VALUES (?, ?, ?, ?, 1)
            ON CONFLICT(hub, epoch) DO UPDATE SET refused_at = excluded.refused_at, refused = refused + 1
            """, arguments: [hub, epoch, now, now])
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
    func closeUp(hub: String, _ c: inout HubCounters, _ db: Database) throws {
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

