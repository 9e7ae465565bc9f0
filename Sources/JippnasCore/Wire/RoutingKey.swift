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
    /// Binding patterns of the national queue.
    public static let nationalBindings: [(exchange: String, pattern: String)] = [
        (innovationExchange, "*.innovation.*"), (hubExchange, "*.hub.*"),
    ]

    /// The queue a hub consumes its control messages from.
    public static func hubControlQueue(province: String) -> String { "jippnas.control." + province }

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
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        let province = String(parts[0])
        guard ProvinceRegistry.isProvinceCode(province) else { return nil }
        switch parts[1] {
        case "innovation":
            guard let event = ChangeEvent(rawValue: String(parts[2])) else { return nil }
            return .innovation(province: province, event: event)
        case "hub":
            guard !parts[2].isEmpty else { return nil }
            return .hub(province: province, kind: String(parts[2]))
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
