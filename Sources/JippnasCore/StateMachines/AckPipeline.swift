/// The aggregator's consume → commit → acknowledge pipeline, as a state machine without I/O.
///
/// The AMQP thread feeds it what happens (a delivery, a batch committed or abandoned by the commit
/// thread, a new connection, a stop request, the passing of time) and carries out the actions it
/// returns: hand the open batch to the commit thread, reject a tag to the dead-letter queue, acknowledge.
///
/// The rules it keeps:
/// - Every delivery belongs to exactly one batch, in delivery order, so a batch covers a run of tags.
/// - A tag is acknowledged only after the batch holding it has committed; `multiple` is used only up to
///   the end of the contiguous prefix of settled batches, so an ack never covers a batch still in the
///   commit thread's hands.
/// - A batch abandoned uncommitted (stopping while the store fails) leaves a hole: its deliveries stay
///   unacknowledged for the broker to redeliver, and every later tag on that connection is acknowledged
///   one by one, never with `multiple`, which would cover the hole.
/// - Hand-off is group commit: the open batch goes to the commit thread as soon as the thread is idle,
///   when it is full, or when its oldest delivery has waited `maxWait`. Under a backlog batches grow up
///   to `batchSize` while the previous one commits, so one fsync serves many messages; when idle a lone
///   delivery is committed at once.
/// - Tags of an earlier connection mean nothing on the current one: results for batches of a replaced
///   connection are ignored (their deliveries are redelivered and deduplicated by message id).
public struct AckPipeline<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    /// When the open batch is handed off.
    public struct Limits: Sendable, Equatable {
        /// Most deliveries in one batch.
        public var batchSize: Int
        /// Longest a delivery waits in the open batch while another batch commits.
        public var maxWait: Duration
        public init(batchSize: Int, maxWait: Duration) {
            precondition(batchSize > 0, "batch size must be positive")
            self.batchSize = batchSize
            self.maxWait = maxWait
        }
    }

    /// What screening decided about one delivery.
    public enum Verdict: Sendable, Equatable {
        /// Valid: committed with its batch, then acknowledged.
        case accepted
        /// Refused (invalid, forged): recorded with its batch, then rejected to the dead-letter queue.
        case refused
    }

    /// What the AMQP thread must do, in order.
    public enum Action: Sendable, Equatable {
        /// Give the open batch, numbered `batch`, to the commit thread.
        case handOff(batch: Int)
        /// `basic.reject` without requeue: the message goes to the dead-letter queue.
        case reject(tag: UInt64)
        /// `basic.ack`, covering every earlier outstanding tag too when `multiple`.
        case ack(tag: UInt64, multiple: Bool)
        /// Stop was requested and everything handed off is settled: close the connection.
        case finished
    }

    private struct Batch: Sendable {
        let id: Int
        var accepted: [UInt64] = []
        var refused: [UInt64] = []
        var startedAt: Instant
        var committed = false
        var count: Int { accepted.count + refused.count }
    }

    public private(set) var limits: Limits
    private var open: Batch?
    /// Handed off and not yet acknowledged, in hand-off order (which is tag order).
    private var handedOff: [Batch] = []
    private var nextBatchID = 1
    /// An abandoned batch's tags are outstanding for good on this connection.
    private var hasHole = false
    public private(set) var stopping = false

    public init(limits: Limits) { self.limits = limits }

    /// Deliveries in the open batch.
    public var openCount: Int { open?.count ?? 0 }
    /// Batches handed off and not yet settled.
    public var unsettled: Int { handedOff.count(where: { !$0.committed }) }
    /// Whether nothing handed off is waiting for its commit.
    public var isDrained: Bool { open == nil && unsettled == 0 }

    /// New limits (a reload), from the next decision on.
    public mutating func reload(_ limits: Limits) { self.limits = limits }

    /// A delivery was screened.
    public mutating func delivered(tag: UInt64, verdict: Verdict, at now: Instant) -> [Action] {
        var batch = open ?? Batch(id: nextBatchID, startedAt: now)
        if open == nil { nextBatchID += 1 }
        switch verdict {
        case .accepted: batch.accepted.append(tag)
        case .refused: batch.refused.append(tag)
        }
        open = batch
        return handOffIfDue(at: now)
    }

    /// Time passed without a delivery.
    public mutating func tick(at now: Instant) -> [Action] { handOffIfDue(at: now) }

    /// How long the AMQP thread may wait for the next delivery before the open batch is due; nil when
    /// there is no open batch (wait as long as suits the caller).
    public func waitBudget(at now: Instant) -> Duration? {
        guard let open else { return nil }
        return max(.zero, limits.maxWait - open.startedAt.duration(to: now))
    }

    /// The commit thread made batch `id` durable; `refused` are tags refused after the hand-off (by
    /// screening, or data the store refused), recorded as dead letters in the same commits, to reject
    /// rather than acknowledge.
    public mutating func committed(batch id: Int, refused: [UInt64] = [], at now: Instant) -> [Action] {
        guard let index = handedOff.firstIndex(where: { $0.id == id }) else { return [] }
        if !refused.isEmpty {
            let late = Set(refused)
            handedOff[index].accepted.removeAll { late.contains($0) }
            handedOff[index].refused += refused
        }
        handedOff[index].committed = true
        return settle() + handOffIfDue(at: now) + finishIfDrained()
    }

    /// The commit thread gave up on batch `id` without committing it (stopping while the store fails).
    public mutating func abandoned(batch id: Int, at now: Instant) -> [Action] {
        guard let index = handedOff.firstIndex(where: { $0.id == id }) else { return [] }
        handedOff.remove(at: index)
        hasHole = true
        return settle() + handOffIfDue(at: now) + finishIfDrained()
    }

    /// The connection was replaced: its tags are void, its unacknowledged deliveries come again.
    public mutating func connectionReplaced() {
        open = nil
        handedOff.removeAll()
        hasHole = false
    }

    /// Stop: hand off what is open, then report ``Action/finished`` once everything is settled.
    public mutating func stopRequested() -> [Action] {
        stopping = true
        return handOffOpen() + finishIfDrained()
    }

    private mutating func handOffIfDue(at now: Instant) -> [Action] {
        guard let batch = open else { return [] }
        let commitThreadIdle = unsettled == 0
        let due = stopping || commitThreadIdle || batch.count >= limits.batchSize
            || batch.startedAt.duration(to: now) >= limits.maxWait
        return due ? handOffOpen() : []
    }

    private mutating func handOffOpen() -> [Action] {
        guard let batch = open else { return [] }
        open = nil
        handedOff.append(batch)
        return [.handOff(batch: batch.id)]
    }

    /// Acknowledges the committed prefix: rejects first, then one `multiple` ack up to its last accepted
    /// tag, or single acks once a hole exists.
    private mutating func settle() -> [Action] {
        var actions: [Action] = []
        var highestAccepted: UInt64?
        while let first = handedOff.first, first.committed {
            handedOff.removeFirst()
            actions += first.refused.map { .reject(tag: $0) }
            if hasHole {
                actions += first.accepted.map { .ack(tag: $0, multiple: false) }
            } else if let last = first.accepted.max() {
                highestAccepted = max(highestAccepted ?? 0, last)
            }
        }
        if let highestAccepted { actions.append(.ack(tag: highestAccepted, multiple: true)) }
        return actions
    }

    private func finishIfDrained() -> [Action] {
        stopping && isDrained ? [.finished] : []
    }
}
