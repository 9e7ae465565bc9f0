import Foundation

/// Where a page of results ended: the sort key (a text search's rank, or the order's key) and global id of
/// its last row, as an opaque token. Results are ordered by (key, global id), so the next page starts
/// strictly after it and no row is skipped or repeated while the catalogue does not change.
public struct SearchCursor: Sendable, Hashable {
    /// The sort key of the last row, lower first: the bm25 rank of a text search, minus the launch date
    /// (`-20210312`) or minus the replications for the other orders; nil for a listing by global id.
    public var rank: Double?
    public var globalID: String
    /// The order the cursor pages; a cursor cannot page another.
    public var sort: SearchSort
    /// How the search was rewritten for the page that handed out this cursor (typo corrections, a word
    /// left out): the next page continues that same search, whatever the catalogue's vocabulary does.
    public var rewrite: SearchRewrite?

    public init(rank: Double?, globalID: String, rewrite: SearchRewrite? = nil, sort: SearchSort = .relevance) {
        self.rank = rank
        self.sort = sort
        self.globalID = globalID
        self.rewrite = rewrite
    }

    /// Base64url of `<order><key bits in hex>:<global id>` (`r` relevance, `n` newest, `m` most replicated;
    /// `-:<global id>` unkeyed), then a newline and the rewrite when there is one: the exact key
    /// round-trips, which a decimal rendering would not guarantee.
    public var token: String {
        let rankPart = rank.map { Self.prefix(sort) + String($0.bitPattern, radix: 16) } ?? "-"
        let rewritePart = rewrite.map { "\n" + $0.encoded } ?? ""
        return Data((rankPart + ":" + globalID + rewritePart).utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The cursor a token names, or nil when it is not one this catalogue handed out.
    public init?(token: String) {
        guard token.utf8.count <= 2048 else { return nil }
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let whole = String(data: data, encoding: .utf8) else { return nil }
        let lines = whole.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let text = lines[0]
        var rewrite: SearchRewrite?
        if lines.count == 2 {
            guard let decoded = SearchRewrite(encoded: String(lines[1])) else { return nil }
            rewrite = decoded
        }
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let rankPart = text[..<colon]
        let globalID = String(text[text.index(after: colon)...])
        guard GlobalID.parse(globalID) != nil else { return nil }
        if rankPart == "-" {
            self.init(rank: nil, globalID: globalID, rewrite: rewrite)
        } else if let order = SearchSort.allCases.first(where: { Self.prefix($0) == rankPart.prefix(1) }),
                  let bits = UInt64(rankPart.dropFirst(), radix: 16), Double(bitPattern: bits).isFinite {
            self.init(rank: Double(bitPattern: bits), globalID: globalID, rewrite: rewrite, sort: order)
        } else {
            return nil
        }
    }

    private static func prefix(_ sort: SearchSort) -> String {
        switch sort {
        case .relevance: "r"
        case .newest: "n"
        case .replicated: "m"
        }
    }
}

/// How the last word of a search, perhaps still being typed, matches. It depends on the vocabulary a
/// search had in hand, so a cursor carries it: the next page matches as the first did.
public enum LastWordMatch: Sendable, Hashable {
    /// As the start of any longer word (FTS5's prefix query).
    case prefix
    /// Whole: a word of the index as typed.
    case complete
    /// Whole, or as one of these words of the index that it begins (the most frequent few).
    case completions([String])

    /// The most completions one search carries (and a cursor encodes).
    public static let maximumCompletions = 8
}

/// What a search did to the words as typed: words searched as the terms they most likely meant, a word
/// left out, and how the last word matched.
public struct SearchRewrite: Sendable, Hashable {
    /// Mistyped word → the index terms searched instead, the most frequent first.
    public var corrections: [String: [String]]
    public var leftOut: [String]
    /// How the last word matched; nil until the search decided.
    public var lastWord: LastWordMatch?

    public init(corrections: [String: [String]] = [:], leftOut: [String] = [], lastWord: LastWordMatch? = nil) {
        self.corrections = corrections
        self.leftOut = leftOut
        self.lastWord = lastWord
    }

    public var isEmpty: Bool { corrections.isEmpty && leftOut.isEmpty && lastWord == nil }

    /// `c=word>term,term;l=word;w=term,term` (`w=*` a prefix, `w=` whole): words are letters and numbers
    /// only, so the separators cannot occur in them.
    var encoded: String {
        var parts = corrections.sorted { $0.key < $1.key }.map { "c=\($0.key)>\($0.value.joined(separator: ","))" }
            + leftOut.map { "l=\($0)" }
        switch lastWord {
        case nil: break
        case .prefix: parts.append("w=*")
        case .complete: parts.append("w=")
        case .completions(let words): parts.append("w=" + words.joined(separator: ","))
        }
        return parts.joined(separator: ";")
    }

    /// The rewrite `encoded` wrote, or nil when any part is not one (a forged or damaged cursor).
    init?(encoded: String) {
        self.init()
        func isWord(_ text: Substring) -> Bool {
            !text.isEmpty && text.unicodeScalars.count <= SearchText.maximumTermLength
                && text.unicodeScalars.allSatisfy(SearchText.isTokenCharacter)
        }
        for entry in encoded.split(separator: ";") {
            if entry.hasPrefix("w="), lastWord == nil {
                let value = entry.dropFirst(2)
                let words = value.split(separator: ",", omittingEmptySubsequences: false)
                if value == "*" {
                    lastWord = .prefix
                } else if value.isEmpty {
                    lastWord = .complete
                } else if words.count <= LastWordMatch.maximumCompletions, words.allSatisfy(isWord) {
                    lastWord = .completions(words.map(String.init))
                } else {
                    return nil
                }
            } else if entry.hasPrefix("l="), isWord(entry.dropFirst(2)) {
                leftOut.append(String(entry.dropFirst(2)))
            } else if entry.hasPrefix("c="), let arrow = entry.firstIndex(of: ">") {
                let word = entry[entry.index(entry.startIndex, offsetBy: 2)..<arrow]
                let terms = entry[entry.index(after: arrow)...].split(separator: ",", omittingEmptySubsequences: false)
                guard isWord(word), !terms.isEmpty, terms.count <= TypoCorrection.maximumReplacements, terms.allSatisfy(isWord) else { return nil }
                corrections[String(word)] = terms.map(String.init)
            } else {
                return nil
            }
        }
        if isEmpty || leftOut.count > 1 { return nil }
    }
}
