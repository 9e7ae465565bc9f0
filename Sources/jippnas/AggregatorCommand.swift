import ArgumentParser
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

    static func openStore(_ settings: AggregatorSettings) throws -> CatalogueStore {
        try openDatabase(settings.database) { try CatalogueStore(path: $0) }
    }

    /// The existing catalogue, read-only, for commands that only look.
    static func openStoreForReading(_ settings: AggregatorSettings) throws -> CatalogueStore {
        try openExistingDatabase(settings.database) { try CatalogueStore(path: $0, access: .readOnly) }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the aggregator daemon.",
            discussion: """
                Declares the topology, consumes jippnas.national with a prefetch, applies batches in SQLite \
                transactions and acknowledges after each commit; invalid messages go to jippnas.national.dead \
                with their reason recorded. Compares hub checkpoints with the catalogue and asks hubs to resync \
                on a lasting sequence gap or a digest mismatch. Exit codes: 0 stopped; 64 configuration error; \
                1 store failure or another daemon holds the database.
                """)
        @OptionGroup var common: ConfigOptions

        func run() async throws {
            let settings = try await loadSettings(role: "aggregator", options: common, SettingsLoader.aggregator)
            Logs.bootstrap(level: settings.logLevel, format: settings.logFormat)
            var logger = Logger(label: "jippnas.aggregator")
            logger[metadataKey: "role"] = "aggregator"
            let store = try AggregatorCommand.openStore(settings)
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
            ])
            warnAboutPlainBrokers(settings.broker, logger: logger)
            let options = common
            try await serveDaemon(
                role: "aggregator", owner: "jippnas aggregator run", database: settings.database,
                httpListen: settings.httpListen, grace: settings.shutdownGrace, logger: logger,
                makeLoop: { Aggregator(store: store, settings: settings, logger: logger, observer: $0, provenance: policy) },
                service: \.service, counters: { $0.snapshot }, connected: { $0.snapshot.connected },
                reload: { aggregator, logger in
                    let fresh = try await loadSettings(role: "aggregator", options: options, exitOnError: false,
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
                })
        }
    }
}

