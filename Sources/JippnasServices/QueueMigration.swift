import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import Logging

/// Changes the type of `jippnas.national` (and of `jippnas.national.dead`) on a broker that holds them
/// with another type, without losing a message: RabbitMQ cannot change a queue's type in place.
///
/// Each queue is handed over twice, to a temporary queue of the new type and back to a new queue under
/// its own name. A hand-over moves what the old queue holds (each message confirmed by the new queue
/// before it is acknowledged on the old), binds the new queue, unbinds the old one, moves what arrived
/// meanwhile, and deletes the old queue only if it is empty (`if-empty`: a late message makes the broker
/// refuse, and the move runs again). Hubs may go on publishing throughout: from the moment the new queue
/// is bound until the old one is unbound a message is routed to both, which the catalogue recognises by
/// message id. The aggregator must be stopped; a consumer on either queue makes this refuse to start.
///
/// Moved messages keep their properties, AMQP user-id included, which RabbitMQ allows only a user with
/// the `impersonator` tag to publish. Run it again after any failure: every step looks at what exists.
public struct QueueMigration {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// What one queue's migration did.
    public struct Report: Sendable, Equatable {
        public var queue: String
        /// False when the queue already had the type (and nothing was moved).
        public var migrated: Bool
        /// Messages moved into the temporary queue, and from it into the new one.
        public var movedOut = 0
        public var movedBack = 0
    }

    let broker: BrokerSettings
    let topology: NationalTopology
    let logger: Logger

    public init(broker: BrokerSettings, topology: NationalTopology, logger: Logger) {
        self.broker = broker
        self.topology = topology
        self.logger = logger
    }

    /// Migrates the dead-letter queue, then the national queue, to ``NationalTopology/queueType``.
    public func run() throws -> [Report] {
        let dead = Target(name: WireNames.nationalDeadQueue, temporary: WireNames.nationalDeadQueue + ".migrating",
                          arguments: topology.deadQueueArguments,
                          bindings: [(WireNames.deadLetterExchange, "#")])
        let national = Target(name: WireNames.nationalQueue, temporary: WireNames.nationalMigrationQueue,
                              arguments: topology.nationalQueueArguments, bindings: WireNames.nationalBindings)
        try withConnection { connection in
            try Topology.declareHubSide(connection)
            try connection.declareExchange(WireNames.controlExchange)
            try connection.declareExchange(WireNames.deadLetterExchange)
        }
        for target in [dead, national] { try refuseIfConsumed(target) }
        return try [dead, national].map(migrate)
    }

    /// A queue to bring to its configured type.
    struct Target {
        var name: String
        var temporary: String
        var arguments: [String: AMQPArgument]
        var bindings: [(exchange: String, pattern: String)]
    }

    private func migrate(_ target: Target) throws -> Report {
        var report = Report(queue: target.name, migrated: false)
        if try !declares(target.name, target.arguments) {
            logger.notice("queue has another type: moving it out", metadata: [
                "queue": "\(target.name)", "type": "\(topology.queueType.rawValue)", "via": "\(target.temporary)",
            ])
            guard try declares(target.temporary, target.arguments) else {
                throw Failure(description: "\(target.temporary) exists with another type too: delete it once it is empty")
            }
            let oldType: NationalQueueType = topology.queueType == .quorum ? .classic : .quorum
            report.movedOut = try handOver(target, from: target.name, to: target.temporary, sourceType: oldType)
            report.migrated = true
            guard try declares(target.name, target.arguments) else {
                throw Failure(description: "\(target.name) came back with its old type while it was being migrated")
            }
        }
        if try exists(target.temporary) {
            report.movedBack = try handOver(target, from: target.temporary, to: target.name, sourceType: topology.queueType)
            report.migrated = true
        } else {
            try withConnection { c in try bind(c, target.name, target) }
        }
        if report.migrated {
            logger.notice("queue migrated", metadata: [
                "queue": "\(target.name)", "type": "\(topology.queueType.rawValue)", "moved_out": "\(report.movedOut)",
                "moved_back": "\(report.movedBack)",
            ])
        }
        return report
    }

    /// Moves `from` into `to` (both declared), then puts `to` in `from`'s place in the routing and deletes
    /// `from` once it is empty. Returns the number of messages moved.
    private func handOver(_ target: Target, from: String, to: String, sourceType: NationalQueueType) throws -> Int {
        try withConnection { c in
            try route(c, to)
            var moved = try c.moveMessages(from: from, to: to, through: Self.exchange(to), publishingOn: try connect())
            try bind(c, to, target)
            for binding in target.bindings { try c.unbindQueue(from, exchange: binding.exchange, pattern: binding.pattern) }
            // Messages routed just before the unbind may still be on their way into the queue.
            Thread.sleep(forTimeInterval: 1)
            moved += try c.moveMessages(from: from, to: to, through: Self.exchange(to), publishingOn: try connect())
            return moved
        } + (try deleteWhenEmpty(from, movingTo: to, classic: sourceType == .classic))
            + (try withConnection { c in try c.deleteExchange(Self.exchange(to)); return 0 })
    }

