import ArgumentParser
import Configuration
import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore
import JippnasTrust
import Logging

struct AggregatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregator",
        abstract: "The national aggregator: consume every hub's changes into the SQLite catalogue.",
        subcommands: [Run.self, Resync.self, AcceptEpoch.self])

    /// The catalogue for a command that writes beside the daemon (`resync`, `accept-epoch`): it never
    /// migrates the search index or rebuilds it under a running daemon, and says so when that is needed.
    static func openStore(_ settings: AggregatorSettings) throws -> CatalogueStore {
        try openDatabase(settings.database) { try CatalogueStore(path: $0) }
    }

    /// The catalogue for its owner, the daemon (``openOwnedCatalogue(_:owner:logger:)``).
    static func openOwnedStore(_ settings: AggregatorSettings, owner: String, logger: Logger) throws -> (CatalogueStore, DatabaseLock) {
        try openOwnedCatalogue(settings.database, owner: owner, logger: logger)
    }

    /// The existing catalogue, read-only, for commands that only look.
    static func openStoreForReading(_ settings: AggregatorSettings) throws -> CatalogueStore {
        try openExistingDatabase(settings.database) { try CatalogueStore(path: $0, access: .readOnly) }
    }

    static func describe(_ source: ConsumeSource) -> String {
        switch source {
        case .queue: WireNames.nationalQueue
        case .stream(let start): "\(WireNames.historyStream) (from \(start) when new)"
        case .regional(let province): WireNames.regionalQueue(province: province)
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the aggregator daemon.",
            discussion: """
                Declares the topology, consumes jippnas.national with a prefetch, applies batches in SQLite \
                transactions and acknowledges after each commit; invalid messages go to jippnas.national.dead \
                with their reason recorded. Compares hub checkpoints with the catalogue and asks hubs to resync \
                on a lasting sequence gap or a digest mismatch. With --rebuild-from-stream (config \
                consumer.source: stream) it reads the history stream jippnas.history instead: from \
                --stream-start into an empty catalogue, then live as the stream grows, and after a restart from just \
                after the offset its catalogue has applied (stored with the changes). Exit codes: 0 stopped; 64 \
                configuration error; 1 store failure or another daemon holds the database.
                """)
        @OptionGroup var common: ConfigOptions
        @Flag(name: .long, help: "Read the history stream jippnas.history, not the national queue (a mirror, or a rebuild).")
        var rebuildFromStream = false
        @Option(name: .long, help: "Where a catalogue that has read nothing of the stream begins: first, last, next, an offset, or an RFC 3339 time (default first; overrides consumer.stream_start).")
        var streamStart: String?

        /// The config keys the stream options stand for.
        static func sourceOverrides(rebuildFromStream: Bool, streamStart: String?) -> [String: ConfigContent] {
            var extra: [String: ConfigContent] = [:]
            if rebuildFromStream { extra["consumer.source"] = .string("stream") }
            if let streamStart { extra["consumer.stream_start"] = .string(streamStart) }
            return extra
        }

        func run() async throws {
            let extra = Self.sourceOverrides(rebuildFromStream: rebuildFromStream, streamStart: streamStart)
            let settings = try await loadSettings(role: "aggregator", options: common, extra: extra, SettingsLoader.aggregator)
            Logs.bootstrap(level: settings.logLevel, format: settings.logFormat)
            var logger = Logger(label: "jippnas.aggregator")
            logger[metadataKey: "role"] = "aggregator"
            let owner = "jippnas aggregator run"
            let (store, lock) = try AggregatorCommand.openOwnedStore(settings, owner: owner, logger: logger)
            let policy: ProvenancePolicy
            do {
                policy = try AggregatorCommand.provenancePolicy(settings)
            } catch {
                printError("config trust.keys_dir: \(error)")
                throw ExitCodes.usage
            }
            logger.info("starting", metadata: [
                "version": "\(JippnasVersion.current)", "database": "\(settings.database)",
                "trusted_keys": "\(policy.trust?.summary ?? "none")", "require_signatures": "\(policy.requireSignatures)",
                "require_user_id": "\(policy.requireUserID)",
                "config": "\(SettingsLoader.effectiveFile(role: "aggregator", file: common.config))",
                "brokers": "\(settings.broker.urls.map(\.description).joined(separator: ","))",
                "prefetch": "\(settings.prefetch)", "batch_size": "\(settings.batchSize)",
                "source": "\(AggregatorCommand.describe(settings.source))", "queue_type": "\(settings.topology.queueType.rawValue)",
            ])
            warnAboutPlainBrokers(settings.broker, logger: logger)
            let options = common
            let (rebuild, start) = (rebuildFromStream, streamStart)
            try await serveDaemon(
                role: "aggregator", lock: lock, database: settings.database,
                httpListen: settings.httpListen, grace: settings.shutdownGrace, logger: logger,
                makeLoop: { observer in
                    AggregatorLoops(aggregator: Aggregator(store: store, settings: settings, logger: logger, observer: observer,
                                                           provenance: policy),
                                    feed: AggregatorLoops.feed(settings, store: store, logger: logger))
                },
                service: \.service, counters: { $0.aggregator.snapshot }, connected: { $0.aggregator.snapshot.connected },
                reload: { loops, logger in
                    let aggregator = loops.aggregator
                    let fresh = try await loadSettings(role: "aggregator", options: options, extra: Self.sourceOverrides(rebuildFromStream: rebuild, streamStart: start), exitOnError: false,
                                                       SettingsLoader.aggregator)
                    // The trust store is read in full before anything changes: a bad key file keeps the old one.
                    let newPolicy = try AggregatorCommand.provenancePolicy(fresh)
                    let old = aggregator.current
                    let new = Aggregator.Tunables(batchSize: fresh.batchSize, batchMaxWait: fresh.batchMaxWait)
                    aggregator.reload(new)
                    aggregator.reload(newPolicy)
                    applyReload(level: fresh.logLevel, changes: [
                        "batch_size": "\(old.batchSize)->\(new.batchSize)",
                        "batch_max_wait_ms": "\(milliseconds(old.batchMaxWait))->\(milliseconds(new.batchMaxWait))",
                        "trusted_keys": "\(newPolicy.trust?.summary ?? "none")",
                    ], logger: logger)
                },
                routes: { router in try CatalogueSite.register(on: router, settings: settings, logger: logger) })
        }
    }
}

