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
    public static func decide(messageSeen: Bool, storedRevision: Int64?, incomingRevision: Int64,
                              storedBySupersededEpoch: Bool = false) -> ApplyDecision {
        if messageSeen { return .duplicate }
        if let storedRevision, incomingRevision <= storedRevision, !storedBySupersededEpoch { return .stale }
        return .apply
    }
}
