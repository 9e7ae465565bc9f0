import Foundation

/// The message every hub publishes for one change of one innovation (docs/PROTOCOL.md).
///
/// Decoding ignores keys it does not know, so later schema-1 additions reach older aggregators
/// harmlessly; an incompatible change bumps `schema`. A relayed change (one with a ``chain``) is
/// schema 2, so that an aggregator that cannot check the chain refuses it rather than filing a
/// kabupaten/kota's record under its province.
public struct Envelope: Sendable, Hashable {
    /// The schema of an envelope without a provenance chain.
    public static let schemaVersion = 1
    /// The schema of an envelope with a provenance chain (`relayed`).
    public static let relayedSchemaVersion = 2
    /// Most links a chain may have: kabupaten/kota → provinsi is one; the rest is room to grow.
    public static let maxChainLength = 4

    /// The publishing hub's province code.
    public var hub: String
    /// Per-hub sequence number assigned by the hub's outbox; strictly increasing.
    public var seq: Int64
    public var event: ChangeEvent
    /// When the hub committed the change (RFC 3339 UTC).
    public var sentAt: String
    public var innovation: Innovation
    /// Set when the hub publishes the record again to answer a resync request (same revision, new seq).
    public var resync: Bool
    /// The hub store's epoch (see ``HubEpoch``); nil from hubs older than epochs.
    public var epoch: String?
    /// For a restored store, the epoch of the backup it came from ("" for a backup from before epochs).
    public var epochParent: String?
    /// For a change relayed from the hubs below: who published it first and who passed it on, originating
    /// hub first. Empty for a hub's own change. On the wire the last link is `relayed`, and each link's
    /// body holds the link before it.
    public var chain: [ChainLink]

    public init(hub: String, seq: Int64, event: ChangeEvent, sentAt: String, innovation: Innovation, resync: Bool = false,
                epoch: String? = nil, epochParent: String? = nil, chain: [ChainLink] = []) {
        self.hub = hub
        self.seq = seq
        self.event = event
        self.sentAt = sentAt
        self.innovation = innovation
        self.resync = resync
        self.epoch = epoch
        self.epochParent = epochParent
        self.chain = chain
    }

    /// The routing key this envelope is published under.
    public var routingKey: String { RoutingKey.innovation(province: hub, event: event) }

    /// The hub that published the change first: the chain's first link, else this envelope's hub.
    public var origin: String { chain.first?.hub ?? hub }

    /// The national key of the innovation this envelope is about: scoped by the originating hub, so
    /// `35.78:sapa-warga` stays Kota Surabaya's however many hubs relay it.
    public var globalID: String { innovation.globalID(province: origin) }

    /// The record's key within the publishing hub's store and checkpoint digest: its id for the hub's
    /// own records, `<origin>:<id>` for relayed ones.
    public var keyInHub: String { chain.isEmpty ? innovation.id : globalID }

    /// The epoch of the originating hub's store: what orders a record's revisions wherever it is kept
    /// (a restored kabupaten/kota store goes back to lower revisions; see ``HubEpoch/decideRelayed``).
    public var originEpoch: String? { chain.first.map(\.epoch) ?? epoch }
}

/// One hop of a provenance chain: a message exactly as a hub below published it.
public struct ChainLink: Sendable, Hashable, Codable {
    /// The hub that published it (a ``HubCode``).
    public var hub: String
    /// Its seq at that hub (read from ``body``).
    public var seq: Int64
    /// Its AMQP message id.
    public var messageID: String
    /// The id of the key it was signed with, and the base64 signature over ``body``; nil when unsigned.
    public var keyID: String?
    public var signature: String?
    /// The body exactly as that hub published it: what the signature covers.
    public var body: Data
    /// That hub's store epoch and, for a restored store, its backup's (read from ``body``; not fields of
    /// their own on the wire).
    public var epoch: String?
    public var epochParent: String?

