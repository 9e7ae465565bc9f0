import Foundation
import JippnasCore
import JippnasOps
import JippnasStore
import JippnasTestSupport
import Testing

/// What an operator feeds the `jippnas` binary: hostile import files, secrets in config, key files.
/// No broker is needed.
@Suite("Operator input through the real binary")
struct OperatorInputTests {
    let binary: String
    let dir = TempDir("operator")

    init() throws { binary = try ChildProcess.jippnasBinary() }

    func jippnas(_ arguments: [String], environment: [String: String] = [:]) throws -> Subprocess.Outcome {
        guard environment.isEmpty else {
            return Subprocess.run(["env"] + environment.map { "\($0.key)=\($0.value)" } + [binary] + arguments)
        }
        return Subprocess.run([binary] + arguments)
    }

    @Test("a hostile import file is refused whole with a reason per row; --skip-invalid stores only the good rows, verbatim")
    func hostileImportFiles() throws {
        let database = dir.file("hub.sqlite")
        let ndjson = repositoryRoot + "/Tests/Corpus/import/hostile.ndjson"
        let csv = repositoryRoot + "/Tests/Corpus/import/hostile.csv"
        let refused = try jippnas(["hub", "import", "--province", "35", "--database", database, ndjson, csv])
        #expect(refused.status == 65)
        for expected in ["hostile.ndjson: line 2: invalid_field:id", "line 3: duplicate_key:title", "line 4: too_deep",
                         "line 5: invalid_field:title", "line 6: invalid_field:title", "line 7: region_outside_province",
                         "line 8: invalid_field:revision", "line 10: malformed_json", "line 11: malformed_row",
                         "line 14: invalid_field:url", "hostile.csv: line 4: invalid_field:title",
                         "hostile.csv: line 7: malformed_row", "nothing imported"] {
            #expect(refused.output.contains(expected), "missing '\(expected)' in:\n\(refused.output)")
        }
        #expect(try HubStore(path: database, province: "35").records().isEmpty, "nothing partial was committed")

        let skipped = try jippnas(["hub", "import", "--province", "35", "--database", database, "--skip-invalid", ndjson])
        #expect(skipped.status == 65)
        #expect(skipped.output.contains("inserted=3"), "\(skipped.output)")
        let records = try HubStore(path: database, province: "35").records()
        #expect(Set(records.map(\.innovation.id)) == ["aman-1", "aman-2", "angka"])
        let sqlLooking = try #require(records.first { $0.innovation.id == "aman-2" })
        #expect(sqlLooking.innovation.title == "Robert'); DROP TABLE innovation;--")
        #expect(sqlLooking.innovation.summary == "=HYPERLINK(\"http://evil\")\n%s%n")
    }

