/// Exchange and queue names of the federation (docs/PROTOCOL.md).
public enum WireNames {
    /// Topic exchange for innovation changes, keyed `<province>.innovation.<event>`.
    public static let innovationExchange = "jippnas.innovation"
    /// Topic exchange for hub-level messages, keyed `<province>.hub.<kind>`.
    public static let hubExchange = "jippnas.hub"
    /// Topic exchange for the aggregator's requests to hubs, keyed `<province>.resync`.
    public static let controlExchange = "jippnas.control"
    /// Where the national queue dead-letters what it rejects.
    public static let deadLetterExchange = "jippnas.dead"
    /// The national aggregator's durable queue.
    public static let nationalQueue = "jippnas.national"
    /// The queue behind ``deadLetterExchange``.
    public static let nationalDeadQueue = "jippnas.national.dead"
    /// The stream keeping every hub message for a retention period, read by mirrors and rebuilds.
    public static let historyStream = "jippnas.history"
    /// Where `jippnas broker migrate-queue` keeps the national queue's messages while it recreates it.
    public static let nationalMigrationQueue = "jippnas.national.migrating"
    /// Binding patterns of the national queue (and of the history stream).
    public static let nationalBindings: [(exchange: String, pattern: String)] = [
        (innovationExchange, "*.innovation.*"), (hubExchange, "*.hub.*"),
    ]

    /// A provincial hub's queue of its kabupaten/kota hubs' messages (the relaying role).
    public static func regionalQueue(province: String) -> String { "jippnas.regional." + province }
    /// Where regional queues dead-letter what the province refuses (kept apart from the national one).
    public static let regionalDeadLetterExchange = "jippnas.regional.dead"
    /// The queue behind ``regionalDeadLetterExchange`` for one province.
    public static func regionalDeadQueue(province: String) -> String { "jippnas.regional." + province + ".dead" }
    /// Binding patterns of a province's regional queue: its kabupaten/kota hubs' keys, which have one
    /// word more than a province's and so never match the national `*.innovation.*`.
    public static func regionalBindings(province: String) -> [(exchange: String, pattern: String)] {
        [(innovationExchange, province + ".*.innovation.*"), (hubExchange, province + ".*.hub.*")]
    }

    /// The queue a hub consumes its control messages from.
    public static func hubControlQueue(province: String) -> String { "jippnas.control." + province }
    /// Arguments of a hub's control queue: quorum, so a hub connects through any node of a cluster.
    public static let controlQueueArguments: [String: AMQPArgument] = ["x-queue-type": .string("quorum")]

    /// The AMQP app-id hubs publish with.
    public static func hubAppID(version: String) -> String { "jippnas-hub/" + version }
}

/// Routing keys: built and parsed in one place.
///
/// `province` is the publishing hub's code (``HubCode``): a province, or a kabupaten/kota `PP.KK`.
public enum RoutingKey: Sendable, Hashable {
    case innovation(province: String, event: ChangeEvent)
    case hub(province: String, kind: String)

    /// `<province>.innovation.<event>`.
    public static func innovation(province: String, event: ChangeEvent) -> String {
        province + ".innovation." + event.rawValue
    }

    /// `<province>.hub.<kind>`, for example `35.hub.checkpoint`.
    public static func hubMessage(province: String, kind: String) -> String { province + ".hub." + kind }

    /// The parsed key, or nil when it is not one of the two shapes with a valid hub code: a province
    /// (`35.innovation.upsert`) or a kabupaten/kota (`35.78.innovation.upsert`).
    public static func parse(_ key: String) -> RoutingKey? {
        // Every delivery's key is parsed, twice on the way in: found by byte from the end, without
        // splitting. Bytes and characters agree only for ASCII (a dot followed by a combining mark is one
        // character); no key this federation sends is anything else.
        guard key.utf8.allSatisfy({ $0 < 0x80 }) else { return parseCharacters(key) }
        let dot = UInt8(ascii: ".")
        guard let last = key.utf8.lastIndex(of: dot) else { return nil }
        let head = key.utf8[..<last]
        guard let second = head.lastIndex(of: dot) else { return nil }
        let hub = String(key[..<second])
        guard HubCode.isValid(hub) else { return nil }
        let tail = String(key[key.utf8.index(after: last)...])
        switch key[key.utf8.index(after: second)..<last] {
        case "innovation":
            guard let event = ChangeEvent(rawValue: tail) else { return nil }
            return .innovation(province: hub, event: event)
        case "hub":
            guard !tail.isEmpty else { return nil }
            return .hub(province: hub, kind: tail)
        default:
            return nil
        }
    }

    /// The same rules over characters, for keys that are not ASCII (only a hub message's kind may be).
    private static func parseCharacters(_ key: String) -> RoutingKey? {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        let hub = parts[..<(parts.count - 2)].joined(separator: ".")
        guard HubCode.isValid(hub) else { return nil }
        let (middle, tail) = (parts[parts.count - 2], String(parts[parts.count - 1]))
        switch middle {
        case "innovation": return ChangeEvent(rawValue: tail).map { .innovation(province: hub, event: $0) }
        case "hub": return tail.isEmpty ? nil : .hub(province: hub, kind: tail)
        default: return nil
        }
    }

    /// The hub code the key speaks for: a province, or a kabupaten/kota for a regional hub.
    public var province: String {
        switch self {
        case .innovation(let p, _), .hub(let p, _): p
        }
    }
}
