import Foundation

/// Scenario names, as printed.
enum Names {
    static let rawPublish = "(a) raw publish"
    static let rawConsume = "(b) raw consume"
    static let rawCatalogue = "(c) raw catalogue"
    static let rawPipeline = "(d) raw publish into raw catalogue"
    static let relay = "hub relay"
    static let relaySigned = "hub relay, signed"
    static let aggregator = "aggregator drain"
    static let aggregatorSigned = "aggregator drain, signed"
    static let aggregatorNoIndex = "aggregator drain, no search index"
    static let aggregatorClassic = "aggregator drain, classic queue, no stream"
    static let mirror = "mirror rebuild from stream"
    static let relayProcess = "jippnas hub run (process)"
    static let aggregatorProcess = "jippnas aggregator run (process)"
}

/// End-to-end latency of one run, in milliseconds.
struct Latency: Sendable, CustomStringConvertible {
    var samples: Int
    var p50: Double
    var p99: Double
    var max: Double
    /// CPU seconds per second of each daemon under this load.
    var hubCPU: Double?
    var aggregatorCPU: Double?
    /// Single imports on a quiet federation: median and longest.
    var lone: (p50: Double, max: Double)?
    var description: String {
        String(format: "%d samples, p50 %.1f ms, p99 %.1f ms, max %.1f ms; CPU hub %.0f%%, aggregator %.0f%%; lone imports p50 %.1f ms, max %.1f ms",
               samples, p50, p99, max, (hubCPU ?? .nan) * 100, (aggregatorCPU ?? .nan) * 100, lone?.p50 ?? .nan, lone?.max ?? .nan)
    }
}

/// Every sample of every run, by scenario.
struct Results {
    private(set) var samples: [String: [Sample]] = [:]
    var latencies: [Latency] = []
    var resyncs: [Double] = []

    mutating func add(_ name: String, _ sample: Sample) { samples[name, default: []].append(sample) }

    func rates(_ name: String, messages: Int) -> [Double] {
        (samples[name] ?? []).map { Double(messages) / $0.seconds }.sorted()
    }
}

/// The table the benchmark prints and writes.
struct Report {
    let results: Results
    let messages: Int
    let runs: Int
    let header: String
    let resyncRecords: Int
    let latencyRate: Int

    private static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    private func rate(_ name: String) -> Double { Self.median(results.rates(name, messages: messages)) }

    /// The ratio column: each daemon figure against the raw baseline it is judged by.
    private func ratios(_ name: String) -> String {
        switch name {
        case Names.relay, Names.relaySigned, Names.relayProcess:
            String(format: "%.2f× (a)", rate(name) / rate(Names.rawPublish))
        case Names.aggregator, Names.aggregatorSigned, Names.aggregatorNoIndex, Names.aggregatorClassic, Names.aggregatorProcess:
            String(format: "%.2f× (b), %.2f× (c)", rate(name) / rate(Names.rawConsume), rate(name) / rate(Names.rawCatalogue))
        case Names.mirror:
            String(format: "%.2f× aggregator drain", rate(name) / rate(Names.aggregator))
        default: ""
        }
    }

    private func cost(_ name: String) -> String {
        let samples = results.samples[name] ?? []
        let rss = samples.compactMap(\.peakRSSKiB).map { Double($0) / 1024 }
        let cpu = samples.compactMap(\.cpuSeconds).map { $0 / Double(messages) * 10_000 }
        guard !rss.isEmpty else { return "" }
        return String(format: "%.1f MiB peak RSS, %.2f CPU s / 10k msgs", Self.median(rss), Self.median(cpu))
    }

    var rows: [[String]] {
        let names = [Names.rawPublish, Names.rawConsume, Names.rawCatalogue, Names.rawPipeline, Names.relay, Names.relaySigned,
                     Names.aggregator, Names.aggregatorSigned, Names.aggregatorNoIndex, Names.aggregatorClassic, Names.mirror,
                     Names.relayProcess, Names.aggregatorProcess]
        return names.filter { results.samples[$0] != nil }.map { name in
            let rates = results.rates(name, messages: messages)
            return [name, String(format: "%.0f", Self.median(rates)), String(format: "%.0f", rates.first ?? 0),
                    String(format: "%.0f", rates.last ?? 0), ratios(name), cost(name)]
        }
    }

