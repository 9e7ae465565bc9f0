import Foundation
import JippnasCore
import JippnasTestSupport
import JippnasTrust
import Testing

@Suite("Strict JSON scan")
struct StrictJSONTests {
    func problem(_ text: String, depth: Int = StrictJSON.defaultMaxDepth) -> StrictJSON.Problem? {
        Array(text.utf8).withUnsafeBytes { StrictJSON.check($0, maxDepth: depth) }
    }

    @Test func acceptsOrdinaryJSON() {
        #expect(problem(#"{"a":1,"b":[true,false,null,-1.5e3],"c":{"d":"\u00e9\n\"x\""}}"#) == nil)
        #expect(problem(#" [ ] "#) == nil)
        #expect(problem(#""\ud83d\ude00""#) == nil)
    }

    @Test func refusesDuplicateKeysIncludingEscapedOnes() {
        #expect(problem(#"{"a":1,"a":2}"#) == .duplicateKey("a"))
        #expect(problem(#"{"x":{"title":1,"\u0074itle":2}}"#) == .duplicateKey("title"))
        #expect(problem(#"{"a":{"k":1},"b":{"k":1}}"#) == nil, "same key in sibling objects is fine")
    }

    @Test func refusesDeepNestingWithoutRecursingFurther() {
        #expect(problem(String(repeating: "[", count: 100_000)) == .tooDeep)
        #expect(problem(String(repeating: "[", count: 3) + String(repeating: "]", count: 3), depth: 3) == nil)
        #expect(problem(String(repeating: "[", count: 4) + String(repeating: "]", count: 4), depth: 3) == .tooDeep)
    }

    @Test(arguments: [
        "", "{", "{\"a\"}", "{\"a\":1,}", "[1 2]", "{\"a\":1}x", "\"\\ud800\"", "\"\\udc00\"", "\"\\q\"", "\"a\u{01}b\"",
        "{'a':1}", "\"unterminated",
    ])
    func refusesMalformedText(_ text: String) {
        #expect(problem(text) == .malformed)
    }
}

@Suite("Signing keys, trust store and provenance checks")
struct ProvenanceTests {
    let key35 = HubSigningKey.generate(province: "35")
    let key33 = HubSigningKey.generate(province: "33")
    let body = Data(#"{"schema":1}"#.utf8)

    var policy: ProvenancePolicy {
        ProvenancePolicy(trust: TrustStore(directory: "t", keys: [key35.trusted, key33.trusted]), requireSignatures: true,
                         requireUserID: true)
    }

    func check(province: String = "35", user: String? = "hub-35", key: HubSigningKey? = nil, body: Data? = nil,
               signature: String? = nil) -> String?
    {
        let signer = key ?? key35
        return Provenance.check(province: province, userID: user, signature: signature ?? signer.sign(self.body),
                                keyID: signer.keyID, body: body ?? self.body, policy: policy)?.code
    }

    @Test func everyDisagreementHasItsReason() {
        #expect(check() == nil)
        #expect(check(user: nil) == "missing_user_id")
        #expect(check(user: "hub-33") == "user_id_mismatch")
        #expect(check(user: "guest") == "user_id_mismatch")
        #expect(check(key: key33) == "signing_key_province_mismatch")
        #expect(check(body: Data(#"{"schema":2}"#.utf8)) == "bad_signature")
        #expect(check(signature: "AAAA") == "bad_signature")
        #expect(check(key: HubSigningKey.generate(province: "35")) == "unknown_signing_key")
        #expect(Provenance.check(province: "35", userID: "hub-35", signature: nil, keyID: nil, body: body, policy: policy)
            == .missingSignature)
    }

