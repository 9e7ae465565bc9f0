import GRDB
import JippnasCore
import JippnasText

/// How many innovations a search matches and how they spread over the filters a page offers.
///
/// Counted over at most ``limit`` matches: a common word matches a third of a million records at a million,
/// and counting them all would cost more than the search. Beyond that the total is "more than ``limit``"
/// (``exact`` false) and the spread is that of the first ``limit`` matches in index order.
public struct SearchCounts: Sendable, Equatable {
    /// The most matches counted.
    public static let limit = 10_000

    /// The number of matches; a lower bound when not ``exact``.
    public var total: Int
    public var exact: Bool
    /// Matches by the publishing hub's province code.
    public var byProvince: [String: Int] = [:]
    public var byCategory: [String: Int] = [:]
    public var byStage: [String: Int] = [:]
    public var byKind: [String: Int] = [:]
    /// By launch year; matches without a launch date are not counted here.
    public var byYear: [String: Int] = [:]

    public init(total: Int, exact: Bool) {
        self.total = total
        self.exact = exact
    }

    /// The counts of the whole live catalogue, from its summary (``CatalogueFacets``): what a page without
    /// words or filters shows, exact however large the catalogue.
    public init(_ facets: CatalogueFacets) {
        self.init(total: facets.live, exact: true)
        byProvince = facets.byProvince
        byCategory = facets.byCategory
        byStage = facets.byStage
        byKind = facets.byKind
        byYear = facets.byYear
    }
}

extension CatalogueStore {
    /// The counts of `query` searched as `rewrite` says (the rewrite its page was found with), over at most
    /// `limit` matches.
    func counts(_ query: CatalogueQuery, rewrite: SearchRewrite, limit: Int = SearchCounts.limit) throws(StoreError) -> SearchCounts {
        var kept = SearchTerms.parse(query.text)
        kept.words.removeAll { rewrite.leftOut.contains($0) }
        let expression = try self.expression(kept, rewrite)
        let source = Self.matching(query, expression, bounded: false)
        let sql = """
            SELECT i.hub, i.category, i.stage, i.kind, substr(i.launched_on, 1, 4) FROM \(source.from) \(source.whereClause) LIMIT ?
            """
        let arguments = source.arguments
        return try read("count search results") { db in
            var counts = SearchCounts(total: 0, exact: true)
            let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments + [limit + 1])
            while let row = try rows.next() {
                guard counts.total < limit else {
                    counts.exact = false
                    break
                }
                counts.total += 1
                counts.byProvince[row[0], default: 0] += 1
                counts.byCategory[row[1], default: 0] += 1
                counts.byStage[row[2], default: 0] += 1
                counts.byKind[row[3], default: 0] += 1
                if let year: String = row[4] { counts.byYear[year, default: 0] += 1 }
            }
            return counts
        }
    }
}
