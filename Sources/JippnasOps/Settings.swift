import Configuration
import Foundation
import JippnasCore
import Logging
import SystemPackage

/// A configuration problem, naming the key and what is wrong with its value.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var problem: String
    public init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }
    public var description: String { "config \(key): \(problem)" }
}

/// Broker connection settings shared by both daemons.
public struct BrokerSettings: Sendable, Equatable {
    /// Tried in turn; several URLs name the nodes of a cluster.
    public var urls: [BrokerURL]
    /// Requested heartbeat in seconds.
    public var heartbeat: Int
    /// Limit for connect, handshake and each RPC.
    public var timeout: Duration
    /// How `amqps://` URLs verify the broker.
    public var tls: BrokerTLS
    /// Declare exchanges and queues on connect (false on a provisioned broker, whose users may not).
    public var declareTopology: Bool

    public init(urls: [BrokerURL], heartbeat: Int = 30, timeout: Duration = .seconds(10), tls: BrokerTLS = BrokerTLS(),
                declareTopology: Bool = true)
    {
        self.urls = urls
        self.heartbeat = heartbeat
        self.timeout = timeout
        self.tls = tls
        self.declareTopology = declareTopology
    }

    /// URLs whose traffic crosses a network unencrypted, for the start-up warning.
    public var plainRemoteURLs: [BrokerURL] { urls.filter { !$0.tls && !$0.isLoopback } }
}

/// Everything the hub daemon and the hub CLI commands read from config.
public struct HubSettings: Sendable, Equatable {
    public var province: String
    public var database: String
    public var broker: BrokerSettings
    /// Most publishes awaiting a confirm at once.
    public var confirmWindow: Int
    /// Outbox rows read per query.
    public var batchSize: Int
    /// How often an idle relay looks for new outbox rows.
    public var idlePoll: Duration
    /// How often the hub publishes its checkpoint (also on start and after answering a resync).
    public var checkpointInterval: Duration
    public var logLevel: Logger.Level
    public var logFormat: LogFormat = .text
    /// Longest a graceful stop may take before work in flight is abandoned (below systemd's TimeoutStopSec).
    public var shutdownGrace: Duration = .seconds(20)
    /// `host:port` of the optional `/metrics` and `/healthz` listener; nil keeps it off.
    public var httpListen: String?
    /// The hub's Ed25519 private key file (`jippnas keys generate`); nil publishes unsigned.
    public var signingKeyFile: String?
    /// A provincial hub's relaying role for its kabupaten/kota hubs; nil for a hub that relays none.
    public var regional: RegionalSettings?

    public init(province: String, database: String, broker: BrokerSettings, confirmWindow: Int = 1000,
                batchSize: Int = 500, idlePoll: Duration = .milliseconds(200), checkpointInterval: Duration = .seconds(60),
                logLevel: Logger.Level = .info)
    {
        self.checkpointInterval = checkpointInterval
        self.province = province
        self.database = database
        self.broker = broker
        self.confirmWindow = confirmWindow
        self.batchSize = batchSize
        self.idlePoll = idlePoll
        self.logLevel = logLevel
    }
}

/// A provincial hub's relaying role (config section `regional`): it consumes its kabupaten/kota hubs'
/// queue into a catalogue of their own, exactly as the national aggregator does with provinces, and
/// passes what it accepts upward through the hub's outbox with a provenance chain.
public struct RegionalSettings: Sendable, Equatable {
    /// The kabupaten/kota hubs it takes messages from (`regional.hubs`); empty takes every one of the province.
    public var hubs: [String]
    /// The catalogue of what the hubs below published (`regional.catalogue`).
    public var catalogue: String
    /// Their trusted public keys (`regional.keys_dir`); nil verifies no signatures.
    public var trustDir: String?
    public var requireSignatures = false
    public var requireUserID = false

    public init(hubs: [String], catalogue: String, trustDir: String? = nil) {
        self.hubs = hubs
        self.catalogue = catalogue
        self.trustDir = trustDir
    }

    /// The largest kabupaten/kota body a province accepts: relayed, it travels base64 inside the
    /// province's envelope (4/3 of it, plus the record once more), which must stay within the national
    /// default `consumer.max_body_bytes` of 64 KiB.
    public static let maxBodyBytes = 24 * 1024

