import Foundation
import JippnasOps
import JippnasTestSupport
import Testing

/// Every scenario of `jippnas-bench` once, at a count small enough for the suite, against the test broker:
/// the bench asserts nothing itself, so without this it could hang or fail for months unnoticed (it once
/// waited for good on an aggregator that had dead-lettered everything). Figures are not checked; that each
/// scenario finishes and reports is.
@Suite("Benchmarks run", .serialized, .enabled(if: BrokerFixture.shouldRun, "needs the broker from scripts/test"))
struct BenchTests {
    static var benchBinary: String { repositoryRoot + "/.build/debug/jippnas-bench" }

    static let federationScenarios = [
        "(a) raw publish", "(b) raw consume", "(c) raw catalogue", "(d) raw publish into raw catalogue", "hub relay",
        "hub relay, signed", "aggregator drain", "aggregator drain, signed", "aggregator drain, no search index",
        "aggregator drain, classic queue, no stream", "mirror rebuild from stream", "jippnas hub run (process)",
        "jippnas aggregator run (process)",
    ]

    @Test("every federation scenario, resync and latency finish at 300 messages, and leave no vhost behind")
    func federation() async throws {
        let dir = TempDir("bench")
        for program in ["raw_publish", "raw_consume", "raw_catalogue"] {
            let compiled = Subprocess.run(["cc", "-O2", "-o", dir.file(program),
                                           repositoryRoot + "/Benchmarks/raw/\(program).c", "-lrabbitmq", "-lsqlite3"])
            try #require(compiled.status == 0, "\(program).c: \(compiled.output)")
        }
        let output = try await runBench([
            "federation", "--broker", try BrokerFixture.value("JIPPNAS_BROKER_URL"),
            "--rabbitmqctl", try BrokerFixture.rabbitmqctlCommand(), "--messages", "300", "--runs", "1",
            "--latency-seconds", "2", "--latency-rate", "50", "--resync-records", "300", "--deadline-seconds", "30",
            "--raw", dir.path, "--jippnas", try ChildProcess.jippnasBinary(), "--work", dir.path,
        ], log: dir.file("federation.log"))
        for scenario in Self.federationScenarios {
            #expect(output.contains("run 1 \(scenario): "), "no figure for \(scenario)")
        }
        #expect(output.contains("run 1 resync of 300: "))
        #expect(output.contains("run 1 latency: "))
        #expect(output.contains("300 messages per scenario, 1 runs."))
        // Each scenario had a vhost of its own, removed after it.
        let vhosts = try BrokerFixture.ctl(["list_vhosts"])
        #expect(!vhosts.split(separator: "\n").contains { $0.hasPrefix("bench-") }, "\(vhosts)")
    }

    @Test("the feed bench: a mirror catches up with national changes and ends equal to the national catalogue")
    func feed() async throws {
        let dir = TempDir("bench-feed")
        let url = try BrokerFixture.isolatedURL("bench-feed")
        // The feed bench appends -feed-<run> to the URL it is given.
        let vhost = url.vhost + "-feed-1"
        try BrokerFixture.ctl(["add_vhost", vhost])
        try BrokerFixture.ctl(["set_permissions", "-p", vhost, url.user, ".*", ".*", ".*"])
        let output = try await runBench(["feed", "--broker", url.withPassword, "--changes", "400", "--initial", "50",
                                         "--work", dir.path], log: dir.file("feed.log"))
        #expect(output.contains("run 1: 400 national changes published by the feed"), "\(output)")
        #expect(output.contains("digest equal"))
    }

    @Test("the search bench measures a generated catalogue in process, by the CLI and over HTTP")
    func search() async throws {
        let dir = TempDir("bench-search")
        let output = try await runBench(["search", "--rows", "500", "--queries", "30", "--wrk-seconds", "1",
                                         "--jippnas", try ChildProcess.jippnasBinary(), "--work", dir.path],
                                        log: dir.file("search.log"))
        #expect(output.contains("generated 500 innovations"), "\(output)")
    }

    /// Runs the bench binary to its end (at most ten minutes); fails with its output unless it exits 0.
    private func runBench(_ arguments: [String], log: String) async throws -> String {
        try #require(FileManager.default.isExecutableFile(atPath: Self.benchBinary),
                     "\(Self.benchBinary) is missing: run `swift build --build-tests` (scripts/test does)")
        let bench = try ChildProcess([Self.benchBinary] + arguments, outputPath: log)
        let status = await bench.wait(timeout: .seconds(600))
        if status == nil { bench.signal(SIGKILL) }
        try #require(status == 0, "jippnas-bench \(arguments.first ?? "") exited \(status.map(String.init) ?? "never"): \(bench.output)")
        return bench.output
    }
}
