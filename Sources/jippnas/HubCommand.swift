import ArgumentParser
import Foundation
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore
import JippnasTrust
import Logging

struct HubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "A provincial hub: import innovations into the local store and relay them to the broker.",
        subcommands: [Import.self, Withdraw.self, Run.self, Status.self, Backup.self, Restore.self, ResyncRegional.self])

    struct HubOptions: ParsableArguments {
        @OptionGroup var common: ConfigOptions
        @Option(name: .long, help: "The hub's two-digit province code, or a kabupaten/kota hub's PP.KK (overrides 'province').")
        var province: String?

        func settings(exitOnError: Bool = true) async throws -> HubSettings {
            try await loadSettings(role: "hub", options: common, extra: province.map { ["province": .string($0)] } ?? [:],
                                   exitOnError: exitOnError, SettingsLoader.hub)
        }
    }

    static func openStore(_ settings: HubSettings) throws -> HubStore {
        try openDatabase(settings.database) { try HubStore(path: $0, province: settings.province) }
    }

    /// Held by a command that writes the store, so that a restore cannot replace the file under it.
    static func replacementLock(_ settings: HubSettings) throws -> StoreReplacementLock {
        do {
            let directory = (settings.database as NSString).deletingLastPathComponent
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            return try StoreReplacementLock(database: settings.database, exclusive: false)
        } catch {
            printError("\(error)")
            throw ExitCodes.failure
        }
    }

    /// The existing store, read-only, for commands that only look.
    static func openStoreForReading(_ settings: HubSettings) throws -> HubStore {
        try openExistingDatabase(settings.database) { try HubStore(path: $0, province: settings.province, access: .readOnly) }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import innovations from JSON arrays, NDJSON or CSV files (English or Indonesian headers).",
            discussion: """
                Every refused row is reported with its place in the file and a reason code. All files are one \
                unit: if any row is refused nothing is stored, unless --skip-invalid is given, which stores the \
                good rows (with their outbox entries, in one transaction) and reports the rest. A record equal \
                to the stored one makes no new revision. Exit codes: 0 all rows stored; 65 rows refused (nothing \
                stored, or with --skip-invalid only the good ones); 64 configuration error; 1 a file could not be \
                read or the store failed.
                """)
        @OptionGroup var hub: HubOptions
        @Flag(name: .long, help: "Store the good rows even when some are refused.") var skipInvalid = false
        @Argument(help: "Files to import (.json, .ndjson/.jsonl, .csv).") var files: [String]

        func run() async throws {
            let settings = try await hub.settings()
            var good: [InnovationContent] = []
            var refused = 0
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    printError("cannot read \(file)")
                    throw ExitCodes.failure
                }
                let parsed: ImportParse
                do {
                    parsed = try ImportParser.parse(data, format: .detect(fileName: file, data: data),
                                                    province: settings.province, fileName: file)
                } catch {
                    printError("\(error)")
                    throw ExitCodes.failure
                }
                for issue in parsed.issues { printError("\(file): \(issue)") }
                refused += parsed.issues.count
                good += parsed.rows.map(\.content)
            }
            if refused > 0 && !skipInvalid {
                printError("\(refused) row(s) refused: nothing imported (fix them, or pass --skip-invalid to store the \(good.count) good row(s))")
                print("hub=\(settings.province) inserted=0 updated=0 unchanged=0 refused=\(refused) stored=none")
                throw ExitCodes.dataRefused
            }
            let lock = try replacementLock(settings)
            let store = try openStore(settings)
            let summary: ImportSummary
            do {
                summary = try withExtendedLifetime(lock) { try store.importContents(good) }
            } catch {
                printError("\(error)")
                throw ExitCodes.failure
            }
            let seqs = summary.seqRange.map { " seq=\($0.lowerBound)-\($0.upperBound)" } ?? ""
            print("hub=\(settings.province) inserted=\(summary.inserted) updated=\(summary.updated) unchanged=\(summary.unchanged) refused=\(refused)\(seqs)")
            if refused > 0 { throw ExitCodes.dataRefused }
        }
    }

    struct Withdraw: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Withdraw innovations: each gets a new revision marked withdrawn, published as a withdraw event.",
            discussion: "Exit codes: 0 all withdrawn or already withdrawn; 65 some id unknown (the others are withdrawn); 1 store failure.")
        @OptionGroup var hub: HubOptions
        @Argument(help: "Hub-scoped innovation ids.") var ids: [String]

        func run() async throws {
            let settings = try await hub.settings()
            let lock = try replacementLock(settings)
            defer { withExtendedLifetime(lock) {} }
            let store = try openStore(settings)
            var unknown = 0
            for id in ids {
                let globalID = GlobalID.make(province: settings.province, id: id)
                do {
                    switch try store.withdraw(id: id) {
                    case .withdrawn(let seq, let revision): print("withdrawn \(globalID) revision=\(revision) seq=\(seq)")
                    case .alreadyWithdrawn: print("already withdrawn: \(globalID)")
                    case .notFound:
                        printError("no innovation with id \(id) at hub \(settings.province)")
                        unknown += 1
                    }
                } catch {
                    printError("\(error)")
                    throw ExitCodes.failure
                }
            }
            if unknown > 0 { throw ExitCodes.dataRefused }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the hub daemon: relay the outbox to the broker with publisher confirms.",
            discussion: """
                Retries the broker forever with backoff; rows are marked published only when confirmed. \
                Publishes a checkpoint on start and every relay.checkpoint_interval_s, and answers the \
                aggregator's resync requests. SIGTERM/SIGINT stop it after in-flight confirms settle. Exit codes: \
                0 stopped; 64 configuration error; 1 the store could not be opened or another daemon holds it.
                """)
        @OptionGroup var hub: HubOptions

        func run() async throws {
            let settings = try await hub.settings()
            Logs.bootstrap(level: settings.logLevel, format: settings.logFormat)
            var logger = Logger(label: "jippnas.hub")
            logger[metadataKey: "role"] = "hub"
            let signer = try loadSigningKey(settings)
            let store = try openStore(settings)
            logger.info("starting", metadata: [
                "version": "\(JippnasVersion.current)", "hub": "\(settings.province)",
                "signing_key": "\(signer?.keyID ?? "none")",
                "config": "\(SettingsLoader.effectiveFile(role: "hub", file: hub.common.config))", "database": "\(settings.database)",
                "brokers": "\(settings.broker.urls.map(\.description).joined(separator: ","))",
                "confirm_window": "\(settings.confirmWindow)",
                "checkpoint_interval_s": "\(settings.checkpointInterval.components.seconds)",
            ])
            warnAboutPlainBrokers(settings.broker, logger: logger)
            if signer == nil {
                // Optional, so that a hub can start before its key is made; an aggregator that requires
                // signatures dead-letters what it then publishes, so say where the key belongs.
                logger.warning("no signing key; messages are published unsigned", metadata: [
                    "hint": "jippnas keys generate --hub \(settings.province) --key-file /etc/jippnas/credentials/hub/signing-key --out /etc/jippnas/keys (the packaged unit loads that file as credential hub_signing-key; or set signing.key_file), send the .pub to the national operator, and restart",
                ])
            }
            let options = hub
            let regional = try RegionalRole.open(settings, hub: store, logger: logger)
            try await serveDaemon(
                role: "hub", owner: "jippnas hub run (hub \(settings.province))", database: settings.database,
                httpListen: settings.httpListen, grace: settings.shutdownGrace, logger: logger,
                makeLoop: {
                    HubLoops(relay: HubRelay(store: store, settings: settings, logger: logger, observer: $0, signer: signer),
                             regional: regional)
                },
                service: \.service, counters: { $0.relay.snapshot }, connected: { $0.relay.snapshot.connected },
                reload: { loops, logger in
                    let fresh = try await options.settings(exitOnError: false)
                    // The regional trust store is read in full before anything changes: a bad key file keeps the old one.
                    let regionalPolicy = try fresh.regional.map { try RegionalRole.provenancePolicy($0, province: fresh.province) }
                    let old = loops.relay.current
                    let new = HubRelay.Tunables(batchSize: fresh.batchSize, checkpointInterval: fresh.checkpointInterval)
                    loops.relay.reload(new)
                    if let regionalPolicy, let role = loops.regional { role.aggregator.reload(regionalPolicy) }
                    applyReload(level: fresh.logLevel, changes: [
                        "batch_size": "\(old.batchSize)->\(new.batchSize)",
                        "checkpoint_interval_s": "\(old.checkpointInterval.components.seconds)->\(new.checkpointInterval.components.seconds)",
                        "regional_trusted_keys": "\(regionalPolicy?.trust?.summary ?? "none")",
                    ], logger: logger)
                })
        }
    }

    /// The configured signing key, checked against the hub's province; exits 64 when it is unusable.
    static func loadSigningKey(_ settings: HubSettings) throws -> HubSigningKey? {
        guard let path = settings.signingKeyFile else { return nil }
        do {
            let key = try HubSigningKey.load(path: path)
            guard key.province == settings.province else {
                printError("config signing.key_file: \(path) is a key of province \(key.province), not \(settings.province)")
                throw ExitCodes.usage
            }
            return key
        } catch let error as TrustError {
            printError("config signing.key_file: \(error)")
            throw ExitCodes.usage
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the hub's outbox: pending rows, oldest pending, published count.",
            discussion: "Exit codes: 0 outbox empty; 2 rows pending; 1 store failure.")
        @OptionGroup var hub: HubOptions
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            let settings = try await hub.settings()
            let store = try openStoreForReading(settings)
            do {
                let stats = try store.outboxStats()
                let records = try store.records()
                if json {
                    try printJSON([
                        "hub": settings.province, "pending": "\(stats.pending)", "published": "\(stats.published)",
                        "last_seq": "\(stats.lastSeq)", "oldest_pending_at": stats.oldestPendingAt ?? "",
                        "records": "\(records.count)", "withdrawn": "\(records.filter(\.withdrawn).count)",
                    ])
                } else {
                    print("hub \(settings.province): records=\(records.count) withdrawn=\(records.filter(\.withdrawn).count) last_seq=\(stats.lastSeq) published=\(stats.published) pending=\(stats.pending) oldest_pending=\(stats.oldestPendingAt ?? "-")")
                }
                if stats.pending > 0 { throw ExitCode(2) }
            } catch let error as StoreError {
                printError("\(error)")
                throw ExitCodes.failure
            }
        }
    }

    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the hub's store to a new file, consistent, while the daemon may run.",
            discussion: "Exit codes: 0 written; 1 the file exists or the store failed; 64 configuration error.")
        @OptionGroup var hub: HubOptions
        @Argument(help: "The backup file to create.") var file: String

        func run() async throws {
            let settings = try await hub.settings()
            let store = try openStoreForReading(settings)
            do {
                try store.backup(to: file)
            } catch {
                printError("\(error)")
                throw ExitCodes.failure
            }
            print("hub=\(settings.province) backup=\(file) epoch=\(store.epoch.isEmpty ? "-" : store.epoch)")
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the hub's store with a backup, under a new epoch.",
            discussion: """
                Stop the daemon first. The restored store gets a new epoch, which its envelopes and checkpoints \
                carry: the aggregator then restarts sequence tracking for the hub and reconciles (a full resync \
                if the catalogue differs); records the backup does not have are withdrawn in the catalogue \
                (see docs/PROTOCOL.md, Epochs). Rows the backup had not published go out under the new epoch. \
                Exit codes: 0 restored; 1 the daemon runs, the backup is unusable or the store failed; 64 \
                configuration error.
                """)
        @OptionGroup var hub: HubOptions
        @Argument(help: "A backup of this hub's store (jippnas hub backup, or an SQLite copy).") var file: String

        func run() async throws {
            let settings = try await hub.settings()
            guard FileManager.default.fileExists(atPath: file) else {
                printError("no backup at \(file)")
                throw ExitCodes.failure
            }
            let summary: RestoreSummary
            do {
                let locks = (try DatabaseLock(database: settings.database, owner: "jippnas hub restore"),
                             try StoreReplacementLock(database: settings.database, exclusive: true))
                summary = try withExtendedLifetime(locks) {
                    try HubStore.restore(from: file, to: settings.database, province: settings.province).1
                }
            } catch {
                printError("\(error)")
                throw ExitCodes.failure
            }
            print("hub=\(settings.province) restored=\(file) records=\(summary.records) last_seq=\(summary.lastSeq) epoch=\(summary.epoch) backup_epoch=\(summary.backupEpoch.isEmpty ? "-" : summary.backupEpoch) pending_reissued=\(summary.pendingReissued)")
        }
    }
}
