import Foundation
import JippnasCore
import JippnasTrust

/// The signing keys a corpus run uses: two trusted keys for 35 (a rotation), one for 33, one untrusted.
public struct CorpusKeys: Sendable {
    public let primary35 = HubSigningKey.generate(province: "35")
    public let second35 = HubSigningKey.generate(province: "35")
    public let key33 = HubSigningKey.generate(province: "33")
    public let untrusted35 = HubSigningKey.generate(province: "35")

    public init() {}

    /// What the aggregator trusts and requires in corpus runs.
    public var policy: ProvenancePolicy {
        ProvenancePolicy(trust: TrustStore(directory: "corpus", keys: [primary35.trusted, second35.trusted, key33.trusted]),
                         requireSignatures: true, requireUserID: true)
    }

    /// Writes the trusted public keys into `directory`, as an operator would.
    public func writeTrustStore(_ directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for key in [primary35, second35, key33] {
            try key.trusted.fileText.write(toFile: "\(directory)/\(key.province)-\(key.keyID).pub", atomically: true, encoding: .utf8)
        }
    }
}

/// One message of `Tests/Corpus/hostile.ndjson`, ready to publish.
public struct HostileCase: Sendable {
    public var number: Int
    public var name: String
    /// The dead-letter reason code, or "accept".
    public var expect: String
    /// The delivery as the aggregator will see it.
    public var message: Screening.Message

    public var isAccepted: Bool { expect == "accept" }
    /// The global id an accepted case is stored under.
    public var globalID: String { "35:corpus-\(number)" }
}

public enum HostileCorpus {
    public static var path: String { repositoryRoot + "/Tests/Corpus/hostile.ndjson" }

    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Every case of the corpus, signed with `keys` as each case says.
    public static func load(keys: CorpusKeys) throws -> [HostileCase] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var cases: [HostileCase] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("//") && !line.isEmpty {
            guard let spec = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let name = spec["name"] as? String, let expect = spec["expect"] as? String else {
                throw Malformed(description: "corpus line is not an object with name and expect: \(line)")
            }
            cases.append(try make(number: cases.count + 1, name: name, expect: expect, spec: spec, keys: keys))
        }
        return cases
    }

    private static func make(number n: Int, name: String, expect: String, spec: [String: Any], keys: CorpusKeys) throws
        -> HostileCase
    {
        func optional(_ key: String, default value: String?) -> String? {
            guard let raw = spec[key] else { return value }
            return raw is NSNull ? nil : raw as? String
        }
        var body: Data
        if let text = spec["body"] as? String {
            body = Data(text.utf8)
        } else if let encoded = spec["body_base64"] as? String {
            guard let data = Data(base64Encoded: encoded) else { throw Malformed(description: "\(name): bad body_base64") }
            body = data
        } else if let template = spec["body_template"] as? String {
            body = Data(template.replacingOccurrences(of: "{n}", with: "\(n)")
                .replacingOccurrences(of: "corpus-raw-0", with: "corpus-\(n)").utf8)
        } else if let generate = spec["generate"] as? String {
            body = try generated(generate, n: n)
        } else {
            var envelope = baseEnvelope(n)
            for (path, value) in spec["patch"] as? [String: Any] ?? [:] {
                let resolved = (value as? String).map { $0.replacingOccurrences(of: "{n}", with: "\(n)") } ?? value
                set(&envelope, path.split(separator: ".").map(String.init), resolved)
            }
            for path in spec["remove"] as? [String] ?? [] { set(&envelope, path.split(separator: ".").map(String.init), nil) }
            body = try JSONSerialization.data(withJSONObject: envelope, options: [.sortedKeys])
        }
        var headers: [String: String] = [:]
        func sign(_ key: HubSigningKey, _ data: Data) {
            headers[SignatureHeaders.signature] = key.sign(data)
            headers[SignatureHeaders.keyID] = key.keyID
        }
        switch spec["sign"] as? String ?? "35a" {
        case "none": break
        case "35b": sign(keys.second35, body)
        case "33": sign(keys.key33, body)
        case "unknown": sign(keys.untrusted35, body)
        case "garbage":
            headers[SignatureHeaders.signature] = "!!not-base64!!"
            headers[SignatureHeaders.keyID] = keys.primary35.keyID
        case "tamper":
            sign(keys.primary35, body)
            body = Data(String(decoding: body, as: UTF8.self).replacingOccurrences(of: "Korpus", with: "Palsu").utf8)
        default: sign(keys.primary35, body)
        }
        return HostileCase(
            number: n, name: name, expect: expect,
            message: Screening.Message(
                routingKey: spec["routing_key"] as? String ?? "35.innovation.upsert",
                messageID: optional("message_id", default: "corpus-\(n)-\(UUID().uuidString.prefix(8))"),
                contentType: optional("content_type", default: EnvelopeCodec.contentType),
                userID: optional("user_id", default: "hub-35"), headers: headers, body: body))
    }

    /// The valid envelope patched cases start from.
    public static func baseEnvelope(_ n: Int) -> [String: Any] {
        [
            "schema": 1, "hub": "35", "seq": 500_000 + n, "event": "upsert", "sent_at": "2026-11-29T08:00:00Z",
            "innovation": [
                "id": "corpus-\(n)", "revision": 1, "title": "Inovasi Korpus", "agency": "Dinas Kominfo", "region": "35.78",
                "category": "kesehatan", "kind": "digital", "stage": "penerapan", "status": "active",
                "updated_at": "2026-11-29T08:00:00Z",
            ] as [String: Any],
        ]
    }

    private static func generated(_ recipe: String, n: Int) throws -> Data {
        let parts = recipe.split(separator: ":")
        switch (parts.first, parts.count > 1 ? Int(parts[1]) : nil) {
        case ("huge", _):
            var envelope = baseEnvelope(n)
            set(&envelope, ["innovation", "summary"], String(repeating: "a", count: 70_000))
            return try JSONSerialization.data(withJSONObject: envelope)
        case ("deep_array", let depth?):
            return Data((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8)
        case ("deep_object", let depth?):
            return Data((String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)).utf8)
        default:
            throw Malformed(description: "unknown generate recipe \(recipe)")
        }
    }

    /// Sets (or with nil removes) the value at a dotted path of nested dictionaries.
    private static func set(_ object: inout [String: Any], _ path: [String], _ value: Any?) {
        guard let first = path.first else { return }
        if path.count == 1 {
            object[first] = value
            return
        }
        var inner = object[first] as? [String: Any] ?? [:]
        set(&inner, Array(path.dropFirst()), value)
        object[first] = inner
    }
}
