import Foundation
import Glibc
import JippnasCore
import JippnasStore
import JippnasAMQP

/// Deliveries gathered by the AMQP thread, screened on every core (``BatchScreener``), then committed.
struct CommitBatch: Sendable {
    /// The connection the deliveries came on: delivery tags mean nothing on another one.
    var generation: Int
    /// The number ``AckPipeline`` gave the batch when it was handed off.
    var id = 0
    /// As received; emptied once screened.
    var deliveries: [AMQPDelivery] = []
    var changes: [IncomingChange] = []
    /// The delivery tag of each change, in the same order.
    var changeTags: [UInt64] = []
    /// Deliveries screening refused: dead-lettered with the batch's commit, then rejected.
    var deadLetters: [DeadLetter] = []
    var refusedTags: [UInt64] = []
    /// Checkpoints with the number of changes that arrived before each: a checkpoint describes the hub as
    /// of its place in the stream, so it is evaluated after exactly those changes are applied.
    var checkpoints: [(checkpoint: Checkpoint, after: Int, offset: Int64?)] = []
    var hubMessages = 0
    /// Every delivery in the batch, whatever became of it.
    var count = 0

    // Stream offsets, in the order of the lists above (all nil from a queue).
    var changeOffsets: [Int64?] = []
    var deadLetterOffsets: [Int64?] = []
    /// The lowest and highest offsets in the batch, whatever became of each delivery.
    var lowestOffset: Int64?
    var highestOffset: Int64?

    init(generation: Int) {
        self.generation = generation
    }

    /// Drops what a stream delivered from before `cursor`, applied already: the rest of the chunk a
    /// consumer attached into, or a batch committed on an earlier connection whose acknowledgement was
    /// lost with it. Their tags stay in the batch and are acknowledged with it. Returns how many went.
    mutating func dropApplied(by cursor: StreamCursor) -> Int {
        guard let lowest = lowestOffset, !cursor.isNew(lowest) else { return 0 }
        func kept(_ offset: Int64?) -> Bool { cursor.isNew(offset) }
        let keep = changeOffsets.map(kept)
        // A checkpoint stays after the same changes it followed, counted among those kept.
        var keptBefore = [0]
        for k in keep { keptBefore.append(keptBefore.last! + (k ? 1 : 0)) }
        let before = changes.count + deadLetters.count + checkpoints.count
        changes = zip(changes, keep).filter(\.1).map(\.0)
        changeTags = zip(changeTags, keep).filter(\.1).map(\.0)
        changeOffsets = changeOffsets.filter(kept)
        let keepLetters = deadLetterOffsets.map(kept)
        deadLetters = zip(deadLetters, keepLetters).filter(\.1).map(\.0)
        deadLetterOffsets = deadLetterOffsets.filter(kept)
        checkpoints = checkpoints.filter { kept($0.offset) }.map { ($0.checkpoint, keptBefore[$0.after], $0.offset) }
        return before - (changes.count + deadLetters.count + checkpoints.count)
    }
}

/// What became of a handed-off batch.
struct CommitResult: Sendable {
    enum Outcome: Sendable {
        /// Durable; `refused` are tags refused after hand-off (by screening, or data the store refused),
        /// recorded as dead letters in the same commits.
        case committed(refused: [UInt64])
        /// Not committed (stopping while the store fails): nothing of it may be acknowledged.
        case abandoned
    }

    var generation: Int
    var batch: Int
    var outcome: Outcome
}

/// The hand-off between the aggregator's AMQP thread and its commit thread.
///
/// The AMQP thread must never wait on SQLite (a long commit would starve heartbeats), and SQLite must
/// never see a delivery tag; this queue carries batches one way, results and resync requests back. A
/// result also makes ``wakeDescriptor`` readable, so the AMQP thread, waiting on its socket and this
/// descriptor together, acknowledges a commit as soon as it lands instead of at its next poll.
final class CommitQueue: @unchecked Sendable {
    // Every field below is guarded by `condition`.
    private let condition = NSCondition()
    private var batches: [CommitBatch] = []
    private var results: [CommitResult] = []
    private var control: [ResyncRequest] = []
    private var closed = false
    private let wake: (read: Int32, write: Int32)

    init() {
        var fds: [Int32] = [-1, -1]
        // A pipe cannot fail here short of running out of descriptors at start-up, which is fatal anyway.
        precondition(pipe(&fds) == 0, "cannot create the commit queue's wake pipe: errno \(errno)")
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wake = (fds[0], fds[1])
    }

    deinit {
        Glibc.close(wake.read)
        Glibc.close(wake.write)
    }

    /// Readable while results or resync requests wait for the AMQP thread.
    var wakeDescriptor: Int32 { wake.read }

    func submit(_ batch: CommitBatch) {
        condition.lock()
        batches.append(batch)
        condition.signal()
        condition.unlock()
    }

    /// The next batch, waiting up to `timeout`; nil on timeout or once closed and empty.
    func nextBatch(timeout: Duration) -> CommitBatch? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(timeout.seconds)
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
        condition.unlock()
        signalWake()
    }

    /// Results for `generation`; results of older connections are dropped (their deliveries are redelivered).
    func takeResults(generation: Int) -> [CommitResult] {
        drainWake()
        condition.lock()
        defer { condition.unlock() }
        let mine = results.filter { $0.generation == generation }
        results.removeAll()
        return mine
    }

    func requestControl(_ request: ResyncRequest) {
        condition.lock()
        control.append(request)
        condition.unlock()
        signalWake()
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

    private func signalWake() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)  // a full pipe is already readable: nothing lost
    }

    private func drainWake() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wake.read, &buffer, buffer.count) > 0 {}
    }
}
