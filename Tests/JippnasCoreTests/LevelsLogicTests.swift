import Foundation
import JippnasCore
import JippnasTestSupport
import JippnasTrust
import Testing

/// Issue 14's pure parts: hub codes of every level, the provenance chain in the envelope, and its checks
/// against a trust store.
@Suite("Levels: hub codes and the provenance chain")
struct LevelsLogicTests {
    static let sentAt = "2026-11-30T08:00:00Z"
    let surabaya = HubSigningKey.generate(province: "35.78")
    let malang = HubSigningKey.generate(province: "35.73")
    let jatim = HubSigningKey.generate(province: "35")

    /// A record of kabupaten/kota hub `hub`.
    static func record(_ hub: String, id: String = "sby-e-health", revision: Int64 = 1, title: String = "E-Health Surabaya")
        -> Innovation
    {
        var content = SampleData.contents(province: HubCode.province(of: hub), count: 1)[0]
        content.id = id
        content.title = title
        content.region = hub
        return content.innovation(revision: revision, updatedAt: sentAt)
    }

    /// What kabupaten/kota hub `hub` publishes, and its link as the province passes it on.
    func published(_ hub: String = "35.78", record: Innovation? = nil, seq: Int64 = 7, signer: HubSigningKey? = nil)
        -> (body: Data, link: ChainLink)
    {
        let innovation = record ?? Self.record(hub)
        let body = EnvelopeCodec.encode(Envelope(hub: hub, seq: seq, event: .upsert, sentAt: Self.sentAt, innovation: innovation))
        let key = signer ?? surabaya
        return (body, ChainLink(hub: hub, seq: seq, messageID: "m-\(hub)-\(seq)", keyID: key.keyID, signature: key.sign(body),
                                body: body))
    }

    /// The province's relayed envelope around `link`, carrying `record` (the link's own unless given).
    func relayed(_ link: ChainLink, record: Innovation? = nil, hub: String = "35") -> Data {
        EnvelopeCodec.encode(Envelope(hub: hub, seq: 42, event: .upsert, sentAt: Self.sentAt,
                                      innovation: record ?? Self.record(link.hub), chain: [link]))
    }

    func decode(_ body: Data, key: String = "35.innovation.upsert") -> Result<Envelope, ValidationReason> {
        EnvelopeCodec.decode(body, routingKey: key, contentType: "application/json")
    }

    @Test func hubCodesOfBothLevelsAndTheirRoutingKeys() {
        #expect(HubCode.isValid("35") && HubCode.isValid("35.78") && !HubCode.isValid("35.70") && !HubCode.isValid("99.78"))
        #expect(HubCode.isBelow("35.78", relay: "35") && !HubCode.isBelow("33.74", relay: "35") && !HubCode.isBelow("35", relay: "35"))
        #expect(RoutingKey.parse("35.78.innovation.upsert") == .innovation(province: "35.78", event: .upsert))
        #expect(RoutingKey.parse("35.78.hub.checkpoint") == .hub(province: "35.78", kind: "checkpoint"))
        #expect(RoutingKey.parse("35.innovation.withdraw") == .innovation(province: "35", event: .withdraw))
        for bad in ["35.70.innovation.upsert", "35.78.9.innovation.upsert", ".innovation.upsert", "35.78.innovation", "35.hub."] {
            #expect(RoutingKey.parse(bad) == nil, "\(bad)")
        }
        #expect(GlobalID.parse("35.78:sby-e-health")! == ("35.78", "sby-e-health"))
        #expect(WireNames.regionalBindings(province: "35").map(\.pattern) == ["35.*.innovation.*", "35.*.hub.*"])
    }

