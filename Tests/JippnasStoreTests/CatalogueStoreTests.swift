import Foundation
import Synchronization
import JippnasCore
@testable import JippnasStore
import JippnasTestSupport
import Testing

@Suite("National catalogue store")
struct CatalogueStoreTests {
    let dir = TempDir("catalogue")

    func change(_ id: String, revision: Int64, seq: Int64, hub: String = "35", event: ChangeEvent = .upsert,
                messageID: String? = nil, title: String = "Judul Inovasi", epoch: String? = nil,
                parent: String? = nil, resync: Bool = false) throws -> IncomingChange
    {
        var content = SampleData.contents(province: hub, count: 1)[0]
        content.id = id
        content.title = title
        let envelope = Envelope(hub: hub, seq: seq, event: event, sentAt: Timestamp.now(),
                                innovation: content.innovation(revision: revision, updatedAt: Timestamp.now()),
                                resync: resync, epoch: epoch, epochParent: parent)
        return IncomingChange(envelope: envelope, messageID: messageID ?? UUID().uuidString,
                              routingKey: envelope.routingKey, body: EnvelopeCodec.encode(envelope))
    }

    @Test("stores opened at once on a new file (a daemon starting while a command reads) all migrate it")
    func concurrentOpensMigrateOnce() throws {
        for round in 0..<5 {
            let path = dir.file("race-\(round).sqlite")
            let failures = Mutex(0)
            DispatchQueue.concurrentPerform(iterations: 4) { i in
                do {
                    if i % 2 == 0 { _ = try CatalogueStore(path: path) } else { _ = try HubStore(path: path + ".hub", province: "35") }
                } catch {
                    failures.withLock { $0 += 1 }
                }
            }
            #expect(failures.withLock { $0 } == 0)
        }
    }

    @Test func appliesNewerRevisionsAndKeepsHistory() throws {
        let s = try CatalogueStore(path: dir.file("c.sqlite"))
        let outcome = try s.apply([try change("a", revision: 1, seq: 1), try change("a", revision: 2, seq: 2, title: "Judul Dua")])
        #expect(outcome.decisions == [.apply, .apply])
        let entry = try #require(try s.entry(globalID: "35:a"))
        #expect(entry.innovation.revision == 2 && entry.innovation.title == "Judul Dua" && entry.lastSeq == 2)
        #expect(try s.history(globalID: "35:a").map(\.revision) == [1, 2])
    }

    @Test("duplicates and stale revisions leave the record alone; a late revision is kept in history once")
    func duplicatesAndStaleRevisionsChangeNothing() throws {
        let s = try CatalogueStore(path: dir.file("c.sqlite"))
        let v2 = try change("a", revision: 2, seq: 5, messageID: "m-2")
        _ = try s.apply([v2])
        let late = try change("a", revision: 1, seq: 4, title: "Lama Sekali")
        let outcome = try s.apply([v2, late, try change("a", revision: 2, seq: 6, title: "Sama Revisi"),
                                   try change("a", revision: 1, seq: 7, title: "Lama Lagi")])
        #expect(outcome.decisions == [.duplicate, .stale, .stale, .stale])
        #expect(try s.entry(globalID: "35:a")?.innovation.title == "Judul Inovasi")
        #expect(try s.history(globalID: "35:a").map(\.revision) == [1, 2], "revision order, not arrival order")
        #expect(try s.provenance(globalID: "35:a").last?.messageID == "m-2", "the current revision's publisher")
        #expect(try s.apply([late]).decisions == [.duplicate])
        let hub = try #require(try s.stats().hubs.first)
        #expect(hub.applied == 1 && hub.duplicates == 2 && hub.stale == 3 && hub.highestSeq == 7)
        #expect(try s.duplicatedHistoryRows() == 0)
    }

