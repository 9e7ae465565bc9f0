import Foundation
import JippnasCore
import JippnasStore
import JippnasTestSupport
import Testing

/// Issue 14 in the stores: a provincial hub holds its kabupaten/kota hubs' records with their chains,
/// publishes them upward, answers resyncs with the chain intact, and hub and catalogue agree on the digest.
@Suite("Levels in the stores")
struct LevelsStoreTests {
    let dir = TempDir("levels-store")

    /// What Kota Surabaya published (as the regional catalogue accepted it) for `id` at `revision`.
    func fromSurabaya(_ id: String, revision: Int64, seq: Int64, event: ChangeEvent = .upsert) -> HubStore.RelayedChange {
        var content = SampleData.contents(province: "35", count: 1)[0]
        content.id = id
        content.region = "35.78"
        let envelope = Envelope(hub: "35.78", seq: seq, event: event, sentAt: "2026-11-30T08:00:00Z",
                                innovation: content.innovation(revision: revision, updatedAt: "2026-11-30T08:00:0\(revision)Z"))
        let body = EnvelopeCodec.encode(envelope)
        return HubStore.RelayedChange(published: envelope, link: ChainLink(
            hub: "35.78", seq: seq, messageID: "sby-\(seq)", keyID: "k", signature: "s", body: body))
    }

    @Test("relayed changes are stored beside the hub's own under <origin>:<id>, queued once with their chain, and resynced with it")
    func relayingQueuesWithTheChain() throws {
        let store = try HubStore(path: dir.file("hub-35.sqlite"), province: "35")
        var own = SampleData.contents(province: "35", count: 1)[0]
        own.id = "sby-e-health"  // the same id as Surabaya's: kept apart by the key
        _ = try store.importContents([own])
        let summary = try store.relay([fromSurabaya("sby-e-health", revision: 1, seq: 1),
                                       fromSurabaya("sby-e-health", revision: 2, seq: 2)], through: 10, of: "regional-a")
        #expect(summary.queued == 2 && summary.stale == 0)
        // A repeat (the forwarder stopped before its commit) and an older revision arriving late.
        let again = try store.relay([fromSurabaya("sby-e-health", revision: 2, seq: 2), fromSurabaya("sby-e-health", revision: 1, seq: 1)],
                                    through: 12, of: "regional-a")
        #expect(again.queued == 0 && again.stale == 2)
        #expect(try store.relayPosition(of: "regional-a") == 12)
        #expect(try store.relayPosition(of: "regional-b") == 0, "a position in another regional catalogue file means nothing here")
        #expect(try store.records().count == 2)

        let outbox = try store.pendingOutbox(after: 0, limit: 10)
        #expect(outbox.map(\.routingKey) == ["35.innovation.upsert", "35.innovation.upsert", "35.innovation.upsert"])
        let relayed = try EnvelopeCodec.decode(outbox[2].body, routingKey: outbox[2].routingKey, contentType: nil).get()
        #expect(relayed.globalID == "35.78:sby-e-health" && relayed.innovation.revision == 2 && relayed.hub == "35")
        #expect(relayed.chain.map(\.messageID) == ["sby-2"] && relayed.chain[0].body == fromSurabaya("sby-e-health", revision: 2, seq: 2).link.body)

        // The operator withdraws only the hub's own record of that id.
        #expect(try store.withdraw(id: "35.78:sby-e-health") == .notFound)

        // A resync republishes the relayed record with the same chain.
        try store.markPublished(outbox.map(\.seq))
        #expect(try store.enqueueResync(fromSeq: nil) == 2)
        let resent = try store.pendingOutbox(after: 0, limit: 10).map {
            try EnvelopeCodec.decode($0.body, routingKey: $0.routingKey, contentType: nil).get()
        }
        let again2 = try #require(resent.first { !$0.chain.isEmpty })
        #expect(again2.resync && again2.chain == relayed.chain && again2.innovation == relayed.innovation)
    }

