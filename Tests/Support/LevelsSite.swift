import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasStore
import JippnasTrust

/// A three-level federation of real `jippnas` processes on one provisioned vhost of the test broker:
/// Kota Surabaya (35.78) and Kota Malang (35.73) → Jawa Timur (35, relaying them) → the national
/// aggregator, and Jawa Tengah (33) directly. Every hub signs; every level requires signatures and
/// user-ids. Seeds come from `seeds/` as an operator would load them.
public final class LevelsSite: @unchecked Sendable {
    public let dir: TempDir
    public let binary: String
    public let vhost: String
    public let base: BrokerURL
    /// Hub codes, provinces first.
    public static let hubs = ["35", "33", "35.78", "35.73"]
    /// Each hub's key id.
    public private(set) var keyIDs: [String: String] = [:]
    private var keyFiles: [String: String] = [:]
    private var passwords: [String: String] = [:]
    private var processes: [String: ChildProcess] = [:]

    public init(label: String) throws {
        dir = TempDir(label)
        binary = try ChildProcess.jippnasBinary()
        base = try BrokerFixture.baseURL()
        vhost = "\(label)-\(UUID().uuidString.prefix(6))"
        try provision()
        try makeKeys()
        try writeConfigs()
        try importSeeds()
    }

    private func provision() throws {
        try SharedSecrets.link(at: dir.file("secrets"))
        try BrokerFixture.provision([
            "--hubs", repositoryRoot + "/seeds/provinces.csv", "--regions", repositoryRoot + "/seeds/regions.csv",
            "--vhost", vhost, "--out", dir.file("definitions.json"), "--passwords-dir", dir.file("secrets"),
        ])
        for user in ["aggregator", "mirror"] + Self.hubs.map({ "hub-" + $0 }) {
            passwords[user] = try String(contentsOfFile: dir.file("secrets/\(user).password"), encoding: .utf8).trimmingWhitespace()
        }
    }

    private func makeKeys() throws {
        for hub in Self.hubs {
            let out = dir.file("keys-\(hub)")
            try BrokerFixture.run([binary, "keys", "generate", "--hub", hub, "--out", out])
            let files = try FileManager.default.contentsOfDirectory(atPath: out)
            let key = try require(files.first { $0.hasSuffix(".key") }, "the key of \(hub)")
            keyFiles[hub] = out + "/" + key
            keyIDs[hub] = String(key.dropFirst(hub.count + 1).dropLast(4))
            // The national operator trusts every hub's key; Jawa Timur trusts its kabupaten/kota hubs'.
            let pub = out + "/" + key.replacingOccurrences(of: ".key", with: ".pub")
            for trust in ["trust-national"] + (HubCode.isRegional(hub) ? ["trust-regional-35"] : []) {
                try FileManager.default.createDirectory(atPath: dir.file(trust), withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: pub, toPath: dir.file("\(trust)/\(hub)-\(keyIDs[hub]!).pub"))
            }
        }
    }

    /// The broker section of `user`'s config: its password file, the provisioned topology.
    private func brokerYAML(_ user: String) -> String {
        """
        broker:
          urls: ["amqp://\(user)@\(base.host):\(base.port)/\(vhost)"]
          password_file: \(dir.file("secrets/\(user).password"))
          declare_topology: false
          heartbeat_s: 10
        """
    }

    private func writeConfigs() throws {
        let aggregator = """
            database: \(dir.file("catalogue.sqlite"))
            \(brokerYAML("aggregator"))
            trust:
              keys_dir: \(dir.file("trust-national"))
              require_signatures: true
              require_user_id: true
            reconcile:
              gap_timeout_s: 2
              min_interval_s: 2
            consumer:
              batch_max_wait_ms: 20
            feed:
              checkpoint_interval_s: 1
            """
        try aggregator.write(toFile: dir.file("aggregator.yaml"), atomically: true, encoding: .utf8)
        for hub in Self.hubs {
            var text = """
                province: "\(hub)"
                database: \(dir.file("hub-\(hub).sqlite"))
                \(brokerYAML("hub-" + hub))
                signing:
                  key_file: \(keyFiles[hub]!)
                relay:
                  checkpoint_interval_s: 2
                  idle_poll_ms: 50

                """
            if hub == "35" {
                text += """
                    regional:
                      enabled: true
                      hubs: ["35.78", "35.73"]
                      catalogue: \(dir.file("regional-35.sqlite"))
                      keys_dir: \(dir.file("trust-regional-35"))
                      require_signatures: true
                      require_user_id: true

                    """
            }
            try text.write(toFile: dir.file("hub-\(hub).yaml"), atomically: true, encoding: .utf8)
        }
    }

