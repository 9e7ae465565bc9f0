import JippnasAMQP
import JippnasCore

/// Declares the federation's exchanges and queues. Declarations are idempotent, so both daemons run
/// them on every connect: a broker that lost its definitions gets them back without operator action.
///
/// On a provisioned broker (`broker.declare_topology: false`) the daemons' users may not configure
/// anything; the definitions from `jippnas broker provision` hold the topology, and the daemons only
/// check passively that what they use exists, so a missing piece is a clear error at connect.
public enum Topology {
    /// What a hub needs: the exchanges it publishes to.
    public static func declareHubSide(_ connection: AMQPConnection, declare: Bool = true) throws(AMQPError) {
        try connection.declareExchange(WireNames.innovationExchange, passive: !declare)
        try connection.declareExchange(WireNames.hubExchange, passive: !declare)
    }

    /// A hub's control queue, where the aggregator's resync requests for its province arrive.
    public static func declareHubControl(_ connection: AMQPConnection, province: String, declare: Bool = true)
        throws(AMQPError)
    {
        let queue = WireNames.hubControlQueue(province: province)
        guard declare else {
            _ = try connection.queueDepth(queue)  // passive: throws when the queue is missing
            return
        }
        try connection.declareExchange(WireNames.controlExchange)
        try connection.declareQueue(queue)
        try connection.bindQueue(queue, exchange: WireNames.controlExchange, pattern: ResyncRequest.routingKey(province: province))
    }

    /// What the aggregator needs: exchanges, the dead-letter path, the national queue and its bindings.
    public static func declareNationalSide(_ connection: AMQPConnection, declare: Bool = true) throws(AMQPError) {
        try declareHubSide(connection, declare: declare)
        try connection.declareExchange(WireNames.controlExchange, passive: !declare)
        guard declare else {
            _ = try connection.queueDepth(WireNames.nationalQueue)  // passive: throws when the queue is missing
            return
        }
        try connection.declareExchange(WireNames.deadLetterExchange)
        try connection.declareQueue(WireNames.nationalDeadQueue)
        try connection.bindQueue(WireNames.nationalDeadQueue, exchange: WireNames.deadLetterExchange, pattern: "#")
        try connection.declareQueue(
            WireNames.nationalQueue, arguments: ["x-dead-letter-exchange": .string(WireNames.deadLetterExchange)])
        for binding in WireNames.nationalBindings {
            try connection.bindQueue(WireNames.nationalQueue, exchange: binding.exchange, pattern: binding.pattern)
        }
    }
}
