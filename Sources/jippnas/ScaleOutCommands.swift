import ArgumentParser
import Configuration
import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore
import JippnasTrust
import Logging

extension BrokerCommand {
    struct MigrateQueue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate-queue",
            abstract: "Give jippnas.national (and jippnas.national.dead) another queue type without losing a message.",
            discussion: """
                RabbitMQ cannot change a queue's type, so each queue is moved into a temporary queue of the new \
                type and back into a new queue under its own name; every message is acknowledged on the old queue \
                only after the new one confirmed it, and the old queue is deleted only when empty. Hubs may keep \
                publishing; the aggregator must be stopped (a consumer on the queue makes this refuse). The broker \
                user needs the impersonator tag, since moved messages keep their user-id. Safe to run again after a \
                failure. Reads the first of broker.urls and national.* from the aggregator's config (--broker and \
                --password-file name an administrator instead). Exit codes: 0 migrated (or \
                already of that type); 64 bad configuration; 1 refused or failed (nothing is lost: run it again).
                """)
        @OptionGroup var common: ConfigOptions
        @Option(name: .long, help: "quorum or classic (default: the config's national.queue_type, quorum).")
        var to: String?
        @Option(name: .long, help: "File holding the password of the --broker user (an administrator with the impersonator tag); replaces the config's.")
        var passwordFile: String?

        func run() async throws {
            var extra: [String: ConfigContent] = [:]
            if let to { extra["national.queue_type"] = .string(to) }
            var settings = try await loadSettings(role: "aggregator", options: common, extra: extra, SettingsLoader.aggregator)
            if let passwordFile {
                guard let password = try SecretFiles.read(passwordFile)?.trimmingWhitespace(), !password.isEmpty else {
                    printError("cannot read a password from \(passwordFile)")
                    throw ExitCodes.usage
                }
                settings.broker.urls = settings.broker.urls.map { url in
                    var url = url
                    url.password = password
                    return url
                }
            }
            Logs.bootstrap(level: settings.logLevel, format: settings.logFormat)
            var logger = Logger(label: "jippnas.broker")
            logger[metadataKey: "role"] = "migrate-queue"
            do {
                let reports = try QueueMigration(broker: settings.broker, topology: settings.topology, logger: logger).run()
                for report in reports {
                    print(report.migrated
                          ? "\(report.queue): now \(settings.topology.queueType.rawValue); \(report.movedOut) message(s) moved out, \(report.movedBack) moved back"
                          : "\(report.queue): already \(settings.topology.queueType.rawValue)")
                }
            } catch {
                printError("\(error)")
                throw ExitCodes.failure
            }
        }
    }
}

extension CatalogueCommand {
    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two catalogues record by record (a primary and its mirror).",
            discussion: """
                Compares every record's content, revision, hub epoch and withdrawal, and the revisions in \
                history; not local facts such as when a message was received. Reads both in chunks, so it may run \
                beside the aggregators. Exit codes: 0 identical; 1 different (the differences are printed); 64 a \
                catalogue cannot be opened.
                """)
        @Argument(help: "The first catalogue (SQLite file).") var first: String
        @Argument(help: "The second catalogue.") var second: String
        @Option(name: .long, help: "Most differences listed per kind.") var limit = 20
        @Flag(name: .long, help: "Print the result as JSON.") var json = false

        struct Shown: Encodable {
            var identical: Bool
            var recordsFirst, recordsSecond, onlyInFirst, onlyInSecond, differing, historyOnlyInFirst, historyOnlyInSecond: Int
            var examples: [String]
        }

        func run() async throws {
            let diff: CatalogueDiff
            do {
                let a = try CatalogueStore(path: first, access: .readOnly)
                let b = try CatalogueStore(path: second, access: .readOnly)
                diff = try CatalogueDiff.compare(a, b, limit: limit)
            } catch {
                printError("\(error)")
                throw ExitCodes.usage
            }
            let examples = diff.onlyInA.map { "only in \(first): \($0)" } + diff.onlyInB.map { "only in \(second): \($0)" }
                + diff.differing.map { "\($0.globalID) differs in \($0.columns.joined(separator: ", "))" }
            if json {
                try printJSON(Shown(identical: diff.isEmpty, recordsFirst: diff.recordsA, recordsSecond: diff.recordsB,
                                    onlyInFirst: diff.onlyInACount, onlyInSecond: diff.onlyInBCount, differing: diff.differingCount,
                                    historyOnlyInFirst: diff.historyOnlyInA, historyOnlyInSecond: diff.historyOnlyInB,
                                    examples: examples))
            } else {
                examples.forEach { print($0) }
                print(diff.isEmpty
                      ? "identical: \(diff.recordsA) records"
                      : "different: \(diff.recordsA) and \(diff.recordsB) records; \(diff.onlyInACount) only in the first, \(diff.onlyInBCount) only in the second, \(diff.differingCount) differ; history revisions only in one: \(diff.historyOnlyInA) and \(diff.historyOnlyInB)")
            }
            if !diff.isEmpty { throw ExitCodes.failure }
        }
    }
}

