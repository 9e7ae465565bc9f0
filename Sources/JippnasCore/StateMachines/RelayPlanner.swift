/// The hub relay's publish → confirm → mark loop on one connection, as a state machine without I/O.
///
/// The relay asks ``nextStep(at:)`` what to do, does it, and reports back. The planner keeps the confirm
/// window (a ``ConfirmTracker``), the rows read from the outbox and not yet published, the confirmed
/// rows not yet marked, and when a checkpoint is due.
///
/// The rules it keeps:
/// - A row is marked published only after the broker confirmed it; a nack, a return or a lost
///   connection leaves it pending, to be published again (duplicates are possible, gaps are not).
/// - Confirmed rows are marked in groups of `batchSize`, or once the oldest has waited `markDelay`, or
///   before a checkpoint. Marking is a write to the store that competes with the operator's imports for
///   SQLite's single writer lock; doing it per confirm would stall the loop behind every import. A row
///   confirmed and not yet marked when the hub dies is published again and deduplicated.
/// - The outbox is read only when there is room in the window and the last read did not find it
///   caught up; once caught up, only a change of the database (``outboxChanged()``) or the fallback
///   poll (`idlePoll`) makes it read again, so an idle hub does not spin. A change notification can
///   come just before the writer's commit becomes visible (SQLite writes the WAL, then syncs, then
///   publishes the commit in shared memory, which notifies nobody), so after one the outbox is read
///   again after 1 ms, 2, 4... until a read finds nothing new at `idlePoll`.
/// - A resync request is answered in parts of ten times `batchSize` records (5,000 at most), each
///   queued in a transaction of its own when there is nothing to publish or no room in the window, with
///   the socket read between two parts: the first records are on their way while later ones are still
///   being queued, confirms and heartbeats keep flowing, and the store's writer lock is never held for
///   the whole store (100,000 records take about 9 s to queue, and an operator's import gives up after
///   10 s of waiting for the lock).
/// - A checkpoint is published only when nothing is in flight, the outbox is caught up and no resync is
///   being queued: only then does the store's highest seq describe what the broker has. One is due on
///   every connection and after every answered resync request, and then every `checkpointInterval`.
/// - On stop or a failure (nack, return) no new row is published; what is in flight is given up to
///   `drainTimeout` to be confirmed and marked before the session ends.
public struct RelayPlanner<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    /// The relay's settings that shape its decisions.
    public struct Limits: Sendable, Equatable {
        public var window: Int
        /// Rows read from the outbox at a time, and confirmed rows marked per transaction.
        public var batchSize: Int
        public var checkpointInterval: Duration
        /// How often a caught-up relay reads the outbox anyway, in case a change went unnoticed.
        public var idlePoll: Duration
        public var drainTimeout: Duration
        /// Longest a confirmed row waits to be marked published.
        public var markDelay: Duration
        public init(window: Int, batchSize: Int, checkpointInterval: Duration, idlePoll: Duration,
                    drainTimeout: Duration = .seconds(5), markDelay: Duration = .milliseconds(100))
        {
            self.window = window
            self.batchSize = batchSize
            self.checkpointInterval = checkpointInterval
            self.idlePoll = idlePoll
            self.drainTimeout = drainTimeout
            self.markDelay = markDelay
        }
    }

    /// What the broker said, as the planner needs it.
    public enum BrokerEvent: Sendable, Equatable {
        case ack(tag: UInt64, multiple: Bool)
        case nack(tag: UInt64, multiple: Bool)
        case returned(messageID: String?)
    }

    /// How the session ends.
    public enum Ending: Sendable, Equatable {
        case stopped
        /// The broker nacked or returned messages: reconnect after a backoff and publish them again.
        case retryLater(String)
    }

    /// What the relay does next.
    public enum Step: Sendable, Equatable {
        /// Mark these outbox rows published (the broker confirmed them), then call ``marked()``.
        case mark([Int64])
        /// Read up to `limit` pending rows after `after`, then call ``loaded(count:lastSeq:)``.
        case load(after: Int64, limit: Int)
        /// Publish the next `count` loaded rows, calling ``published(seq:messageID:)`` for each.
        case publish(count: Int)
        /// Publish a checkpoint if the store is quiescent; report ``checkpointPublished(messageID:at:)`` or
        /// ``outboxChanged()``.
        case checkpoint
        /// Queue the next `limit` records of the resync being answered, then call
        /// ``resyncQueued(finished:)``.
        case queueResync(limit: Int)
        /// Wait up to this long for broker events or a change of the outbox.
        case wait(Duration)
        /// End the session.
        case end(Ending)
    }

    public private(set) var limits: Limits
    private var tracker: ConfirmTracker
    private var unpublished = 0
    private var cursor: Int64 = 0
    private var caughtUpAt: Instant?
    /// After a change notification: how soon to read again while reads find nothing.
    private var recheck: Duration?
    /// The interval in force since the last read that left the relay caught up.
    private var pollInterval: Duration
    private var confirmed: [Int64] = []
    /// When the oldest unmarked confirmed row was confirmed.
    private var confirmedSince: Instant?
    private var checkpointDue = true
    private var lastCheckpoint: Instant
    private var failure: String?
    private var drainDeadline: Instant?
    private var resyncQueueing = false
    /// Whether the next resync part may be queued now, or the socket is to be read first.
    private var partDue = true
    /// Records per resync transaction at most, whatever `batchSize` is: the writer lock is held that long.
    static var largestResyncPart: Int { 5_000 }

    /// Tracker key of messages that are not outbox rows (checkpoints): their confirms mark nothing.
    static var untracked: Int64 { 0 }

    public init(limits: Limits, at now: Instant) {
        self.limits = limits
        tracker = ConfirmTracker(window: limits.window)
        lastCheckpoint = now
        pollInterval = limits.idlePoll
    }

    /// Publishes awaiting their confirm.
    public var outstanding: Int { tracker.outstanding }
    /// The highest outbox seq read on this connection: rows above it have not been sent on it.
    public var readThrough: Int64 { cursor }
    /// Rows the broker confirmed that are not marked yet: mark them even when the session fails.
    public var unmarked: [Int64] { confirmed }

    /// New limits (a reload); the window keeps its size until the next connection.
    public mutating func reload(_ new: Limits) {
        var kept = new
        kept.window = limits.window
        limits = kept
    }

    public mutating func nextStep(at now: Instant) -> Step {
        if failure != nil || drainDeadline != nil { return windDown(at: now) }
        if let markAt, markAt <= now || confirmed.count >= limits.batchSize { return .mark(confirmed) }
        if unpublished > 0 && tracker.hasRoom { return .publish(count: min(unpublished, tracker.window - tracker.outstanding)) }
        if let since = caughtUpAt, since.duration(to: now) >= pollInterval { caughtUpAt = nil }
        if unpublished == 0 && tracker.hasRoom && caughtUpAt == nil { return .load(after: cursor, limit: limits.batchSize) }
        if resyncQueueing {
            // Between two parts the socket is read once, so confirms, heartbeats and requests keep flowing.
            if partDue { return .queueResync(limit: min(limits.batchSize * 10, Self.largestResyncPart)) }
            partDue = true
            return .wait(.zero)
        }
        let idle = tracker.outstanding == 0 && unpublished == 0
        let checkpointAt = lastCheckpoint.advanced(by: limits.checkpointInterval)
        if idle && (checkpointDue || checkpointAt <= now) {
            // The store is quiescent only once every confirmed row is marked.
            return confirmed.isEmpty ? .checkpoint : .mark(confirmed)
        }
        var wakeAt = [markAt].compactMap { $0 }
        if idle, let since = caughtUpAt {
            wakeAt += [since.advanced(by: pollInterval), checkpointAt]
        } else {
            wakeAt.append(now.advanced(by: .milliseconds(200)))
        }
        return .wait(max(.zero, now.duration(to: wakeAt.min() ?? now)))
    }

    private var markAt: Instant? { confirmedSince?.advanced(by: limits.markDelay) }


    public mutating func loaded(count: Int, lastSeq: Int64?, at now: Instant) {
        unpublished = count
        if let lastSeq { cursor = lastSeq }
        caughtUpAt = count < limits.batchSize ? now : nil
        pollInterval = min(recheck ?? limits.idlePoll, limits.idlePoll)
        if count == 0, let interval = recheck {
            recheck = interval * 2 >= limits.idlePoll ? nil : interval * 2
        }
    }

    public mutating func published(seq: Int64, messageID: String) {
        tracker.published(seq: seq, messageID: messageID)
        unpublished -= 1
    }

    public mutating func marked() {
        confirmed.removeAll(keepingCapacity: true)
        confirmedSince = nil
    }

    public mutating func checkpointPublished(messageID: String, at now: Instant) {
        tracker.published(seq: Self.untracked, messageID: messageID)
        checkpointDue = false
        lastCheckpoint = now
    }

    /// The database changed (a write was seen, or a checkpoint found rows pending): read the outbox again.
    public mutating func outboxChanged() {
        caughtUpAt = nil
        recheck = .milliseconds(1)
    }

    /// A resync request arrived: its records are to be queued again, part by part.
    public mutating func resyncRequested() {
        resyncQueueing = true
        partDue = true
    }

    /// A part of the resync was queued; when `finished`, no request is left and a checkpoint should
    /// follow the queued rows.
    public mutating func resyncQueued(finished: Bool) {
        caughtUpAt = nil
        partDue = false
        if finished {
            resyncQueueing = false
            checkpointDue = true
        }
    }

    /// Returns how many outbox rows the broker nacked or returned.
    @discardableResult
    public mutating func received(_ event: BrokerEvent, at now: Instant) -> Int {
        let settled: ConfirmTracker.Settlement
        switch event {
        case .ack(let tag, let multiple): settled = tracker.ack(tag: tag, multiple: multiple)
        case .nack(let tag, let multiple): settled = tracker.nack(tag: tag, multiple: multiple)
        case .returned(let messageID):
            if let messageID { tracker.returned(messageID: messageID) }
            return 0
        }
        confirmed += settled.confirmed.filter { $0 != Self.untracked }
        if confirmedSince == nil && !confirmed.isEmpty { confirmedSince = now }
        let failed = settled.failed.filter { $0 != Self.untracked }.count
        if failed > 0, failure == nil {
            if case .nack = event {
                failure = "broker nacked \(settled.failed.count) message(s)"
            } else {
                failure = "\(settled.failed.count) returned as unroutable (no queue bound)"
            }
        }
        return failed
    }

    /// Stop: publish nothing more, let what is in flight be confirmed, then end.
    public mutating func stopRequested(at now: Instant) {
        if drainDeadline == nil { drainDeadline = now.advanced(by: limits.drainTimeout) }
    }

    /// The connection is gone: every unconfirmed row stays pending, to be published on the next one.
    public mutating func connectionLost() {
        _ = tracker.reset()
        unpublished = 0
        // The request's delivery went with the connection; the broker delivers it again on the next one.
        resyncQueueing = false
    }

    private mutating func windDown(at now: Instant) -> Step {
        let deadline = drainDeadline ?? now.advanced(by: limits.drainTimeout)
        drainDeadline = deadline
        if tracker.outstanding > 0 && now < deadline {
            return .wait(min(.milliseconds(100), now.duration(to: deadline)))
        }
        if !confirmed.isEmpty { return .mark(confirmed) }
        _ = tracker.reset()
        return .end(failure.map { .retryLater($0) } ?? .stopped)
    }
}
