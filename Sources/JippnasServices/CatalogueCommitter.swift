import Foundation
import JippnasCore
import JippnasOps
import JippnasStore
import Logging

/// The aggregator's commit thread: applies handed-off batches as a ``CommitPlan`` says (retrying local
/// failures, isolating refused messages), evaluates checkpoints at their place in the stream, and decides
/// reconciliation. It never sees the connection; results go back through the ``CommitQueue``.
final class CatalogueCommitter {
    private let aggregator: Aggregator
    private let queue: CommitQueue
    private let stop: StopSignal
    private var store: CatalogueStore { aggregator.store }
    private var settings: AggregatorSettings { aggregator.settings }
    private var logger: Logger { aggregator.logger }
    /// Since when each hub has had a sequence gap, as this thread first saw it.
    private var gapSeen: [String: ContinuousClock.Instant] = [:]
    private var lastRequest: [String: ContinuousClock.Instant] = [:]
    private var lastGapCheck = ContinuousClock.now
    /// The connection whose batches were last seen, and what was skipped since it attached.
    private var attachedGeneration = -1
    private var skippedSinceAttach = 0
    /// A stream batch was abandoned (stopping while the store failed).
    private var abandonedStream = false

    init(aggregator: Aggregator, queue: CommitQueue, stop: StopSignal) {
        self.aggregator = aggregator
        self.queue = queue
        self.stop = stop
    }

    func run() {
        while !queue.isClosed {
            if let batch = queue.nextBatch(timeout: .seconds(1)) {
                queue.post(CommitResult(generation: batch.generation, batch: batch.id, outcome: commit(batch)))
            }
            if ContinuousClock.now - lastGapCheck >= .seconds(2) {
                lastGapCheck = ContinuousClock.now
                checkGaps()
            }
        }
    }

    /// Changes are applied in segments ending at each checkpoint, and each checkpoint is compared with
    /// the catalogue as it stands at its place in the stream. What screening refused is recorded with the
    /// first segment. From a stream, what was applied before is dropped first, against the position only
    /// this thread moves, so a batch delivered again after a reconnect is not applied twice.
    private func commit(_ batch: CommitBatch) -> CommitResult.Outcome {
        // From a stream, a later batch would store a position past the abandoned one's changes, and a
        // stream (unlike a queue) resumes from that position: once one is abandoned, all after it are too.
        guard !abandonedStream else { return .abandoned }
        let outcome = commitSegments(batch)
        if case .abandoned = outcome, batch.highestOffset != nil { abandonedStream = true }
        return outcome
    }

    private func commitSegments(_ batch: CommitBatch) -> CommitResult.Outcome {
        var batch = batch
        noteAttach(batch, skipped: batch.dropApplied(by: aggregator.streamCursor))
        var outcome = BatchOutcome()
        var storeRefused: [UInt64] = []
        var start = 0
        var deadLetters = batch.deadLetters  // recorded once, with the first segment (which may hold no change)
        let segments = batch.checkpoints.map { ($0.checkpoint as Checkpoint?, $0.after) } + [(nil, batch.changes.count)]
        let positions = StreamPositions(changeOffsets: batch.changeOffsets, highest: batch.highestOffset)
        for (checkpoint, end) in segments {
            guard let part = apply(batch.changes[start..<end], deadLetters: deadLetters, positions: positions) else {
                return .abandoned
            }
            deadLetters = []
            outcome.decisions += part.outcome.decisions
            storeRefused += part.refused.map { batch.changeTags[start + $0] }  // plan indexes count from the segment
            start = end
            if let checkpoint { reconcile(checkpoint) }
        }
        // The batch's last commit stored its highest offset (`StreamPositions`): the cursor follows.
        if let highest = batch.highestOffset { aggregator.streamCommitted(through: highest) }
        aggregator.count(batch, outcome: outcome, laterRefused: storeRefused.count)
        return .committed(refused: batch.refusedTags + storeRefused)
    }

