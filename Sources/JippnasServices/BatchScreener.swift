import Dispatch
import Foundation
import JippnasAMQP
import JippnasCore
import JippnasStore
import JippnasTrust
import Logging

/// Screens a handed-off batch (``Screening``: routing key, message id, size, user-id, signature, body) on
/// every core, between the AMQP thread, which then only receives, and the commit thread.
///
/// Decoding and validating a body, and verifying its Ed25519 signature, cost far more than receiving it
/// or writing it to SQLite; on one thread they bounded the whole drain. Batches go through one serial
/// queue, so they reach the commit thread in the order they were handed off; within a batch the
/// deliveries are split across workers and reassembled in delivery order.
final class BatchScreener: Sendable {
    private let serial = DispatchQueue(label: "jippnas.aggregator.screening")
    private let maxBodyBytes: Int
    private let logger: Logger

    init(maxBodyBytes: Int, logger: Logger) {
        self.maxBodyBytes = maxBodyBytes
        self.logger = logger
    }

    /// Screens `batch` under `policy` off the calling thread, then hands it to `next`, in hand-off order.
    func screen(_ batch: CommitBatch, policy: ProvenancePolicy, then next: @escaping @Sendable (CommitBatch) -> Void) {
        serial.async { [self] in next(screened(batch, policy: policy)) }
    }

    func screened(_ batch: CommitBatch, policy: ProvenancePolicy) -> CommitBatch {
        let verdicts = verdictsInParallel(batch.deliveries, policy: policy)
        var out = batch
        out.deliveries = []
        out.count = batch.deliveries.count
        for (delivery, verdict) in zip(batch.deliveries, verdicts) { add(delivery, verdict, to: &out) }
        return out
    }

    private func verdictsInParallel(_ deliveries: [AMQPDelivery], policy: ProvenancePolicy) -> [Screening.Verdict] {
        let workers = deliveries.count < 64 ? 1 : max(1, ProcessInfo.processInfo.activeProcessorCount)
        let chunk = (deliveries.count + workers - 1) / max(workers, 1)
        let parts = PartsBox<Screening.Verdict>(count: workers)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let range = min(worker * chunk, deliveries.count)..<min((worker + 1) * chunk, deliveries.count)
            parts.set(worker, deliveries[range].map { d in
                Screening.screen(Screening.Message(routingKey: d.routingKey, messageID: d.messageID, contentType: d.contentType,
                                                   userID: d.userID, headers: d.headers, body: d.body),
                                 maxBodyBytes: maxBodyBytes, policy: policy)
            })
        }
        return parts.joined()
    }

    private func add(_ delivery: AMQPDelivery, _ verdict: Screening.Verdict, to batch: inout CommitBatch) {
        if let offset = delivery.streamOffset {
            batch.lowestOffset = min(batch.lowestOffset ?? offset, offset)
            batch.highestOffset = max(batch.highestOffset ?? offset, offset)
        }
        switch verdict {
        case .refused(let reason, let hub):
            batch.deadLetters.append(DeadLetter(reason: reason.code, routingKey: delivery.routingKey,
                                                messageID: delivery.messageID, hub: hub, body: delivery.body))
            batch.refusedTags.append(delivery.deliveryTag)
            batch.deadLetterOffsets.append(delivery.streamOffset)
            logger.warning("dead letter", metadata: [
                "reason": "\(reason.code)", "routing_key": "\(delivery.routingKey)",
                "message_id": "\(delivery.messageID ?? "-")", "hub": "\(hub ?? "-")",
            ])
        case .otherHubMessage:
            batch.hubMessages += 1
        case .checkpoint(let checkpoint):
            batch.checkpoints.append((checkpoint, batch.changes.count, delivery.streamOffset))
        case .change(let envelope, let messageID):
            if logger.logLevel <= .debug {
                logger.debug("received", metadata: [
                    "hub": "\(envelope.hub)", "seq": "\(envelope.seq)", "message_id": "\(messageID)",
                    "routing_key": "\(delivery.routingKey)",
                ])
            }
            batch.changes.append(IncomingChange(envelope: envelope, messageID: messageID,
                                                routingKey: delivery.routingKey, body: delivery.body,
                                                keyID: delivery.headers[SignatureHeaders.keyID],
                                                signature: delivery.headers[SignatureHeaders.signature]))
            batch.changeTags.append(delivery.deliveryTag)
            batch.changeOffsets.append(delivery.streamOffset)
        }
    }
}

/// Per-worker results of a `concurrentPerform`, each slot written by exactly one worker.
private final class PartsBox<Element>: @unchecked Sendable {
    private let lock = NSLock()
    private var parts: [[Element]]

    init(count: Int) { parts = Array(repeating: [], count: count) }

    func set(_ index: Int, _ part: [Element]) { lock.withLock { parts[index] = part } }

    func joined() -> [Element] { lock.withLock { parts.flatMap { $0 } } }
}
