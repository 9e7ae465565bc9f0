import JippnasCore
import Testing

@Suite("Ack pipeline")
struct AckPipelineTests {
    typealias Pipeline = AckPipeline<TestInstant>
    let t0 = TestInstant(offset: .zero)

    func pipeline(batchSize: Int = 3, maxWait: Duration = .milliseconds(50)) -> Pipeline {
        Pipeline(limits: .init(batchSize: batchSize, maxWait: maxWait))
    }

    /// Delivers tags in order and returns every action.
    func deliver(_ p: inout Pipeline, _ tags: ClosedRange<UInt64>, refused: Set<UInt64> = [], at now: TestInstant? = nil)
        -> [Pipeline.Action]
    {
        tags.flatMap { p.delivered(tag: $0, verdict: refused.contains($0) ? .refused : .accepted, at: now ?? t0) }
    }

    @Test func idleCommitThreadGetsTheFirstDeliveryAtOnce() {
        var p = pipeline()
        #expect(p.delivered(tag: 1, verdict: .accepted, at: t0) == [.handOff(batch: 1)])
        #expect(p.unsettled == 1)
        #expect(p.committed(batch: 1, at: t0) == [.ack(tag: 1, multiple: true)])
        #expect(p.isDrained)
    }

    @Test func batchesGrowWhileOneCommitsAndHandOffWhenFull() {
        var p = pipeline(batchSize: 3)
        #expect(deliver(&p, 1...1) == [.handOff(batch: 1)])
        #expect(deliver(&p, 2...3).isEmpty)
        #expect(p.openCount == 2)
        #expect(deliver(&p, 4...4) == [.handOff(batch: 2)])
        #expect(deliver(&p, 5...5).isEmpty)
        // Batch 1 commits: ack it, and the idle commit thread takes the open batch (3 is still in flight).
        #expect(p.committed(batch: 1, at: t0) == [.ack(tag: 1, multiple: true)])
        #expect(p.committed(batch: 2, at: t0) == [.ack(tag: 4, multiple: true), .handOff(batch: 3)])
        #expect(p.committed(batch: 3, at: t0) == [.ack(tag: 5, multiple: true)])
    }

    @Test func openBatchIsHandedOffAfterMaxWait() {
        var p = pipeline(batchSize: 100, maxWait: .milliseconds(50))
        _ = deliver(&p, 1...1)
        _ = p.delivered(tag: 2, verdict: .accepted, at: t0)
        #expect(p.waitBudget(at: t0.advanced(by: .milliseconds(20))) == .milliseconds(30))
        #expect(p.tick(at: t0.advanced(by: .milliseconds(49))).isEmpty)
        #expect(p.tick(at: t0.advanced(by: .milliseconds(50))) == [.handOff(batch: 2)])
        #expect(p.waitBudget(at: t0) == nil)
    }

    @Test func refusedTagsAreRejectedAndTheRestAckedAfterTheCommit() {
        var p = pipeline(batchSize: 4)
        _ = deliver(&p, 1...1)
        _ = deliver(&p, 2...5, refused: [3, 5])
        _ = p.committed(batch: 1, at: t0)
        let actions = p.committed(batch: 2, at: t0)
        #expect(actions == [.reject(tag: 3), .reject(tag: 5), .ack(tag: 4, multiple: true)])
    }

    /// The path the aggregator takes: every delivery accepted at once, refusals (screening, store) known
    /// only when the batch commits.
    @Test func refusalsReportedWithTheCommitAreRejectedAndTheRestAcked() {
        var p = pipeline(batchSize: 4)
        _ = deliver(&p, 1...1)
        _ = deliver(&p, 2...5)
        _ = p.committed(batch: 1, at: t0)
        #expect(p.committed(batch: 2, refused: [3, 5], at: t0) == [.reject(tag: 3), .reject(tag: 5), .ack(tag: 4, multiple: true)])
    }

    @Test func storeRefusedTagsAreRejectedNotAcked() {
        var p = pipeline(batchSize: 3)
        _ = deliver(&p, 1...1)
        #expect(p.committed(batch: 1, refused: [1], at: t0) == [.reject(tag: 1)])
    }

    @Test func neverAcksPastABatchStillCommitting() {
        var p = pipeline(batchSize: 2)
        _ = deliver(&p, 1...1)  // batch 1 = [1]
        _ = deliver(&p, 2...3)  // batch 2 = [2, 3] (full)
        _ = deliver(&p, 4...5)  // batch 3 = [4, 5]
        // Batch 2 reports first (a commit thread never does this, but the pipeline must not care).
        #expect(p.committed(batch: 2, at: t0).isEmpty)
        #expect(p.committed(batch: 3, at: t0).isEmpty)
        #expect(p.committed(batch: 1, at: t0) == [.ack(tag: 5, multiple: true)])
    }

