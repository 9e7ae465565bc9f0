import Foundation
import JippnasCore

/// What the aggregator makes of one delivery, decided without I/O so that every hostile input can be
/// tested without a broker (Tests/Corpus/hostile.ndjson runs through this in unit tests and through a
/// real aggregator in integration tests).
public enum Screening {
    /// The delivery's AMQP facts the decision needs.
    public struct Message: Sendable {
        public var routingKey: String
        public var messageID: String?
        public var contentType: String?
        public var userID: String?
        public var headers: [String: String]
        public var body: Data

        public init(routingKey: String, messageID: String?, contentType: String?, userID: String?,
                    headers: [String: String], body: Data)
        {
            self.routingKey = routingKey
            self.messageID = messageID
            self.contentType = contentType
            self.userID = userID
            self.headers = headers
            self.body = body
        }
    }

    public enum Verdict: Sendable, Equatable {
        /// A valid change of an innovation, with its message id.
        case change(Envelope, messageID: String)
        case checkpoint(Checkpoint)
        /// A hub-level message of a kind this version does not know: acknowledged and ignored.
        case otherHubMessage
        /// Dead-lettered with `reason`; `hub` is the routing key's province when it named one.
        case refused(ValidationReason, hub: String?)
    }

    /// Checks in a fixed order: the routing key; the message id; the size (so nothing large is hashed);
    /// who sent it (user-id, signature); and only then what the body says.
    public static func screen(_ message: Message, maxBodyBytes: Int, policy: ProvenancePolicy) -> Verdict {
        let (verdict, pending) = screenDeferringSignature(message, maxBodyBytes: maxBodyBytes, policy: policy)
        guard let pending, !pending.verifies(message.body) else { return verdict }
        return .refused(.badSignature, hub: RoutingKey.parse(message.routingKey)?.province)
    }

    /// ``screen(_:maxBodyBytes:policy:)`` without the Ed25519 verification of a change. When a signature is
    /// returned, the verdict stands only if it verifies over the body; if not, the verdict is
    /// `bad_signature`, as the signature is checked before the body. Checkpoints are verified here.
    public static func screenDeferringSignature(_ message: Message, maxBodyBytes: Int, policy: ProvenancePolicy)
        -> (Verdict, Provenance.PendingSignature?)
    {
        var pending: Provenance.PendingSignature?
        func provenanceProblem(_ province: String) -> ValidationReason? {
            if message.body.count > maxBodyBytes { return .bodyTooLarge }
            switch Provenance.precheck(province: province, userID: message.userID,
                                       signature: message.headers[SignatureHeaders.signature],
                                       keyID: message.headers[SignatureHeaders.keyID], policy: policy) {
            case .refused(let reason): return reason
            case .accepted: return nil
            case .verify(let signature):
                pending = signature
                return nil
            }
        }
        let verdict = screenChecks(message, maxBodyBytes: maxBodyBytes, scope: policy.scope, provenanceProblem: provenanceProblem)
        if case .refused = verdict { return (verdict, nil) }
        if case .change(let envelope, _) = verdict {
            if envelope.chain.isEmpty { return (verdict, pending) }
            // A relayed change: the relaying hub's own signature first (it covers the chain), then each link.
            let hub = RoutingKey.parse(message.routingKey)?.province
            if let pending, !pending.verifies(message.body) { return (.refused(.badSignature, hub: hub), nil) }
            if let broken = Provenance.checkChain(envelope.chain, policy: policy) { return (.refused(broken, hub: hub), nil) }
            return (verdict, nil)
        }
        // A checkpoint or other hub message: rare, verified at once.
        if let pending, !pending.verifies(message.body) {
            return (.refused(.badSignature, hub: RoutingKey.parse(message.routingKey)?.province), nil)
        }
        return (verdict, nil)
    }

    private static func screenChecks(_ message: Message, maxBodyBytes: Int, scope: HubScope,
                                     provenanceProblem: (String) -> ValidationReason?) -> Verdict
    {
        guard let key = RoutingKey.parse(message.routingKey) else { return .refused(.invalidRoutingKey, hub: nil) }
        let province = key.province
        if let reason = scope.refusal(for: province) {
            return .refused(reason, hub: reason == .invalidRoutingKey ? nil : province)
        }
        // Every message, checkpoints included: its id is logged and (for changes) the deduplication key.
        guard let messageID = message.messageID, !messageID.isEmpty else {
            return .refused(.missingField("message_id"), hub: province)
        }
        guard messageID.utf8.count <= 128, messageID.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .refused(.invalidField("message_id"), hub: province)
        }
        if let reason = provenanceProblem(province) { return .refused(reason, hub: province) }
        switch key {
        case .hub(_, let kind):
            // A kind this version does not read may use any content type; a checkpoint is JSON.
            guard kind == Checkpoint.kind else { return .otherHubMessage }
            guard EnvelopeCodec.isAccepted(contentType: message.contentType) else {
                return .refused(.unsupportedContentType, hub: province)
            }
            switch ControlCodec.decodeCheckpoint(message.body, routingKey: message.routingKey) {
            case .failure(let reason): return .refused(reason, hub: province)
            case .success(let checkpoint): return .checkpoint(checkpoint)
            }
        case .innovation:
            switch EnvelopeCodec.decode(message.body, routingKey: message.routingKey, contentType: message.contentType,
                                        maxBodyBytes: maxBodyBytes) {
            case .failure(let reason): return .refused(reason, hub: province)
            case .success(let envelope): return .change(envelope, messageID: messageID)
            }
        }
    }
}
