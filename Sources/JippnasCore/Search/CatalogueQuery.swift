import Foundation

/// A search of the national catalogue: free text, filters and a page position.
///
/// Shared by `jippnas catalogue search`, the HTTP API and the web page, so all three accept and refuse
/// the same things. ``validated()`` is the one place a filter is checked.
public struct CatalogueQuery: Sendable, Hashable {
    /// What the user typed, read by ``SearchTerms``: plain words, `"phrases"` and `-excluded` words; FTS
    /// syntax is never passed through.
    public var text: String
    /// The publishing hub's province code (`35`).
    public var province: String?
    /// A kabupaten/kota code (`35.78`).
    public var region: String?
    public var category: Category?
    public var kind: InnovationKind?
    public var stage: Stage?
    public var status: InnovationStatus?
    public var withdrawn: WithdrawnFilter
    /// Launched in this year or later (inclusive).
    public var launchedFrom: Int?
    /// Launched in this year or earlier (inclusive).
    public var launchedTo: Int?
    /// Only innovations that replicate this global id.
    public var replicates: String?
    /// Only the innovation that this global id replicates.
    public var replicatedBy: String?
    /// Page size, within 1...``maximumLimit``.
    public var limit: Int
    /// Where the previous page ended.
    public var after: SearchCursor?
    /// The order of results (``SearchSort``).
    public var sort: SearchSort
    /// A page by its number (1 is the first), for page navigation: the results from
    /// `(page - 1) * limit` on. Exclusive with ``after``, which stays exact while the catalogue changes.
    public var page: Int?

    /// The most rows one page returns, whatever is asked: a page is built in memory.
    public static let maximumLimit = 100
    public static let defaultLimit = 20
    /// Page numbers reach this many results at most: deeper pages rank everything before them for nothing
    /// a person reads; a cursor pages on without a bound.
    public static let maximumPageDepth = 1000

    public init(text: String = "", province: String? = nil, region: String? = nil, category: Category? = nil,
                kind: InnovationKind? = nil, stage: Stage? = nil, status: InnovationStatus? = nil,
                withdrawn: WithdrawnFilter = .exclude, launchedFrom: Int? = nil, launchedTo: Int? = nil,
                replicates: String? = nil, replicatedBy: String? = nil, limit: Int = CatalogueQuery.defaultLimit,
                after: SearchCursor? = nil, sort: SearchSort = .relevance, page: Int? = nil)
    {
        self.sort = sort
        self.page = page
        self.text = text
        self.province = province
        self.region = region
        self.category = category
        self.kind = kind
        self.stage = stage
        self.status = status
        self.withdrawn = withdrawn
        self.launchedFrom = launchedFrom
        self.launchedTo = launchedTo
        self.replicates = replicates
        self.replicatedBy = replicatedBy
        self.limit = limit
        self.after = after
    }

    /// Whether withdrawn innovations are left out, kept, or the only ones shown.
    public enum WithdrawnFilter: String, Sendable, CaseIterable, Codable {
        case exclude, include, only
    }

    /// Why a query cannot run, naming the parameter.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        /// The parameter's name as the API and the CLI spell it (`province`, `launched_from`).
        public var parameter: String
        public var reason: String
        public var description: String { "\(parameter): \(reason)" }
        public init(parameter: String, reason: String) {
            self.parameter = parameter
            self.reason = reason
        }
    }

    /// The query with its limit clamped to 1...``maximumLimit``, or the first filter that cannot match
    /// anything a hub could publish.
    public func validated() throws(Invalid) -> CatalogueQuery {
        if let province, !ProvinceRegistry.isProvinceCode(province) {
            throw Invalid(parameter: "province", reason: "'\(province)' is not a province code (two digits, for example 35)")
        }
        if let region, !RegionCode.isValid(region) {
            throw Invalid(parameter: "region", reason: "'\(region)' is not a kabupaten/kota code (PP.KK, for example 35.78)")
        }
        for (name, year) in [("launched_from", launchedFrom), ("launched_to", launchedTo)] {
            if let year, !(1900...9999).contains(year) {
                throw Invalid(parameter: name, reason: "\(year) is not a year between 1900 and 9999")
            }
        }
        if let from = launchedFrom, let to = launchedTo, from > to {
            throw Invalid(parameter: "launched_from", reason: "\(from) is after launched_to \(to)")
        }
        for (name, id) in [("replicates", replicates), ("replicated_by", replicatedBy)] {
            if let id, GlobalID.parse(id) == nil {
                throw Invalid(parameter: name, reason: "'\(id)' is not a global id (<province>:<id>, for example 35:sw-surabaya)")
            }
        }
        if text.unicodeScalars.count > SearchText.maximumLength {
            throw Invalid(parameter: "q", reason: "longer than \(SearchText.maximumLength) characters")
        }
        if let after, after.sort != sort || (after.rank != nil) != isKeyed {
            throw Invalid(parameter: "cursor", reason: "a cursor from another search order cannot page this one")
        }
        var clamped = self
        clamped.limit = min(max(limit, 1), Self.maximumLimit)
        if let page {
            if after != nil { throw Invalid(parameter: "page", reason: "give a page number or a cursor, not both") }
            guard page >= 1, page <= Self.maximumPage(limit: clamped.limit) else {
                throw Invalid(parameter: "page", reason: "\(page) is not a page between 1 and \(Self.maximumPage(limit: clamped.limit))")
            }
        }
        return clamped
    }

    /// The last page number a query with this page size may ask for.
    public static func maximumPage(limit: Int) -> Int { (maximumPageDepth - 1) / max(limit, 1) + 1 }

    /// Whether the query has words to rank by; without them results come in global-id order.
    public var isRanked: Bool { SearchTerms.parse(text).hasRequiredTerms }

    /// Whether results are ordered by a computed key (a rank, a date, a count) before the global id,
    /// which a cursor then carries.
    public var isKeyed: Bool { sort != .relevance || isRanked }

    /// Whether any filter narrows the catalogue beyond leaving withdrawn innovations out.
    public var isFiltered: Bool {
        !SearchTerms.parse(text).isEmpty || province != nil || region != nil || category != nil || kind != nil || stage != nil
            || status != nil || withdrawn != .exclude || launchedFrom != nil || launchedTo != nil || replicates != nil
            || replicatedBy != nil
    }
}

