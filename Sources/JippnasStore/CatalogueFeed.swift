import Foundation
import GRDB
import JippnasCore

/// The national feed in the catalogue (``NationalFeed``): on the national side, which records changed
/// since the feed was last published (table `catalogue_change`, filled by triggers on `innovation`, so
/// every way a record changes is caught: a change applied, an orphan withdrawn, an epoch relabelled); on
/// a mirror, the records set from the feed and where the mirror stands (table `feed_state`).
extension CatalogueStore {
    static func createFeedTables(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE catalogue_change (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                global_id TEXT NOT NULL
            );
            CREATE TABLE feed_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
            CREATE TRIGGER catalogue_change_insert AFTER INSERT ON innovation
            WHEN EXISTS (SELECT 1 FROM feed_state WHERE key = 'feed_id') BEGIN
                INSERT INTO catalogue_change(global_id) VALUES (new.global_id);
            END;
            CREATE TRIGGER catalogue_change_update AFTER UPDATE ON innovation
            WHEN EXISTS (SELECT 1 FROM feed_state WHERE key = 'feed_id') BEGIN
                INSERT INTO catalogue_change(global_id) VALUES (new.global_id);
            END;
            CREATE TABLE mirror_snapshot_seen (global_id TEXT PRIMARY KEY) WITHOUT ROWID;
            """)
    }

    // MARK: National side

    /// This catalogue's feed id, made when its first feed publisher starts. Changes are noted only from
    /// then on (a catalogue that publishes no feed, a standby or a relaying province's, keeps no change
    /// log), and the first snapshot covers what came before. A catalogue rebuilt into a new file gets a
    /// new id, so mirrors know its sequence numbers start again.
    public func startFeed() throws(StoreError) -> String { try randomID("feed_id", operation: "start the feed") }

    /// A random id of this catalogue file, made on first use: what a relaying hub's position refers to.
    public func identity() throws(StoreError) -> String { try randomID("catalogue_id", operation: "catalogue identity") }

    /// The random id kept under `key` in feed_state, drawn and kept on first use.
    private func randomID(_ key: String, operation: String) throws(StoreError) -> String {
        try write(operation) { db in
            if let id = try Self.feedState(db, key) { return id }
            let id = UUID().uuidString.lowercased()
            try Self.setFeedState(db, key, id)
            return id
        }
    }

    /// The changes after feed sequence number `after`, at most `limit` change rows, one message per record
    /// (the highest change of each), in sequence order, each with the record's state and history as they
    /// are now. Read in one transaction, so what the messages say is one moment of the catalogue.
    public func feedChanges(after: Int64, limit: Int) throws(StoreError) -> [FeedRecord] {
        try read("read feed changes") { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT MAX(seq) AS seq, global_id FROM (SELECT seq, global_id FROM catalogue_change WHERE seq > ? ORDER BY seq LIMIT ?)
                GROUP BY global_id ORDER BY seq
                """, arguments: [after, limit])
            return try rows.compactMap { row -> FeedRecord? in
                guard let (state, history) = try Self.feedState(db, globalID: row["global_id"]) else { return nil }
                return FeedRecord(seq: row["seq"], prev: nil, snapshot: nil, state: state, history: history)
            }
        }
    }

    /// Up to `limit` records after global id `after`, for a snapshot.
    public func snapshotRecords(after: String, limit: Int, snapshot: String) throws(StoreError) -> [FeedRecord] {
        try read("read snapshot records") { db in
            try String.fetchAll(db, sql: "SELECT global_id FROM innovation WHERE global_id > ? ORDER BY global_id LIMIT ?",
                                arguments: [after, limit]).compactMap { id -> FeedRecord? in
                guard let (state, history) = try Self.feedState(db, globalID: id) else { return nil }
                return FeedRecord(seq: nil, prev: nil, snapshot: snapshot, state: state, history: history)
            }
        }
    }

    private static func feedState(_ db: Database, globalID: String) throws -> (FeedRecordState, [FeedHistoryRow])? {
        guard let row = try Row.fetchOne(db, sql: "SELECT \(entryColumns), last_message_id FROM innovation WHERE global_id = ?",
                                         arguments: [globalID]) else { return nil }
        let entry = Self.entry(row)
        let state = FeedRecordState(globalID: entry.globalID, hub: entry.hub, innovation: entry.innovation, withdrawn: entry.withdrawn,
                                    withdrawnAt: entry.withdrawnAt, orphanedAt: entry.orphanedAt, hubEpoch: entry.hubEpoch,
                                    lastSeq: entry.lastSeq, lastMessageID: row["last_message_id"], receivedAt: entry.receivedAt)
        let history = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT revision, event, hub, seq, message_id, sent_at, received_at, hub_epoch, key_id, signature, body
            FROM history WHERE global_id = ? \(historyOrder)
            """), arguments: [globalID]).map { h in
            FeedHistoryRow(revision: h[0], event: h[1], hub: h[2], seq: h[3], messageID: h[4], sentAt: h[5], receivedAt: h[6],
                           hubEpoch: h[7], keyID: h[8], signature: h[9], body: h[10])
        }
        return (state, history)
    }

    /// Everything up to `seq` is published (confirmed by the broker): remembered, and its change rows go.
    public func markFeedPublished(through seq: Int64) throws(StoreError) {
        try write("mark feed published") { db in
            try Self.setFeedState(db, "published_seq", String(seq))
            try db.execute(sql: "DELETE FROM catalogue_change WHERE seq <= ?", arguments: [seq])
        }
    }

    /// The last feed sequence number published (0 before any).
    public func feedPublishedSeq() throws(StoreError) -> Int64 {
        try read("read feed position") { db in Int64(try Self.feedState(db, "published_seq") ?? "0") ?? 0 }
    }

    /// When the last snapshot was completed, if ever.
    public func lastSnapshotAt() throws(StoreError) -> String? {
        try read("read last snapshot") { db in try Self.feedState(db, "last_snapshot_at") }
    }

    /// A snapshot was published completely at `time`.
    public func recordSnapshot(at time: String) throws(StoreError) {
        try write("record snapshot") { db in try Self.setFeedState(db, "last_snapshot_at", time) }
    }

    /// The whole catalogue's checkpoint, if every change up to `published` is published (none waits):
    /// the digest and counts are read in the same transaction as that check, so they describe exactly
    /// the feed up to there.
    public func feedCheckpointIfQuiescent(published: Int64, now: String = Timestamp.now()) throws(StoreError) -> FeedCheckpoint? {
        try read("feed checkpoint") { db in
            let waiting = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM catalogue_change WHERE seq > ?)", arguments: [published]) ?? false
            guard !waiting else { return nil }
            let (digest, withdrawn) = try Self.catalogueDigest(db)
            return FeedCheckpoint(through: published, records: digest.count, withdrawn: withdrawn, digest: digest.description, sentAt: now)
        }
    }

    /// The record digest of every record, keyed by global id, and how many are withdrawn.
    static func catalogueDigest(_ db: Database) throws -> (RecordDigest, Int) {
        var digest = RecordDigest()
        var withdrawn = 0
        let rows = try Row.fetchCursor(db, sql: "SELECT global_id, revision, withdrawn FROM innovation")
        while let row = try rows.next() {
            let isWithdrawn: Bool = row[2]
            if isWithdrawn { withdrawn += 1 }
            digest.add(id: row[0], revision: row[1], withdrawn: isWithdrawn)
        }
        return (digest, withdrawn)
    }

    // MARK: Mirror side

    /// Where a mirror stands: its follower and the next stream offset to read (nil before any).
    public func mirrorPosition() throws(StoreError) -> (follower: MirrorFollower, nextOffset: Int64?) {
        try read("read mirror position") { db in
            let follower = MirrorFollower(lastSeq: Int64(try Self.feedState(db, "mirror_last_seq") ?? "0") ?? 0,
                                          mode: MirrorFollower.mode(stored: try Self.feedState(db, "mirror_mode")),
                                          snapshotOffset: try Self.feedState(db, "mirror_snapshot_offset").flatMap { Int64($0) },
                                          feedID: try Self.feedState(db, "mirror_feed_id"))
            return (follower, try Self.feedState(db, "mirror_next_offset").flatMap { Int64($0) })
        }
    }

    /// What a mirror does about a snapshot in the transaction of ``applyFeed(_:follower:nextOffset:snapshot:)``.
    public enum SnapshotStep: Sendable {
        /// The mirror starts applying a snapshot: from here it notes every record it sets.
        case begin
        /// Records set since the snapshot began (by it, or by changes published meanwhile).
        case inProgress
        /// The snapshot is complete: a record it did not set did not exist at the national catalogue
        /// when the snapshot began (the mirror read an older snapshot again), and goes; its revisions
        /// come again later in the stream.
        case end
    }

    /// Sets `records` as the national catalogue holds them, keeps their history, and stores where the
    /// mirror stands, in one transaction. `nextOffset` may go back (a snapshot read again).
    public func applyFeed(_ records: [FeedRecord], follower: MirrorFollower, nextOffset: Int64?, snapshot: SnapshotStep? = nil)
        throws(StoreError)
    {
        try write("apply \(records.count) feed records") { db in
            if case .begin? = snapshot { try db.execute(sql: "DELETE FROM mirror_snapshot_seen") }
            // An upsert, not INSERT OR REPLACE: REPLACE deletes without firing the delete trigger, which
            // would leave the old row's words in the search index.
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO innovation(global_id, hub, id, revision, title, agency, region, category, kind, stage,
                    initiator, launched_on, summary, benefits, contact, url, status, replicates, updated_at,
                    withdrawn, withdrawn_at, last_seq, last_message_id, received_at, hub_epoch, orphaned_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(global_id) DO UPDATE SET hub = excluded.hub, id = excluded.id, revision = excluded.revision,
                    title = excluded.title, agency = excluded.agency, region = excluded.region, category = excluded.category,
                    kind = excluded.kind, stage = excluded.stage, initiator = excluded.initiator,
                    launched_on = excluded.launched_on, summary = excluded.summary, benefits = excluded.benefits,
                    contact = excluded.contact, url = excluded.url, status = excluded.status, replicates = excluded.replicates,
                    updated_at = excluded.updated_at, withdrawn = excluded.withdrawn, withdrawn_at = excluded.withdrawn_at,
                    last_seq = excluded.last_seq, last_message_id = excluded.last_message_id,
                    received_at = excluded.received_at, hub_epoch = excluded.hub_epoch, orphaned_at = excluded.orphaned_at
                """)
            let history = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO history(global_id, revision, event, hub, seq, message_id, sent_at, received_at, body,
                    hub_epoch, key_id, signature)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for record in records {
                let s = record.state, i = s.innovation
                try upsert.execute(arguments: [
                    s.globalID, s.hub, i.id, i.revision, i.title, i.agency, i.region, i.category.rawValue, i.kind.rawValue,
                    i.stage.rawValue, i.initiator?.rawValue, i.launchedOn, i.summary, i.benefits, i.contact, i.url,
                    i.status.rawValue, i.replicates, i.updatedAt, s.withdrawn, s.withdrawnAt, s.lastSeq, s.lastMessageID,
                    s.receivedAt, s.hubEpoch, s.orphanedAt,
                ])
                for h in record.history {
                    try history.execute(arguments: [s.globalID, h.revision, h.event, h.hub, h.seq, h.messageID, h.sentAt,
                                                    h.receivedAt, h.body, h.hubEpoch, h.keyID, h.signature])
                }
                if snapshot != nil {
                    try db.execute(sql: "INSERT OR IGNORE INTO mirror_snapshot_seen(global_id) VALUES (?)", arguments: [s.globalID])
                }
            }
            if case .end? = snapshot {
                try db.execute(sql: "DELETE FROM innovation WHERE global_id NOT IN (SELECT global_id FROM mirror_snapshot_seen)")
                try db.execute(sql: "DELETE FROM mirror_snapshot_seen")
            }
            // A mirror publishes no feed of its own.
            try db.execute(sql: "DELETE FROM catalogue_change")
            try Self.store(follower, nextOffset: nextOffset, db)
        }
    }

    /// Stores where the mirror stands without applying anything (a skipped message, a checkpoint).
    public func recordMirrorPosition(_ follower: MirrorFollower, nextOffset: Int64?) throws(StoreError) {
        try applyFeed([], follower: follower, nextOffset: nextOffset)
    }

    /// The mirror's own digest and counts, to compare with a checkpoint.
    public func mirrorCheckpoint() throws(StoreError) -> (records: Int, withdrawn: Int, digest: String) {
        try read("mirror digest") { db in
            let (digest, withdrawn) = try Self.catalogueDigest(db)
            return (digest.count, withdrawn, digest.description)
        }
    }

    private static func store(_ follower: MirrorFollower, nextOffset: Int64?, _ db: Database) throws {
        try setFeedState(db, "mirror_last_seq", String(follower.lastSeq))
        try setFeedState(db, "mirror_mode", follower.storedMode)
        if let offset = follower.snapshotOffset { try setFeedState(db, "mirror_snapshot_offset", String(offset)) }
        if let feed = follower.feedID { try setFeedState(db, "mirror_feed_id", feed) }
        if let nextOffset { try setFeedState(db, "mirror_next_offset", String(nextOffset)) }
    }

    private static func feedState(_ db: Database, _ key: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT value FROM feed_state WHERE key = ?", arguments: [key])
    }

    private static func setFeedState(_ db: Database, _ key: String, _ value: String) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO feed_state(key, value) VALUES (?, ?)", arguments: [key, value])
    }
}
