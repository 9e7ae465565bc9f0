/// The aggregator's anti-entropy decisions for one hub. Pure: the caller supplies what the catalogue
/// holds and the time, and carries out the answer.
public enum Reconciler {
    /// What the catalogue holds for one hub.
    public struct View: Sendable, Equatable {
        /// Every sequence number up to this one has been received.
        public var contiguousSeq: Int64
        /// Highest sequence number received.
        public var highestSeq: Int64
        /// The catalogue's ``RecordDigest`` of the hub's records.
        public var digest: RecordDigest

        public init(contiguousSeq: Int64, highestSeq: Int64, digest: RecordDigest) {
            self.contiguousSeq = contiguousSeq
            self.highestSeq = highestSeq
            self.digest = digest
        }
    }

    public enum Action: Sendable, Equatable {
        /// The catalogue agrees with the hub up to `seq`: close any gap up to there.
        case consistent(seq: Int64)
        /// Ask the hub to publish again, from a sequence number or (nil) everything.
        case resync(fromSeq: Int64?, reason: ResyncReason)
        case none
    }

    /// Decides on a checkpoint. Everything the hub published before the checkpoint has been consumed by
    /// then (one queue, FIFO), so any difference is a real loss or refusal.
    public static func onCheckpoint(_ checkpoint: Checkpoint, view: View) -> Action {
        // The digest covers id, revision and the withdrawn flag of every record; the count guards the
        // (unlikely) case of two differences cancelling out in the sum.
        if checkpoint.digest == view.digest.description, checkpoint.live + checkpoint.withdrawn == view.digest.count {
            return .consistent(seq: checkpoint.seq)
        }
        return .resync(fromSeq: nil, reason: .digestMismatch)
    }

    /// Decides on a periodic tick: a gap (a sequence number missing below the highest received) that has
    /// stayed open for `gapTimeout` asks for the records from the first missing one.
    public static func onTick(view: View, gapOpenFor: Duration?, gapTimeout: Duration) -> Action {
        guard view.highestSeq > view.contiguousSeq, let open = gapOpenFor, open >= gapTimeout else { return .none }
        return .resync(fromSeq: view.contiguousSeq + 1, reason: .seqGap)
    }
}
