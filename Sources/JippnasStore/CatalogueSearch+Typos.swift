import Foundation
import GRDB
import JippnasCore
import JippnasText
import Synchronization

/// The index's terms in memory, by length, for typo correction: reading them from `innovation_fts_vocab`
/// walks the whole term dictionary, too slow for every mistyped query, so they are read at most once per
/// ``maxAge``. A term new since then is not offered as a correction until the next read; searching it
/// spelled right finds it at once.
final class SearchVocabulary: Sendable {
    static let maxAge: Duration = .seconds(60)
    private let cached = Mutex<(at: ContinuousClock.Instant, byLength: [Int: [TypoCorrection.Term]])?>(nil)

    /// Terms whose length is within `edits` of `length`, read with `load` when the cache is old.
    func terms(length: Int, edits: Int, load: () throws -> [TypoCorrection.Term]) rethrows -> [TypoCorrection.Term] {
        let byLength: [Int: [TypoCorrection.Term]]
        if let hit = cached.withLock({ $0 }), ContinuousClock.now - hit.at < Self.maxAge {
            byLength = hit.byLength
        } else {
            byLength = Dictionary(grouping: try load(), by: { $0.text.unicodeScalars.count })
            cached.withLock { $0 = (.now, byLength) }
        }
        return (length - edits...length + edits).flatMap { byLength[$0] ?? [] }
    }
}

extension CatalogueStore {
    /// For each word of `words` that matches no record, the terms it most likely meant; words that match,
    /// or that nothing is near, are left out.
    func typoCorrections(_ words: [String]) throws(StoreError) -> [String: [String]] {
        try read("correct mistyped words") { db in
            var corrections: [String: [String]] = [:]
            for word in words {
                let edits = TypoCorrection.allowedEdits(forLength: word.unicodeScalars.count)
                guard edits > 0, try !Self.matchesAny(SearchExpression.word(word, .shared), db) else { continue }
                let near = try vocabulary.terms(length: word.unicodeScalars.count, edits: edits) { try Self.vocabulary(db) }
                let replacements = TypoCorrection.replacements(for: word, among: near)
                if !replacements.isEmpty { corrections[word] = replacements }
            }
            return corrections
        }
    }

    /// Whether any record, whatever the filters, matches the MATCH `expression`.
    func anyRecordMatches(_ expression: String) throws(StoreError) -> Bool {
        try read("match any") { db in try Self.matchesAny(expression, db) }
    }

    /// `words` ordered by how many records hold each as written, the most first (ties in the typed order).
    func wordsByFrequency(_ words: [String]) throws(StoreError) -> [String] {
        try read("count words") { db in
            let counts = try words.map { word in
                try Int.fetchOne(db, sql: "SELECT doc FROM innovation_fts_vocab WHERE term = ?", arguments: [word]) ?? 0
            }
            return zip(words, counts).enumerated().sorted { ($0.element.1, $1.offset) > ($1.element.1, $0.offset) }.map(\.element.0)
        }
    }

    private static func matchesAny(_ expression: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM innovation_fts WHERE innovation_fts MATCH ?)",
                          arguments: [expression]) ?? false
    }

    /// Every term of the index made of letters (numbers are not corrected), with its record count; the
    /// filters' terms are not words.
    private static func vocabulary(_ db: Database) throws -> [TypoCorrection.Term] {
        var terms: [TypoCorrection.Term] = []
        let cursor = try Row.fetchCursor(db, sql: "SELECT term, doc FROM innovation_fts_vocab WHERE length(term) >= ?",
                                         arguments: [TypoCorrection.minimumLength - 2])
        while let row = try cursor.next() {
            let text: String = row[0]
            if !text.contains(where: \.isNumber), !FilterTerms.letterTerms.contains(text) { terms.append(TypoCorrection.Term(text, documents: row[1])) }
        }
        return terms
    }
}