    private var latencyLine: String {
        let l = results.latencies
        guard !l.isEmpty else { return "" }
        return String(format: "end-to-end latency at %@ changes/s (median of %d runs): p50 %.1f ms, p99 %.1f ms, max %.1f ms (runs: %@); CPU at that rate: hub %.0f%%, aggregator %.0f%% of a core",
                      latencyRate.formatted(), l.count, Self.median(l.map(\.p50)), Self.median(l.map(\.p99)), Self.median(l.map(\.max)),
                      l.map { String(format: "p99 %.1f", $0.p99) }.joined(separator: ", "),
                      Self.median(l.compactMap(\.hubCPU)) * 100, Self.median(l.compactMap(\.aggregatorCPU)) * 100)
            + String(format: "; a lone import on a quiet federation: p50 %.1f ms, max %.1f ms (20 per run, median of runs)",
                     Self.median(l.compactMap { $0.lone?.p50 }), Self.median(l.compactMap { $0.lone?.max }))
    }

    private var resyncLine: String {
        let r = results.resyncs.sorted()
        guard !r.isEmpty else { return "" }
        let pipeline = results.samples[Names.rawPipeline].map { _ in
            String(format: "; %.0f msg/s, %.2f× (d)", Double(resyncRecords) / Self.median(r),
                   Double(resyncRecords) / Self.median(r) / rate(Names.rawPipeline))
        } ?? ""
        return String(format: "resync of a hub of %d innovations whose catalogue rows were lost, from `jippnas aggregator resync` to a consistent checkpoint: median %.1f s (min %.1f, max %.1f)",
                      resyncRecords, Self.median(r), r.first ?? 0, r.last ?? 0) + pipeline
    }

    var table: String {
        let headings = ["scenario", "msg/s median", "min", "max", "ratio", "cost"]
        let all = [headings] + rows
        let widths = headings.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
        let lines = all.map { row in row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
            .joined(separator: "  ") }
        return (lines + ["", "\(messages) messages per scenario, \(runs) runs.", latencyLine, resyncLine]).joined(separator: "\n")
    }

    var markdown: String {
        var out = "# Benchmarks\n\n"
        out += "Written by `scripts/bench`; do not edit by hand (the notes on causes and fixes live in `docs/PERFORMANCE.md`).\n\n"
        out += header.isEmpty ? "" : header + "\n\n"
        out += "| scenario | msg/s median | min | max | ratio | cost |\n| --- | ---: | ---: | ---: | --- | --- |\n"
        out += rows.map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n") + "\n\n"
        out += "\(messages) messages per scenario, \(runs) runs.\n\n- \(latencyLine).\n- \(resyncLine).\n\n"
        out += """
            - (a) `Benchmarks/raw/raw_publish.c`: rabbitmq-c alone, persistent messages with a confirm window of 1,000.
            - (b) `Benchmarks/raw/raw_consume.c`: rabbitmq-c alone, prefetch 1,000, ack multiple every 250.
            - (c) `Benchmarks/raw/raw_catalogue.c`: rabbitmq-c and SQLite alone into our catalogue schema (one JSON
              parse by SQLite, prepared statements, synchronous=FULL, 500 per transaction, ack after commit; no
              validation, no signatures, no hub state).
            - (d) (a) and (c) at once, (c) consuming what (a) publishes: what the raw libraries manage when one
              machine both publishes and catalogues, as in the resync scenario, where hub, broker and aggregator
              share the cores.
            - hub relay: a full outbox of hub 35 until every row is confirmed and marked published.
            - aggregator drain: the three hubs' messages queued, until all are committed with history.
            - signed: the relay signs (Ed25519); the aggregator requires and verifies every signature.
            - no search index: the aggregator drain with the triggers that keep the full-text index dropped, so
              the difference with "aggregator drain" is what indexing costs.
            - The national queue is a quorum queue and every message also goes to the history stream, as
              deployed; "classic queue, no stream" is the drain on the topology of versions before 0.2.
            - mirror rebuild from stream: the three hubs' messages in the history stream, read from the first
              into an empty catalogue by `aggregator run --rebuild-from-stream` (in this process).
            - (process): the release `jippnas` binary with its defaults, timed from start; cost is its peak RSS
              (VmHWM) and CPU seconds per 10,000 messages.

            """
        return out
    }
}
