/// Why a message or an import row was refused, as a stable machine-readable code.
///
/// Codes are part of the wire contract (docs/PROTOCOL.md): dashboards and the dead-letter table key on
/// them, so a case is never renamed once shipped.
public enum ValidationReason: Error, Sendable, Hashable, CustomStringConvertible {
    case bodyTooLarge
    case invalidUTF8
    case malformedJSON
    case unknownSchema
    case unsupportedContentType
    case invalidRoutingKey
    case missingField(String)
    case invalidField(String)
    case provinceMismatch
    case eventMismatch
    case regionOutsideProvince
    /// The same key twice in one JSON object.
    case duplicateKey(String)
    /// JSON nested deeper than ``StrictJSON/defaultMaxDepth``.
    case tooDeep
    /// Signatures are required and the message carries none.
    case missingSignature
    /// The signature names a key id the trust store does not hold.
    case unknownSigningKey
    /// The signing key is trusted, but for another province than the one the message speaks for.
    case signingKeyProvinceMismatch
    /// The signature does not verify over the body (tampered, or signed with another key).
    case badSignature
    /// The broker-validated AMQP user-id is required and absent.
    case missingUserID
    /// The AMQP user-id names another province's hub (or, when required, no hub at all).
    case userIDMismatch
    /// A relaying hub only: the message comes from a kabupaten/kota hub its `regional.hubs` does not list.
    case unlistedHub
    /// Provenance chain (`relayed`): a field of the link is absent or has the wrong type or shape.
    case chainMalformed(String)
    /// The link's body is not a valid envelope of the link's hub; carries that envelope's own reason.
    case chainLinkInvalid(String)
    /// The link's hub is not a kabupaten/kota of the relaying province.
    case chainHubOutsideProvince
    /// The relayed record or event differs from what the link's hub published.
    case chainContentMismatch
    /// More links than ``Envelope/maxChainLength``.
    case chainTooLong
    /// Signatures are required and a link carries none.
    case chainMissingSignature
    /// A link names a key id the trust store does not hold.
    case chainUnknownKey
    /// A link's key is trusted, but for another hub than the link's.
    case chainKeyMismatch
    /// A link's signature does not verify over the link's body.
    case chainBadSignature

    /// The code as stored and documented, for example `missing_field:title`.
    public var code: String {
        switch self {
        case .bodyTooLarge: "body_too_large"
        case .invalidUTF8: "invalid_utf8"
        case .malformedJSON: "malformed_json"
        case .unknownSchema: "unknown_schema"
        case .unsupportedContentType: "unsupported_content_type"
        case .invalidRoutingKey: "invalid_routing_key"
        case .missingField(let name): "missing_field:\(name)"
        case .invalidField(let name): "invalid_field:\(name)"
        case .provinceMismatch: "province_mismatch"
        case .eventMismatch: "event_mismatch"
        case .regionOutsideProvince: "region_outside_province"
        case .duplicateKey(let name): "duplicate_key:\(name)"
        case .tooDeep: "too_deep"
        case .missingSignature: "missing_signature"
        case .unknownSigningKey: "unknown_signing_key"
        case .signingKeyProvinceMismatch: "signing_key_province_mismatch"
        case .badSignature: "bad_signature"
        case .missingUserID: "missing_user_id"
        case .userIDMismatch: "user_id_mismatch"
        case .unlistedHub: "unlisted_hub"
        case .chainMalformed(let field): "chain_malformed:\(field)"
        case .chainLinkInvalid(let inner): "chain_link_invalid:\(inner)"
        case .chainHubOutsideProvince: "chain_hub_outside_province"
        case .chainContentMismatch: "chain_content_mismatch"
        case .chainTooLong: "chain_too_long"
        case .chainMissingSignature: "chain_missing_signature"
        case .chainUnknownKey: "chain_unknown_key"
        case .chainKeyMismatch: "chain_key_mismatch"
        case .chainBadSignature: "chain_bad_signature"
        }
    }

    public var description: String { code }
}

/// Dead-letter reasons that are not validation failures (those are ``ValidationReason/code``).
public enum DeadLetterReason {
    /// A valid message that the catalogue's store refused (a constraint or trigger, a type mismatch, a
    /// value too big); the dead letter's detail holds SQLite's message.
    public static let storeRefused = "store_refused"
    /// A change from a hub store whose epoch the catalogue cannot place (see ``HubEpoch/Decision/unknown``).
    public static let unknownEpoch = "unknown_epoch"
}

/// Length and range limits of every field, shared by import and the aggregator so both refuse the same.
public enum InnovationLimits {
    public static let idLength = 1...64
    public static let titleLength = 3...200
    public static let agencyLength = 2...200
    public static let summaryMax = 4_000
    public static let benefitsMax = 2_000
    public static let contactMax = 200
    public static let urlMax = 500
    public static let revisionRange: ClosedRange<Int64> = 1...9_007_199_254_740_991  // 2^53-1: exact in JSON
    /// Default largest accepted message body; configurable at the aggregator.
    public static let defaultMaxBodyBytes = 64 * 1024

    /// Ids are ASCII letters, digits, `.`, `_` and `-`, so they are safe in routing keys, URLs and file names.
    public static func isValidID(_ id: String) -> Bool {
        let u = id.utf8
        guard idLength.contains(u.count) else { return false }
        return u.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 95 || c == 45
        }
    }
}

