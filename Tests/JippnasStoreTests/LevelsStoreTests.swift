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
    func fromSurabaya(_ id: String, revision: Int64, seq: Int64, event: ChangeEvent = .upsert, epoch: String? = nil,
                      parent: String? = nil) -> HubStore.RelayedChange
    {
        var content = SampleData.contents(province: "35", count: 1)[0]
        content.id = id
        content.region = "35.78"
        let envelope = Envelope(hub: "35.78", seq: seq, event: event, sentAt: "2026-11-30T08:00:00Z",
                                innovation: content.innovation(revision: revision, updatedAt: "2026-11-30T08:00:0\(revision)Z"),
                                epoch: epoch, epochParent: parent)
        let body = EnvelopeCodec.encode(envelope)
        return HubStore.RelayedChange(published: envelope, link: ChainLink(
            hub: "35.78", seq: seq, messageID: epoch.map { "sby-\($0)-\(seq)" } ?? "sby-\(seq)", keyID: "k", signature: "s", body: body, epoch: epoch,
            epochParent: parent))
    }

    /// The hub's pending outbox as the national catalogue receives it, then marked published.
    func publish(_ hub: HubStore, to catalogue: CatalogueStore) throws -> BatchOutcome {
        let entries = try hub.pendingOutbox(after: 0, limit: 100)
        let outcome = try catalogue.apply(try entries.map { entry in
            IncomingChange(envelope: try EnvelopeCodec.decode(entry.body, routingKey: entry.routingKey, contentType: nil).get(),
                           messageID: entry.messageID, routingKey: entry.routingKey, body: entry.body)
        })
        try hub.markPublished(entries.map(\.seq))
        return outcome
    }

    @Test("a kabupaten/kota restored from a backup: its lower revisions pass the province and replace the national record; the epoch it left stays left")
    func restoredKabupatenKota() throws {
        let hub = try HubStore(path: dir.file("hub-35r.sqlite"), province: "35")
        let catalogue = try CatalogueStore(path: dir.file("catalogue-r.sqlite"))
        _ = try hub.relay([fromSurabaya("sby-a", revision: 4, seq: 4, epoch: "sby-old"),
                           fromSurabaya("sby-a", revision: 5, seq: 5, epoch: "sby-old")], through: 2, of: "r")
        let first = try publish(hub, to: catalogue)
        #expect(first.applied == 2 && first.originEpochsBegun == [EpochChange(hub: "35.78", from: "", to: "sby-old", baselineSeq: 0)])

        // Surabaya restored from a backup taken at revision 1: its next edit is revision 2 again.
        let restored = fromSurabaya("sby-a", revision: 2, seq: 2, epoch: "sby-new", parent: "sby-old")
        let relayed = try hub.relay([restored], through: 3, of: "r")
        #expect(relayed.queued == 1 && relayed.stale == 0, "a lower revision of a newer store is news")
        #expect(try hub.relay([restored], through: 4, of: "r").stale == 1, "and is queued once")
        let second = try publish(hub, to: catalogue)
        #expect(second.applied == 1 && second.originEpochsBegun == [EpochChange(hub: "35.78", from: "sby-old", to: "sby-new", baselineSeq: 0)])
        #expect(try catalogue.entry(globalID: "35.78:sby-a")?.innovation.revision == 2)
        #expect(try catalogue.history(globalID: "35.78:sby-a").map(\.revision) == [4, 5, 2])

        // A change of the old store still on its way (higher revision, the same province epoch) changes nothing.
        let late = fromSurabaya("sby-a", revision: 6, seq: 6, epoch: "sby-old")
        let envelope = Envelope(hub: "35", seq: 999, event: .upsert, sentAt: "2026-11-30T09:00:00Z", innovation: late.published.innovation,
                                epoch: hub.epoch, chain: [late.link])
        let body = EnvelopeCodec.encode(envelope)
        let third = try catalogue.apply([IncomingChange(envelope: envelope, messageID: "late", routingKey: envelope.routingKey, body: body)])
        #expect(third.decisions == [.stale] && third.originEpochsBegun.isEmpty)
        #expect(try catalogue.entry(globalID: "35.78:sby-a")?.innovation.revision == 2)
        // The catalogue and the province still agree on what the province holds.
        try hub.markPublished(try hub.pendingOutbox(after: 0, limit: 10).map(\.seq))
        let checkpoint = try #require(try hub.checkpointIfQuiescent())
        #expect(try catalogue.view(hub: "35").records.digest.description == checkpoint.digest)
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

    /// Surabaya's change as Jawa Timur (epoch `jatim`) relays it, message `id`.
    func relayedByJatim(_ change: HubStore.RelayedChange, seq: Int64, id: String) -> IncomingChange {
        let envelope = Envelope(hub: "35", seq: seq, event: change.published.event, sentAt: "2026-11-30T09:00:00Z",
                                innovation: change.published.innovation, epoch: "jatim", chain: [change.link])
        return IncomingChange(envelope: envelope, messageID: id, routingKey: envelope.routingKey, body: EnvelopeCodec.encode(envelope))
    }

    @Test("relayed epochs in any order: pre-epoch rows belong to the backup, an older store's record is kept until rewritten, a repeat decides nothing")
    func relayedEpochsInAnyOrder() throws {
        let catalogue = try CatalogueStore(path: dir.file("catalogue-orders.sqlite"))
        func revision(_ id: String) throws -> Int64? { try catalogue.entry(globalID: "35.78:\(id)")?.innovation.revision }
        // Held from before epochs were tracked (the link names none).
        _ = try catalogue.apply([relayedByJatim(fromSurabaya("sby-x", revision: 3, seq: 3), seq: 1, id: "m1")])
        // The restored store's first change, seen first: the rows held belong to its backup, sby-old.
        let restored = relayedByJatim(fromSurabaya("sby-x", revision: 2, seq: 4, epoch: "sby-new", parent: "sby-old"), seq: 2, id: "m2")
        #expect(try catalogue.apply([restored]).decisions == [.apply])
        #expect(try revision("sby-x") == 2)
        // A province resync sends what it holds in id order: a record the restored store kept unchanged
        // (still sby-old's) arrives after sby-new's, and is taken; sby-x's older revision is not.
        let kept = try catalogue.apply([relayedByJatim(fromSurabaya("sby-y", revision: 5, seq: 5, epoch: "sby-old"), seq: 3, id: "m3"),
                                        relayedByJatim(fromSurabaya("sby-x", revision: 3, seq: 3, epoch: "sby-old"), seq: 4, id: "m4")])
        #expect(kept.decisions == [.apply, .stale] && kept.originEpochsBegun.isEmpty)
        #expect(try revision("sby-y") == 5 && revision("sby-x") == 2)
        // sby-new rewrites sby-y at a lower revision: it supersedes sby-old's.
        #expect(try catalogue.apply([relayedByJatim(fromSurabaya("sby-y", revision: 2, seq: 6, epoch: "sby-new", parent: "sby-old"),
                                                    seq: 5, id: "m5")]).decisions == [.apply])
        #expect(try revision("sby-y") == 2)
        // The first message again, redelivered: a duplicate, and sby-new stays current.
        #expect(try catalogue.apply([relayedByJatim(fromSurabaya("sby-x", revision: 3, seq: 3), seq: 1, id: "m1")]).decisions == [.duplicate])
        #expect(try catalogue.apply([relayedByJatim(fromSurabaya("sby-x", revision: 1, seq: 7, epoch: "sby-new", parent: "sby-old"),
                                                    seq: 6, id: "m6")]).decisions == [.stale], "revisions compare within sby-new")
        #expect(try catalogue.duplicatedHistoryRows() == 0)
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