/// The orders a search can come in.
public enum SearchSort: String, Sendable, CaseIterable, Codable {
    /// Best match first (bm25); a listing without words comes by global id.
    case relevance
    /// Latest launch date first; innovations without one last.
    case newest
    /// Most replicated first (live replications the catalogue holds).
    case replicated
}

/// Words as the catalogue's index cuts them, and the limits on what a query may hold.
///
/// Text is cut exactly where SQLite's `unicode61` tokenizer cuts (anything but letters, numbers and
/// private-use characters separates), so FTS5 operators (`AND`, `NEAR(`, `*`, `^`, column filters, a lone
/// `"`) arrive as ordinary words or separators: no input is a syntax error and none is an injection.
/// ``SearchTerms`` reads the syntax a person means (phrases, exclusions) on top of it.
public enum SearchText {
    /// Longest query text accepted, in Unicode scalars.
    public static let maximumLength = 500
    /// Words beyond this many are ignored: each one costs an index lookup.
    public static let maximumTerms = 12
    /// Longer words are cut: no title word is longer, and the cut keeps the prefix match.
    public static let maximumTermLength = 64
    /// Words at least this long also match longer words they begin (`puskes` finds `puskesmas`).
    public static let minimumPrefixLength = 3

    /// Every word of `text` as the index holds it: cut where unicode61 cuts, lowercase, diacritics folded
    /// (unicode61's `remove_diacritics 2`), repeats kept.
    public static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        var ascii = true
        func flush() {
            guard !current.isEmpty else { return }
            // Most words are ASCII, lowercased here; Foundation's folding is many times slower and is kept
            // for the rest. Combining marks alone fold to nothing: no word.
            let word = ascii ? String(current) : String(current).folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil)
            if !word.isEmpty { words.append(word) }
            current = String.UnicodeScalarView()
            ascii = true
        }
        for scalar in text.unicodeScalars {
            if scalar.isASCII {
                switch scalar.value {
                case 0x61...0x7A, 0x30...0x39: current.append(scalar)
                case 0x41...0x5A: current.append(Unicode.Scalar(scalar.value + 0x20)!)
                default: flush()
                }
            } else if isTokenCharacter(scalar) {
                current.append(scalar)
                ascii = false
            } else {
                flush()
            }
        }
        flush()
        return words
    }

    /// unicode61's token characters (L*, N*, Co), and combining marks so that a decomposed accent stays
    /// inside its word.
    public static func isTokenCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber, .privateUse, .nonspacingMark, .spacingMark:
            true
        default:
            false
        }
    }
}

extension CatalogueQuery {
    /// The names of the query parameters the API and the web page accept, as ``init(parameters:)`` reads them.
    public static let parameterNames = [
        "q", "province", "region", "category", "kind", "stage", "status", "withdrawn", "launched_from", "launched_to",
        "replicates", "replicated_by", "limit", "cursor", "sort", "page",
    ]

    /// A query from URL parameters (empty values count as absent), validated; unknown names are ignored.
    public init(parameters: [String: String]) throws(Invalid) {
        func value(_ name: String) -> String? {
            guard let v = parameters[name], !v.isEmpty else { return nil }
            return v
        }
        func parse<T: RawRepresentable & CaseIterable>(_ name: String, _: T.Type) throws(Invalid) -> T? where T.RawValue == String {
            guard let raw = value(name) else { return nil }
            guard let parsed = T(rawValue: raw) else {
                throw Invalid(parameter: name, reason: "'\(raw)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return parsed
        }
        func integer(_ name: String) throws(Invalid) -> Int? {
            guard let raw = value(name) else { return nil }
            guard let parsed = Int(raw) else { throw Invalid(parameter: name, reason: "'\(raw)' is not a whole number") }
            return parsed
        }
        var cursor: SearchCursor?
        if let token = value("cursor") {
            guard let decoded = SearchCursor(token: token) else {
                throw Invalid(parameter: "cursor", reason: "not a page cursor from this catalogue")
            }
            cursor = decoded
        }
        self.init(text: parameters["q"] ?? "", province: value("province"), region: value("region"),
                  category: try parse("category", Category.self), kind: try parse("kind", InnovationKind.self),
                  stage: try parse("stage", Stage.self), status: try parse("status", InnovationStatus.self),
                  withdrawn: try parse("withdrawn", WithdrawnFilter.self) ?? .exclude,
                  launchedFrom: try integer("launched_from"), launchedTo: try integer("launched_to"),
                  replicates: value("replicates"), replicatedBy: value("replicated_by"),
                  limit: try integer("limit") ?? Self.defaultLimit, after: cursor,
                  sort: try parse("sort", SearchSort.self) ?? .relevance, page: try integer("page"))
        self = try validated()
    }
}
