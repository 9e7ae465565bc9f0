/// A hub store's epoch: a random id fixed when the store is created and replaced when an operator restores
/// or rebuilds it (`jippnas hub restore`). A hub's sequence numbers and revisions only grow within one
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

    /// What a message's epoch means for the hub it comes from.
    public enum Decision: Sendable, Equatable {
        /// The hub's current epoch (or a message without one): sequence and revisions as usual.
        case current
        /// The first epoch seen from a hub the catalogue tracked without one (a hub upgraded in place):
        /// the same store, so its records and sequence tracking are kept and simply labelled.
        case adopt
        /// An epoch never seen from this hub: the store was restored or rebuilt. Sequence tracking starts
        /// again at this message, the previous epoch is retired, and the next checkpoint decides whether
        /// the catalogue agrees (a full resync when it does not).
        case begin
        /// An epoch this hub has left: a message published before the restore, still in flight. It
        /// describes a state the hub no longer has, so it is acknowledged and ignored (counted stale).
        case retired
    }

    /// Decides for `incoming` (nil: the hub sends no epoch) given the hub's `current` epoch ("" when the
    /// catalogue has none for it yet) and whether `incoming` is among its retired epochs.
    public static func decide(current: String, incoming: String?, isRetired: Bool) -> Decision {
        guard let incoming, incoming != current else { return .current }
        if isRetired { return .retired }
        return current.isEmpty ? .adopt : .begin
    }
}
