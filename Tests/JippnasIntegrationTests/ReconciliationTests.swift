import Foundation
import JippnasCore
import JippnasServices
import JippnasStore
import JippnasTestSupport
import Testing

/// Anti-entropy on the real broker: checkpoints, digest mismatch and sequence gaps lead to resyncs that
/// repair the catalogue without operator action.
@Suite("Reconciliation on a real broker", .serialized, .enabled(if: BrokerFixture.shouldRun, "needs the broker from scripts/test"))
struct ReconciliationTests {
    @Test("rows deleted behind the aggregator's back come back through a digest-mismatch resync")
    func deletedRowsAreRestored() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("digest")])
        let (aggregator, loop) = try await f.startAggregatorLoop()
        let hub = try f.startHub("35")
        _ = try f.hubStore("35").importContents(SampleData.contents(province: "35", count: 40))
        _ = try f.hubStore("35").withdraw(id: "t-35-3")
        #expect(try await eventually { try f.catalogueTruth() == f.hubTruth(["35"]) })
        #expect(try await eventually { aggregator.snapshot.checkpoints > 0 })
        try f.sql(f.aggregatorSettings.database,
                  "DELETE FROM innovation WHERE global_id IN ('35:t-35-1', '35:t-35-2', '35:t-35-3', '35:t-35-17')")
        #expect(try f.catalogueTruth().count == 36)
        let repaired = try await eventually(timeout: .seconds(30)) { try f.catalogueTruth() == f.hubTruth(["35"]) }
        let completed = try await eventually { try f.catalogue().reconciliations().first?.completedAt != nil }
        await hub.stop()
        await loop.stop()
        #expect(repaired && completed)
        let reconciliation = try #require(try f.catalogue().reconciliations().first)
        #expect(reconciliation.hub == "35" && reconciliation.reason == "digest_mismatch" && reconciliation.fromSeq == nil)
        #expect(reconciliation.recordsFixed == 4)
        #expect(try f.catalogue().entry(globalID: "35:t-35-3")?.withdrawn == true)
        #expect(try f.catalogue().duplicatedHistoryRows() == 0)
    }

    @Test("a new store publishing for a hub (a mistyped path) is refused as unknown_epoch and withdraws nothing; once accepted it reconciles")
    func unknownEpochIsRefusedThenAccepted() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("epoch")])
        let (_, loop) = try await f.startAggregatorLoop()
        let hub = try f.startHub("35")
        _ = try f.hubStore("35").importContents(SampleData.contents(province: "35", count: 10))
        #expect(try await eventually { try f.catalogueTruth() == f.hubTruth(["35"]) })
        await hub.stop()

        var settings = f.hubSettings("35")
        settings.database = f.dir.file("typo.sqlite")
        let stray = try HubStore(path: settings.database, province: "35")
        _ = try stray.importContents(SampleData.contents(province: "35", count: 2, start: 100))
        func run() -> RunningLoop {
            let relay = HubRelay(store: stray, settings: settings, logger: f.logger)
            return RunningLoop(name: "stray") { relay.run(until: $0) }
        }
        var strayLoop = run()
        let refused = try await eventually(timeout: .seconds(20)) {
            try f.catalogue().deadLetters().filter { $0.reason == DeadLetterReason.unknownEpoch }.count == 2
        }
        try await Task.sleep(for: .seconds(3))  // its checkpoints (every second) are ignored too
        let kept = try f.catalogue().list(hub: "35")
        await strayLoop.stop()
        #expect(refused)
        #expect(kept.count == 10 && kept.allSatisfy { !$0.withdrawn }, "the real hub's records stay live")

        #expect(try f.catalogue().acceptEpoch(hub: "35", epoch: stray.epoch).to == stray.epoch)
        strayLoop = run()
        let reconciled = try await eventually(timeout: .seconds(30)) {
            let entries = try f.catalogue().list(hub: "35")
            return entries.filter { !$0.withdrawn }.map(\.globalID).sorted() == ["35:t-35-100", "35:t-35-101"]
                && entries.count == 12
        }
        await strayLoop.stop()
        await loop.stop()
        #expect(reconciled, "the accepted store's records arrive by resync and the old ones are orphaned")
        #expect(try f.catalogue().reconciliations().contains { $0.reason == "new_epoch" })
    }

    @Test("a sequence gap that stays open makes the aggregator ask for a resync from the first missing seq")
    func lostMessageIsRecoveredFromAGap() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("gap")])
        try f.declareHubControl("73")  // so the request waits for the hub, which is not running yet
        let (_, loop) = try await f.startAggregatorLoop()
        let store = try f.hubStore("73")
        _ = try store.importContents(SampleData.contents(province: "73", count: 5))
        let rows = try store.pendingOutbox(after: 0, limit: 10)
        // Seq 3 is "lost on the way": the aggregator sees 1, 2, 4, 5 and a gap at 3.
        try f.publishRaw(rows.filter { $0.seq != 3 }.map { ($0.routingKey, $0.body, $0.messageID) })
        try store.markPublished(rows.map(\.seq))
        #expect(try await eventually { try f.catalogue().stats().hubs.first?.contiguousSeq == 2 })
        #expect(try f.catalogue().stats().hubs.first?.gapSince != nil)
        let requested = try await eventually(timeout: .seconds(15)) {
            try f.catalogue().reconciliations().contains { $0.reason == "seq_gap" && $0.fromSeq == 3 }
        }
        #expect(requested)
        #expect(try await eventually { try f.queueDepth("jippnas.control.73") >= 1 })
        let hub = try f.startHub("73")  // answers the request, then checkpoints
        let repaired = try await eventually(timeout: .seconds(30)) { try f.catalogueTruth() == f.hubTruth(["73"]) }
        let closed = try await eventually { try f.catalogue().stats().hubs.first?.gapSince == nil }
        await hub.stop()
        await loop.stop()
        #expect(repaired && closed)
        let gap = try #require(try f.catalogue().reconciliations().first { $0.reason == "seq_gap" })
        #expect(gap.completedAt != nil)
        #expect(try f.catalogue().entry(globalID: "73:t-73-3") != nil)
    }

    @Test("two daemons can never share a database")
    func secondDaemonIsRefused() throws {
        let dir = TempDir("lock")
        var first: DatabaseLock? = try DatabaseLock(database: dir.file("catalogue.sqlite"), owner: "first aggregator")
        do {
            _ = try DatabaseLock(database: dir.file("catalogue.sqlite"), owner: "second aggregator")
            Issue.record("a second lock was granted")
        } catch {
            #expect(error.description.contains("pid=\(getpid())"))
            #expect(error.description.contains("first aggregator"))
        }
        #expect(first != nil)
        first = nil  // the daemon exits (or dies): the kernel releases the lock
        _ = try DatabaseLock(database: dir.file("catalogue.sqlite"), owner: "after release")
    }
}
