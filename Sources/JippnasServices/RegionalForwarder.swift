import Foundation
import JippnasCore
import JippnasStore
import Logging
import Synchronization

/// The second half of a provincial hub's relaying role: moves what the regional catalogue accepted from
/// the kabupaten/kota hubs into the hub's own store and outbox, each change with the link that proves it
/// (its body exactly as published, its message id and signature), so the hub's relay publishes it upward
/// as a relayed (schema 2) envelope signed by the province.
///
/// The regional catalogue's history is the hand-off: its row ids grow in commit order, and the hub store
/// records the last id it queued in the same transaction as the outbox rows, so a change is queued once
/// whenever the daemon stops. Only accepted revisions reach history, so nothing refused at the province
/// ever goes up.
public final class RegionalForwarder: Sendable {
    private let catalogue: CatalogueStore
    private let hub: HubStore
    private let logger: Logger
    private let poll: Duration
    private let batchSize: Int
    /// The regional catalogue's identity, read once: asking for it writes when it is first made.
    private let source = Mutex<String?>(nil)

    public init(catalogue: CatalogueStore, hub: HubStore, logger: Logger, poll: Duration = .milliseconds(200), batchSize: Int = 500) {
        self.catalogue = catalogue
        self.hub = hub
        self.logger = logger
        self.poll = poll
        self.batchSize = batchSize
    }

    /// Forwards until `stop`. Blocking: call it on a dedicated thread.
    public func run(until stop: StopSignal) {
        var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(10))
        while !stop.isStopped {
            do {
                let moved = try forwardOnce()
                backoff.reset()
                if moved == 0 { stop.sleep(poll) }
            } catch {
                let delay = backoff.nextDelay()
                logger.error("cannot relay changes from the hubs below; retrying", metadata: [
                    "reason": "\(error)", "retry_in_s": "\(delay)",
                ])
                stop.sleep(delay)
            }
        }
    }

    /// Queues the next accepted changes, if any; returns how many history rows it went past.
    @discardableResult
    public func forwardOnce() throws(StoreError) -> Int {
        let source = try source.withLock { cached throws(StoreError) in
            if let cached { return cached }
            let made = try catalogue.identity()
            cached = made
            return made
        }
        let position = try hub.relayPosition(of: source)
        let rows = try catalogue.accepted(after: position, limit: batchSize)
        guard let last = rows.last else {
            try restartIfRestored(from: position, source: source)
            return 0
        }
        let changes = rows.compactMap(relayed)
        let summary = try hub.relay(changes, through: last.position, of: source)
        for change in changes {
            logger.info("relayed", metadata: [
                "from_hub": "\(change.link.hub)", "from_seq": "\(change.link.seq)", "message_id": "\(change.link.messageID)",
                "global_id": "\(change.published.globalID)", "revision": "\(change.published.innovation.revision)",
            ])
        }
        if summary.stale > 0 { logger.debug("not newer than held", metadata: ["count": "\(summary.stale)"]) }
        return rows.count
    }

    /// A regional catalogue restored from a backup keeps its identity but numbers its history from the
    /// backup's last row again, below the position held: without going back, its next changes would never
    /// be read. Going over rows already queued costs little (a held revision is not queued twice).
    private func restartIfRestored(from position: Int64, source: String) throws(StoreError) {
        let last = try catalogue.lastAcceptedPosition()
        guard position > last else { return }
        logger.warning("regional catalogue is behind the relay position (restored from a backup?): reading it again from the start",
                       metadata: ["position": "\(position)", "last_accepted": "\(last)"])
        _ = try hub.relay([], through: 0, of: source)
    }

    /// The row as a change to pass up. The regional aggregator accepted it, so it decodes; one that does
    /// not (a catalogue edited by hand) is logged and left behind rather than stopping the rest.
    private func relayed(_ row: AcceptedMessage) -> HubStore.RelayedChange? {
        let key: String = RoutingKey.innovation(province: row.hub, event: row.event)
        switch EnvelopeCodec.decode(row.body, routingKey: key, contentType: nil, maxBodyBytes: Int.max) {
        case .success(let envelope):
            // Both signature headers or neither: one alone would make the national level refuse the link
            // as malformed, when it is only unsigned.
            let signed = row.keyID != nil && row.signature != nil
            let link = ChainLink(hub: row.hub, seq: envelope.seq, messageID: row.messageID, keyID: signed ? row.keyID : nil,
                                 signature: signed ? row.signature : nil, body: row.body, epoch: envelope.epoch,
                                 epochParent: envelope.epochParent)
            return HubStore.RelayedChange(published: envelope, link: link)
        case .failure(let reason):
            logger.error("an accepted change no longer decodes; not relayed", metadata: [
                "hub": "\(row.hub)", "message_id": "\(row.messageID)", "reason": "\(reason.code)",
            ])
            return nil
        }
    }
}
