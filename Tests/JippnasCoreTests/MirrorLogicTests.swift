import Foundation
import JippnasCore
import Testing

/// Issue 14's feed decisions: a mirror never skips a change unseen, repairs from a snapshot, and the
/// aggregator chains what it publishes.
@Suite("Mirror follower and feed plan")
struct MirrorLogicTests {
    @Test func followsChangesInOrderAndSkipsRepeats() {
        var f = MirrorFollower()
        #expect(f.record(seq: 3, prev: 0, snapshot: nil) == .apply)
        #expect(f.mode == .following && f.lastSeq == 3)
        #expect(f.record(seq: 7, prev: 3, snapshot: nil) == .apply)
        #expect(f.record(seq: 7, prev: 3, snapshot: nil) == .skip, "the same message again")
        #expect(f.record(seq: 5, prev: 3, snapshot: nil) == .skip, "an older one")
        // Published again after the aggregator lost its confirms, grouped differently: overlaps, applied.
        #expect(f.record(seq: 9, prev: 5, snapshot: nil) == .apply)
        #expect(f.lastSeq == 9)
        #expect(f.record(seq: 1, prev: nil, snapshot: "s") == .skip, "a snapshot is not needed while following")
    }

    @Test func aGapWaitsForASnapshotWhichSetsTheMirrorRight() {
        var f = MirrorFollower(lastSeq: 10, mode: .following)
        #expect(f.record(seq: 20, prev: 15, snapshot: nil) == .gap(lastApplied: 10, prev: 15))
        #expect(f.mode == .awaitingSnapshot)
        #expect(f.record(seq: 21, prev: 20, snapshot: nil) == .skip)
        let began = f.snapshotBegins(id: "s1", at: 500)
        #expect(began)
        #expect(f.record(seq: nil, prev: nil, snapshot: "s1") == .apply)
        #expect(f.record(seq: nil, prev: nil, snapshot: "other") == .skip)
        #expect(f.record(seq: 22, prev: 21, snapshot: nil) == .apply, "a change published during the snapshot")
        f.snapshotEnds(id: "s1", through: 22)
        #expect(f.mode == .following && f.lastSeq == 22 && f.snapshotOffset == 500)
        #expect(f.record(seq: 23, prev: 22, snapshot: nil) == .apply)
    }

    @Test func aNewMirrorStartsFromTheBeginningOrFromASnapshot() {
        var fromStart = MirrorFollower()
        #expect(fromStart.record(seq: 1, prev: 0, snapshot: nil) == .apply)
        var afterRetention = MirrorFollower()
        #expect(afterRetention.record(seq: 5000, prev: 4999, snapshot: nil) == .gap(lastApplied: 0, prev: 4999))
        var atSnapshot = MirrorFollower()
        let began = atSnapshot.snapshotBegins(id: "s", at: 0)
        #expect(began)
        #expect(atSnapshot.mode == .inSnapshot("s"))
        var following = MirrorFollower(lastSeq: 4, mode: .following)
        let applies = following.snapshotBegins(id: "s", at: 42)
        #expect(!applies && following.snapshotOffset == 42)
    }

    @Test func aDisagreeingCheckpointReadsAgainFromTheLastSnapshot() {
        var f = MirrorFollower(lastSeq: 30, mode: .following, snapshotOffset: 1200)
        #expect(f.checkpoint(through: 29, agrees: false) == .notComparable)
        #expect(f.checkpoint(through: 30, agrees: true) == .agrees)
        #expect(f.checkpoint(through: 30, agrees: false) == .disagrees(readAgainFrom: 1200))
        #expect(f.mode == .awaitingSnapshot)
        // Reading the old snapshot again puts the mirror back at its end; the later changes come again.
        let again = f.snapshotBegins(id: "old", at: 1200)
        #expect(again)
        f.snapshotEnds(id: "old", through: 12)
        #expect(f.lastSeq == 12 && f.mode == .following)
        #expect(f.record(seq: 13, prev: 12, snapshot: nil) == .apply)
        var unknown = MirrorFollower(lastSeq: 3, mode: .following)
        #expect(unknown.checkpoint(through: 3, agrees: false) == .disagrees(readAgainFrom: nil))
    }

    @Test func aNewFeedMeansARebuiltCatalogueAndWaitsForItsSnapshot() {
        var f = MirrorFollower(lastSeq: 90_000, mode: .following, snapshotOffset: 7)
        let first = f.observe(feed: "a"), none = f.observe(feed: nil), same = f.observe(feed: "a")
        #expect(!first && !none && !same && f.feedID == "a")
        let other = f.observe(feed: "b")
        #expect(other)
        #expect(f.mode == .awaitingSnapshot && f.lastSeq == 0 && f.snapshotOffset == nil && f.feedID == "b")
        #expect(f.record(seq: 5, prev: 4, snapshot: nil) == .skip)
        let began = f.snapshotBegins(id: "s", at: 900)
        #expect(began)
    }

    @Test func theModeIsStoredAndReadBack() {
        for mode in [MirrorFollower.Mode.fresh, .following, .awaitingSnapshot, .inSnapshot("a-b")] {
            #expect(MirrorFollower.mode(stored: MirrorFollower(mode: mode).storedMode) == mode)
        }
        #expect(MirrorFollower.mode(stored: "garbage") == .awaitingSnapshot)
    }

    @Test func theAggregatorChainsWhatItPublishesAndSnapshotsWhenDue() throws {
        let state = FeedRecordState(globalID: "35:a", hub: "35", innovation: Innovation(
            id: "a", revision: 1, title: "Tiga", agency: "Dinas", region: "35.78", category: .kesehatan, kind: .digital,
            stage: .penerapan, updatedAt: "2026-11-30T08:00:00Z"), withdrawn: false, withdrawnAt: nil, orphanedAt: nil,
            hubEpoch: "", lastSeq: 1, lastMessageID: "m", receivedAt: "2026-11-30T08:00:00Z")
        let records = [4, 9, 12].map { FeedRecord(seq: Int64($0), prev: nil, snapshot: nil, state: state, history: []) }
        #expect(FeedPlan.chained(records, after: 2).map(\.prev) == [2, 4, 9])
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(FeedPlan.snapshotDue(lastSnapshotAt: nil, now: now, interval: .seconds(3600)))
        #expect(!FeedPlan.snapshotDue(lastSnapshotAt: Timestamp.rfc3339(now - 60), now: now, interval: .seconds(3600)))
        #expect(FeedPlan.snapshotDue(lastSnapshotAt: Timestamp.rfc3339(now - 3600), now: now, interval: .seconds(3600)))
        let body = NationalFeed.encode(records[0])
        #expect(try NationalFeed.decode(kind: "record", body: body) == .record(records[0]))
        #expect(try NationalFeed.decode(kind: "something-new", body: body) == nil)
    }
}
