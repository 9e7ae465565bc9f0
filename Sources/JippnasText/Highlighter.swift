import JippnasCore

/// Marks where a search's words occur in a record's text, for the snippets of a result page: a word
/// matches as the index matched it, as written, as the beginning of a longer word, or by a shared stem,
/// so *izin* marks *Perizinan* and a corrected typo marks what it was corrected to.
///
/// The text is cut where ``SearchText/words(_:)`` cuts and returned in pieces, unchanged, each saying
/// whether it matched: a page escapes the pieces and marks the matches, so nothing in a record's text can
/// become markup.
public struct Highlighter: Sendable {
    /// A piece of the text as written, and whether it is a matched word.
    public struct Segment: Sendable, Equatable {
        public var text: String
        public var match: Bool

        public init(text: String, match: Bool) {
            self.text = text
            self.match = match
        }
    }

    private let forms: Set<String>
    private let prefixes: [String]
    private let stems: Set<String>
    private let stemmer: IndonesianStemmer

    /// The words of `terms` and what they were widened to: corrections, the spelled-out forms of an
    /// abbreviation. Excluded words are never marked.
    public init(_ terms: SearchTerms, corrections: [String: [String]] = [:], stemmer: IndonesianStemmer = .shared) {
        var words = terms.words.flatMap { corrections[$0] ?? [$0] } + terms.phrases.flatMap { $0 }
        for word in terms.words { words += (Abbreviations.expansions[word] ?? []).flatMap(SearchText.words) }
        forms = Set(words)
        prefixes = words.filter { $0.unicodeScalars.count >= SearchText.minimumPrefixLength }
        stems = Set(words.flatMap(stemmer.stems))
        self.stemmer = stemmer
    }

    /// Whether a word as the index holds it (lowercase, folded) is one the search matched.
    public func matches(_ word: String) -> Bool {
        if forms.contains(word) || prefixes.contains(where: word.hasPrefix) { return true }
        return stemmer.stems(word).contains(where: stems.contains)
    }

    /// The whole text, its matched words marked.
    public func highlight(_ text: String) -> [Segment] {
        segments(Self.tokens(text), in: text, from: 0, to: Int.max)
    }

    /// About `words` words of `text` around its first match, marked, with "…" where text was cut; nil when
    /// no word of the text matches.
    public func snippet(_ text: String, words: Int = 24) -> [Segment]? {
        let tokens = Self.tokens(text)
        guard let first = tokens.firstIndex(where: { matches($0.word) }) else { return nil }
        let start = max(0, min(first - words / 4, tokens.count - words))
        return segments(tokens, in: text, from: start, to: start + words)
    }

    /// The first `words` words of `text`, unmarked, for a result whose match lies elsewhere.
    public static func opening(_ text: String, words: Int = 24) -> [Segment] {
        let tokens = tokens(text)
        guard tokens.count > words else { return text.isEmpty ? [] : [Segment(text: text, match: false)] }
        return [Segment(text: String(text[..<tokens[words - 1].range.upperBound]) + " …", match: false)]
    }

    private struct Token {
        var range: Range<String.Index>
        var word: String
    }

    private static func tokens(_ text: String) -> [Token] {
        var tokens: [Token] = []
        var start: String.Index?
        var index = text.unicodeScalars.startIndex
        func close(at end: String.Index) {
            guard let begun = start else { return }
            let piece = String(text.unicodeScalars[begun..<end])
            if let word = SearchText.words(piece).first { tokens.append(Token(range: begun..<end, word: word)) }
            start = nil
        }
        while index < text.unicodeScalars.endIndex {
            if SearchText.isTokenCharacter(text.unicodeScalars[index]) {
                if start == nil { start = index }
            } else {
                close(at: index)
            }
            index = text.unicodeScalars.index(after: index)
        }
        close(at: text.unicodeScalars.endIndex)
        return tokens
    }

    /// Tokens `from..<to` with the text between them, matches apart, neighbours that do not match merged.
    private func segments(_ tokens: [Token], in text: String, from: Int, to: Int) -> [Segment] {
        guard !tokens.isEmpty else { return text.isEmpty ? [] : [Segment(text: text, match: false)] }
        let last = min(to, tokens.count) - 1
        var out: [Segment] = []
        func add(_ piece: Substring, _ match: Bool) {
            guard !piece.isEmpty else { return }
            if !match, let previous = out.last, !previous.match {
                out[out.count - 1].text += piece
            } else {
                out.append(Segment(text: String(piece), match: match))
            }
        }
        if from > 0 { add("… ", false) }
        var cursor = from == 0 ? text.startIndex : tokens[from].range.lowerBound
        for token in tokens[from...last] {
            add(text[cursor..<token.range.lowerBound], false)
            add(text[token.range], matches(token.word))
            cursor = token.range.upperBound
        }
        if last == tokens.count - 1 { add(text[cursor...], false) } else { add(" …", false) }
        return out
    }
}
