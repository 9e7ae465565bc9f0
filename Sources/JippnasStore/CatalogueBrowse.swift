import Foundation
import GRDB
import JippnasCore
import Synchronization

/// Another innovation, as a detail page links to it.
public struct RelatedInnovation: Sendable, Equatable, Codable {
    public var globalID: String
    public var title: String
    public var region: String
    public var stage: Stage
    public var withdrawn: Bool

    enum CodingKeys: String, CodingKey {
        case globalID = "global_id"
        case title, region, stage, withdrawn
    }
}

/// An innovation with everything a detail view shows.
public struct InnovationDetail: Sendable, Equatable {
    public var entry: CatalogueEntry
    public var history: [HistoryEntry]
    /// What this innovation replicates, when the catalogue holds it.
    public var replicates: RelatedInnovation?
    /// Innovations elsewhere that replicate this one.
    public var replicatedBy: [RelatedInnovation]
}

/// Counts for the stats endpoint and the web page's chart; live (not withdrawn) innovations only.
public struct CatalogueFacets: Sendable, Equatable {
    public var live: Int
    public var withdrawn: Int
    public var byProvince: [String: Int]
    public var byCategory: [String: Int]
    public var byStage: [String: Int]
    public var byKind: [String: Int]
    /// By launch year; innovations without a launch date are not counted.
    public var byYear: [String: Int]
    /// The most replicated innovations, most first, with how many replicate each.
    public var mostReplicated: [(innovation: RelatedInnovation, replications: Int)]
    /// Live replications by the province where they are made (their region's province).
    public var replicatingProvinces: [String: Int] = [:]
    /// When the catalogue last applied a change.
    public var lastChangeAt: String?

    public static func == (a: CatalogueFacets, b: CatalogueFacets) -> Bool {
        a.live == b.live && a.withdrawn == b.withdrawn && a.byProvince == b.byProvince && a.byCategory == b.byCategory
            && a.byStage == b.byStage && a.byKind == b.byKind && a.byYear == b.byYear
            && a.mostReplicated.map(\.innovation) == b.mostReplicated.map(\.innovation)
            && a.mostReplicated.map(\.replications) == b.mostReplicated.map(\.replications) && a.lastChangeAt == b.lastChangeAt
            && a.replicatingProvinces == b.replicatingProvinces
    }
}

