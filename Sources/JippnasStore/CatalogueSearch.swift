import Foundation
import GRDB
import JippnasCore
import JippnasText

/// One search result: the record and, for a text search, its bm25 rank (lower is better) and where its
/// summary (or benefits, or agency) holds the words searched for.
public struct SearchHit: Sendable, Equatable {
    public var entry: CatalogueEntry
    public var rank: Double?
    /// About two dozen words of the summary around the first match, matches marked; the summary's opening
    /// when only the title matched; nil for a listing without words.
    public var snippet: [Highlighter.Segment]?
}

/// One page of results and where the next one starts (nil on the last page).
public struct SearchPage: Sendable, Equatable {
    public var hits: [SearchHit]
    public var next: SearchCursor?
    /// Words that matched nothing and were searched as the index terms they most likely meant.
    public var corrections: [SearchCorrection] = []
    /// A word left out because no record holds it with the others: the page holds what the rest found.
    public var leftOut: [String] = []
    /// How many results there are and how they spread, when asked for (``CatalogueStore/search(_:counts:)``).
    public var counts: SearchCounts?
    /// How the search was rewritten (corrections, a word left out), for counting the same search.
    var rewrite = SearchRewrite()
}

/// A mistyped word and what was searched instead (``TypoCorrection``).
public struct SearchCorrection: Sendable, Equatable {
    /// The word as typed (lowercase, accents folded).
    public var word: String
    /// The index terms searched instead, the most frequent first.
    public var replacements: [String]
}

extension CatalogueStore {
    /// One page of innovations matching `query`, best first for a text search, by global id otherwise.
    /// The query is expected to be ``CatalogueQuery/validated()``.
    /// A word that matches nothing is searched as the index terms it most likely meant (``TypoCorrection``),
    /// which the page lists in ``SearchPage/corrections``. When no record holds every word, the most common
    /// word is left out (``SearchPage/leftOut``). A later page continues the search its cursor came from.
    ///
    /// With `counts`, the page also says how many results there are and how they spread over province,
    /// category, stage, kind and year (``SearchCounts``).
    public func search(_ query: CatalogueQuery, counts: Bool = false) throws(StoreError) -> SearchPage {
        var page = try rewrittenSearch(query)
        if counts { page.counts = try self.counts(query, rewrite: page.rewrite) }
        return page
    }

    private func rewrittenSearch(_ query: CatalogueQuery) throws(StoreError) -> SearchPage {
        let terms = SearchTerms.parse(query.text)
        if let after = query.after { return try search(query, terms, after.rewrite ?? SearchRewrite()) }
        let page = try search(query, terms, SearchRewrite())
        // A word without any match empties an AND of words, so only an empty page can need corrections.
        guard page.hits.isEmpty, terms.hasRequiredTerms else { return page }
        var rewrite = SearchRewrite(corrections: try typoCorrections(terms.words))
        if !rewrite.isEmpty {
            let corrected = try search(query, terms, rewrite)
            if !corrected.hits.isEmpty { return corrected }
        }
        guard let word = try wordToLeaveOut(query, terms, rewrite) else { return page }
        rewrite.corrections[word] = nil
        rewrite.leftOut = [word]
        return try search(query, terms, rewrite)
    }

    /// The search rewritten as `rewrite` says; its cursor carries the rewrite on.
    private func search(_ query: CatalogueQuery, _ terms: SearchTerms, _ rewrite: SearchRewrite) throws(StoreError) -> SearchPage {
        var kept = terms
        kept.words.removeAll { rewrite.leftOut.contains($0) }
        var rewrite = rewrite
        if rewrite.lastWord == nil, kept.hasRequiredTerms { rewrite.lastWord = try lastWordMatch(kept, rewrite) }
        var page = try search(query, try expression(kept, rewrite))
        page.corrections = rewrite.corrections.sorted { $0.key < $1.key }.map { SearchCorrection(word: $0.key, replacements: $0.value) }
        page.leftOut = rewrite.leftOut
        page.rewrite = rewrite
        if !rewrite.isEmpty { page.next?.rewrite = rewrite }
        if kept.hasRequiredTerms {
            let highlighter = Highlighter(kept, corrections: rewrite.corrections)
            for index in page.hits.indices { page.hits[index].snippet = Self.snippet(page.hits[index].entry.innovation, highlighter) }
        }
        return page
    }

    /// The MATCH expressions of `terms` as `rewrite` says, its last word as decided (``lastWordMatch(_:_:)``).
    func expression(_ terms: SearchTerms, _ rewrite: SearchRewrite) throws(StoreError) -> SearchExpression {
        var lastWord = rewrite.lastWord
        if lastWord == nil { lastWord = try lastWordMatch(terms, rewrite) }
        return SearchExpression(terms, stemmer: .shared, corrections: rewrite.corrections, lastWord: lastWord ?? .prefix)
    }

