import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore
import JippnasTestSupport
import JippnasTrust
import Logging
import Testing

/// Issue 5 against the real broker: provisioned permissions, TLS with a CA made by openssl at test time,
/// signatures and the hostile corpus.
@Suite("Security against the real broker", .serialized, .enabled(if: BrokerFixture.shouldRun, "needs the broker from scripts/test"))
struct SecurityTests {
    /// Provisions a fresh vhost with `jippnas broker provision --apply`; returns each user's password.
    func provision(_ dir: TempDir, label: String) throws -> (vhost: String, passwords: [String: String]) {
        let vhost = "sec-\(label)-\(UUID().uuidString.prefix(6))"
        try SharedSecrets.link(at: dir.file("secrets"))
        let output = try BrokerFixture.provision([
            "--hubs", repositoryRoot + "/seeds/provinces.csv", "--vhost", vhost, "--out", dir.file("definitions.json"),
            "--passwords-dir", dir.file("secrets"),
        ])
        #expect(output.contains("applied to the broker"))
        #expect(!output.contains(try String(contentsOfFile: dir.file("secrets/hub-35.password"), encoding: .utf8).trimmingWhitespace()),
                "passwords are not printed unless asked")
        var passwords: [String: String] = [:]
        for user in ["aggregator", "mirror", "hub-35", "hub-33"] {
            let path = dir.file("secrets/\(user).password")
            let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
            #expect(mode == 0o600, "\(path) mode")
            passwords[user] = try String(contentsOfFile: path, encoding: .utf8).trimmingWhitespace()
        }
        return (vhost, passwords)
    }

    func url(_ user: String, _ password: String, vhost: String, tls: Bool = false) throws -> BrokerURL {
        var url = try BrokerFixture.baseURL()
        url.user = user
        url.password = password
        url.vhost = vhost
        if tls {
            url.tls = true
            url.host = "localhost"  // the test certificate names localhost
            url.port = Int(try BrokerFixture.value("JIPPNAS_BROKER_TLS_PORT"))!
        }
        return url
    }

    func change(seq: Int64, id: String, province: String = "35") throws -> Data {
        var content = SampleData.contents(province: province, count: 1, start: Int(seq))[0]
        content.id = id
        let innovation = content.innovation(revision: 1, updatedAt: "2026-11-29T08:00:00Z")
        return EnvelopeCodec.encode(Envelope(hub: province, seq: seq, event: .upsert, sentAt: "2026-11-29T08:00:00Z",
                                                 innovation: innovation))
    }

    @Test("provisioned: a quorum national queue and the stream; the mirror user rebuilds from the stream and reads nothing else")
    func mirrorUserReadsOnlyTheStream() async throws {
        let dir = TempDir("mirror-perm")
        let (vhost, passwords) = try provision(dir, label: "mirror")
        let types = try BrokerFixture.ctl(["list_queues", "-p", vhost, "name", "type"])
        #expect(types.contains("jippnas.national\tquorum") && types.contains("jippnas.history\tstream"), "\(types)")
        let hub35 = try url("hub-35", passwords["hub-35"]!, vhost: vhost)
        try publishConfirmed((1...3).map { seq in
            WireMessage(routingKey: "35.innovation.upsert", properties: PublishProperties(
                messageID: "m\(seq)", type: "upsert", appID: "t", timestamp: 0, userID: "hub-35"),
                body: try! change(seq: Int64(seq), id: "mirrored-\(seq)"))
        }, url: hub35)

        let mirrorURL = try url("mirror", passwords["mirror"]!, vhost: vhost)
        var settings = AggregatorSettings(database: dir.file("mirror.sqlite"),
                                          broker: BrokerSettings(urls: [mirrorURL], timeout: .seconds(5), declareTopology: false))
        settings.source = .stream(start: .first)
        settings.requireUserID = true
        let mirror = Aggregator(store: try CatalogueStore(path: settings.database), settings: settings, logger: Logger(label: "t"))
        let loop = RunningLoop(name: "mirror") { mirror.run(until: $0) }
        // A stream in a vhost just made starts its replica through the stream coordinator, which takes its
        // time while the rest of the suite loads the broker.
        let applied = await eventually(timeout: .seconds(60)) { mirror.snapshot.applied == 3 }
        await loop.stop()
        #expect(applied, "\(mirror.snapshot)")
        #expect(mirror.snapshot.deadLettered == 0)

        let connection = try AMQPConnection(url: mirrorURL, heartbeat: 0, timeout: .seconds(5))
        defer { connection.close() }
        #expect { try connection.startConsumer(queue: WireNames.nationalQueue, consumerTag: "x") } throws: {
            ($0 as? AMQPError)?.accessRefused == true
        }
    }

    @Test("a hub behind its own broker: the shovel forwards with user-id and signature intact, and resyncs come back")
    func hubBehindItsOwnBroker() async throws {
        let dir = TempDir("uplink")
        let (vhost, passwords) = try provision(dir, label: "uplink")
        let node = try DedicatedBroker(label: "hubnode", plugins: "rabbitmq_shovel")
        defer { node.stop() }
        let national = try url("hub-35", "unused", vhost: vhost)
        let output = try BrokerFixture.run([
            try ChildProcess.jippnasBinary(), "broker", "uplink", "--province", "35",
            "--national", "amqp://\(national.host):\(national.port)/\(vhost)",
            "--national-password-file", dir.file("secrets/hub-35.password"),
            "--local-password-file", dir.file("local/hub-35.password"), "--out", dir.file("hub-node.json"),
            "--apply", "--rabbitmqctl", node.rabbitmqctlCommand,
        ])
        #expect(output.contains("applied to the broker"))
        let localPassword = try String(contentsOfFile: dir.file("local/hub-35.password"), encoding: .utf8).trimmingWhitespace()

        let key = HubSigningKey.generate(province: "35")
        var local = node.url
        local.user = "hub-35"
        local.password = localPassword
        let hubSettings = HubSettings(province: "35", database: dir.file("hub-35.sqlite"),
                                      broker: BrokerSettings(urls: [local], timeout: .seconds(5), declareTopology: false),
                                      confirmWindow: 100, batchSize: 100, idlePoll: .milliseconds(50), checkpointInterval: .seconds(1))
        let hubStore = try HubStore(path: hubSettings.database, province: "35")
        let relay = HubRelay(store: hubStore, settings: hubSettings, logger: Logger(label: "hub"), signer: key)
        let hub = RunningLoop(name: "hub-35") { relay.run(until: $0) }
        var aggregatorSettings = AggregatorSettings(
            database: dir.file("catalogue.sqlite"),
            broker: BrokerSettings(urls: [try url("aggregator", passwords["aggregator"]!, vhost: vhost)], timeout: .seconds(5),
                                   declareTopology: false),
            gapTimeout: .seconds(2), resyncMinInterval: .seconds(2))
        aggregatorSettings.requireSignatures = true
        aggregatorSettings.requireUserID = true
        let catalogue = try CatalogueStore(path: aggregatorSettings.database)
        let aggregator = Aggregator(store: catalogue, settings: aggregatorSettings, logger: Logger(label: "aggregator"),
                                    provenance: ProvenancePolicy(trust: TrustStore(directory: "t", keys: [key.trusted]),
                                                                 requireSignatures: true, requireUserID: true))
        let aggregatorLoop = RunningLoop(name: "aggregator") { aggregator.run(until: $0) }
        _ = try hubStore.importContents(SampleData.contents(province: "35", count: 30))
        let arrived = await eventually(timeout: .seconds(30)) { (try? catalogue.innovationCount()) == 30 }
        #expect(arrived)
        #expect(aggregator.snapshot.deadLettered == 0, "user-id and signature verified after the shovel")

        // Rows lost nationally come back through both shovels: a checkpoint up, a resync request down, the answer up.
        try BrokerFixture.run(["sqlite3", "-cmd", ".timeout 5000", aggregatorSettings.database,
                               "DELETE FROM innovation WHERE global_id IN ('35:t-35-3', '35:t-35-4')"])
        let repaired = await eventually(timeout: .seconds(40)) { (try? catalogue.innovationCount()) == 30 }
        await hub.stop()
        await aggregatorLoop.stop()
        #expect(repaired && aggregator.snapshot.resyncRequests > 0 && aggregator.snapshot.deadLettered == 0)
    }

    @Test("hub 35's user cannot publish as 33 or claim another user-id; a misconfigured hub logs 403 and keeps its rows")
    func hubCredentialsAreConfinedToTheirProvince() async throws {
        let dir = TempDir("perm")
        let (vhost, passwords) = try provision(dir, label: "perm")
        let hub35 = try url("hub-35", passwords["hub-35"]!, vhost: vhost)

        // Its own province: confirmed.
        try publishConfirmed([WireMessage(routingKey: "35.innovation.upsert", properties: PublishProperties(
            messageID: "own", type: "upsert", appID: "t", timestamp: 0, userID: "hub-35"), body: try change(seq: 1, id: "own"))],
            url: hub35)

        // Another province's routing key: the broker closes the channel with 403 (topic permission).
        let connection = try AMQPConnection(url: hub35, heartbeat: 0, timeout: .seconds(5))
        defer { connection.close() }
        try connection.enableConfirms()
        try Data("{}".utf8).withUnsafeBytes { body in
            try connection.publish(exchange: WireNames.innovationExchange, routingKey: "33.innovation.upsert", body: body,
                                   properties: PublishProperties(messageID: "x", type: "upsert", appID: "t", timestamp: 0,
                                                                 userID: "hub-35"))
        }
        var refusal: AMQPError?
        do {
            _ = try connection.nextConfirmEvent(timeout: .seconds(5))
        } catch {
            refusal = error
        }
        #expect(refusal?.accessRefused == true)
        #expect(refusal?.description.contains("403 ACCESS_REFUSED") == true)
        #expect(refusal?.description.contains("33.innovation.upsert") == true)

        // Claiming another hub's user-id: the broker validates user-id against the login (406).
        #expect(throws: (any Error).self) {
            try publishConfirmed([WireMessage(routingKey: "35.innovation.upsert", properties: PublishProperties(
                messageID: "y", type: "upsert", appID: "t", timestamp: 0, userID: "hub-33"), body: try change(seq: 2, id: "y"))],
                url: hub35)
        }

        // The hub daemon configured as 33 with 35's credentials: refused, said clearly, rows kept.
        let binary = try ChildProcess.jippnasBinary()
        let database = dir.file("hub-33.sqlite")
        let imported = Subprocess.run([binary, "hub", "import", "--province", "33", "--database", database,
                                       repositoryRoot + "/seeds/hubs/33-jawa-tengah.json"])
        #expect(imported.status == 0, "\(imported.output)")
        try "broker:\n  declare_topology: false\n  password_file: \(dir.file("secrets/hub-35.password"))\n"
            .write(toFile: dir.file("hub.yaml"), atomically: true, encoding: .utf8)
        let environment = ["JIPPNAS_BROKER_URLS": "amqp://hub-35@127.0.0.1:\(hub35.port)/\(vhost)"]
        let daemon = try ChildProcess([binary, "hub", "run", "--config", dir.file("hub.yaml"), "--province", "33",
                                       "--database", database], environment: environment, outputPath: dir.file("hub.log"))
        #expect(await eventually { daemon.output.contains("403 ACCESS_REFUSED") })
        daemon.signal(SIGTERM)
        _ = await daemon.wait(timeout: .seconds(20))
        let log = daemon.output
        #expect(log.contains("error") && log.contains("hint="), "\(log)")
        #expect(!log.contains(passwords["hub-35"]!), "the password never reaches the log")
        let status = Subprocess.run([binary, "hub", "status", "--province", "33", "--database", database])
        #expect(status.status == 2, "rows stay pending: \(status.output)")
        #expect(status.output.contains("pending=17"))
    }

    @Test("least privilege, TLS and signatures end to end: a provisioned hub and aggregator over amqps")
    func provisionedFederationOverTLS() async throws {
        let dir = TempDir("tlsfed")
        let (vhost, passwords) = try provision(dir, label: "tls")
        let binary = try ChildProcess.jippnasBinary()
        let generated = Subprocess.run([binary, "keys", "generate", "--hub", "35", "--out", dir.file("keys")])
        #expect(generated.status == 0, "\(generated.output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.file("keys"))
        let privateKey = try #require(files.first { $0.hasSuffix(".key") })
        let publicKey = try #require(files.first { $0.hasSuffix(".pub") })
        try FileManager.default.createDirectory(atPath: dir.file("trust"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: dir.file("keys/\(publicKey)"), toPath: dir.file("trust/\(publicKey)"))

        let ca = try BrokerFixture.value("JIPPNAS_BROKER_CA")
        let hubURL = try url("hub-35", "", vhost: vhost, tls: true)
        let aggregatorURL = try url("aggregator", "", vhost: vhost, tls: true)
        try """
            broker:
              urls: ["amqps://aggregator@localhost:\(aggregatorURL.port)/\(vhost)"]
              password_file: \(dir.file("secrets/aggregator.password"))
              declare_topology: false
              tls:
                ca_file: \(ca)
            trust:
              keys_dir: \(dir.file("trust"))
              require_signatures: true
              require_user_id: true
            """.write(toFile: dir.file("aggregator.yaml"), atomically: true, encoding: .utf8)
        try """
            province: "35"
            broker:
              urls: ["amqps://hub-35@localhost:\(hubURL.port)/\(vhost)"]
              password_file: \(dir.file("secrets/hub-35.password"))
              declare_topology: false
              tls:
                ca_file: \(ca)
            signing:
              key_file: \(dir.file("keys/\(privateKey)"))
            relay:
              checkpoint_interval_s: 1
            """.write(toFile: dir.file("hub.yaml"), atomically: true, encoding: .utf8)
        let hubDatabase = dir.file("hub.sqlite"), catalogue = dir.file("catalogue.sqlite")
        let imported = Subprocess.run([binary, "hub", "import", "--config", dir.file("hub.yaml"), "--database", hubDatabase,
                                       repositoryRoot + "/seeds/hubs/35-jawa-timur.csv"])
        #expect(imported.status == 0, "\(imported.output)")
        let aggregator = try ChildProcess([binary, "aggregator", "run", "--config", dir.file("aggregator.yaml"),
                                           "--database", catalogue], outputPath: dir.file("aggregator.log"))
        let hub = try ChildProcess([binary, "hub", "run", "--config", dir.file("hub.yaml"), "--database", hubDatabase],
                                   outputPath: dir.file("hub.log"))
        let arrived = await eventually(timeout: .seconds(40)) {
            (try? CatalogueStore(path: catalogue).list(hub: "35").count) == 17
        }
        let checkpointed = await eventually { (try? CatalogueStore(path: catalogue).stats().hubs.first { $0.hub == "35" }?.lastCheckpointAt) != nil }
        hub.signal(SIGTERM)
        aggregator.signal(SIGTERM)
        _ = await hub.wait(timeout: .seconds(20))
        _ = await aggregator.wait(timeout: .seconds(20))
        #expect(arrived, "hub log:\n\(hub.output)\naggregator log:\n\(aggregator.output)")
        #expect(checkpointed, "signed checkpoints are accepted")
        #expect(try CatalogueStore(path: catalogue).deadLetters().isEmpty)
        #expect(hub.output.contains("connected to broker broker=amqps://hub-35:****@localhost"))
        #expect(!hub.output.contains("broker connection is not encrypted"))
        for (user, password) in passwords {
            #expect(!hub.output.contains(password) && !aggregator.output.contains(password), "\(user)'s password in a log")
        }
    }

    @Test("TLS verifies the broker: the right CA connects, a wrong CA fails with a clear error")
    func tlsVerification() throws {
        var url = try BrokerFixture.baseURL()
        url.tls = true
        url.host = "localhost"
        url.port = Int(try BrokerFixture.value("JIPPNAS_BROKER_TLS_PORT"))!
        let good = try AMQPConnection(url: url, tls: BrokerTLS(caFile: try BrokerFixture.value("JIPPNAS_BROKER_CA")),
                                      heartbeat: 0, timeout: .seconds(5))
        try good.declareExchange(WireNames.innovationExchange)
        good.close()
        let otherCA = try BrokerFixture.value("JIPPNAS_BROKER_OTHER_CA")
        do throws(AMQPError) {
            _ = try AMQPConnection(url: url, tls: BrokerTLS(caFile: otherCA),
                                   heartbeat: 0, timeout: .seconds(5))
            Issue.record("a broker certificate from another CA was accepted")
        } catch {
            #expect(error.description.contains("does not chain to the CA"), "\(error)")
            #expect(error.description.contains("TLS connect"))
            #expect(!error.description.contains("guest:guest"))
            #expect(!error.accessRefused)
        }
        var byAddress = url
        byAddress.host = "127.0.0.1"  // the certificate names localhost only as a DNS name
        #expect(throws: AMQPError.self) {
            _ = try AMQPConnection(url: byAddress, tls: BrokerTLS(caFile: try BrokerFixture.value("JIPPNAS_BROKER_CA")),
                                   heartbeat: 0, timeout: .seconds(5))
        }
    }

    @Test("mutual TLS: a daemon with a client certificate from the broker's CA connects and delivers; without one, or with another CA's, it is refused and its log names the cause")
    func mutualTLS() async throws {
        let broker = try DedicatedBroker(label: "mtls", requireClientCertificate: true)
        defer { broker.stop() }
        let dir = TempDir("mtls")
        let binary = try ChildProcess.jippnasBinary()
        let port = try broker.value("JIPPNAS_BROKER_TLS_PORT")
        func environment(cert: String?, key: String?) throws -> [String: String] {
            var env = ["JIPPNAS_BROKER_URLS": "amqps://guest:guest@localhost:\(port)/",
                       "JIPPNAS_BROKER_TLS_CA_FILE": try broker.value("JIPPNAS_BROKER_CA"), "JIPPNAS_BROKER_TIMEOUT_S": "3",
                       "JIPPNAS_RELAY_CHECKPOINT_INTERVAL_S": "1"]
            if let cert, let key {
                env["JIPPNAS_BROKER_TLS_CERT_FILE"] = try broker.value(cert)
                env["JIPPNAS_BROKER_TLS_KEY_FILE"] = try broker.value(key)
            }
            return env
        }
        let withCert = try environment(cert: "JIPPNAS_BROKER_CLIENT_CERT", key: "JIPPNAS_BROKER_CLIENT_KEY")
        let hubDatabase = dir.file("hub.sqlite"), catalogue = dir.file("catalogue.sqlite")
        _ = try HubStore(path: hubDatabase, province: "35").importContents(SampleData.contents(province: "35", count: 5))
        let aggregator = try ChildProcess([binary, "aggregator", "run", "--database", catalogue], environment: withCert,
                                          outputPath: dir.file("aggregator.log"))
        let hub = try ChildProcess([binary, "hub", "run", "--province", "35", "--database", hubDatabase], environment: withCert,
                                   outputPath: dir.file("hub.log"))
        let arrived = await eventually(timeout: .seconds(30)) { (try? CatalogueStore(path: catalogue).list(hub: "35").count) == 5 }
        #expect(arrived, "hub log:\n\(hub.output)\naggregator log:\n\(aggregator.output)")
        hub.signal(SIGTERM)
        aggregator.signal(SIGTERM)
        _ = await hub.wait(timeout: .seconds(20))
        _ = await aggregator.wait(timeout: .seconds(20))

        // OpenSSL's reason (the broker's alert) reaches the client only when it reads before the broker hangs
        // up; either way the line names the client certificate, and which one.
        for (label, cert, key, cause) in [("no-cert", nil, nil, "client certificate"),
                                          ("other-ca", "JIPPNAS_BROKER_OTHER_CLIENT_CERT", "JIPPNAS_BROKER_OTHER_CLIENT_KEY",
                                           "client certificate \(try broker.value("JIPPNAS_BROKER_OTHER_CLIENT_CERT"))")] {
            let refused = try ChildProcess([binary, "hub", "run", "--province", "35", "--database", dir.file("\(label).sqlite")],
                                           environment: try environment(cert: cert, key: key), outputPath: dir.file("\(label).log"))
            let named = await eventually(timeout: .seconds(15)) { refused.output.contains("broker connect failed") }
            refused.signal(SIGTERM)
            _ = await refused.wait(timeout: .seconds(10))
            let line = refused.output.split(separator: "\n").first { $0.contains("broker connect failed") } ?? ""
            #expect(named && line.contains(cause), "\(label): \(refused.output)")
            #expect(!refused.output.contains("connected to broker"), "\(label) must not connect")
        }
    }

    @Test("the hostile corpus is dead-lettered with its reasons while good messages between them arrive")
    func hostileCorpusThroughARunningAggregator() async throws {
        let base = try BrokerFixture.isolatedURL("corpus")
        // RabbitMQ lets an 'impersonator' set any user-id, so the corpus can carry forged ones.
        let password = UUID().uuidString
        try BrokerFixture.ctl(["add_user", "corpus-\(base.vhost)", password])
        try BrokerFixture.ctl(["set_user_tags", "corpus-\(base.vhost)", "impersonator"])
        try BrokerFixture.ctl(["set_permissions", "-p", base.vhost, "corpus-\(base.vhost)", ".*", ".*", ".*"])
        var publisher = base
        publisher.user = "corpus-\(base.vhost)"
        publisher.password = password

        let keys = CorpusKeys()
        let cases = try HostileCorpus.load(keys: keys)
        let f = Federation(urls: [base])
        var quiet = f.logger
        quiet.logLevel = .error  // ninety-two expected "dead letter" warnings would bury real failures
        let aggregator = Aggregator(store: try f.catalogue(), settings: f.aggregatorSettings, logger: quiet,
                                    provenance: keys.policy)
        let loop = RunningLoop(name: "aggregator") { aggregator.run(until: $0) }
        #expect(await eventually { aggregator.snapshot.connected })

        var messages: [WireMessage] = []
        for (i, c) in cases.enumerated() {
            let good = try change(seq: Int64(i + 1), id: "good-\(i + 1)")
            messages.append(WireMessage(routingKey: "35.innovation.upsert", properties: PublishProperties(
                messageID: "good-\(i + 1)", type: "upsert", appID: "t", timestamp: 0, userID: "hub-35",
                headers: [(SignatureHeaders.signature, keys.primary35.sign(good)), (SignatureHeaders.keyID, keys.primary35.keyID)]),
                body: good))
            let m = c.message
            var properties = PublishProperties(messageID: m.messageID ?? "", type: "upsert", appID: "t", timestamp: 0,
                                               userID: m.userID, headers: m.headers.map { ($0.key, $0.value) })
            properties.contentType = m.contentType
            messages.append(WireMessage(routingKey: m.routingKey, properties: properties, body: m.body))
        }
        try publishConfirmed(messages, url: publisher)

        let hostile = cases.filter { !$0.isAccepted }
        let store = try f.catalogue()
        let settled = await eventually(timeout: .seconds(40)) {
            (try? store.deadLetters(limit: 1000).count) == hostile.count
                && (try? store.list(hub: "35").count) == cases.count + cases.filter(\.isAccepted).count
        }
        let stillRunning = aggregator.snapshot.connected
        await loop.stop()
        #expect(settled)
        #expect(stillRunning, "the aggregator kept running")
        let deadLetters = try store.deadLetters(limit: 1000)
        #expect(deadLetters.map(\.reason).sorted() == hostile.map(\.expect).sorted())
        let byID = Dictionary(deadLetters.compactMap { d in d.messageID.map { ($0, d.reason) } }, uniquingKeysWith: { a, _ in a })
        for c in hostile {
            if let id = c.message.messageID, !id.isEmpty { #expect(byID[id] == c.expect, "case \(c.number) '\(c.name)'") }
        }
        for i in 1...cases.count {
            #expect(try store.entry(globalID: "35:good-\(i)") != nil, "good message \(i) arrived")
        }
        for c in cases where c.isAccepted {
            let entry = try #require(try store.entry(globalID: c.globalID), "case \(c.number) '\(c.name)' stored")
            let sent = try JSONSerialization.jsonObject(with: c.message.body) as! [String: Any]
            let innovation = sent["innovation"] as! [String: Any]
            #expect(entry.innovation.title == innovation["title"] as? String, "stored verbatim: case \(c.number)")
            #expect(entry.innovation.summary == innovation["summary"] as? String)
            #expect(entry.innovation.contact == innovation["contact"] as? String)
        }
        #expect(try f.queueDepth(WireNames.nationalDeadQueue) == UInt32(hostile.count), "the broker holds every refused message")
    }

    @Test("the trust store is reloaded on SIGHUP: a key added later is trusted, a bad key file keeps the old store")
    func trustStoreReloadsOnHangup() async throws {
        let base = try BrokerFixture.isolatedURL("trust")
        let dir = TempDir("trust")
        try FileManager.default.createDirectory(atPath: dir.file("trust"), withIntermediateDirectories: true)
        try "trust:\n  keys_dir: \(dir.file("trust"))\n  require_signatures: true\n"
            .write(toFile: dir.file("aggregator.yaml"), atomically: true, encoding: .utf8)
        let catalogue = dir.file("catalogue.sqlite")
        let aggregator = try ChildProcess(
            [try ChildProcess.jippnasBinary(), "aggregator", "run", "--config", dir.file("aggregator.yaml"), "--database", catalogue],
            environment: ["JIPPNAS_BROKER_URLS": "amqp://guest:guest@127.0.0.1:\(base.port)/\(base.vhost)"],
            outputPath: dir.file("aggregator.log"))
        #expect(await eventually { aggregator.output.contains("consuming") })
        let key = HubSigningKey.generate(province: "35")
        func signed(_ seq: Int64) throws -> WireMessage {
            let body = try change(seq: seq, id: "rotasi-\(seq)")
            return WireMessage(routingKey: "35.innovation.upsert", properties: PublishProperties(
                messageID: "rotasi-\(seq)", type: "upsert", appID: "t", timestamp: 0,
                headers: [(SignatureHeaders.signature, key.sign(body)), (SignatureHeaders.keyID, key.keyID)]), body: body)
        }
        try publishConfirmed([try signed(1)], url: base)
        #expect(await eventually { (try? CatalogueStore(path: catalogue).deadLetters().first?.reason) == "unknown_signing_key" })

        try key.trusted.fileText.write(toFile: dir.file("trust/35-new.pub"), atomically: true, encoding: .utf8)
        aggregator.signal(SIGHUP)
        #expect(await eventually { aggregator.output.contains("trusted_keys=35:1") })
        try publishConfirmed([try signed(2)], url: base)
        #expect(await eventually { (try? CatalogueStore(path: catalogue).entry(globalID: "35:rotasi-2")) != nil })

        try "type: ed25519-public\nprovince: 35\nkey: not-a-key\n".write(toFile: dir.file("trust/broken.pub"), atomically: true, encoding: .utf8)
        aggregator.signal(SIGHUP)
        #expect(await eventually { aggregator.output.contains("reload refused") })
        #expect(aggregator.output.contains("broken.pub: key is not a base64 Ed25519 public key"))
        try publishConfirmed([try signed(3)], url: base)
        #expect(await eventually { (try? CatalogueStore(path: catalogue).entry(globalID: "35:rotasi-3")) != nil },
                "the old trust store stays in force")
        aggregator.signal(SIGTERM)
        #expect(await aggregator.wait(timeout: .seconds(20)) == 0)
    }
}
