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
    ///
    /// A quorum queue, because the hub consumes it on every connect: a classic queue whose node is down
    /// answers 404 on any other node of a cluster, and the hub could then not publish until that node came
    /// back. A classic one left by an earlier version is used as it is (the difference is returned for the
    /// log): it holds only resync requests, so an operator may delete it for the hub to declare it anew.
    @discardableResult
    public static func declareHubControl(_ connection: AMQPConnection, province: String, declare: Bool = true)
        throws(AMQPError) -> [String]
    {
        let queue = WireNames.hubControlQueue(province: province)
        guard declare else {
            _ = try connection.queueDepth(queue)  // passive: throws when the queue is missing
            return []
        }
        try connection.declareExchange(WireNames.controlExchange)
        let notes = try declareKeepingLimits(connection, queue, WireNames.controlQueueArguments, keepOtherType: true)
        try connection.bindQueue(queue, exchange: WireNames.controlExchange, pattern: ResyncRequest.routingKey(province: province))
        return notes
    }

    /// What the aggregator needs: exchanges, the dead-letter path, the national queue, the history stream
    /// and their bindings, with the types and arguments `topology` gives.
    ///
    /// A classic `jippnas.national` left by an earlier version makes the broker refuse a quorum declaration
    /// (406 PRECONDITION_FAILED, inequivalent arg 'x-queue-type'); ``BrokerLoop`` reports it with the way out.
    ///
    /// Returns what exists with other limits than configured (see ``declareKeepingLimits(_:_:_:)``).
    @discardableResult
    public static func declareNationalSide(_ connection: AMQPConnection, topology: NationalTopology = NationalTopology(),
                                           declare: Bool = true)
        throws(AMQPError) -> [String]
    {
        try declareHubSide(connection, declare: declare)
        try connection.declareExchange(WireNames.controlExchange, passive: !declare)
        guard declare else {
            _ = try connection.queueDepth(WireNames.nationalQueue)  // passive: throws when the queue is missing
            return []
        }
        try connection.declareExchange(WireNames.deadLetterExchange)
        var notes: [String] = []
        notes += try declareKeepingLimits(connection, WireNames.nationalDeadQueue, topology.deadQueueArguments)
        try connection.bindQueue(WireNames.nationalDeadQueue, exchange: WireNames.deadLetterExchange, pattern: "#")
        notes += try declareKeepingLimits(connection, WireNames.nationalQueue, topology.nationalQueueArguments)
        try bindNational(connection, queue: WireNames.nationalQueue)
        notes += try declareHistory(connection, topology: topology)
        return notes
    }

    /// The national feed: the exchange the aggregator publishes to and the stream mirrors read. Declared
    /// by the feed's publisher (``FeedPublisher``), which only the primary aggregator daemon runs.
    @discardableResult
    public static func declareFeed(_ connection: AMQPConnection, topology: NationalTopology, declare: Bool = true)
        throws(AMQPError) -> [String]
    {
        guard let arguments = topology.feedArguments else { return [] }
        guard declare else {
            try connection.declareExchange(NationalFeed.exchange, passive: true)
            _ = try connection.queueDepth(NationalFeed.stream)
            return []
        }
        try connection.declareExchange(NationalFeed.exchange)
        let notes = try declareKeepingLimits(connection, NationalFeed.stream, arguments)
        try connection.bindQueue(NationalFeed.stream, exchange: NationalFeed.exchange, pattern: "#")
        return notes
    }

    /// What a provincial hub's relaying role needs: its regional queue, bound to its kabupaten/kota hubs'
    /// keys, with a dead-letter queue of its own, and the control exchange for its resync requests.
    @discardableResult
    public static func declareRegionalSide(_ connection: AMQPConnection, province: String, topology: NationalTopology,
                                           declare: Bool = true) throws(AMQPError) -> [String]
    {
        try declareHubSide(connection, declare: declare)
        try connection.declareExchange(WireNames.controlExchange, passive: !declare)
        let queue = WireNames.regionalQueue(province: province)
        guard declare else {
            _ = try connection.queueDepth(queue)  // passive: throws when the queue is missing
            return []
        }
        try connection.declareExchange(WireNames.regionalDeadLetterExchange)
        let dead = WireNames.regionalDeadQueue(province: province)
        var notes = try declareKeepingLimits(connection, dead, topology.deadQueueArguments)
        try connection.bindQueue(dead, exchange: WireNames.regionalDeadLetterExchange, pattern: province + ".#")
        notes += try declareKeepingLimits(connection, queue, topology.regionalQueueArguments)
        for binding in WireNames.regionalBindings(province: province) {
            try connection.bindQueue(queue, exchange: binding.exchange, pattern: binding.pattern)
        }
        return notes
    }

    /// The history stream and its bindings, when `topology` has one. A mirror needs only this.
    @discardableResult
    public static func declareHistory(_ connection: AMQPConnection, topology: NationalTopology, declare: Bool = true)
        throws(AMQPError) -> [String]
    {
        guard let arguments = topology.historyArguments else { return [] }
        guard declare else {
            _ = try connection.queueDepth(WireNames.historyStream)
            return []
        }
        try declareHubSide(connection)
        try connection.declareExchange(WireNames.controlExchange)
        let notes = try declareKeepingLimits(connection, WireNames.historyStream, arguments)
        try bindNational(connection, queue: WireNames.historyStream)
        return notes
    }

    /// Declares `queue`. One that exists with other limits (retention, delivery limit) is used as it is:
    /// RabbitMQ refuses a declaration that differs, and operators change those with a policy
    /// (docs/OPERATIONS.md), so a changed config must not stop the daemon. The difference is returned for
    /// the log. Another queue type is an error unless `keepOtherType` (a hub's control queue).
    static func declareKeepingLimits(_ connection: AMQPConnection, _ queue: String, _ arguments: [String: AMQPArgument],
                                     keepOtherType: Bool = false) throws(AMQPError) -> [String]
    {
        do {
            try connection.declareQueue(queue, arguments: arguments)
            return []
        } catch where error.isChannelClosed && (error.otherArgumentMismatch || (keepOtherType && error.queueTypeMismatch)) {
            try connection.reopenChannel()
            _ = try connection.queueDepth(queue)
            if case .channelClosed(_, let text) = error.kind { return [text] }
            return ["\(error)"]
        }
    }

    /// Binds `queue` to what the national queue receives.
    public static func bindNational(_ connection: AMQPConnection, queue: String) throws(AMQPError) {
        for binding in WireNames.nationalBindings {
            try connection.bindQueue(queue, exchange: binding.exchange, pattern: binding.pattern)
        }
    }

    /// Removes `queue`'s national bindings.
    public static func unbindNational(_ connection: AMQPConnection, queue: String) throws(AMQPError) {
        for binding in WireNames.nationalBindings {
            try connection.unbindQueue(queue, exchange: binding.exchange, pattern: binding.pattern)
        }
    }
}
