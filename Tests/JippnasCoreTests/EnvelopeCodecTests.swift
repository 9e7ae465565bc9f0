import Foundation
import JippnasCore
import Testing

@Suite("Envelope codec and validation")
struct EnvelopeCodecTests {
    static let record = Innovation(
        id: "sw-surabaya", revision: 3, title: "Sapa Warga", agency: "Diskominfo Kota Surabaya", region: "35.78",
        category: .tataKelolaPemerintahan, kind: .digital, stage: .penerapan, initiator: .perangkatDaerah,
        launchedOn: "2019-03-01", summary: "Kanal aduan", url: "https://sapawarga.surabaya.go.id", status: .active,
        replicates: "73:mks-lorong", updatedAt: "2026-11-29T10:00:00.000Z")
    static let envelope = Envelope(hub: "35", seq: 7, event: .upsert, sentAt: "2026-11-29T10:00:01.000Z", innovation: record)

    func decode(_ body: Data, key: String = "35.innovation.upsert", contentType: String? = "application/json",
                max: Int = InnovationLimits.defaultMaxBodyBytes) -> Result<Envelope, ValidationReason>
    {
        EnvelopeCodec.decode(body, routingKey: key, contentType: contentType, maxBodyBytes: max)
    }

    /// The envelope as a mutable JSON object, to break one thing at a time.
    func json() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: EnvelopeCodec.encode(Self.envelope)) as! [String: Any]
    }

    func reason(_ mutate: (inout [String: Any]) -> Void, key: String = "35.innovation.upsert") throws -> String? {
        var object = try json()
        mutate(&object)
        let body = try JSONSerialization.data(withJSONObject: object)
        if case .failure(let r) = decode(body, key: key) { return r.code }
        return nil
    }

    func innovationReason(_ mutate: (inout [String: Any]) -> Void) throws -> String? {
        try reason { o in
            var i = o["innovation"] as! [String: Any]
            mutate(&i)
            o["innovation"] = i
        }
    }

    @Test func roundTrip() throws {
        let body = EnvelopeCodec.encode(Self.envelope)
        #expect(try decode(body).get() == Self.envelope)
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.contains("\"schema\":1"))
        #expect(text.contains("\"sent_at\":\"2026-11-29T10:00:01.000Z\""))
        #expect(text.contains("\"launched_on\":\"2019-03-01\""))
    }

    @Test func optionalFieldsMayBeAbsent() throws {
        let bare = Innovation(id: "a", revision: 1, title: "Tiga", agency: "OPD", region: "33.74", category: .pendidikan,
                              kind: .nonDigital, stage: .inisiatif, updatedAt: "2026-01-01T00:00:00Z")
        let e = Envelope(hub: "33", seq: 1, event: .withdraw, sentAt: "2026-01-01T00:00:00Z", innovation: bare)
        #expect(try decode(EnvelopeCodec.encode(e), key: "33.innovation.withdraw").get() == e)
    }

    @Test func unknownKeysAreIgnoredForForwardCompatibility() throws {
        #expect(try reason { $0["provenance"] = ["35", "00"] } == nil)
    }

    @Test func transportLevelReasons() throws {
        let good = EnvelopeCodec.encode(Self.envelope)
        #expect(decode(good, max: 100).failureCode == "body_too_large")
        #expect(decode(Data([0x7B, 0xFF, 0xFE, 0x7D])).failureCode == "invalid_utf8")
        #expect(decode(Data("{\"schema\":1,".utf8)).failureCode == "malformed_json")
        #expect(decode(Data("[1,2]".utf8)).failureCode == "invalid_field:schema" || decode(Data("[1,2]".utf8)).failureCode == "malformed_json")
        #expect(decode(good, contentType: "text/plain").failureCode == "unsupported_content_type")
        #expect(decode(good, contentType: "application/json; charset=utf-8").failureCode == nil)
        #expect(decode(good, key: "35.innovation").failureCode == "invalid_routing_key")
        #expect(decode(good, key: "99.innovation.upsert").failureCode == "invalid_routing_key")
        #expect(decode(good, key: "35.innovation.delete").failureCode == "invalid_routing_key")
    }

    @Test func envelopeReasons() throws {
        #expect(try reason { $0["schema"] = 3 } == "unknown_schema")
        #expect(try reason { $0["schema"] = 2 } == "missing_field:relayed", "schema 2 is a relayed change")
        #expect(try reason { $0["schema"] = nil } == "missing_field:schema")
        #expect(try reason { $0["hub"] = nil } == "missing_field:hub")
        #expect(try reason { $0["hub"] = "99" } == "invalid_field:hub")
        #expect(try reason { $0["hub"] = 35 } == "invalid_field:hub")
        #expect(try reason({ _ in }, key: "33.innovation.upsert") == "province_mismatch")
        #expect(try reason({ _ in }, key: "35.innovation.withdraw") == "event_mismatch")
        #expect(try reason { $0["seq"] = nil } == "missing_field:seq")
        #expect(try reason { $0["seq"] = 0 } == "invalid_field:seq")
        #expect(try reason { $0["seq"] = 1.5 } == "invalid_field:seq")
        #expect(try reason { $0["seq"] = 1e30 } == "invalid_field:seq")
        #expect(try reason { $0["seq"] = "7" } == "invalid_field:seq")
        #expect(try reason { $0["event"] = "delete" } == "invalid_field:event")
        #expect(try reason { $0["event"] = nil } == "missing_field:event")
        #expect(try reason { $0["sent_at"] = "yesterday" } == "invalid_field:sent_at")
        #expect(try reason { $0["sent_at"] = nil } == "missing_field:sent_at")
        #expect(try reason { $0["innovation"] = nil } == "missing_field:innovation")
        #expect(try reason { $0["innovation"] = "x" } == "invalid_field:innovation")
    }

    @Test(arguments: ["id", "revision", "title", "agency", "region", "category", "kind", "stage", "status", "updated_at"])
    func everyRequiredInnovationFieldIsNamedWhenMissing(field: String) throws {
        #expect(try innovationReason { $0[field] = nil } == "missing_field:\(field)")
    }

    @Test func innovationFieldReasons() throws {
        #expect(try innovationReason { $0["id"] = "has space" } == "invalid_field:id")
        #expect(try innovationReason { $0["id"] = String(repeating: "a", count: 65) } == "invalid_field:id")
        #expect(try innovationReason { $0["revision"] = 0 } == "invalid_field:revision")
        #expect(try innovationReason { $0["revision"] = "3" } == "invalid_field:revision")
        #expect(try innovationReason { $0["revision"] = 2.5 } == "invalid_field:revision")
        #expect(try innovationReason { $0["title"] = "ab" } == "invalid_field:title")
        #expect(try innovationReason { $0["title"] = "Judul\u{0007}" } == "invalid_field:title")
        #expect(try innovationReason { $0["agency"] = String(repeating: "x", count: 201) } == "invalid_field:agency")
        #expect(try innovationReason { $0["region"] = "35-78" } == "invalid_field:region")
        #expect(try innovationReason { $0["region"] = "35.70" } == "invalid_field:region")
        #expect(try innovationReason { $0["region"] = "33.74" } == "region_outside_province")
        #expect(try innovationReason { $0["category"] = "olahraga" } == "invalid_field:category")
        #expect(try innovationReason { $0["kind"] = "hybrid" } == "invalid_field:kind")
        #expect(try innovationReason { $0["stage"] = "selesai" } == "invalid_field:stage")
        #expect(try innovationReason { $0["status"] = "closed" } == "invalid_field:status")
        #expect(try innovationReason { $0["initiator"] = "presiden" } == "invalid_field:initiator")
        #expect(try innovationReason { $0["launched_on"] = "2023-02-30" } == "invalid_field:launched_on")
        #expect(try innovationReason { $0["summary"] = String(repeating: "s", count: 4001) } == "invalid_field:summary")
        #expect(try innovationReason { $0["benefits"] = String(repeating: "b", count: 2001) } == "invalid_field:benefits")
        #expect(try innovationReason { $0["contact"] = String(repeating: "c", count: 201) } == "invalid_field:contact")
        #expect(try innovationReason { $0["url"] = "javascript:alert(1)" } == "invalid_field:url")
        #expect(try innovationReason { $0["replicates"] = "not-a-global-id" } == "invalid_field:replicates")
        #expect(try innovationReason { $0["replicates"] = "35:sw-surabaya" } == "invalid_field:replicates")
        #expect(try innovationReason { $0["updated_at"] = "2026-11-29 10:00" } == "invalid_field:updated_at")
    }

    @Test func sqlLookingTextIsJustText() throws {
        #expect(try innovationReason { $0["title"] = "x'); DROP TABLE innovation; --" } == nil)
    }
}

