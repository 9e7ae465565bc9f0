import Foundation
import JippnasCore

/// RabbitMQ definitions for a hub's own broker: a node on the hub's machine that takes the hub daemon's
/// publishes at once, whatever the state of the link, and forwards them to the national broker with a
/// shovel, and brings the national resync requests back.
///
/// - Exchanges `jippnas.innovation` and `jippnas.hub`, as nationally; everything published to them goes to
///   the queue `jippnas.uplink`.
/// - Shovel `jippnas-uplink` moves `jippnas.uplink` to the national broker with `ack-mode: on-confirm`: a
///   message leaves the hub's node only after the national broker confirmed it. It republishes each
///   message to the exchange and with the routing key it was published with, with its properties and
///   headers unchanged (signature, key id, user-id), logged in as the hub's national user, so the
///   national broker checks the user-id and topic permissions exactly as for a hub connected directly.
/// - Shovel `jippnas-control` moves the hub's national control queue into the local one, which the hub
///   daemon consumes.
/// - Local user `hub-<province>` may write to the two exchanges and read its control queue, and configures
///   nothing: the hub daemon runs with `broker.declare_topology: false`.
public struct HubUplink: Sendable {
    public static let uplinkQueue = "jippnas.uplink"

    public var province: String
    /// The national broker's nodes, tried in turn, with the hub's national user and password.
    public var national: [BrokerURL]
    /// CA file the shovel verifies an `amqps://` national broker with.
    public var nationalCAFile: String?
    /// The password of the local user the hub daemon logs in as.
    public var localPassword: String
    public var localVhost: String

    public init(province: String, national: [BrokerURL], nationalCAFile: String? = nil, localPassword: String,
                localVhost: String = "/")
    {
        self.province = province
        self.national = national
        self.nationalCAFile = nationalCAFile
        self.localPassword = localPassword
        self.localVhost = localVhost
    }

    /// The definitions document (`rabbitmqctl import_definitions` on the hub's node).
    public func definitions() -> [String: Any] {
        let user = Provenance.hubUser(province: province)
        let control = WireNames.hubControlQueue(province: province)
        func exchange(_ name: String) -> [String: Any] {
            ["name": name, "vhost": localVhost, "type": "topic", "durable": true, "auto_delete": false, "internal": false,
             "arguments": [String: Any]()]
        }
        func queue(_ name: String) -> [String: Any] {
            ["name": name, "vhost": localVhost, "durable": true, "auto_delete": false, "arguments": [String: Any]()]
        }
        func binding(_ source: String, _ queue: String, _ key: String) -> [String: Any] {
            ["source": source, "vhost": localVhost, "destination": queue, "destination_type": "queue", "routing_key": key,
             "arguments": [String: Any]()]
        }
        func escaped(_ name: String) -> String { name.replacingOccurrences(of: ".", with: "\\.") }
        let local = "amqp:///" + Self.percentEncoded(localVhost)
        let shovels: [[String: Any]] = [
            ["component": "shovel", "name": "jippnas-uplink", "vhost": localVhost, "value": [
                "src-protocol": "amqp091", "src-uri": local, "src-queue": Self.uplinkQueue,
                "dest-protocol": "amqp091", "dest-uri": national.map(shovelURI),
                "ack-mode": "on-confirm", "src-delete-after": "never", "reconnect-delay": 5,
            ] as [String: Any]],
            ["component": "shovel", "name": "jippnas-control", "vhost": localVhost, "value": [
                "src-protocol": "amqp091", "src-uri": national.map(shovelURI), "src-queue": control,
                "dest-protocol": "amqp091", "dest-uri": local, "dest-queue": control,
                "ack-mode": "on-confirm", "src-delete-after": "never", "reconnect-delay": 5,
            ] as [String: Any]],
        ]
        return [
            "rabbit_version": "3.10.8", "vhosts": [["name": localVhost]],
            "users": [["name": user, "password_hash": BrokerProvisioning.passwordHash(localPassword),
                       "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": [String]()]],
            "permissions": [["user": user, "vhost": localVhost, "configure": "^$",
                             "write": "^(\(escaped(WireNames.innovationExchange))|\(escaped(WireNames.hubExchange)))$",
                             "read": "^\(escaped(control))$"]],
            "exchanges": [WireNames.innovationExchange, WireNames.hubExchange, WireNames.controlExchange].map(exchange),
            "queues": [queue(Self.uplinkQueue), queue(control)],
            "bindings": [binding(WireNames.innovationExchange, Self.uplinkQueue, "#"),
                         binding(WireNames.hubExchange, Self.uplinkQueue, "#"),
                         binding(WireNames.controlExchange, control, ResyncRequest.routingKey(province: province))],
            "parameters": shovels,
        ]
    }

    /// The definitions as pretty JSON.
    public func definitionsJSON() throws -> Data {
        try JSONSerialization.data(withJSONObject: definitions(), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// A national node as the shovel's Erlang AMQP client takes it: password in the URI, the vhost
    /// percent-encoded, and for `amqps` the CA and peer verification as query parameters.
    func shovelURI(_ url: BrokerURL) -> String {
        var text = "\(url.tls ? "amqps" : "amqp")://\(Self.percentEncoded(url.user)):\(Self.percentEncoded(url.password))@"
            + "\(url.host):\(url.port)/\(Self.percentEncoded(url.vhost))"
        if url.tls {
            var query = ["verify=verify_peer", "server_name_indication=\(url.host)"]
            if let nationalCAFile { query.insert("cacertfile=\(nationalCAFile)", at: 0) }
            text += "?" + query.joined(separator: "&")
        }
        return text
    }

    static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}
