/// Which index terms a mistyped word may have meant, the way Meilisearch and Typesense forgive typos: a
/// word of five letters or more may be one edit away (a letter added, dropped, changed, or two neighbours
/// swapped), one of nine or more two edits. Only a word that matches nothing is widened.
public enum TypoCorrection {
    /// A word shorter than this is never corrected: one edit makes too many other words of it.
    public static let minimumLength = 5
    /// From this length on, two edits are allowed.
    public static let twoEditsLength = 9
    /// At most this many terms replace a word, the most frequent first.
    public static let maximumReplacements = 3

    /// How many edits a word of this length may carry: 0, 1 or 2.
    public static func allowedEdits(forLength length: Int) -> Int {
        length >= twoEditsLength ? 2 : length >= minimumLength ? 1 : 0
    }

    /// The optimal-string-alignment distance between `a` and `b` (Levenshtein with a swap of two
    /// neighbouring letters as one edit), or nil when it exceeds `limit`: rows that already exceed it stop
    /// the work early, so the usual answer, "far apart", costs little.
    public static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar], limit: Int) -> Int? {
        var rows = Rows()
        return distance(a, b, limit: limit, rows: &rows)
    }

    /// The three rows the distance is computed in, kept from one comparison to the next: a correction
    /// compares a word with thousands of terms, and allocating them each time cost more than comparing.
    struct Rows {
        var previous2: [Int] = []
        var previous: [Int] = []
        var current: [Int] = []
    }

    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar], limit: Int, rows: inout Rows) -> Int? {
        guard abs(a.count - b.count) <= limit else { return nil }
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        if rows.current.count < b.count + 1 {
            rows = Rows(previous2: .init(repeating: 0, count: b.count + 1), previous: .init(repeating: 0, count: b.count + 1),
                        current: .init(repeating: 0, count: b.count + 1))
        }
        for j in 0...b.count { rows.previous[j] = j }
        for i in 1...a.count {
            rows.current[0] = i
            var rowMinimum = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var best = min(rows.previous[j] + 1, rows.current[j - 1] + 1, rows.previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { best = min(best, rows.previous2[j - 2] + 1) }
                rows.current[j] = best
                rowMinimum = min(rowMinimum, best)
            }
            if rowMinimum > limit { return nil }
            (rows.previous2, rows.previous, rows.current) = (rows.previous, rows.current, rows.previous2)
        }
        return rows.previous[b.count] <= limit ? rows.previous[b.count] : nil
    }

    /// A term of the index and in how many records it appears.
    public struct Term: Sendable, Equatable {
        public let text: String
        public let documents: Int
        /// The text's scalars, split once: a correction compares them with thousands of words.
        let letters: [Unicode.Scalar]

        public init(_ text: String, documents: Int) {
            self.text = text
            self.documents = documents
            letters = Array(text.unicodeScalars)
        }
    }

    /// The terms `word` may have meant: those at the smallest distance within its allowance, the most
    /// frequent first, at most ``maximumReplacements``. Empty when the word is too short or nothing is near.
    public static func replacements(for word: String, among terms: some Sequence<Term>) -> [String] {
        let letters = Array(word.unicodeScalars)
        let allowed = allowedEdits(forLength: letters.count)
        guard allowed > 0 else { return [] }
        var best = allowed + 1
        var found: [Term] = []
        var rows = Rows()
        for term in terms {
            guard let d = distance(letters, term.letters, limit: min(allowed, best), rows: &rows), d > 0 else { continue }
            if d < best {
                best = d
                found = [term]
            } else if d == best {
                found.append(term)
            }
        }
        return found.sorted { ($0.documents, $1.text) > ($1.documents, $0.text) }.prefix(maximumReplacements).map(\.text)
    }
}
