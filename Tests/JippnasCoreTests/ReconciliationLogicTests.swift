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

    func checkpoint(_ d: RecordDigest, seq: Int64 = 9, withdrawn: Int = 0) -> Checkpoint {
        Checkpoint(hub: "35", seq: seq, live: d.count - withdrawn, withdrawn: withdrawn, digest: d.description,
                   sentAt: "2026-11-29T00:00:00Z")
    }

    @Test func agreeingCheckpointClosesGaps() {
        let d = digest([("a", 1, false), ("b", 1, false)])
        let view = Reconciler.View(contiguousSeq: 4, highestSeq: 9, digest: d)
        #expect(Reconciler.onCheckpoint(checkpoint(d), view: view) == .consistent(seq: 9))
    }

    @Test func disagreeingCheckpointAsksForEverything() {
        let hub = digest([("a", 1, false), ("b", 1, false)])
        let catalogue = digest([("a", 1, false)])
        let view = Reconciler.View(contiguousSeq: 9, highestSeq: 9, digest: catalogue)
        #expect(Reconciler.onCheckpoint(checkpoint(hub), view: view) == .resync(fromSeq: nil, reason: .digestMismatch))
    }

    @Test func gapWaitsForItsTimeoutThenAsksFromTheFirstMissingSeq() {
        let view = Reconciler.View(contiguousSeq: 2, highestSeq: 5, digest: RecordDigest())
        #expect(Reconciler.onTick(view: view, gapOpenFor: .seconds(5), gapTimeout: .seconds(30)) == .none)
        #expect(Reconciler.onTick(view: view, gapOpenFor: .seconds(30), gapTimeout: .seconds(30))
                == .resync(fromSeq: 3, reason: .seqGap))
        let noGap = Reconciler.View(contiguousSeq: 5, highestSeq: 5, digest: RecordDigest())
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
