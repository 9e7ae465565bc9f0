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

    @Option(help: "Broker URL of an empty vhost per run: the vhost name gets -1, -2... appended.") var broker: String
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
        var results = Results()
        for run in 1...runs {
            let text = broker.hasSuffix("/") ? broker + "bench-\(run)" : broker + "-\(run)"
            let scenarios = Scenarios(url: try BrokerURL(parsing: text), brokerText: text, workload: workload, dir: dir,
                                      rawDir: raw, jippnas: jippnas, window: window, logger: logger)
            // Latency and resync on a vhost of their own: nothing left over from the throughput scenarios
            // (checkpoints, duplicates) reaches their aggregators.
            let quietText = text + "-quiet"
            let quiet = Scenarios(url: try BrokerURL(parsing: quietText), brokerText: quietText, workload: workload, dir: dir,
                                  rawDir: raw, jippnas: jippnas, window: window, logger: logger)
            // The pre-0.2 topology (a classic queue, no stream) on a vhost of its own, for comparison.
            let classicText = text + "-classic"
            let classic = Scenarios(url: try BrokerURL(parsing: classicText), brokerText: classicText, workload: workload,
                                    dir: dir, rawDir: raw, jippnas: jippnas, window: window, logger: logger)
            try await measure(scenarios, quiet: quiet, classic: classic, run: run, into: &results)
        }
        let report = Report(results: results, messages: messages, runs: runs, header: header, resyncRecords: resyncRecords,
                            latencyRate: latencyRate)
        print(report.table)
        if let markdown { try report.markdown.write(toFile: markdown, atomically: true, encoding: .utf8) }
    }

    private func measure(_ s: Scenarios, quiet: Scenarios, classic: Scenarios, run: Int, into results: inout Results)
        async throws
    {
        for url in [s.url, quiet.url] {
            let setup = try AMQPConnection(url: url)
            try Topology.declareNationalSide(setup)
            setup.close()
        }
        let setup = try AMQPConnection(url: classic.url)
        try Topology.declareNationalSide(setup, topology: NationalTopology(queueType: .classic, history: nil))
        setup.close()
        func record(_ name: String, _ sample: @autoclosure () async throws -> Sample) async rethrows {
            guard wanted(name) else { return }
            let sample = try await sample()
            results.add(name, sample)
            let rate = String(format: "%.0f", Double(messages) / sample.seconds)
            FileHandle.standardError.write(Data("run \(run) \(name): \(rate) msg/s\n".utf8))
        }
        try await record(Names.rawPublish, try s.rawPublish())
        try await record(Names.rawConsume, try s.rawConsume())
        try await record(Names.rawCatalogue, try s.rawCatalogue())
        try await record(Names.rawPipeline, try s.rawPipeline())
        try await record(Names.relay, try await s.relay(signed: false))
        try await record(Names.relaySigned, try await s.relay(signed: true))
        try await record(Names.aggregator, try await s.aggregator(signed: false))
        try await record(Names.aggregatorSigned, try await s.aggregator(signed: true))
        try await record(Names.aggregatorNoIndex, try await s.aggregator(signed: false, searchIndex: false))
        try await record(Names.aggregatorClassic, try await classic.aggregator(
            signed: false, topology: NationalTopology(queueType: .classic, history: nil)))
        try await record(Names.mirror, try await s.mirrorRebuild())
        try await record(Names.relayProcess, try s.relayProcess())
        try await record(Names.aggregatorProcess, try s.aggregatorProcess())
        if wanted("resync") {
            let sample = try await quiet.resync(records: resyncRecords)
            results.resyncs.append(sample.seconds)
            FileHandle.standardError.write(Data("run \(run) resync of \(resyncRecords): \(String(format: "%.1f", sample.seconds)) s\n".utf8))
        }
        if wanted("latency") {
            let latency = try await quiet.endToEndLatency(seconds: latencySeconds, rate: latencyRate)
            results.latencies.append(latency)
            FileHandle.standardError.write(Data("run \(run) latency: \(latency)\n".utf8))
        }
    }
}
