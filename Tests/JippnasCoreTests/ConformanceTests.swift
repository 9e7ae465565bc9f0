import Foundation
import JippnasCore
import JippnasTestSupport
import JippnasTrust
import Testing

/// docs/PROTOCOL.md read as a hub written in another language would read it: each test pins one rule
/// that the document states and the aggregator's screening enforces, so the two cannot drift apart.
@Suite("Protocol conformance (docs/PROTOCOL.md)")
struct ConformanceTests {
    static let key35 = HubSigningKey.generate(province: "35")
    let trusting = ProvenancePolicy(trust: TrustStore(directory: "t", keys: [Self.key35.trusted]))

    func envelope(_ edit: (inout InnovationContent) -> Void = { _ in }, seq: Int64 = 1) -> Data {
        var content = SampleData.contents(province: "35", count: 1)[0]
        edit(&content)
        return EnvelopeCodec.encode(Envelope(hub: "35", seq: seq, event: .upsert, sentAt: "2026-11-29T12:00:00Z",
                                             innovation: content.innovation(revision: 1, updatedAt: "2026-11-29T12:00:00Z")))
    }

    func checkpointBody(_ fields: [String: Any] = [:]) throws -> Data {
        var json: [String: Any] = ["schema": 1, "hub": "35", "seq": 7, "live": 1, "withdrawn": 0,
                                   "digest": "8e68ecfac4fcd4e3", "sent_at": "2026-11-29T13:14:15.263Z"]
        for (k, v) in fields { json[k] = v }
        return try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
    }

    func screen(_ body: Data, routingKey: String = "35.innovation.upsert", messageID: String? = "m-1",
                contentType: String? = "application/json", headers: [String: String] = [:],
                policy: ProvenancePolicy = .open) -> String
    {
        let verdict = Screening.screen(
            Screening.Message(routingKey: routingKey, messageID: messageID, contentType: contentType, userID: nil,
                              headers: headers, body: body),
            maxBodyBytes: InnovationLimits.defaultMaxBodyBytes, policy: policy)
        switch verdict {
        case .change: return "change"
        case .checkpoint: return "checkpoint"
        case .otherHubMessage: return "other"
        case .refused(let reason, _): return reason.code
        }
    }