extension AggregatorCommand {
    /// The trust store and requirements the settings name.
    static func provenancePolicy(_ settings: AggregatorSettings) throws(TrustError) -> ProvenancePolicy {
        ProvenancePolicy(trust: try settings.trustDir.map { dir throws(TrustError) in try TrustStore.load(directory: dir) },
                         requireSignatures: settings.requireSignatures, requireUserID: settings.requireUserID)
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
            do {
                let connection = try AMQPConnection(url: settings.broker.urls[0], tls: settings.broker.tls, heartbeat: 0,
                                                    timeout: settings.broker.timeout)
                defer { connection.close() }
                try Topology.declareNationalSide(connection, declare: settings.broker.declareTopology)
                try connection.enableConfirms()
                let body = try ControlCodec.encode(request)
                try body.withUnsafeBytes { b in
                    try connection.publish(exchange: WireNames.controlExchange, routingKey: ResyncRequest.routingKey(province: hub),
                                           body: b, properties: PublishProperties(
                                               messageID: request.requestID, type: "resync", appID: "jippnas-cli/\(JippnasVersion.current)",
                                               timestamp: UInt64(Date().timeIntervalSince1970)))
                }
                switch try connection.nextConfirmEvent(timeout: settings.broker.timeout) {
                case .ack?:
                    break
                case .returned?:
                    printError("no queue takes \(ResyncRequest.routingKey(province: hub)): hub \(hub) has never connected to this broker (its control queue jippnas.control.\(hub) does not exist)")
                    throw ExitCodes.failure
                default:
                    printError("the broker did not confirm the resync request")
                    throw ExitCodes.failure
                }
                try store.recordResyncRequest(hub: hub, reason: .manual, fromSeq: fromSeq)
            } catch let error as AMQPError {
                printError("\(error)")
                throw ExitCodes.failure
            } catch let error as StoreError {
                printError("\(error)")
                throw ExitCodes.failure
            }
            print("resync requested from hub \(hub) (\(fromSeq.map { "from seq \($0)" } ?? "all records")), request \(request.requestID)")
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
        @Option(name: .long, help: "The hub's province code.") var hub: String
        @Option(name: .long, help: "The epoch the hub's store publishes (in its log, and the aggregator's).") var epoch: String
        @Flag(name: .long, help: "Accept an epoch no message has been refused under yet.") var force = false

        func validate() throws {
            guard ProvinceRegistry.isProvinceCode(hub) else { throw ValidationError("\(hub) is not a province code") }
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

struct CatalogueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalogue",
        abstract: "Read the national catalogue (the aggregator's database).",
        discussion: "Exit codes: 0 success; 65 no such innovation (show); 64 configuration error; 1 store failure.",
        subcommands: [List.self, Show.self, Stats.self, DeadLetters.self])

    struct Options: ParsableArguments {
        @OptionGroup var common: ConfigOptions
        @Flag(name: .long, help: "Print JSON for scripts.") var json = false

        func store() async throws -> CatalogueStore {
            let settings = try await loadSettings(role: "aggregator", options: common, SettingsLoader.aggregator)
            return try AggregatorCommand.openStoreForReading(settings)
        }
    }

    static func guarded<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StoreError {
            printError("\(error)")
            throw ExitCodes.failure
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List innovations.")
        @OptionGroup var options: Options
        @Option(name: .long, help: "Only this hub's (province code).") var hub: String?
        @Flag(name: .long, help: "Leave out withdrawn innovations.") var activeOnly = false
        @Option(name: .long, help: "At most this many rows.") var limit: Int?

        func run() async throws {
            let store = try await options.store()
            let entries = try guarded { try store.list(hub: hub, includeWithdrawn: !activeOnly, limit: limit) }
            if options.json { return try printJSON(entries) }
            printTable(["GLOBAL ID", "REV", "STAGE", "CATEGORY", "STATE", "TITLE"], entries.map { e in
                [e.globalID, "\(e.innovation.revision)", e.innovation.stage.rawValue, e.innovation.category.rawValue,
                 e.withdrawn ? "withdrawn" : e.innovation.status.rawValue, truncate(e.innovation.title, 60)]
            })
            print("\(entries.count) innovation(s)")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one innovation and its history.")
        @OptionGroup var options: Options
        @Argument(help: "Global id <province>:<id>, for example 35:sw-surabaya.") var globalID: String

        struct Shown: Encodable {
            var entry: CatalogueEntry
            var history: [HistoryEntry]
        }

        func run() async throws {
            let store = try await options.store()
            guard let entry = try guarded({ try store.entry(globalID: globalID) }) else {
                printError("no innovation \(globalID) in the catalogue")
                throw ExitCodes.dataRefused
            }
            let history = try guarded { try store.history(globalID: globalID) }
            if options.json { return try printJSON(Shown(entry: entry, history: history)) }
            let i = entry.innovation
            let province = ProvinceRegistry.province(code: entry.hub)?.name ?? entry.hub
            let fields: [(String, String?)] = [
                ("global id", entry.globalID), ("hub", "\(entry.hub) \(province)"), ("title", i.title),
                ("agency", i.agency), ("region", i.region), ("category", i.category.indonesianName),
                ("kind", i.kind.rawValue), ("stage", i.stage.rawValue), ("initiator", i.initiator?.rawValue),
                ("launched on", i.launchedOn), ("status", i.status.rawValue),
                ("withdrawn", entry.withdrawn ? "yes, at \(entry.withdrawnAt ?? "?")" : "no"),
                ("replicates", i.replicates), ("revision", "\(i.revision)"), ("updated at", i.updatedAt),
                ("contact", i.contact), ("url", i.url), ("summary", i.summary), ("benefits", i.benefits),
            ]
            for (name, value) in fields { if let value { print(name.padding(toLength: 12, withPad: " ", startingAt: 0) + value) } }
            print("\nhistory:")
            printTable(["REV", "EVENT", "SEQ", "SENT AT", "RECEIVED AT", "MESSAGE ID"],
                       history.map { ["\($0.revision)", $0.event, "\($0.seq)", $0.sentAt, $0.receivedAt, $0.messageID] })
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Catalogue totals and per-hub state.")
        @OptionGroup var options: Options

        func run() async throws {
            let store = try await options.store()
            let stats = try guarded { try store.stats() }
            if options.json { return try printJSON(stats) }
            print("innovations \(stats.innovations) (live \(stats.live), withdrawn \(stats.withdrawn)); replications \(stats.replications); history rows \(stats.historyRows); dead letters \(stats.deadLetters)\n")
            printTable(["HUB", "PROVINCE", "LIVE", "WITHDRAWN", "SEQ", "GAP FROM", "APPLIED", "DUPLICATES", "STALE", "DEAD",
                        "LAST MESSAGE", "LAST CHECKPOINT"],
                       stats.hubs.map { h in
                           [h.hub, ProvinceRegistry.province(code: h.hub)?.name ?? "?", "\(h.live)", "\(h.withdrawn)",
                            "\(h.highestSeq)", h.highestSeq > h.contiguousSeq ? "\(h.contiguousSeq + 1)" : "-",
                            "\(h.applied)", "\(h.duplicates)", "\(h.stale)", "\(h.deadLetters)", h.lastMessageAt,
                            h.lastCheckpointAt ?? "-"]
                       })
            if !stats.reconciliations.isEmpty {
                print("\nreconciliations (newest first):")
                printTable(["HUB", "REQUESTED AT", "REASON", "FROM SEQ", "COMPLETED AT", "RECORDS FIXED"],
                           stats.reconciliations.map { r in
                               [r.hub, r.requestedAt, r.reason, r.fromSeq.map(String.init) ?? "all", r.completedAt ?? "open",
                                "\(r.recordsFixed)"]
                           })
            }
            print("")
            printTable(["CATEGORY", "LIVE"], Category.allCases.map { [$0.indonesianName, "\(stats.byCategory[$0.rawValue] ?? 0)"] })
        }
    }

    struct DeadLetters: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "dead-letters", abstract: "Refused messages, newest first.")
        @OptionGroup var options: Options
        @Option(name: .long, help: "At most this many.") var limit = 50

        func run() async throws {
            let store = try await options.store()
            let letters = try guarded { try store.deadLetters(limit: limit) }
            if options.json { return try printJSON(letters) }
            printTable(["RECEIVED AT", "REASON", "ROUTING KEY", "MESSAGE ID", "DETAIL", "BODY"], letters.map { l in
                [l.receivedAt ?? "", l.reason, l.routingKey, l.messageID ?? "-", truncate(l.detail ?? "-", 40),
                 truncate(l.bodyPrefix.replacingOccurrences(of: "\n", with: " "), 50)]
            })
            print("\(letters.count) dead letter(s)")
        }
    }
}

private func milliseconds(_ d: Duration) -> Int64 {
    d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
}
