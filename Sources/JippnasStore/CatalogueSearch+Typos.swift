import Foundation
import GRDB
import JippnasCore
import JippnasText
import Synchronization

/// The index's terms in memory, for typo correction and for completing the word being typed: reading
/// them from `innovation_fts_vocab` walks the whole index (0.17 s at 100,000 records, seconds at a
/// million), far too slow for a search. They are read once, then again in the background when older than
/// ``maxAge``, while searches go on with the copy they have: no search waits for a reread. A term new since
/// the last read is not offered as a correction or a completion until the next; searching it spelled out
/// finds it at once.
final class SearchVocabulary: Sendable {
    static let maxAge: Duration = .seconds(60)

    /// The terms, grouped for the two lookups.
    struct Terms: Sendable {
        /// By length and first letter: a correction keeps the first letter as typed, as most spellers do
        /// (Lucene's prefix length 1), which leaves a twentieth of the terms to compare.
        var byLengthAndInitial: [Key: [TypoCorrection.Term]] = [:]
        /// Every term in text order, for the completions of a prefix.
        var sorted: [TypoCorrection.Term] = []

        struct Key: Hashable {
            var length: Int
            var initial: Unicode.Scalar
        }

        init(_ terms: [TypoCorrection.Term]) {
            for term in terms {
                guard let initial = term.text.unicodeScalars.first else { continue }
                byLengthAndInitial[Key(length: term.text.unicodeScalars.count, initial: initial), default: []].append(term)
            }
            sorted = terms.sorted { $0.text < $1.text }
        }
    }

    private struct State {
        var at: ContinuousClock.Instant
        var terms: Terms
    }

    private let state = Mutex<State?>(nil)
    private let loading = Mutex(false)
    /// Held by the one search that reads the terms for the first time; the others wait for its copy.
    private let firstRead = Mutex(())

    /// The terms; read now when never read (`wait`), else the copy in hand, reread in the background when
    /// old. Nil only without `wait` before the first read finished.
    func terms(wait: Bool, load: @escaping @Sendable () throws -> [TypoCorrection.Term]) rethrows -> Terms? {
        if let current = state.withLock({ $0 }) {
            if ContinuousClock.now - current.at >= Self.maxAge { refresh(load) }
            return current.terms
        }
        guard wait else {
            refresh(load)
            return nil
        }
        return try firstRead.withLock { _ throws -> Terms in
            if let current = state.withLock({ $0 }) { return current.terms }
            let terms = Terms(try load())
            state.withLock { $0 = State(at: .now, terms: terms) }
            return terms
        }
    }

    /// Rereads the terms on a thread of its own, one read at a time.
    private func refresh(_ load: @escaping @Sendable () throws -> [TypoCorrection.Term]) {
        guard loading.withLock({ busy in
            defer { busy = true }
            return !busy
        }) else { return }
        Thread.detachNewThread { [self] in
            if let fresh = try? load() {
                let terms = Terms(fresh)
                state.withLock { $0 = State(at: .now, terms: terms) }
            }
            loading.withLock { $0 = false }
        }
    }

    /// The index of the first term not below `text` in ``Terms/sorted``.
    private static func lowerBound(_ text: String, in terms: Terms) -> Int {
        var low = 0, high = terms.sorted.count
        while low < high {
            let middle = (low + high) / 2
            if terms.sorted[middle].text < text { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// How many records held `word` when the terms were read (0 for a word the vocabulary does not hold).
    static func documents(of word: String, in terms: Terms) -> Int {
        let index = lowerBound(word, in: terms)
        return index < terms.sorted.count && terms.sorted[index].text == word ? terms.sorted[index].documents : 0
    }

    static let longestCompletion = 24

    /// The most frequent terms that begin with `prefix` (itself excluded), at most `limit`.
    static func completions(of prefix: String, in terms: Terms, limit: Int) -> [String] {
        var found: [TypoCorrection.Term] = []
        var index = lowerBound(prefix, in: terms)
        while index < terms.sorted.count, terms.sorted[index].text.hasPrefix(prefix) {
            // Long words are left out: a cursor carries the completions.
            let term = terms.sorted[index]
            if term.text != prefix, term.text.unicodeScalars.count <= Self.longestCompletion { found.append(term) }
            index += 1
        }
        return found.sorted { ($0.documents, $1.text) > ($1.documents, $0.text) }.prefix(limit).map(\.text)
    }
}

extension CatalogueStore {
    /// For each word of `words` that matches no record, the terms it most likely meant; words that match,
    /// or that nothing is near, are left out.
    func typoCorrections(_ words: [String]) throws(StoreError) -> [String: [String]] {
        let unmatched = try read("correct mistyped words") { db in
            try words.filter { word in
                guard TypoCorrection.allowedEdits(forLength: word.unicodeScalars.count) > 0 else { return false }
                return try !Self.matchesAny(SearchExpression.word(word, .shared), db)
            }
        }
        guard !unmatched.isEmpty, let terms = try vocabularyTerms(wait: true) else { return [:] }
        var corrections: [String: [String]] = [:]
        for word in unmatched {
            let letters = Array(word.unicodeScalars)
            let edits = TypoCorrection.allowedEdits(forLength: letters.count)
            let near = (letters.count - edits...letters.count + edits).flatMap {
                terms.byLengthAndInitial[.init(length: $0, initial: letters[0])] ?? []
            }
            let replacements = TypoCorrection.replacements(for: word, among: near)
            if !replacements.isEmpty { corrections[word] = replacements }
        }
        return corrections
    }

    /// The index's terms (``SearchVocabulary``), read in a transaction of their own.
    func vocabularyTerms(wait: Bool) throws(StoreError) -> SearchVocabulary.Terms? {
        do {
            let pool = self.pool
            return try vocabulary.terms(wait: wait) { try pool.read { db in try Self.vocabulary(db) } }
        } catch {
            throw StoreError.wrap(error, operation: "read the index's terms", path: path)
        }
    }

    /// Whether any record, whatever the filters, matches the MATCH `expression`.
    func anyRecordMatches(_ expression: String) throws(StoreError) -> Bool {
        try read("match any") { db in try Self.matchesAny(expression, db) }
    }

    /// `words` ordered by how many records hold each as written, the most first (ties in the typed order).
    /// fts5vocab counts a word by reading its whole list, 30 ms for a common word at a million records, so
    /// a word the vocabulary in memory knows as common keeps that count (a minute old at most, and a
    /// minute changes a large count little); every other word is counted now.
    func wordsByFrequency(_ words: [String]) throws(StoreError) -> [String] {
        let known = try vocabularyTerms(wait: false)
        let counts = try read("count words") { db in
            try words.map { word in
                if let known, case let count = SearchVocabulary.documents(of: word, in: known), count >= Self.commonWordDocuments {
                    return count
                }
                return try Int.fetchOne(db, sql: "SELECT doc FROM innovation_fts_vocab WHERE term = ?", arguments: [word]) ?? 0
            }
        }
        return zip(words, counts).enumerated().sorted { ($0.element.1, $1.offset) > ($1.element.1, $0.offset) }.map(\.element.0)
    }

    /// A word in at least this many records is counted from the vocabulary in memory.
    static let commonWordDocuments = 10_000

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
            if !text.contains(where: \.isNumber), text.unicodeScalars.first != FilterTerms.mark { terms.append(TypoCorrection.Term(text, documents: row[1])) }
        }
        return terms
    }
}
