import Foundation
import GRDB
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore

extension Scenarios {
    /// A hub of `records` innovations whose catalogue rows are all gone: timed from
    /// `jippnas aggregator resync --hub 35` until the catalogue holds every record and the hub's next
    /// checkpoint has been found consistent (the reconciliation is completed).
    func resync(records: Int) async throws -> Sample {
        let hubSettings = HubSettings(province: "35", database: dir + "/resync-hub-\(UUID().uuidString.prefix(6)).sqlite",
                                      broker: brokerSettings)
        let hub = try HubStore(path: hubSettings.database, province: "35")
        for start in stride(from: 0, to: records, by: 10_000) {
            _ = try hub.importContents(Workload.contents(province: "35", count: min(10_000, records - start), start: start))
        }
        // Everything was delivered once (applied here without the broker), then the catalogue rows were lost.
        let cataloguePath = dir + "/resync-catalogue-\(UUID().uuidString.prefix(6)).sqlite"
        let catalogue = try CatalogueStore(path: cataloguePath)
        try Self.deliverOnce(hub, to: catalogue)
        let aggregator = Aggregator(store: catalogue, settings: AggregatorSettings(database: cataloguePath, broker: brokerSettings),
                                    logger: logger)
        // At notice, the hub's "resync answered" line (with queued_ms, the time to queue every record again)
        // reaches the bench's output.
        var relayLogger = logger
        relayLogger.logLevel = .notice
        let relay = HubRelay(store: hub, settings: hubSettings, logger: relayLogger)
        let aggregatorTask = Task { try await aggregator.service.run() }
        let relayTask = Task { try await relay.service.run() }
        defer {
            aggregatorTask.cancel()
            relayTask.cancel()
        }
        // The relay's checkpoint on connecting finds the catalogue consistent; then the rows are lost.
        try await waitUntil("resync: hub 35's first checkpoint never reached the catalogue; relay saw \(relay.snapshot)") {
            try catalogue.stats().hubs.first(where: { $0.hub == "35" })?.lastCheckpointAt != nil
        }
        try await DatabaseQueue(path: cataloguePath).write { try $0.execute(sql: "DELETE FROM innovation WHERE hub = '35'") }
        let start = ContinuousClock.now
        _ = try Child.run(jippnas, ["aggregator", "resync", "--hub", "35", "--database", cataloguePath, "--broker", brokerText])
        try await waitUntil("resync of \(records) records not completed; aggregator saw \(aggregator.snapshot)") {
            try catalogue.innovationCount() >= records
                && catalogue.reconciliations(limit: 5).first(where: { $0.hub == "35" })?.completedAt != nil
        }
        let sample = Sample(seconds: (ContinuousClock.now - start).seconds)
        aggregatorTask.cancel()
        relayTask.cancel()
        _ = try? await aggregatorTask.value
        _ = try? await relayTask.value
        return sample
    }

    /// Applies every pending outbox row to the catalogue directly and marks it published.
    private static func deliverOnce(_ hub: HubStore, to catalogue: CatalogueStore) throws {
        var after: Int64 = 0
        while true {
            let entries = try hub.pendingOutbox(after: after, limit: 5000)
            guard let last = entries.last else { return }
            let changes = entries.compactMap { entry -> IncomingChange? in
                guard case .success(let envelope) = EnvelopeCodec.decode(entry.body, routingKey: entry.routingKey,
                                                                          contentType: nil, maxBodyBytes: 1 << 20)
                else { return nil }
                return IncomingChange(envelope: envelope, messageID: entry.messageID, routingKey: entry.routingKey, body: entry.body)
            }
            _ = try catalogue.apply(changes)
            try hub.markPublished(entries.map(\.seq))
            after = last.seq
        }
    }
}
