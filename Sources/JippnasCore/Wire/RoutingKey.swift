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

    /// The queue a hub consumes its control messages from.
    public static func hubControlQueue(province: String) -> String { "jippnas.control." + province }
    /// Arguments of a hub's control queue: quorum, so a hub connects through any node of a cluster.
    public static let controlQueueArguments: [String: AMQPArgument] = ["x-queue-type": .string("quorum")]

    /// The AMQP app-id hubs publish with.
    public static func hubAppID(version: String) -> String { "jippnas-hub/" + version }
}

/// Routing keys: built and parsed in one place.
public enum RoutingKey: Sendable, Hashable {
    case innovation(province: String, event: ChangeEvent)
    case hub(province: String, kind: String)

    /// `<province>.innovation.<event>`.
    public static func innovation(province: String, event: ChangeEvent) -> String {
        province + ".innovation." + event.rawValue
    }

    /// `<province>.hub.<kind>`, for example `35.hub.checkpoint`.
    public static func hubMessage(province: String, kind: String) -> String { province + ".hub." + kind }

    /// The parsed key, or nil when it is not one of the two shapes with a known province.
    public static func parse(_ key: String) -> RoutingKey? {
        // Every delivery's key is parsed, twice on the way in: found by byte, without splitting. Bytes and
        // characters agree only for ASCII (a dot followed by a combining mark is one character).
        guard key.utf8.allSatisfy({ $0 < 0x80 }) else { return parseCharacters(key) }
        let dot = UInt8(ascii: ".")
        guard let first = key.utf8.firstIndex(of: dot) else { return nil }
        let rest = key.utf8[key.utf8.index(after: first)...]
        guard let second = rest.firstIndex(of: dot) else { return nil }
        let last = key[key.utf8.index(after: second)...]
        guard !last.utf8.contains(dot) else { return nil }
        let province = String(key[..<first])
        guard ProvinceRegistry.isProvinceCode(province) else { return nil }
        switch key[key.utf8.index(after: first)..<second] {
        case "innovation":
            guard let event = ChangeEvent(rawValue: String(last)) else { return nil }
            return .innovation(province: province, event: event)
        case "hub":
            guard !last.isEmpty else { return nil }
            return .hub(province: province, kind: String(last))
        default:
            return nil
        }
    }

    /// The same rules over characters, for keys that are not ASCII (none that this federation sends).
    private static func parseCharacters(_ key: String) -> RoutingKey? {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, ProvinceRegistry.isProvinceCode(String(parts[0])) else { return nil }
        switch parts[1] {
        case "innovation":
            return ChangeEvent(rawValue: String(parts[2])).map { .innovation(province: String(parts[0]), event: $0) }
        case "hub":
            return parts[2].isEmpty ? nil : .hub(province: String(parts[0]), kind: String(parts[2]))
        default:
            return nil
        }
    }

    /// The province the key speaks for.
    public var province: String {
        switch self {
        case .innovation(let p, _), .hub(let p, _): p
        }
    }
}