    /// Logs what the first batch after a (re)attach says about the stream: offsets missing since this
    /// catalogue's position (retention removed them), or a long run of offsets below it (the stream was
    /// deleted and made anew, so its offsets started again from zero).
    private func noteAttach(_ batch: CommitBatch, skipped: Int) {
        guard let lowest = batch.lowestOffset else { return }
        if batch.generation != attachedGeneration {
            attachedGeneration = batch.generation
            skippedSinceAttach = 0
            if let next = aggregator.streamCursor.nextOffset, lowest > next {
                logger.warning("the stream no longer holds what came after this catalogue's position (retention); the hubs' checkpoints show what is missing and they resend it", metadata: [
                    "stream": "\(WireNames.historyStream)", "next_offset": "\(next)", "first_offset": "\(lowest)",
                ])
            }
        }
        skippedSinceAttach += skipped
        if skipped > 0, skippedSinceAttach >= Self.recreatedStreamThreshold, skippedSinceAttach - skipped < Self.recreatedStreamThreshold {
            logger.error("the stream keeps delivering offsets below this catalogue's position: was jippnas.history deleted and made anew? Those messages are skipped; rebuild into an empty catalogue (--rebuild-from-stream --stream-start first)", metadata: [
                "stream": "\(WireNames.historyStream)", "next_offset": "\(aggregator.streamCursor.nextOffset ?? 0)",
                "skipped": "\(skippedSinceAttach)",
            ])
        }
    }

    /// More skipped deliveries after one attach than the rest of a chunk can hold.
    static let recreatedStreamThreshold = 50_000

    /// Runs a ``CommitPlan`` over `changes`; nil if stopped before it finished. The refused indexes it
    /// returns count from the start of `changes`, not of the batch.
    private func apply(_ changes: ArraySlice<IncomingChange>, deadLetters: [DeadLetter], positions: StreamPositions)
        -> (outcome: BatchOutcome, refused: [Int])?
    {
        var plan = CommitPlan(count: changes.count)
        var outcome = BatchOutcome()
        var pendingDeadLetters = deadLetters
        var lastRefusal = (reason: DeadLetterReason.storeRefused, detail: "")
        var step = plan.step
        let base = changes.startIndex
        while true {
            switch step {
            case .commit(let range):
                let started = ContinuousClock.now
                do {
                    let part = try store.apply(changes[(base + range.lowerBound)..<(base + range.upperBound)],
                                               deadLetters: pendingDeadLetters,
                                               streamPosition: positions.after(base + range.upperBound))
                    aggregator.recordCommit(ContinuousClock.now - started)
                    if plan.retries > 0 { logger.notice("commit recovered", metadata: ["attempts": "\(plan.retries + 1)", "messages": "\(range.count)"]) }
                    pendingDeadLetters = []
                    outcome.decisions += part.decisions
                    for change in part.epochsBegun { logEpoch(change) }
                    for change in part.originEpochsBegun { logOriginEpoch(change) }
                    step = plan.succeeded()
                } catch {
                    if error.refusesData {
                        lastRefusal = (error.deadLetterReason ?? DeadLetterReason.storeRefused, error.message)
                    }
                    step = failed(&plan, error, messages: range.count)
                }
            case .deadLetter(let index):
                do {
                    try refuse(changes[base + index], reason: lastRefusal.reason, detail: lastRefusal.detail,
                               alsoRecording: pendingDeadLetters,
                               position: positions.after(base + index + 1))
                    pendingDeadLetters = []
                    step = plan.succeeded()
                } catch {
                    step = failed(&plan, error, messages: 1)
                }
            case .wait(let delay):
                if !stop.sleep(delay) { return nil }
                step = plan.resume()
            case .done(let refused):
                return (outcome, refused)
            }
        }
    }

    private func failed(_ plan: inout CommitPlan, _ error: StoreError, messages: Int) -> CommitPlan.Step {
        let next = plan.failed(error.refusesData ? .refused : .transient, random: .random(in: 0...1))
        if case .wait(let delay) = next {
            aggregator.countCommitRetry()
            logger.warning("commit failed; nothing acknowledged, will retry", metadata: [
                "reason": "\(error)", "messages": "\(messages)", "retry_in_ms": "\(delay.milliseconds)",
            ])
        } else {
            logger.info("store refused a batch; splitting it to find the message", metadata: [
                "reason": "\(error.message)", "messages": "\(messages)",
            ])
        }
        return next
    }

