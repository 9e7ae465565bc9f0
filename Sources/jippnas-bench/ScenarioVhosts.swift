import Foundation
import JippnasCore

/// Makes and removes the vhost of one scenario with rabbitmqctl, given as one command line split at spaces
/// (an absolute path first, such as `scripts/broker ctl DIR` with both paths absolute), granting the
/// bench's user everything in it.
struct ScenarioVhosts: Sendable {
    let base: String
    let user: String
    let rabbitmqctl: [String]
    /// Unique to this bench, so that a vhost left by an earlier bench that was killed is never in the way.
    let prefix = "bench-\(UUID().uuidString.prefix(6).lowercased())"

    init(broker: String, rabbitmqctl: String) throws {
        base = broker.hasSuffix("/") ? broker : broker + "/"
        user = try BrokerURL(parsing: base).user
        self.rabbitmqctl = rabbitmqctl.split(separator: " ").map(String.init)
        guard !self.rabbitmqctl.isEmpty else { throw BenchError("--rabbitmqctl is empty") }
    }

    /// A new vhost for scenario `name` of run `run`: its URL, the URL as text (password included, for child
    /// processes) and the vhost's name.
    func make(run: Int, name: String) throws -> (BrokerURL, String, String) {
        let slug = name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        let vhost = "\(prefix)-\(run)-" + String(slug).split(separator: "-").joined(separator: "-")
        try ctl(["add_vhost", vhost])
        try ctl(["set_permissions", "-p", vhost, user, ".*", ".*", ".*"])
        let text = base + vhost
        return (try BrokerURL(parsing: text), text, vhost)
    }

    /// Removes a vhost and everything in it; a vhost that is not there is no failure.
    func remove(_ vhost: String) {
        _ = try? Child.run(rabbitmqctl[0], Array(rabbitmqctl.dropFirst()) + ["delete_vhost", vhost], quiet: true)
    }

    private func ctl(_ arguments: [String]) throws {
        _ = try Child.run(rabbitmqctl[0], Array(rabbitmqctl.dropFirst()) + arguments)
    }
}
