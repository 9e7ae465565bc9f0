import JippnasCore

/// The FTS5 MATCH expressions of a search over the catalogue's index (columns `title agency summary
/// benefits` as written, `title_stems text_stems` their stems).
///
/// Each word matches as written (a prefix from ``SearchText/minimumPrefixLength`` letters on, so the word
/// being typed finds its completions) or by any of its stems; a phrase matches its words as written, in
/// order. Only words cut by ``SearchText/words(_:)`` reach the expression, each inside double quotes,
/// so nothing a user types is read as FTS5 syntax.
public struct SearchExpression: Sendable, Equatable {
    /// What every result must match; nil when the search only leaves records out.
    public var required: String?
    /// What no result may match; nil when nothing is left out.
    public var excluded: String?

    public static let textColumns = "{title agency summary benefits}"
    static let stemColumns = "{title_stems text_stems}"

    /// - Parameters:
    ///   - corrections: words of `terms` that matched nothing, each with the index terms it is widened to
    ///     (``TypoCorrection``).
    ///   - lastWord: how the last word, perhaps still being typed, matches (``LastWord``).
    public init(_ terms: SearchTerms, stemmer: IndonesianStemmer, corrections: [String: [String]] = [:],
                lastWord: LastWord = .prefix) {
        var words: [String] = []
        var index = 0
        while index < terms.words.count {
            if let (length, expansion) = Abbreviations.expansion(at: index, of: terms.words) {
                // A run of words that spells out an abbreviation also matches the abbreviation.
                words.append("(\(Self.phrase(expansion.phrase)) OR \(Self.word(expansion.abbreviation, stemmer)))")
                index += length
                continue
            }
            let word = terms.words[index]
            // Only the last word may still be being typed: it alone matches its completions.
            let isLast = index == terms.words.count - 1
            if isLast, case .completions(let completions) = lastWord, corrections[word] == nil, Abbreviations.expansions[word] == nil {
                words.append(Self.word(word, stemmer, completions: completions))
            } else if let replacements = corrections[word], !replacements.isEmpty {
                words.append("(" + replacements.map { Self.word($0, stemmer, prefix: false) }.joined(separator: " OR ") + ")")
            } else if let expansions = Abbreviations.expansions[word] {
                let spelled = expansions.map { SearchText.words($0) }
                    .map { $0.count == 1 ? Self.word($0[0], stemmer, prefix: false) : Self.phrase($0) }
                words.append("(" + ([Self.word(word, stemmer, prefix: isLast && lastWord == .prefix)] + spelled).joined(separator: " OR ") + ")")
            } else {
                words.append(Self.word(word, stemmer, prefix: isLast && lastWord == .prefix))
            }
            index += 1
        }
        let phrases = terms.phrases.map(Self.phrase)
        let required = words + phrases
        self.required = required.isEmpty ? nil : required.joined(separator: " AND ")
        self.excluded = terms.excluded.isEmpty ? nil : terms.excluded.map { Self.word($0, stemmer, prefix: false) }.joined(separator: " OR ")
    }

    /// The whole MATCH expression when something is required: the required part without the excluded one.
    public var match: String? {
        guard let required else { return nil }
        guard let excluded else { return required }
        return "(\(required)) NOT (\(excluded))"
    }

    /// How the last word matches (``LastWordMatch``). FTS5 builds the whole list of a prefix's terms before
    /// its first result (8 ms for `pelayanan*` at 100,000 records, ten times that at a million), so a
    /// prefix is avoided where the word is known.
    public typealias LastWord = LastWordMatch

    /// Words that must appear together, in order, as written.
    static func phrase(_ words: [String]) -> String {
        "\(textColumns) : \"\(words.joined(separator: " "))\""
    }