    /// Dead-letters one valid change the store refused, with SQLite's (or the epoch check's) message as
    /// the detail.
    private func refuse(_ change: IncomingChange, reason: String, detail: String, alsoRecording others: [DeadLetter],
                        position: StreamPosition?) throws(StoreError)
    {
        try store.refuse(change, reason: reason, detail: detail, alsoRecording: others, streamPosition: position)
        logger.error("dead letter", metadata: [
            "reason": "\(reason)", "detail": "\(detail)", "hub": "\(change.envelope.hub)",
            "seq": "\(change.envelope.seq)", "message_id": "\(change.messageID)", "routing_key": "\(change.routingKey)",
        ])
    }

    /// What a commit stores as the stream position: everything below the first change still to commit.
    ///
    /// Deliveries come in offset order, and a batch commits its changes in that order (``CommitPlan``
    /// bisects left to right), so once the changes before index `i` are committed, whatever was delivered
    /// before change `i` is done: committed, recorded as a dead letter (with the first commit), a
    /// checkpoint (evaluated just after; skipping one after a crash is harmless, the next comes), or
    /// skipped. The last commit of the batch stores the batch's highest offset.
    private struct StreamPositions {
        var changeOffsets: [Int64?]
        var highest: Int64?

        /// The position once every change before batch index `index` is committed.
        func after(_ index: Int) -> StreamPosition? {
            let offset = index < changeOffsets.count ? changeOffsets[index].map { $0 - 1 } : highest
            guard let offset, offset >= 0 else { return nil }
            return StreamPosition(stream: WireNames.historyStream, offset: offset)
        }
    }

    // MARK: Reconciliation

    private func reconcile(_ checkpoint: Checkpoint) {
        do {
            let (epochDecision, epochChange) = try store.enterEpoch(of: checkpoint)
            if let epochChange { logEpoch(epochChange) }
            switch epochDecision {
            case .retired:
                logger.warning("checkpoint of a retired epoch skipped: a store replaced by a restore is still publishing?", metadata: [
                    "hub": "\(checkpoint.hub)", "seq": "\(checkpoint.seq)", "epoch": "\(checkpoint.epoch ?? "")",
                ])
                return
            case .unknown:
                try store.noteRefusedEpoch(of: checkpoint)
                logger.error("checkpoint of an unknown epoch ignored: a new or rebuilt store publishes for this hub", metadata: [
                    "hub": "\(checkpoint.hub)", "epoch": "\(checkpoint.epoch ?? "")",
                    "epoch_parent": "\(checkpoint.epochParent ?? "none")",
                    "hint": "if the hub was rebuilt without a backup: jippnas aggregator accept-epoch --hub \(checkpoint.hub) --epoch \(checkpoint.epoch ?? "")",
                ])
                return
            case .current, .adopt, .begin:
                break
            }
            let view = try store.view(hub: checkpoint.hub, epoch: checkpoint.epoch)
            // A checkpoint older than changes already applied (a redelivery after a reconnect) describes a
            // past state: comparing it would report a false mismatch. The next one will be current.
            guard checkpoint.seq >= view.highestSeq else {
                logger.debug("outdated checkpoint skipped", metadata: [
                    "hub": "\(checkpoint.hub)", "seq": "\(checkpoint.seq)", "highest_seq": "\(view.highestSeq)",
                ])
                return
            }
            let action = Reconciler.onCheckpoint(checkpoint, view: view)
            let orphaned = try store.recordCheckpoint(checkpoint, action: action)
            switch action {
            case .resync(let fromSeq, let reason):
                requestResync(hub: checkpoint.hub, fromSeq: fromSeq, reason: reason, detail: [
                    "checkpoint_seq": "\(checkpoint.seq)", "hub_records": "\(checkpoint.live + checkpoint.withdrawn)",
                    "catalogue_records": "\(view.digest.count)", "hub_digest": "\(checkpoint.digest)",
                    "catalogue_digest": "\(view.digest)", "highest_seq": "\(view.highestSeq)",
                ])
            case .adoptEpoch, .orphanOthers:
                logger.notice("catalogue agrees with the hub's new epoch", metadata: [
                    "hub": "\(checkpoint.hub)", "epoch": "\(checkpoint.epoch ?? "")", "seq": "\(checkpoint.seq)",
                    "records": "\(checkpoint.live + checkpoint.withdrawn)", "orphaned": "\(orphaned)",
                ])
                gapSeen[checkpoint.hub] = nil
            case .consistent, .none:
                gapSeen[checkpoint.hub] = nil
            }
        } catch {
            logger.error("checkpoint not evaluated", metadata: ["hub": "\(checkpoint.hub)", "reason": "\(error)"])
        }
    }

