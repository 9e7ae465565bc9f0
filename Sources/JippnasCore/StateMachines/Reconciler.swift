/// The aggregator's anti-entropy decisions for one hub. Pure: the caller supplies what the catalogue
/// holds and the time, and carries out the answer.
public enum Reconciler {
    /// Records of one hub as the catalogue holds them: their digest and how many are withdrawn.
    public struct Records: Sendable, Equatable {
        public var digest = RecordDigest()
        public var withdrawn = 0

        public init() {}

        public mutating func add(id: String, revision: Int64, withdrawn: Bool) {
            digest.add(id: id, revision: revision, withdrawn: withdrawn)
            if withdrawn { self.withdrawn += 1 }
        }

        /// Whether a checkpoint describes exactly these records: the digest and each count. The counts guard
        /// the (unlikely) case of two differences cancelling out in the sum.
        public func match(_ checkpoint: Checkpoint) -> Bool {
            checkpoint.digest == digest.description && checkpoint.withdrawn == withdrawn
                && checkpoint.live == digest.count - withdrawn
        }
    }

    /// What the catalogue holds for one hub.
    public struct View: Sendable, Equatable {
        /// Every sequence number up to this one has been received.
        public var contiguousSeq: Int64
        /// Highest sequence number received.
        public var highestSeq: Int64
        /// Every record of the hub the catalogue holds, but those a restored hub no longer had (orphaned).
        public var records: Records
        /// Among ``records``, those last set in the checkpoint's epoch; nil when that is all of them.
        public var inEpoch: Records?

        public init(contiguousSeq: Int64, highestSeq: Int64, records: Records, inEpoch: Records? = nil) {
            self.contiguousSeq = contiguousSeq
            self.highestSeq = highestSeq
            self.records = records
            self.inEpoch = inEpoch
        }

        /// The catalogue's ``RecordDigest`` of the hub's records.
        public var digest: RecordDigest { records.digest }
    }

    public enum Action: Sendable, Equatable {
        /// The catalogue agrees with the hub up to `seq`: close any gap up to there.
        case consistent(seq: Int64)
        /// After a new epoch, every record the catalogue holds is what the restored hub holds: label them
        /// all with the new epoch, then as ``consistent(seq:)``.
        case adoptEpoch(seq: Int64)
        /// After a new epoch, the records set in it are exactly the hub's: the others are records the
        /// restored hub no longer has. Withdraw them (orphaned), then as ``consistent(seq:)``.
        case orphanOthers(seq: Int64)
        /// Ask the hub to publish again, from a sequence number or (nil) everything.
        case resync(fromSeq: Int64?, reason: ResyncReason)
        case none
    }

    /// Decides on a checkpoint. Everything the hub published before the checkpoint has been consumed by
    /// then (one queue, FIFO), so any difference is a real loss or refusal.
    public static func onCheckpoint(_ checkpoint: Checkpoint, view: View) -> Action {
        guard let inEpoch = view.inEpoch else {
            return view.records.match(checkpoint) ? .consistent(seq: checkpoint.seq)
                : .resync(fromSeq: nil, reason: .digestMismatch)
        }
        if view.records.match(checkpoint) { return .adoptEpoch(seq: checkpoint.seq) }
        if inEpoch.match(checkpoint) { return .orphanOthers(seq: checkpoint.seq) }
        // Every record goes out again in the new epoch; the checkpoint after that answer orphans the rest.
        return .resync(fromSeq: nil, reason: .newEpoch)
    }

    /// Decides on a periodic tick: a gap (a sequence number missing below the highest received) that has
    /// stayed open for `gapTimeout` asks for the records from the first missing one.
    public static func onTick(view: View, gapOpenFor: Duration?, gapTimeout: Duration) -> Action {
        guard view.highestSeq > view.contiguousSeq, let open = gapOpenFor, open >= gapTimeout else { return .none }
        return .resync(fromSeq: view.contiguousSeq + 1, reason: .seqGap)
    }
}
