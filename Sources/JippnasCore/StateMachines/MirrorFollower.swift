/// What a mirror of the national catalogue does with each message of the feed (``NationalFeed``),
/// decided without I/O. The mirror carries out the decisions and stores the follower with the records
/// it applies, in one transaction, so a restart goes on exactly where it stopped.
///
/// Records are set as the national catalogue holds them, in stream order, so applying one twice or
/// applying an older one before a newer one converges. What must not happen is skipping a change
/// unseen: every change message names the one published before it (`prev`), and a mirror that last
/// applied less has missed one. It then applies nothing more until a snapshot begins, and takes the
/// whole catalogue from the snapshot. A checkpoint whose digest disagrees is handled the same way, from
/// the last snapshot it saw (``CheckpointVerdict/disagrees(readAgainFrom:)``).
public struct MirrorFollower: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        /// Nothing read yet: the first message decides.
        case fresh
        /// Applying every change in order.
        case following
        /// Missed something: waiting for the next snapshot to begin.
        case awaitingSnapshot
        /// Applying the snapshot with this id (and the changes between its markers).
        case inSnapshot(String)
    }

    /// What to do with a record message.
    public enum Decision: Sendable, Equatable {
        case apply
        /// Already applied, or not needed (a snapshot while following, a change while awaiting one).
        case skip
        /// A change was missed: `expected` is the last applied, `prev` what the message follows.
        case gap(lastApplied: Int64, prev: Int64)
    }

    /// What a checkpoint says about the mirror.
    public enum CheckpointVerdict: Sendable, Equatable {
        case agrees
        /// Not comparable now (in a snapshot, or not at the checkpoint's place).
        case notComparable
        /// The mirror differs: it waits for a snapshot, and reads the stream again from `readAgainFrom`
        /// (the last snapshot's start) when it knows one.
        case disagrees(readAgainFrom: Int64?)
    }

    /// The last change applied (its feed sequence number).
    public private(set) var lastSeq: Int64
    public private(set) var mode: Mode
    /// Where the last snapshot seen began in the stream.
    public private(set) var snapshotOffset: Int64?
    /// The feed the sequence numbers belong to (``observe(feed:)``).
    public private(set) var feedID: String?

    public init(lastSeq: Int64 = 0, mode: Mode = .fresh, snapshotOffset: Int64? = nil, feedID: String? = nil) {
        self.lastSeq = lastSeq
        self.mode = mode
        self.snapshotOffset = snapshotOffset
        self.feedID = feedID
    }

    /// Every message names its feed. Another feed than before means the national catalogue was rebuilt
    /// into a new file, whose sequence numbers start again: the mirror forgets its place and waits for a
    /// snapshot. Returns whether that happened.
    public mutating func observe(feed: String?) -> Bool {
        guard let feed else { return false }
        guard let known = feedID else {
            feedID = feed
            return false
        }
        guard known != feed else { return false }
        feedID = feed
        lastSeq = 0
        snapshotOffset = nil
        mode = .awaitingSnapshot
        return true
    }

    /// Decides a record message: a change (`seq` and `prev` set) or a snapshot's record (`snapshot` set).
    public mutating func record(seq: Int64?, prev: Int64?, snapshot: String?) -> Decision {
        if let snapshot {
            if case .inSnapshot(let current) = mode, current == snapshot { return .apply }
            return .skip
        }
        guard let seq, let prev else { return .skip }
        switch mode {
        case .fresh:
            guard prev == 0 else {
                mode = .awaitingSnapshot
                return .gap(lastApplied: lastSeq, prev: prev)
            }
            mode = .following
            lastSeq = seq
            return .apply
        case .following:
            if seq <= lastSeq { return .skip }
            if prev > lastSeq {
                mode = .awaitingSnapshot
                return .gap(lastApplied: lastSeq, prev: prev)
            }
            lastSeq = seq
            return .apply
        case .inSnapshot:
            // Published while the snapshot was read: newer than what it holds, and needed (the end
            // marker then sets where the mirror stands).
            lastSeq = seq
            return .apply
        case .awaitingSnapshot:
            return .skip
        }
    }

    /// A snapshot begins at stream offset `offset`; returns whether the mirror now applies it.
    public mutating func snapshotBegins(id: String, at offset: Int64?) -> Bool {
        if let offset { snapshotOffset = offset }
        switch mode {
        case .fresh, .awaitingSnapshot:
            mode = .inSnapshot(id)
            return true
        case .following, .inSnapshot:
            // A mirror already in a snapshot keeps it: a second begin means the first was cut short
            // by a restart of the aggregator, and its records will come again in this one.
            if case .inSnapshot = mode {
                mode = .inSnapshot(id)
                return true
            }
            return false
        }
    }

    /// A snapshot ends; `through` is the last change published before its end. Every change up to it
    /// is in the stream before this marker, so the mirror stands exactly there (after reading an older
    /// snapshot again, lower than before: the changes after it come again and are applied).
    public mutating func snapshotEnds(id: String, through: Int64) {
        guard case .inSnapshot(let current) = mode, current == id else { return }
        mode = .following
        lastSeq = through
    }

    /// A checkpoint for the feed up to `through`; `agrees` is whether the mirror's digest and counts equal it.
    public mutating func checkpoint(through: Int64, agrees: Bool) -> CheckpointVerdict {
        guard mode == .following, lastSeq == through else { return .notComparable }
        if agrees { return .agrees }
        mode = .awaitingSnapshot
        return .disagrees(readAgainFrom: snapshotOffset)
    }

    /// The mode as stored: `fresh`, `following`, `awaiting` or `snapshot:<id>`.
    public var storedMode: String {
        switch mode {
        case .fresh: "fresh"
        case .following: "following"
        case .awaitingSnapshot: "awaiting"
        case .inSnapshot(let id): "snapshot:" + id
        }
    }

    /// The mode from its stored form (``storedMode``); anything unreadable waits for a snapshot.
    public static func mode(stored: String?) -> Mode {
        switch stored {
        case nil, "fresh": .fresh
        case "following": .following
        case let text? where text.hasPrefix("snapshot:"): .inSnapshot(String(text.dropFirst("snapshot:".count)))
        default: .awaitingSnapshot
        }
    }
}
