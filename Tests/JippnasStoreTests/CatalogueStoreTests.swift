import Foundation
import JippnasCore
import JippnasStore
import JippnasTestSupport
import Testing

@Suite("National catalogue store")
struct CatalogueStoreTests {
    let dir = TempDir("catalogue")

    func change(_ id: String, revision: Int64, seq: Int64, hub: String = "35", event: ChangeEvent = .upsert,
                messageID: String? = nil, title: String = "Judul Inovasi") throws -> IncomingChange
    {
        var content = SampleData.contents(province: hub, count: 1)[0]
        content.id = id
        content.title = title
        let envelope = Envelope(hub: hub, seq: seq, event: event, sentAt: Timestamp.now(),
                                innovation: content.innovation(revision: revision, updatedAt: Timestamp.now()))
        return IncomingChange(envelope: envelope, messageID: messageID ?? UUID().uuidString,
                              routingKey: envelope.routingKey, body: EnvelopeCodec.encode(envelope))
    }

    @Test func appliesNewerRevisionsAndKeepsHistory() throws {
        let s = try CatalogueStore(path: dir.file("c.sqlite"))
        let outcome = try s.apply([try change("a", revision: 1, seq: 1), try change("a", revision: 2, seq: 2, title: "Judul Dua")])
        #expect(outcome.decisions == [.apply, .apply])
        let entry = try #require(try s.entry(globalID: "35:a"))
        #expect(entry.innovation.revision == 2 && entry.innovation.title == "Judul Dua" && entry.lastSeq == 2)
        #expect(try s.history(globalID: "35:a").map(\.revision) == [1, 2])
    }

    @Test func duplicatesAndStaleRevisionsChangeNothing() throws {
        let s = try CatalogueStore(path: dir.file("c.sqlite"))
        let v2 = try change("a", revision: 2, seq: 5, messageID: "m-2")
        _ = try s.apply([v2])
        let outcome = try s.apply([v2, try change("a", revision: 1, seq: 4, title: "Lama Sekali"),
                                   try change("a", revision: 2, seq: 6, title: "Sama Revisi")])
        #expect(outcome.decisions == [.duplicate, .stale, .stale])
        #expect(try s.entry(globalID: "35:a")?.innovation.title == "Judul Inovasi")
        #expect(try s.history(globalID: "35:a").count == 1)
        let hub = try #require(try s.stats().hubs.first)
        #expect(hub.applied == 1 && hub.duplicates == 1 && hub.stale == 2 && hub.highestSeq == 6)
        #expect(try s.duplicatedHistoryRows() == 0)
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
        try s.recordCheckpoint(checkpoint, consistent: true)
        let hub = try #require(try s.stats().hubs.first)
        #expect(hub.contiguousSeq == 9 && hub.gapSince == nil && hub.lastCheckpointAt != nil)
        let reconciliation = try #require(try s.reconciliations().first)
        #expect(reconciliation.completedAt != nil && reconciliation.reason == "seq_gap" && reconciliation.fromSeq == 2)
    }
}
