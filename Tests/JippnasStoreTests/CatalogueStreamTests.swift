import Foundation
import JippnasCore
import JippnasStore
import JippnasTestSupport
import Testing

@Suite("Catalogue fed from a stream, and catalogue diff")
struct CatalogueStreamTests {
    let dir = TempDir("catalogue-stream")

    func change(_ id: String, revision: Int64, seq: Int64, title: String = "Judul") -> IncomingChange {
        var content = SampleData.contents(province: "35", count: 1)[0]
        content.id = id
        content.title = title
        let envelope = Envelope(hub: "35", seq: seq, event: .upsert, sentAt: "2026-11-30T00:00:00Z",
                                innovation: content.innovation(revision: revision, updatedAt: "2026-11-30T00:00:00Z"))
        return IncomingChange(envelope: envelope, messageID: "m-\(id)-\(revision)", routingKey: envelope.routingKey,
                              body: EnvelopeCodec.encode(envelope))
    }

    @Test("the stream offset commits with the changes, only moves forward, and a failed batch leaves it")
    func offsetCommitsWithChanges() throws {
        let store = try CatalogueStore(path: dir.file("a.sqlite"))
        #expect(try store.streamNextOffset(WireNames.historyStream) == nil)
        var first = change("a", revision: 1, seq: 1)
        first.envelope.epoch = "e1"
        _ = try store.apply([first], streamPosition: StreamPosition(stream: WireNames.historyStream, offset: 10))
        #expect(try store.streamNextOffset(WireNames.historyStream) == 11)
        // An earlier part of a split batch committing later does not move it back.
        var second = change("b", revision: 1, seq: 2)
        second.envelope.epoch = "e1"
        _ = try store.apply([second], streamPosition: StreamPosition(stream: WireNames.historyStream, offset: 7))
        #expect(try store.streamNextOffset(WireNames.historyStream) == 11)
        // A batch the store refuses (a change with an unknown epoch's parent is refused as data) rolls back
        // its position with it.
        var refused = change("c", revision: 1, seq: 3)
        refused.envelope.epoch = "e2"
        refused.envelope.epochParent = "nonexistent"
        #expect(throws: StoreError.self) {
            var good = change("d", revision: 1, seq: 4)
            good.envelope.epoch = "e1"
            _ = try store.apply([good, refused],
                                streamPosition: StreamPosition(stream: WireNames.historyStream, offset: 20))
        }
        #expect(try store.streamNextOffset(WireNames.historyStream) == 11)
        #expect(try store.entry(globalID: "35:d") == nil)
        try store.recordStreamPosition(StreamPosition(stream: WireNames.historyStream, offset: 30))
        #expect(try store.streamNextOffset(WireNames.historyStream) == 31)
    }

    @Test("diff finds records only in one, differing columns and history revisions, and passes equal copies")
    func diffRecordByRecord() throws {
        let a = try CatalogueStore(path: dir.file("left.sqlite"))
        let b = try CatalogueStore(path: dir.file("right.sqlite"))
        let shared = (1...2_500).map { change("r\($0)", revision: 1, seq: Int64($0)) }
        _ = try a.apply(shared, receivedAt: "2026-11-30T01:00:00Z")
        _ = try b.apply(shared, receivedAt: "2026-11-30T02:00:00Z")  // another receive time is not a difference
        #expect(try CatalogueDiff.compare(a, b).isEmpty)

        _ = try a.apply([change("only-a", revision: 1, seq: 2_501)])
        _ = try b.apply([change("r7", revision: 2, seq: 2_501, title: "Lain")])
        let diff = try CatalogueDiff.compare(a, b)
        #expect(!diff.isEmpty)
        #expect(diff.onlyInA == ["35:only-a"] && diff.onlyInB.isEmpty)
        #expect(diff.differing.map(\.globalID) == ["35:r7"])
        #expect(diff.differing.first?.columns == ["revision", "title"])
        #expect(diff.historyOnlyInA == 1 && diff.historyOnlyInB == 1)
        #expect(diff.recordsA == 2_501 && diff.recordsB == 2_500)
    }

    @Test("a hub's revisions delivered in another order (a retried publish behind later ones) give the same catalogue")
    func arrivalOrderDoesNotMatter() throws {
        let revisions = (1...4).map { change("r", revision: Int64($0), seq: Int64($0)) }
        let inOrder = try CatalogueStore(path: dir.file("queue.sqlite"))
        let reordered = try CatalogueStore(path: dir.file("stream.sqlite"))
        _ = try inOrder.apply(revisions)
        _ = try reordered.apply([revisions[0], revisions[2]])
        _ = try reordered.apply([revisions[1], revisions[3], revisions[1]])
        #expect(try CatalogueDiff.compare(inOrder, reordered).isEmpty)
        #expect(try reordered.history(globalID: "35:r").map(\.revision) == [1, 2, 3, 4])
    }
}
