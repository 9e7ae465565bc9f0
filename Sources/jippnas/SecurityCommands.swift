import ArgumentParser
import Foundation
import JippnasCore
import JippnasOps
import JippnasTrust

struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Broker administration: users and permissions so that only a hub can speak for its province; queue types.",
        subcommands: [Provision.self, MigrateQueue.self, Uplink.self])

    struct Provision: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write RabbitMQ definitions (vhost, topology, per-hub users and permissions); --apply imports them.",
            discussion: """
                Creates user hub-<code> for every province marked jipp_hub=yes in the CSV (all of them with \
                --all-provinces) and the user 'aggregator'. A hub user may write only to jippnas.innovation and \
                jippnas.hub, only with routing keys beginning with its own code (topic permissions), and read only \
                its control queue; it configures nothing. Passwords are generated once per user into \
                <passwords-dir>/<user>.password (mode 0600) and reused on later runs, so adding a hub does not \
                change the others' passwords; they are printed only with --print-passwords. Run the daemons \
                against these definitions with broker.declare_topology: false. Exit codes: 0 written (and \
                applied); 64 bad input; 1 a file could not be written or rabbitmqctl failed.
                """)

        @Option(name: .long, help: "Provinces CSV (code,...,jipp_hub), for example seeds/provinces.csv.") var hubs: String
        @Flag(name: .long, help: "Every province in the CSV, not only those marked jipp_hub=yes.") var allProvinces = false
        @Option(name: .long, help: "Kabupaten/kota CSV (code,...,jipp_hub), for example seeds/regions.csv: a user per regional hub marked jipp_hub=yes, and its province's regional queue.")
        var regions: String?
        @Option(name: .long, help: "The vhost to create.") var vhost = "jippnas"
        @Option(name: .long, help: "Where to write the definitions (JSON, mode 0600: it holds password hashes).")
        var out = "jippnas-definitions.json"
        @Option(name: .long, help: "Directory of per-user password files (created 0700).") var passwordsDir = "jippnas-secrets"
        @Flag(name: .long, help: "Print 'user password' lines on standard output.") var printPasswords = false
        @Flag(name: .long, help: "Import the definitions into the running broker with rabbitmqctl import_definitions.")
        var apply = false
        @Option(name: .long, help: "The rabbitmqctl command for --apply, split on spaces (for example 'rabbitmqctl -n rabbit@host').")
        var rabbitmqctl = "rabbitmqctl"
        @Option(name: .long, help: "The OS account rabbitmqctl runs as (Debian's wrapper drops to it): it must read the definitions.")
        var brokerAccount = "rabbitmq"
        @Option(name: .long, help: "Type of jippnas.national and jippnas.national.dead: quorum or classic (as national.queue_type).")
        var queueType = "quorum"
        @Option(name: .long, help: "Deliveries without an ack before a quorum queue dead-letters a message (as national.delivery_limit).")
        var deliveryLimit = 20
        @Option(name: .long, help: "Retention of the history stream jippnas.history by age, for example 30D (as history.max_age).")
        var historyMaxAge = "30D"
        @Option(name: .long, help: "Retention of the history stream by size in bytes (as history.max_bytes).")
        var historyMaxBytes: Int64 = 20_000_000_000
        @Flag(name: .long, help: "No history stream.") var noHistory = false
        @Option(name: .long, help: "Retention of the national feed jippnas.catalogue.stream by age (as feed.max_age).")
        var feedMaxAge = "30D"
        @Flag(name: .long, help: "No national feed (hubs then cannot keep a mirror).") var noFeed = false

        func validate() throws {
            guard NationalQueueType(rawValue: queueType) != nil else { throw ValidationError("--queue-type must be quorum or classic") }
            guard HistoryRetention.isValidAge(historyMaxAge) else { throw ValidationError("--history-max-age must be like 30D, 12h or 1Y") }
            guard HistoryRetention.isValidAge(feedMaxAge) else { throw ValidationError("--feed-max-age must be like 30D, 12h or 1Y") }
            guard (1...10_000).contains(deliveryLimit) else { throw ValidationError("--delivery-limit must be 1 to 10000") }
        }

        var topology: NationalTopology {
            NationalTopology(queueType: NationalQueueType(rawValue: queueType) ?? .quorum, deliveryLimit: deliveryLimit,
                             history: noHistory ? nil : HistoryRetention(maxAge: historyMaxAge, maxBytes: historyMaxBytes),
                             feed: noFeed ? nil : HistoryRetention(maxAge: feedMaxAge))
        }

        /// The regional hubs of `--regions`, each under a provincial hub being provisioned.
        func regionalHubs(provinces: [String]) throws -> [String] {
            guard let regions else { return [] }
            guard let data = FileManager.default.contents(atPath: regions) else {
                printError("cannot read \(regions)")
                throw ExitCodes.usage
            }
            do {
                let codes = try ProvinceList.codes(csv: data, fileName: regions, onlyHubs: true, regions: true)
                for code in codes where !provinces.contains(HubCode.province(of: code)) {
                    printError("\(regions): \(code) is a regional hub of province \(HubCode.province(of: code)), which has no hub here: its hub relays it")
                    throw ExitCodes.usage
                }
                return codes
            } catch let error as ImportFileError {
                printError("\(error)")
                throw ExitCodes.usage
            }
        }

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: hubs) else {
                printError("cannot read \(hubs)")
                throw ExitCodes.usage
            }
            let provinces: [String]
            do {
                provinces = try ProvinceList.codes(csv: data, fileName: hubs, onlyHubs: !allProvinces)
            } catch {
                printError("\(error)")
                throw ExitCodes.usage
            }
            guard !provinces.isEmpty else {
                printError("\(hubs): no province is marked jipp_hub=yes (use --all-provinces for every row)")
                throw ExitCodes.usage
            }
            var provisioning = BrokerProvisioning(vhost: vhost, hubs: provinces, passwords: [:], topology: topology)
            provisioning.regionalHubs = try regionalHubs(provinces: provinces)
            var created: [String] = []
            do {
                try SecretFiles.makePrivateDirectory(passwordsDir)
                for user in provisioning.users {
                    let path = passwordsDir + "/" + user + ".password"
                    if let existing = try SecretFiles.read(path) {
                        provisioning.passwords[user] = existing
                    } else {
                        let password = BrokerProvisioning.generatePassword()
                        try SecretFiles.write(path, password + "\n")
                        provisioning.passwords[user] = password
                        created.append(user)
                    }
                }
                try SecretFiles.write(out, String(decoding: try provisioning.definitionsJSON(), as: UTF8.self) + "\n",
                                      replace: true)
            } catch {
                printError("\(error)")
                throw ExitCodes.failure
            }
            print("definitions written to \(out): vhost \(vhost), \(provinces.count) hub user(s)\(provisioning.regionalHubs.isEmpty ? "" : " and \(provisioning.regionalHubs.count) kabupaten/kota hub user(s)"), \(provisioning.users.prefix(while: { !$0.hasPrefix("hub-") }).map { "'\($0)'" }.joined(separator: " and ")); \(queueType) national queue\(noHistory ? "" : ", history stream")\(noFeed ? "" : ", national feed"); passwords in \(passwordsDir)/ (\(created.count) new)")
            if printPasswords {
                for user in provisioning.users { print("\(user) \(provisioning.passwords[user] ?? "")") }
            }
            if apply { try BrokerCommand.importDefinitions(out, rabbitmqctl: rabbitmqctl, brokerAccount: brokerAccount) }
        }
    }

    /// Imports a definitions file with `rabbitmqctl import_definitions`, through a copy the broker's OS
    /// account can read (the file itself is private).
    static func importDefinitions(_ path: String, rabbitmqctl: String, brokerAccount: String) throws {
        let command = rabbitmqctl.split(separator: " ").map(String.init) + ["import_definitions"]
        let outcome: Subprocess.Outcome
        do {
            outcome = try SecretFiles.withCopy(of: path, readableBy: brokerAccount) { copy in
                Subprocess.run(command + [copy])
            }
        } catch {
            printError("\(error)")
            throw ExitCodes.failure
        }
        guard outcome.status == 0 else {
            printError("\(command.joined(separator: " ")) failed (exit \(outcome.status)): \(outcome.output.trimmingWhitespace())")
            throw ExitCodes.failure
        }
        print("applied to the broker with \(command.joined(separator: " "))")
    }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Ed25519 signing keys: a hub signs what it publishes; the aggregator trusts its public key.",
        subcommands: [Generate.self])

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a key pair for a hub: <code>-<key id>.key (private, 0600) and .pub (public).",
            discussion: """
                Give the .key to the hub (signing.key_file, or /etc/jippnas/credentials/hub/signing-key for the \
                packaged unit: --key-file writes it there directly) and copy the .pub \
                into the aggregator's trust.keys_dir, then reload it (SIGHUP). To rotate, add the new .pub, switch \
                the hub to the new .key, and remove the old .pub once the hub's outbox has drained: both keys are \
                valid meanwhile. Exit codes: 0 written; 64 bad province; 1 files could not be written.
                """)
        @Option(name: .long, help: "The hub's province code, or a kabupaten/kota hub's PP.KK.") var hub: String
        @Option(name: .long, help: "Directory to write the two files into.") var out = "."
        @Option(name: .long, help: "Write the private key to this file instead of the --out directory; an existing file is never replaced.")
        var keyFile: String?

        func validate() throws {
            guard HubCode.isValid(hub) else { throw ValidationError("\(hub) is not a province or kabupaten/kota code") }
        }

        func run() async throws {
            let key = HubSigningKey.generate(province: hub)
            let base = out + "/" + hub + "-" + key.keyID
            let privatePath = keyFile ?? base + ".key"
            if keyFile != nil && FileManager.default.fileExists(atPath: privatePath) {
                // A hub's key is its identity: replacing it by accident would orphan the trusted .pub.
                printError("\(privatePath) exists; remove it first to replace the hub's key")
                throw ExitCodes.failure
            }
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                // The public half first: a private key without its .pub could never be trusted, and
                // --key-file would then refuse to replace it.
                try SecretFiles.write(base + ".pub", key.trusted.fileText, mode: 0o644)
                try SecretFiles.write(privatePath, key.fileText)
            } catch {
                printError("\(error)")
                throw ExitCodes.failure
            }
            print("hub \(hub) key \(key.keyID): private \(privatePath) (0600), public \(base).pub")
        }
    }
}