    /// The aggregator settings of the role: the hub's broker, the regional queue, its own catalogue.
    public func aggregatorSettings(province: String, broker: BrokerSettings, logLevel: Logger.Level) -> AggregatorSettings {
        var settings = AggregatorSettings(database: catalogue, broker: broker, logLevel: logLevel)
        settings.source = .regional(province: province)
        settings.maxBodyBytes = Self.maxBodyBytes
        settings.trustDir = trustDir
        settings.requireSignatures = requireSignatures
        settings.requireUserID = requireUserID
        settings.topology.history = nil
        settings.topology.feed = nil
        return settings
    }
}

/// Everything the aggregator daemon and the catalogue commands read from config.
public struct AggregatorSettings: Sendable, Equatable {
    public var database: String
    public var broker: BrokerSettings
    public var prefetch: Int
    /// Messages committed per SQLite transaction at most.
    public var batchSize: Int
    /// Longest a partial batch waits for more messages before it is committed.
    public var batchMaxWait: Duration
    public var maxBodyBytes: Int
    /// A sequence gap open this long makes the aggregator ask the hub to resync.
    public var gapTimeout: Duration
    /// Least time between two resync requests to one hub.
    public var resyncMinInterval: Duration
    public var logLevel: Logger.Level
    public var logFormat: LogFormat = .text
    /// Longest a graceful stop may take before work in flight is abandoned (below systemd's TimeoutStopSec).
    public var shutdownGrace: Duration = .seconds(20)
    /// `host:port` of the optional `/metrics` and `/healthz` listener; nil keeps it off.
    public var httpListen: String?
    /// What the catalogue's HTTP API and web page send to browsers and caches.
    public var web = WebSettings()
    /// Directory of trusted hub public keys (`*.pub`); nil verifies no signatures.
    public var trustDir: String?
    /// Dead-letter messages without a signature (needs ``trustDir``).
    public var requireSignatures = false
    /// Dead-letter messages whose AMQP user-id is absent or not `hub-<province>`.
    public var requireUserID = false
    /// The national queue's type and delivery limit, and the history stream's retention.
    public var topology = NationalTopology()
    /// Where the aggregator reads from.
    public var source = ConsumeSource.queue
    /// How often the national feed carries a checkpoint, and a snapshot (`feed.checkpoint_interval_s`,
    /// `feed.snapshot_interval_h`).
    public var feedCheckpointInterval = Duration.seconds(60)
    public var feedSnapshotInterval = Duration.seconds(86_400)

    public init(database: String, broker: BrokerSettings, prefetch: Int = 1000, batchSize: Int = 500,
                batchMaxWait: Duration = .milliseconds(50), maxBodyBytes: Int = InnovationLimits.defaultMaxBodyBytes,
                gapTimeout: Duration = .seconds(30), resyncMinInterval: Duration = .seconds(60),
                logLevel: Logger.Level = .info)
    {
        self.gapTimeout = gapTimeout
        self.resyncMinInterval = resyncMinInterval
        self.database = database
        self.broker = broker
        self.prefetch = prefetch
        self.batchSize = batchSize
        self.batchMaxWait = batchMaxWait
        self.maxBodyBytes = maxBodyBytes
        self.logLevel = logLevel
    }
}

/// Where an aggregator reads the hubs' messages from.
public enum ConsumeSource: Sendable, Equatable {
    /// Its own queue, `jippnas.national`: the primary.
    case queue
    /// The history stream `jippnas.history`, from `start` when the catalogue has read nothing of it yet, else
    /// from just after the offset it has applied: a mirror, or a catalogue being rebuilt.
    case stream(start: StreamStart)
    /// `jippnas.regional.<province>`: a provincial hub's relaying role, reading its kabupaten/kota hubs.
    case regional(province: String)

    /// The queue or stream consumed.
    public var queueName: String {
        switch self {
        case .queue: WireNames.nationalQueue
        case .stream: WireNames.historyStream
        case .regional(let province): WireNames.regionalQueue(province: province)
        }
    }
}

/// Loads settings: command-line options override environment variables (`JIPPNAS_` + the key in upper
/// case with `_` for `.`, for example `JIPPNAS_BROKER_URLS`), which override the YAML file, which
/// overrides the paths of systemd credentials (`$CREDENTIALS_DIRECTORY`), which override the defaults
/// documented in `Config/*.yaml`.
public enum SettingsLoader {
    /// Default config file of each role, used when `--config` is not given and the file exists.
    public static func defaultFile(role: String) -> String { "/etc/jippnas/\(role).yaml" }

