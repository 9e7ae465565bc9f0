import Foundation
import JippnasCore
import Testing

@Suite("Record digest and reconciliation decisions")
struct ReconciliationLogicTests {
    func digest(_ records: [(String, Int64, Bool)]) -> RecordDigest {
        var d = RecordDigest()
        for r in records { d.add(id: r.0, revision: r.1, withdrawn: r.2) }
        return d
    }

    @Test func digestIgnoresOrderButSeesEveryField() {
        let base = digest([("a", 1, false), ("b", 2, true), ("c", 7, false)])
        #expect(base == digest([("c", 7, false), ("a", 1, false), ("b", 2, true)]))
        #expect(base != digest([("a", 1, false), ("b", 2, false), ("c", 7, false)]))
        #expect(base != digest([("a", 1, false), ("b", 3, true), ("c", 7, false)]))
        #expect(base != digest([("a", 1, false), ("b", 2, true)]))
        #expect(base.description.count == 16)
        #expect(RecordDigest().description == "0000000000000000")
    }

    func records(_ list: [(String, Int64, Bool)]) -> Reconciler.Records {
        var r = Reconciler.Records()
        for item in list { r.add(id: item.0, revision: item.1, withdrawn: item.2) }
        return r
    }

    func checkpoint(_ d: RecordDigest, seq: Int64 = 9, withdrawn: Int = 0) -> Checkpoint {
        Checkpoint(hub: "35", seq: seq, live: d.count - withdrawn, withdrawn: withdrawn, digest: d.description,
                   sentAt: "2026-11-29T00:00:00Z")
    }

    @Test func agreeingCheckpointClosesGaps() {
        let d = digest([("a", 1, false), ("b", 1, false)])
        let view = Reconciler.View(contiguousSeq: 4, highestSeq: 9, records: records([("a", 1, false), ("b", 1, false)]))
        #expect(Reconciler.onCheckpoint(checkpoint(d), view: view) == .consistent(seq: 9))
    }

    @Test func disagreeingCheckpointAsksForEverything() {
        let hub = digest([("a", 1, false), ("b", 1, false)])
        let view = Reconciler.View(contiguousSeq: 9, highestSeq: 9, records: records([("a", 1, false)]))
        #expect(Reconciler.onCheckpoint(checkpoint(hub), view: view) == .resync(fromSeq: nil, reason: .digestMismatch))
    }

    @Test("a checkpoint is judged by its digest and each count, not by their total")
    func checkpointCountsAreComparedOneByOne() {
        let held = records([("a", 1, false), ("b", 2, true)])
        var claim = checkpoint(held.digest, withdrawn: 1)
        let view = Reconciler.View(contiguousSeq: 9, highestSeq: 9, records: held)
        #expect(Reconciler.onCheckpoint(claim, view: view) == .consistent(seq: 9))
        claim.live = 2
        claim.withdrawn = 0
        #expect(Reconciler.onCheckpoint(claim, view: view) == .resync(fromSeq: nil, reason: .digestMismatch))
    }

    @Test("after a new epoch: all agree -> adopt; the epoch's own records agree -> orphan the rest; else resync all")
    func newEpochDecisions() {
        let restored: [(String, Int64, Bool)] = [("a", 1, false), ("b", 3, false)]
        let hub = checkpoint(digest(restored))
        let allAgree = Reconciler.View(contiguousSeq: 9, highestSeq: 9, records: records(restored), inEpoch: records([("a", 1, false)]))
        #expect(Reconciler.onCheckpoint(hub, view: allAgree) == .adoptEpoch(seq: 9))
        let withLost = Reconciler.View(contiguousSeq: 9, highestSeq: 9, records: records(restored + [("c", 1, false)]),
                                       inEpoch: records(restored))
        #expect(Reconciler.onCheckpoint(hub, view: withLost) == .orphanOthers(seq: 9))
        let notYet = Reconciler.View(contiguousSeq: 9, highestSeq: 9, records: records([("a", 1, false), ("b", 4, false)]),
                                     inEpoch: records([("a", 1, false)]))
        #expect(Reconciler.onCheckpoint(hub, view: notYet) == .resync(fromSeq: nil, reason: .newEpoch))
    }

