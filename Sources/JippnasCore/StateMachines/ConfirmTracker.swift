/// The hub relay's window of outstanding publisher confirms, as a state machine without I/O.
///
/// The relay reports what it published and what the broker answered; the tracker says which outbox
/// rows are now confirmed (mark published) and which failed (publish again). Delivery tags start at 1
/// per channel after `confirm.select` and grow by one per publish, so outstanding entries stay sorted.
/// A `basic.return` (unroutable under `mandatory`) precedes its ack: the entry is remembered as returned
/// and the ack then reports it failed, never confirmed.
public struct ConfirmTracker: Sendable {
    /// One published, not yet confirmed outbox row.
    public struct Pending: Sendable, Hashable {
        public let tag: UInt64
        public let seq: Int64
        public let messageID: String
        var returned: Bool
    }

    /// What an ack or nack settled.
    public struct Settlement: Sendable, Equatable {
        /// Rows the broker confirmed: safe to mark published.
        public var confirmed: [Int64] = []
        /// Rows nacked or returned: still unpublished, to publish again.
        public var failed: [Int64] = []
        public init(confirmed: [Int64] = [], failed: [Int64] = []) {
            self.confirmed = confirmed
            self.failed = failed
        }
    }

    /// Most confirms allowed outstanding before the relay waits.
    public let window: Int
    private var pending: [Pending] = []
    private var head = 0
    private var nextTag: UInt64 = 1

    public init(window: Int) {
        precondition(window > 0, "confirm window must be positive")
        self.window = window
        pending.reserveCapacity(window)
    }

    /// Outstanding publishes.
    public var outstanding: Int { pending.count - head }
    /// Whether another publish fits in the window.
    public var hasRoom: Bool { outstanding < window }

    /// Records a publish and returns its delivery tag.
    @discardableResult
    public mutating func published(seq: Int64, messageID: String) -> UInt64 {
        let tag = nextTag
        nextTag += 1
        pending.append(Pending(tag: tag, seq: seq, messageID: messageID, returned: false))
        return tag
    }

    /// A `basic.return` for `messageID`: that row must not count as published when its ack comes.
    public mutating func returned(messageID: String) {
        if let i = pending[head...].firstIndex(where: { $0.messageID == messageID && !$0.returned }) {
            pending[i].returned = true
        }
    }

    /// A `basic.ack`; with `multiple` it covers every outstanding tag up to `tag`.
    public mutating func ack(tag: UInt64, multiple: Bool) -> Settlement {
        settle(tag: tag, multiple: multiple, positive: true)
    }

    /// A `basic.nack`: the broker could not take the message(s); they stay unpublished.
    public mutating func nack(tag: UInt64, multiple: Bool) -> Settlement {
        settle(tag: tag, multiple: multiple, positive: false)
    }

    /// The connection or channel is gone: every outstanding row counts as unpublished and tags restart.
    public mutating func reset() -> [Int64] {
        let failed = pending[head...].map(\.seq)
        pending.removeAll(keepingCapacity: true)
        head = 0
        nextTag = 1
        return failed
    }

    private mutating func settle(tag: UInt64, multiple: Bool, positive: Bool) -> Settlement {
        var result = Settlement()
        if multiple {
            while head < pending.count, pending[head].tag <= tag {
                record(pending[head], positive: positive, into: &result)
                head += 1
            }
        } else if let i = pending[head...].firstIndex(where: { $0.tag == tag }) {
            record(pending[i], positive: positive, into: &result)
            if i == head {
                head += 1
            } else {
                pending.remove(at: i)
            }
        }
        compact()
        return result
    }

    private func record(_ entry: Pending, positive: Bool, into result: inout Settlement) {
        if positive && !entry.returned {
            result.confirmed.append(entry.seq)
        } else {
            result.failed.append(entry.seq)
        }
    }

    private mutating func compact() {
        if head == pending.count {
            pending.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4096 && head * 2 > pending.count {
            pending.removeFirst(head)
            head = 0
        }
    }
}
