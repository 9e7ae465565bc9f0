import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Histogram
import JippnasCore
import JippnasStore

/// Search latency over generated catalogues of given sizes, in process (what `jippnas catalogue search`
/// runs), as whole CLI runs, and over HTTP; and searches per second over HTTP under wrk.
struct SearchBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Search latency and HTTP throughput over generated catalogues.")

    @Option(parsing: .upToNextOption, help: "Catalogue sizes to generate and measure.") var rows: [Int] = [100_000, 1_000_000]
    @Option(help: "Searches per latency measurement.") var queries = 2000
    @Option(help: "Working directory (catalogues are large: about 1.2 KiB per row).") var work: String = NSTemporaryDirectory()
    @Option(help: "The release jippnas binary.") var jippnas: String
    @Option(help: "wrk, for searches per second over HTTP (skipped when absent).") var wrk = "/usr/bin/wrk"
    @Option(help: "Seconds of wrk load.") var wrkSeconds = 15
    @Option(help: "Write the report to this Markdown file.") var markdown: String?
    @Option(help: "Text placed in the report's header.") var header: String = ""
    @Option(help: "The judged queries and their catalogue (records.tsv, queries.tsv), scored by nDCG@10 and recall@10.")
    var relevance = "Tests/Relevance"

    func run() async throws {
        var report = SearchReport(header: header, wrkDistinct: queries)
        let judged = try RelevanceSet.load(directory: relevance)
        report.relevance = try RelevanceReport.evaluate(judged, catalogueAt: work + "/relevance-\(UUID().uuidString.prefix(8)).sqlite")
        note("relevance over \(judged.queries.count) judged queries: nDCG@10 \(report.relevance?.overall.ndcg ?? 0)")
        for size in rows {
            let path = work + "/search-\(size).sqlite"
            if !FileManager.default.fileExists(atPath: path) {
                let seconds = try CatalogueGenerator.generate(rows: size, path: path)
                note("generated \(size) innovations in \(String(format: "%.0f", seconds)) s (\(String(format: "%.0f", Double(size) / seconds))/s, indexed per 10,000-row batch)")
            }
            let store = try CatalogueStore(path: path, access: .readOnly)
            var generator = SystemRandomNumberGenerator()
            let workload = QueryWorkload(count: queries, using: &generator)
            var result = SizeResult(rows: size)
            for (name, queries) in workload.classes {
                result.inProcess.append((name, try latency(queries) { try store.search($0) }))
                note("\(size) rows in process, \(name): \(result.inProcess.last!.1)")
            }
            result.cli = try cliRuns(path: path, workload.twoWordsOneFilter.prefix(20))
            try await http(path: path, workload: workload, into: &result)
            report.sizes.append(result)
        }
        print(report.text)
        if let markdown { try report.text.write(toFile: markdown, atomically: true, encoding: .utf8) }
    }

    private func note(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

    func latency(_ queries: [CatalogueQuery], _ body: (CatalogueQuery) throws -> SearchPage) throws -> Percentiles {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        for query in queries.prefix(50) { _ = try body(query) }  // warm the page cache
        for query in queries {
            let start = ContinuousClock.now
            _ = try body(query)
            _ = histogram.record(UInt64((ContinuousClock.now - start).microseconds))
        }
        return Percentiles(histogram)
    }

    /// Whole `jippnas catalogue search` processes: what an operator waits for, process start included.
    func cliRuns(path: String, _ queries: ArraySlice<CatalogueQuery>) throws -> Percentiles {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        for query in queries {
            let start = ContinuousClock.now
            _ = try Child.run(jippnas, ["catalogue", "search", "--database", path, query.text, "--province", query.province ?? "35"])
            _ = histogram.record(UInt64((ContinuousClock.now - start).microseconds))
        }
        return Percentiles(histogram)
    }

    func http(path: String, workload: QueryWorkload, into result: inout SizeResult) async throws {
        let port = 20_000 + Int.random(in: 0..<20_000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: jippnas)
        server.arguments = ["catalogue", "serve", "--database", path, "--listen", "127.0.0.1:\(port)"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        let base = "http://127.0.0.1:\(port)"
        try await waitForServer(base)
        for (name, queries) in workload.classes {
            result.http.append((name, try await httpLatency(queries.map { base + $0.apiPath })))
        }
        guard FileManager.default.isExecutableFile(atPath: wrk) else { return note("no \(wrk): HTTP throughput not measured") }
        result.wrkZipf = try load(base, workload.zipfMix, name: "zipf")
        result.wrk = try load(base, workload.twoWordsOneFilter, name: "distinct")
        note("\(result.rows) rows over HTTP: Zipf mix \(result.wrkZipf?.summary ?? "-"); distinct \(result.wrk?.summary ?? "-")")
    }

    /// wrk with 32 connections cycling through `queries`.
    func load(_ base: String, _ queries: [CatalogueQuery], name: String) throws -> WrkResult {
        let script = work + "/search-\(name).lua"
        let paths = queries.map { "\"" + $0.apiPath + "\"" }.joined(separator: ",\n")
        try """
            local paths = {\(paths)}
            local n = 0
            request = function()
              n = n + 1
              return wrk.format("GET", paths[(n % #paths) + 1])
            end
            """.write(toFile: script, atomically: true, encoding: .utf8)
        return WrkResult(try Child.run(wrk, ["-t2", "-c32", "-d\(wrkSeconds)s", "--latency", "-s", script, base]))
    }

    func waitForServer(_ base: String) async throws {
        for _ in 0..<100 {
            if (try? await URLSession.shared.data(from: URL(string: base + "/healthz")!)) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("jippnas catalogue serve did not answer on \(base)")
    }

    func httpLatency(_ urls: [String]) async throws -> Percentiles {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        for url in urls.prefix(50) { _ = try await URLSession.shared.data(from: URL(string: url)!) }
        for url in urls {
            let start = ContinuousClock.now
            let (_, response) = try await URLSession.shared.data(from: URL(string: url)!)
            guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw BenchError("\(url) answered \(response)") }
            _ = histogram.record(UInt64((ContinuousClock.now - start).microseconds))
        }
        return Percentiles(histogram)
    }
}

struct Percentiles: CustomStringConvertible {
    var p50: Double
    var p99: Double
    var max: Double

    init(_ h: Histogram<UInt64>) {
        p50 = Double(h.valueAtPercentile(50)) / 1000
        p99 = Double(h.valueAtPercentile(99)) / 1000
        max = Double(h.max) / 1000
    }

    var description: String { String(format: "p50 %.2f ms, p99 %.2f ms, max %.1f ms", p50, p99, max) }
}

struct WrkResult {
    var requestsPerSecond: Double
    var latencyLine: String
    var summary: String { String(format: "%.0f searches/s; %@", requestsPerSecond, latencyLine) }

    init(_ output: String) {
        let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        requestsPerSecond = lines.first { $0.hasPrefix("Requests/sec:") }
            .flatMap { Double($0.dropFirst("Requests/sec:".count).trimmingCharacters(in: .whitespaces)) } ?? .nan
        let percentiles = ["50%", "99%"].compactMap { p in lines.first { $0.hasPrefix(p + " ") } }
        latencyLine = "latency under load " + percentiles.map { $0.replacingOccurrences(of: "  ", with: " ") }.joined(separator: ", ")
    }
}

struct SizeResult {
    var rows: Int
    /// Per query class, in the workload's order.
    var inProcess: [(String, Percentiles)] = []
    var http: [(String, Percentiles)] = []
    var cli = Percentiles.none
    var wrkZipf: WrkResult?
    var wrk: WrkResult?
}

extension Percentiles {
    static var none: Percentiles {
        Percentiles(Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three))
    }
}

