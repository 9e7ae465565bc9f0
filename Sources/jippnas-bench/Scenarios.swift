import Foundation
import GRDB
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasServices
import JippnasStore
import JippnasTrust
import Logging

/// One measurement: how long a scenario took, and for a daemon run as a process what it cost.
struct Sample: Sendable {
    var seconds: Double
    var peakRSSKiB: Int?
    var cpuSeconds: Double?
}

/// The scenarios of one run, on a vhost that starts with empty queues.
struct Scenarios {
    let url: BrokerURL
    /// The URL as given, password included, for child processes (passed in their environment).
    let brokerText: String
    let workload: Workload
    let dir: String
    let rawDir: String
    let jippnas: String
    let window: Int
    let logger: Logger
    /// How long a scenario may take before it fails, saying what it saw.
    let deadline: Duration

    var count: Int { workload.count }
    var brokerSettings: BrokerSettings { BrokerSettings(urls: [url], heartbeat: 30) }

    /// (a) rabbitmq-c alone publishing hub 35's bodies with confirms.
    func rawPublish() throws -> Sample {
        try raw("raw_publish", [workload.oneHubFile, "\(count)", "\(window)", "35.innovation.upsert"])
    }

    /// (b) rabbitmq-c alone consuming and acknowledging what is queued.
    func rawConsume() throws -> Sample { try raw("raw_consume", [WireNames.nationalQueue, "\(count)"]) }

    /// (c) rabbitmq-c and SQLite alone consuming three hubs' bodies into a catalogue of our schema.
    func rawCatalogue() throws -> Sample {
        try Workload.fill(workload.threeHubs, url: url, signed: false)
        let path = dir + "/raw-catalogue-\(UUID().uuidString.prefix(6)).sqlite"
        _ = try CatalogueStore(path: path)
        return try raw("raw_catalogue", [WireNames.nationalQueue, "\(count)", path])
    }

