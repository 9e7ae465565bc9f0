import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasStore

/// One connection's life on the hub relay's thread: carries out what the ``RelayPlanner`` decides (read
/// the outbox, publish, wait for confirms, mark published, checkpoint) and answers resync requests.
final class RelaySession {
    typealias Planner = RelayPlanner<ContinuousClock.Instant>

    /// Longest single wait: rabbitmq-c sends heartbeats only from within its calls.
    static let longestWait = Duration.milliseconds(100)

    private let relay: HubRelay
    private let connection: AMQPConnection
    private let watcher: DatabaseWatcher
    private var planner: Planner
    private var buffer: [OutboxEntry] = []
    private var next = 0
    private let appID = WireNames.hubAppID(version: JippnasVersion.current)
    private var lastStatus = ContinuousClock.now - .seconds(60)
    /// Resync requests received and not yet started, in arrival order, and the one being queued.
    private var waitingResyncs: [(tag: UInt64, request: ResyncRequest)] = []
    private var answering: ResyncAnswer?

    init(relay: HubRelay, connection: AMQPConnection, watcher: DatabaseWatcher) {
        self.relay = relay
        self.connection = connection
        self.watcher = watcher
        planner = Planner(limits: Self.limits(relay), at: .now)
    }

    private static func limits(_ relay: HubRelay) -> Planner.Limits {
        let tuned = relay.current
        return .init(window: relay.settings.confirmWindow, batchSize: tuned.batchSize,
                     checkpointInterval: tuned.checkpointInterval, idlePoll: relay.settings.idlePoll)
    }

    func run(until stop: StopSignal) -> SessionEnd {
        do {
            while true {
                try relay.reportProgress(connection, lastStatus: &lastStatus)
                if stop.isStopped { planner.stopRequested(at: .now) }
                planner.reload(Self.limits(relay))
                if let end = try perform(planner.nextStep(at: .now)) { return end }
            }
        } catch {
            // A broker or store failure: nothing unconfirmed was marked, so those rows are published again.
            try? markPublished(planner.unmarked)
            planner.connectionLost()
            return .lost(error)
        }
    }

    private func perform(_ step: Planner.Step) throws -> SessionEnd? {
        switch step {
        case .mark(let seqs):
            try markPublished(seqs)
        case .load(let after, let limit):
            buffer = try relay.store.pendingOutbox(after: after, limit: limit)
            next = 0
            planner.loaded(count: buffer.count, lastSeq: buffer.last?.seq, at: .now)
        case .publish(let count):
            try publish(count)
        case .checkpoint:
            if let messageID = try relay.publishCheckpoint(on: connection, appID: appID) {
                planner.checkpointPublished(messageID: messageID, at: .now)
            } else {
                planner.outboxChanged()
            }
        case .queueResync(let limit):
            try queueResync(limit: limit)
        case .wait(let timeout):
            try wait(min(timeout, Self.longestWait))
        case .end(.stopped):
            return .stopped
        case .end(.retryLater(let reason)):
            return .retryLater(reason)
        }
        return nil
    }

    private func markPublished(_ seqs: [Int64]) throws {
        try relay.store.markPublished(seqs)
        planner.marked()
        relay.count(marked: seqs.count)
    }

    private func publish(_ count: Int) throws {
        let timestamp = UInt64(Date().timeIntervalSince1970)
        for entry in buffer[next..<(next + count)] {
            try entry.body.withUnsafeBytes { body in
                try connection.publish(
                    exchange: WireNames.innovationExchange, routingKey: entry.routingKey, body: body,
                    properties: PublishProperties(
                        messageID: entry.messageID, type: entry.event.rawValue, appID: appID, timestamp: timestamp,
                        userID: connection.url.user, headers: relay.signatureHeaders(entry.body)))
            }
            planner.published(seq: entry.seq, messageID: entry.messageID)
            if relay.logger.logLevel <= .debug {
                relay.logger.debug("sent", metadata: [  // not yet confirmed: "confirmed" comes per batch
                    "seq": "\(entry.seq)", "message_id": "\(entry.messageID)", "routing_key": "\(entry.routingKey)",
                ])
            }
        }
        next += count
        relay.count(sent: count)
    }

    /// Queues the next part of the oldest resync request; acknowledges it once all its records are queued.
    private func queueResync(limit: Int) throws {
        if answering == nil, !waitingResyncs.isEmpty {
            let (tag, request) = waitingResyncs.removeFirst()
            let job = try relay.store.startResync(fromSeq: request.fromSeq, unsentAfter: planner.readThrough)
            answering = ResyncAnswer(deliveryTag: tag, request: request, job: job, started: .now,
                                     waitingAtStart: waitingResyncs.count)
        }
        guard var answer = answering else { return planner.resyncQueued(finished: true) }
        let finished = try relay.store.continueResync(&answer.job, limit: limit)
        answering = finished ? nil : answer
        if finished { try finish(answer) }
        planner.resyncQueued(finished: finished && waitingResyncs.isEmpty)
    }

    /// Acknowledges `answer`'s request and every one it covers among those that were already waiting
    /// when it started (requests pile up while a hub is away and all arrive at once when it connects). A
    /// request that came later may follow a loss at the aggregator after the first parts were sent, so it
    /// gets a job of its own.
    private func finish(_ answer: ResyncAnswer) throws {
        try relay.finishResync(answer, on: connection)
        let earlier = waitingResyncs.prefix(answer.waitingAtStart)
        let covered = earlier.filter { answer.job.covers(fromSeq: $0.request.fromSeq) }
        waitingResyncs = earlier.filter { !answer.job.covers(fromSeq: $0.request.fromSeq) }
            + waitingResyncs.dropFirst(answer.waitingAtStart)
        for (tag, request) in covered {
            let same = ResyncAnswer(deliveryTag: tag, request: request, job: answer.job, started: answer.started,
                                    waitingAtStart: 0)
            try relay.finishResync(same, coveredBy: answer.request.requestID, on: connection)
        }
    }

    /// Waits for broker events or a write to the database, then takes every event already buffered.
    private func wait(_ timeout: Duration) throws {
        let wake = watcher.descriptor ?? -1
        _ = try connection.waitForInput(timeout: timeout, wake: wake)
        if watcher.consume() { planner.outboxChanged() }
        // Into rabbitmq-c after every wait, readable or not: heartbeats are sent and checked only there.
        var event = try connection.nextConfirmEvent(timeout: .zero)
        while let current = event {
            try handle(current)
            event = try connection.nextConfirmEvent(timeout: .zero)
        }
    }

    private func handle(_ event: ConfirmEvent) throws {
        switch event {
        case .ack(let tag, let multiple):
            planner.received(.ack(tag: tag, multiple: multiple), at: .now)
        case .nack(let tag, let multiple):
            relay.count(nacked: planner.received(.nack(tag: tag, multiple: multiple), at: .now))
        case .returned(let messageID, let replyCode, let routingKey):
            planner.received(.returned(messageID: messageID), at: .now)
            relay.count(returned: 1)
            relay.logger.debug("message returned", metadata: [
                "message_id": "\(messageID ?? "-")", "routing_key": "\(routingKey)", "reply_code": "\(replyCode)",
            ])
        case .delivery(let delivery):
            if let request = try relay.takeControl(delivery, on: connection) {
                waitingResyncs.append((delivery.deliveryTag, request))
                planner.resyncRequested()
            }
        }
    }
}