    @Test func scopesKeepEachLevelToItsOwnHubs() {
        #expect(HubScope.provinces.refusal(for: "35") == nil)
        #expect(HubScope.provinces.refusal(for: "35.78") == .invalidRoutingKey)
        let jawaTimur = HubScope.regions(of: "35", listed: ["35.78"])
        #expect(jawaTimur.refusal(for: "35.78") == nil)
        #expect(jawaTimur.refusal(for: "35.73") == .unlistedHub)
        #expect(jawaTimur.refusal(for: "33.74") == .invalidRoutingKey)
        #expect(jawaTimur.refusal(for: "35") == .invalidRoutingKey)
        #expect(HubScope.regions(of: "35", listed: []).refusal(for: "35.73") == nil)
    }

    @Test func aKabupatenKotaHubPublishesOnlyItsOwnRegion() {
        var record = Self.record("35.78")
        #expect(InnovationValidator.validate(record, province: "35.78") == nil)
        record.region = "35.73"
        #expect(InnovationValidator.validate(record, province: "35.78") == .regionOutsideProvince)
        #expect(InnovationValidator.validate(record, province: "35") == nil, "the province holds every kabupaten/kota")
    }

    @Test func aRelayedEnvelopeIsSchemaTwoAndRoundTripsItsChain() throws {
        let (_, link) = published()
        let body = relayed(link)
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.contains(#""schema":2"#) && text.contains(#""relayed":{"body":""#))
        let envelope = try decode(body).get()
        #expect(envelope.chain == [link])
        #expect(envelope.origin == "35.78")
        #expect(envelope.globalID == "35.78:sby-e-health")
        #expect(envelope.keyInHub == "35.78:sby-e-health")
        #expect(EnvelopeCodec.encode(envelope) == body, "decoding and encoding again gives the same bytes")
        let own = try decode(EnvelopeCodec.encode(Envelope(hub: "35", seq: 1, event: .upsert, sentAt: Self.sentAt,
                                                           innovation: Self.record("35.78")))).get()
        #expect(own.globalID == "35:sby-e-health" && own.keyInHub == "sby-e-health" && own.chain.isEmpty)
    }

    @Test func aRelayedRecordIsOrderedByItsOriginatingStoresEpoch() throws {
        let body = EnvelopeCodec.encode(Envelope(hub: "35.78", seq: 3, event: .upsert, sentAt: Self.sentAt,
                                                 innovation: Self.record("35.78"), epoch: "sby-b", epochParent: "sby-a"))
        let link = ChainLink(hub: "35.78", seq: 3, messageID: "m", keyID: surabaya.keyID, signature: surabaya.sign(body), body: body)
        let envelope = try decode(EnvelopeCodec.encode(Envelope(hub: "35", seq: 42, event: .upsert, sentAt: Self.sentAt,
                                                                innovation: Self.record("35.78"), epoch: "jatim", chain: [link]))).get()
        #expect(envelope.chain[0].epoch == "sby-b", "read from the link's body")
        #expect(envelope.originEpoch == "sby-b" && envelope.epoch == "jatim")
        // A chain stored before the epoch was kept beside it (a hub store's relayed_chain) reads it from the body.
        let stored = try JSONEncoder().encode([link])
        var old = try #require(try JSONSerialization.jsonObject(with: stored) as? [[String: Any]])
        old[0]["epoch"] = nil
        let decoded = try JSONDecoder().decode([ChainLink].self, from: JSONSerialization.data(withJSONObject: old))
        #expect(decoded[0].epoch == "sby-b" && decoded[0].body == body)

        #expect(decoded[0].epochParent == "sby-a" && envelope.chain[0].epochParent == "sby-a")

        // The province passes on only what its own catalogue accepted: nothing is unknown.
        #expect(HubEpoch.decideRelayed(current: "", incoming: "sby-a", parent: nil, isRetired: false) == .adopt)
        #expect(HubEpoch.decideRelayed(current: "", incoming: "sby-b", parent: "sby-a", isRetired: false) == .begin,
                "first seen as a restored store: what was held before belongs to its backup")
        #expect(HubEpoch.decideRelayed(current: "sby-a", incoming: "sby-a", parent: nil, isRetired: false) == .current)
        #expect(HubEpoch.decideRelayed(current: "sby-a", incoming: nil, parent: nil, isRetired: false) == .current)
        #expect(HubEpoch.decideRelayed(current: "sby-a", incoming: "sby-b", parent: "sby-a", isRetired: false) == .begin)
        #expect(HubEpoch.decideRelayed(current: "sby-a", incoming: "sby-c", parent: nil, isRetired: false) == .begin,
                "rebuilt and accepted at the province")
        #expect(HubEpoch.decideRelayed(current: "sby-b", incoming: "sby-a", parent: nil, isRetired: true) == .retired)
        // A change from an epoch its origin has left never overwrites the newer store's record; a repeat stays a duplicate.
        #expect(ApplyDecision.decide(messageSeen: false, storedRevision: 2, incomingRevision: 9, heldFromNewerEpoch: true) == .stale)
        #expect(ApplyDecision.decide(messageSeen: true, storedRevision: 2, incomingRevision: 9, heldFromNewerEpoch: true) == .duplicate)
    }

    @Test func brokenChainsHaveTheirOwnReasons() throws {
        let (body, link) = published()
        func refusal(_ data: Data, key: String = "35.innovation.upsert") -> String? {
            if case .failure(let reason) = decode(data, key: key) { return reason.code }
            return nil
        }
        // The province changed the record it passes on.
        #expect(refusal(relayed(link, record: Self.record("35.78", title: "E-Health Jawa Timur"))) == "chain_content_mismatch")
        // Canonically equal, but not the same bytes: a decomposed é where Surabaya wrote a composed one.
        let composed = published(record: Self.record("35.78", title: "Layanan Caf\u{E9} Sehat")).link
        #expect(refusal(relayed(composed, record: Self.record("35.78", title: "Layanan Cafe\u{301} Sehat"))) == "chain_content_mismatch")
        // A link from another province, or the province itself.
        let foreign = published("33.74", record: Self.record("35.78")).link
        #expect(refusal(relayed(foreign, record: Self.record("35.78"))) == "chain_hub_outside_province")
        // Not base64, no message id, half a signature.
        var mangled = link
        mangled.messageID = ""
        #expect(refusal(relayed(mangled)) == "chain_malformed:relayed.message_id")
        mangled = link
        mangled.signature = nil
        #expect(refusal(relayed(mangled)) == "chain_malformed:relayed.signature")
        let notBase64 = String(decoding: relayed(link), as: UTF8.self).replacingOccurrences(of: link.body.base64EncodedString(), with: "%%%")
        #expect(refusal(Data(notBase64.utf8)) == "chain_malformed:relayed.body")
        // The link's body is no valid envelope of its hub.
        let badInner = Data(String(decoding: body, as: UTF8.self).replacingOccurrences(of: #""seq":7"#, with: #""seq":0"#).utf8)
        var badLink = link
        badLink.body = badInner
        #expect(refusal(relayed(badLink)) == "chain_link_invalid:invalid_field:seq")
        // Schema and field must agree.
        let schemaOne = String(decoding: relayed(link), as: UTF8.self).replacingOccurrences(of: #""schema":2"#, with: #""schema":1"#)
        #expect(refusal(Data(schemaOne.utf8)) == "invalid_field:relayed")
        let own = EnvelopeCodec.encode(Envelope(hub: "35", seq: 1, event: .upsert, sentAt: Self.sentAt, innovation: Self.record("35.78")))
        let schemaTwo = String(decoding: own, as: UTF8.self).replacingOccurrences(of: #""schema":1"#, with: #""schema":2"#)
        #expect(refusal(Data(schemaTwo.utf8)) == "missing_field:relayed")
        // A wrong type inside the link names the field.
        let numberHub = String(decoding: relayed(link), as: UTF8.self).replacingOccurrences(of: #""hub":"35.78""#, with: #""hub":3578"#)
        #expect(refusal(Data(numberHub.utf8)) == "chain_malformed:relayed.hub")
    }

    @Test func everyLinkIsCheckedAgainstTheTrustStore() throws {
        let trust = TrustStore(directory: "t", keys: [surabaya.trusted, malang.trusted, jatim.trusted])
        let policy = ProvenancePolicy(trust: trust, requireSignatures: true, requireUserID: true)
        func verdict(_ link: ChainLink, record: Innovation? = nil) -> String? {
            let envelope = try? decode(relayed(link, record: record)).get()
            return envelope.flatMap { Provenance.checkChain($0.chain, policy: policy)?.code }
        }
        #expect(verdict(published().link) == nil)
        // Signed by a key trusted for another kabupaten/kota, or for the province itself.
        #expect(verdict(published(signer: malang).link) == "chain_key_mismatch")
        #expect(verdict(published(signer: jatim).link) == "chain_key_mismatch")
        // A key nobody trusts.
        #expect(verdict(published(signer: HubSigningKey.generate(province: "35.78")).link) == "chain_unknown_key")
        // The link's body altered after signing (same record, other seq).
        var altered = published().link
        altered.body = published(seq: 8).body
        #expect(verdict(altered) == "chain_bad_signature")
        // Unsigned: refused only when signatures are required.
        var unsigned = published().link
        unsigned.keyID = nil
        unsigned.signature = nil
        #expect(verdict(unsigned) == "chain_missing_signature")
        let envelope = try decode(relayed(unsigned)).get()
        #expect(Provenance.checkChain(envelope.chain, policy: ProvenancePolicy(trust: trust)) == nil)
        #expect(Provenance.checkChain(envelope.chain, policy: .open) == nil)
    }

    @Test func screeningChecksTheRelayingHubFirstThenTheChain() throws {
        let trust = TrustStore(directory: "t", keys: [surabaya.trusted, jatim.trusted])
        let national = ProvenancePolicy(trust: trust, requireSignatures: true, requireUserID: true)
        func screen(_ body: Data, signer: HubSigningKey, user: String = "hub-35", key: String = "35.innovation.upsert",
                    policy: ProvenancePolicy? = nil) -> String
        {
            let message = Screening.Message(routingKey: key, messageID: "m", contentType: "application/json", userID: user,
                                            headers: [SignatureHeaders.keyID: signer.keyID, SignatureHeaders.signature: signer.sign(body)],
                                            body: body)
            switch Screening.screen(message, maxBodyBytes: 65_536, policy: policy ?? national) {
            case .change(let envelope, _): return "change \(envelope.globalID)"
            case .refused(let reason, _): return reason.code
            default: return "other"
            }
        }
        let good = relayed(published().link)
        #expect(screen(good, signer: jatim) == "change 35.78:sby-e-health")
        #expect(screen(good, signer: surabaya) == "signing_key_province_mismatch", "the relaying hub signs, not the origin")
        #expect(screen(relayed(published(signer: jatim).link), signer: jatim) == "chain_key_mismatch")
        // A kabupaten/kota's own key at the national level is not a route.
        #expect(screen(published().body, signer: surabaya, user: "hub-35.78", key: "35.78.innovation.upsert") == "invalid_routing_key")
        // The province's relaying role: Surabaya's own messages, and Surabaya speaking for Malang.
        var regional = national
        regional.scope = .regions(of: "35", listed: ["35.78", "35.73"])
        #expect(screen(published().body, signer: surabaya, user: "hub-35.78", key: "35.78.innovation.upsert", policy: regional)
            == "change 35.78:sby-e-health")
        let asMalang = published("35.73", record: Self.record("35.73", id: "mlg-x")).body
        #expect(screen(asMalang, signer: surabaya, user: "hub-35.78", key: "35.73.innovation.upsert", policy: regional)
            == "user_id_mismatch")
        #expect(screen(asMalang, signer: surabaya, user: "hub-35.73", key: "35.73.innovation.upsert", policy: regional)
            == "signing_key_province_mismatch")
    }
}
