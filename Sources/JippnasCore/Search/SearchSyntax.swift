/// What a person typed, read the way search boxes read it: `"frasa tepat"` is a phrase, `-kata` leaves out
/// what holds the word, everything else is a plain word that must appear.
///
/// Every part is made of words as ``SearchText/words(_:)`` cuts them (letters and numbers only), so no
/// input can carry FTS5 syntax into a query: an operator, a column name or a stray quote is at most a word.
/// An unclosed quote runs to the end of the text.
public struct SearchTerms: Sendable, Equatable {
    /// Words that must each appear, in the order typed, without repeats.
    public var words: [String] = []
    /// Runs of words that must appear together, in order.
    public var phrases: [[String]] = []
    /// Words whose records are left out.
    public var excluded: [String] = []

    /// Terms as given; ``parse(_:)`` makes them from typed text.
    public init(words: [String] = [], phrases: [[String]] = [], excluded: [String] = []) {
        self.words = words
        self.phrases = phrases
        self.excluded = excluded
    }

    /// Whether anything must match, so that results can be ranked. Exclusions alone only filter.
    public var hasRequiredTerms: Bool { !words.isEmpty || !phrases.isEmpty }
    /// Whether the text held no word at all.
    public var isEmpty: Bool { !hasRequiredTerms && excluded.isEmpty }

    /// Words and phrase words counted together: beyond ``SearchText/maximumTerms`` the rest is ignored,
    /// each term costing index lookups.
    var termCount: Int { words.count + phrases.reduce(0) { $0 + $1.count } + excluded.count }

    /// Indonesian function words that carry no topic (*dan*, *di*, *untuk*, *terhadap* …): a plain word
    /// among them is not required, since a title rarely repeats the connective a person types; in a
    /// phrase, or when the text holds nothing else, it is kept.
    public static let stopwords: Set<String> = [
        "dan", "atau", "di", "ke", "dari", "yang", "untuk", "bagi", "pada", "dalam", "dengan", "oleh", "terhadap",
        "tentang", "akan", "ini", "itu", "serta", "secara", "sebagai", "adalah", "para", "kepada", "melalui",
    ]

    /// Reads `text`; words longer than ``SearchText/maximumTermLength`` are cut.
    public static func parse(_ text: String) -> SearchTerms {
        var terms = parseKeepingStopwords(text)
        let topical = terms.words.filter { !stopwords.contains($0) }
        if !topical.isEmpty || !terms.phrases.isEmpty { terms.words = topical }
        return terms
    }

    private static func parseKeepingStopwords(_ text: String) -> SearchTerms {
        var terms = SearchTerms()
        var rest = Substring(text)
        while let start = rest.firstIndex(where: { $0 == "\"" || $0 == "-" || !$0.isWhitespace }) {
            rest = rest[start...]
            if rest.first == "\"" {
                let body = rest.dropFirst()
                let end = body.firstIndex(of: "\"") ?? body.endIndex
                terms.add(phrase: SearchText.words(String(body[..<end])))
                rest = end < body.endIndex ? body[body.index(after: end)...] : body[end...]
            } else {
                let end = rest.firstIndex(where: { $0.isWhitespace || $0 == "\"" }) ?? rest.endIndex
                let token = rest[..<end]
                // A minus leaves a word out only at a word's start: `e-ktp` is two plain words.
                if token.first == "-", token.count > 1 {
                    for word in SearchText.words(String(token.dropFirst())) { terms.add(excluded: word) }
                } else {
                    for word in SearchText.words(String(token)) { terms.add(word: word) }
                }
                rest = rest[end...]
            }
            if terms.termCount >= SearchText.maximumTerms { break }
        }
        return terms
    }

    private static func cut(_ word: String) -> String {
        String(word.unicodeScalars.prefix(SearchText.maximumTermLength))
    }

    private mutating func add(word: String) {
        let word = Self.cut(word)
        if termCount < SearchText.maximumTerms, !words.contains(word) { words.append(word) }
    }

    private mutating func add(excluded word: String) {
        let word = Self.cut(word)
        if termCount < SearchText.maximumTerms, !excluded.contains(word) { excluded.append(word) }
    }

    private mutating func add(phrase: [String]) {
        let room = SearchText.maximumTerms - termCount
        let phrase = Array(phrase.map(Self.cut).prefix(max(room, 0)))
        switch phrase.count {
        case 0: break
        case 1: add(word: phrase[0])  // a quoted single word is a word
        default: if !phrases.contains(phrase) { phrases.append(phrase) }
        }
    }
}