extension Result where Failure == ValidationReason {
    var failureCode: String? {
        if case .failure(let r) = self { return r.code }
        return nil
    }
}

/// The envelope writer must produce exactly the bytes `JSONEncoder` (sorted keys, slashes unescaped)
/// produced before it, so that no hub's output changes: every optional set and unset, every escape.
@Suite("Envelope writer")
struct EnvelopeWriterTests {
    /// The Codable form the writer replaced, kept here as the reference.
    struct Reference: Encodable {
        let schema: Int
        let hub: String
        let seq: Int64
        let event: ChangeEvent
        let sentAt: String
        let innovation: Innovation
        let resync: Bool?
        enum CodingKeys: String, CodingKey {
            case schema, hub, seq, event, innovation, resync
            case sentAt = "sent_at"
        }
    }

    func reference(_ e: Envelope) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let wire = Reference(schema: Envelope.schemaVersion, hub: e.hub, seq: e.seq, event: e.event, sentAt: e.sentAt,
                             innovation: e.innovation, resync: e.resync ? true : nil)
        return String(decoding: try encoder.encode(wire), as: UTF8.self)
    }

    static let texts = [
        "Sapa Warga", "Kutip \"ganda\" dan \\garis miring\\ terbalik", "https://a.go.id/x?y=1&z=<2>", "Baris\nbaru\r\ttab",
        "kontrol \u{0}\u{1}\u{8}\u{B}\u{C}\u{1F}\u{7F} selesai", "Ünïcödé — 日本語 🏥 \u{2028}\u{2029} é\u{301}", "'apostrof' & <tag>",
    ]

    @Test(arguments: texts.indices)
    func matchesJSONEncoderByteForByte(_ index: Int) throws {
        let text = Self.texts[index]
        var full = EnvelopeCodecTests.record
        full.title = text
        full.summary = text
        full.benefits = text
        full.contact = text
        full.url = text
        full.revision = Int64(index) * 1_000_000_007
        var bare = full
        (bare.initiator, bare.launchedOn, bare.summary, bare.benefits, bare.contact, bare.url, bare.replicates) =
            (nil, nil, nil, nil, nil, nil, nil)
        for record in [full, bare] {
            for resync in [false, true] {
                let e = Envelope(hub: "35", seq: Int64(index + 1) << 40, event: index % 2 == 0 ? .upsert : .withdraw,
                                 sentAt: "2026-11-29T10:00:01.000Z", innovation: record, resync: resync)
                #expect(String(decoding: EnvelopeCodec.encode(e), as: UTF8.self) == (try reference(e)))
            }
        }
    }
}