    /// The fault of the old loop: batch 1 was abandoned while stopping, batch 2 then committed, and its
    /// `ack(multiple)` acknowledged batch 1's uncommitted messages too.
    @Test func abandonedBatchIsNeverCoveredByALaterAck() {
        var p = pipeline(batchSize: 2)
        _ = deliver(&p, 1...1)  // batch 1 = [1]
        _ = deliver(&p, 2...3)  // batch 2 = [2, 3]
        _ = deliver(&p, 4...5, refused: [5])  // batch 3 = [4, 5]
        #expect(p.committed(batch: 1, at: t0) == [.ack(tag: 1, multiple: true)])
        #expect(p.abandoned(batch: 2, at: t0).isEmpty)
        let actions = p.committed(batch: 3, at: t0)
        #expect(actions == [.reject(tag: 5), .ack(tag: 4, multiple: false)])
        #expect(!actions.contains { if case .ack(_, true) = $0 { true } else { false } })
    }

    @Test func stopHandsOffTheOpenBatchAndFinishesWhenSettled() {
        var p = pipeline(batchSize: 10)
        _ = deliver(&p, 1...1)
        _ = deliver(&p, 2...3)
        #expect(p.stopRequested() == [.handOff(batch: 2)])
        #expect(p.committed(batch: 1, at: t0) == [.ack(tag: 1, multiple: true)])
        #expect(p.committed(batch: 2, at: t0) == [.ack(tag: 3, multiple: true), .finished])
    }

    @Test func stopWithNothingInFlightFinishesAtOnce() {
        var p = pipeline()
        #expect(p.stopRequested() == [.finished])
    }

    @Test func stopWhileTheStoreFailsFinishesWithoutAcking() {
        var p = pipeline()
        _ = deliver(&p, 1...1)
        #expect(p.stopRequested().isEmpty)
        #expect(p.abandoned(batch: 1, at: t0) == [.finished])
    }

    @Test func resultsOfAReplacedConnectionAreIgnored() {
        var p = pipeline(batchSize: 2)
        _ = deliver(&p, 1...1)
        _ = deliver(&p, 2...2)
        p.connectionReplaced()
        #expect(p.isDrained)
        #expect(p.committed(batch: 1, at: t0).isEmpty)
        // Tags restart on the new connection; the new batch numbers do not collide with old ones.
        #expect(deliver(&p, 1...1) == [.handOff(batch: 3)])
        #expect(p.committed(batch: 3, at: t0) == [.ack(tag: 1, multiple: true)])
    }

    @Test func aReplacedConnectionForgetsItsHole() {
        var p = pipeline()
        _ = deliver(&p, 1...1)
        _ = p.abandoned(batch: 1, at: t0)
        p.connectionReplaced()
        _ = deliver(&p, 1...1)
        #expect(p.committed(batch: 2, at: t0) == [.ack(tag: 1, multiple: true)])
    }
}

@Suite("Commit plan")
struct CommitPlanTests {
    @Test func aBatchThatCommitsIsDone() {
        var plan = CommitPlan(count: 8)
        #expect(plan.step == .commit(0..<8))
        #expect(plan.succeeded() == .done(refused: []))
    }

    @Test func localFailuresRetryTheSameStepWithGrowingBackoff() {
        var plan = CommitPlan(count: 8, backoff: Backoff(initial: .milliseconds(100), maximum: .seconds(1)))
        #expect(plan.failed(.transient, random: 1) == .wait(.milliseconds(100)))
        #expect(plan.resume() == .commit(0..<8))
        #expect(plan.failed(.transient, random: 1) == .wait(.milliseconds(200)))
        #expect(plan.retries == 2)
        #expect(plan.succeeded() == .done(refused: []))
        #expect(plan.retries == 0)
    }

    /// Runs a plan against a store that refuses some indexes and fails transiently on some attempts.
    func run(count: Int, poison: Set<Int>, transientEvery: Int = 0) -> (commits: [Range<Int>], refused: [Int]) {
        var plan = CommitPlan(count: count)
        var commits: [Range<Int>] = []
        var attempts = 0
        var step = plan.step
        while true {
            attempts += 1
            let transient = transientEvery > 0 && attempts % transientEvery == 0
            switch step {
            case .commit(let range):
                if transient {
                    step = plan.failed(.transient, random: 0)
                } else if range.contains(where: poison.contains) {
                    step = plan.failed(.refused, random: 0)
                } else {
                    commits.append(range)
                    step = plan.succeeded()
                }
            case .deadLetter:
                step = transient ? plan.failed(.transient, random: 0) : plan.succeeded()
            case .wait:
                step = plan.resume()
            case .done(let refused):
                return (commits, refused)
            }
        }
    }