extension BrokerCommand {
    struct Uplink: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the definitions of a hub's own RabbitMQ node, which forwards to the national broker by shovel.",
            discussion: """
                For hubs on unreliable links: the hub daemon publishes to a node on its own machine, and the \
                shovel jippnas-uplink forwards every message to the national broker with ack-mode on-confirm, as \
                the hub's national user, leaving exchange, routing key, properties and headers unchanged, so the \
                national side checks user-id, topic permissions and signatures as for a hub connected directly. \
                The shovel jippnas-control brings resync requests back to the local control queue. The node needs \
                the rabbitmq_shovel plugin (deploy/rabbitmq/hub-node/). Run the hub daemon against it with \
                broker.declare_topology: false and the local password. Exit codes: 0 written (and applied); \
                64 bad input; 1 a file could not be written or rabbitmqctl failed.
                """)
        @Option(name: .long, help: "The hub's province code.") var province: String
        @Option(name: .long, help: "A national broker node, amqp(s)://hub-<code>@host:port/vhost; repeat for each node of a cluster.")
        var national: [String]
        @Option(name: .long, help: "File holding the hub's national password (from jippnas broker provision).")
        var nationalPasswordFile: String
        @Option(name: .long, help: "CA file the shovel verifies an amqps:// national broker with.") var nationalCAFile: String?
        @Option(name: .long, help: "File holding the local user's password; generated (0600) when missing.")
        var localPasswordFile = "jippnas-secrets/hub-local.password"
        @Option(name: .long, help: "Where to write the definitions (JSON, mode 0600: it holds the national password).")
        var out = "jippnas-hub-node.json"
        @Flag(name: .long, help: "Import the definitions into the hub's node with rabbitmqctl import_definitions.") var apply = false
        @Option(name: .long, help: "The rabbitmqctl command for --apply, split on spaces.") var rabbitmqctl = "rabbitmqctl"
        @Option(name: .long, help: "The OS account rabbitmqctl runs as: it must read the definitions.") var brokerAccount = "rabbitmq"

        func validate() throws {
            guard ProvinceRegistry.isProvinceCode(province) else { throw ValidationError("\(province) is not a province code") }
            guard !national.isEmpty else { throw ValidationError("--national: at least one national broker node") }
            if national.contains(where: { $0.hasPrefix("amqps://") }) && nationalCAFile == nil {
                throw ValidationError("--national-ca-file is required with amqps:// (the shovel verifies the national broker with it)")
            }
        }

        func run() async throws {
            do {
                guard let password = try SecretFiles.read(nationalPasswordFile)?.trimmingWhitespace(), !password.isEmpty else {
                    printError("cannot read \(nationalPasswordFile)")
                    throw ExitCodes.usage
                }
                let nodes = try national.map { text in
                    var url = try BrokerURL(parsing: text)
                    url.user = Provenance.hubUser(province: province)
                    url.password = password
                    return url
                }
                let local: String
                if let existing = try SecretFiles.read(localPasswordFile)?.trimmingWhitespace(), !existing.isEmpty {
                    local = existing
                } else {
                    local = BrokerProvisioning.generatePassword()
                    try SecretFiles.makePrivateDirectory((localPasswordFile as NSString).deletingLastPathComponent)
                    try SecretFiles.write(localPasswordFile, local + "\n")
                }
                let uplink = HubUplink(province: province, national: nodes, nationalCAFile: nationalCAFile, localPassword: local)
                try SecretFiles.write(out, String(decoding: try uplink.definitionsJSON(), as: UTF8.self) + "\n", replace: true)
                print("definitions written to \(out): local user \(Provenance.hubUser(province: province)) (password in \(localPasswordFile)), shovels jippnas-uplink and jippnas-control to \(nodes.map(\.description).joined(separator: ", "))")
            } catch let error as ExitCode {
                throw error
            } catch {
                printError("\(error)")
                throw ExitCodes.failure
            }
            if apply { try BrokerCommand.importDefinitions(out, rabbitmqctl: rabbitmqctl, brokerAccount: brokerAccount) }
        }
    }
}
