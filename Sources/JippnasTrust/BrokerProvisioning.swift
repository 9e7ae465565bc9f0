import Crypto
import Foundation
import JippnasCore

/// RabbitMQ definitions that give every hub a user that can speak only for its own province.
///
/// Per hub `hub-<province>`: no configure permission; write on the two hub-facing exchanges only, with
/// topic permissions that admit only routing keys beginning `<province>.`; read on its own control queue
/// only. The aggregator user `aggregator` reads the national queues and writes only to `jippnas.control`.
/// The topology itself (exchanges, queues, bindings, as ``WireNames`` has it) is part of the definitions,
/// so daemons run with `broker.declare_topology: false` and need no configure permission, except the
/// aggregator's for the national feed (`jippnas.catalogue` and its stream), which its publisher declares.
public struct BrokerProvisioning: Sendable {
    /// The aggregator's broker user.
    public static let aggregatorUser = "aggregator"
    /// The user of read mirrors (`jippnas aggregator run --rebuild-from-stream` elsewhere): reads the
    /// history stream and may ask hubs to resync, nothing else.
    public static let mirrorUser = "mirror"

    public var vhost: String
    /// Province codes of the hubs to create users for.
    public var hubs: [String]
    /// Kabupaten/kota codes of regional hubs: each gets a user that speaks only for its own code, and
    /// its province's hub gets the regional queue it relays them from.
    public var regionalHubs: [String] = []
    /// Password per user name.
    public var passwords: [String: String]
    /// Queue types and the history stream, as the aggregator declares them.
    public var topology: NationalTopology

    public init(vhost: String, hubs: [String], passwords: [String: String], topology: NationalTopology = NationalTopology()) {
        self.vhost = vhost
        self.hubs = hubs
        self.passwords = passwords
        self.topology = topology
    }

    /// Every user these definitions create, aggregator first (the mirror user only with a history stream).
    public var users: [String] {
        [Self.aggregatorUser] + (topology.history == nil && topology.feed == nil ? [] : [Self.mirrorUser])
            + (hubs + regionalHubs).map { Provenance.hubUser(province: $0) }
    }

    /// Provinces that relay regional hubs, in order.
    var relayingProvinces: [String] {
        var seen = Set<String>()
        return regionalHubs.map { HubCode.province(of: $0) }.filter { seen.insert($0).inserted }
    }