    @Test("a resync answer restating a held revision is not kept again; a late revision is noted for the national feed")
    func lateRevisionsAndTheFeed() throws {
        let s = try CatalogueStore(path: dir.file("c.sqlite"))
        _ = try s.startFeed()
        _ = try s.apply([try change("b", revision: 3, seq: 3)])
        let changes = { try s.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM catalogue_change WHERE global_id = '35:b'") ?? 0 } }
        let before = try changes()
        _ = try s.apply([try change("b", revision: 2, seq: 9, resync: true)])
        #expect(try s.history(globalID: "35:b").map(\.revision) == [3] && changes() == before)
        _ = try s.apply([try change("b", revision: 1, seq: 1)])
        #expect(try s.history(globalID: "35:b").map(\.revision) == [1, 3])
        #expect(try changes() == before + 1, "a mirror gets the record again, with the late row in its history")
    }

    @Test func withdrawLeavesATombstone() throws {
        let s = try CatalogueStore(path: dir.file("c.sqlite"))
        _ = try s.apply([try change("a", revision: 1, seq: 1), try change("a", revision: 2, seq: 2, event: .withdraw)])
        let entry = try #require(try s.entry(globalID: "35:a"))
        #expect(entry.withdrawn && entry.withdrawnAt != nil)
        #expect(try s.list(includeWithdrawn: false).isEmpty)
        #expect(try s.list().count == 1)
        let stats = try s.stats()
        #expect(stats.innovations == 1 && stats.live == 0 && stats.withdrawn == 1)
    }

    @Test func deadLettersAreRecordedWithTheirReason() throws {
        let s = try CatalogueStore(path: dir.file("c.sqlite"))
        let body = Data(("{\"broken\": " + String(repeating: "x", count: 2000)).utf8)
        _ = try s.apply([], deadLetters: [DeadLetter(reason: "malformed_json", routingKey: "35.innovation.upsert",
                                                     messageID: "m-1", hub: "35", body: body)])
        let letter = try #require(try s.deadLetters().first)
        #expect(letter.reason == "malformed_json" && letter.messageID == "m-1" && letter.routingKey == "35.innovation.upsert")
        #expect(letter.bodyPrefix.utf8.count == DeadLetter.prefixBytes)
        #expect(try s.stats().hubs.first?.deadLetters == 1)
    }

    @Test func hubsAreKeptApart() throws {
        let s = try CatalogueStore(path: dir.file("c.sqlite"))
        _ = try s.apply([try change("a", revision: 1, seq: 1, hub: "35"), try change("a", revision: 1, seq: 1, hub: "33")])
        #expect(try s.list().map(\.globalID) == ["33:a", "35:a"])
        #expect(try s.list(hub: "33").count == 1)
        #expect(try s.stats().hubs.map(\.hub) == ["33", "35"])
    }

    func checkpoint(_ s: CatalogueStore, seq: Int64, epoch: String, parent: String? = nil, records: [(String, Int64, Bool)])
        -> Checkpoint
    {
        var digest = RecordDigest()
        for r in records { digest.add(id: r.0, revision: r.1, withdrawn: r.2) }
        let withdrawn = records.filter(\.2).count
        return Checkpoint(hub: "35", seq: seq, live: records.count - withdrawn, withdrawn: withdrawn,
                          digest: digest.description, sentAt: Timestamp.now(), epoch: epoch, epochParent: parent)
    }

    /// Decides and records a checkpoint as the aggregator does.
    func judge(_ s: CatalogueStore, _ checkpoint: Checkpoint) throws -> (Reconciler.Action, Int) {
        let (decision, _) = try s.enterEpoch(of: checkpoint)
        #expect(decision != .retired)
        let action = Reconciler.onCheckpoint(checkpoint, view: try s.view(hub: "35", epoch: checkpoint.epoch))
        return (action, try s.recordCheckpoint(checkpoint, action: action))
    }

    @Test("a restored hub: its new epoch restarts seq tracking, supersedes older revisions, retires the old epoch, and what it lost is orphaned")
    func restoredHubConverges() throws {
        let s = try CatalogueStore(path: dir.file("c.sqlite"))
        let before = try s.apply([try change("a", revision: 3, seq: 3, epoch: "e1"), try change("b", revision: 1, seq: 4, epoch: "e1"),
                                  try change("c", revision: 1, seq: 5, epoch: "e1")])
        #expect(before.epochsBegun.map(\.from) == [""], "the first epoch is adopted")
        // Restored from a backup made at seq 2 (a at revision 2, b at 1, no c): a new revision 3 of a.
        let restored = try s.apply([try change("a", revision: 3, seq: 3, title: "Dipulihkan", epoch: "e2", parent: "e1"),
                                    try change("b", revision: 2, seq: 6, epoch: "e1")])
        #expect(restored.decisions == [.apply, .stale], "the new epoch's revision 3 replaces the old one; the old epoch is retired")
        #expect(restored.epochsBegun == [EpochChange(hub: "35", from: "e1", to: "e2", baselineSeq: 3)])
        #expect(try s.entry(globalID: "35:a")?.innovation.title == "Dipulihkan")
        #expect(try s.entry(globalID: "35:b")?.innovation.revision == 1)
        let hub = try #require(try s.stats().hubs.first)
        #expect(hub.highestSeq == 3 && hub.contiguousSeq == 3, "tracking restarted at the new epoch's first seq")

        let truth: [(String, Int64, Bool)] = [("a", 3, false), ("b", 1, false)]
        #expect(try judge(s, checkpoint(s, seq: 3, epoch: "e2", parent: "e1", records: truth)).0 == .resync(fromSeq: nil, reason: .newEpoch))
        _ = try s.apply([try change("a", revision: 3, seq: 4, title: "Dipulihkan", epoch: "e2", parent: "e1", resync: true),
                         try change("b", revision: 1, seq: 5, epoch: "e2", parent: "e1", resync: true)])
        let (action, orphaned) = try judge(s, checkpoint(s, seq: 5, epoch: "e2", parent: "e1", records: truth))
        #expect(action == .orphanOthers(seq: 5) && orphaned == 1)
        let lost = try #require(try s.entry(globalID: "35:c"))
        #expect(lost.withdrawn, "a record the restored hub no longer has is withdrawn")
        #expect(try judge(s, checkpoint(s, seq: 5, epoch: "e2", parent: "e1", records: truth)).0 == .consistent(seq: 5))
        #expect(try s.duplicatedHistoryRows() == 0)

        // The operator imports c again: it comes back under the new epoch.
        #expect(try s.apply([try change("c", revision: 1, seq: 6, epoch: "e2", parent: "e1")]).decisions == [.apply])
        #expect(try s.entry(globalID: "35:c")?.withdrawn == false)
        #expect(try judge(s, checkpoint(s, seq: 6, epoch: "e2", parent: "e1", records: truth + [("c", 1, false)])).0 == .consistent(seq: 6))
        let (late, _) = try s.enterEpoch(of: checkpoint(s, seq: 9, epoch: "e1", records: truth))
        #expect(late == .retired, "a checkpoint of the retired epoch is ignored")
    }

    @Test("a new store that descends from none of the hub's epochs is refused (unknown_epoch) and changes nothing until an operator accepts it")
    func unknownEpochIsRefusedUntilAccepted() throws {
        let s = try CatalogueStore(path: dir.file("c.sqlite"))
        _ = try s.apply([try change("a", revision: 2, seq: 7, epoch: "e1"), try change("b", revision: 1, seq: 8, epoch: "e1")])
        let fresh = try change("x", revision: 1, seq: 1, epoch: "fresh")
        do throws(StoreError) {
            _ = try s.apply([fresh])
            Issue.record("a change of an unknown epoch was applied")
        } catch {
            #expect(error.refusesData && error.deadLetterReason == DeadLetterReason.unknownEpoch, "\(error)")
        }
        let empty = checkpoint(s, seq: 0, epoch: "fresh", records: [])
        #expect(try s.enterEpoch(of: empty).0 == .unknown, "an empty store's checkpoint cannot withdraw the province")
        #expect(try s.list(hub: "35").filter(\.withdrawn).isEmpty)
        #expect(try s.apply([try change("b", revision: 2, seq: 9, epoch: "e1")]).decisions == [.apply], "the real hub goes on")

        // Rebuilt without a backup: the operator accepts the new epoch, once messages were refused under it
        // (or with force), never a retired one; its first checkpoint then reconciles.
        #expect(throws: StoreError.self) { try s.acceptEpoch(hub: "35", epoch: "fresh") }
        try s.refuse(fresh, reason: DeadLetterReason.unknownEpoch, detail: "unknown")
        #expect(try s.stats().hubs.first?.highestSeq == 9, "a refused epoch's seq counts for nothing")
        #expect(throws: StoreError.self) { try s.acceptEpoch(hub: "33", epoch: "fresh") }
        #expect(try s.acceptEpoch(hub: "35", epoch: "fresh").from == "e1")
        #expect(throws: StoreError.self) { try s.acceptEpoch(hub: "35", epoch: "e1", force: true) }
        #expect(throws: StoreError.self, "a hub this catalogue has never heard from") { try s.acceptEpoch(hub: "35.78", epoch: "x", force: true) }
        #expect(try s.apply([try change("a", revision: 1, seq: 1, epoch: "fresh")]).decisions == [.apply])
        let (action, orphaned) = try judge(s, checkpoint(s, seq: 1, epoch: "fresh", records: [("a", 1, false)]))
        #expect(action == .orphanOthers(seq: 1) && orphaned == 1)
    }

    @Test("a hub upgraded in place: its first epoch labels the records it already had, without a reconciliation")
    func legacyHubAdoptsItsEpoch() throws {
        let s = try CatalogueStore(path: dir.file("c.sqlite"))
        _ = try s.apply([try change("a", revision: 1, seq: 1), try change("b", revision: 1, seq: 2)])
        let outcome = try s.apply([try change("a", revision: 2, seq: 3, epoch: "e1")])
        #expect(outcome.decisions == [.apply] && outcome.epochsBegun.first?.from == "")
        #expect(try s.stats().hubs.first?.contiguousSeq == 3, "sequence tracking continues")
        let (action, _) = try judge(s, checkpoint(s, seq: 3, epoch: "e1", records: [("a", 2, false), ("b", 1, false)]))
        #expect(action == .consistent(seq: 3))
    }
}


@Suite("Catalogue sequence tracking")
struct SequenceTrackingTests {
    let dir = TempDir("seqs")