struct SearchReport {
    var header: String
    var wrkDistinct = 0
    var sizes: [SizeResult] = []
    var relevance: RelevanceReport?

    var text: String {
        var out = "## Search\n\n"
        out += header.isEmpty ? "" : header + "\n\n"
        out += "| rows | query | path | p50 ms | p99 ms | max ms |\n| ---: | --- | --- | ---: | ---: | ---: |\n"
        for s in sizes {
            let rows = s.inProcess.map { ($0.0, "in process", $0.1) } + [("two words + province", "`jippnas catalogue search` process", s.cli)]
                + s.http.map { ($0.0, "HTTP, one client", $0.1) }
            for (query, path, p) in rows {
                out += String(format: "| %d | %@ | %@ | %.2f | %.2f | %.1f |\n", s.rows, query, path, p.p50, p.p99, p.max)
            }
        }
        out += "\n"
        for s in sizes {
            if let wrk = s.wrkZipf {
                out += "- \(s.rows) rows, HTTP under `wrk -t2 -c32`, Zipf mix of 1000 searches of every class: \(wrk.summary).\n"
            }
            if let wrk = s.wrk {
                out += "- \(s.rows) rows, HTTP under `wrk -t2 -c32`, two words + province, \(wrkDistinct) searches in turn: \(wrk.summary).\n"
            }
        }
        if let relevance {
            out += "\n### Relevance\n\nThe judged queries of Tests/Relevance over their fixed catalogue, top 10 of each:\n\n"
            out += relevance.table + "\n"
        }
        return out
    }
}

extension Duration {
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
}
