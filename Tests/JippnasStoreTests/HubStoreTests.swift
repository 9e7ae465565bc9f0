import Foundation
import JippnasCore
import JippnasStore
import JippnasTestSupport
import Testing

@Suite("Hub store and outbox")
struct HubStoreTests {
    let dir = TempDir("hubstore")

    func store(_ province: String = "35") throws -> HubStore {
        try HubStore(path: dir.file("hub.sqlite"), province: province)
    }

    @Test func importQueuesOneOutboxRowPerChangeInSequence() throws {
        let s = try store()
        let summary = try s.importContents(SampleData.contents(province: "35", count: 5))
        #expect(summary == ImportSummary(inserted: 5, updated: 0, unchanged: 0, seqRange: 1...5))
        let pending = try s.pendingOutbox(after: 0, limit: 100)
        #expect(pending.map(\.seq) == [1, 2, 3, 4, 5])
        #expect(pending.allSatisfy { $0.routingKey == "35.innovation.upsert" && $0.event == .upsert })
        #expect(Set(pending.map(\.messageID)).count == 5)
        let first = try EnvelopeCodec.decode(pending[0].body, routingKey: pending[0].routingKey, contentType: nil).get()
        #expect(first.hub == "35" && first.seq == 1 && first.innovation.revision == 1 && first.innovation.id == "t-35-1")
    }

    @Test("a restored backup gets a new epoch, continues its own seq, and reissues its unpublished rows under that epoch")
    func restoreFromBackupStartsANewEpoch() throws {
        let s = try store()
        #expect(HubEpoch.isValid(s.epoch))
        _ = try s.importContents(SampleData.contents(province: "35", count: 4))
        try s.markPublished([1, 2])
        let backup = dir.file("backup.sqlite")
        try s.backup(to: backup)
        #expect(throws: StoreError.self) { try s.backup(to: backup) }
        _ = try s.importContents(SampleData.contents(province: "35", count: 3, start: 5))
        let before = try s.pendingOutbox(after: 0, limit: 100)
        let oldEnvelope = try EnvelopeCodec.decode(before[0].body, routingKey: before[0].routingKey, contentType: nil).get()
        #expect(oldEnvelope.epoch == s.epoch, "envelopes carry the store's epoch")
        #expect(try s.checkpointIfQuiescent() == nil)

        let (restored, summary) = try HubStore.restore(from: backup, to: s.path, province: "35")
        #expect(summary.backupEpoch == s.epoch && summary.epoch == restored.epoch && restored.epoch != s.epoch)
        #expect(summary.records == 4 && summary.lastSeq == 4 && summary.pendingReissued == 2)
        let pending = try restored.pendingOutbox(after: 0, limit: 100)
        #expect(pending.map(\.seq) == [3, 4])
        #expect(Set(pending.map(\.messageID)).isDisjoint(with: before.map(\.messageID)), "reissued rows are new messages")
        #expect(restored.epochParent == s.epoch, "the restored store descends from the backup's epoch")
        for row in pending {
            let envelope = try EnvelopeCodec.decode(row.body, routingKey: row.routingKey, contentType: nil).get()
            #expect(envelope.epoch == restored.epoch && envelope.epochParent == s.epoch)
        }
        #expect(!FileManager.default.fileExists(atPath: s.path + ".restoring"))
        #expect(try restored.importContents(SampleData.contents(province: "35", count: 1, start: 9)).seqRange == 5...5)
        #expect(throws: StoreError.self) { try HubStore.restore(from: backup, to: dir.file("other.sqlite"), province: "33") }
        #expect(!FileManager.default.fileExists(atPath: dir.file("other.sqlite")), "a refused restore leaves nothing")
        // A restore that fails (not a hub store) leaves the live store as it was.
        let notAHub = dir.file("catalogue.sqlite")
        _ = try CatalogueStore(path: notAHub)
        #expect(throws: StoreError.self) { try HubStore.restore(from: notAHub, to: s.path, province: "35") }
        #expect(try HubStore(path: s.path, province: "35").epoch == restored.epoch)
    }

    @Test func reimportingUnchangedRecordsMakesNoRevision() throws {
        let s = try store()
        let contents = SampleData.contents(province: "35", count: 3)
        _ = try s.importContents(contents)
        #expect(try s.importContents(contents) == ImportSummary(inserted: 0, updated: 0, unchanged: 3, seqRange: nil))
        var changed = contents
        changed[1].title = "Judul Baru"
        #expect(try s.importContents(changed) == ImportSummary(inserted: 0, updated: 1, unchanged: 2, seqRange: 4...4))
        #expect(try s.records().first { $0.innovation.id == "t-35-2" }?.innovation.revision == 2)
    }

    @Test func withdrawBumpsTheRevisionAndQueuesAWithdrawEvent() throws {
        let s = try store()
        _ = try s.importContents(SampleData.contents(province: "35", count: 2))
        #expect(try s.withdraw(id: "t-35-1") == .withdrawn(seq: 3, revision: 2))
        #expect(try s.withdraw(id: "t-35-1") == .alreadyWithdrawn)
        #expect(try s.withdraw(id: "nope") == .notFound)
        let last = try #require(try s.pendingOutbox(after: 2, limit: 10).first)
        #expect(last.event == .withdraw && last.routingKey == "35.innovation.withdraw")
        #expect(try s.records().first { $0.innovation.id == "t-35-1" }?.withdrawn == true)
        // Importing it again reinstates it as a new revision.
        _ = try s.importContents(SampleData.contents(province: "35", count: 1))
        let reinstated = try #require(try s.records().first { $0.innovation.id == "t-35-1" })
        #expect(!reinstated.withdrawn && reinstated.innovation.revision == 3)
    }

