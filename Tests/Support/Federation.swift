import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore
import Logging

/// Hubs and an aggregator wired to one broker vhost, each with its own SQLite file in a temp directory.
public final class Federation: Sendable {
    public let dir = TempDir("federation")
    public let urls: [BrokerURL]
    public let logger: Logger

    public init(urls: [BrokerURL]) {
        self.urls = urls
        var logger = Logger(label: "jippnas.test")
        logger.logLevel = .notice
        self.logger = logger
    }

    public var broker: BrokerSettings { BrokerSettings(urls: urls, heartbeat: 10, timeout: .seconds(5)) }

    public func hubSettings(_ province: String) -> HubSettings {
        HubSettings(province: province, database: dir.file("hub-\(province).sqlite"), broker: broker,
                    confirmWindow: 200, batchSize: 200, idlePoll: .milliseconds(50), checkpointInterval: .seconds(1))
    }

    public var aggregatorSettings: AggregatorSettings {
        AggregatorSettings(database: dir.file("catalogue.sqlite"), broker: broker, prefetch: 500, batchSize: 200,
                           batchMaxWait: .milliseconds(20), gapTimeout: .seconds(2), resyncMinInterval: .seconds(2))
    }

    public func hubStore(_ province: String) throws -> HubStore {
        try HubStore(path: hubSettings(province).database, province: province)
    }

    public func catalogue() throws -> CatalogueStore { try CatalogueStore(path: aggregatorSettings.database) }

    /// Starts a hub relay for `province`.
    public func startHub(_ province: String) throws -> RunningLoop { try startHubRelay(province).loop }

    /// Starts a hub relay for `province` and returns it too, for its counters.
    public func startHubRelay(_ province: String) throws -> (relay: HubRelay, loop: RunningLoop) {
        let relay = HubRelay(store: try hubStore(province), settings: hubSettings(province), logger: logger)
        return (relay, RunningLoop(name: "hub-\(province)") { relay.run(until: $0) })
    }

    /// Starts the aggregator and returns it too, for its counters.
    public func startAggregatorLoop() async throws -> (aggregator: Aggregator, loop: RunningLoop) {
        let aggregator = Aggregator(store: try catalogue(), settings: aggregatorSettings, logger: logger)
        let loop = RunningLoop(name: "aggregator") { aggregator.run(until: $0) }
        _ = await eventually { aggregator.snapshot.connected }
        return (aggregator, loop)
    }

    /// Runs SQL on a database behind the daemons' backs, with the sqlite3 command-line shell.
    public func sql(_ database: String, _ statement: String) throws {
        try BrokerFixture.run(["sqlite3", "-cmd", ".timeout 5000", database, statement])
    }

    /// Starts the aggregator and waits until it has declared the national queue, so that messages a
    /// test publishes next are routed.
    public func startAggregator() async throws -> RunningLoop {
        let aggregator = Aggregator(store: try catalogue(), settings: aggregatorSettings, logger: logger)
        let loop = RunningLoop(name: "aggregator") { aggregator.run(until: $0) }
        _ = await eventually { aggregator.snapshot.connected }
        return loop
    }

    /// The (global id, revision, withdrawn) triples every hub holds.
    public func hubTruth(_ provinces: [String]) throws -> Set<RecordKey> {
        var keys = Set<RecordKey>()
        for p in provinces {
            for r in try hubStore(p).records() {
                keys.insert(RecordKey(globalID: r.innovation.globalID(province: p), revision: r.innovation.revision,
                                      withdrawn: r.withdrawn))
            }
        }
        return keys
    }

    /// The same triples as the catalogue holds them.
    public func catalogueTruth() throws -> Set<RecordKey> {
        Set(try catalogue().list().map { RecordKey(globalID: $0.globalID, revision: $0.innovation.revision, withdrawn: $0.withdrawn) })
    }

