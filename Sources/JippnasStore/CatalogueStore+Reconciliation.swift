import Foundation
import GRDB
import JippnasCore

/// Anti-entropy: what the catalogue holds for a hub, checkpoints, gaps and resync requests.
extension CatalogueStore {
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

    static func fetchReconciliations(_ db: Database, limit: Int) throws -> [Reconciliation] {
        try Row.fetchAll(db, sql: """
            SELECT id, hub, requested_at, reason, from_seq, completed_at, records_fixed FROM reconciliation
            ORDER BY id DESC LIMIT ?
            """, arguments: [limit]).map { row in
            Reconciliation(id: row["id"], hub: row["hub"], requestedAt: row["requested_at"], reason: row["reason"],
                           fromSeq: row["from_seq"], completedAt: row["completed_at"], recordsFixed: row["records_fixed"])
        }
    }
}