    /// How the last word matches: as the index's most frequent words it begins (itself included) when the
    /// vocabulary is in hand; else whole when the index holds it as typed, or as FTS5's prefix query.
    func lastWordMatch(_ terms: SearchTerms, _ rewrite: SearchRewrite) throws(StoreError) -> LastWordMatch {
        guard let last = terms.words.last, rewrite.corrections[last] == nil,
              last.unicodeScalars.count >= SearchText.minimumPrefixLength else { return .prefix }
        if let vocabulary = try vocabularyTerms(wait: false) {
            let completions = SearchVocabulary.completions(of: last, in: vocabulary, limit: LastWordMatch.maximumCompletions)
            if !completions.isEmpty { return .completions(completions) }
        }
        // None known: a word newer than the vocabulary in hand may still begin with it.
        return try anyRecordMatches("\(SearchExpression.textColumns) : \"\(last)\"") ? .complete : .prefix
    }

    /// Where the summary, the benefits or the agency (in that order) hold a word searched for; else the
    /// summary's opening.
    static func snippet(_ innovation: Innovation, _ highlighter: Highlighter) -> [Highlighter.Segment] {
        for text in [innovation.summary, innovation.benefits, innovation.agency].compactMap({ $0 }) {
            if let snippet = highlighter.snippet(text) { return snippet }
        }
        return Highlighter.opening(innovation.summary ?? "")
    }

    /// The word whose leaving out finds something, trying the most common first (it says the least about
    /// what is wanted); nil when every word is needed or none can go. Deterministic for a given catalogue.
    private func wordToLeaveOut(_ query: CatalogueQuery, _ terms: SearchTerms, _ rewrite: SearchRewrite)
        throws(StoreError) -> String?
    {
        guard terms.words.count + terms.phrases.count >= 2, !terms.words.isEmpty else { return nil }
        // Records that hold every word but not under the filters make the empty page the true answer.
        let all = try expression(terms, rewrite)
        if let required = all.required, try anyRecordMatches(required) { return nil }
        for word in try wordsByFrequency(terms.words) {
            var fewer = rewrite
            fewer.corrections[word] = nil
            fewer.leftOut = [word]
            if try !search(query, terms, fewer).hits.isEmpty { return word }
        }
        return nil
    }

    private func search(_ query: CatalogueQuery, _ expression: SearchExpression) throws(StoreError) -> SearchPage {
        var source = Self.matching(query, expression, bounded: query.sort == .relevance)
        let key = Self.sortKey(query.sort, rank: source.rank)
        if let after = query.after {
            if let key, let rank = after.rank {
                source.conditions.append("(\(key) > ? OR (\(key) = ? AND \(source.after)))")
                source.arguments += [rank, rank, after.globalID]
            } else {
                source.conditions.append(source.after)
                source.arguments += [after.globalID]
            }
        }
        // The order is found on narrow rows (rowid, rank, key) and only the page's records are read whole:
        // sorting two thousand whole records cost more than ranking them.
        let sql = """
            SELECT \(source.doc) AS doc, \(source.rank ?? "NULL") AS search_rank, \(key ?? "NULL") AS sort_key
            FROM \(source.from) \(source.whereClause)
            ORDER BY \(key.map { $0 + ", " } ?? "")\(source.tiebreak) LIMIT ? OFFSET ?
            """
        // One row more than the page shows whether there is a next page without a count.
        let arguments = source.arguments + [query.limit + 1, ((query.page ?? 1) - 1) * query.limit]
        let (order, entries) = try read("search") { db in
            let order = try Row.fetchAll(db, sql: sql, arguments: arguments)
            let docs = order.prefix(query.limit).map { $0["doc"] as Int64 }
            let rows = docs.isEmpty ? [] : try Row.fetchAll(db, sql: """
                SELECT rowid AS doc, \(Self.entryColumns) FROM innovation WHERE rowid IN (\(docs.map { _ in "?" }.joined(separator: ",")))
                """, arguments: StatementArguments(docs))
            return (order, Dictionary(rows.map { ($0["doc"] as Int64, Self.entry($0)) }, uniquingKeysWith: { first, _ in first }))
        }
        let shown = order.prefix(query.limit)
        let hits = shown.compactMap { row in entries[row["doc"]].map { SearchHit(entry: $0, rank: row["search_rank"]) } }
        let next = order.count > query.limit && hits.count == shown.count
            ? hits.last.map { SearchCursor(rank: shown.last?["sort_key"], globalID: $0.entry.globalID, sort: query.sort) } : nil
        return SearchPage(hits: hits, next: next)
    }

    /// The most matches a relevance ranking considers: the newest this many, in index order (rowid, the
    /// order records arrived). Ranking reads every position of every match it ranks, and FTS5 cannot stop
    /// early on `ORDER BY rank`: a word in a third of a million records cost half a second. Below this
    /// many matches (every specific search) the ranking is exact; above, it is the best of the newest.
    public static let rankedMatches = 1000