    /// Publishes raw bodies (as a hub would, or as a hostile publisher might) and waits for their confirms.
    public func publishRaw(_ messages: [(routingKey: String, body: Data, messageID: String)]) throws {
        let connection = try AMQPConnection(url: urls[0], heartbeat: 0, timeout: .seconds(5))
        defer { connection.close() }
        try Topology.declareHubSide(connection)
        try connection.enableConfirms()
        for m in messages {
            try m.body.withUnsafeBytes { body in
                try connection.publish(exchange: WireNames.innovationExchange, routingKey: m.routingKey, body: body,
                                       properties: PublishProperties(messageID: m.messageID, type: "upsert",
                                                                     appID: "jippnas-test", timestamp: 0))
            }
        }
        var acked: UInt64 = 0
        let deadline = ContinuousClock.now + .seconds(10)
        while acked < UInt64(messages.count), ContinuousClock.now < deadline {
            if case .ack(let tag, let multiple)? = try connection.nextConfirmEvent(timeout: .milliseconds(100)) {
                acked = multiple ? tag : acked + 1
            }
        }
    }

    /// Declares a hub's control queue without running the hub.
    public func declareHubControl(_ province: String) throws {
        let connection = try AMQPConnection(url: urls[0], heartbeat: 0, timeout: .seconds(5))
        defer { connection.close() }
        try Topology.declareHubControl(connection, province: province)
    }

    /// Ready messages in a queue of this federation's vhost.
    public func queueDepth(_ queue: String) throws -> UInt32 {
        let connection = try AMQPConnection(url: urls[0], heartbeat: 0, timeout: .seconds(5))
        defer { connection.close() }
        return try connection.queueDepth(queue)
    }
}

/// What must agree between hubs and the catalogue, record by record.
public struct RecordKey: Hashable, Sendable, CustomStringConvertible {
    public var globalID: String
    public var revision: Int64
    public var withdrawn: Bool
    public var description: String { "\(globalID)@\(revision)\(withdrawn ? "(withdrawn)" : "")" }

    public init(globalID: String, revision: Int64, withdrawn: Bool) {
        self.globalID = globalID
        self.revision = revision
        self.withdrawn = withdrawn
    }
}

/// One message exactly as a test wants it on the wire.
public struct WireMessage: Sendable {
    public var routingKey: String
    public var properties: PublishProperties
    public var body: Data

    public init(routingKey: String, properties: PublishProperties, body: Data) {
        self.routingKey = routingKey
        self.properties = properties
        self.body = body
    }

    /// `jippnas.hub` for `<p>.hub.<kind>` keys, `jippnas.innovation` otherwise.
    public var exchange: String { routingKey.contains(".hub.") ? WireNames.hubExchange : WireNames.innovationExchange }
}

/// Publishes `messages` in order on one confirm-mode connection and waits until the broker confirmed all.
public func publishConfirmed(_ messages: [WireMessage], url: BrokerURL, tls: BrokerTLS = BrokerTLS()) throws {
    let connection = try AMQPConnection(url: url, tls: tls, heartbeat: 0, timeout: .seconds(5))
    defer { connection.close() }
    try connection.enableConfirms()
    for m in messages {
        try m.body.withUnsafeBytes { body in
            try connection.publish(exchange: m.exchange, routingKey: m.routingKey, body: body, properties: m.properties)
        }
    }
    var confirmed = Set<UInt64>()
    let deadline = ContinuousClock.now + .seconds(20)
    while confirmed.count < messages.count, ContinuousClock.now < deadline {
        switch try connection.nextConfirmEvent(timeout: .milliseconds(100)) {
        case .ack(let tag, let multiple)?:
            if multiple { for t in 1...tag { confirmed.insert(t) } } else { confirmed.insert(tag) }
        case .nack(let tag, _)?:
            throw BrokerFixture.Unavailable(description: "broker nacked message \(tag)")
        default:
            break
        }
    }
    guard confirmed.count == messages.count else {
        throw BrokerFixture.Unavailable(description: "only \(confirmed.count) of \(messages.count) messages confirmed")
    }
}