    public init(hub: String, seq: Int64, messageID: String, keyID: String?, signature: String?, body: Data,
                epoch: String? = nil, epochParent: String? = nil) {
        self.hub = hub
        self.seq = seq
        self.messageID = messageID
        self.keyID = keyID
        self.signature = signature
        self.body = body
        self.epoch = epoch
        self.epochParent = epochParent
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        hub = try container.decode(String.self, forKey: .hub)
        seq = try container.decode(Int64.self, forKey: .seq)
        messageID = try container.decode(String.self, forKey: .messageID)
        keyID = try container.decodeIfPresent(String.self, forKey: .keyID)
        signature = try container.decodeIfPresent(String.self, forKey: .signature)
        body = try container.decode(Data.self, forKey: .body)
        // Links stored before the epoch was kept beside them carry it only in their body.
        if container.contains(.epoch) || container.contains(.epochParent) {
            epoch = try container.decodeIfPresent(String.self, forKey: .epoch)
            epochParent = try container.decodeIfPresent(String.self, forKey: .epochParent)
        } else {
            (epoch, epochParent) = EnvelopeCodec.epochs(ofBody: body)
        }
    }

    enum CodingKeys: String, CodingKey {
        case hub, seq, body, signature, epoch
        case epochParent = "epoch_parent"
        case messageID = "message_id"
        case keyID = "key_id"
    }
}

/// JSON encoding and validating decoding of ``Envelope``.
public enum EnvelopeCodec {
    /// The content type every envelope is published with.
    public static let contentType = "application/json"


    // One decoder for the process, not one per message (fewer allocations per message in
    // Benchmarks/HotPaths). It is Sendable and its options are never changed.
    private static let decoder = JSONDecoder()

    /// The envelope as the UTF-8 JSON body of an AMQP message (see ``EnvelopeWriter`` for the form).
    public static func encode(_ envelope: Envelope) -> Data {
        var writer = EnvelopeWriter(capacity: envelope.chain.isEmpty ? 1024 : 4096)
        writer.write(envelope, schema: envelope.chain.isEmpty ? Envelope.schemaVersion : Envelope.relayedSchemaVersion)
        return Data(writer.bytes)
    }

    /// Decodes and validates a body received under `routingKey`.
    ///
    /// Every failure maps to one ``ValidationReason``; nothing here throws or traps on hostile input.
    public static func decode(
        _ body: Data, routingKey: String, contentType: String?,
        maxBodyBytes: Int = InnovationLimits.defaultMaxBodyBytes
    ) -> Result<Envelope, ValidationReason> {
        decode(body, routingKey: routingKey, contentType: contentType, maxBodyBytes: maxBodyBytes, depth: 0)
    }

    /// `depth` counts the links already unwrapped above this body.
    static func decode(_ body: Data, routingKey: String, contentType: String?, maxBodyBytes: Int, depth: Int)
        -> Result<Envelope, ValidationReason>
    {
        if body.count > maxBodyBytes { return .failure(.bodyTooLarge) }
        if !isAccepted(contentType: contentType) { return .failure(.unsupportedContentType) }
        guard case .innovation(let keyProvince, let keyEvent)? = RoutingKey.parse(routingKey) else {
            return .failure(.invalidRoutingKey)
        }
        if let reason = structuralProblem(body) { return .failure(reason) }
        let wire: WireIn
        do {
            wire = try decoder.decode(WireIn.self, from: body)
        } catch let DecodingError.typeMismatch(_, context) {
            return .failure(fieldFailure(context))
        } catch let DecodingError.dataCorrupted(context) {
            return .failure(context.codingPath.isEmpty ? .malformedJSON : fieldFailure(context))
        } catch {
            return .failure(.malformedJSON)
        }
        return wire.validated(keyProvince: keyProvince, keyEvent: keyEvent, maxBodyBytes: maxBodyBytes, depth: depth)
    }

    /// Whether a message's content-type property is one the federation reads: absent, empty, or
    /// `application/json` in any letter case, optionally followed by `;` and parameters (ignored, as
    /// `charset=utf-8`), with optional spaces around the type.
    public static func isAccepted(contentType: String?) -> Bool {
        guard let contentType else { return true }
        let type = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let trimmed = type.trimmingCharacters(in: [" ", "\t"])
        return trimmed.isEmpty && !contentType.contains(";") || trimmed.lowercased() == Self.contentType
    }

    /// Strict UTF-8 and ``StrictJSON``'s checks, shared by every JSON body the federation reads.
    public static func structuralProblem(_ body: Data) -> ValidationReason? {
        guard String(validating: body, as: UTF8.self) != nil else { return .invalidUTF8 }
        let problem = body.withUnsafeBytes { StrictJSON.check($0) }
        switch problem {
        case nil: return nil
        case .duplicateKey(let key)?: return .duplicateKey(key)
        case .tooDeep?: return .tooDeep
        case .malformed?: return .malformedJSON
        }
    }

