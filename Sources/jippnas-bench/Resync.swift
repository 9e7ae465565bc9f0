import Foundation
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
                                      broker: brokerSettings, checkpointInterval: .seconds(1))
        let hub = try HubStore(path: hubSettings.database, province: "35")
        for start in stride(from: 0, to: records, by: 10_000) {
            _ = try hub.importContents(Workload.contents(province: "35", count: min(10_000, records - start), start: start))
        }
        // Everything was delivered once and then lost at the national node: nothing is pending at the hub.
        try hub.markPublished(Array(1...Int64(records)))
        let cataloguePath = dir + "/resync-catalogue-\(UUID().uuidString.prefix(6)).sqlite"
        let catalogue = try CatalogueStore(path: cataloguePath)
        let aggregator = Aggregator(store: catalogue, settings: AggregatorSettings(database: cataloguePath, broker: brokerSettings),
                                    logger: logger)
        let relay = HubRelay(store: hub, settings: hubSettings, logger: logger)
        let aggregatorTask = Task { try await aggregator.service.run() }
        let relayTask = Task { try await relay.service.run() }
        defer {
            aggregatorTask.cancel()
            relayTask.cancel()
        }
        while !aggregator.snapshot.connected || !relay.snapshot.connected { try await Task.sleep(for: .milliseconds(20)) }
        let start = ContinuousClock.now
        _ = try Child.run(jippnas, ["aggregator", "resync", "--hub", "35", "--database", cataloguePath, "--broker", brokerText])
        while try catalogue.innovationCount() < records || catalogue.reconciliations(limit: 1).first?.completedAt == nil {
            try await Task.sleep(for: .milliseconds(10))
        }
        let sample = Sample(seconds: (ContinuousClock.now - start).seconds)
        aggregatorTask.cancel()
        relayTask.cancel()
        _ = try? await aggregatorTask.value
        _ = try? await relayTask.value
        return sample
    }
}