    @Test func onlyConfirmedRowsLeaveThePendingSet() throws {
        let s = try store()
        _ = try s.importContents(SampleData.contents(province: "35", count: 4))
        try s.markPublished([1, 3])
        #expect(try s.pendingOutbox(after: 0, limit: 10).map(\.seq) == [2, 4])
        let stats = try s.outboxStats()
        #expect(stats.pending == 2 && stats.published == 2 && stats.lastSeq == 4 && stats.oldestPendingAt != nil)
    }

    @Test func aStoreBelongsToOneProvince() throws {
        _ = try store("35")
        #expect(throws: StoreError.self) { try store("33") }
        #expect(throws: StoreError.self) { try HubStore(path: dir.file("other.sqlite"), province: "99") }
    }

    @Test func sequenceNumbersSurviveReopening() throws {
        _ = try store().importContents(SampleData.contents(province: "35", count: 2))
        let reopened = try store()
        #expect(try reopened.importContents(SampleData.contents(province: "35", count: 1, start: 10)).seqRange == 3...3)
    }

    @Test func resyncQueuesEveryRecordOnceHoweverManyRequestsPileUp() throws {
        let s = try store()
        _ = try s.importContents(SampleData.contents(province: "35", count: 1200))
        _ = try s.withdraw(id: "t-35-7")
        // Everything is still pending: each record's latest state goes out anyway.
        #expect(try s.enqueueResync(fromSeq: nil) == 0)
        try s.markPublished(Array(1...1201))
        #expect(try s.enqueueResync(fromSeq: nil) == 1200)
        #expect(try s.enqueueResync(fromSeq: nil) == 0)
        let queued = try s.pendingOutbox(after: 0, limit: 2000)
        #expect(queued.map(\.seq) == Array(1202...2401))
        let withdrawn = try #require(queued.first { $0.routingKey == "35.innovation.withdraw" })
        let envelope = try EnvelopeCodec.decode(withdrawn.body, routingKey: withdrawn.routingKey, contentType: nil).get()
        #expect(envelope.innovation.id == "t-35-7" && envelope.resync == true && envelope.innovation.revision == 2)
        #expect(Set(queued.map(\.routingKey)) == ["35.innovation.upsert", "35.innovation.withdraw"])
    }

    @Test func resyncFromASequenceQueuesOnlyWhatChangedSince() throws {
        let s = try store()
        _ = try s.importContents(SampleData.contents(province: "35", count: 5))
        _ = try s.withdraw(id: "t-35-2")
        try s.markPublished(Array(1...6))
        #expect(try s.enqueueResync(fromSeq: 4) == 3)
        let ids = try s.pendingOutbox(after: 0, limit: 10).map {
            try EnvelopeCodec.decode($0.body, routingKey: $0.routingKey, contentType: nil).get().innovation.id
        }
        #expect(ids == ["t-35-2", "t-35-4", "t-35-5"])
    }

    @Test func aResyncCutShortIsFinishedByTheRequestDeliveredAgain() throws {
        let s = try store()
        _ = try s.importContents(SampleData.contents(province: "35", count: 1200))
        try s.markPublished(Array(1...1200))
        var first = try s.startResync(fromSeq: nil)
        #expect(try s.continueResync(&first, limit: 500) == false)
        #expect(first.queued == 500)
        // The hub dies here, the request unacknowledged; the broker delivers it again.
        var again = try s.startResync(fromSeq: nil)
        while try !s.continueResync(&again, limit: 500) {}
        #expect(again.queued == 700)
        let ids = try s.pendingOutbox(after: 0, limit: 2000).map {
            try EnvelopeCodec.decode($0.body, routingKey: $0.routingKey, contentType: nil).get().innovation.id
        }
        #expect(ids.count == 1200 && Set(ids).count == 1200)
    }

    @Test func aFullResyncCoversEveryRequestAndOneFromASequenceCoversLaterOnes() throws {
        let s = try store()
        let full = try s.startResync(fromSeq: nil)
        #expect(full.covers(fromSeq: nil) && full.covers(fromSeq: 1) && full.covers(fromSeq: 900))
        let since = try s.startResync(fromSeq: 40)
        #expect(since.covers(fromSeq: 40) && since.covers(fromSeq: 41))
        #expect(!since.covers(fromSeq: 39) && !since.covers(fromSeq: nil))
    }

    @Test func rowsTheRelayHasAlreadyReadAreQueuedAgainNotSkipped() throws {
        let s = try store()
        _ = try s.importContents(SampleData.contents(province: "35", count: 10))
        // Rows 1-6 were read (in flight, or confirmed and not yet marked); 7-10 were not sent yet.
        var job = try s.startResync(fromSeq: nil, unsentAfter: 6)
        #expect(try s.continueResync(&job, limit: 100))
        #expect(job.queued == 6)
        let requeued = try s.pendingOutbox(after: 10, limit: 100).map {
            try EnvelopeCodec.decode($0.body, routingKey: $0.routingKey, contentType: nil).get().innovation.id
        }
        #expect(Set(requeued) == Set((1...6).map { "t-35-\($0)" }))
    }
}