    /// A word being typed: as written, as one of `completions`, or by any of its stems. Words, not a prefix
    /// query: FTS5 merges their lists as it goes and can stop at a LIMIT.
    static func word(_ word: String, _ stemmer: IndonesianStemmer, completions: [String]) -> String {
        let written = ([word] + completions).map { "\"\($0)\"" }.joined(separator: " OR ")
        let stems = stemmer.stems(word).map { "\"\($0.replacingOccurrences(of: "\"", with: "\"\""))\"" }.joined(separator: " OR ")
        return "(\(textColumns) : (\(written)) OR \(stemColumns) : (\(stems)))"
    }

    /// One word's expression: as written (with `prefix`, its completions too, from three letters) or by
    /// any of its stems.
    public static func word(_ word: String, _ stemmer: IndonesianStemmer, prefix: Bool = true) -> String {
        // A word of one or two letters is matched whole: as a prefix it would gather hundreds of terms
        // (`di` → dinas, digital, ...), which without a prefix index means merging all their lists. A word
        // the user has finished typing is matched whole too: its stems already find its other forms.
        let written = prefix && word.unicodeScalars.count >= SearchText.minimumPrefixLength ? "\"\(word)\"*" : "\"\(word)\""
        // Stems come from a dictionary, not the user; quotes are doubled all the same, as FTS5 escapes them.
        let stems = stemmer.stems(word).map { "\"\($0.replacingOccurrences(of: "\"", with: "\"\""))\"" }.joined(separator: " OR ")
        return "(\(textColumns) : \(written) OR \(stemColumns) : (\(stems)))"
    }
}

/// A query's filters as terms of the index's `filters` column (``SearchIndex/filterTerms``), so that FTS5
/// narrows the matches itself instead of the records being read to test each: the matches a bounded
/// ranking then picks from are all results.
public struct FilterTerms: Sendable, Equatable {
    /// What every result's filters column must match; nil when no filter applies.
    public var required: String?
    /// What no result's filters column may match (a withdrawn flag).
    public var excluded: String?
    /// Whether every filter of the query is among the terms. When one is not (replication links, an
    /// open-ended year range), results must also be tested against the records themselves.
    public var isComplete: Bool

    /// Year ranges up to this long become year terms; longer ones, or open-ended, are tested per record.
    public static let maximumYearSpan = 30

    public init(_ q: CatalogueQuery) {
        var terms: [String] = []
        let squeezed: [(String, String?)] = [
            ("p", q.province), ("r", q.region), ("c", q.category?.rawValue), ("k", q.kind?.rawValue), ("s", q.stage?.rawValue),
            ("t", q.status?.rawValue),
        ]
        for case let (prefix, value?) in squeezed {
            terms.append(Self.term(prefix + value))
        }
        var complete = q.replicates == nil && q.replicatedBy == nil
        switch (q.launchedFrom, q.launchedTo) {
        case (nil, nil): break
        case let (from?, to?) where to >= from && to - from < Self.maximumYearSpan:
            terms.append("(" + (from...to).map { Self.term("y\($0)") }.joined(separator: " OR ") + ")")
        default: complete = false
        }
        switch q.withdrawn {
        case .exclude: excluded = Self.column(Self.term("w1"))
        case .only: terms.append(Self.term("w1"))
        case .include: break
        }
        required = terms.isEmpty ? nil : Self.column(terms.joined(separator: " AND "))
        isComplete = complete
    }

    /// What every filter term of the index begins with (``SearchIndex``'s `filterTerms`): a private-use
    /// character, which no text holds and unicode61 keeps inside a token.
    public static let mark: Unicode.Scalar = "\u{E000}"

    /// A filter value as the index holds it: the mark, then the value without `.` and `_`, which the SQL
    /// that writes the terms drops too.
    static func term(_ text: String) -> String {
        "\"" + String(mark) + text.unicodeScalars.filter { $0 != "." && $0 != "_" && $0 != "\"" }.map(String.init).joined() + "\""
    }

    /// Filter terms need no column filter: only the `filters` column holds them.
    static func column(_ expression: String) -> String { "(\(expression))" }

    /// `match` narrowed by the filters: the required terms joined, the excluded left out.
    public func narrowing(_ match: String) -> String {
        var narrowed = required.map { "(\(match)) AND \($0)" } ?? match
        if let excluded { narrowed = "(\(narrowed)) NOT \(excluded)" }
        return narrowed
    }
}