    /// The config file actually read: the given one, else the role's default when it exists, else "none".
    public static func effectiveFile(role: String, file: String?) -> String {
        if let file { return file }
        let fallback = defaultFile(role: role)
        return FileManager.default.fileExists(atPath: fallback) ? fallback : "none"
    }

    /// The credential names a daemon of `role` looks for, first match wins. The packaged units load the
    /// role's directory (`LoadCredential=hub:/etc/jippnas/credentials/hub`), which systemd names
    /// `hub_broker-password`; the plain name serves a unit that loads single files.
    public static func credentialNames(role: String, name: String) -> [String] { ["\(role)_\(name)", name] }

    /// The parser's message ("4:4: error: parser: while parsing a flow sequence in line 3, column 15 did
    /// not find expected ',' or ']'") without the snippet of the file that follows it: a refused reload
    /// is one journal line, not the config file. The message ends at its first line ending in ":".
    public static func yamlProblem(_ error: any Error) -> String {
        var kept: [Substring] = []
        for line in "\(error)".split(whereSeparator: \.isNewline) {
            if line == "Context:" || kept.count == 3 { break }
            kept.append(line)
            if line.hasSuffix(":") { break }
        }
        var text = kept.joined(separator: " ")
        if text.hasSuffix(":") { text.removeLast() }
        return text.count > 240 ? String(text.prefix(240)) + "..." : text
    }

