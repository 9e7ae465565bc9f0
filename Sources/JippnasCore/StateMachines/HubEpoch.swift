/// A hub store's epoch: a random id fixed when the store is created and replaced when an operator restores
/// it (`jippnas hub restore`), which also records the backup's epoch as the new one's parent. A hub's sequence numbers and revisions only grow within one
/// epoch; a restored store goes back to its backup's, so the aggregator keeps its sequence tracking per
/// (hub, epoch) and lets the newest epoch's records supersede older epochs' (docs/PROTOCOL.md, Epochs).
public enum HubEpoch {
    /// 1–64 characters of `A–Z a–z 0–9 . _ -`, like an innovation id: safe in logs, keys and SQL text.
    public static func isValid(_ epoch: String) -> Bool { InnovationLimits.isValidID(epoch) }

    /// A new epoch: 16 lower-case hex digits from the system's random source (64 bits: two stores of one
    /// hub never draw the same).
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = String(generator.next() as UInt64, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Whether `parent` (a message's `epoch_parent`) may name a store: "" stands for a store from before
    /// epochs.
    public static func isValidParent(_ parent: String) -> Bool { parent.isEmpty || isValid(parent) }

    /// What a message's epoch means for the hub it comes from.
    public enum Decision: Sendable, Equatable {
        /// The hub's current epoch (or a message without one): sequence and revisions as usual.
        case current
        /// The first epoch seen from a hub the catalogue tracked without one (a hub upgraded in place, or
        /// seen for the first time): the same store, so its records and sequence tracking are kept and
        /// simply labelled.
        case adopt
        /// A restored store: an epoch never seen, descending from one this hub has had. Sequence tracking
        /// starts again at this message, the previous epoch is retired, and the next checkpoint decides
        /// whether the catalogue agrees (a full resync when it does not).
        case begin
        /// An epoch this hub has left: a message published before the restore, still in flight. It
        /// describes a state the hub no longer has, so it is acknowledged and ignored (counted stale).
        case retired
        /// An epoch never seen that descends from none of this hub's: a new, empty store (a mistyped
        /// database path, a standby started by mistake) or a store rebuilt without a backup. Letting it
        /// supersede would withdraw the whole province, so it is refused (`unknown_epoch`) until an
        /// operator accepts it (`jippnas aggregator accept-epoch`).
        case unknown
    }

    /// Decides for `incoming` (nil: the hub sends no epoch) with its `parent`, given the hub's `current`
    /// epoch ("" when the catalogue has none for it yet), whether `incoming` is among its retired epochs,
    /// and whether `parent` is the current or a retired epoch of the hub.
    public static func decide(current: String, incoming: String?, parent: String?, isRetired: Bool,
                              parentIsKnown: Bool) -> Decision
    {
        guard let incoming, incoming != current else { return .current }
        if isRetired { return .retired }
        if current.isEmpty { return parent == nil ? .adopt : .begin }
        return parent != nil && parentIsKnown ? .begin : .unknown
    }

    /// Decides for the originating hub's epoch of a relayed change (`incoming` with its `parent`, nil when
    /// that hub sends none), given the epoch tracked for it (`current`, "" when none yet) and whether
    /// `incoming` is one it has left (a parent named by a later epoch counts as left, seen or not).
    ///
    /// Never `.unknown`: the relaying hub passes on only what its own catalogue accepted, so a new epoch
    /// was restored from a backup or accepted by that province's operator. An epoch not left supersedes
    /// the current one (`.begin`); first seen without a parent it is simply adopted. A province's resync
    /// may send records of an older epoch after a newer one, which is why a `.begin` also retires the
    /// parent it names.
    public static func decideRelayed(current: String, incoming: String?, parent: String?, isRetired: Bool) -> Decision {
        guard let incoming, incoming != current else { return .current }
        if isRetired { return .retired }
        return current.isEmpty && parent == nil ? .adopt : .begin
    }
}
