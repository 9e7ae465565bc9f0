import Foundation
import JippnasAMQP
import JippnasCore
import JippnasStore
import JippnasTestSupport
import Testing

/// The consume → commit → acknowledge pipeline against the real broker and a real catalogue file.
@Suite("Aggregator pipeline on a real broker", .serialized, .enabled(if: BrokerFixture.shouldRun, "needs the broker from scripts/test"))
struct PipelineTests {
    /// A trigger makes SQLite refuse one record for good (SQLITE_CONSTRAINT): the batch holding it is split
    /// until that message is alone, it is dead-lettered as `store_refused` with SQLite's message, and
    /// everything else, in the same batches and after, is committed and acknowledged.
    @Test("a message the store refuses is dead-lettered as store_refused; the rest commit and the catalogue goes on")
    func poisonMessageIsIsolated() async throws {
        let f = Federation(urls: [try BrokerFixture.isolatedURL("poison")])
        _ = try f.catalogue()  // creates the schema the trigger needs
        try f.sql(f.aggregatorSettings.database, """
            CREATE TRIGGER refuse_one BEFORE INSERT ON innovation WHEN NEW.title = 'Inovasi Uji 35-37'
            BEGIN SELECT RAISE(ABORT, 'judul ini ditolak oleh pemicu uji'); END;
            """)
        let store = try f.hubStore("35")
        _ = try store.importContents(SampleData.contents(province: "35", count: 120))
        let (aggregator, loop) = try await f.startAggregatorLoop()
        let hub = try f.startHub("35")
        let drained = try await eventually(timeout: .seconds(30)) { try f.catalogue().stats().innovations == 119 }
        // The catalogue keeps going after the refusal.
        _ = try store.importContents(SampleData.contents(province: "35", count: 5, start: 121))
        let continued = try await eventually(timeout: .seconds(30)) { try f.catalogue().stats().innovations == 124 }
        let deadQueued = try await eventually { try f.queueDepth(WireNames.nationalDeadQueue) >= 1 }
        await hub.stop()
        await loop.stop()
        // With the consumer gone, anything held unacknowledged would be back in the queue.
        let acked = try await eventually { try f.queueDepth(WireNames.nationalQueue) == 0 }
        #expect(drained && continued && deadQueued && acked)
        // The hub's checkpoints then differ from the catalogue by that record, and a resync sends it again,
        // to be refused again: every dead letter is that one record.
        let letters = try f.catalogue().deadLetters()
        #expect(!letters.isEmpty)
        for letter in letters {
            #expect(letter.reason == DeadLetterReason.storeRefused && letter.hub == "35")
            #expect(letter.detail?.contains("judul ini ditolak oleh pemicu uji") == true)
            #expect(letter.bodyPrefix.contains("\"t-35-37\""))
        }
        #expect(try f.catalogue().entry(globalID: "35:t-35-37") == nil)
        #expect(try f.catalogue().entry(globalID: "35:t-35-38") != nil)
        // Its seq counts as received: no gap stays open.
        let view = try f.catalogue().view(hub: "35")
        #expect(view.contiguousSeq == view.highestSeq)
        #expect(aggregator.snapshot.deadLettered == letters.count && aggregator.snapshot.commitRetries == 0)
    }
}