    @Test(arguments: [0, 1, 7, 15, 16])
    func bisectionFindsTheOnePoisonAndCommitsEverythingElseInOrder(poison: Int) {
        let (commits, refused) = run(count: 17, poison: [poison])
        #expect(refused == [poison])
        let committed = commits.flatMap { Array($0) }
        #expect(committed == Array(0..<17).filter { $0 != poison })
        #expect(commits.count <= 2 * 5)  // about two commits per level of halving
    }

    @Test func severalPoisonsAmongTransientFailures() {
        let (commits, refused) = run(count: 100, poison: [3, 4, 50, 99], transientEvery: 5)
        #expect(refused == [3, 4, 50, 99])
        #expect(commits.flatMap { Array($0) } == Array(0..<100).filter { ![3, 4, 50, 99].contains($0) })
    }

    @Test func aLonePoisonIsDeadLettered() {
        var plan = CommitPlan(count: 1)
        #expect(plan.failed(.refused, random: 0) == .deadLetter(index: 0))
        #expect(plan.succeeded() == .done(refused: [0]))
    }

    @Test func anEmptyBatchRefusedIsRetriedNotLooped() {
        var plan = CommitPlan(count: 0)
        #expect(plan.step == .commit(0..<0))
        guard case .wait = plan.failed(.refused, random: 0) else {
            Issue.record("an empty batch has nothing to blame: it must wait")
            return
        }
        #expect(plan.resume() == .commit(0..<0))
    }
}

@Suite("Relay planner")
struct RelayPlannerTests {
    typealias Planner = RelayPlanner<TestInstant>
    let t0 = TestInstant(offset: .zero)

    func planner(window: Int = 4, batchSize: Int = 3) -> Planner {
        Planner(limits: .init(window: window, batchSize: batchSize, checkpointInterval: .seconds(60),
                              idlePoll: .milliseconds(200), drainTimeout: .seconds(5)), at: t0)
    }

    /// Loads `seqs` and publishes as many as the planner allows.
    func loadAndPublish(_ p: inout Planner, _ seqs: [Int64], at now: TestInstant) {
        #expect(p.nextStep(at: now) == .load(after: seqs.first.map { $0 - 1 } ?? 0, limit: p.limits.batchSize))
        p.loaded(count: seqs.count, lastSeq: seqs.last, at: now)
        guard case .publish(let count) = p.nextStep(at: now) else {
            Issue.record("expected a publish step")
            return
        }
        for seq in seqs.prefix(count) { p.published(seq: seq, messageID: "m\(seq)") }
    }

    @Test func anEmptyOutboxIsCheckpointedThenWaitedOnWithoutSpinning() {
        var p = planner()
        #expect(p.nextStep(at: t0) == .load(after: 0, limit: 3))
        p.loaded(count: 0, lastSeq: nil, at: t0)
        #expect(p.nextStep(at: t0) == .checkpoint)  // due on every connection
        p.checkpointPublished(messageID: "cp", at: t0)
        #expect(p.nextStep(at: t0) == .wait(.milliseconds(200)))  // the checkpoint's confirm
        p.received(.ack(tag: 1, multiple: false), at: t0)
        #expect(p.nextStep(at: t0) == .wait(.milliseconds(200)))  // caught up: until the fallback poll
        #expect(p.nextStep(at: t0.advanced(by: .milliseconds(200))) == .load(after: 0, limit: 3))
    }

    @Test func aChangeOfTheDatabaseIsReadAtOnce() {
        var p = planner()
        _ = p.nextStep(at: t0)
        p.loaded(count: 0, lastSeq: nil, at: t0)
        p.checkpointPublished(messageID: "cp", at: t0)
        p.received(.ack(tag: 1, multiple: false), at: t0)
        p.outboxChanged()
        #expect(p.nextStep(at: t0) == .load(after: 0, limit: 3))
    }

    @Test func aChangeIsReadAgainSoonUntilItsCommitShowsThenTheRelayRests() {
        var p = planner()
        _ = p.nextStep(at: t0)
        p.loaded(count: 0, lastSeq: nil, at: t0)
        p.checkpointPublished(messageID: "cp", at: t0)
        p.received(.ack(tag: 1, multiple: false), at: t0)
        p.outboxChanged()
        var now = t0
        for expected in [1, 2, 4, 8, 16, 32, 64, 128, 200] as [Int64] {
            #expect(p.nextStep(at: now) == .load(after: 0, limit: 3))
            p.loaded(count: 0, lastSeq: nil, at: now)
            #expect(p.nextStep(at: now) == .wait(.milliseconds(expected)))
            now = now.advanced(by: .milliseconds(expected))
        }
    }