    /// Where the rows of a search come from and what they must satisfy.
    struct Source {
        var from: String
        /// The bm25 rank's column, nil without words.
        var rank: String?
        var conditions: [String]
        var arguments: StatementArguments
        /// The record's rowid, and what breaks ties of the sort key: the global id, or for a bounded
        /// ranking, which never reads the records to order them, the rowid.
        var doc = "i.rowid"
        var tiebreak = "i.global_id"
        /// The condition "after the cursor's global id" in the tie-break's terms, with one argument.
        var after = "i.global_id > ?"
        var whereClause: String { conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") }
    }

    /// The rows `query` matches. With words, FTS5 applies the filters itself (``FilterTerms``); `bounded`
    /// ranks only the newest ``rankedMatches`` of them, which is taken only when the filters are all in the
    /// index, so that every candidate is a result.
    static func matching(_ query: CatalogueQuery, _ expression: SearchExpression, bounded: Bool) -> Source {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        Self.filter(query, into: &conditions, &arguments)
        if let match = expression.match {
            let filters = FilterTerms(query)
            let narrowed = filters.narrowing(match)
            if bounded, filters.isComplete {
                // Every filter is in the MATCH: the candidates are the results, ordered without the records.
                return Source(from: """
                    (SELECT rowid, \(SearchIndex.rankCall) AS rank FROM innovation_fts WHERE innovation_fts MATCH ?
                     ORDER BY rowid DESC LIMIT \(rankedMatches)) m
                    """, rank: "m.rank", conditions: [], arguments: [narrowed], doc: "m.rowid", tiebreak: "m.rowid",
                    after: "m.rowid > coalesce((SELECT rowid FROM innovation WHERE global_id = ?), -1)")
            }
            return Source(from: """
                (SELECT rowid, \(SearchIndex.rankCall) AS rank FROM innovation_fts WHERE innovation_fts MATCH ?) m
                JOIN innovation i ON i.rowid = m.rowid
                """, rank: "m.rank", conditions: conditions, arguments: [narrowed] + arguments)
        }
        if let excluded = expression.excluded {
            conditions.append("i.rowid NOT IN (SELECT rowid FROM innovation_fts WHERE innovation_fts MATCH ?)")
            arguments += [excluded]
        }
        return Source(from: "innovation i", rank: nil, conditions: conditions, arguments: arguments)
    }

    /// What results are ordered by before the global id, lower first; nil for a listing by global id.
    static func sortKey(_ sort: SearchSort, rank: String?) -> String? {
        switch sort {
        case .relevance: rank
        // 2021-03-12 → -20210312: later launches sort first, those without a date last.
        case .newest: "-CAST(replace(coalesce(i.launched_on, '0'), '-', '') AS REAL)"
        // Through the index on replicates: a count per result, cheap for the page of a search.
        case .replicated: "-(SELECT COUNT(*) FROM innovation r WHERE r.replicates = i.global_id AND r.withdrawn = 0)"
        }
    }

    static func filter(_ q: CatalogueQuery, into conditions: inout [String], _ arguments: inout StatementArguments) {
        // A unary + keeps SQLite from using an index on a coarse filter (a province holds a twentieth of
        // the catalogue, a category a tenth): walking the primary key in global-id order and stopping
        // after one page beats collecting every row of the category and sorting it, which at 100,000
        // rows took 27 ms. Region and replication filters are selective and keep their indexes.
        let equalities: [(String, String?)] = [
            ("+i.hub", q.province), ("i.region", q.region), ("+i.category", q.category?.rawValue),
            ("+i.kind", q.kind?.rawValue), ("+i.stage", q.stage?.rawValue), ("+i.status", q.status?.rawValue),
            ("i.replicates", q.replicates),
        ]
        for case let (column, value?) in equalities {
            conditions.append("\(column) = ?")
            arguments += [value]
        }
        switch q.withdrawn {
        case .exclude: conditions.append("i.withdrawn = 0")
        case .only: conditions.append("i.withdrawn = 1")
        case .include: break
        }
        // launched_on is YYYY-MM-DD, so text order is date order.
        if let from = q.launchedFrom {
            conditions.append("i.launched_on >= ?")
            arguments += [String(format: "%04d", from)]
        }
        if let to = q.launchedTo {
            // Every date of year `to` sorts below "to-99"; "to + 1" would be "10000" for 9999.
            conditions.append("i.launched_on < ?")
            arguments += [String(format: "%04d-99", to)]
        }
        if let replicatedBy = q.replicatedBy {
            conditions.append("i.global_id = (SELECT replicates FROM innovation WHERE global_id = ?)")
            arguments += [replicatedBy]
        }
    }
}
