import ArgumentParser
import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore
import JippnasTrust
import Logging

/// The loops of `jippnas hub run`: the relay, and for a provincial hub with a `regional` section the
/// relaying role (an aggregator on `jippnas.regional.<province>` and the forwarder into the outbox).
struct HubLoops: Sendable {
    let relay: HubRelay
    let regional: RegionalRole.Running?

    /// One service running every loop on threads of their own; it returns once all have settled.
    var service: BlockingLoopService {
        var loops: [(name: String, run: @Sendable (StopSignal) -> Void)] = [("hub-relay", relay.run(until:))]
        if let regional {
            loops.append(("regional-aggregator", regional.aggregator.run(until:)))
            loops.append(("regional-forwarder", regional.forwarder.run(until:)))
        }
        return BlockingLoopService(name: "hub", loops: loops)
    }
}

/// Opening and reloading the relaying role.
enum RegionalRole {
    /// What the role holds while the daemon runs.
    struct Running: Sendable {
        let aggregator: Aggregator
        let forwarder: RegionalForwarder
        let lock: DatabaseLock
    }

    /// The role's catalogue, lock and trust, or nil for a hub without a `regional` section. Exits 64 for an
    /// unusable keys directory, 1 when the catalogue cannot be opened or another daemon holds it.
    static func open(_ settings: HubSettings, hub store: HubStore, logger: Logger) throws -> Running? {
        guard let regional = settings.regional else { return nil }
        let aggregatorSettings = regional.aggregatorSettings(province: settings.province, broker: settings.broker,
                                                             logLevel: settings.logLevel)
        let policy: ProvenancePolicy
        do {
            policy = try provenancePolicy(regional, province: settings.province)
        } catch {
            printError("config regional.keys_dir: \(error)")
            throw ExitCodes.usage
        }
        let (catalogue, lock) = try openOwnedCatalogue(regional.catalogue, owner: "jippnas hub run (regional role of \(settings.province))",
                                                       logger: logger)
        var roleLogger = logger
        roleLogger[metadataKey: "role"] = "regional"
        roleLogger.info("relaying kabupaten/kota hubs", metadata: [
            "queue": "\(WireNames.regionalQueue(province: settings.province))", "catalogue": "\(regional.catalogue)",
            "hubs": "\(regional.hubs.isEmpty ? "every kabupaten/kota of \(settings.province)" : regional.hubs.joined(separator: ","))",
            "trusted_keys": "\(policy.trust?.summary ?? "none")", "require_signatures": "\(policy.requireSignatures)",
        ])
        return Running(aggregator: Aggregator(store: catalogue, settings: aggregatorSettings, logger: roleLogger, provenance: policy),
                       forwarder: RegionalForwarder(catalogue: catalogue, hub: store, logger: roleLogger), lock: lock)
    }

    /// The regional trust store and requirements, scoped to the province's kabupaten/kota hubs.
    static func provenancePolicy(_ regional: RegionalSettings, province: String) throws(TrustError) -> ProvenancePolicy {
        ProvenancePolicy(trust: try regional.trustDir.map { dir throws(TrustError) in try TrustStore.load(directory: dir) },
                         requireSignatures: regional.requireSignatures, requireUserID: regional.requireUserID,
                         scope: .regions(of: province, listed: Set(regional.hubs)))
    }
}

extension HubCommand {
    /// The relaying province's operator asking one of its kabupaten/kota hubs to publish again: what
    /// `jippnas aggregator resync` is at the national level, with the hub's own broker user.
    struct ResyncRegional: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "resync-regional",
            abstract: "Ask a kabupaten/kota hub below this province to publish its records again.",
            discussion: """
                For a hub with a `regional` section. Publishes a resync request to jippnas.control (as this hub's \
                broker user, which may ask only its own kabupaten/kota) and records it in the regional catalogue; \
                the hub below answers by republishing, then a checkpoint, and `jippnas catalogue stats --database \
                <regional.catalogue>` shows the outcome. The daemon need not be stopped. Exit codes: 0 request \
                published; 64 configuration or usage error (no `regional` section, a hub not below this province); \
                1 broker or store failure.
                """)
        @OptionGroup var hub: HubOptions
        @Option(name: .customLong("hub"), help: "The kabupaten/kota hub's code (35.78).") var below: String
        @Option(name: .long, help: "Only records changed at or after this outbox sequence number.") var fromSeq: Int64?

        func validate() throws {
            guard RegionCode.isValid(below) else { throw ValidationError("\(below) is not a kabupaten/kota code (PP.KK)") }
            if let fromSeq, fromSeq < 1 { throw ValidationError("--from-seq must be at least 1") }
        }

        func run() async throws {
            let settings = try await hub.settings()
            guard let regional = settings.regional else {
                printError("hub \(settings.province) has no regional section: it relays no kabupaten/kota hubs")
                throw ExitCodes.usage
            }
            guard HubCode.isBelow(below, relay: settings.province) else {
                printError("\(below) is not below hub \(settings.province)")
                throw ExitCodes.usage
            }
            let store = try openExistingDatabase(regional.catalogue) { try CatalogueStore(path: $0) }
            let request = ResyncRequest(hub: below, fromSeq: fromSeq, reason: .manual,
                                        requestID: UUID().uuidString.lowercased(), requestedAt: Timestamp.now())
            // The control exchange exists once any hub has connected; this user may not declare it.
            try AggregatorCommand.send(request, broker: settings.broker, recordIn: store) { connection throws(AMQPError) in
                try connection.declareExchange(WireNames.controlExchange, passive: true)
            }
            print("resync requested from hub \(below) (\(fromSeq.map { "from seq \($0)" } ?? "all records")), request \(request.requestID)")
        }
    }
}