/// Field-level checks of innovation content. Pure; returns the first failure in field order.
public enum InnovationValidator {
    /// Checks `content` as published by the hub `province` (a ``HubCode``): a provincial hub's records
    /// lie in its province, a kabupaten/kota hub's in its own kabupaten/kota.
    public static func validate(_ content: InnovationContent, province: String) -> ValidationReason? {
        if !InnovationLimits.isValidID(content.id) { return .invalidField("id") }
        if let r = checkText(content.title, "title", InnovationLimits.titleLength) { return r }
        if let r = checkText(content.agency, "agency", InnovationLimits.agencyLength) { return r }
        if !RegionCode.isValid(content.region) { return .invalidField("region") }
        if HubCode.isRegional(province) ? content.region != province : RegionCode.province(of: content.region) != province {
            return .regionOutsideProvince
        }
        if let d = content.launchedOn, !Timestamp.isValidDate(d) { return .invalidField("launched_on") }
        if let r = checkOptional(content.summary, "summary", InnovationLimits.summaryMax) { return r }
        if let r = checkOptional(content.benefits, "benefits", InnovationLimits.benefitsMax) { return r }
        if let r = checkOptional(content.contact, "contact", InnovationLimits.contactMax) { return r }
        if let url = content.url {
            if !scalarCount(of: url, isIn: 0...InnovationLimits.urlMax) || hasControlCharacters(url)
                || !(url.hasPrefix("https://") || url.hasPrefix("http://")) || url.unicodeScalars.contains(where: \.isFederationWhitespace)
            {
                return .invalidField("url")
            }
        }
        if let replicates = content.replicates {
            guard let target = GlobalID.parse(replicates),
                  target != (province, content.id) else { return .invalidField("replicates") }
        }
        return nil
    }

    /// Checks a whole record: content plus revision and change time.
    public static func validate(_ innovation: Innovation, province: String) -> ValidationReason? {
        if !InnovationLimits.revisionRange.contains(innovation.revision) { return .invalidField("revision") }
        if !Timestamp.isValidRFC3339(innovation.updatedAt) { return .invalidField("updated_at") }
        return validate(innovation.content, province: province)
    }

    private static func checkText(_ value: String, _ field: String, _ range: ClosedRange<Int>) -> ValidationReason? {
        if !scalarCount(of: value, isIn: range) || hasControlCharacters(value) || hasSurroundingWhitespace(value) {
            return .invalidField(field)
        }
        return nil
    }

    private static func checkOptional(_ value: String?, _ field: String, _ max: Int) -> ValidationReason? {
        guard let value else { return nil }
        if !scalarCount(of: value, isIn: 0...max) || hasControlCharacters(value, allowNewlines: true) {
            return .invalidField(field)
        }
        return nil
    }

    /// Whether `value` has a number of Unicode scalar values (code points) in `range`: the unit every
    /// language counts alike (Python's `len`, Go's `utf8.RuneCountInString`, Java's `codePointCount`),
    /// where characters as people see them (grapheme clusters) vary with the Unicode version. A scalar
    /// starts at every UTF-8 byte that is not a continuation byte (10xxxxxx).
    static func scalarCount(of value: String, isIn range: ClosedRange<Int>) -> Bool {
        // A scalar is one to four UTF-8 bytes, so the byte length alone often settles it.
        let bytes = value.utf8.count
        if bytes < range.lowerBound { return false }
        if bytes <= range.upperBound && bytes >= 4 * range.lowerBound { return true }
        var scalars = 0
        for byte in value.utf8 where byte & 0xC0 != 0x80 { scalars += 1 }
        return range.contains(scalars)
    }

    /// Whether the first or last Unicode scalar is White_Space (space, tab, line breaks, U+00A0 and the
    /// other Unicode spaces): import trims exactly these, so the two always agree.
    private static func hasSurroundingWhitespace(_ value: String) -> Bool {
        guard let first = value.unicodeScalars.first, let last = value.unicodeScalars.last else { return false }
        return first.isFederationWhitespace || last.isFederationWhitespace
    }

    /// C0 and C1 controls, DEL and the bidirectional overrides (which can make a title read differently
    /// from what it holds) are refused in text; long text may keep newlines and tabs.
    ///
    /// Read as UTF-8 bytes, every text field of every message passes here: C1 controls are C2 80–9F, the
    /// overrides U+202A–202E are E2 80 AA–AE and the isolates U+2066–2069 are E2 81 A6–A9.
    static func hasControlCharacters(_ value: String, allowNewlines: Bool = false) -> Bool {
        var previous: UInt8 = 0
        var beforePrevious: UInt8 = 0
        for byte in value.utf8 {
            switch byte {
            case 0x09, 0x0A, 0x0D: if !allowNewlines { return true }
            case 0x00..<0x20, 0x7F: return true
            case 0x80...0x9F where previous == 0xC2: return true
            case 0xAA...0xAE where previous == 0x80 && beforePrevious == 0xE2: return true
            case 0xA6...0xA9 where previous == 0x81 && beforePrevious == 0xE2: return true
            default: break
            }
            beforePrevious = previous
            previous = byte
        }
        return false
    }
}

extension String {
    /// The string without leading and trailing Unicode White_Space scalars.
    public func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.isFederationWhitespace }),
              let last = scalars.lastIndex(where: { !$0.isFederationWhitespace }) else {
            return ""
        }
        return String(scalars[first...last])
    }
}

extension Unicode.Scalar {
    /// The Unicode White_Space property: U+0009–U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000–U+200A,
    /// U+2028, U+2029, U+202F, U+205F and U+3000 (docs/PROTOCOL.md lists them for other implementations).
    var isFederationWhitespace: Bool { properties.isWhitespace }
}
