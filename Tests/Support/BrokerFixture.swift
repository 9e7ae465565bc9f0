import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps

/// The real RabbitMQ the test script started (`scripts/test`), and isolation per test through vhosts.
///
/// `scripts/test` exports `JIPPNAS_TEST_BROKER_DIR` (the node's directory, for `scripts/broker ctl`) and
/// `JIPPNAS_REQUIRE_BROKER=1`. Without a broker, broker tests are skipped on a developer's machine and
/// fail under the test script and CI.
public enum BrokerFixture {
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Whether broker tests should run: a broker was provided, or one is required.
    public static var shouldRun: Bool {
        environment["JIPPNAS_TEST_BROKER_DIR"] != nil || environment["JIPPNAS_REQUIRE_BROKER"] == "1"
    }

    /// The broker's directory, or a failure explaining how to provide one.
    public static func brokerDirectory() throws -> String {
        guard let dir = environment["JIPPNAS_TEST_BROKER_DIR"],
              FileManager.default.fileExists(atPath: dir + "/broker.env") else {
            throw Unavailable(description: "JIPPNAS_REQUIRE_BROKER=1 but no broker: run the tests through scripts/test")
        }
        return dir
    }

    /// A value of the node's broker.env (JIPPNAS_BROKER_*), written by `scripts/broker start`.
    public static func value(_ name: String) throws -> String {
        let env = try String(contentsOfFile: try brokerDirectory() + "/broker.env", encoding: .utf8)
        guard let line = env.split(separator: "\n").first(where: { $0.hasPrefix(name + "=") }) else {
            throw Unavailable(description: "broker.env has no \(name)")
        }
        return String(line.dropFirst(name.count + 1))
    }

    /// The base URL (default vhost) of the test broker.
    public static func baseURL() throws -> BrokerURL {
        try BrokerURL(parsing: try value("JIPPNAS_BROKER_URL"))
    }

    /// rabbitmqctl against the test node.
    @discardableResult
    public static func ctl(_ arguments: [String]) throws -> String {
        try run(["\(repositoryRoot)/scripts/broker", "ctl", try brokerDirectory()] + arguments)
    }

    /// The command line `jippnas broker provision --rabbitmqctl` takes for the test node.
    public static func rabbitmqctlCommand() throws -> String {
        "\(repositoryRoot)/scripts/broker ctl \(try brokerDirectory())"
    }

    /// A fresh vhost for one test, with full permissions for guest.
    public static func isolatedURL(_ label: String) throws -> BrokerURL {
        var url = try baseURL()
        let vhost = "t-\(label)-\(UUID().uuidString.prefix(8))"
        try vhostCreation.withLock {
            try ctl(["add_vhost", vhost])
            try ctl(["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"])
        }
        url.vhost = vhost
        return url
    }

    /// Runs `jippnas broker provision ... --apply` with `arguments` against the test node.
    @discardableResult
    public static func provision(_ arguments: [String]) throws -> String {
        try vhostCreation.withLock {
            try run([try ChildProcess.jippnasBinary(), "broker", "provision"] + arguments
                    + ["--apply", "--rabbitmqctl", try rabbitmqctlCommand()])
        }
    }

    /// Held while a vhost is made, by `add_vhost` or by importing definitions that hold one. RabbitMQ
    /// 3.10.8 was seen to hang for good (every later login waiting) when an import_definitions and an
    /// add_vhost ran at once, so tests running in parallel take turns. A later hang of the same look was
    /// the file handle cache running out (logins wait in file_handle_cache:obtain): scripts/lib/rabbit-node.sh
    /// now starts the broker with the hard open-files limit, not su's 1024.
    private static let vhostCreation = NSLock()

    /// Runs a command and throws with its output when it fails.
    @discardableResult
    public static func run(_ arguments: [String]) throws -> String {
        let outcome = Subprocess.run(arguments)
        guard outcome.status == 0 else {
            throw Unavailable(description: "\(arguments.joined(separator: " ")) failed (status \(outcome.status)): \(outcome.output)")
        }
        return outcome.output
    }
}

/// A RabbitMQ node of a test's own (`scripts/broker start`), for what the shared one must not be
/// configured for, such as a TLS listener that demands client certificates. Stop it with ``stop()``.
public final class DedicatedBroker: Sendable {
    public let directory: String
    public let url: BrokerURL

    /// Starts the node in a new directory under /tmp (its parents must be traversable by the rabbitmq user).
    /// `plugins`: comma-separated plugins to enable (rabbitmq_shovel for a hub's own node).
    public init(label: String, requireClientCertificate: Bool = false, plugins: String = "") throws {
        directory = "/tmp/jippnas-\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        let output = try BrokerFixture.run(["env", "JIPPNAS_BROKER_REQUIRE_CLIENT_CERT=\(requireClientCertificate ? 1 : 0)",
                                            "JIPPNAS_BROKER_PLUGINS=\(plugins)",
                                            "\(repositoryRoot)/scripts/broker", "start", directory + "/broker"])
        let last = output.split(separator: "\n").last.map(String.init) ?? ""
        url = try BrokerURL(parsing: last.trimmingCharacters(in: .whitespaces))
    }

    /// A value of the node's broker.env (JIPPNAS_BROKER_*).
    public func value(_ name: String) throws -> String {
        let env = try String(contentsOfFile: directory + "/broker/broker.env", encoding: .utf8)
        guard let line = env.split(separator: "\n").first(where: { $0.hasPrefix(name + "=") }) else {
            throw BrokerFixture.Unavailable(description: "broker.env has no \(name)")
        }
        return String(line.dropFirst(name.count + 1))
    }

    /// The command line `--rabbitmqctl` options take for this node.
    public var rabbitmqctlCommand: String { "\(repositoryRoot)/scripts/broker ctl \(directory)/broker" }

    public func stop() {
        _ = Subprocess.run(["\(repositoryRoot)/scripts/broker", "stop", directory + "/broker"])
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Broker users are broker-wide, not per vhost: two tests provisioning at once with passwords of their
/// own would change each other's users under their running daemons. Every test that provisions therefore
/// links its `secrets` directory to one directory per test broker, filled once (with every hub and
/// kabupaten/kota user of the seeds), so later provisioning reuses the same passwords.
public enum SharedSecrets {
    /// Makes `path` a link to the shared passwords directory.
    public static func link(at path: String) throws {
        let shared = try made.get()
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: shared)
    }

    private static let made: Result<String, any Error> = Result {
        let directory = try BrokerFixture.brokerDirectory() + "/secrets"
        let scratch = NSTemporaryDirectory() + "jippnas-secrets-\(UUID().uuidString.prefix(8)).json"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try BrokerFixture.provision([
            "--hubs", repositoryRoot + "/seeds/provinces.csv", "--regions", repositoryRoot + "/seeds/regions.csv",
            "--vhost", "secrets-\(UUID().uuidString.prefix(6))", "--out", scratch, "--passwords-dir", directory,
        ])
        return directory
    }
}