    @Test("checks order: routing key, message id, size, user-id, signature, content type, body; checkpoints too")
    func checkOrderHoldsForCheckpoints() throws {
        let key = "35.hub.checkpoint"
        #expect(screen(try checkpointBody(), routingKey: key) == "checkpoint")
        #expect(screen(try checkpointBody(), routingKey: key, messageID: nil) == "missing_field:message_id")
        #expect(screen(try checkpointBody(), routingKey: key, messageID: "id with space") == "invalid_field:message_id")
        let huge = Data(repeating: 0x20, count: InnovationLimits.defaultMaxBodyBytes + 1)
        #expect(screen(huge, routingKey: key, messageID: nil) == "missing_field:message_id", "the id is checked before the size")
        #expect(screen(Data("{".utf8), routingKey: key, contentType: "text/plain") == "unsupported_content_type",
                "the content type is checked before the body")
        #expect(screen(try checkpointBody(), routingKey: key, contentType: "text/plain",
                       headers: [SignatureHeaders.keyID: Self.key35.keyID], policy: trusting) == "bad_signature", "the signature before the content type")
        #expect(screen(Data([0xFF]), routingKey: "35.hub.future-kind", contentType: "application/octet-stream") == "other",
                "a hub message of an unknown kind is acknowledged and ignored, whatever its content type")
    }

    @Test("content-type: absent, empty, or application/json in any case with parameters ignored",
          arguments: [nil, "", "application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
                      " application/json "])
    func acceptedContentTypes(_ contentType: String?) {
        #expect(screen(envelope(), contentType: contentType) == "change")
        #expect(screen(try! checkpointBody(), routingKey: "35.hub.checkpoint", contentType: contentType) == "checkpoint")
    }

    @Test("content-type: anything else is refused", arguments: ["text/json", "application/jsonx", "application/json5", "; charset=utf-8"])
    func refusedContentTypes(_ contentType: String) {
        #expect(screen(envelope(), contentType: contentType) == "unsupported_content_type")
    }

    @Test("lengths count Unicode scalar values: 200 scalars pass, 201 do not, whatever their bytes or graphemes")
    func lengthsAreUnicodeScalars() {
        #expect(screen(envelope { $0.title = String(repeating: "e\u{301}", count: 100) }) == "change")
        #expect(screen(envelope { $0.title = String(repeating: "e\u{301}", count: 100) + "x" }) == "invalid_field:title")
        #expect(screen(envelope { $0.title = String(repeating: "\u{1F3E5}", count: 200) }) == "change", "800 bytes, 200 scalars")
        #expect(screen(envelope { $0.title = "a\u{301}" }) == "invalid_field:title", "2 scalars are below the minimum of 3")
        let path = String(repeating: "ü", count: 500 - "https://x.id/".unicodeScalars.count)
        #expect(screen(envelope { $0.url = "https://x.id/" + path }) == "change")
        #expect(screen(envelope { $0.url = "https://x.id/" + path + "ü" }) == "invalid_field:url")
    }

    @Test("no surrounding White_Space, Unicode spaces included; long text keeps LF, CR and tab")
    func surroundingWhitespace() {
        for space in ["\u{A0}", "\u{2003}", "\u{3000}", "\u{85}", " "] {
            #expect(screen(envelope { $0.title = space + "Antrean Daring" }) == "invalid_field:title")
            #expect(screen(envelope { $0.agency = "Dinas Kesehatan" + space }) == "invalid_field:agency")
        }
        #expect(screen(envelope { $0.title = "Antrean\u{A0}Daring" }) == "change", "inside is fine")
        #expect(screen(envelope { $0.summary = "Baris satu\r\nBaris dua\tkolom\rtiga" }) == "change")
        #expect(screen(envelope { $0.url = "https://x.id/a\u{A0}b" }) == "invalid_field:url")
    }

    @Test("a signature header that is present must verify when the aggregator has a trust store, required or not")
    func presentSignaturesMustVerify() {
        let body = envelope()
        let signed = [SignatureHeaders.signature: Self.key35.sign(body), SignatureHeaders.keyID: Self.key35.keyID]
        #expect(screen(body, headers: signed, policy: trusting) == "change")
        #expect(screen(body, headers: [:], policy: trusting) == "change", "unsigned is accepted when not required")
        #expect(screen(body, headers: [SignatureHeaders.signature: "Z2FyYmFnZQ=="], policy: trusting) == "bad_signature")
        #expect(screen(body, headers: [SignatureHeaders.keyID: Self.key35.keyID], policy: trusting) == "bad_signature")
        #expect(screen(body, headers: [SignatureHeaders.signature: "Z2FyYmFnZQ==", SignatureHeaders.keyID: Self.key35.keyID],
                       policy: trusting) == "bad_signature")
        #expect(screen(body, headers: [SignatureHeaders.signature: "Z2FyYmFnZQ=="]) == "change", "no trust store: nothing is verified")
    }

    @Test("checkpoint fields: lower-case hex digest, seq from 0, counts and sent_at checked one by one, at most 4,096 bytes")
    func checkpointFields() throws {
        let key = "35.hub.checkpoint"
        #expect(screen(try checkpointBody(["digest": "8E68ECFAC4FCD4E3"]), routingKey: key) == "invalid_field:digest")
        #expect(screen(try checkpointBody(["digest": "8e68ecfac4fcd4e"]), routingKey: key) == "invalid_field:digest")
        #expect(screen(try checkpointBody(["seq": 0, "live": 0]), routingKey: key) == "checkpoint", "a hub with no changes yet")
        #expect(screen(try checkpointBody(["seq": -1]), routingKey: key) == "invalid_field:seq")
        #expect(screen(try checkpointBody(["live": -1]), routingKey: key) == "invalid_field:live")
        #expect(screen(try checkpointBody(["withdrawn": -1]), routingKey: key) == "invalid_field:withdrawn")
        #expect(screen(try checkpointBody(["sent_at": "yesterday"]), routingKey: key) == "invalid_field:sent_at")
        #expect(screen(try checkpointBody(["epoch": "e 1"]), routingKey: key) == "invalid_field:epoch")
        #expect(screen(try checkpointBody(["note": String(repeating: "x", count: 4000)]), routingKey: key) == "body_too_large")
        #expect(screen(envelope(seq: 0)) == "invalid_field:seq", "a change's seq starts at 1")
    }

    @Test("epoch and epoch_parent: optional in envelopes, 1-64 characters of A-Z a-z 0-9 . _ - (a parent may be empty)")
    func envelopeEpoch() throws {
        var json = try #require(try JSONSerialization.jsonObject(with: envelope()) as? [String: Any])
        json["epoch"] = "9f3c2a71d0b44e65"
        let body = try JSONSerialization.data(withJSONObject: json)
        #expect(try EnvelopeCodec.decode(body, routingKey: "35.innovation.upsert", contentType: nil).get().epoch == "9f3c2a71d0b44e65")
        json["epoch_parent"] = ""
        #expect(try EnvelopeCodec.decode(try JSONSerialization.data(withJSONObject: json), routingKey: "35.innovation.upsert",
                                         contentType: nil).get().epochParent == "", "\"\" is a backup from before epochs")
        json["epoch_parent"] = "a/b"
        #expect(screen(try JSONSerialization.data(withJSONObject: json)) == "invalid_field:epoch_parent")
        json["epoch_parent"] = nil
        json["epoch"] = "bad/epoch"
        #expect(screen(try JSONSerialization.data(withJSONObject: json)) == "invalid_field:epoch")
    }

    @Test("a resync request: from_seq absent means every record, else at least 1; hub must be the queue's province")
    func resyncRequests() throws {
        let request = ResyncRequest(hub: "35", fromSeq: nil, reason: .newEpoch, requestID: "r-1", requestedAt: "2026-11-29T13:15:25.528Z")
        let body = try ControlCodec.encode(request)
        #expect(String(decoding: body, as: UTF8.self).contains(#""reason":"new_epoch""#))
        #expect(try ControlCodec.decodeResync(body, province: "35").get() == request)
        #expect(ControlCodec.decodeResync(body, province: "33") == .failure(.provinceMismatch))
        var from0 = request
        from0.fromSeq = 0
        #expect(ControlCodec.decodeResync(try ControlCodec.encode(from0), province: "35") == .failure(.invalidField("from_seq")))
    }

    @Test("key files: name: value lines, # comments and blank lines ignored, key_id checked when given")
    func keyFileFormat() throws {
        let dir = TempDir("keys")
        let key = HubSigningKey.generate(province: "35")
        let text = "# comment line\n\n" + key.trusted.fileText.replacingOccurrences(of: "\n", with: "\r\n") + "# trailing\n"
        try text.write(toFile: dir.file("35-\(key.keyID).pub"), atomically: true, encoding: .utf8)
        let store = try TrustStore.load(directory: dir.path)
        #expect(store.keys[key.keyID]?.province == "35")
    }
}
