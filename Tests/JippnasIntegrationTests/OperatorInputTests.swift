import Foundation
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
        let daemon = try ChildProcess(
            [binary, "hub", "run", "--province", "35", "--database", dir.file("w.sqlite"),
             "--broker", "amqp://guest:guest@192.0.2.1:5672/", "--broker", "amqp://guest:guest@127.0.0.1:1/"],
            outputPath: dir.file("w.log"))
        #expect(await eventually { daemon.output.contains("broker connection is not encrypted") })
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(20)) == 0)
        let warnings = daemon.output.split(separator: "\n").filter { $0.contains("not encrypted") }
        #expect(warnings.count == 1 && warnings[0].contains("192.0.2.1"), "\(daemon.output)")
    }
}
