import Foundation
import JippnasCore
import JippnasStore

/// Deliveries gathered by the AMQP thread for one SQLite transaction.
struct CommitBatch: Sendable {
    /// The connection the deliveries came on: delivery tags mean nothing on another one.
    var generation: Int
    var goodTags: [UInt64] = []
    var rejectTags: [UInt64] = []
    var changes: [IncomingChange] = []
    var deadLetters: [DeadLetter] = []
    /// Checkpoints with the number of changes that arrived before each: a checkpoint describes the hub as
    /// of its place in the stream, so it is evaluated after exactly those changes are applied.
    var checkpoints: [(checkpoint: Checkpoint, after: Int)] = []
    var hubMessages = 0
    var startedAt = ContinuousClock.now

    var count: Int { goodTags.count + rejectTags.count }
}

/// What the AMQP thread must do once a batch is durable.
struct CommitResult: Sendable {
    var generation: Int
    /// Reject these without requeue (dead-letter), then ack up to `ackUpTo` with `multiple`.
    var rejectTags: [UInt64]
    var ackUpTo: UInt64
}

/// The hand-off between the aggregator's AMQP thread and its commit thread.
///
/// The AMQP thread must never wait on SQLite (a long commit would starve heartbeats), and SQLite must
/// never see a delivery tag; this queue carries batches one way and results and control requests back.
final class CommitQueue: @unchecked Sendable {
    // Every field below is guarded by `condition`.
    private let condition = NSCondition()
    private var batches: [CommitBatch] = []
    private var results: [CommitResult] = []
    private var control: [ResyncRequest] = []
    private var unsettled: [Int: Int] = [:]
    private var closed = false

    func submit(_ batch: CommitBatch) {
        condition.lock()
        batches.append(batch)
        unsettled[batch.generation, default: 0] += 1
        condition.signal()
        condition.unlock()
    }

    /// The next batch, waiting up to `timeout`; nil on timeout or once closed and empty.
    func nextBatch(timeout: Duration) -> CommitBatch? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
        while batches.isEmpty && !closed {
            if !condition.wait(until: deadline) { return nil }
        }
        return batches.isEmpty ? nil : batches.removeFirst()
    }

    var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed && batches.isEmpty
    }

    func post(_ result: CommitResult) {
        condition.lock()
        results.append(result)
        unsettled[result.generation, default: 1] -= 1
        condition.unlock()
    }

    /// A batch that will not be committed (stopping): it counts as settled, with nothing to acknowledge.
    func abandon(_ batch: CommitBatch) {
        condition.lock()
        unsettled[batch.generation, default: 1] -= 1
        condition.unlock()
    }

    /// Results for `generation`; results of older connections are dropped (their deliveries are redelivered).
    func takeResults(generation: Int) -> [CommitResult] {
        condition.lock()
        defer { condition.unlock() }
        let mine = results.filter { $0.generation == generation }
        results.removeAll()
        return mine
    }

    func unsettledCount(generation: Int) -> Int {
        condition.lock()
        defer { condition.unlock() }
        return unsettled[generation] ?? 0
    }

    func requestControl(_ request: ResyncRequest) {
        condition.lock()
        control.append(request)
        condition.unlock()
    }

    func takeControl() -> [ResyncRequest] {
        condition.lock()
        defer { condition.unlock() }
        let out = control
        control.removeAll()
        return out
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