    /// The `epoch` and `epoch_parent` of an envelope body already validated once (a stored chain link's).
    public static func epochs(ofBody body: Data) -> (epoch: String?, parent: String?) {
        struct Epochs: Decodable { var epoch: String?, epoch_parent: String? }
        let read = try? decoder.decode(Epochs.self, from: body)
        return (read?.epoch, read?.epoch_parent)
    }

    private static func fieldFailure(_ context: DecodingError.Context) -> ValidationReason {
        guard let last = context.codingPath.last(where: { $0.intValue == nil }) else { return .malformedJSON }
        if context.codingPath.first?.stringValue == "relayed" {
            return .chainMalformed(last.stringValue == "relayed" ? "relayed" : "relayed." + last.stringValue)
        }
        return .invalidField(last.stringValue)
    }
}

/// The body as read off the wire: every field optional, so a missing one is reported by name.
private struct WireIn: Decodable {
    var schema: Int?
    var hub: String?
    // Numbers are read as Double and checked for integrality here, so 1.5 or 1e30 is reported as an
    // invalid field rather than as malformed JSON (JSONDecoder gives no field path for those).
    var seq: Double?
    var event: String?
    var sent_at: String?
    var innovation: WireInnovation?
    var resync: Bool?
    var epoch: String?
    var epoch_parent: String?
    var relayed: WireLink?

    func validated(keyProvince: String, keyEvent: ChangeEvent, maxBodyBytes: Int, depth: Int)
        -> Result<Envelope, ValidationReason>
    {
        guard let schema else { return .failure(.missingField("schema")) }
        guard schema == Envelope.schemaVersion || schema == Envelope.relayedSchemaVersion else {
            return .failure(.unknownSchema)
        }
        guard let hub else { return .failure(.missingField("hub")) }
        guard HubCode.isValid(hub) else { return .failure(.invalidField("hub")) }
        guard hub == keyProvince else { return .failure(.provinceMismatch) }
        guard let seqNumber = seq else { return .failure(.missingField("seq")) }
        guard let seq = exactInteger(seqNumber), seq >= 1 else { return .failure(.invalidField("seq")) }
        guard let eventRaw = event else { return .failure(.missingField("event")) }
        guard let event = ChangeEvent(rawValue: eventRaw) else { return .failure(.invalidField("event")) }
        guard event == keyEvent else { return .failure(.eventMismatch) }
        guard let sentAt = sent_at else { return .failure(.missingField("sent_at")) }
        guard Timestamp.isValidRFC3339(sentAt) else { return .failure(.invalidField("sent_at")) }
        if let epoch, !HubEpoch.isValid(epoch) { return .failure(.invalidField("epoch")) }
        if let epoch_parent, !HubEpoch.isValidParent(epoch_parent) { return .failure(.invalidField("epoch_parent")) }
        guard let wireInnovation = innovation else { return .failure(.missingField("innovation")) }
        switch wireInnovation.record() {
        case .failure(let reason): return .failure(reason)
        case .success(let record):
            if let reason = InnovationValidator.validate(record, province: hub) { return .failure(reason) }
            var chain: [ChainLink] = []
            switch (schema == Envelope.relayedSchemaVersion, relayed) {
            case (false, nil): break
            case (false, _?): return .failure(.invalidField("relayed"))
            case (true, nil): return .failure(.missingField("relayed"))
            case (true, let link?):
                switch link.chain(relayedBy: hub, event: event, record: record, maxBodyBytes: maxBodyBytes, depth: depth) {
                case .failure(let reason): return .failure(reason)
                case .success(let links): chain = links
                }
            }
            return .success(Envelope(hub: hub, seq: seq, event: event, sentAt: sentAt, innovation: record,
                                     resync: resync ?? false, epoch: epoch, epochParent: epoch_parent, chain: chain))
        }
    }
}

/// The `relayed` object: the message the hub below published, which the relaying hub passes on.
private struct WireLink: Decodable {
    var hub: String?
    var message_id: String?
    var key_id: String?
    var signature: String?
    var body: String?