    /// (d) (c) consuming while (a) publishes: both raw programs share the machine, as hub and aggregator do
    /// in the resync scenario. The figure is (c)'s, from its first delivery to its last commit.
    func rawPipeline() throws -> Sample {
        let path = dir + "/raw-pipeline-\(UUID().uuidString.prefix(6)).sqlite"
        _ = try CatalogueStore(path: path)
        let connection = [url.host, "\(url.port)", url.vhost, url.user, url.password]
        let consumer = Process()
        consumer.executableURL = URL(fileURLWithPath: rawDir + "/raw_catalogue")
        consumer.arguments = connection + [WireNames.nationalQueue, "\(count)", path]
        let output = Pipe()
        consumer.standardOutput = output
        try consumer.run()
        _ = try rawPublish()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        consumer.waitUntilExit()
        guard consumer.terminationStatus == 0,
              let seconds = text.split(separator: " ").last.flatMap({ Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        else { throw BenchError("raw_catalogue in the pipeline exited \(consumer.terminationStatus): \(text)") }
        return Sample(seconds: seconds)
    }

    /// The hub relay in this process: a full outbox until every row is confirmed and marked.
    func relay(signed: Bool) async throws -> Sample {
        let settings = HubSettings(province: "35", database: dir + "/relay-\(UUID().uuidString.prefix(6)).sqlite",
                                   broker: brokerSettings, confirmWindow: window)
        let store = try HubStore(path: settings.database, province: "35")
        _ = try store.importContents(Workload.contents(province: "35", count: count))
        let relay = HubRelay(store: store, settings: settings, logger: logger, signer: signed ? workload.keys["35"] : nil)
        return try await timed("hub relay", relay.service.run, until: { relay.snapshot.confirmed >= count },
                               seen: { "\(relay.snapshot)" })
    }

    /// The aggregator in this process: three hubs' messages queued until all are committed.
    /// `searchIndex: false` drops the triggers that keep the full-text index, to measure what it costs.
    func aggregator(signed: Bool, searchIndex: Bool = true, topology: NationalTopology = NationalTopology()) async throws
        -> Sample
    {
        try Workload.fill(workload.threeHubs, url: url, signed: signed)
        var settings = AggregatorSettings(database: dir + "/catalogue-\(UUID().uuidString.prefix(6)).sqlite",
                                          broker: brokerSettings)
        settings.topology = topology
        if !searchIndex {
            _ = try CatalogueStore(path: settings.database)
            try await DatabaseQueue(path: settings.database).write { db in
                try db.execute(sql: "DROP TRIGGER innovation_search_insert; DROP TRIGGER innovation_search_update; DROP TRIGGER innovation_search_delete")
            }
        }
        let policy = signed
            ? ProvenancePolicy(trust: TrustStore(directory: "bench", keys: workload.keys.values.map(\.trusted)),
                               requireSignatures: true, requireUserID: false)
            : ProvenancePolicy.open
        let aggregator = Aggregator(store: try CatalogueStore(path: settings.database), settings: settings, logger: logger,
                                    provenance: policy)
        return try await timed("aggregator drain", aggregator.service.run, until: { aggregator.snapshot.applied >= count },
                               seen: { "\(aggregator.snapshot)" })
    }

    /// A mirror building its catalogue from the history stream: the three hubs' messages in a stream of
    /// their own (what the queue got is emptied), read from the first until every one is committed.
    func mirrorRebuild() async throws -> Sample {
        let setup = try AMQPConnection(url: url)
        try setup.deleteQueue(WireNames.historyStream, ifEmpty: false)
        try Topology.declareHistory(setup, topology: NationalTopology())
        setup.close()
        try Workload.fill(workload.threeHubs, url: url, signed: false)
        _ = try rawConsume()
        var settings = AggregatorSettings(database: dir + "/mirror-\(UUID().uuidString.prefix(6)).sqlite", broker: brokerSettings)
        settings.source = .stream(start: .first)
        let mirror = Aggregator(store: try CatalogueStore(path: settings.database), settings: settings, logger: logger)
        return try await timed("mirror rebuild", mirror.service.run, until: { mirror.snapshot.applied >= count },
                               seen: { "\(mirror.snapshot)" })
    }

    /// Runs a raw baseline binary, which prints "<count> <seconds>".
    func raw(_ program: String, _ arguments: [String]) throws -> Sample {
        let connection = [url.host, "\(url.port)", url.vhost, url.user, url.password]
        let output = try Child.run(rawDir + "/" + program, connection + arguments)
        guard let seconds = output.split(separator: " ").last.flatMap({ Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        else { throw BenchError("\(program) printed \(output)") }
        return Sample(seconds: seconds)
    }

    /// Runs a service until `done` holds, then cancels it. Fails, with what `seen` reports, when the service
    /// ends first or the deadline passes.
    func timed(_ what: String, _ body: @escaping @Sendable () async throws -> Void, until done: @escaping @Sendable () -> Bool,
               seen: @escaping @Sendable () -> String) async throws -> Sample
    {
        let start = ContinuousClock.now
        let ended = Ended()
        let task = Task {
            do { try await body() } catch { ended.set("\(error)") }
            ended.set("the service returned")
        }
        var failure: BenchError?
        while !done() {
            if let why = ended.value { failure = BenchError("\(what): \(why) before it finished; saw \(seen())"); break }
            if ContinuousClock.now - start > deadline {
                failure = BenchError("\(what): not finished after \(deadline); saw \(seen())")
                break
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let elapsed = ContinuousClock.now - start
        task.cancel()
        await task.value
        if let failure { throw failure }
        return Sample(seconds: elapsed.seconds)
    }

    /// Polls `condition` (blocking this thread) until it holds; fails with `failure` after the deadline.
    func waitUntil(_ failure: @autoclosure () -> String, _ condition: () throws -> Bool) throws {
        let start = ContinuousClock.now
        while try !condition() {
            if ContinuousClock.now - start > deadline { throw BenchError("\(failure()) after \(deadline)") }
            Thread.sleep(forTimeInterval: 0.005)
        }
    }

    /// Polls `condition` until it holds, sleeping between polls; fails with `failure` after the deadline.
    func waitUntil(_ failure: @autoclosure () -> String, _ condition: () throws -> Bool) async throws {
        let start = ContinuousClock.now
        while try !condition() {
            if ContinuousClock.now - start > deadline { throw BenchError("\(failure()) after \(deadline)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Why a service ended, when it ended on its own.
private final class Ended: @unchecked Sendable {
    private let lock = NSLock()
    private var reason: String?
    var value: String? { lock.withLock { reason } }
    func set(_ text: String) { lock.withLock { if reason == nil { reason = text } } }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