extension AggregatorCommand {
    /// The trust store and requirements the settings name.
    static func provenancePolicy(_ settings: AggregatorSettings) throws(TrustError) -> ProvenancePolicy {
        ProvenancePolicy(trust: try settings.trustDir.map { dir throws(TrustError) in try TrustStore.load(directory: dir) },
                         requireSignatures: settings.requireSignatures, requireUserID: settings.requireUserID)
    }

    /// The loops of `jippnas aggregator run`: the aggregator, and on the primary the national feed's publisher.
    struct AggregatorLoops: Sendable {
        let aggregator: Aggregator
        let feed: FeedPublisher?

        var service: BlockingLoopService {
            var loops: [(name: String, run: @Sendable (StopSignal) -> Void)] = [("aggregator", aggregator.run(until:))]
            if let feed { loops.append(("feed", feed.run(until:))) }
            return BlockingLoopService(name: "aggregator", loops: loops)
        }

        /// The feed's publisher, for the primary (it consumes the national queue) with `feed.enabled`.
        static func feed(_ settings: AggregatorSettings, store: CatalogueStore, logger: Logger) -> FeedPublisher? {
            guard settings.source == .queue, settings.topology.feed != nil else { return nil }
            return FeedPublisher(store: store, broker: settings.broker, topology: settings.topology,
                                 intervals: .init(checkpoint: settings.feedCheckpointInterval, snapshot: settings.feedSnapshotInterval),
                                 logger: logger)
        }
    }