    /// The whole chain up to and including this link, checked structurally: the link's hub lies below
    /// the relaying one, its body is a valid envelope of that hub (whose own chain is checked the same
    /// way), and it published exactly this record and event. Signatures are the trust layer's.
    func chain(relayedBy relay: String, event: ChangeEvent, record: Innovation, maxBodyBytes: Int, depth: Int)
        -> Result<[ChainLink], ValidationReason>
    {
        guard depth < Envelope.maxChainLength else { return .failure(.chainTooLong) }
        guard let hub else { return .failure(.chainMalformed("relayed.hub")) }
        guard HubCode.isValid(hub) else { return .failure(.chainMalformed("relayed.hub")) }
        guard HubCode.isBelow(hub, relay: relay) else { return .failure(.chainHubOutsideProvince) }
        guard let message_id, !message_id.isEmpty, message_id.utf8.count <= 128,
              message_id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return .failure(.chainMalformed("relayed.message_id")) }
        guard (key_id == nil) == (signature == nil) else { return .failure(.chainMalformed("relayed.signature")) }
        guard let encoded = body, let bytes = Data(base64Encoded: encoded) else { return .failure(.chainMalformed("relayed.body")) }
        let inner = EnvelopeCodec.decode(bytes, routingKey: RoutingKey.innovation(province: hub, event: event), contentType: nil,
                                         maxBodyBytes: maxBodyBytes, depth: depth + 1)
        switch inner {
        case .failure(.eventMismatch): return .failure(.chainContentMismatch)
        case .failure(let reason) where reason.isChainReason: return .failure(reason)
        case .failure(let reason): return .failure(.chainLinkInvalid(reason.code))
        case .success(let published):
            // Compared as bytes: Swift's == on strings holds for canonically equivalent but different text.
            guard EnvelopeWriter.bytes(of: published.innovation) == EnvelopeWriter.bytes(of: record) else {
                return .failure(.chainContentMismatch)
            }
            return .success(published.chain + [ChainLink(hub: hub, seq: published.seq, messageID: message_id, keyID: key_id,
                                                         signature: signature, body: bytes, epoch: published.epoch,
                                                         epochParent: published.epochParent)])
        }
    }
}

extension ValidationReason {
    /// Whether the reason is about a provenance chain (passed up unchanged from a deeper link).
    var isChainReason: Bool {
        switch self {
        case .chainMalformed, .chainLinkInvalid, .chainHubOutsideProvince, .chainContentMismatch, .chainTooLong,
             .chainMissingSignature, .chainUnknownKey, .chainKeyMismatch, .chainBadSignature: true
        default: false
        }
    }
}

private struct WireInnovation: Decodable {
    var id: String?
    var revision: Double?
    var title: String?
    var agency: String?
    var region: String?
    var category: String?
    var kind: String?
    var stage: String?
    var initiator: String?
    var launched_on: String?
    var summary: String?
    var benefits: String?
    var contact: String?
    var url: String?
    var status: String?
    var replicates: String?
    var updated_at: String?

    func record() -> Result<Innovation, ValidationReason> {
        func required<T>(_ value: T?, _ name: String) throws(ValidationReason) -> T {
            guard let value else { throw .missingField(name) }
            return value
        }
        func vocabulary<T: RawRepresentable<String>>(_ value: String?, _ name: String) throws(ValidationReason) -> T {
            guard let parsed = T(rawValue: try required(value, name)) else { throw .invalidField(name) }
            return parsed
        }
        do throws(ValidationReason) {
            let id = try required(id, "id")
            guard let revision = exactInteger(try required(revision, "revision")) else { throw .invalidField("revision") }
            let title = try required(title, "title")
            let agency = try required(agency, "agency")
            let region = try required(region, "region")
            let category: Category = try vocabulary(category, "category")
            let kind: InnovationKind = try vocabulary(kind, "kind")
            let stage: Stage = try vocabulary(stage, "stage")
            let status: InnovationStatus = try vocabulary(status, "status")
            let updatedAt = try required(updated_at, "updated_at")
            var initiatorValue: Initiator?
            if initiator != nil { initiatorValue = try vocabulary(initiator, "initiator") }
            return .success(Innovation(
                id: id, revision: revision, title: title, agency: agency, region: region, category: category,
                kind: kind, stage: stage, initiator: initiatorValue, launchedOn: launched_on, summary: summary,
                benefits: benefits, contact: contact, url: url, status: status, replicates: replicates,
                updatedAt: updatedAt))
        } catch {
            return .failure(error)
        }
    }
}

/// The integer a JSON number denotes, if it is one within ±2^53 (exactly representable in a double).
private func exactInteger(_ value: Double) -> Int64? {
    guard value.isFinite, value == value.rounded(), abs(value) <= 9_007_199_254_740_991 else { return nil }
    return Int64(value)
}