    @Test func openPolicyAcceptsUnsignedButStillRefusesAnotherHubsUser() {
        #expect(Provenance.check(province: "35", userID: nil, signature: nil, keyID: nil, body: body, policy: .open) == nil)
        #expect(Provenance.check(province: "35", userID: "guest", signature: nil, keyID: nil, body: body, policy: .open) == nil)
        #expect(Provenance.check(province: "35", userID: "hub-33", signature: nil, keyID: nil, body: body, policy: .open)
            == .userIDMismatch)
    }

    @Test func keyFilesRoundTripAndAPrivateKeyReadableByOthersIsRefused() throws {
        let dir = TempDir("keys")
        let privatePath = dir.file("35.key"), publicPath = dir.file("35.pub")
        try key35.fileText.write(toFile: privatePath, atomically: true, encoding: .utf8)
        try key35.trusted.fileText.write(toFile: publicPath, atomically: true, encoding: .utf8)
        chmod(privatePath, 0o644)
        #expect(throws: TrustError.self) { try HubSigningKey.load(path: privatePath) }
        chmod(privatePath, 0o600)
        let loaded = try HubSigningKey.load(path: privatePath)
        #expect(loaded.keyID == key35.keyID)
        let store = try TrustStore.load(directory: dir.path)
        #expect(store.keys[key35.keyID]?.verifies(loaded.sign(body), over: body) == true)
        #expect(store.summary == "35:1")
    }

    @Test func aTrustStoreWithOneBadFileIsRefusedWhole() throws {
        let dir = TempDir("trust")
        try key35.trusted.fileText.write(toFile: dir.file("35.pub"), atomically: true, encoding: .utf8)
        let forged = key33.trusted.fileText.replacingOccurrences(of: "province: 33", with: "province: 35")
            .replacingOccurrences(of: "key_id: \(key33.keyID)", with: "key_id: \(key35.keyID)")
        try forged.write(toFile: dir.file("forged.pub"), atomically: true, encoding: .utf8)
        #expect(throws: TrustError.self) { try TrustStore.load(directory: dir.path) }
    }
}

@Suite("Hostile corpus, screened without a broker")
struct HostileCorpusScreeningTests {
    @Test func everyCaseGetsItsExpectedVerdict() throws {
        let keys = CorpusKeys()
        let cases = try HostileCorpus.load(keys: keys)
        #expect(cases.filter { !$0.isAccepted }.count >= 50)
        for c in cases {
            let verdict = Screening.screen(c.message, maxBodyBytes: InnovationLimits.defaultMaxBodyBytes, policy: keys.policy)
            switch verdict {
            case .refused(let reason, _):
                #expect(reason.code == c.expect, "case \(c.number) '\(c.name)'")
            case .change(let envelope, _):
                #expect(c.isAccepted, "case \(c.number) '\(c.name)' was accepted; expected \(c.expect)")
                #expect(envelope.globalID == c.globalID)
            case .checkpoint, .otherHubMessage:
                Issue.record("case \(c.number) '\(c.name)': unexpected \(verdict)")
            }
        }
    }
}

@Suite("Broker provisioning definitions")
struct ProvisioningTests {
    @Test func hubUsersAreConfinedToTheirProvince() throws {
        let p = BrokerProvisioning(vhost: "jippnas", hubs: ["35", "33"], passwords: ["hub-35": "a", "hub-33": "b", "aggregator": "c"])
        let d = p.definitions()
        let permissions = try #require(d["permissions"] as? [[String: Any]])
        let hub35 = try #require(permissions.first { $0["user"] as? String == "hub-35" })
        #expect(hub35["configure"] as? String == "^$")
        #expect(hub35["read"] as? String == #"^(jippnas\.control\.35|jippnas\.catalogue\.stream)$"#, "its control queue, and the national feed")
        let topics = try #require(d["topic_permissions"] as? [[String: Any]])
        #expect(topics.filter { $0["user"] as? String == "hub-35" }.allSatisfy { $0["write"] as? String == #"^35\.(innovation|hub)\."# })
        #expect(topics.count == 4)
        let aggregator = try #require(permissions.first { $0["user"] as? String == "aggregator" })
        #expect(aggregator["configure"] as? String == #"^(jippnas\.catalogue|jippnas\.catalogue\.stream)$"#, "the feed is the aggregator's to declare")
        #expect(aggregator["write"] as? String == #"^(jippnas\.control|jippnas\.catalogue|jippnas\.catalogue\.stream)$"#)
        #expect(aggregator["read"] as? String == #"^(jippnas\.national|jippnas\.national\.dead|jippnas\.history|jippnas\.catalogue|jippnas\.catalogue\.stream)$"#)
        let mirror = try #require(permissions.first { $0["user"] as? String == "mirror" })
        #expect(mirror["read"] as? String == #"^(jippnas\.history|jippnas\.catalogue\.stream)$"# && mirror["configure"] as? String == "^$")
    }