    @Test func rowsAreMarkedOnlyAfterTheirConfirm() {
        var p = planner()
        loadAndPublish(&p, [1, 2], at: t0)
        #expect(p.nextStep(at: t0) == .checkpoint || p.nextStep(at: t0) == .wait(.milliseconds(200)))
        p.received(.ack(tag: 1, multiple: false), at: t0)
        // One of two confirmed, one in flight, fewer than a batch: wait, at most until the mark is due.
        #expect(p.nextStep(at: t0) == .wait(.milliseconds(100)))
        p.received(.ack(tag: 2, multiple: false), at: t0)
        // Both confirmed and nothing in flight: marked before the checkpoint that is due on connecting.
        #expect(p.nextStep(at: t0) == .mark([1, 2]))
        #expect(p.nextStep(at: t0.advanced(by: .milliseconds(100))) == .mark([1, 2]))
        p.marked()
    }

    @Test func confirmedRowsWaitAtMostTheMarkDelay() {
        var p = planner(window: 10, batchSize: 10)
        loadAndPublish(&p, [1], at: t0)
        p.received(.ack(tag: 1, multiple: false), at: t0.advanced(by: .milliseconds(10)))
        // Caught up with a checkpoint done: the wait ends when the mark is due.
        p.checkpointPublished(messageID: "cp", at: t0)
        p.received(.ack(tag: 2, multiple: false), at: t0.advanced(by: .milliseconds(10)))
        #expect(p.nextStep(at: t0.advanced(by: .milliseconds(20))) == .wait(.milliseconds(90)))
        #expect(p.nextStep(at: t0.advanced(by: .milliseconds(110))) == .mark([1]))
    }

    @Test func theWindowBoundsWhatIsInFlight() {
        var p = planner(window: 2, batchSize: 3)
        #expect(p.nextStep(at: t0) == .load(after: 0, limit: 3))
        p.loaded(count: 3, lastSeq: 3, at: t0)
        #expect(p.nextStep(at: t0) == .publish(count: 2))
        p.published(seq: 1, messageID: "m1")
        p.published(seq: 2, messageID: "m2")
        #expect(p.nextStep(at: t0) == .wait(.milliseconds(200)))
        p.received(.ack(tag: 1, multiple: false), at: t0)
        #expect(p.nextStep(at: t0) == .publish(count: 1))
        p.published(seq: 3, messageID: "m3")
        p.received(.ack(tag: 3, multiple: true), at: t0)
        #expect(p.nextStep(at: t0) == .mark([1, 2, 3]))
        p.marked()
        #expect(p.nextStep(at: t0) == .load(after: 3, limit: 3))
    }

    @Test func aNackEndsTheSessionAfterMarkingWhatWasConfirmed() {
        var p = planner()
        loadAndPublish(&p, [1, 2, 3], at: t0)
        p.received(.ack(tag: 1, multiple: false), at: t0)
        #expect(p.received(.nack(tag: 2, multiple: false), at: t0) == 1)
        #expect(p.nextStep(at: t0) == .wait(.milliseconds(100)))  // seq 3 still in flight
        p.received(.ack(tag: 3, multiple: false), at: t0)
        #expect(p.nextStep(at: t0) == .mark([1, 3]))
        p.marked()
        #expect(p.nextStep(at: t0) == .end(.retryLater("broker nacked 1 message(s)")))
    }

    @Test func aReturnedRowIsNotMarkedByItsAck() {
        var p = planner()
        loadAndPublish(&p, [1], at: t0)
        p.received(.returned(messageID: "m1"), at: t0)
        #expect(p.received(.ack(tag: 1, multiple: false), at: t0) == 1)
        #expect(p.nextStep(at: t0) == .end(.retryLater("1 returned as unroutable (no queue bound)")))
    }

    @Test func stopGivesInFlightRowsUntilTheDrainTimeout() {
        var p = planner()
        loadAndPublish(&p, [1, 2], at: t0)
        p.stopRequested(at: t0)
        #expect(p.nextStep(at: t0) == .wait(.milliseconds(100)))
        p.received(.ack(tag: 1, multiple: false), at: t0)
        let late = t0.advanced(by: .seconds(5))
        #expect(p.nextStep(at: late) == .mark([1]))  // seq 2 never confirmed: stays pending
        p.marked()
        #expect(p.nextStep(at: late) == .end(.stopped))
    }