    /// A new random password: 24 bytes from the system's CSPRNG, base64url without padding.
    public static func generatePassword() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<24).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// RabbitMQ's `rabbit_password_hashing_sha256`: base64(salt ‖ SHA-256(salt ‖ password)) with a 4-byte salt.
    public static func passwordHash(_ password: String, salt: [UInt8]? = nil) -> String {
        var generator = SystemRandomNumberGenerator()
        let salt = salt ?? (0..<4).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let digest = SHA256.hash(data: Data(salt + Array(password.utf8)))
        return Data(salt + Array(digest)).base64EncodedString()
    }

    /// The definitions document (`rabbitmqctl import_definitions`, or `load_definitions` at boot).
    public func definitions() -> [String: Any] {
        let (queues, bindings) = queuesAndBindings()
        return [
            "rabbit_version": "3.10.8", "vhosts": [["name": vhost]], "users": userDefinitions(), "permissions": permissions(),
            "topic_permissions": topicPermissions(), "exchanges": exchangeDefinitions(), "queues": queues, "bindings": bindings,
        ]
    }

    /// A name as a literal in a permission's regular expression.
    private static func escaped(_ name: String) -> String { name.replacingOccurrences(of: ".", with: "\\.") }

    private func userDefinitions() -> [[String: Any]] {
        users.map { user in
            ["name": user, "password_hash": Self.passwordHash(passwords[user] ?? ""),
             "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": [String]()]
        }
    }

    /// What each user may configure, write and read: the aggregator, the mirror, and every hub.
    private func permissions() -> [[String: Any]] {
        let history = topology.history == nil ? "" : "|\(Self.escaped(WireNames.historyStream))"
        let feed = topology.feed == nil ? "" : "|\(Self.escaped(NationalFeed.stream))"
        // The feed's exchange and stream are the aggregator's to declare (its feed publisher does, at
        // connect): RabbitMQ 3.10.8 was seen to hang importing definitions that held a second stream.
        let feedNames = topology.feed == nil ? "" : "|\(Self.escaped(NationalFeed.exchange))|\(Self.escaped(NationalFeed.stream))"
        var permissions: [[String: Any]] = [[
            "user": Self.aggregatorUser, "vhost": vhost,
            "configure": topology.feed == nil ? "^$" : "^(\(String(feedNames.dropFirst())))$",
            "write": "^(\(Self.escaped(WireNames.controlExchange))\(feedNames))$",
            "read": "^(\(Self.escaped(WireNames.nationalQueue))|\(Self.escaped(WireNames.nationalDeadQueue))\(history)\(feedNames))$",
        ]]
        if topology.history != nil || topology.feed != nil {
            permissions.append([
                "user": Self.mirrorUser, "vhost": vhost, "configure": "^$",
                "write": "^\(Self.escaped(WireNames.controlExchange))$", "read": "^(\(String((history + feed).dropFirst())))$",
            ])
        }
        return permissions + (hubs + regionalHubs).map { hubPermission($0, relays: relayingProvinces.contains($0)) }
    }

    /// The routing keys each hub may publish: its own level's only (`35.innovation.*` is not
    /// `35.78.innovation.*`), and for a relaying province, resync requests to its own kabupaten/kota.
    private func topicPermissions() -> [[String: Any]] {
        var topicPermissions: [[String: Any]] = []
        for hub in hubs + regionalHubs {
            let own = "^\(Self.escaped(hub))\\.(innovation|hub)\\."
            for exchange in [WireNames.innovationExchange, WireNames.hubExchange] {
                topicPermissions.append(["user": Provenance.hubUser(province: hub), "vhost": vhost, "exchange": exchange,
                                         "write": own, "read": "^\(Self.escaped(hub))\\."])
            }
            if relayingProvinces.contains(hub) {
                topicPermissions.append(["user": Provenance.hubUser(province: hub), "vhost": vhost,
                                         "exchange": WireNames.controlExchange, "write": "^\(hub)\\.[0-9]{2}\\.resync$", "read": "^$"])
            }
        }
        return topicPermissions
    }

    private func exchangeDefinitions() -> [[String: Any]] {
        let exchanges = [WireNames.innovationExchange, WireNames.hubExchange, WireNames.controlExchange,
                         WireNames.deadLetterExchange] + (regionalHubs.isEmpty ? [] : [WireNames.regionalDeadLetterExchange])
        return exchanges.map { name in
            ["name": name, "vhost": vhost, "type": "topic", "durable": true, "auto_delete": false, "internal": false,
             "arguments": [String: Any]()]
        }
    }

    /// The national queues (and the history stream), every hub's control queue, and each relaying
    /// province's regional queues, with their bindings.
    private func queuesAndBindings() -> (queues: [[String: Any]], bindings: [[String: Any]]) {
        func queue(_ name: String, _ arguments: [String: Any] = [:]) -> [String: Any] {
            ["name": name, "vhost": vhost, "durable": true, "auto_delete": false, "arguments": arguments]
        }
        func binding(_ exchange: String, _ queue: String, _ key: String) -> [String: Any] {
            ["source": exchange, "vhost": vhost, "destination": queue, "destination_type": "queue", "routing_key": key,
             "arguments": [String: Any]()]
        }
        var queues = [queue(WireNames.nationalQueue, Self.json(topology.nationalQueueArguments)),
                      queue(WireNames.nationalDeadQueue, Self.json(topology.deadQueueArguments))]
        var bindings = WireNames.nationalBindings.map { binding($0.exchange, WireNames.nationalQueue, $0.pattern) }
        if let arguments = topology.historyArguments {
            queues.append(queue(WireNames.historyStream, Self.json(arguments)))
            bindings += WireNames.nationalBindings.map { binding($0.exchange, WireNames.historyStream, $0.pattern) }
        }
        bindings.append(binding(WireNames.deadLetterExchange, WireNames.nationalDeadQueue, "#"))
        for hub in hubs + regionalHubs {
            let control = WireNames.hubControlQueue(province: hub)
            queues.append(queue(control, Self.json(WireNames.controlQueueArguments)))
            bindings.append(binding(WireNames.controlExchange, control, ResyncRequest.routingKey(province: hub)))
        }
        for province in relayingProvinces {
            let regional = WireNames.regionalQueue(province: province), dead = WireNames.regionalDeadQueue(province: province)
            queues.append(queue(regional, Self.json(topology.regionalQueueArguments)))
            queues.append(queue(dead, Self.json(topology.deadQueueArguments)))
            bindings += WireNames.regionalBindings(province: province).map { binding($0.exchange, regional, $0.pattern) }
            bindings.append(binding(WireNames.regionalDeadLetterExchange, dead, province + ".#"))
        }
        return (queues, bindings)
    }

    /// A hub user's permissions: configure nothing, write the hub-facing exchanges, read its control queue;
    /// a relaying province also reads its regional queues and writes resync requests to the hubs below.
    private func hubPermission(_ hub: String, relays: Bool) -> [String: Any] {
        var write = [WireNames.innovationExchange, WireNames.hubExchange]
        // Every hub may read the national feed for its mirror (`jippnas mirror run`), and nothing else of it.
        var read = [WireNames.hubControlQueue(province: hub)] + (topology.feed == nil ? [] : [NationalFeed.stream])
        if relays {
            write.append(WireNames.controlExchange)
            read += [WireNames.regionalQueue(province: hub), WireNames.regionalDeadQueue(province: hub)]
        }
        return ["user": Provenance.hubUser(province: hub), "vhost": vhost, "configure": "^$",
                "write": "^(\(write.map(Self.escaped).joined(separator: "|")))$", "read": "^(\(read.map(Self.escaped).joined(separator: "|")))$"]
    }

    /// Queue arguments as definitions hold them.
    static func json(_ arguments: [String: AMQPArgument]) -> [String: Any] {
        arguments.mapValues { value -> Any in
            switch value {
            case .string(let text): text
            case .int(let number): number
            case .timestamp(let seconds): seconds
            }
        }
    }

    /// The definitions as pretty JSON.
    public func definitionsJSON() throws -> Data {
        try JSONSerialization.data(withJSONObject: definitions(), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}
