import Foundation
import JippnasCore
import JippnasServices
import JippnasStore
import JippnasTestSupport
import Logging
import Testing

/// The relaying role's hand-off from the regional catalogue to the hub's outbox, on real SQLite files.
@Suite("Regional forwarder")
struct RegionalForwarderTests {
    let dir = TempDir("forwarder")

    /// What Kota Surabaya published for `id`, as the regional aggregator hands it to its catalogue.
    func fromSurabaya(_ id: String, revision: Int64, seq: Int64) -> IncomingChange {
        var content = SampleData.contents(province: "35", count: 1)[0]
        content.id = id
        content.region = "35.78"
        let envelope = Envelope(hub: "35.78", seq: seq, event: .upsert, sentAt: "2026-11-30T08:00:00Z",
                                innovation: content.innovation(revision: revision, updatedAt: "2026-11-30T08:00:00Z"), epoch: "sby")
        return IncomingChange(envelope: envelope, messageID: "sby-\(seq)", routingKey: envelope.routingKey,
                              body: EnvelopeCodec.encode(envelope))
    }

    @Test("a regional catalogue restored from a backup is read again from the start, so its next changes still go up")
    func restoredRegionalCatalogue() throws {
        let regionalPath = dir.file("regional.sqlite"), backupPath = dir.file("regional-backup.sqlite")
        let hub = try HubStore(path: dir.file("hub-35.sqlite"), province: "35")
        var regional: CatalogueStore? = try CatalogueStore(path: regionalPath)
        _ = try regional!.apply([fromSurabaya("sby-a", revision: 1, seq: 1)])
        _ = try regional!.identity()  // made by the relaying role when it first runs, so a backup holds it
        try BrokerFixture.run(["sqlite3", regionalPath, ".backup '\(backupPath)'"])
        _ = try regional!.apply([fromSurabaya("sby-b", revision: 1, seq: 2), fromSurabaya("sby-c", revision: 1, seq: 3)])
        #expect(try RegionalForwarder(catalogue: regional!, hub: hub, logger: Logger(label: "t")).forwardOnce() == 3)

        // The catalogue file is replaced by the backup (one history row, the same identity), and takes a new change.
        regional = nil
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: regionalPath + suffix) }
        try FileManager.default.copyItem(atPath: backupPath, toPath: regionalPath)
        let restored = try CatalogueStore(path: regionalPath)
        _ = try restored.apply([fromSurabaya("sby-d", revision: 1, seq: 4)])
        let forwarder = RegionalForwarder(catalogue: restored, hub: hub, logger: Logger(label: "t"))
        #expect(try forwarder.forwardOnce() == 0, "nothing after position 3, which the restored history ends below")
        #expect(try forwarder.forwardOnce() == 2, "read again from the start")
        let keys = Set(try hub.pendingOutbox(after: 0, limit: 10).map {
            try EnvelopeCodec.decode($0.body, routingKey: $0.routingKey, contentType: nil).get().globalID
        })
        #expect(keys == ["35.78:sby-a", "35.78:sby-b", "35.78:sby-c", "35.78:sby-d"])
        #expect(try hub.pendingOutbox(after: 0, limit: 10).count == 4, "sby-a, already queued, is not queued twice")
    }
}
