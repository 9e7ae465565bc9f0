/// A value in an AMQP argument table (`x-dead-letter-exchange`, `x-queue-type`, `x-stream-offset`...).
public enum AMQPArgument: Sendable, Hashable {
    case string(String)
    case int(Int64)
    /// An AMQP timestamp: seconds since the epoch.
    case timestamp(UInt64)
}

/// The kind of the national queue. RabbitMQ cannot change a queue's type in place
/// (`jippnas broker migrate-queue` moves one into the other).
public enum NationalQueueType: String, Sendable, CaseIterable {
    /// A Raft-replicated queue: survives the loss of a minority of a cluster's nodes. The default.
    case quorum
    /// A queue on one node: for a single-node broker that predates quorum queues.
    case classic
}

/// Retention of the history stream (`x-max-age`, `x-max-length-bytes`): whichever limit is reached first
/// removes the oldest segments.
public struct HistoryRetention: Sendable, Equatable {
    /// RabbitMQ's age syntax: a number and one of Y, M, D, h, m, s (for example `30D`).
    public var maxAge: String
    public var maxBytes: Int64
    /// Size of one segment file; retention removes whole segments, so this is its granularity.
    public var segmentBytes: Int64

    public init(maxAge: String = "30D", maxBytes: Int64 = 20_000_000_000, segmentBytes: Int64 = 100_000_000) {
        self.maxAge = maxAge
        self.maxBytes = maxBytes
        self.segmentBytes = segmentBytes
    }

    /// Whether `text` is an age RabbitMQ accepts for `x-max-age`.
    public static func isValidAge(_ text: String) -> Bool {
        guard let unit = text.last, "YMDhms".contains(unit) else { return false }
        let digits = text.dropLast()
        return !digits.isEmpty && digits.count <= 9 && digits.allSatisfy(\.isASCIIDigitCharacter) && Int(digits)! > 0
    }
}

/// The national side's queues and stream, as the aggregator declares them and `jippnas broker provision`
/// writes them: one description, so the two cannot drift apart.
public struct NationalTopology: Sendable, Equatable {
    public var queueType: NationalQueueType
    /// Deliveries of one message without an acknowledgement before a quorum queue dead-letters it: a
    /// message that makes the aggregator crash before its commit cannot loop forever.
    public var deliveryLimit: Int
    /// The history stream, or nil to go without one.
    public var history: HistoryRetention?
    /// The national feed's stream (``NationalFeed``), or nil to publish no feed.
    public var feed: HistoryRetention?

    public init(queueType: NationalQueueType = .quorum, deliveryLimit: Int = 20, history: HistoryRetention? = HistoryRetention(),
                feed: HistoryRetention? = HistoryRetention())
    {
        self.queueType = queueType
        self.deliveryLimit = deliveryLimit
        self.history = history
        self.feed = feed
    }

    /// Arguments of `jippnas.national` (and of a queue it is migrated through).
    public var nationalQueueArguments: [String: AMQPArgument] {
        var arguments = queueTypeArguments
        arguments["x-dead-letter-exchange"] = .string(WireNames.deadLetterExchange)
        if queueType == .quorum { arguments["x-delivery-limit"] = .int(Int64(deliveryLimit)) }
        return arguments
    }

    /// Arguments of a province's `jippnas.regional.<province>`: as the national queue's, but dead-lettering
    /// to `jippnas.regional.dead`, so a kabupaten/kota's refused message never lands in the national one.
    public var regionalQueueArguments: [String: AMQPArgument] {
        var arguments = nationalQueueArguments
        arguments["x-dead-letter-exchange"] = .string(WireNames.regionalDeadLetterExchange)
        return arguments
    }

    /// Arguments of `jippnas.national.dead`: the same type, so a cluster keeps its dead letters too.
    public var deadQueueArguments: [String: AMQPArgument] { queueTypeArguments }

    /// Arguments of the `jippnas.history` stream.
    public var historyArguments: [String: AMQPArgument]? { history.map(Self.streamArguments) }

    /// Arguments of the `jippnas.catalogue.stream` stream.
    public var feedArguments: [String: AMQPArgument]? { feed.map(Self.streamArguments) }

    private static func streamArguments(_ retention: HistoryRetention) -> [String: AMQPArgument] {
        ["x-queue-type": .string("stream"), "x-max-age": .string(retention.maxAge), "x-max-length-bytes": .int(retention.maxBytes),
         "x-stream-max-segment-size-bytes": .int(retention.segmentBytes)]
    }

    private var queueTypeArguments: [String: AMQPArgument] {
        // A classic queue is declared without the argument, exactly as every deployment before quorum
        // queues did, so that re-declaring an existing one is equivalent.
        queueType == .quorum ? ["x-queue-type": .string("quorum")] : [:]
    }
}

private extension Character {
    var isASCIIDigitCharacter: Bool { ("0"..."9").contains(self) }
}