    struct Resync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask a hub to publish its records again (all, or those changed from a sequence number).",
            discussion: """
                Publishes a resync request to jippnas.control and records it in the catalogue; the hub answers by \
                republishing, then a checkpoint, and `jippnas catalogue stats` shows the outcome. Exit codes: 0 \
                request published; 64 configuration or usage error; 1 broker or store failure.
                """)
        @OptionGroup var common: ConfigOptions
        @Option(name: .long, help: "The hub's province code.") var hub: String
        @Option(name: .long, help: "Only records changed at or after this outbox sequence number.") var fromSeq: Int64?

        func validate() throws {
            guard ProvinceRegistry.isProvinceCode(hub) else { throw ValidationError("\(hub) is not a province code") }
            if let fromSeq, fromSeq < 1 { throw ValidationError("--from-seq must be at least 1") }
        }

        func run() async throws {
            let settings = try await loadSettings(role: "aggregator", options: common, SettingsLoader.aggregator)
            let store = try AggregatorCommand.openStore(settings)
            let request = ResyncRequest(hub: hub, fromSeq: fromSeq, reason: .manual,
                                        requestID: UUID().uuidString.lowercased(), requestedAt: Timestamp.now())
            try AggregatorCommand.send(request, broker: settings.broker, recordIn: store) { connection throws(AMQPError) in
                _ = try Topology.declareNationalSide(connection, topology: settings.topology, declare: settings.broker.declareTopology)
            }
            print("resync requested from hub \(hub) (\(fromSeq.map { "from seq \($0)" } ?? "all records")), request \(request.requestID)")
        }
    }

    /// Publishes `request` to its hub's control queue, waits for the broker's confirm, and records it in
    /// `store` (whose stats show the outcome); `prepare` checks or declares what the connection needs first.
    /// Shared by the national operator's resync and a relaying province's (`jippnas hub resync-regional`).
    static func send(_ request: ResyncRequest, broker: BrokerSettings, recordIn store: CatalogueStore,
                     prepare: (AMQPConnection) throws(AMQPError) -> Void) throws
    {
        let routingKey = ResyncRequest.routingKey(province: request.hub)
        do {
            let connection = try AMQPConnection(url: broker.urls[0], tls: broker.tls, heartbeat: 0, timeout: broker.timeout)
            defer { connection.close() }
            try prepare(connection)
            try connection.enableConfirms()
            let body = try ControlCodec.encode(request)
            try body.withUnsafeBytes { b in
                try connection.publish(exchange: WireNames.controlExchange, routingKey: routingKey, body: b, properties: PublishProperties(
                    messageID: request.requestID, type: "resync", appID: "jippnas-cli/\(JippnasVersion.current)",
                    timestamp: UInt64(Date().timeIntervalSince1970)))
            }
            switch try connection.nextConfirmEvent(timeout: broker.timeout) {
            case .ack?:
                break
            case .returned?:
                printError("no queue takes \(routingKey): hub \(request.hub) has never connected to this broker (its control queue \(WireNames.hubControlQueue(province: request.hub)) does not exist)")
                throw ExitCodes.failure
            default:
                printError("the broker did not confirm the resync request")
                throw ExitCodes.failure
            }
            try store.recordResyncRequest(hub: request.hub, reason: .manual, fromSeq: request.fromSeq)
        } catch let error as AMQPError {
            printError("\(error)")
            throw ExitCodes.failure
        } catch let error as StoreError {
            printError("\(error)")
            throw ExitCodes.failure
        }
    }

    struct AcceptEpoch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "accept-epoch",
            abstract: "Accept a hub's new epoch that descends from none the catalogue knows (a hub rebuilt without a backup).",
            discussion: """
                Changes from such a store are dead-lettered (unknown_epoch) and its checkpoints ignored, so that a \
                new, empty store (a mistyped path, a standby started by mistake) can never withdraw a province. \
                When the hub really was rebuilt, this makes its epoch the current one: sequence tracking starts \
                again, and its first checkpoint withdraws what it no longer has or asks it to resync. The daemon \
                need not be stopped. Only an epoch the aggregator has refused messages under is accepted, unless \
                --force. Exit codes: 0 accepted; 1 not refused before, already current, retired, or a store \
                failure; 64 usage error.
                """)
        @OptionGroup var common: ConfigOptions
        @Option(name: .long, help: "The hub's code: a province's, or a kabupaten/kota's (35.78) against a regional catalogue.")
        var hub: String
        @Option(name: .long, help: "The epoch the hub's store publishes (in its log, and the aggregator's).") var epoch: String
        @Flag(name: .long, help: "Accept an epoch no message has been refused under yet.") var force = false

        func validate() throws {
            guard HubCode.isValid(hub) else { throw ValidationError("\(hub) is neither a province nor a kabupaten/kota code") }
            guard HubEpoch.isValid(epoch) else { throw ValidationError("\(epoch) is not an epoch (1-64 of A-Z a-z 0-9 . _ -)") }
        }

        func run() async throws {
            let settings = try await loadSettings(role: "aggregator", options: common, SettingsLoader.aggregator)
            guard FileManager.default.fileExists(atPath: settings.database) else {
                printError("no store at \(settings.database)")
                throw ExitCodes.failure
            }
            let store = try AggregatorCommand.openStore(settings)
            do {
                let change = try store.acceptEpoch(hub: hub, epoch: epoch, force: force)
                print("hub \(hub): epoch \(change.to) accepted; epoch \(change.from.isEmpty ? "(none)" : change.from) retired")
            } catch {
                printError("\(error)")
                throw ExitCodes.failure
            }
        }
    }
}

private func milliseconds(_ d: Duration) -> Int64 {
    d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
}
