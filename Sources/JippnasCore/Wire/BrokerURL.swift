/// A broker address `amqp://user:pass@host:port/vhost` or `amqps://...` (TLS), parsed once at start-up.
///
/// ``description`` never shows the password, so a URL can be logged or put in an error as it is.
public struct BrokerURL: Sendable, Hashable, CustomStringConvertible {
    /// `amqps://`: the connection is TLS, verified as ``BrokerTLS`` says.
    public var tls: Bool = false
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var vhost: String

    public init(host: String, port: Int = 5672, user: String = "guest", password: String = "guest", vhost: String = "/") {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.vhost = vhost
    }

    /// Why a URL was refused.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var url: String
        public var problem: String
        public var description: String { "invalid broker URL \(BrokerURL.redact(url)): \(problem)" }
    }

    /// Parses `amqp[s]://[user[:password]@]host[:port][/vhost]`; the vhost is percent-decoded
    /// (`%2F` is `/`), an empty path means the default vhost `/`, and the port defaults to 5672 (5671 for amqps).
    public init(parsing text: String) throws(ParseError) {
        let tls = text.hasPrefix("amqps://")
        guard tls || text.hasPrefix("amqp://") else {
            throw ParseError(url: text, problem: "scheme must be amqp:// or amqps://")
        }
        var rest = Substring(text.dropFirst(tls ? "amqps://".count : "amqp://".count))
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var user = "guest", password = "guest"
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = Self.percentDecode(credentials[..<colon])
                password = Self.percentDecode(credentials[credentials.index(after: colon)...])
            } else {
                user = Self.percentDecode(credentials)
            }
        }
        var host = String(rest), port = tls ? 5671 : 5672
        if let colon = rest.lastIndex(of: ":"), !rest.hasPrefix("[") || rest[..<colon].hasSuffix("]") {
            host = String(rest[..<colon])
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw ParseError(url: text, problem: "port must be a number from 1 to 65535")
            }
            port = p
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ParseError(url: text, problem: "host is missing") }
        self.init(host: host, port: port, user: user, password: password,
                  vhost: path.isEmpty ? "/" : Self.percentDecode(path))
        self.tls = tls
    }

    /// Whether the host is this machine (plain AMQP there crosses no network).
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The URL with the password shown as `****`.
    public var description: String {
        let vhostPart = vhost == "/" ? "" : "/" + vhost.replacingSlashes()
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(tls ? "amqps" : "amqp")://\(user):****@\(hostPart):\(port)\(vhostPart)"
    }

    /// Replaces the password in any `scheme://user:password@` text with `****`.
    public static func redact(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") else {
            return text
        }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":****" + String(text[at...])
    }

    private static func percentDecode(_ s: Substring) -> String {
        guard s.contains("%") else { return String(s) }
        var bytes: [UInt8] = []
        var i = s.utf8.startIndex
        let u = s.utf8
        while i < u.endIndex {
            let c = u[i]
            if c == UInt8(ascii: "%"), let h1 = u.index(i, offsetBy: 1, limitedBy: u.endIndex), h1 < u.endIndex,
               let h2 = u.index(i, offsetBy: 2, limitedBy: u.endIndex), h2 < u.endIndex,
               let value = UInt8(String(decoding: [u[h1], u[h2]], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                i = u.index(i, offsetBy: 3)
            } else {
                bytes.append(c)
                i = u.index(after: i)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// How an `amqps://` connection verifies the broker and identifies itself.
public struct BrokerTLS: Sendable, Hashable {
    /// PEM file of the CA(s) that signed the broker's certificate; nil uses the system's bundle.
    public var caFile: String?
    /// PEM client certificate and key, for brokers that require peer certificates.
    public var certFile: String?
    public var keyFile: String?
    /// Check the broker's certificate chain against the CA (on unless explicitly turned off).
    public var verifyPeer: Bool
    /// Check that the certificate names the host in the URL (on unless explicitly turned off).
    public var verifyHostname: Bool

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, verifyPeer: Bool = true,
                verifyHostname: Bool = true)
    {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.verifyPeer = verifyPeer
        self.verifyHostname = verifyHostname
    }

    /// Debian's system CA bundle, used when no CA file is configured.
    public static let systemBundle = "/etc/ssl/certs/ca-certificates.crt"
}

extension String {
    fileprivate func replacingSlashes() -> String {
        var out = ""
        for ch in self { out += ch == "/" ? "%2F" : String(ch) }
        return out
    }
}
