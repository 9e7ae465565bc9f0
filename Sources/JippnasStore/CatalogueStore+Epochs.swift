import Foundation
import GRDB
import JippnasCore

/// What an operator says about a hub's epochs, and what a refused checkpoint leaves behind.
extension CatalogueStore {
    /// Records that a checkpoint of an unknown epoch was ignored (see ``enterEpoch(of:at:)``).
    public func noteRefusedEpoch(of checkpoint: Checkpoint, at now: String = Timestamp.now()) throws(StoreError) {
        do {
            try indexedWrite { db in try noteRefused(epoch: checkpoint.epoch ?? "", hub: checkpoint.hub, now: now, db) }
        } catch {
            throw StoreError.wrap(error, operation: "note refused epoch \(checkpoint.hub)", path: path)
        }
    }

    /// Makes `epoch` the hub's current one on an operator's word (`jippnas aggregator accept-epoch`): for a
    /// hub rebuilt without a backup, whose new epoch descends from none the catalogue knows. Its sequence
    /// tracking starts from nothing; its first checkpoint then orphans or resyncs as for a restore.
    ///
    /// Only an epoch this hub's messages were refused under, unless `force`: a mistyped epoch or hub would
    /// otherwise retire the real store's epoch, and a retired epoch never comes back.
    public func acceptEpoch(hub: String, epoch: String, force: Bool = false, at now: String = Timestamp.now())
        throws(StoreError) -> EpochChange
    {
        do {
            return try indexedWrite { db in
                let row = try Row.fetchOne(db, sql: "SELECT retired_at, refused_at FROM hub_epoch WHERE hub = ? AND epoch = ?",
                                           arguments: [hub, epoch])
                var c = HubCounters()
                try load(hub: hub, &c, db)
                func refusal(_ message: String) -> StoreError { StoreError(operation: "accept epoch", path: path, message: message) }
                if c.epoch == epoch { throw refusal("epoch \(epoch) is already hub \(hub)'s current one") }
                // A kabupaten/kota publishes to its province's regional catalogue, never to the national one.
                let known = try Bool.fetchOne(db, sql: "SELECT 1 FROM hub_state WHERE hub = ? UNION SELECT 1 FROM hub_epoch WHERE hub = ?",
                                              arguments: [hub, hub]) ?? false
                if !known { throw refusal("hub \(hub) has never published to this catalogue (a kabupaten/kota's epochs are its province's regional catalogue's to accept)") }
                let retiredAt: String? = row?["retired_at"]
                let refusedAt: String? = row?["refused_at"]
                if retiredAt != nil { throw refusal("epoch \(epoch) of hub \(hub) is retired and cannot come back") }
                if refusedAt == nil && !force {
                    throw refusal("no message of hub \(hub) was refused under epoch \(epoch): check --hub and --epoch (or --force)")
                }
                guard let change = try enter(epoch: epoch, parent: c.epoch, seq: 0, hub: hub, now: now, &c, db).1 else {
                    throw refusal("epoch \(epoch) could not begin")
                }
                return change
            }
        } catch {
            throw StoreError.wrap(error, operation: "accept epoch \(epoch) for \(hub)", path: path)
        }
    }
}
