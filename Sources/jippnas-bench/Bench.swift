import ArgumentParser
import Foundation
import JippnasAMQP
import JippnasCore
import JippnasOps
import JippnasServices
import Logging

/// Measures the hub relay and the aggregator on a real broker next to raw rabbitmq-c and SQLite
/// programs doing the same job, several runs each, and prints one table (and, when asked, writes it to
/// docs/BENCHMARKS.md). It asserts nothing: figures are for people. `scripts/bench` builds and runs it.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jippnas-bench",
        abstract: "Figures for people, not assertions (use scripts/bench).",
        subcommands: [FederationBench.self, SearchBench.self, FeedBench.self], defaultSubcommand: FederationBench.self)
}

struct FederationBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "federation",
        abstract: "Throughput, latency and cost of the daemons next to the raw client.")

    @Option(help: "Broker URL of the default vhost; every scenario gets a vhost of its own beside it.") var broker: String
    @Option(help: "The rabbitmqctl command line for that broker, to make and remove each scenario's vhost.")
    var rabbitmqctl: String
    @Option(help: "Seconds a scenario may take before the run fails, saying what it saw.") var deadlineSeconds = 600
    @Option(help: "Messages per scenario.") var messages = 50_000
    @Option(help: "Runs of every scenario; the table shows the median, min and max.") var runs = 3
    @Option(help: "Confirm window of the relay and the raw publisher.") var window = 1000
    @Option(help: "Working directory for SQLite files and logs.") var work: String = NSTemporaryDirectory()
    @Option(help: "Directory holding raw_publish, raw_consume and raw_catalogue.") var raw: String
    @Option(help: "The release jippnas binary, for the operator-style runs.") var jippnas: String
    @Option(help: "Seconds of steady load for the end-to-end latency.") var latencySeconds = 30
    @Option(help: "Changes per second of that steady load.") var latencyRate = 1000
    @Option(help: "Innovations of the hub in the resync scenario.") var resyncRecords = 100_000
    @Option(help: "Write the report to this Markdown file.") var markdown: String?
    @Option(help: "Text placed in the report's header (machine, versions, command).") var header: String = ""
    @Option(parsing: .upToNextOption,
            help: "Run only the scenarios whose names contain one of these words (raw, relay, aggregator, mirror, process, resync, latency).")
    var only: [String] = []

    private func wanted(_ name: String) -> Bool { only.isEmpty || only.contains { name.contains($0) } }

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let dir = work + "/jippnas-bench-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if ProcessInfo.processInfo.environment["BENCH_KEEP"] == nil { try? FileManager.default.removeItem(atPath: dir) } }
        let workload = try Workload(count: messages, dir: dir)
        let vhosts = try ScenarioVhosts(broker: broker, rabbitmqctl: rabbitmqctl)
        var results = Results()
        for run in 1...runs {
            try await measure(run: run, workload: workload, dir: dir, vhosts: vhosts, logger: logger, into: &results)
        }
        let report = Report(results: results, messages: messages, runs: runs, header: header, resyncRecords: resyncRecords,
                            latencyRate: latencyRate)
        print(report.table)
        if let markdown { try report.markdown.write(toFile: markdown, atomically: true, encoding: .utf8) }
    }

    /// Every scenario on a vhost made for it and removed after it: it starts from truly empty queues, and
    /// what it leaves (a checkpoint, a duplicate, an epoch) reaches no later scenario.
    private func measure(run: Int, workload: Workload, dir: String, vhosts: ScenarioVhosts, logger: Logger,
                         into results: inout Results) async throws
    {
        func fresh(_ name: String, _ topology: NationalTopology) throws -> (Scenarios, String) {
            let (url, text, vhost) = try vhosts.make(run: run, name: name)
            let setup = try AMQPConnection(url: url)
            defer { setup.close() }
            try Topology.declareNationalSide(setup, topology: topology)
            return (Scenarios(url: url, brokerText: text, workload: workload, dir: dir, rawDir: raw, jippnas: jippnas,
                              window: window, logger: logger, deadline: .seconds(deadlineSeconds)), vhost)
        }
        func record(_ name: String, topology: NationalTopology = NationalTopology(),
                    _ body: (Scenarios) async throws -> Sample) async throws {
            guard wanted(name) else { return }
            let (scenarios, vhost) = try fresh(name, topology)
            defer { vhosts.remove(vhost) }
            let sample = try await body(scenarios)
            results.add(name, sample)
            let rate = String(format: "%.0f", Double(messages) / sample.seconds)
            FileHandle.standardError.write(Data("run \(run) \(name): \(rate) msg/s\n".utf8))
        }
        try await record(Names.rawPublish) { try $0.rawPublish() }
        try await record(Names.rawConsume) { _ = try $0.rawPublish(); return try $0.rawConsume() }
        try await record(Names.rawCatalogue) { try $0.rawCatalogue() }
        try await record(Names.rawPipeline) { try $0.rawPipeline() }
        try await record(Names.relay) { try await $0.relay(signed: false) }
        try await record(Names.relaySigned) { try await $0.relay(signed: true) }
        try await record(Names.aggregator) { try await $0.aggregator(signed: false) }
        try await record(Names.aggregatorSigned) { try await $0.aggregator(signed: true) }
        try await record(Names.aggregatorNoIndex) { try await $0.aggregator(signed: false, searchIndex: false) }
        let classic = NationalTopology(queueType: .classic, history: nil)
        try await record(Names.aggregatorClassic, topology: classic) { try await $0.aggregator(signed: false, topology: classic) }
        try await record(Names.mirror) { try await $0.mirrorRebuild() }
        try await record(Names.relayProcess) { try $0.relayProcess() }
        try await record(Names.aggregatorProcess) { try $0.aggregatorProcess() }
        if wanted("resync") {
            let (scenarios, vhost) = try fresh("resync", NationalTopology())
            defer { vhosts.remove(vhost) }
            let sample = try await scenarios.resync(records: resyncRecords)
            results.resyncs.append(sample.seconds)
            FileHandle.standardError.write(Data("run \(run) resync of \(resyncRecords): \(String(format: "%.1f", sample.seconds)) s\n".utf8))
        }
        if wanted("latency") {
            let (scenarios, vhost) = try fresh("latency", NationalTopology())
            defer { vhosts.remove(vhost) }
            let latency = try await scenarios.endToEndLatency(seconds: latencySeconds, rate: latencyRate)
            results.latencies.append(latency)
            FileHandle.standardError.write(Data("run \(run) latency: \(latency)\n".utf8))
        }
    }
}
