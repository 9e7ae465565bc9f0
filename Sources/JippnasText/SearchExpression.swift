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

    static let textColumns = "{title agency summary benefits}"
    static let stemColumns = "{title_stems text_stems}"

    /// - Parameter corrections: words of `terms` that matched nothing, each with the index terms it is
    ///   widened to (``TypoCorrection``).
    public init(_ terms: SearchTerms, stemmer: IndonesianStemmer, corrections: [String: [String]] = [:]) {
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
            if let replacements = corrections[word], !replacements.isEmpty {
                words.append("(" + replacements.map { Self.word($0, stemmer) }.joined(separator: " OR ") + ")")
            } else if let expansions = Abbreviations.expansions[word] {
                let spelled = expansions.map { SearchText.words($0) }
                    .map { $0.count == 1 ? Self.word($0[0], stemmer) : Self.phrase($0) }
                words.append("(" + ([Self.word(word, stemmer)] + spelled).joined(separator: " OR ") + ")")
            } else {
                words.append(Self.word(word, stemmer))
            }
            index += 1
        }
        let phrases = terms.phrases.map(Self.phrase)
        let required = words + phrases
        self.required = required.isEmpty ? nil : required.joined(separator: " AND ")
        self.excluded = terms.excluded.isEmpty ? nil : terms.excluded.map { Self.word($0, stemmer) }.joined(separator: " OR ")
    }

    /// The whole MATCH expression when something is required: the required part without the excluded one.
    public var match: String? {
        guard let required else { return nil }
        guard let excluded else { return required }
        return "(\(required)) NOT (\(excluded))"
    }

    /// Words that must appear together, in order, as written.
    static func phrase(_ words: [String]) -> String {
        "\(textColumns) : \"\(words.joined(separator: " "))\""
    }

    /// One word's expression: as written (a prefix from three letters) or by any of its stems.
    public static func word(_ word: String, _ stemmer: IndonesianStemmer) -> String {
        // A word of one or two letters is matched whole: as a prefix it would gather hundreds of terms
        // (`di` → dinas, digital, ...), which without a prefix index means merging all their lists.
        let written = word.unicodeScalars.count >= SearchText.minimumPrefixLength ? "\"\(word)\"*" : "\"\(word)\""
        // Stems come from a dictionary, not the user; quotes are doubled all the same, as FTS5 escapes them.
        let stems = stemmer.stems(word).map { "\"\($0.replacingOccurrences(of: "\"", with: "\"\""))\"" }.joined(separator: " OR ")
        return "(\(textColumns) : \(written) OR \(stemColumns) : (\(stems)))"
    }
}