    @Test("read commands on a missing database say so, exit 1 and create nothing; existing stores open read-only")
    func readCommandsNeverCreate() throws {
        let typo = dir.file("typo.sqlite")
        let commands: [[String]] = [
            ["hub", "status", "--province", "35", "--database", typo],
            ["status", "--role", "hub", "--province", "35", "--database", typo],
            ["status", "--role", "aggregator", "--database", typo],
            ["catalogue", "list", "--database", typo], ["catalogue", "show", "--database", typo, "35:x"],
            ["catalogue", "stats", "--database", typo], ["catalogue", "dead-letters", "--database", typo],
        ]
        for command in commands {
            let outcome = try jippnas(command)
            #expect(outcome.status == 1, "\(command): \(outcome.output)")
            #expect(outcome.output.contains("no store at \(typo)"), "\(command): \(outcome.output)")
            let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("typo") }
            #expect(left.isEmpty, "\(command) left \(left)")
        }
        // An existing store made read-only on disk is still readable: nothing is written to it.
        let hub = dir.file("hub.sqlite")
        _ = try HubStore(path: hub, province: "35").importContents(SampleData.contents(province: "35", count: 2))
        chmod(hub, 0o444)
        let status = try jippnas(["hub", "status", "--province", "35", "--database", hub])
        #expect(status.status == 2 && status.output.contains("records=2"), "\(status.output)")
        let wrongProvince = try jippnas(["hub", "status", "--province", "33", "--database", hub])
        #expect(wrongProvince.status == 1 && wrongProvince.output.contains("belongs to province 35"), "\(wrongProvince.output)")
        // A bare file name is a store in the current directory.
        let seeds = repositoryRoot + "/seeds/hubs/35-jawa-timur.csv"
        let bare = Subprocess.run(["/bin/sh", "-c", "cd \"$0\" && \"$1\" hub import --province 35 --database bare.sqlite \"$2\"",
                                   dir.path, binary, seeds])
        #expect(bare.status == 0 && FileManager.default.fileExists(atPath: dir.file("bare.sqlite")), "\(bare.output)")
    }

    @Test("a config file holding a broker password is refused while others can read it")
    func secretsInWorldReadableFilesAreRefused() throws {
        let config = dir.file("hub.yaml")
        try "province: \"35\"\nbroker:\n  urls: [\"amqp://hub-35:s3cret-pw@broker.example:5671/jippnas\"]\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        chmod(config, 0o644)
        let refused = try jippnas(["hub", "status", "--config", config, "--database", dir.file("h.sqlite")])
        #expect(refused.status == 64)
        #expect(refused.output.contains("readable by every user (mode 644)"), "\(refused.output)")
        #expect(!refused.output.contains("s3cret-pw"))
        chmod(config, 0o600)
        _ = try HubStore(path: dir.file("h.sqlite"), province: "35")
        #expect(try jippnas(["hub", "status", "--config", config, "--database", dir.file("h.sqlite")]).status == 0)

        // The guest default is no secret; a password file others can read is.
        try "province: \"35\"\n".write(toFile: dir.file("plain.yaml"), atomically: true, encoding: .utf8)
        chmod(dir.file("plain.yaml"), 0o644)
        try "s3cret-pw\n".write(toFile: dir.file("pw"), atomically: true, encoding: .utf8)
        chmod(dir.file("pw"), 0o644)
        let pwRefused = try jippnas(["hub", "status", "--config", dir.file("plain.yaml"), "--database", dir.file("h.sqlite")],
                                    environment: ["JIPPNAS_BROKER_PASSWORD_FILE": dir.file("pw")])
        #expect(pwRefused.status == 64 && pwRefused.output.contains("broker.password_file"), "\(pwRefused.output)")
        // From systemd's credentials directory, as LoadCredential= leaves it.
        try FileManager.default.createDirectory(atPath: dir.file("creds"), withIntermediateDirectories: true)
        try "s3cret-pw\n".write(toFile: dir.file("creds/broker-password"), atomically: true, encoding: .utf8)
        chmod(dir.file("creds/broker-password"), 0o400)
        #expect(try jippnas(["hub", "status", "--config", dir.file("plain.yaml"), "--database", dir.file("h.sqlite")],
                            environment: ["CREDENTIALS_DIRECTORY": dir.file("creds")]).status == 0)
    }

    @Test("a hub refuses a signing key of another province or one others can read")
    func signingKeyChecks() throws {
        let generated = try jippnas(["keys", "generate", "--hub", "33", "--out", dir.file("keys")])
        #expect(generated.status == 0, "\(generated.output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.file("keys"))
        let key = dir.file("keys/" + (try #require(files.first { $0.hasSuffix(".key") })))
        let mode = (try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int) ?? 0
        #expect(mode == 0o600)
        let wrongProvince = try jippnas(["hub", "run", "--province", "35", "--database", dir.file("h.sqlite")],
                                        environment: ["JIPPNAS_SIGNING_KEY_FILE": key])
        #expect(wrongProvince.status == 64 && wrongProvince.output.contains("is a key of province 33, not 35"),
                "\(wrongProvince.output)")
        chmod(key, 0o644)
        let readable = try jippnas(["hub", "run", "--province", "33", "--database", dir.file("h.sqlite")],
                                   environment: ["JIPPNAS_SIGNING_KEY_FILE": key])
        #expect(readable.status == 64 && readable.output.contains("chmod 600"), "\(readable.output)")
    }

    @Test("plain AMQP to another machine is warned about at start; loopback and amqps are not")
    func plainRemoteBrokerIsWarnedAbout() async throws {
        // Not a loopback name, yet a connect to 0.0.0.0 stays on this host (port 1 refuses at once) and no
        // name is looked up: tests send no traffic off the machine.
        let host = "0.0.0.0"
        let daemon = try ChildProcess(
            [binary, "hub", "run", "--province", "35", "--database", dir.file("w.sqlite"),
             "--broker", "amqp://guest:guest@\(host):1/", "--broker", "amqp://guest:guest@127.0.0.1:1/"],
            outputPath: dir.file("w.log"))
        #expect(await eventually { daemon.output.contains("broker connection is not encrypted") })
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(20)) == 0)
        let warnings = daemon.output.split(separator: "\n").filter { $0.contains("not encrypted") }
        #expect(warnings.count == 1 && warnings[0].contains("@\(host):1"), "\(daemon.output)")
    }

    @Test("queue type, delivery limit, retention and the stream source come from config; bad values name their key")
    func scaleOutSettings() async throws {
        func load(_ yaml: String) async throws -> AggregatorSettings {
            let path = dir.file("scale-\(UUID().uuidString).yaml")
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            return try SettingsLoader.aggregator(await SettingsLoader.reader(role: "aggregator", file: path, overrides: [:]))
        }
        let defaults = try await load("log:\n  level: info\n")
        #expect(defaults.topology == NationalTopology() && defaults.source == .queue)
        let set = try await load("""
            national:
              queue_type: classic
              delivery_limit: 5
            history:
              max_age: 7D
              max_bytes: 5000000000
            consumer:
              source: stream
              stream_start: "2026-11-30T00:00:00Z"
            """)
        #expect(set.topology.queueType == .classic && set.topology.deliveryLimit == 5)
        #expect(set.topology.history == HistoryRetention(maxAge: "7D", maxBytes: 5_000_000_000))
        #expect(set.source == .stream(start: .timestamp(1_795_996_800)))
        for (yaml, key) in [("national:\n  queue_type: mirrored\n", "national.queue_type"),
                            ("history:\n  max_age: 30 days\n", "history.max_age"),
                            ("consumer:\n  source: stream\n  stream_start: soon\n", "consumer.stream_start"),
                            ("consumer:\n  source: stream\nhistory:\n  enabled: false\n", "consumer.source")] {
            await #expect { _ = try await load(yaml) } throws: { ($0 as? ConfigError)?.key == key }
        }
    }

    @Test("under systemd each role reads its own credentials directory; the plain names still work")
    func credentialsPerRole() async throws {
        let creds = dir.file("creds")
        try FileManager.default.createDirectory(atPath: creds, withIntermediateDirectories: true)
        for (name, text) in [("hub_broker-password", "hub-pw"), ("aggregator_broker-password", "agg-pw"),
                             ("broker-password", "plain-pw")] {
            try text.write(toFile: creds + "/" + name, atomically: true, encoding: .utf8)
            chmod(creds + "/" + name, 0o400)
        }
        let environment = ["CREDENTIALS_DIRECTORY": creds]
        let config = dir.file("roles.yaml")
        try "log:\n  level: info\n".write(toFile: config, atomically: true, encoding: .utf8)
        let hub = try SettingsLoader.hub(await SettingsLoader.reader(role: "hub", file: config, overrides: ["province": .string("35")],
                                                                     environment: environment))
        let aggregator = try SettingsLoader.aggregator(await SettingsLoader.reader(role: "aggregator", file: config, overrides: [:],
                                                                                   environment: environment))
        #expect(hub.broker.urls.first?.password == "hub-pw")
        #expect(aggregator.broker.urls.first?.password == "agg-pw")
        try FileManager.default.removeItem(atPath: creds + "/hub_broker-password")
        let plain = try SettingsLoader.hub(await SettingsLoader.reader(role: "hub", file: config, overrides: ["province": .string("35")],
                                                                       environment: environment))
        #expect(plain.broker.urls.first?.password == "plain-pw")
        // A password file the operator names in the config wins over the credential.
        try "yaml-pw".write(toFile: dir.file("yaml-pw"), atomically: true, encoding: .utf8)
        chmod(dir.file("yaml-pw"), 0o400)
        let named = dir.file("named.yaml")
        try "broker:\n  password_file: \(dir.file("yaml-pw"))\n".write(toFile: named, atomically: true, encoding: .utf8)
        let fromConfig = try SettingsLoader.hub(await SettingsLoader.reader(role: "hub", file: named, overrides: ["province": .string("35")],
                                                                            environment: environment))
        #expect(fromConfig.broker.urls.first?.password == "yaml-pw")
        #expect(SettingsLoader.credentialNames(role: "hub", name: "signing-key") == ["hub_signing-key", "signing-key"])
    }

    @Test("invalid YAML is reported in one line with its position, not with the file's text")
    func invalidYAMLIsOneLine() async throws {
        let config = dir.file("broken.yaml")
        try "province: \"35\"\nrelay:\n  batch_size: [unclosed\nlog:\n  level: info\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let outcome = try jippnas(["hub", "status", "--config", config, "--database", dir.file("y.sqlite")])
        #expect(outcome.status == 64)
        let lines = outcome.output.split(separator: "\n")
        #expect(lines.count == 1, "\(outcome.output)")
        #expect(outcome.output.contains("is not valid YAML: 4:4: error: parser:") && outcome.output.contains("did not find expected"), "\(outcome.output)")
        #expect(!outcome.output.contains("level: info"), "the file's text was echoed: \(outcome.output)")
    }

    @Test("keys generate --key-file writes the private key where the unit loads it, and never replaces one")
    func keyFileIsNeverReplaced() throws {
        let keyFile = dir.file("credentials/hub/signing-key")
        try FileManager.default.createDirectory(atPath: dir.file("credentials/hub"), withIntermediateDirectories: true)
        let first = try jippnas(["keys", "generate", "--hub", "35", "--key-file", keyFile, "--out", dir.file("pub")])
        #expect(first.status == 0 && first.output.contains("private \(keyFile) (0600)"), "\(first.output)")
        let before = try String(contentsOfFile: keyFile, encoding: .utf8)
        let second = try jippnas(["keys", "generate", "--hub", "35", "--key-file", keyFile, "--out", dir.file("pub")])
        #expect(second.status == 1 && second.output.contains("exists"), "\(second.output)")
        #expect(try String(contentsOfFile: keyFile, encoding: .utf8) == before)
        let pubs = try FileManager.default.contentsOfDirectory(atPath: dir.file("pub")).filter { $0.hasSuffix(".pub") }
        #expect(pubs.count == 1)
    }

    @Test("a hub without a signing key runs and names the file to install")
    func missingSigningKeyIsNamed() async throws {
        let daemon = try ChildProcess(
            [binary, "hub", "run", "--province", "35", "--database", dir.file("k.sqlite"),
             "--broker", "amqp://guest:guest@127.0.0.1:1/"],
            outputPath: dir.file("k.log"))
        #expect(await eventually { daemon.output.contains("no signing key") })
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(20)) == 0)
        #expect(daemon.output.contains("/etc/jippnas/credentials/hub/signing-key"), "\(daemon.output)")
    }
}