extension CatalogueStore {
    /// An innovation with its history and its replications both ways, or nil when the catalogue has no
    /// such global id.
    public func detail(globalID: String) throws(StoreError) -> InnovationDetail? {
        try read("detail \(globalID)") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT \(Self.entryColumns) FROM innovation WHERE global_id = ?",
                                             arguments: [globalID]) else { return nil }
            let entry = Self.entry(row)
            let history = try Self.fetchHistory(db, globalID: globalID)
            let replicates = try entry.innovation.replicates.flatMap { target in
                try Row.fetchOne(db, sql: "SELECT \(Self.relatedColumns) FROM innovation WHERE global_id = ?",
                                 arguments: [target]).map(Self.related)
            }
            let replicatedBy = try Row.fetchAll(db, sql: """
                SELECT \(Self.relatedColumns) FROM innovation WHERE replicates = ? ORDER BY global_id LIMIT 500
                """, arguments: [globalID]).map(Self.related)
            return InnovationDetail(entry: entry, history: history, replicates: replicates, replicatedBy: replicatedBy)
        }
    }

    private static let relatedColumns = "global_id, title, region, stage, withdrawn"

    private static func related(_ row: Row) -> RelatedInnovation {
        RelatedInnovation(globalID: row["global_id"], title: row["title"], region: row["region"],
                          stage: Stage(rawValue: row["stage"]) ?? .inisiatif, withdrawn: row["withdrawn"])
    }

    /// Counts of live innovations by province, category, stage, kind and launch year, and the most
    /// replicated ones.
    public func facets(mostReplicated limit: Int = 10) throws(StoreError) -> CatalogueFacets {
        try read("facets") { db in
            func counts(_ expression: String) throws -> [String: Int] {
                var result: [String: Int] = [:]
                let rows = try Row.fetchAll(db, sql: """
                    SELECT \(expression) AS k, COUNT(*) AS n FROM innovation WHERE withdrawn = 0 AND k IS NOT NULL GROUP BY k
                    """)
                for row in rows { result[row["k"]] = row["n"] }
                return result
            }
            let withdrawn = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM innovation WHERE withdrawn = 1") ?? 0
            let byProvince = try counts("hub")
            let top = try Row.fetchAll(db, sql: """
                SELECT t.global_id, t.title, t.region, t.stage, t.withdrawn, r.n FROM
                    (SELECT replicates, COUNT(*) AS n FROM innovation WHERE replicates IS NOT NULL AND withdrawn = 0
                     GROUP BY replicates ORDER BY n DESC, replicates LIMIT ?) r
                JOIN innovation t ON t.global_id = r.replicates ORDER BY r.n DESC, t.global_id
                """, arguments: [limit]).map { (innovation: Self.related($0), replications: $0["n"] as Int) }
            var facets = CatalogueFacets(
                live: byProvince.values.reduce(0, +), withdrawn: withdrawn, byProvince: byProvince,
                byCategory: try counts("category"), byStage: try counts("stage"), byKind: try counts("kind"),
                byYear: try counts("substr(launched_on, 1, 4)"), mostReplicated: top,
                lastChangeAt: try String.fetchOne(db, sql: "SELECT MAX(received_at) FROM innovation"))
            facets.replicatingProvinces = try counts("CASE WHEN replicates IS NOT NULL THEN substr(region, 1, 2) END")
            return facets
        }
    }

    /// Calls `body` with every innovation in global-id order, reading a thousand at a time so that memory
    /// stays flat and the daemon's commits and checkpoints are never held up by one long read. Each
    /// record is as committed when its chunk was read. Stops early when `body` returns false.
    public func forEachEntry(includeWithdrawn: Bool = true, _ body: (CatalogueEntry) throws -> Bool) throws {
        var after = ""
        while true {
            let chunk = try entries(after: after, includeWithdrawn: includeWithdrawn)
            for entry in chunk where try !body(entry) { return }
            guard let last = chunk.last, chunk.count == Self.exportChunk else { return }
            after = last.globalID
        }
    }

    /// Records read per chunk of an export.
    public static let exportChunk = 1000

    /// The next chunk of an export: up to ``exportChunk`` innovations after `globalID` ("" for the first).
    public func entries(after globalID: String, includeWithdrawn: Bool = true) throws(StoreError) -> [CatalogueEntry] {
        let condition = includeWithdrawn ? "" : "AND withdrawn = 0"
        return try read("export") { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.entryColumns) FROM innovation WHERE global_id > ? \(condition) ORDER BY global_id LIMIT ?
                """, arguments: [globalID, Self.exportChunk]).map(Self.entry)
        }
    }

    /// How many innovations an export with these settings writes, for its progress bar.
    public func count(includeWithdrawn: Bool) throws(StoreError) -> Int {
        try read("count") { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM innovation" + (includeWithdrawn ? "" : " WHERE withdrawn = 0")) ?? 0
        }
    }

    /// Rebuilds the search index from the records (after a `VACUUM`, or if an integrity check fails).
    public func rebuildSearchIndex() throws(StoreError) {
        do {
            try pool.write { db in try SearchIndex.rebuild(db) }
        } catch {
            throw StoreError.wrap(error, operation: "rebuild search index", path: path)
        }
    }

    /// Indexes the records changed by writes outside this store (a `sqlite3` shell, a bulk load), which
    /// the next write of the store would index anyway. Returns how many were waiting.
    @discardableResult
    public func indexPendingChanges() throws(StoreError) -> Int {
        try write("index pending changes") { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM search_pending") ?? 0 }
    }

    /// Whether the search index matches the records (FTS5's own integrity check, against the content).
    public func searchIndexIsConsistent() throws(StoreError) -> Bool {
        do {
            // A command, not a write, but SQLite only runs it on a writable connection.
            try pool.write { db in
                // Rows noted by a write from outside (a sqlite3 shell) are indexed first: they are not damage.
                try SearchIndex.flush(db)
                try db.execute(sql: SearchIndex.bumpVersion)
                try db.execute(sql: "INSERT INTO innovation_fts(innovation_fts, rank) VALUES ('integrity-check', 1)")
            }
            return true
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT {
            return false
        } catch {
            throw StoreError.wrap(error, operation: "check search index", path: path)
        }
    }
}

/// Whole-catalogue summaries (facets and hub states) for the web page and the API, computed at most once
/// per `maxAge`: each is a scan of every record, a second at a million rows, too slow to repeat for
/// every page view. Responses say `Cache-Control: max-age` of the same order, so nobody expects fresher.
public final class CatalogueSummaries: Sendable {
    public struct Summary: Sendable {
        public var facets: CatalogueFacets
        public var hubs: [HubState]
        /// When it was computed: what "now" means for ages derived from it, so that equal summaries make
        /// equal responses (and ETags).
        public var computedAt: Date
    }

    private let store: CatalogueStore
    private let maxAge: Duration
    private let cached = Mutex<(at: ContinuousClock.Instant, summary: Summary)?>(nil)

    /// `maxAge` is raised to one second: below that every page view would scan the catalogue.
    public init(store: CatalogueStore, maxAge: Duration) {
        self.store = store
        self.maxAge = max(maxAge, .seconds(1))
    }

    /// The summary, recomputed when the cached one is older than `maxAge`.
    public func current() throws(StoreError) -> Summary {
        if let hit = cached.withLock({ $0 }), ContinuousClock.now - hit.at < maxAge { return hit.summary }
        let summary = Summary(facets: try store.facets(), hubs: try store.hubStates(), computedAt: Date())
        cached.withLock { $0 = (.now, summary) }
        return summary
    }
}
