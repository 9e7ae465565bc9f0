import Crypto
import Foundation
import JippnasCore

/// A problem with a key file or the trust store, naming the file and what is wrong.
public struct TrustError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var problem: String
    public init(file: String, problem: String) {
        self.file = file
        self.problem = problem
    }
    public var description: String { "\(file): \(problem)" }
}

/// Key ids name a public key by its content: the first 8 bytes of its SHA-256, in hex. Two hubs can
/// never claim the same id for different keys, and file names carry no authority.
public enum KeyID {
    public static func of(publicKey raw: Data) -> String {
        SHA256.hash(data: raw).prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}

/// AMQP headers that carry a message's signature.
public enum SignatureHeaders {
    /// Base64 of the Ed25519 signature over the body's bytes exactly as published.
    public static let signature = "x-jippnas-signature"
    /// ``KeyID`` of the signing key.
    public static let keyID = "x-jippnas-key-id"
}

/// One hub's Ed25519 signing key (private), as `jippnas keys generate` writes it.
public struct HubSigningKey: Sendable {
    public let province: String
    public let keyID: String
    private let key: Curve25519.Signing.PrivateKey

    /// A new random key for `province`.
    public static func generate(province: String) -> HubSigningKey {
        HubSigningKey(province: province, key: Curve25519.Signing.PrivateKey())
    }

    private init(province: String, key: Curve25519.Signing.PrivateKey) {
        self.province = province
        self.key = key
        self.keyID = KeyID.of(publicKey: key.publicKey.rawRepresentation)
    }

    /// The matching public key, for the aggregator's trust store.
    public var trusted: TrustedKey {
        TrustedKey(province: province, keyID: keyID, publicKey: key.publicKey)
    }

    /// Signs `body`; returns the base64 signature for ``SignatureHeaders/signature``.
    public func sign(_ body: Data) -> String {
        // Signing fails only on a broken entropy source, which is not recoverable here.
        (try? key.signature(for: body))?.base64EncodedString() ?? ""
    }

    /// The private key file's text.
    public var fileText: String {
        """
        # jippnas hub signing key (Ed25519). PRIVATE: keep it mode 0600, readable by the hub only.
        type: ed25519-private
        province: \(province)
        key_id: \(keyID)
        key: \(key.rawRepresentation.base64EncodedString())

        """
    }

    /// Loads a private key file; refuses one that others can read.
    public static func load(path: String) throws(TrustError) -> HubSigningKey {
        let fields = try KeyFile.read(path, type: "ed25519-private")
        if let mode = KeyFile.mode(path), mode & 0o077 != 0 {
            throw TrustError(file: path, problem: String(format: "mode %03o lets others read the private key; chmod 600 it", mode))
        }
        guard let raw = fields.bytes("key"),
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
            throw TrustError(file: path, problem: "key is not a base64 Ed25519 private key")
        }
        let loaded = HubSigningKey(province: try fields.province(path), key: key)
        try fields.checkKeyID(loaded.keyID, path)
        return loaded
    }
}

/// A hub's public key as the aggregator trusts it: the key speaks for exactly one province.
public struct TrustedKey: Sendable {
    public let province: String
    public let keyID: String
    public let publicKey: Curve25519.Signing.PublicKey

    /// Whether `signature` (base64) is `publicKey`'s signature over `body`.
    public func verifies(_ signature: String, over body: Data) -> Bool {
        guard let raw = Data(base64Encoded: signature), raw.count == 64 else { return false }
        return publicKey.isValidSignature(raw, for: body)
    }

    /// The public key file's text.
    public var fileText: String {
        """
        # jippnas hub public key (Ed25519) for the aggregator's trust store.
        type: ed25519-public
        province: \(province)
        key_id: \(keyID)
        key: \(publicKey.rawRepresentation.base64EncodedString())

        """
    }

    /// Loads a public key file.
    public static func load(path: String) throws(TrustError) -> TrustedKey {
        let fields = try KeyFile.read(path, type: "ed25519-public")
        guard let raw = fields.bytes("key"), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
            throw TrustError(file: path, problem: "key is not a base64 Ed25519 public key")
        }
        let keyID = KeyID.of(publicKey: raw)
        try fields.checkKeyID(keyID, path)
        return TrustedKey(province: try fields.province(path), keyID: keyID, publicKey: key)
    }
}

/// The aggregator's trusted public keys: every `*.pub` file of one directory. A province may have any
/// number of keys at once (two during a rotation: the new one is added, hubs switch, the old one is removed).
public struct TrustStore: Sendable {
    public let directory: String
    public let keys: [String: TrustedKey]

    public init(directory: String, keys: [TrustedKey]) {
        self.directory = directory
        self.keys = Dictionary(keys.map { ($0.keyID, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Reads every `*.pub` file; any bad file refuses the whole directory, so a typo never silently drops
    /// a province's key.
    public static func load(directory: String) throws(TrustError) -> TrustStore {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw TrustError(file: directory, problem: "cannot read the trust directory")
        }
        var keys: [TrustedKey] = []
        for name in names.sorted() where name.hasSuffix(".pub") {
            keys.append(try TrustedKey.load(path: directory + "/" + name))
        }
        return TrustStore(directory: directory, keys: keys)
    }

    /// Key ids per province, for logs and status.
    public var summary: String {
        let byProvince = Dictionary(grouping: keys.values, by: \.province)
        return byProvince.keys.sorted().map { "\($0):\(byProvince[$0]!.count)" }.joined(separator: ",")
    }
}

/// The `name: value` text format of key files.
private struct KeyFile {
    var fields: [String: String]

    static func read(_ path: String, type: String) throws(TrustError) -> KeyFile {
        guard let data = FileManager.default.contents(atPath: path), data.count < 4096,
              let text = String(data: data, encoding: .utf8) else {
            throw TrustError(file: path, problem: "cannot read the key file (or it is not a small UTF-8 text)")
        }
        var fields: [String: String] = [:]
        // Any line break: "\r\n" is one Character in Swift, so a file saved on Windows would not split on "\n".
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon]).trimmingWhitespace()] = String(line[line.index(after: colon)...]).trimmingWhitespace()
        }
        guard fields["type"] == type else {
            throw TrustError(file: path, problem: "type must be \(type), found \(fields["type"] ?? "none")")
        }
        return KeyFile(fields: fields)
    }

    static func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? nil
    }

    func bytes(_ name: String) -> Data? { fields[name].flatMap { Data(base64Encoded: $0) } }

    func province(_ path: String) throws(TrustError) -> String {
        guard let p = fields["province"], HubCode.isValid(p) else {
            throw TrustError(file: path, problem: "province must be a Kemendagri province code (or a kabupaten/kota code PP.KK for a regional hub), found \(fields["province"] ?? "none")")
        }
        return p
    }

    func checkKeyID(_ actual: String, _ path: String) throws(TrustError) {
        if let stated = fields["key_id"], stated != actual {
            throw TrustError(file: path, problem: "key_id \(stated) does not match the key (\(actual))")
        }
    }
}