    @Test func aCheckpointConfirmMarksNothing() {
        var p = planner()
        _ = p.nextStep(at: t0)
        p.loaded(count: 0, lastSeq: nil, at: t0)
        p.checkpointPublished(messageID: "cp", at: t0)
        p.received(.ack(tag: 1, multiple: false), at: t0)
        #expect(p.unmarked.isEmpty)
    }

    /// Brings `p` to an idle, checkpointed outbox, then delivers a resync request: its first part is due.
    func requestResyncWhenIdle(_ p: inout Planner) {
        _ = p.nextStep(at: t0)
        p.loaded(count: 0, lastSeq: nil, at: t0)
        p.checkpointPublished(messageID: "cp", at: t0)
        p.received(.ack(tag: 1, multiple: false), at: t0)
        p.resyncRequested()
        #expect(p.nextStep(at: t0) == .queueResync(limit: 30))
    }

    @Test func aNewCheckpointIsDueAfterTheIntervalAndAfterAResync() {
        var p = planner()
        requestResyncWhenIdle(&p)
        p.resyncQueued(finished: true)
        #expect(p.nextStep(at: t0) == .load(after: 0, limit: 3))
        p.loaded(count: 0, lastSeq: nil, at: t0)
        #expect(p.nextStep(at: t0) == .checkpoint)
        p.checkpointPublished(messageID: "cp2", at: t0)
        p.received(.ack(tag: 2, multiple: false), at: t0)
        #expect(p.nextStep(at: t0.advanced(by: .seconds(60))) == .load(after: 0, limit: 3))
        p.loaded(count: 0, lastSeq: nil, at: t0.advanced(by: .seconds(60)))
        #expect(p.nextStep(at: t0.advanced(by: .seconds(60))) == .checkpoint)
    }

    @Test func aResyncIsQueuedInPartsBetweenPublishesAndCheckpointedAfterTheLast() {
        var p = planner(window: 2, batchSize: 3)
        requestResyncWhenIdle(&p)
        p.resyncQueued(finished: false)
        // The first part goes out before the second is queued.
        #expect(p.nextStep(at: t0) == .load(after: 0, limit: 3))
        p.loaded(count: 3, lastSeq: 12, at: t0)
        #expect(p.nextStep(at: t0) == .publish(count: 2))
        p.published(seq: 10, messageID: "m10")
        p.published(seq: 11, messageID: "m11")
        // The window is full: read the socket once, then queue the next part while the broker confirms.
        #expect(p.nextStep(at: t0) == .wait(.zero))
        #expect(p.nextStep(at: t0) == .queueResync(limit: 30))
        p.resyncQueued(finished: true)
        p.received(.ack(tag: 3, multiple: true), at: t0)
        #expect(p.nextStep(at: t0) == .publish(count: 1))
        p.published(seq: 12, messageID: "m12")
        p.received(.ack(tag: 4, multiple: false), at: t0)
        #expect(p.nextStep(at: t0) == .mark([10, 11, 12]))
        p.marked()
        #expect(p.nextStep(at: t0) == .load(after: 12, limit: 3))
        p.loaded(count: 0, lastSeq: nil, at: t0)
        #expect(p.nextStep(at: t0) == .checkpoint)
    }

    @Test func resyncPartsAreCappedAndTheSocketIsReadBetweenThem() {
        var p = planner(window: 1, batchSize: 1_000)
        _ = p.nextStep(at: t0)
        p.loaded(count: 0, lastSeq: nil, at: t0)
        p.checkpointPublished(messageID: "cp", at: t0)  // fills the window of one
        p.resyncRequested()
        for _ in 0..<3 {
            #expect(p.nextStep(at: t0) == .queueResync(limit: 5_000))
            p.resyncQueued(finished: false)
            #expect(p.nextStep(at: t0) == .wait(.zero))
        }
    }

    @Test func aResyncBeingQueuedIsDroppedWithItsConnectionAndNotContinuedAfterStop() {
        var p = planner()
        _ = p.nextStep(at: t0)
        p.loaded(count: 0, lastSeq: nil, at: t0)
        p.resyncRequested()
        #expect(p.nextStep(at: t0) == .queueResync(limit: 30))
        p.stopRequested(at: t0)
        #expect(p.nextStep(at: t0) == .end(.stopped))
        var q = planner()
        _ = q.nextStep(at: t0)
        q.loaded(count: 0, lastSeq: nil, at: t0)
        q.resyncRequested()
        q.connectionLost()
        #expect(q.nextStep(at: t0) == .checkpoint)
    }
}