    func change(seq: Int64, id: String = "a", revision: Int64? = nil) throws -> IncomingChange {
        var content = SampleData.contents(province: "35", count: 1)[0]
        content.id = id
        let envelope = Envelope(hub: "35", seq: seq, event: .upsert, sentAt: Timestamp.now(),
                                innovation: content.innovation(revision: revision ?? seq, updatedAt: Timestamp.now()))
        return IncomingChange(envelope: envelope, messageID: UUID().uuidString, routingKey: envelope.routingKey,
                              body: EnvelopeCodec.encode(envelope))
    }

    @Test func gapsOpenAndCloseAcrossBatches() throws {
        let s = try CatalogueStore(path: dir.file("c.sqlite"))
        _ = try s.apply([try change(seq: 1), try change(seq: 2), try change(seq: 5)])
        var hub = try #require(try s.stats().hubs.first)
        #expect(hub.contiguousSeq == 2 && hub.highestSeq == 5 && hub.gapSince != nil)
        #expect(try s.hubsWithGaps() == ["35"])
        _ = try s.apply([try change(seq: 4), try change(seq: 3)])
        hub = try #require(try s.stats().hubs.first)
        #expect(hub.contiguousSeq == 5 && hub.gapSince == nil)
        #expect(try s.hubsWithGaps().isEmpty)
    }

    @Test func anAgreeingCheckpointClosesAGapAndCompletesTheReconciliation() throws {
        let s = try CatalogueStore(path: dir.file("c.sqlite"))
        _ = try s.apply([try change(seq: 1), try change(seq: 4, id: "b")])
        try s.recordResyncRequest(hub: "35", reason: .seqGap, fromSeq: 2)
        _ = try s.apply([try change(seq: 9, id: "b", revision: 4)].map { c in
            var c = c
            c.envelope.resync = true
            return c
        })
        let checkpoint = Checkpoint(hub: "35", seq: 9, live: 2, withdrawn: 0, digest: try s.view(hub: "35").digest.description,
                                    sentAt: Timestamp.now())
        try s.recordCheckpoint(checkpoint, action: .consistent(seq: 9))
        let hub = try #require(try s.stats().hubs.first)
        #expect(hub.contiguousSeq == 9 && hub.gapSince == nil && hub.lastCheckpointAt != nil)
        let reconciliation = try #require(try s.reconciliations().first)
        #expect(reconciliation.completedAt != nil && reconciliation.reason == "seq_gap" && reconciliation.fromSeq == 2)
    }
}
