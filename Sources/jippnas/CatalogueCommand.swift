import ArgumentParser
import Foundation
import JippnasCore
import JippnasOps
import JippnasStore

struct CatalogueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalogue",
        abstract: "Read the national catalogue (the aggregator's database).",
        discussion: "Exit codes: 0 success; 65 no such innovation (show); 64 configuration error; 1 store failure.",
        subcommands: [List.self, Search.self, Show.self, Stats.self, Export.self, Serve.self, DeadLetters.self, Reindex.self, Diff.self])

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
            /// The latest revision's hops, originating hub first.
            var provenance: [ProvenanceHop]
        }

        /// A province's name, or "kabupaten/kota of <province>" for a regional hub.
        static func hubName(_ hub: String) -> String {
            let province = ProvinceRegistry.province(code: HubCode.province(of: hub))?.name ?? "?"
            return HubCode.isRegional(hub) ? "(kabupaten/kota of \(province))" : "(\(province))"
        }

        func run() async throws {
            let store = try await options.store()
            guard let entry = try guarded({ try store.entry(globalID: globalID) }) else {
                printError("no innovation \(globalID) in the catalogue")
                throw ExitCodes.dataRefused
            }
            let history = try guarded { try store.history(globalID: globalID) }
            let hops = try guarded { try store.provenance(globalID: globalID) }
            if options.json { return try printJSON(Shown(entry: entry, history: history, provenance: hops)) }
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
            print("\nprovenance of revision \(i.revision) (published first, then relayed):")
            printTable(["HOP", "HUB", "SEQ", "KEY ID", "MESSAGE ID"], hops.enumerated().map { index, hop in
                [index == 0 ? "published" : "relayed", hop.hub + " " + Self.hubName(hop.hub), "\(hop.seq)", hop.keyID ?? "unsigned",
                 hop.messageID]
            })
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
            let facets = try guarded { try store.facets() }
            if !facets.mostReplicated.isEmpty {
                print("\nmost replicated (replikasi):")
                printTable(["INNOVATION", "TITLE", "REGION", "REPLICATIONS"], facets.mostReplicated.map {
                    [$0.innovation.globalID, $0.innovation.title, $0.innovation.region, "\($0.replications)"]
                })
                print("\nprovinces that replicate most:")
                printTable(["PROVINCE", "NAME", "REPLICATIONS"], facets.replicatingProvinces.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map {
                    [$0.key, ProvinceRegistry.province(code: $0.key)?.name ?? "?", "\($0.value)"]
                })
            }
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