    private func logEpoch(_ change: EpochChange) {
        guard !change.from.isEmpty else {
            return logger.notice("hub epoch adopted", metadata: ["hub": "\(change.hub)", "epoch": "\(change.to)"])
        }
        logger.notice("hub store has a new epoch: sequence tracking restarts", metadata: [
            "hub": "\(change.hub)", "epoch": "\(change.to)", "previous_epoch": "\(change.from)", "seq": "\(change.baselineSeq)",
        ])
    }

    /// A relayed hub's store as the catalogue orders its records: adopted when first seen with an epoch
    /// (routine), moved on from when that hub was restored below its province (worth an operator's eye).
    private func logOriginEpoch(_ change: EpochChange) {
        guard !change.from.isEmpty else {
            return logger.info("relayed hub epoch adopted", metadata: ["origin": "\(change.hub)", "epoch": "\(change.to)"])
        }
        logger.notice("relayed hub store has a new epoch: its records may go back to lower revisions", metadata: [
            "origin": "\(change.hub)", "epoch": "\(change.to)", "previous_epoch": "\(change.from)",
        ])
    }

    /// Hubs whose sequence has had a gap for longer than `gap_timeout` are asked to resync.
    private func checkGaps() {
        do {
            let gaps = Set(try store.hubsWithGaps())
            for hub in gapSeen.keys where !gaps.contains(hub) { gapSeen[hub] = nil }
            for hub in gaps {
                let since = gapSeen[hub] ?? ContinuousClock.now
                gapSeen[hub] = since
                let action = Reconciler.onTick(view: try store.view(hub: hub), gapOpenFor: ContinuousClock.now - since,
                                               gapTimeout: settings.gapTimeout)
                if case .resync(let fromSeq, let reason) = action { requestResync(hub: hub, fromSeq: fromSeq, reason: reason) }
            }
        } catch {
            logger.warning("gap check failed", metadata: ["reason": "\(error)"])
        }
    }

    private func requestResync(hub: String, fromSeq: Int64?, reason: ResyncReason, detail: Logger.Metadata = [:]) {
        if let last = lastRequest[hub], ContinuousClock.now - last < settings.resyncMinInterval { return }
        lastRequest[hub] = ContinuousClock.now
        let request = ResyncRequest(hub: hub, fromSeq: fromSeq, reason: reason,
                                    requestID: UUID().uuidString.lowercased(), requestedAt: Timestamp.now())
        do {
            try store.recordResyncRequest(hub: hub, reason: reason, fromSeq: fromSeq)
        } catch {
            logger.error("cannot record resync request", metadata: ["hub": "\(hub)", "reason": "\(error)"])
        }
        queue.requestControl(request)
        aggregator.countResyncRequest()
        logger.notice("resync requested", metadata: detail.merging([
            "hub": "\(hub)", "reason": "\(reason.rawValue)", "from_seq": "\(fromSeq.map(String.init) ?? "all")",
            "request_id": "\(request.requestID)",
        ]) { $1 })
    }
}