    @Test("an epoch is current, adopted by a catalogue that had none, begun by a restore of a known one, ignored when retired, refused when it descends from nothing known")
    func epochDecisions() {
        func decide(_ current: String, _ incoming: String?, parent: String? = nil, retired: Bool = false, known: Bool = false)
            -> HubEpoch.Decision
        {
            HubEpoch.decide(current: current, incoming: incoming, parent: parent, isRetired: retired, parentIsKnown: known)
        }
        #expect(decide("e1", "e1") == .current)
        #expect(decide("e1", nil) == .current)
        #expect(decide("", "e1") == .adopt, "a hub upgraded in place, or seen for the first time")
        #expect(decide("", "e1", parent: "") == .begin, "a restore seen first: tracking restarts")
        #expect(decide("e1", "e2", parent: "e1", known: true) == .begin)
        #expect(decide("e2", "e1", retired: true) == .retired)
        #expect(decide("e1", "e2") == .unknown, "a new store (a mistyped path) must not supersede the hub")
        #expect(decide("e1", "e2", parent: "e9", known: false) == .unknown)
        let epoch = HubEpoch.generate()
        #expect(epoch.count == 16 && HubEpoch.isValid(epoch) && epoch != HubEpoch.generate())
        #expect(!HubEpoch.isValid("") && !HubEpoch.isValid("a b") && !HubEpoch.isValid(String(repeating: "a", count: 65)))
        #expect(HubEpoch.isValidParent("") && !HubEpoch.isValidParent("a/b"))
    }

    @Test("within an epoch revisions order; a record set by a superseded epoch yields to any revision")
    func supersededEpochYields() {
        #expect(ApplyDecision.decide(messageSeen: false, storedRevision: 7, incomingRevision: 6) == .stale)
        #expect(ApplyDecision.decide(messageSeen: false, storedRevision: 7, incomingRevision: 6, storedBySupersededEpoch: true) == .apply)
        #expect(ApplyDecision.decide(messageSeen: true, storedRevision: 7, incomingRevision: 8, storedBySupersededEpoch: true) == .duplicate)
    }

    @Test func gapWaitsForItsTimeoutThenAsksFromTheFirstMissingSeq() {
        let view = Reconciler.View(contiguousSeq: 2, highestSeq: 5, records: records([]))
        #expect(Reconciler.onTick(view: view, gapOpenFor: .seconds(5), gapTimeout: .seconds(30)) == .none)
        #expect(Reconciler.onTick(view: view, gapOpenFor: .seconds(30), gapTimeout: .seconds(30))
                == .resync(fromSeq: 3, reason: .seqGap))
        let noGap = Reconciler.View(contiguousSeq: 5, highestSeq: 5, records: records([]))
        #expect(Reconciler.onTick(view: noGap, gapOpenFor: .seconds(99), gapTimeout: .seconds(30)) == .none)
    }

    @Test func checkpointCodecValidates() throws {
        let good = checkpoint(digest([("a", 1, false)]))
        let body = try ControlCodec.encode(good)
        #expect(try ControlCodec.decodeCheckpoint(body, routingKey: "35.hub.checkpoint").get() == good)
        #expect(ControlCodec.decodeCheckpoint(body, routingKey: "33.hub.checkpoint") == .failure(.provinceMismatch))
        #expect(ControlCodec.decodeCheckpoint(body, routingKey: "35.hub.other") == .failure(.invalidRoutingKey))
        #expect(ControlCodec.decodeCheckpoint(Data("{}".utf8), routingKey: "35.hub.checkpoint") == .failure(.missingField("schema")))
        var bad = good
        bad.digest = "xyz"
        #expect(ControlCodec.decodeCheckpoint(try ControlCodec.encode(bad), routingKey: "35.hub.checkpoint")
                == .failure(.invalidField("digest")))
    }

    @Test func resyncCodecValidates() throws {
        let request = ResyncRequest(hub: "73", fromSeq: 3, reason: .seqGap, requestID: "r", requestedAt: "2026-11-29T00:00:00Z")
        let body = try ControlCodec.encode(request)
        #expect(String(decoding: body, as: UTF8.self).contains("\"from_seq\":3"))
        #expect(try ControlCodec.decodeResync(body, province: "73").get() == request)
        #expect(ControlCodec.decodeResync(body, province: "35") == .failure(.provinceMismatch))
        #expect(ControlCodec.decodeResync(Data("nope".utf8), province: "73") == .failure(.malformedJSON))
    }

    @Test func resyncFlagTravelsInTheEnvelope() throws {
        let i = Innovation(id: "a", revision: 2, title: "Judul", agency: "OPD", region: "35.78", category: .kesehatan,
                           kind: .digital, stage: .penerapan, updatedAt: "2026-11-29T00:00:00Z")
        let e = Envelope(hub: "35", seq: 9, event: .upsert, sentAt: "2026-11-29T00:00:00Z", innovation: i, resync: true)
        let body = EnvelopeCodec.encode(e)
        #expect(try EnvelopeCodec.decode(body, routingKey: e.routingKey, contentType: nil).get().resync)
        let plain = EnvelopeCodec.encode(Envelope(hub: "35", seq: 9, event: .upsert, sentAt: e.sentAt, innovation: i))
        #expect(!String(decoding: plain, as: UTF8.self).contains("resync"))
    }
}