    /// Writes the config of a mirror at `hub`, logging in as the hub's own user, serving HTTP on `port`.
    public func writeMirrorConfig(hub: String, port: Int) throws -> String {
        let path = dir.file("mirror-\(hub).yaml")
        try """
            database: \(dir.file("mirror-\(hub).sqlite"))
            \(brokerYAML("hub-" + hub))
            http:
              listen: 127.0.0.1:\(port)
            consumer:
              batch_max_wait_ms: 20

            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func importSeeds() throws {
        let seeds = ["35": "hubs/35-jawa-timur.csv", "33": "hubs/33-jawa-tengah.json",
                     "35.78": "regional/35.78-kota-surabaya.csv", "35.73": "regional/35.73-kota-malang.ndjson"]
        for hub in Self.hubs {
            try BrokerFixture.run([binary, "hub", "import", "--config", dir.file("hub-\(hub).yaml"), repositoryRoot + "/seeds/" + seeds[hub]!])
        }
    }

    /// Starts the national aggregator, then every hub (Jawa Timur with its relaying role).
    public func start() async throws {
        try launch("aggregator", ["aggregator", "run", "--config", dir.file("aggregator.yaml")])
        _ = await eventually(timeout: .seconds(30)) { self.processes["aggregator"]!.output.contains("consuming") }
        for hub in Self.hubs { try launch("hub-\(hub)", ["hub", "run", "--config", dir.file("hub-\(hub).yaml")]) }
    }

    /// Starts one process; its output goes to `<name>.log`.
    public func launch(_ name: String, _ arguments: [String]) throws {
        processes[name] = try ChildProcess([binary] + arguments, outputPath: dir.file("\(name).log"))
    }

    /// Stops one process gracefully.
    public func stop(_ name: String) async {
        guard let process = processes.removeValue(forKey: name) else { return }
        process.signal(SIGTERM)
        if await process.wait(timeout: .seconds(25)) == nil { process.signal(SIGKILL) }
    }

    /// Stops every process (SIGTERM, then SIGKILL for any still running a moment later).
    public func stop() {
        for process in processes.values { process.signal(SIGTERM) }
        let deadline = Date().addingTimeInterval(25)
        for process in processes.values {
            var status: Int32 = 0
            while waitpid(process.pid, &status, WNOHANG) == 0 && Date() < deadline { usleep(50_000) }
            process.signal(SIGKILL)
        }
        processes = [:]
    }

    /// One process's whole output so far ("" when it is not running).
    public func output(of name: String) -> String { processes[name]?.output ?? "" }

    /// Every process's log, for a failure message.
    public func logs() -> String {
        processes.keys.sorted().map { name in
            "--- \(name)\n" + (processes[name]!.output.split(separator: "\n").suffix(15).joined(separator: "\n"))
        }.joined(separator: "\n")
    }

    /// The global ids the national catalogue must hold: every leaf hub's records.
    public func expectedGlobalIDs() throws -> Set<String> {
        var ids = Set<String>()
        for hub in Self.hubs {
            let store = try HubStore(path: dir.file("hub-\(hub).sqlite"), province: hub, access: .readOnly)
            for record in try store.records() { ids.insert(record.globalID(hub: hub)) }
        }
        return ids
    }

    /// The national catalogue, read-only (the aggregator has created it).
    public func nationalCatalogue() throws -> CatalogueStore {
        try CatalogueStore(path: dir.file("catalogue.sqlite"), access: .readOnly)
    }

    /// A hub's private key.
    public func signingKey(_ hub: String) throws -> HubSigningKey { try HubSigningKey.load(path: keyFiles[hub]!) }

    /// The provisioned URL of `user`, with its password.
    public func url(_ user: String) throws -> BrokerURL {
        var url = base
        url.user = user
        url.password = passwords[user] ?? ""
        url.vhost = vhost
        return url
    }

    /// Publishes as `user` and returns how the broker refused it, or nil when it confirmed.
    public func publishExpectingRefusal(user: String, exchange: String = WireNames.innovationExchange, routingKey: String,
                                        body: Data) throws -> AMQPError?
    {
        let connection = try AMQPConnection(url: try url(user), heartbeat: 0, timeout: .seconds(5))
        defer { connection.close() }
        try connection.enableConfirms()
        try body.withUnsafeBytes { bytes in
            try connection.publish(exchange: exchange, routingKey: routingKey, body: bytes,
                                   properties: PublishProperties(messageID: "refused-\(UUID())", type: "upsert", appID: "t",
                                                                 timestamp: 0, userID: user))
        }
        do {
            _ = try connection.nextConfirmEvent(timeout: .seconds(5))
            return nil
        } catch {
            return error
        }
    }

    /// A user that RabbitMQ lets set any user-id, with full permissions on the vhost: what a hostile
    /// publisher past the broker's checks would be.
    public func impersonator() throws -> BrokerURL {
        let user = "impersonator-\(vhost)", password = UUID().uuidString
        try BrokerFixture.ctl(["add_user", user, password])
        try BrokerFixture.ctl(["set_user_tags", user, "impersonator"])
        try BrokerFixture.ctl(["set_permissions", "-p", vhost, user, ".*", ".*", ".*"])
        var url = base
        url.user = user
        url.password = password
        url.vhost = vhost
        return url
    }

    /// Messages ready in a queue of the vhost, as rabbitmqctl reports them.
    public func queueDepth(_ queue: String) throws -> Int {
        let listing = try BrokerFixture.ctl(["list_queues", "-q", "-p", vhost, "name", "messages"])
        for line in listing.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            if fields.count == 2, fields[0] == queue { return Int(fields[1]) ?? 0 }
        }
        return 0
    }
}

/// `#require` for support code outside a test.
private func require<T>(_ value: T?, _ what: String = "value") throws -> T {
    guard let value else { throw BrokerFixture.Unavailable(description: "missing \(what)") }
    return value
}