    /// Deletes `queue` once it is empty; a message that arrived after the last move is moved first.
    /// Classic queues are deleted with if-empty, so the broker itself refuses while one is left. Quorum
    /// queues do not support if-empty: the unbound queue must read empty twice, a second apart, and the
    /// broker's count of what the delete removed must be zero.
    private func deleteWhenEmpty(_ queue: String, movingTo destination: String, classic: Bool) throws -> Int {
        var late = 0
        func moveLate() throws {
            late += try withConnection { c in
                try c.moveMessages(from: queue, to: destination, through: Self.exchange(destination), publishingOn: try connect())
            }
        }
        for _ in 0..<10 {
            if !classic {
                var emptyReadings = 0, tries = 0
                while emptyReadings < 2 && tries < 10 {
                    tries += 1
                    try moveLate()
                    Thread.sleep(forTimeInterval: 1)
                    emptyReadings = try withConnection { c in try c.queueStatus(queue).messages } == 0 ? emptyReadings + 1 : 0
                }
                guard emptyReadings == 2 else { continue }
            }
            do {
                let removed = try withConnection { c in try c.deleteQueue(queue, ifEmpty: classic) }
                if removed > 0 {
                    throw Failure(description: "\(queue) received \(removed) message(s) between its last move and its deletion: they are lost from the queue; the catalogue recovers them from the hubs by resync (jippnas aggregator resync)")
                }
                return late
            } catch let error as AMQPError where error.kind.replyCode == 406 {
                try moveLate()
            }
        }
        throw Failure(description: "\(queue) kept receiving messages after it was unbound; is something publishing to it directly?")
    }

    /// The exchange moved messages are published to: a fanout bound to `queue` alone, so each keeps its
    /// own routing key (which the aggregator checks) and reaches no other queue.
    static func exchange(_ queue: String) -> String { "jippnas.migrate." + queue }

    private func route(_ connection: AMQPConnection, _ queue: String) throws {
        try connection.declareExchange(Self.exchange(queue), type: "fanout", durable: false)
        try connection.bindQueue(queue, exchange: Self.exchange(queue), pattern: "")
    }

    private func bind(_ connection: AMQPConnection, _ queue: String, _ target: Target) throws {
        for binding in target.bindings { try connection.bindQueue(queue, exchange: binding.exchange, pattern: binding.pattern) }
    }

    /// Declares `queue` with `arguments`; false when it exists with another type (the broker's 406).
    private func declares(_ queue: String, _ arguments: [String: AMQPArgument]) throws -> Bool {
        do {
            _ = try withConnection { c in try c.declareQueue(queue, arguments: arguments) }
            return true
        } catch let error as AMQPError where error.queueTypeMismatch {
            return false
        }
    }

    private func exists(_ queue: String) throws -> Bool {
        do {
            _ = try withConnection { c in try c.queueStatus(queue) }
            return true
        } catch let error as AMQPError where error.kind.replyCode == 404 {
            return false
        }
    }

    private func refuseIfConsumed(_ target: Target) throws {
        for queue in [target.name, target.temporary] {
            guard try exists(queue) else { continue }
            let consumers = try withConnection { c in try c.queueStatus(queue).consumers }
            if consumers > 0 {
                throw Failure(description: "\(queue) has \(consumers) consumer(s): stop the aggregator (systemctl stop jippnas-aggregator) first")
            }
        }
    }

    /// A fresh connection per step: a refused declaration closes the channel, and each step then starts clean.
    private func connect() throws -> AMQPConnection {
        guard let url = broker.urls.first else { throw Failure(description: "no broker URL") }
        return try AMQPConnection(url: url, tls: broker.tls, heartbeat: 0, timeout: broker.timeout,
                                  connectionName: "jippnas-migrate-queue")
    }

    private func withConnection<T>(_ body: (AMQPConnection) throws -> T) throws -> T {
        let connection = try connect()
        defer { connection.close() }
        do {
            return try body(connection)
        } catch let error as AMQPError where error.kind.replyCode == 406 && error.description.contains("user_id") {
            throw Failure(description: "\(error): moving keeps each message's user-id, which RabbitMQ allows only to a user "
                          + "with the impersonator tag (rabbitmqctl set_user_tags USER administrator impersonator)")
        }
    }
}

extension AMQPError.Kind {
    /// The broker's reply code, for a closed channel or connection.
    var replyCode: UInt16? {
        switch self {
        case .channelClosed(let code, _), .connectionClosed(let code, _): code
        default: nil
        }
    }
}
