import ArgumentParser
import Configuration
import Foundation
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore
import Logging

struct MirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "A read-only copy of the national catalogue at a hub, kept from the national feed.",
        subcommands: [Run.self, Status.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow the national feed into a local catalogue, with the same search, web page and API.",
            discussion: """
                Reads the stream jippnas.catalogue.stream (the national aggregator publishes it) and sets each record \
                as the national catalogue holds it, with its history and provenance chain. The place in the stream is \
                stored with the records, so after a stop of any length it goes on from there; when it missed \
                something (offline longer than the stream keeps it) or its digest differs from a national checkpoint, \
                it takes the whole catalogue from a snapshot. With http.listen it serves the catalogue's search, web \
                page and API from the copy. Exit codes: 0 stopped; 64 configuration error; 1 store failure or \
                another daemon holds the database.
                """)
        @OptionGroup var common: ConfigOptions
        @Option(name: .long, help: "Where a new mirror begins reading: first (default), or an offset or RFC 3339 time.")
        var streamStart: String?

        func run() async throws {
            let extra: [String: ConfigContent] = ["consumer.source": .string("stream")]
                .merging(streamStart.map { ["consumer.stream_start": .string($0)] } ?? [:]) { $1 }
            let settings = try await loadSettings(role: "mirror", options: common, extra: extra, SettingsLoader.aggregator)
            Logs.bootstrap(level: settings.logLevel, format: settings.logFormat)
            var logger = Logger(label: "jippnas.mirror")
            logger[metadataKey: "role"] = "mirror"
            let (store, lock) = try AggregatorCommand.openOwnedStore(settings, owner: "jippnas mirror run", logger: logger)
            logger.info("starting", metadata: [
                "version": "\(JippnasVersion.current)", "database": "\(settings.database)",
                "config": "\(SettingsLoader.effectiveFile(role: "mirror", file: common.config))",
                "brokers": "\(settings.broker.urls.map(\.description).joined(separator: ","))",
                "http": "\(settings.httpListen ?? "off")",
            ])
            warnAboutPlainBrokers(settings.broker, logger: logger)
            let options = common
            try await serveDaemon(
                role: "mirror", lock: lock, database: settings.database,
                httpListen: settings.httpListen, grace: settings.shutdownGrace, logger: logger,
                makeLoop: { CatalogueMirror(store: store, settings: settings, logger: logger, observer: $0) },
                service: \.service, counters: { $0.snapshot }, connected: { $0.snapshot.connected },
                reload: { _, logger in
                    let fresh = try await loadSettings(role: "mirror", options: options, extra: extra, exitOnError: false,
                                                       SettingsLoader.aggregator)
                    applyReload(level: fresh.logLevel, changes: [:], logger: logger)
                },
                routes: { router in try CatalogueSite.register(on: router, settings: settings, logger: logger) })
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Where the mirror stands in the national feed, and its catalogue's digest.",
            discussion: "Exit codes: 0 following the feed; 2 waiting for or applying a snapshot, or nothing read yet; 1 store failure.")
        @OptionGroup var common: ConfigOptions
        @Flag(name: .long, help: "Print JSON.") var json = false

        struct Shown: Encodable {
            var lastSeq: Int64
            var mode: String
            var nextOffset: Int64?
            var records: Int
            var withdrawn: Int
            var digest: String

            enum CodingKeys: String, CodingKey {
                case mode, records, withdrawn, digest
                case lastSeq = "last_seq"
                case nextOffset = "next_offset"
            }
        }

        func run() async throws {
            let settings = try await loadSettings(role: "mirror", options: common, SettingsLoader.aggregator)
            let store = try AggregatorCommand.openStoreForReading(settings)
            let shown: Shown
            do {
                let (follower, next) = try store.mirrorPosition()
                let digest = try store.mirrorCheckpoint()
                shown = Shown(lastSeq: follower.lastSeq, mode: follower.storedMode, nextOffset: next, records: digest.records,
                              withdrawn: digest.withdrawn, digest: digest.digest)
            } catch {
                printError("\(error)")
                throw ExitCodes.failure
            }
            if json {
                try printJSON(shown)
            } else {
                print("mode \(shown.mode); last feed seq \(shown.lastSeq); next stream offset \(shown.nextOffset.map(String.init) ?? "-"); records \(shown.records) (withdrawn \(shown.withdrawn)); digest \(shown.digest)")
            }
            if shown.mode != "following" { throw ExitCode(2) }
        }
    }
}
