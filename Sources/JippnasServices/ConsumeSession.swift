import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasTrust

/// One connection's life on the aggregator's AMQP thread: gathers deliveries into the open batch and
/// carries out what the ``AckPipeline`` decides (hand off to screening and commit, reject, acknowledge).
/// It never touches SQLite.
final class ConsumeSession {
    typealias Pipeline = AckPipeline<ContinuousClock.Instant>

    /// Longest single wait for input: rabbitmq-c sends heartbeats only from within its calls.
    static let longestWait = Duration.milliseconds(100)

    private let aggregator: Aggregator
    private let connection: AMQPConnection
    private let queue: CommitQueue
    private let screener: BatchScreener
    private let generation: Int
    private(set) var pipeline: Pipeline
    private var open: CommitBatch
    private var finished = false
    private var lastStatus = ContinuousClock.now - .seconds(60)
    private var isStream: Bool {
        if case .stream = aggregator.settings.source { return true }
        return false
    }

    init(aggregator: Aggregator, connection: AMQPConnection, queue: CommitQueue, screener: BatchScreener, generation: Int,
         pipeline: Pipeline)
    {
        self.aggregator = aggregator
        self.connection = connection
        self.queue = queue
        self.screener = screener
        self.generation = generation
        self.pipeline = pipeline
        open = CommitBatch(generation: generation)
    }

    /// Consumes until `stop`; returns nil when stopped cleanly, or the error that ended the connection.
    /// Nothing uncommitted has been acknowledged either way: the broker redelivers it.
    func run(until stop: StopSignal) -> (any Error)? {
        do {
            while !stop.isStopped { try turn() }
            try finish()
            return nil
        } catch {
            return error
        }
    }

    /// One delivery (or one wait without any): add it to the open batch, tell the pipeline, carry out its
    /// actions. Screening happens after the hand-off, on every core; refusals come back with the commit.
    private func turn() throws {
        aggregator.reportProgress(connection, lastStatus: &lastStatus)
        try takeResults()
        let tuned = aggregator.current
        pipeline.reload(.init(batchSize: tuned.batchSize, maxWait: tuned.batchMaxWait))
        let budget = min(pipeline.waitBudget(at: .now) ?? Self.longestWait, Self.longestWait)
        // Call into rabbitmq-c after every wait, readable or not: it sends due heartbeats and notices a
        // broker that stopped sending them only from within its own calls.
        _ = try connection.waitForInput(timeout: budget, wake: queue.wakeDescriptor)
        if let delivery = try connection.nextDelivery(timeout: .zero) {
            open.deliveries.append(delivery)
            try carryOut(pipeline.delivered(tag: delivery.deliveryTag, verdict: .accepted, at: .now))
        } else {
            try carryOut(pipeline.tick(at: .now))
        }
    }

    /// Stopping: hand off what is open and acknowledge what commits, for at most ten seconds.
    private func finish() throws {
        try carryOut(pipeline.stopRequested())
        let deadline = ContinuousClock.now + .seconds(10)
        while !finished, ContinuousClock.now < deadline {
            aggregator.observer.tick()
            try takeResults()
            // Reading keeps heartbeats going; what arrives now is not taken and comes again after the close.
            _ = try connection.waitForInput(timeout: .milliseconds(20), wake: queue.wakeDescriptor)
            _ = try connection.nextDelivery(timeout: .zero)
        }
    }

    /// Feeds the commit thread's results to the pipeline and publishes the resync requests it queued.
    private func takeResults() throws {
        for result in queue.takeResults(generation: generation) {
            switch result.outcome {
            case .committed(let refused):
                try carryOut(pipeline.committed(batch: result.batch, refused: refused, at: .now))
            case .abandoned:
                try carryOut(pipeline.abandoned(batch: result.batch, at: .now))
            }
        }
        for request in queue.takeControl() { try publish(request) }
    }

    private func carryOut(_ actions: [Pipeline.Action]) throws {
        for action in actions {
            switch action {
            case .handOff(let id):
                open.id = id
                screener.screen(open, policy: aggregator.provenancePolicy) { [queue] in queue.submit($0) }
                open = CommitBatch(generation: generation)
            case .reject(let tag):
                // A stream refuses basic.reject (540, closing the connection) and cannot dead-letter: the
                // refusal is recorded in the catalogue, and the delivery is settled with an ack.
                if isStream { try connection.ack(tag, multiple: false) } else { try connection.reject(tag, requeue: false) }
            case .ack(let tag, let multiple):
                try connection.ack(tag, multiple: multiple)
            case .finished:
                finished = true
            }
        }
    }

    private func publish(_ request: ResyncRequest) throws {
        let body = try ControlCodec.encode(request)
        try body.withUnsafeBytes { b in
            try connection.publish(
                exchange: WireNames.controlExchange, routingKey: ResyncRequest.routingKey(province: request.hub),
                body: b, properties: PublishProperties(messageID: request.requestID, type: "resync",
                                                       appID: "jippnas-aggregator/\(JippnasVersion.current)",
                                                       timestamp: UInt64(Date().timeIntervalSince1970)),
                mandatory: false)
        }
    }
}
