/// What the catalogue does with one valid change, decided from what it already holds.
public enum ApplyDecision: Sendable, Equatable {
    /// Newer than anything held: store it and keep it in history.
    case apply
    /// This exact message was applied before (redelivery, or a hub republishing after a lost confirm).
    case duplicate
    /// An older or equal revision arriving after a newer one: it never overwrites newer data.
    case stale

    /// Decides for an incoming revision.
    ///
    /// - Parameters:
    ///   - messageSeen: whether the message id is already in the catalogue's history.
    ///   - storedRevision: the revision the catalogue holds for this innovation, if any.
    ///   - incomingRevision: the revision the message carries.
    ///   - storedBySupersededEpoch: whether the held revision came from an earlier epoch of the hub's store
    ///     (before a restore). Revisions only grow within an epoch: a restored hub may reuse a number, and
    ///     what it holds now is the truth, so any revision of the current epoch replaces it.
    ///   - heldFromNewerEpoch: whether the change was made in an epoch its originating store has left, and
    ///     the held revision by the epoch it moved to (a relayed change in flight across a kabupaten/kota's
    ///     restore): it never overwrites what the newer store said, whatever the revisions. Over a record
    ///     of its own or an older epoch, revisions decide as usual: the restored store may have kept that
    ///     record unchanged, and its province resends it as it was.
    public static func decide(messageSeen: Bool, storedRevision: Int64?, incomingRevision: Int64,
                              storedBySupersededEpoch: Bool = false, heldFromNewerEpoch: Bool = false) -> ApplyDecision {
        if messageSeen { return .duplicate }
        if heldFromNewerEpoch { return .stale }
        if let storedRevision, incomingRevision <= storedRevision, !storedBySupersededEpoch { return .stale }
        return .apply
    }
}
