import Foundation
import JippnasCore
import JippnasTestSupport
import Testing

@Suite("Broker URLs")
struct BrokerURLTests {
    @Test func parsesEveryPart() throws {
        let u = try BrokerURL(parsing: "amqp://hub35:s3cr%40t@rabbit.example:5673/jippnas")
        #expect(u == BrokerURL(host: "rabbit.example", port: 5673, user: "hub35", password: "s3cr@t", vhost: "jippnas"))
        #expect(try BrokerURL(parsing: "amqp://localhost") == BrokerURL(host: "localhost"))
        #expect(try BrokerURL(parsing: "amqp://u:p@h:1/%2F").vhost == "/")
        #expect(try BrokerURL(parsing: "amqp://[::1]:5672/").host == "::1")
    }

    @Test func neverShowsThePassword() throws {
        let u = try BrokerURL(parsing: "amqp://hub35:topsecret@h:5672/v")
        #expect(!u.description.contains("topsecret"))
        #expect(u.description == "amqp://hub35:****@h:5672/v")
        #expect(BrokerURL.redact("failed amqp://a:topsecret@h/") == "failed amqp://a:****@h/")
    }

    @Test func refusesBadURLsWithoutLeakingThem() {
        #expect(throws: BrokerURL.ParseError.self) { try BrokerURL(parsing: "http://h") }
        #expect(throws: BrokerURL.ParseError.self) { try BrokerURL(parsing: "amqp://u:p@h:99999/") }
        do {
            _ = try BrokerURL(parsing: "amqp://u:hunter2@h:port/")
            Issue.record("expected a parse error")
        } catch {
            #expect(!error.description.contains("hunter2"))
        }
    }
}

@Suite("Timestamps and region codes")
struct TimestampTests {
    @Test func formatsUTCWithMilliseconds() {
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: 1_796_000_000.25)) == "2026-11-30T00:53:20.250Z")
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000Z")
    }

    @Test func validatesRFC3339() {
        for good in ["2026-11-29T10:00:00Z", "2026-11-29T10:00:00.123456Z", "2026-11-29T10:00:00+07:00", Timestamp.now()] {
            #expect(Timestamp.isValidRFC3339(good), "\(good)")
        }
        for bad in ["2026-11-29", "2026-11-29 10:00:00Z", "2026-13-01T00:00:00Z", "2026-11-29T25:00:00Z",
                    "2026-11-29T10:00:00", "2026-11-29T10:00:00.Z", "2026-11-29T10:00:00+0700"] {
            #expect(!Timestamp.isValidRFC3339(bad), "\(bad)")
        }
        #expect(Timestamp.isValidDate("2024-02-29"))
        #expect(!Timestamp.isValidDate("2023-02-29"))
    }

    @Test func regionCodes() {
        #expect(RegionCode.isValid("35.78"))
        #expect(RegionCode.isValid("73.01"))
        #expect(!RegionCode.isValid("35.70"))
        #expect(!RegionCode.isValid("35.00"))
        #expect(!RegionCode.isValid("99.01"))
        #expect(!RegionCode.isValid("3578"))
        #expect(GlobalID.parse("35:sw-surabaya")! == ("35", "sw-surabaya"))
        #expect(GlobalID.parse("35:") == nil)
    }
}

/// Text checks read bytes for speed; these pin them to the Unicode scalars they stand for (the unit
/// docs/PROTOCOL.md gives, which every language counts alike).
@Suite("Text field checks")
struct TextFieldCheckTests {
    func reason(title: String? = nil, summary: String? = nil) -> ValidationReason? {
        var content = SampleData.contents(province: "35", count: 1)[0]
        if let title { content.title = title }
        if let summary { content.summary = summary }
        return InnovationValidator.validate(content, province: "35")
    }

    @Test(arguments: ["a\u{85}b", "Judul \u{202E}balik", "Judul \u{2067}isolasi", "Judul\u{7F}", "Judul\tTab", "Judul\u{9F}x",
                      " Judul", "Judul\n", "ab", "a\u{301}", String(repeating: "é", count: 201), " \u{301}Judul",
                      "\u{A0}Judul", "Judul\u{3000}", "\u{2003}Judul", "Judul\u{85}",
                      String(repeating: "e\u{301}", count: 101)])
    func refusesTitle(_ title: String) {
        #expect(reason(title: title) == .invalidField("title"))
    }

    @Test(arguments: ["Layanan \u{202F}Prima", "Antrean\u{A0}Daring", "Ruang \u{2065}Baca", "Inovasi \u{20AC}", "abc",
                      "a\u{301}b\u{301}c\u{301}", "SIPANDU \u{1F3E5}", "a\u{301}b", String(repeating: "é", count: 200),
                      String(repeating: "e\u{301}", count: 100), String(repeating: "\u{1F3E5}", count: 200)])
    func acceptsTitle(_ title: String) {
        #expect(reason(title: title) == nil)
    }

    @Test("import trims exactly the White_Space the check refuses at either end")
    func importTrimsUnicodeSpaces() {
        #expect("\u{A0}\u{3000} Judul\u{2003}\n".trimmingWhitespace() == "Judul")
        #expect("Antrean\u{A0}Daring".trimmingWhitespace() == "Antrean\u{A0}Daring")
        #expect(reason(title: "\u{A0} Antrean Daring\u{2003}".trimmingWhitespace()) == nil)
    }

    @Test func summaryKeepsNewlinesAndTabsButNotOtherControls() {
        #expect(reason(summary: "Baris satu\r\nBaris dua\tkolom") == nil)
        #expect(reason(summary: "Baris\u{1B}[31m merah") == .invalidField("summary"))
        #expect(reason(summary: String(repeating: "ü", count: 4_000)) == nil)
        #expect(reason(summary: String(repeating: "ü", count: 4_001)) == .invalidField("summary"))
    }
}