/// Files holding secrets: created with restrictive modes from the start, never widened.
enum SecretFiles {
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    static func makePrivateDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
    }

    /// The trimmed content of an existing secret file, or nil when there is none.
    static func read(_ path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), !text.trimmingWhitespace().isEmpty else {
            throw Problem(description: "\(path) exists but holds no password; remove it to generate a new one")
        }
        return text.trimmingWhitespace()
    }

    /// Runs `body` with a private copy of `path` that OS user `account` can read (Debian's rabbitmqctl
    /// drops to the rabbitmq user before reading its file argument, and cannot read stdin in 3.10). The copy
    /// lives in a fresh 0700 directory owned by that user and is removed afterwards.
    static func withCopy<R>(of path: String, readableBy account: String, _ body: (String) -> R) throws -> R {
        var template = Array("/tmp/jippnas-definitions.XXXXXX".utf8CString)
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }).map({ String(cString: $0) }) else {
            throw Problem(description: "cannot create a temporary directory")
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let copy = dir + "/definitions.json"
        guard let data = FileManager.default.contents(atPath: path) else { throw Problem(description: "cannot read \(path)") }
        try write(copy, String(decoding: data, as: UTF8.self))
        if getuid() == 0, let entry = getpwnam(account) {
            chown(dir, entry.pointee.pw_uid, entry.pointee.pw_gid)
            chown(copy, entry.pointee.pw_uid, entry.pointee.pw_gid)
        }
        return body(copy)
    }

    /// Writes `text` to a new file created with `mode` (the umask cannot widen it); with `replace`, an
    /// existing file is replaced atomically.
    static func write(_ path: String, _ text: String, mode: mode_t = 0o600, replace: Bool = false) throws {
        let target = replace ? path + ".tmp-\(getpid())" : path
        let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Problem(description: "cannot create \(target): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        fchmod(fd, mode)
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0 else { throw Problem(description: "cannot write \(target)") }
        if replace, rename(target, path) != 0 {
            throw Problem(description: "cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }
}