    @Test("the catalogue keys relayed records as the hub does, so a relaying hub's checkpoint agrees")
    func checkpointDigestAgreesAcrossLevels() throws {
        let hub = try HubStore(path: dir.file("hub-35b.sqlite"), province: "35")
        _ = try hub.importContents(SampleData.contents(province: "35", count: 3))
        _ = try hub.relay([fromSurabaya("sby-a", revision: 1, seq: 1), fromSurabaya("sby-b", revision: 3, seq: 2, event: .withdraw)],
                          through: 2, of: "r")
        let catalogue = try CatalogueStore(path: dir.file("catalogue.sqlite"))
        let changes = try hub.pendingOutbox(after: 0, limit: 10).map { entry in
            IncomingChange(envelope: try EnvelopeCodec.decode(entry.body, routingKey: entry.routingKey, contentType: nil).get(),
                           messageID: entry.messageID, routingKey: entry.routingKey, body: entry.body, keyID: "k35", signature: "sig35")
        }
        _ = try catalogue.apply(changes)
        try hub.markPublished(try hub.pendingOutbox(after: 0, limit: 10).map(\.seq))
        let checkpoint = try #require(try hub.checkpointIfQuiescent())
        let view = try catalogue.view(hub: "35")
        #expect(view.records.digest.description == checkpoint.digest)
        #expect(checkpoint.live == 4 && checkpoint.withdrawn == 1)
        let entry = try #require(try catalogue.entry(globalID: "35.78:sby-a"))
        #expect(entry.innovation.region == "35.78")
        // History keeps the relaying hub's signature beside the body that holds the chain.
        let accepted = try catalogue.accepted(after: 0, limit: 10)
        let relayedRow = try #require(accepted.first { String(decoding: $0.body, as: UTF8.self).contains("\"relayed\"") })
        #expect(relayedRow.hub == "35" && relayedRow.keyID == "k35" && relayedRow.signature == "sig35")
        #expect(accepted.map(\.position) == accepted.map(\.position).sorted())
    }

    @Test("every change of the national catalogue reaches the feed, collapsed per record; a mirror set from it has the same digest, history and search")
    func feedCarriesEveryChangeToAMirror() throws {
        let national = try CatalogueStore(path: dir.file("national.sqlite"))
        let feedID = try national.startFeed()
        #expect(try national.startFeed() == feedID, "one feed id per catalogue file")
        let hub = try HubStore(path: dir.file("hub-feed.sqlite"), province: "35")
        _ = try hub.importContents(SampleData.contents(province: "35", count: 5))
        _ = try hub.withdraw(id: "t-35-2")
        var contents = SampleData.contents(province: "35", count: 1)
        contents[0].title = "Judul Baru Sekali"
        _ = try hub.importContents(contents)
        let changes = try hub.pendingOutbox(after: 0, limit: 100).map { entry in
            IncomingChange(envelope: try EnvelopeCodec.decode(entry.body, routingKey: entry.routingKey, contentType: nil).get(),
                           messageID: entry.messageID, routingKey: entry.routingKey, body: entry.body)
        }
        _ = try national.apply(changes)
        #expect(try national.feedPublishedSeq() == 0)
        let feed = try national.feedChanges(after: 0, limit: 100)
        #expect(feed.count == 5, "seven changes of five records: one message per record")
        #expect(feed.map { $0.seq! } == feed.map { $0.seq! }.sorted())
        let first = try #require(feed.first { $0.state.globalID == "35:t-35-1" })
        #expect(first.state.innovation.title == "Judul Baru Sekali" && first.history.count == 2)

        let mirror = try CatalogueStore(path: dir.file("mirror.sqlite"))
        var follower = MirrorFollower()
        let chained = FeedPlan.chained(feed, after: 0)
        for record in chained { #expect(follower.record(seq: record.seq, prev: record.prev, snapshot: nil) == .apply) }
        try mirror.applyFeed(chained, follower: follower, nextOffset: 17)
        try national.markFeedPublished(through: feed.last!.seq!)
        #expect(try national.feedChanges(after: feed.last!.seq!, limit: 100).isEmpty)
        let checkpoint = try #require(try national.feedCheckpointIfQuiescent(published: feed.last!.seq!))
        let mine = try mirror.mirrorCheckpoint()
        #expect(mine.digest == checkpoint.digest && mine.records == 5 && mine.withdrawn == 1 && checkpoint.withdrawn == 1)
        #expect(try mirror.history(globalID: "35:t-35-1").count == 2)
        #expect(try mirror.entry(globalID: "35:t-35-2")?.withdrawn == true)
        let (stored, next) = try mirror.mirrorPosition()
        #expect(stored == follower && next == 17)
        #expect(try national.snapshotRecords(after: "", limit: 3, snapshot: "s").map(\.state.globalID) == ["35:t-35-1", "35:t-35-2", "35:t-35-3"])
        // An update of a record the mirror holds replaces it in the search index too.
        var renamed = try #require(chained.first { $0.state.globalID == "35:t-35-1" })
        renamed.state.innovation.title = "Nama Yang Sama Sekali Lain"
        try mirror.applyFeed([renamed], follower: follower, nextOffset: 18)
        let found = try mirror.search(CatalogueQuery(text: "Lain"))
        #expect(found.hits.map(\.entry.globalID) == [renamed.state.globalID])
        #expect(try mirror.search(CatalogueQuery(text: "Judul Baru Sekali")).hits.isEmpty, "the old title's words are gone")
        // The mirror publishes nothing of its own.
        #expect(try mirror.feedChanges(after: 0, limit: 10).isEmpty)
    }
}