    @Test func regionalHubsGetTheirOwnUsersAndTheirProvinceItsRegionalQueue() throws {
        var p = BrokerProvisioning(vhost: "v", hubs: ["35", "33"], passwords: [:])
        p.regionalHubs = ["35.78", "35.73"]
        #expect(p.users.suffix(2) == ["hub-35.78", "hub-35.73"])
        let d = p.definitions()
        let permissions = try #require(d["permissions"] as? [[String: Any]])
        let surabaya = try #require(permissions.first { $0["user"] as? String == "hub-35.78" })
        #expect(surabaya["read"] as? String == #"^(jippnas\.control\.35\.78|jippnas\.catalogue\.stream)$"# && surabaya["configure"] as? String == "^$")
        let jatim = try #require(permissions.first { $0["user"] as? String == "hub-35" })
        #expect(jatim["read"] as? String == #"^(jippnas\.control\.35|jippnas\.catalogue\.stream|jippnas\.regional\.35|jippnas\.regional\.35\.dead)$"#)
        #expect(jatim["write"] as? String == #"^(jippnas\.innovation|jippnas\.hub|jippnas\.control)$"#)
        let jateng = try #require(permissions.first { $0["user"] as? String == "hub-33" })
        #expect(jateng["write"] as? String == #"^(jippnas\.innovation|jippnas\.hub)$"#, "a province relaying nobody asks nobody to resync")
        let topics = try #require(d["topic_permissions"] as? [[String: Any]])
        #expect(topics.filter { $0["user"] as? String == "hub-35.78" }.allSatisfy { $0["write"] as? String == #"^35\.78\.(innovation|hub)\."# })
        #expect(topics.contains { $0["user"] as? String == "hub-35" && $0["exchange"] as? String == "jippnas.control"
            && $0["write"] as? String == #"^35\.[0-9]{2}\.resync$"# })
        let queues = try #require(d["queues"] as? [[String: Any]]).map { $0["name"] as! String }
        #expect(queues.contains("jippnas.regional.35") && queues.contains("jippnas.regional.35.dead") && queues.contains("jippnas.control.35.78"))
        #expect(!queues.contains("jippnas.regional.33"))
        let bindings = try #require(d["bindings"] as? [[String: Any]])
        #expect(bindings.contains { $0["destination"] as? String == "jippnas.regional.35" && $0["routing_key"] as? String == "35.*.innovation.*" })
    }

    @Test func definitionsCarryTheQueueTypesAndTheStream() throws {
        let queues = { (p: BrokerProvisioning) throws -> [String: [String: Any]] in
            let list = try #require(p.definitions()["queues"] as? [[String: Any]])
            return Dictionary(uniqueKeysWithValues: list.map { ($0["name"] as! String, $0["arguments"] as! [String: Any]) })
        }
        let quorum = try queues(BrokerProvisioning(vhost: "v", hubs: ["35"], passwords: [:]))
        #expect(quorum["jippnas.national"]?["x-queue-type"] as? String == "quorum")
        #expect(quorum["jippnas.national"]?["x-delivery-limit"] as? Int64 == 20)
        #expect(quorum["jippnas.history"]?["x-queue-type"] as? String == "stream")
        let classic = try queues(BrokerProvisioning(vhost: "v", hubs: ["35"], passwords: [:],
                                                    topology: NationalTopology(queueType: .classic, history: nil)))
        #expect(classic["jippnas.national"]?["x-queue-type"] == nil && classic["jippnas.history"] == nil)
        #expect(quorum["jippnas.catalogue.stream"] == nil, "one stream per import: the aggregator declares the feed")
        #expect(!BrokerProvisioning(vhost: "v", hubs: [], passwords: [:], topology: NationalTopology(history: nil, feed: nil))
            .users.contains("mirror"))
    }

    @Test func passwordHashIsRabbitSHA256() throws {
        let hash = BrokerProvisioning.passwordHash("secret", salt: [1, 2, 3, 4])
        let raw = try #require(Data(base64Encoded: hash))
        #expect(raw.count == 36)
        #expect(Array(raw.prefix(4)) == [1, 2, 3, 4])
        #expect(BrokerProvisioning.generatePassword().count == 32)
        #expect(BrokerProvisioning.generatePassword() != BrokerProvisioning.generatePassword())
    }
}

@Suite("Byte order marks")
struct ByteOrderMarkTests {
    @Test func aBodyStartingWithABOMIsMalformed() {
        let body = Data([0xEF, 0xBB, 0xBF] + Array(#"{"schema":1}"#.utf8))
        #expect(EnvelopeCodec.structuralProblem(body) == .malformedJSON)
    }
}
