import Foundation

/// An order-independent digest of a hub's records that hub and aggregator compute the same way:
/// the wrapping sum of FNV-1a-64 over `id`, `revision` and the withdrawn flag of every record.
/// A sum (not a hash of a sorted list) lets either side add records in any order.
public struct RecordDigest: Sendable, Hashable, CustomStringConvertible {
    public private(set) var value: UInt64 = 0
    public private(set) var count = 0

    public init() {}

    /// Adds one record.
    public mutating func add(id: String, revision: Int64, withdrawn: Bool) {
        value &+= Self.term(id: id, revision: revision, withdrawn: withdrawn)
        count += 1
    }

    static func term(id: String, revision: Int64, withdrawn: Bool) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        for byte in id.utf8 { mix(byte) }
        mix(0x1F)
        for byte in String(revision).utf8 { mix(byte) }
        mix(0x1F)
        mix(withdrawn ? 0x31 : 0x30)
        return hash
    }

    /// 16 lower-case hex digits.
    public var description: String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// What a hub states about itself on `<province>.hub.checkpoint`, once everything up to `seq` is confirmed
/// by the broker: the aggregator, having consumed everything before it, should hold exactly this.
public struct Checkpoint: Sendable, Hashable, Codable {
    public var schema = Envelope.schemaVersion
    public var hub: String
    /// Highest outbox sequence number the hub has published.
    public var seq: Int64
    /// Records not withdrawn.
    public var live: Int
    public var withdrawn: Int
    /// ``RecordDigest`` of all records, as hex.
    public var digest: String
    public var sentAt: String
    /// The hub store's epoch (see ``HubEpoch``); nil from hubs older than epochs.
    public var epoch: String?
    /// For a restored store, the epoch of the backup it came from ("" for a backup from before epochs).
    public var epochParent: String?

    public init(hub: String, seq: Int64, live: Int, withdrawn: Int, digest: String, sentAt: String, epoch: String? = nil,
                epochParent: String? = nil) {
        self.hub = hub
        self.seq = seq
        self.live = live
        self.withdrawn = withdrawn
        self.digest = digest
        self.sentAt = sentAt
        self.epoch = epoch
        self.epochParent = epochParent
    }

    enum CodingKeys: String, CodingKey {
        case schema, hub, seq, live, withdrawn, digest, epoch
        case sentAt = "sent_at"
        case epochParent = "epoch_parent"
    }

    /// The largest checkpoint body accepted: a checkpoint is a few short fields.
    public static let maxBodyBytes = 4096

    public static let kind = "checkpoint"
}

/// Why the aggregator asked a hub to publish records again.
public enum ResyncReason: String, Sendable, Codable, CaseIterable {
    case seqGap = "seq_gap"
    case digestMismatch = "digest_mismatch"
    /// The hub's store has a new epoch (restored or rebuilt) and differs from the catalogue.
    case newEpoch = "new_epoch"
    case manual
}

/// The aggregator's request on `jippnas.control`, routing key `<province>.resync`.
public struct ResyncRequest: Sendable, Hashable, Codable {
    public var schema = Envelope.schemaVersion
    public var hub: String
    /// Republish records changed at or after this sequence number; nil means every record.
    public var fromSeq: Int64?
    public var reason: ResyncReason
    public var requestID: String
    public var requestedAt: String

    public init(hub: String, fromSeq: Int64?, reason: ResyncReason, requestID: String, requestedAt: String) {
        self.hub = hub
        self.fromSeq = fromSeq
        self.reason = reason
        self.requestID = requestID
        self.requestedAt = requestedAt
    }

    enum CodingKeys: String, CodingKey {
        case schema, hub, reason
        case fromSeq = "from_seq"
        case requestID = "request_id"
        case requestedAt = "requested_at"
    }

    /// `<province>.resync`.
    public static func routingKey(province: String) -> String { province + ".resync" }
}

/// JSON codec for hub-level and control messages, validating like ``EnvelopeCodec``.
public enum ControlCodec {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(value)
    }

    /// Decodes a checkpoint received under `routingKey` (`<province>.hub.checkpoint`).
    public static func decodeCheckpoint(_ body: Data, routingKey: String) -> Result<Checkpoint, ValidationReason> {
        guard case .hub(let province, Checkpoint.kind)? = RoutingKey.parse(routingKey) else {
            return .failure(.invalidRoutingKey)
        }
        guard body.count <= Checkpoint.maxBodyBytes else { return .failure(.bodyTooLarge) }
        if let reason = EnvelopeCodec.structuralProblem(body) { return .failure(reason) }
        let checkpoint: Checkpoint
        do {
            checkpoint = try JSONDecoder().decode(Checkpoint.self, from: body)
        } catch let DecodingError.keyNotFound(key, _) {
            return .failure(.missingField(key.stringValue))
        } catch let DecodingError.typeMismatch(_, context) {
            return .failure(.invalidField(context.codingPath.last?.stringValue ?? "checkpoint"))
        } catch {
            return .failure(.malformedJSON)
        }
        guard checkpoint.schema == Envelope.schemaVersion else { return .failure(.unknownSchema) }
        guard checkpoint.hub == province else { return .failure(.provinceMismatch) }
        return validate(checkpoint).map { .failure($0) } ?? .success(checkpoint)
    }

    /// The field rules of a checkpoint after decoding. Seq 0 is a hub that has assigned none yet.
    static func validate(_ checkpoint: Checkpoint) -> ValidationReason? {
        let exact = InnovationLimits.revisionRange.upperBound
        guard (0...exact).contains(checkpoint.seq) else { return .invalidField("seq") }
        guard (0...Int(exact)).contains(checkpoint.live) else { return .invalidField("live") }
        guard (0...Int(exact)).contains(checkpoint.withdrawn) else { return .invalidField("withdrawn") }
        // Lower-case only: the digest is compared as text, so "8E68..." would decode and then never match.
        guard checkpoint.digest.utf8.count == 16,
              checkpoint.digest.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
            return .invalidField("digest")
        }
        guard Timestamp.isValidRFC3339(checkpoint.sentAt) else { return .invalidField("sent_at") }
        if let epoch = checkpoint.epoch, !HubEpoch.isValid(epoch) { return .invalidField("epoch") }
        if let parent = checkpoint.epochParent, !HubEpoch.isValidParent(parent) { return .invalidField("epoch_parent") }
        return nil
    }

    /// Decodes a resync request addressed to `province`.
    public static func decodeResync(_ body: Data, province: String) -> Result<ResyncRequest, ValidationReason> {
        guard body.count <= 4096 else { return .failure(.bodyTooLarge) }
        if let reason = EnvelopeCodec.structuralProblem(body) { return .failure(reason) }
        let request: ResyncRequest
        do {
            request = try JSONDecoder().decode(ResyncRequest.self, from: body)
        } catch let DecodingError.keyNotFound(key, _) {
            return .failure(.missingField(key.stringValue))
        } catch {
            return .failure(.malformedJSON)
        }
        guard request.schema == Envelope.schemaVersion else { return .failure(.unknownSchema) }
        guard request.hub == province else { return .failure(.provinceMismatch) }
        if let from = request.fromSeq, from < 1 { return .failure(.invalidField("from_seq")) }
        return .success(request)
    }
}