    /// systemd's `LoadCredential=`, so that secrets stay out of the config file and the unit: the paths
    /// of the role's credentials, as `broker.password_file` and `signing.key_file`. Below the config
    /// file in precedence: a path the operator wrote there wins.
    static func credentialProvider(role: String, environment: [String: String]) -> InMemoryProvider? {
        guard let dir = environment["CREDENTIALS_DIRECTORY"] else { return nil }
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, name) in [("broker.password_file", "broker-password"), ("signing.key_file", "signing-key")] {
            if let path = credentialNames(role: role, name: name).map({ dir + "/" + $0 })
                .first(where: { FileManager.default.fileExists(atPath: $0) })
            {
                values[AbsoluteConfigKey(ConfigKey(key))] = ConfigValue(.string(path), isSecret: false)
            }
        }
        return values.isEmpty ? nil : InMemoryProvider(name: "systemd credentials", values: values)
    }

    /// Builds the layered reader.
    ///
    /// - Parameters:
    ///   - file: the YAML file from `--config`; nil uses ``defaultFile(role:)`` if it exists.
    ///   - overrides: values given on the command line, by config key.
    ///   - environment: the process environment (injectable for tests).
    public static func reader(role: String, file: String?, overrides: [String: ConfigContent],
                              environment: [String: String] = ProcessInfo.processInfo.environment) async throws
        -> ConfigReader
    {
        var providers: [any ConfigProvider] = []
        let values = Dictionary(uniqueKeysWithValues: overrides.map { (AbsoluteConfigKey(ConfigKey($0.key)), ConfigValue($0.value, isSecret: false)) })
        providers.append(InMemoryProvider(name: "command line", values: values))
        var prefixed: [String: String] = [:]
        for (name, value) in environment where name.hasPrefix("JIPPNAS_") { prefixed[String(name.dropFirst(8))] = value }
        providers.append(EnvironmentVariablesProvider(environmentVariables: prefixed, secretsSpecifier: .specific(["BROKER_URLS"])))
        let path = file ?? defaultFile(role: role)
        if file != nil || FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigError(key: "--config", problem: "cannot read \(path)")
            }
            let fileProvider: FileProvider<YAMLSnapshot>
            do {
                fileProvider = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path))
            } catch {
                throw ConfigError(key: "--config", problem: "\(path) is not valid YAML: \(yamlProblem(error))")
            }
            if holdsSecret(ConfigReader(provider: fileProvider)) { try checkSecretFile(path, key: "--config") }
            providers.append(fileProvider)
        }
        if let credentials = credentialProvider(role: role, environment: environment) { providers.append(credentials) }
        return ConfigReader(providers: providers)
    }

    public static func hub(_ config: ConfigReader) throws(ConfigError) -> HubSettings {
        var settings = try hubCore(config)
        let r = Reader(config)
        try common(r, &settings.logFormat, &settings.shutdownGrace)
        settings.httpListen = r.string("http.listen")
        settings.signingKeyFile = try r.readableFile("signing.key_file")
        settings.regional = try regional(r, province: settings.province)
        return settings
    }

    private static func regional(_ r: Reader, province: String) throws(ConfigError) -> RegionalSettings? {
        guard try r.bool("regional.enabled", default: false) else { return nil }
        guard !HubCode.isRegional(province) else {
            throw ConfigError(key: "regional.enabled", problem: "a kabupaten/kota hub (\(province)) has no hubs below it")
        }
        // Spelled out: as one `??` chain of closures this took the type checker half a second.
        let listed: [String]
        if let array = r.config.stringArray(forKey: "regional.hubs") {
            listed = array
        } else if let text = r.string("regional.hubs") {
            listed = text.split(separator: ",").map { String($0).trimmingWhitespace() }
        } else {
            listed = []
        }
        for hub in listed where !HubCode.isBelow(hub, relay: province) {
            throw ConfigError(key: "regional.hubs", problem: "\(hub) is not a kabupaten/kota code of province \(province) (write it quoted, \"35.78\")")
        }
        var settings = RegionalSettings(hubs: listed, catalogue: r.string("regional.catalogue") ?? "/var/lib/jippnas/regional.sqlite",
                                        trustDir: r.string("regional.keys_dir"))
        settings.requireSignatures = try r.bool("regional.require_signatures", default: false)
        settings.requireUserID = try r.bool("regional.require_user_id", default: false)
        if settings.requireSignatures && settings.trustDir == nil {
            throw ConfigError(key: "regional.require_signatures", problem: "needs regional.keys_dir: the public keys to verify with")
        }
        return settings
    }

    public static func aggregator(_ config: ConfigReader) throws(ConfigError) -> AggregatorSettings {
        var settings = try aggregatorCore(config)
        let r = Reader(config)
        try common(r, &settings.logFormat, &settings.shutdownGrace)
        settings.httpListen = r.string("http.listen")
        settings.web.corsAllowOrigin = r.string("http.cors_allow_origin")
        settings.web.cacheMaxAge = try r.int("http.cache_max_age_s", default: settings.web.cacheMaxAge, in: 0...86_400)
        settings.trustDir = r.string("trust.keys_dir")
        settings.requireSignatures = try r.bool("trust.require_signatures", default: false)
        settings.requireUserID = try r.bool("trust.require_user_id", default: false)
        settings.topology = try nationalTopology(r)
        settings.source = try consumeSource(r)
        settings.feedCheckpointInterval = .seconds(try r.int("feed.checkpoint_interval_s", default: 60, in: 1...86_400))
        settings.feedSnapshotInterval = .seconds(3600 * (try r.int("feed.snapshot_interval_h", default: 24, in: 1...8_760)))
        if case .stream = settings.source, settings.topology.history == nil {
            throw ConfigError(key: "consumer.source", problem: "stream needs the history stream (history.enabled: true)")
        }
        if settings.requireSignatures && settings.trustDir == nil {
            throw ConfigError(key: "trust.require_signatures", problem: "needs trust.keys_dir: the public keys to verify with")
        }
        return settings
    }

    /// Whether a config file's text holds a broker password worth protecting. The well-known `guest:guest`
    /// (which RabbitMQ accepts from loopback only) is not one.
    static func holdsSecret(_ file: ConfigReader) -> Bool {
        let texts: [String]
        if let array = file.stringArray(forKey: "broker.urls", isSecret: true) {
            texts = array
        } else if let text = file.string(forKey: "broker.urls", isSecret: true) {
            texts = text.split(separator: ",").map(String.init)
        } else {
            texts = []
        }
        return texts.contains { text in
            // Only a password written into the URL counts (a URL without one gets it from password_file).
            guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") else {
                return false
            }
            let credentials = text[scheme.upperBound..<at]
            guard let colon = credentials.firstIndex(of: ":"), credentials.index(after: colon) < credentials.endIndex else {
                return false
            }
            return credentials != "guest:guest"
        }
    }

    /// Refuses a file holding a secret that every local user can read.
    static func checkSecretFile(_ path: String, key: String) throws(ConfigError) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let mode = attributes[.posixPermissions] as? Int, mode & 0o004 != 0 else { return }
        throw ConfigError(key: key, problem: String(
            format: "%@ holds a broker password and is readable by every user (mode %03o); chmod o-r it (640 or 600), or keep the password in broker.password_file or systemd's LoadCredential",
            path, mode))
    }

    private static func common(_ r: Reader, _ format: inout LogFormat, _ grace: inout Duration) throws(ConfigError) {
        if let text = r.string("log.format") {
            guard let parsed = LogFormat(rawValue: text.lowercased()) else {
                throw ConfigError(key: "log.format", problem: "'\(text)' is not text or json")
            }
            format = parsed
        }
        grace = .seconds(try r.int("shutdown.grace_s", default: 20, in: 1...3600))
    }

    private static func hubCore(_ config: ConfigReader) throws(ConfigError) -> HubSettings {
        let r = Reader(config)
        guard let province = r.string("province") else {
            throw ConfigError(key: "province", problem: "required: the hub's two-digit province code, for example 35 (or a kabupaten/kota hub's \"35.78\", quoted)")
        }
        guard HubCode.isValid(province) else {
            throw ConfigError(key: "province", problem: "\(province) is not a Kemendagri province code or kabupaten/kota code (PP.KK, quoted in YAML)")
        }
        return HubSettings(
            province: province,
            database: r.string("database") ?? "/var/lib/jippnas/hub.sqlite",
            broker: try broker(r),
            confirmWindow: try r.int("relay.confirm_window", default: 1000, in: 1...65_535),
            batchSize: try r.int("relay.batch_size", default: 500, in: 1...100_000),
            idlePoll: .milliseconds(try r.int("relay.idle_poll_ms", default: 200, in: 10...60_000)),
            checkpointInterval: .seconds(try r.int("relay.checkpoint_interval_s", default: 60, in: 1...86_400)),
            logLevel: try r.logLevel())
    }

    private static func aggregatorCore(_ config: ConfigReader) throws(ConfigError) -> AggregatorSettings {
        let r = Reader(config)
        return AggregatorSettings(
            database: r.string("database") ?? "/var/lib/jippnas/catalogue.sqlite",
            broker: try broker(r),
            prefetch: try r.int("consumer.prefetch", default: 1000, in: 1...65_535),
            batchSize: try r.int("consumer.batch_size", default: 500, in: 1...65_535),
            batchMaxWait: .milliseconds(try r.int("consumer.batch_max_wait_ms", default: 50, in: 1...60_000)),
            maxBodyBytes: try r.int("consumer.max_body_bytes", default: InnovationLimits.defaultMaxBodyBytes,
                                    in: 1024...16_777_216),
            gapTimeout: .seconds(try r.int("reconcile.gap_timeout_s", default: 30, in: 1...86_400)),
            resyncMinInterval: .seconds(try r.int("reconcile.min_interval_s", default: 60, in: 1...86_400)),
            logLevel: try r.logLevel())
    }

    private static func nationalTopology(_ r: Reader) throws(ConfigError) -> NationalTopology {
        var topology = NationalTopology()
        if let text = r.string("national.queue_type") {
            guard let type = NationalQueueType(rawValue: text.lowercased()) else {
                throw ConfigError(key: "national.queue_type", problem: "'\(text)' is not quorum or classic")
            }
            topology.queueType = type
        }
        topology.deliveryLimit = try r.int("national.delivery_limit", default: topology.deliveryLimit, in: 1...10_000)
        topology.history = try retention(r, section: "history")
        topology.feed = try retention(r, section: "feed")
        return topology
    }

    /// A stream's retention from `<section>.enabled`, `.max_age`, `.max_bytes` and `.segment_bytes`; nil when disabled.
    private static func retention(_ r: Reader, section: String) throws(ConfigError) -> HistoryRetention? {
        guard try r.bool(section + ".enabled", default: true) else { return nil }
        var retention = HistoryRetention()
        if let age = r.string(section + ".max_age") {
            guard HistoryRetention.isValidAge(age) else {
                throw ConfigError(key: section + ".max_age", problem: "'\(age)' is not an age such as 30D, 12h or 1Y (Y, M, D, h, m, s)")
            }
            retention.maxAge = age
        }
        retention.maxBytes = Int64(try r.int(section + ".max_bytes", default: Int(retention.maxBytes), in: 1_000_000...Int.max))
        retention.segmentBytes = Int64(try r.int(section + ".segment_bytes", default: Int(retention.segmentBytes),
                                                 in: 100_000...3_000_000_000))
        return retention
    }

    private static func consumeSource(_ r: Reader) throws(ConfigError) -> ConsumeSource {
        switch r.string("consumer.source")?.lowercased() ?? "queue" {
        case "queue":
            return .queue
        case "stream":
            do {
                return .stream(start: try StreamStart(parsing: r.string("consumer.stream_start") ?? "first"))
            } catch {
                throw ConfigError(key: "consumer.stream_start", problem: error.description)
            }
        case let other:
            throw ConfigError(key: "consumer.source", problem: "'\(other)' is not queue or stream")
        }
    }

    private static func broker(_ r: Reader) throws(ConfigError) -> BrokerSettings {
        let texts: [String]
        if let array = r.config.stringArray(forKey: "broker.urls", isSecret: true) {
            texts = array
        } else if let text = r.string("broker.urls") {
            texts = text.split(separator: ",").map(String.init)
        } else {
            texts = ["amqp://guest:guest@localhost:5672/"]
        }
        guard !texts.isEmpty else { throw ConfigError(key: "broker.urls", problem: "needs at least one URL") }
        var password: String?
        if let file = r.string("broker.password_file") {
            try checkSecretFile(file, key: "broker.password_file")
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigError(key: "broker.password_file", problem: "cannot read \(file)")
            }
            let trimmed = text.trimmingWhitespace()
            if !trimmed.isEmpty { password = trimmed }
        }
        var urls: [BrokerURL] = []
        for text in texts {
            do {
                var url = try BrokerURL(parsing: text.trimmingWhitespace())
                if let password { url.password = password }
                urls.append(url)
            } catch {
                throw ConfigError(key: "broker.urls", problem: error.description)
            }
        }
        let tls = BrokerTLS(
            caFile: try r.readableFile("broker.tls.ca_file"), certFile: try r.readableFile("broker.tls.cert_file"),
            keyFile: try r.readableFile("broker.tls.key_file"),
            verifyPeer: try r.bool("broker.tls.verify_peer", default: true),
            verifyHostname: try r.bool("broker.tls.verify_hostname", default: true))
        if tls.certFile != nil && tls.keyFile == nil {
            throw ConfigError(key: "broker.tls.key_file", problem: "required with broker.tls.cert_file")
        }
        return BrokerSettings(
            urls: urls, heartbeat: try r.int("broker.heartbeat", default: 30, in: 0...3600),
            timeout: .seconds(try r.int("broker.timeout_s", default: 10, in: 1...300)), tls: tls,
            declareTopology: try r.bool("broker.declare_topology", default: true))
    }

    /// Typed reads that refuse a present but malformed value instead of silently using the default.
    private struct Reader {
        let config: ConfigReader
        init(_ config: ConfigReader) { self.config = config }

        func string(_ key: String) -> String? {
            config.string(forKey: ConfigKey(key)).map { $0.trimmingWhitespace() }.flatMap { $0.isEmpty ? nil : $0 }
        }

        func int(_ key: String, default value: Int, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
            let parsed: Int
            if let v = config.int(forKey: ConfigKey(key)) {
                parsed = v
            } else if let text = string(key) {
                guard let v = Int(text) else { throw ConfigError(key: key, problem: "'\(text)' is not a whole number") }
                parsed = v
            } else {
                return value
            }
            guard range.contains(parsed) else {
                throw ConfigError(key: key, problem: "\(parsed) is outside \(range.lowerBound)...\(range.upperBound)")
            }
            return parsed
        }

        func bool(_ key: String, default value: Bool) throws(ConfigError) -> Bool {
            if let v = config.bool(forKey: ConfigKey(key)) { return v }
            guard let text = string(key) else { return value }
            switch text.lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: throw ConfigError(key: key, problem: "'\(text)' is not true or false")
            }
        }

        /// A path that must name a readable file when given.
        func readableFile(_ key: String) throws(ConfigError) -> String? {
            guard let path = string(key) else { return nil }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigError(key: key, problem: "cannot read \(path)")
            }
            return path
        }

        func logLevel() throws(ConfigError) -> Logger.Level {
            guard let text = string("log.level") else { return .info }
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw ConfigError(key: "log.level", problem: "'\(text)' is not one of trace, debug, info, notice, warning, error, critical")
            }
            return level
        }
    }
}

/// How the catalogue's HTTP API and web page talk to browsers and caches (`http.*`).
public struct WebSettings: Sendable, Equatable {
    /// `Access-Control-Allow-Origin` for the API: nil (no CORS, the default), `*`, or one origin such as
    /// `https://jippnas.example.go.id`.
    public var corsAllowOrigin: String?
    /// `Cache-Control: public, max-age=` of API responses, in seconds.
    public var cacheMaxAge = 10

    public init(corsAllowOrigin: String? = nil, cacheMaxAge: Int = 10) {
        self.corsAllowOrigin = corsAllowOrigin
        self.cacheMaxAge = cacheMaxAge
    }
}
