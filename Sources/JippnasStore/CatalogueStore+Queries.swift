import Foundation
import GRDB
import JippnasCore

/// Reading records, history, hub states and figures.
extension CatalogueStore {
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
}
