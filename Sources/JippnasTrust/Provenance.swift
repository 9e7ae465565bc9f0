import Foundation
import JippnasCore

/// What the aggregator demands of a message's origin. Reloaded on SIGHUP with the trust store.
public struct ProvenancePolicy: Sendable {
    /// Keys to verify signatures with; nil verifies nothing (signatures are then not required either).
    public var trust: TrustStore?
    /// Refuse messages without a signature.
    public var requireSignatures: Bool
    /// Refuse messages without a broker-validated AMQP user-id naming the province's hub.
    public var requireUserID: Bool
    /// Which hubs may publish to this consumer: provinces (the national aggregator) or one province's
    /// kabupaten/kota (a provincial hub's relaying role).
    public var scope: HubScope

    public init(trust: TrustStore? = nil, requireSignatures: Bool = false, requireUserID: Bool = false,
                scope: HubScope = .provinces)
    {
        self.trust = trust
        self.requireSignatures = requireSignatures
        self.requireUserID = requireUserID
        self.scope = scope
    }

    /// Accepts everything: no trust store, nothing required.
    public static let open = ProvenancePolicy()
}

/// The cross-checks that tie a message to its province: the routing key names a province; the AMQP
/// user-id (which RabbitMQ validates against the login) must be that province's hub user; the signing
/// key must be trusted for that province and its signature must verify over the body. The envelope's
/// `hub` is checked against the routing key by ``EnvelopeCodec``, closing the loop.
public enum Provenance {
    /// The broker user of a province's hub, as `jippnas broker provision` creates it.
    public static func hubUser(province: String) -> String { "hub-" + province }

    /// The first disagreement, or nil when the message may speak for `province`.
    public static func check(province: String, userID: String?, signature: String?, keyID: String?, body: Data,
                             policy: ProvenancePolicy) -> ValidationReason?
    {
        switch precheck(province: province, userID: userID, signature: signature, keyID: keyID, policy: policy) {
        case .refused(let reason): reason
        case .accepted: nil
        case .verify(let pending): pending.verifies(body) ? nil : .badSignature
        }
    }

    /// The first broken link of a provenance chain, or nil when every link holds: each signed link's key
    /// is trusted for exactly that link's hub (a kabupaten/kota key speaks for its own kabupaten/kota, and
    /// the chain's structure already put that under the relaying province) and its signature verifies
    /// over the link's body. As for the message itself, without a trust store nothing is verified, and a
    /// missing signature is refused only when signatures are required.
    public static func checkChain(_ chain: [ChainLink], policy: ProvenancePolicy) -> ValidationReason? {
        guard let trust = policy.trust else { return nil }
        for link in chain {
            switch (link.signature, link.keyID) {
            case (nil, nil):
                if policy.requireSignatures { return .chainMissingSignature }
            case (let signature?, let keyID?):
                guard let key = trust.keys[keyID] else { return .chainUnknownKey }
                guard key.province == link.hub else { return .chainKeyMismatch }
                guard key.verifies(signature, over: link.body) else { return .chainBadSignature }
            default:
                return .chainMalformed("relayed.signature")
            }
        }
        return nil
    }

    /// A signature whose key is trusted for the province, still to be verified over the body. Verifying
    /// costs far more than every other check, so the aggregator does it apart, on several cores at once.
    public struct PendingSignature: Sendable {
        public let key: TrustedKey
        public let signature: String

        public func verifies(_ body: Data) -> Bool { key.verifies(signature, over: body) }
    }

    /// Where the checks before the Ed25519 verification leave a message.
    public enum Precheck: Sendable {
        case refused(ValidationReason)
        case accepted
        /// Everything else agrees; the signature decides (`bad_signature` if it does not verify).
        case verify(PendingSignature)
    }

    /// Every check of ``check(province:userID:signature:keyID:body:policy:)`` but the verification itself.
    public static func precheck(province: String, userID: String?, signature: String?, keyID: String?,
                                policy: ProvenancePolicy) -> Precheck
    {
        switch userID {
        case nil:
            if policy.requireUserID { return .refused(.missingUserID) }
        case let user? where user.hasPrefix("hub-"):
            if user != hubUser(province: province) { return .refused(.userIDMismatch) }
        default:
            if policy.requireUserID { return .refused(.userIDMismatch) }
        }
        // Without a trust store nothing is verified, so signature headers are not looked at.
        guard let trust = policy.trust else { return .accepted }
        switch (signature, keyID) {
        case (nil, nil):
            return policy.requireSignatures ? .refused(.missingSignature) : .accepted
        case (let signature?, let keyID?):
            guard let key = trust.keys[keyID] else { return .refused(.unknownSigningKey) }
            guard key.province == province else { return .refused(.signingKeyProvinceMismatch) }
            return .verify(PendingSignature(key: key, signature: signature))
        default:
            // One header without the other cannot verify; a present signature header must, required or not.
            return .refused(.badSignature)
        }
    }
}
